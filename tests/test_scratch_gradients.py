"""Hand-written backward passes against torch autograd, in float64 (micrograd's test, at scale)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from experiments.models import mlp
from experiments.models.architecture import Architecture, build_network
from experiments.models.scratch_layers import (
    ACTIVATIONS,
    LOSSES,
    BCELoss,
    Linear,
    MSELoss,
    Sequential,
)

TOL = 1e-10


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_autograd(name: str) -> None:
    z = torch.randn(7, 5, requires_grad=True)
    upstream = torch.randn(7, 5)
    layer = ACTIVATIONS[name]()
    with torch.no_grad():
        out = layer.forward(z)
        grad_z = layer.backward(upstream)
    (expected,) = torch.autograd.grad(mlp.ACTIVATIONS[name]()(z), z, upstream)
    assert torch.allclose(out, mlp.ACTIVATIONS[name]()(z).detach(), rtol=0, atol=1e-15)
    assert rel_err(grad_z, expected) < TOL


@pytest.mark.parametrize("bias", [True, False])
def test_linear_backward_matches_autograd(bias: bool) -> None:
    layer = Linear(4, 3, bias=bias)
    reference = nn.Linear(4, 3, bias=bias)
    nn.init.normal_(reference.weight)
    layer.weight.data.copy_(reference.weight.data)
    if bias:
        nn.init.normal_(reference.bias)
        layer.bias.data.copy_(reference.bias.data)
    x = torch.randn(6, 4, requires_grad=True)
    upstream = torch.randn(6, 3)
    with torch.no_grad():
        out = layer.forward(x)
        grad_x = layer.backward(upstream)
    ref_out = reference(x)
    ref_out.backward(upstream)
    assert rel_err(out, ref_out.detach()) < TOL
    assert rel_err(grad_x, x.grad) < TOL
    assert rel_err(layer.weight.grad, reference.weight.grad) < TOL
    if bias:
        assert rel_err(layer.bias.grad, reference.bias.grad) < TOL
    else:
        assert layer.bias is None


@pytest.mark.parametrize(
    ("scratch_loss", "torch_loss"),
    [(MSELoss(), nn.functional.mse_loss), (BCELoss(), nn.functional.binary_cross_entropy)],
)
def test_loss_backward_matches_autograd(scratch_loss, torch_loss) -> None:
    p = torch.rand(8, 2).clamp(0.05, 0.95).requires_grad_()
    y = (torch.rand(8, 2) > 0.5).double()
    with torch.no_grad():
        value = scratch_loss.forward(p, y)
        grad_p = scratch_loss.backward()
    expected_value = torch_loss(p, y)
    (expected,) = torch.autograd.grad(expected_value, p)
    assert abs(value.item() - expected_value.item()) < TOL
    assert rel_err(grad_p, expected) < TOL


# bce takes probabilities, so the config allows it only behind a sigmoid output.
COMBOS = [
    combo
    for combo in itertools.product(
        sorted(ACTIVATIONS), sorted(ACTIVATIONS), [True, False], sorted(LOSSES)
    )
    if combo[3] == "mse" or combo[1] == "sigmoid"
]


@pytest.mark.parametrize(("activation", "output_activation", "bias", "loss"), COMBOS)
def test_network_gradients_match_autograd(
    activation: str, output_activation: str, bias: bool, loss: str
) -> None:
    """Every activation (hidden and output), bias on/off and loss, through a 3-5-4-2 network."""
    arch = Architecture(3, 2, (5, 4), activation, output_activation, bias, "normal", 0.8)
    torch.manual_seed(1)
    scratch = build_network(arch, Linear, ACTIVATIONS, Sequential)
    torch.manual_seed(1)
    reference = build_network(arch, mlp._linear, mlp.ACTIVATIONS, nn.Sequential)
    x = torch.randn(9, 3)
    y = (torch.rand(9, 2) > 0.5).double() if loss == "bce" else torch.randn(9, 2)

    loss_fn = LOSSES[loss]()
    with torch.no_grad():
        value = loss_fn.forward(scratch.forward(x), y)
        scratch.backward(loss_fn.backward())
    expected = mlp.LOSSES[loss](reference(x), y)
    expected.backward()

    assert value.grad_fn is None, "the scratch path must not build an autograd graph"
    assert abs(value.item() - expected.item()) <= TOL * max(1.0, abs(expected.item()))
    scratch_params = dict(scratch.named_parameters())
    for name, param in reference.named_parameters():
        assert rel_err(scratch_params[name].grad, param.grad) < TOL, name


def test_same_seed_gives_same_initial_weights_in_both_builds() -> None:
    for init in ("default", "normal", "xavier"):
        arch = Architecture(2, 1, (4,), init=init)
        torch.manual_seed(3)
        scratch = build_network(arch, Linear, ACTIVATIONS, Sequential).state_dict()
        torch.manual_seed(3)
        reference = build_network(arch, mlp._linear, mlp.ACTIVATIONS, nn.Sequential).state_dict()
        assert scratch.keys() == reference.keys()
        for key in scratch:
            assert torch.equal(scratch[key], reference[key]), (init, key)
