"""The gradient check's finite differences at a kink (ReLU at 0): left out, counted, and a
wrong gradient elsewhere still fails (experiments.core.gradcheck)."""

from __future__ import annotations

import torch

from experiments.core.gradcheck import check_gradients
from experiments.core.layers import Linear, ReLU, Sequential
from experiments.core.losses import MSELoss


def relu_net_at_its_kink() -> tuple[Sequential, torch.Tensor, torch.Tensor]:
    """z = w x + b with w x + b = 0 exactly for the one row: the ReLU sits on its kink."""
    first, second = Linear(1, 1).double(), Linear(1, 1).double()
    with torch.no_grad():
        first.weight.fill_(0.5)
        first.bias.fill_(-0.5)
        second.weight.fill_(2.0)
        second.bias.fill_(0.1)
    x = torch.ones(1, 1, dtype=torch.float64)
    return Sequential(first, ReLU(), second), x, torch.full((1, 1), 3.0, dtype=torch.float64)


def test_an_element_at_a_kink_is_left_to_autograd_and_counted() -> None:
    net, x, y = relu_net_at_its_kink()
    checked = check_gradients(net, MSELoss(), x, y)
    first = checked.finite_differences["0.weight"]
    assert first.kinks == 1 and first.passed  # the central difference there is half the slope
    assert checked.finite_differences["2.bias"].kinks == 0
    assert checked.finite_differences["2.bias"].passed


def test_a_wrong_gradient_away_from_the_kink_still_fails() -> None:
    net, x, y = relu_net_at_its_kink()
    wrong = Linear.backward

    def doubled(self, grad):
        result = wrong(self, grad)
        self.bias.grad = self.bias.grad * 2
        return result

    Linear.backward = doubled
    try:
        checked = check_gradients(net, MSELoss(), x, y)
    finally:
        Linear.backward = wrong
    assert not checked.finite_differences["2.bias"].passed
