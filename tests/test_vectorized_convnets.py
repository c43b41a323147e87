"""A population of convnets (sweeps/population/conv_layers.py): each member layer's hand-written
backward against autograd, the stacked network against each member's own, and a vectorized
digits_cnn sweep against the ordinary sweep of the same grid."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from test_vectorized import test_vectorized_sweep_equals_the_ordinary_sweep as same_sweeps

from experiments.architecture import Architecture
from experiments.core.losses import CrossEntropyLoss
from experiments.core.network import build_network
from experiments.errors import ConfigError
from experiments.models.run_layers import ACTIVATIONS, Linear
from experiments.models.scratch import CONV_LAYERS
from experiments.sweeps.population import layers as member_losses
from experiments.sweeps.population.conv_layers import (
    MemberAvgPool2d,
    MemberConv2d,
    MemberFlatten,
    MemberMaxPool2d,
)
from experiments.sweeps.population.entry import check_population
from experiments.sweeps.population.stacking import stack_networks

TOL = 1e-10
MEMBERS, ROWS = 3, 5


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def against_autograd(layer: torch.nn.Module, x: torch.Tensor, **backward) -> None:
    """The layer's hand-written backward of a random output gradient equals autograd's through
    its forward: for its input (unless `input_grad=False`) and every parameter."""
    x = x.clone().requires_grad_(True)
    params = list(layer.parameters())
    out = layer.forward(x)
    grad_out = torch.randn(out.shape, dtype=torch.float64)
    wanted = torch.autograd.grad(out, [x, *params], grad_out)
    with torch.no_grad():
        grad_x = layer.backward(grad_out, **backward)
    if backward.get("input_grad", True):
        assert grad_x.shape == x.shape and rel_err(grad_x, wanted[0]) < TOL
    for param, want in zip(params, wanted[1:], strict=True):
        assert param.grad.shape == param.shape and rel_err(param.grad, want) < TOL


def conv(data_input: bool, stride: int = 1, padding: int = 1, bias: bool = True) -> MemberConv2d:
    layer = MemberConv2d(MEMBERS, 2, 4, 3, stride, padding, bias, data_input=data_input).double()
    with torch.no_grad():
        for param in layer.parameters():
            param.normal_()
    return layer


@pytest.mark.parametrize("stride, padding, bias", [(1, 1, True), (2, 0, False), (2, 2, True)])
@pytest.mark.parametrize("layout", ["shared data", "wide", "per member"])
def test_member_convolution_backward_equals_autograd(layout, stride, padding, bias) -> None:
    torch.manual_seed(0)
    layer = conv(layout == "shared data", stride, padding, bias)
    shape = {"shared data": (ROWS, 2, 7, 6), "wide": (ROWS, MEMBERS * 2, 7, 6)}
    x = torch.randn(shape.get(layout, (MEMBERS, ROWS, 2, 7, 6)), dtype=torch.float64)
    against_autograd(layer, x)
    if layout == "shared data":  # the data's own gradient is skipped, the weights' are not
        against_autograd(layer, x, input_grad=False)


@pytest.mark.parametrize("pool", [MemberMaxPool2d, MemberAvgPool2d])
@pytest.mark.parametrize("layout", ["wide", "per member"])
def test_member_pooling_and_flatten_backward_equal_autograd(pool, layout) -> None:
    torch.manual_seed(1)
    # 7 rows: 2x2 windows leave the last one out (its gradient is 0)
    shape = (ROWS, MEMBERS * 2, 7, 6) if layout == "wide" else (MEMBERS, ROWS, 2, 7, 6)
    x = torch.randn(shape, dtype=torch.float64)
    against_autograd(pool(2), x)
    against_autograd(pool(3, 1), x)  # overlapping windows: their gradients add up
    against_autograd(MemberFlatten(MEMBERS), x)


def convnet(seed: int, arch: Architecture) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return build_network(
        arch, Linear, ACTIVATIONS, CONV_LAYERS.container, conv=CONV_LAYERS
    ).double()


ARCHS = {
    "two blocks, max pool, padding": dict(channels=(3, 4), padding=1, pool="max"),
    "avg pool, stride 2, hidden layer": dict(channels=(4,), stride=2, pool="avg", hidden=(6,)),
    "no pooling, no bias": dict(channels=(2, 3), pool="none", bias=False),
}


@pytest.mark.parametrize("shared_x", [True, False], ids=["shared batch", "per-member batches"])
@pytest.mark.parametrize("keys", ARCHS.values(), ids=ARCHS)
def test_stacked_convnets_equal_each_member_network(keys, shared_x) -> None:
    """Each member's loss and gradients are those of its own scratch convnet (float64)."""
    arch = Architecture(
        n_inputs=64, n_outputs=5, image_shape=(1, 8, 8), activation="relu",
        output_activation="softmax", loss="cross_entropy", **keys,
    )  # fmt: skip
    singles = [convnet(seed, arch) for seed in range(MEMBERS)]
    population = stack_networks(singles)
    assert [n for n, _ in population.named_parameters()] == [
        n for n, _ in singles[0].named_parameters()
    ]
    torch.manual_seed(2)
    x = torch.randn((ROWS, 64) if shared_x else (MEMBERS, ROWS, 64), dtype=torch.float64)
    y = torch.eye(5, dtype=torch.float64)[torch.randint(5, (MEMBERS, ROWS))]
    with torch.no_grad():
        loss_fn = member_losses.CrossEntropyLoss()
        values = loss_fn.forward(population.forward(x), y)
        population.backward(loss_fn.backward())
        for m, net in enumerate(singles):
            single_loss = CrossEntropyLoss()
            value = single_loss.forward(net.forward(x if shared_x else x[m]), y[m])
            net.backward(single_loss.backward())
            assert abs(values[m].item() - value.item()) < TOL, m
            for name, param in net.named_parameters():
                got = dict(population.named_parameters())[name]
                assert rel_err(got[m], param) == 0, (m, name)
                assert rel_err(got.grad[m], param.grad) < TOL, (m, name)


