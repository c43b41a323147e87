"""Hand-written backward passes against torch autograd, in float64 (micrograd's test, at scale)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from experiments import architecture
from experiments.architecture import LOSS_OUTPUT, Architecture
from experiments.core import losses as core_losses
from experiments.core.layers import ACTIVATIONS, Linear, Sequential, Softmax
from experiments.core.losses import (
    LOSSES,
    BCELoss,
    CrossEntropyLoss,
    MSELoss,
    SoftmaxCrossEntropyLoss,
)
from experiments.core.network import build_network
from experiments.models import mlp
from experiments.sweeps.population import layers as member_layers
from experiments.sweeps.population.stacking import stack_networks

TOL = 1e-10


def cross_entropy_on_probabilities(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Torch's cross-entropy for a softmax output: F.cross_entropy on the logits."""
    return -(y * torch.log(p)).sum(dim=-1).mean()


# model=mlp's layers and losses: the reference for each scratch name.
TORCH_ACTIVATIONS, TORCH_LOSSES = mlp.ACTIVATIONS, mlp.LOSSES


def test_both_layer_sets_know_exactly_the_configurable_names() -> None:
    assert set(ACTIVATIONS) == set(TORCH_ACTIVATIONS) == set(architecture.ACTIVATIONS)
    assert set(LOSSES) == set(TORCH_LOSSES) == set(architecture.LOSSES)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


pytestmark = pytest.mark.usefixtures("float64_seed0")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_autograd(name: str) -> None:
    z = torch.randn(7, 5, requires_grad=True)
    upstream = torch.randn(7, 5)
    layer = ACTIVATIONS[name]()
    with torch.no_grad():
        out = layer.forward(z)
        grad_z = layer.backward(upstream)
    (expected,) = torch.autograd.grad(TORCH_ACTIVATIONS[name]()(z), z, upstream)
    assert torch.allclose(out, TORCH_ACTIVATIONS[name]()(z).detach(), rtol=0, atol=1e-15)
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


def assert_loss_matches_autograd(
    scratch_loss, torch_loss, p: torch.Tensor, y: torch.Tensor
) -> float:
    """The hand-written loss and its gradient dL/dp equal torch's; returns the loss."""
    with torch.no_grad():
        value = scratch_loss.forward(p, y)
        grad_p = scratch_loss.backward()
    expected_value = torch_loss(p, y)
    (expected,) = torch.autograd.grad(expected_value, p)
    assert abs(value.item() - expected_value.item()) < TOL
    assert rel_err(grad_p, expected) < TOL
    return value.item()


@pytest.mark.parametrize(
    ("scratch_loss", "torch_loss"),
    [(MSELoss(), nn.functional.mse_loss), (BCELoss(), nn.functional.binary_cross_entropy)],
)
def test_loss_backward_matches_autograd(scratch_loss, torch_loss) -> None:
    p = torch.rand(8, 2).clamp(0.05, 0.95).requires_grad_()
    y = (torch.rand(8, 2) > 0.5).double()
    assert_loss_matches_autograd(scratch_loss, torch_loss, p, y)


# bce and cross_entropy take probabilities, so the config allows each only behind its output
# activation (LOSS_OUTPUT: bce behind a sigmoid, cross_entropy behind a softmax).
COMBOS = [
    combo
    for combo in itertools.product(
        sorted(ACTIVATIONS), sorted(ACTIVATIONS), [True, False], sorted(LOSSES)
    )
    if LOSS_OUTPUT.get(combo[3], combo[1]) == combo[1]
]


def one_hot(*shape: int) -> torch.Tensor:
    """Random one-hot float targets of shape (..., rows, classes)."""
    return F.one_hot(torch.randint(shape[-1], shape[:-1]), shape[-1]).double()


@pytest.mark.parametrize(("activation", "output_activation", "bias", "loss"), COMBOS)
def test_network_gradients_match_autograd(
    activation: str, output_activation: str, bias: bool, loss: str
) -> None:
    """Every activation (hidden and output), bias on/off and loss, through a 3-5-4-2 network."""
    arch = Architecture(3, 2, (5, 4), activation, output_activation, bias, "normal", 0.8)
    torch.manual_seed(1)
    scratch = build_network(arch, Linear, ACTIVATIONS, Sequential)
    torch.manual_seed(1)
    reference = build_network(arch, mlp._linear, TORCH_ACTIVATIONS, nn.Sequential)
    x = torch.randn(9, 3)
    if loss == "bce":
        y = (torch.rand(9, 2) > 0.5).double()
    elif loss == "cross_entropy":
        y = one_hot(9, 2)
    else:
        y = torch.randn(9, 2)

    loss_fn = LOSSES[loss]()
    with torch.no_grad():
        value = loss_fn.forward(scratch.forward(x), y)
        scratch.backward(loss_fn.backward())
    expected = TORCH_LOSSES[loss](reference(x), y)
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


