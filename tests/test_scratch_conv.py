"""Scratch convolution and pooling against torch autograd and against their loop references,
in float64."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.nn import functional as F

from experiments.benchmarks.conv import conv_figures, digits_cnn_cases, scratch_step, torch_step
from experiments.core import naive_conv as naive
from experiments.core.conv import Conv2d, Flatten
from experiments.core.pooling import AvgPool2d, MaxPool2d

TOL = 1e-10


pytestmark = pytest.mark.usefixtures("float64_seed0")


def max_diff(a: Tensor, b: Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


def scratch(
    layer: nn.Module, x: Tensor, grad: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """The layer's output, dL/dout (random unless given) and dL/dx, for L = Σ dL/dout · out."""
    with torch.no_grad():
        out = layer.forward(x)
        grad = torch.randn_like(out) if grad is None else grad
        return out, grad, layer.backward(grad)


def autograd(fn, x: Tensor, grad: Tensor, *params: Tensor) -> tuple[Tensor, ...]:
    """torch's output of fn(x, *params) and the gradients of Σ grad · output."""
    x = x.detach().requires_grad_()
    params = tuple(p.detach().requires_grad_() for p in params)
    out = fn(x, *params)
    return out.detach(), *torch.autograd.grad(out, (x, *params), grad)


# (batch, in, out, height, width, kernel, stride, padding, bias)
CONV_CASES = [
    (2, 3, 4, 7, 6, 3, 1, 0, True),
    (3, 2, 5, 8, 5, (3, 2), 2, 1, False),
    (1, 1, 2, 5, 5, 1, 1, 0, True),
    (2, 2, 3, 6, 9, (2, 3), (2, 1), (1, 2), True),
    (4, 3, 2, 9, 7, 3, 3, 1, True),  # the last rows and columns fall outside every window
    (64, 8, 16, 4, 4, 3, 1, 1, True),  # digits_cnn's second convolution
]


def check_conv(n, cin, cout, h, w, kernel, stride, padding, bias) -> None:
    layer = Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=bias)
    x = torch.randn(n, cin, h, w)
    out, grad, grad_x = scratch(layer, x)
    params = (layer.weight, layer.bias) if bias else (layer.weight,)

    def conv(x, weight, bias=None):
        return F.conv2d(x, weight, bias, stride=stride, padding=padding)

    ref_out, ref_x, ref_w, *ref_b = autograd(conv, x, grad, *params)
    assert max_diff(out, ref_out) < TOL
    assert max_diff(grad_x, ref_x) < TOL
    assert max_diff(layer.weight.grad, ref_w) < TOL
    if bias:
        assert max_diff(layer.bias.grad, ref_b[0]) < TOL
    else:
        assert layer.bias is None

    with torch.no_grad():
        loop_out = naive.conv2d_naive_forward(x, layer.weight, layer.bias, stride, padding)
        loop_x, loop_w, _ = naive.conv2d_naive_backward(x, layer.weight, grad, stride, padding)
    assert max_diff(out, loop_out) < TOL
    assert max_diff(grad_x, loop_x) < TOL
    assert max_diff(layer.weight.grad, loop_w) < TOL


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_autograd_and_its_loop_reference(case) -> None:
    check_conv(*case)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 3),
    cin=st.integers(1, 3),
    cout=st.integers(1, 3),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    extra=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    bias=st.booleans(),
)
def test_conv2d_on_random_shapes(n, cin, cout, kernel, stride, padding, extra, bias) -> None:
    h, w = (k + e for k, e in zip(kernel, extra, strict=True))
    check_conv(n, cin, cout, h, w, kernel, stride, padding, bias)


def test_conv2d_as_first_layer_computes_only_its_parameters_gradients() -> None:
    layer = Conv2d(2, 3, 3, padding=1)
    x = torch.randn(2, 2, 5, 5)
    with torch.no_grad():
        grad = torch.randn_like(layer.forward(x))
        assert layer.backward(grad, input_grad=False) is None
    _, _, ref_w, ref_b = autograd(
        lambda x, w, b: F.conv2d(x, w, b, padding=1), x, grad, layer.weight, layer.bias
    )
    assert max_diff(layer.weight.grad, ref_w) < TOL
    assert max_diff(layer.bias.grad, ref_b) < TOL


@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_state_dict_loads_into_torch_conv2d(bias: bool) -> None:
    ours = Conv2d(3, 4, (3, 2), stride=2, padding=1, bias=bias)
    theirs = nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, bias=bias)
    theirs.load_state_dict(ours.state_dict())  # strict: the same names and shapes
    x = torch.randn(2, 3, 7, 6)
    with torch.no_grad():
        assert max_diff(ours.forward(x), theirs(x)) < TOL


def test_conv2d_starts_as_torch_conv2d_does() -> None:
    layer = Conv2d(4, 6, 3)
    bound = 1 / (4 * 3 * 3) ** 0.5
    for p in (layer.weight, layer.bias):
        assert p.abs().max() <= bound
        assert p.abs().max() > bound / 2  # drawn over the whole range, not left at zero


# (batch, channels, height, width, kernel, stride)
POOL_CASES = [
    (2, 3, 8, 8, 2, None),
    (3, 2, 7, 8, 3, 2),  # overlapping windows, a leftover row
    (1, 4, 5, 9, 2, 1),
    (2, 1, 9, 7, 3, 3),
]
POOLS = [(MaxPool2d, F.max_pool2d, "max"), (AvgPool2d, F.avg_pool2d, "avg")]


