"""A population's arithmetic alone: member-updates per second of the vectorized sweeper's scratch
step (forward, hand-written backward, per-member SGD) on XOR 2-4-1, for 1,000, 10,000 and 100,000
members, on the CPU and, where there is one, on the GPU."""

from __future__ import annotations

import time

import torch

from experiments.benchmarks.loops import ARCH, XOR
from experiments.core.layers import ACTIVATIONS
from experiments.core.network import build_network
from experiments.sweeps.population.layers import MemberLinear, MemberSequential, MSELoss
from experiments.sweeps.population.optimizers import MEMBER_OPTIMIZERS

SIZES = {1_000: 2_000, 10_000: 500, 100_000: 50}  # members: updates timed


def population_loop(members: int, steps: int, device: str = "cpu") -> torch.Tensor:
    """`steps` updates of `members` XOR networks (N(0, 1) weights, learning rates 0.1 to 10);
    returns each member's last loss."""
    net = build_network(
        ARCH, lambda i, o, b: MemberLinear(members, i, o, b), ACTIVATIONS, MemberSequential
    ).to(device)
    x, y = (t.to(device) for t in XOR)
    lrs = torch.logspace(-1, 1, members, dtype=torch.float64, device=device)
    optimizer, mse = MEMBER_OPTIMIZERS["sgd"](net.parameters(), lr=lrs), MSELoss()
    losses = torch.full((members,), float("nan"), device=device)
    with torch.no_grad():
        for _ in range(steps):
            losses = mse.forward(net.forward(x), y)
            net.backward(mse.backward())
            optimizer.update()
    return losses.cpu()


def member_updates_per_second(members: int, steps: int, device: str) -> float:
    population_loop(members, max(1, steps // 10), device)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    population_loop(members, steps, device)  # ends by reading the losses back: synchronized
    return members * steps / (time.perf_counter() - started)


def population_figures() -> dict[str, float]:
    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    return {
        f"population of {members:,} members on {device}, member-updates/s": (
            member_updates_per_second(members, steps, device)
        )
        for device in devices
        for members, steps in SIZES.items()
    }