@pytest.mark.parametrize("shape", [(7, 5), (3, 7, 5)], ids=["table", "members"])
def test_softmax_backward_is_the_jacobian_vector_product(shape: tuple[int, ...]) -> None:
    z = (3 * torch.randn(*shape)).requires_grad_()
    upstream = torch.randn(*shape)
    layer = Softmax()
    with torch.no_grad():
        p = layer.forward(z)
        grad_z = layer.backward(upstream)
    expected_p = torch.softmax(z, dim=-1)
    (expected,) = torch.autograd.grad(expected_p, z, upstream)
    assert rel_err(p, expected_p.detach()) < TOL
    assert rel_err(grad_z, expected) < TOL


@pytest.mark.parametrize("classes", [3, 10])
def test_cross_entropy_backward_matches_autograd(classes: int) -> None:
    logits = 2 * torch.randn(8, classes)
    p = torch.softmax(logits, dim=-1).requires_grad_()
    y = one_hot(8, classes)
    value = assert_loss_matches_autograd(CrossEntropyLoss(), cross_entropy_on_probabilities, p, y)
    assert abs(value - F.cross_entropy(logits, y.argmax(-1)).item()) < TOL


@pytest.mark.parametrize("classes", [3, 10])
def test_softmax_cross_entropy_gradient_is_p_minus_y(classes: int) -> None:
    """Softmax.backward(CrossEntropyLoss.backward()) and the fused loss: both (p - y) / n."""
    z = (2 * torch.randn(8, classes)).requires_grad_()
    y = one_hot(8, classes)
    expected_value = F.cross_entropy(z, y.argmax(-1))
    (expected,) = torch.autograd.grad(expected_value, z)

    softmax, loss_fn, fused = Softmax(), CrossEntropyLoss(), SoftmaxCrossEntropyLoss()
    with torch.no_grad():
        chained_value = loss_fn.forward(softmax.forward(z), y)
        chained = softmax.backward(loss_fn.backward())
        fused_value = fused.forward(z, y)
        shortcut = fused.backward()
        p = torch.softmax(z, dim=-1)
    for value in (chained_value, fused_value):
        assert abs(value.item() - expected_value.item()) < TOL
    assert rel_err(chained, expected) < TOL
    assert rel_err(shortcut, expected) < TOL
    assert rel_err(shortcut, (p - y) / 8) < TOL
    assert rel_err(fused.p, p) < TOL


def classifier(classes: int, bias: bool = True) -> Sequential:
    """A scratch 4-6-5-classes network: tanh hidden layers, softmax output."""
    arch = Architecture(4, classes, (6, 5), "tanh", "softmax", bias, "normal", 0.8)
    return build_network(arch, Linear, ACTIVATIONS, Sequential)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("classes", [3, 10])
def test_softmax_network_gradients_match_torch(classes: int, bias: bool) -> None:
    """Every parameter, through the chained pair and through the fused loss on net[:-1]."""
    torch.manual_seed(1)
    scratch = classifier(classes, bias=bias)
    torch.manual_seed(1)
    arch = Architecture(4, classes, (6, 5), "tanh", "softmax", bias, "normal", 0.8)
    reference = build_network(arch, mlp._linear, TORCH_ACTIVATIONS, nn.Sequential)
    assert isinstance(reference[-1], nn.Softmax)
    x, y = torch.randn(12, 4), one_hot(12, classes)
    expected = F.cross_entropy(reference[:-1](x), y.argmax(-1))
    expected.backward()
    assert abs(TORCH_LOSSES["cross_entropy"](reference(x), y).item() - expected.item()) < TOL

    loss_fn, fused = LOSSES["cross_entropy"](), SoftmaxCrossEntropyLoss()
    with torch.no_grad():
        p = scratch.forward(x)
        chained_value = loss_fn.forward(p, y)
        scratch.backward(loss_fn.backward())
        chained = {name: param.grad.clone() for name, param in scratch.named_parameters()}
        body = scratch[:-1]  # the same layers and parameters, without the softmax
        fused_value = fused.forward(body.forward(x), y)
        body.backward(fused.backward())

    assert chained_value.grad_fn is None and fused_value.grad_fn is None
    assert torch.allclose(p.sum(-1), torch.ones(12), rtol=0, atol=1e-15), "forward: probabilities"
    assert rel_err(fused.p, p) < TOL
    for value in (chained_value, fused_value):
        assert abs(value.item() - expected.item()) <= TOL * max(1.0, abs(expected.item()))
    fused_grads = dict(scratch.named_parameters())
    for name, param in reference.named_parameters():
        assert rel_err(chained[name], param.grad) < TOL, name
        assert rel_err(fused_grads[name].grad, param.grad) < TOL, name