# digits_cnn, small: 4 channels, 2 learning rates x 2 seeds x 2 iteration counts, float64.
SWEEP = ["experiment=digits_cnn", "model.channels=[4]", "model.lr=0.003,0.01"]
SWEEP += ["trainer.max_steps=20,50", "seed=0,1", "trainer.precision=64-true"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["scratch", "mlp"])
@pytest.mark.parametrize("batches", ["full batch", "per-seed mini-batches"])
def test_vectorized_convnet_sweep_equals_the_ordinary_sweep(tmp_path, model, batches) -> None:
    """Every grid point's weights.pth within 1e-8 and summary metrics within rel 1e-6 of its
    ordinary run (the dense case's comparison, tests/test_vectorized.py)."""
    extra = ["data.batch_size=256"] if batches != "full batch" else []
    same_sweeps(tmp_path, [*SWEEP, f"model={model}", *extra])


def test_a_population_takes_convnets_and_refuses_user_layers_in_one_line(make_cfg) -> None:
    check_population(make_cfg("experiment=digits_cnn"))  # a convnet: nothing to refuse
    for key in ("activation", "output_activation"):
        cfg = make_cfg("experiment=xor", f"model.{key}=my_layers.Swish")
        with pytest.raises(ConfigError) as err:
            check_population(cfg)
        message = str(err.value)
        assert message.startswith(f"model.{key}=my_layers.Swish: the vectorized sweeper")
        assert "drop hydra/sweeper=vectorized" in message and "\n" not in message


FAULTS_OF_TWO_UPDATES = """
import resource, sys
from experiments.benchmarks.convnet_population import population_loop
from experiments.sweeps.population.allocator import keep_freed_memory

if sys.argv[1] == "keep":
    assert keep_freed_memory()
population_loop(2, members=8)  # the sizes once allocated
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
population_loop(2, members=8)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt: Linux only")
def test_a_population_reuses_freed_memory_instead_of_faulting_it_in_again() -> None:
    """glibc hands every freed block over 32 MB back to the system and faults its pages in again
    at the next allocation; a population that keeps freed memory faults far fewer pages for the
    same updates of 8 digits_cnn members (here: ~160,000 against at most ~23,000)."""
    faults = {}
    for mode in ("default", "keep"):
        done = subprocess.run(
            [sys.executable, "-c", FAULTS_OF_TWO_UPDATES, mode], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        faults[mode] = int(done.stdout)
    assert faults["keep"] * 4 < faults["default"], faults