@pytest.mark.parametrize("pool, torch_pool, name", POOLS)
@pytest.mark.parametrize("case", POOL_CASES)
def test_pooling_matches_autograd_and_its_loop_reference(pool, torch_pool, name, case) -> None:
    n, c, h, w, kernel, stride = case
    x = torch.randn(n, c, h, w)
    out, grad, grad_x = scratch(pool(kernel, stride), x)
    ref_out, ref_x = autograd(lambda x: torch_pool(x, kernel, stride), x, grad)
    assert max_diff(out, ref_out) < TOL
    assert max_diff(grad_x, ref_x) < TOL
    loop_forward = getattr(naive, f"{name}_pool2d_naive_forward")
    loop_backward = getattr(naive, f"{name}_pool2d_naive_backward")
    assert max_diff(out, loop_forward(x, kernel, stride)) < TOL
    assert max_diff(grad_x, loop_backward(x, grad, kernel, stride)) < TOL


@pytest.mark.parametrize("pool, torch_pool, name", POOLS)
def test_pooling_with_non_square_windows(pool, torch_pool, name) -> None:
    x = torch.randn(2, 3, 7, 9)
    out, grad, grad_x = scratch(pool((2, 3), (1, 2)), x)
    ref_out, ref_x = autograd(lambda x: torch_pool(x, (2, 3), (1, 2)), x, grad)
    assert max_diff(out, ref_out) < TOL
    assert max_diff(grad_x, ref_x) < TOL


def test_max_pool_of_equal_values_sends_each_window_gradient_to_its_top_left() -> None:
    x = torch.ones(1, 1, 4, 4)
    _, grad, grad_x = scratch(MaxPool2d(2), x, torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]))
    expected = torch.zeros(4, 4)
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1.0, 2.0, 3.0, 4.0
    assert torch.equal(grad_x[0, 0], expected)
    _, ref_x = autograd(lambda x: F.max_pool2d(x, 2), x, grad)
    assert torch.equal(grad_x, ref_x)


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 1), (2, 1), (3, 2)])
def test_max_pool_ties_route_the_gradient_where_torch_does(kernel: int, stride: int) -> None:
    """Partial ties: values from {0, 1, 2}, so most windows hold their maximum more than once
    (and overlapping windows share tied positions)."""
    x = torch.randint(0, 3, (2, 3, 7, 7)).double()
    x[0, 0] = 5.0  # a channel of nothing but ties
    _, grad, grad_x = scratch(MaxPool2d(kernel, stride), x)
    _, ref_x = autograd(lambda x: F.max_pool2d(x, kernel, stride), x, grad)
    assert max_diff(grad_x, ref_x) < TOL
    assert max_diff(grad_x, naive.max_pool2d_naive_backward(x, grad, kernel, stride)) < TOL


def test_flatten_and_its_backward() -> None:
    x = torch.randn(3, 2, 4, 5)
    flat = Flatten()
    out, grad, grad_x = scratch(flat, x)
    assert torch.equal(out, torch.flatten(x, 1))
    assert torch.equal(grad_x, autograd(lambda x: torch.flatten(x, 1), x, grad)[1])


def test_a_small_cnn_end_to_end_matches_torch() -> None:
    """Conv -> max-pool -> conv -> avg-pool -> flatten, chained: each layer takes the previous
    one's output as it comes (channels-last views) and its gradient as the next one returns it."""
    ours = [
        Conv2d(2, 4, 3, padding=1),
        MaxPool2d(2),
        Conv2d(4, 3, (2, 3), stride=(1, 2)),
        AvgPool2d(2, 1),
        Flatten(),
    ]
    theirs = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 3, (2, 3), stride=(1, 2)),
        nn.AvgPool2d(2, 1),
        nn.Flatten(),
    )
    for mine, torch_layer in zip(ours, theirs, strict=True):
        torch_layer.load_state_dict(mine.state_dict())
    x = torch.randn(3, 2, 10, 12)
    with torch.no_grad():
        out = x
        for layer in ours:
            out = layer.forward(out)
        grad = grad_out = torch.randn_like(out)
        for layer in reversed(ours[1:]):
            grad = layer.backward(grad)
        assert ours[0].backward(grad, input_grad=False) is None
    ref = theirs(x)
    ref.backward(grad_out)
    assert max_diff(out, ref.detach()) < TOL
    for mine, torch_layer in zip(ours, theirs, strict=True):
        for (name, p), q in zip(mine.named_parameters(), torch_layer.parameters(), strict=True):
            assert max_diff(p.grad, q.grad) < TOL, name


def test_the_conv_benchmark_times_the_same_gradients_on_both_sides() -> None:
    cases = digits_cnn_cases()
    scratch_step(cases)
    ours = [(layer.weight.grad, layer.bias.grad) for layer, *_ in cases]
    torch_step(cases)
    for (layer, x, *_), (grad_w, grad_b) in zip(cases, ours, strict=True):
        assert x.dtype == grad_w.dtype == torch.float32
        torch.testing.assert_close(grad_w, layer.weight.grad, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(grad_b, layer.bias.grad, rtol=1e-4, atol=1e-4)
    figures = conv_figures(rounds=1, repeats=1)
    assert figures["scratch Conv2d / torch"] > 0