@pytest.mark.parametrize("shared_x", [True, False], ids=["shared x", "per-member x"])
@pytest.mark.parametrize("fused", [False, True], ids=["chained", "fused"])
def test_member_dimension_equals_per_member_runs(shared_x: bool, fused: bool) -> None:
    """3 members stacked (sweeps.population.layers): one loss per member (a mean over that
    member's rows), and each member's gradients equal those of its own ordinary network."""
    members, classes, rows = 3, 5, 10
    singles = []
    for seed in range(members):
        torch.manual_seed(seed)
        singles.append(classifier(classes))
    population = stack_networks(singles)
    for name, param in population.named_parameters():
        assert torch.equal(param[1], singles[1].state_dict()[name])
    x = torch.randn(rows, 4) if shared_x else torch.randn(members, rows, 4)
    y = one_hot(members, rows, classes)

    def loss_and_grads(net: Sequential, x: torch.Tensor, y: torch.Tensor):
        losses = member_layers if net is population else core_losses
        loss_fn = losses.SoftmaxCrossEntropyLoss() if fused else losses.CrossEntropyLoss()
        body = net[:-1] if fused else net
        with torch.no_grad():
            value = loss_fn.forward(body.forward(x), y)
            body.backward(loss_fn.backward())
        return value, {name: param.grad for name, param in net.named_parameters()}

    values, grads = loss_and_grads(population, x, y)
    assert values.shape == (members,)
    for m, net in enumerate(singles):
        value, single = loss_and_grads(net, x if shared_x else x[m], y[m])
        assert abs(values[m].item() - value.item()) < TOL, m
        for name, grad in single.items():
            assert rel_err(grads[name][m], grad) < TOL, (m, name)


def test_large_logits_give_finite_losses_and_gradients() -> None:
    """Logits of magnitude 1000: e^1000 overflows, so only the max-shift keeps these finite. Every
    row is confidently wrong; the fused loss keeps the exact (p - y) / n there, the chained pair's
    clamp gives a finite loss (-log eps) and a finite (vanishing) gradient."""
    rows, classes = 6, 4
    y = one_hot(rows, classes)
    wrong = (y.argmax(-1) + 1) % classes
    z = (1000 * (2 * F.one_hot(wrong, classes).double() - 1)).requires_grad_()
    expected_value = F.cross_entropy(z, y.argmax(-1))
    (expected,) = torch.autograd.grad(expected_value, z)
    assert abs(expected_value.item() - 2000) < 1e-9  # torch's own, on logits

    softmax, loss_fn, fused = Softmax(), CrossEntropyLoss(), SoftmaxCrossEntropyLoss()
    upstream = torch.randn(rows, classes)
    with torch.no_grad():
        p = softmax.forward(z)
        grad_z = softmax.backward(upstream)
        chained_value = loss_fn.forward(p, y)
        chained = softmax.backward(loss_fn.backward())
        fused_value = fused.forward(z, y)
        shortcut = fused.backward()
    for t in (p, grad_z, chained_value, chained, fused_value, shortcut):
        assert torch.isfinite(t).all()
    assert torch.equal(p, F.one_hot(wrong, classes).double())
    assert abs(chained_value.item() + torch.log(torch.tensor(loss_fn.eps)).item()) < TOL
    assert abs(fused_value.item() - expected_value.item()) < TOL * expected_value.item()
    assert rel_err(shortcut, expected) < TOL


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_member_losses_are_each_members_own(name: str) -> None:
    """sweeps.population.layers.LOSSES on (members, rows, outputs): each member's value and dL/dp
    are the core loss's on that member's table, for per-member and shared targets."""
    members, rows, outputs = 3, 6, 4
    p = torch.softmax(torch.randn(members, rows, outputs), dim=-1)
    targets = {"mse": torch.randn, "bce": lambda *s: (torch.rand(*s) > 0.5).double()}
    y = targets.get(name, one_hot)(members, rows, outputs)
    for ys in (y, y[0]):  # one table per member, or one that every member shares
        member_loss = member_layers.LOSSES[name]()
        with torch.no_grad():
            values, grads = member_loss.forward(p, ys), member_loss.backward()
        assert values.shape == (members,)
        for m in range(members):
            single = LOSSES[name]()
            with torch.no_grad():
                value = single.forward(p[m], ys if ys.dim() == 2 else ys[m])
                assert abs(values[m].item() - value.item()) < TOL
                assert rel_err(grads[m], single.backward()) < TOL
