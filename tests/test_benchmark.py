"""The benchmark compares like with like: its loops train the same network the same way."""

import pytest
import torch

from experiments.benchmarks.loops import plain_tensor_loop, raw_autograd_loop, raw_manual_loop
from experiments.benchmarks.population import population_loop


def _final_loss(loop, steps: int) -> float:
    torch.manual_seed(0)
    return loop(steps)


@pytest.mark.parametrize("loop", [plain_tensor_loop, raw_autograd_loop])
def test_loops_follow_the_same_trajectory(loop) -> None:
    reference = _final_loss(raw_manual_loop, 300)
    assert _final_loss(loop, 300) == pytest.approx(reference, rel=1e-5)


def test_loops_learn_xor() -> None:
    assert _final_loss(raw_manual_loop, 3000) < 0.5 * _final_loss(raw_manual_loop, 1)


def test_the_timed_population_learns_xor() -> None:
    """The population benchmark times real training: every member's loss falls, on average to
    under a fifth (a slow learning rate leaves a few members in XOR's plateau)."""
    torch.manual_seed(0)
    start = population_loop(50, 1)
    torch.manual_seed(0)
    trained = population_loop(50, 2000)
    assert bool((trained < start).all()), (start, trained)
    assert trained.mean() < 0.2 * start.mean()


def test_the_timed_convnet_population_trains_the_one_convnets_network() -> None:
    """The convnet population benchmark compares like with like: its member of seed 0 starts as
    the one convnet it is timed against (the same loss on the same batch), and every member's
    loss falls as it trains (digits_cnn's architecture, hand-written backward, Adam)."""
    from experiments.benchmarks.convnet_population import one_convnet_loop, population_loop

    start = population_loop(1, members=4)
    assert start[0].item() == pytest.approx(one_convnet_loop(1), rel=1e-5)
    trained = population_loop(30, members=4)
    assert bool((trained < start).all()), (start, trained)
    assert one_convnet_loop(30) < one_convnet_loop(1)
