"""The raw loops our runs are measured against: the same XOR 2-4-1 sigmoid network, full batch,
CPU, float32, trained from the same draws of the random generator (tests/test_benchmark.py), each
returning its last loss."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from experiments.architecture import Architecture
from experiments.core.layers import ACTIVATIONS, Linear, Sequential
from experiments.core.losses import MSELoss
from experiments.core.network import build_network
from experiments.models import mlp as torch_layers

XOR = (
    torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]),
    torch.tensor([[0.0], [1.0], [1.0], [0.0]]),
)
ARCH = Architecture(2, 1, (4,), "sigmoid", "sigmoid", True, "normal", 1.0)
STEPS = 10_000


def rate(run: Callable[[int], object], steps: int = STEPS) -> float:
    """Steps per second of `run(steps)`, after a short warm-up."""
    run(steps // 10)
    started = time.perf_counter()
    run(steps)
    return steps / (time.perf_counter() - started)


def raw_manual_loop(steps: int) -> float:
    """Our scratch layers without Lightning: what the scratch run is compared with."""
    net = build_network(ARCH, Linear, ACTIVATIONS, Sequential)
    mse, (x, y) = MSELoss(), XOR
    loss = torch.tensor(float("nan"))
    with torch.no_grad():
        for _ in range(steps):
            loss = mse.forward(net.forward(x), y)
            net.backward(mse.backward())
            for p in net.parameters():
                p -= 2.0 * p.grad
    return float(loss)


def plain_tensor_loop(steps: int) -> float:
    """The lessons' own style, for reference: four tensors and the chain rule written out flat."""
    x, y = XOR
    w1, b1, w2, b2 = torch.randn(4, 2), torch.randn(4), torch.randn(1, 4), torch.randn(1)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        h = torch.sigmoid(x @ w1.T + b1)
        p = torch.sigmoid(h @ w2.T + b2)
        diff = p - y
        loss = (diff * diff).mean()
        grad_z2 = 2 * diff / diff.numel() * p * (1 - p)
        grad_z1 = grad_z2 @ w2 * h * (1 - h)
        w2 -= 2.0 * grad_z2.T @ h
        b2 -= 2.0 * grad_z2.sum(0)
        w1 -= 2.0 * grad_z1.T @ x
        b1 -= 2.0 * grad_z1.sum(0)
    return float(loss)


def raw_autograd_loop(steps: int) -> float:
    """`torch.nn` layers, autograd and SGD without Lightning: what the mlp run is compared with."""
    net = build_network(ARCH, torch_layers._linear, torch_layers.ACTIVATIONS, nn.Sequential)
    optimizer = torch.optim.SGD(net.parameters(), lr=2.0)
    x, y = XOR
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(net(x), y)
        loss.backward()
        optimizer.step()
    return float(loss.detach())
