"""compare=true: scratch and autograd trained in lockstep, their differences logged and checked."""

from __future__ import annotations

import re

import pytest
import torch
from helpers import (
    CHECKPOINTS_ONLY,
    LOGGED,
    assert_same_weights,
    job_dirs,
    multirun,
    read_metrics,
    run_cli,
    the_one_error_line,
)
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2

from experiments.core import layers as scratch_layers
from experiments.core import optimizers as scratch_optimizers
from experiments.errors import ConfigError, ParityError
from experiments.run.config import check_config
from experiments.run.training import train
from experiments.sweeps.population.entry import check_population

FLOAT64 = ["compare=true", "trainer.precision=64-true", "trainer.max_steps=40"]
LESSONS = {
    "xor": ["experiment=xor"],
    "linear": ["experiment=linear"],
    "heart, tanh [6], mini-batches": [
        "experiment=heart",
        "model.hidden=[6]",
        "model.activation=tanh",
        "model.output_activation=sigmoid",
        "data.batch_size=16",
    ],
    "iris, multiclass softmax + cross-entropy": ["experiment=iris", "model.hidden=[5]"],
    "one-hot table, softmax + cross-entropy, relu": [
        "experiment=xor",
        "data.task=regression",
        "data.y=[[1,0,0],[0,1,0],[0,0,1],[1,0,0]]",
        "model.hidden=[8]",
        "model.activation=relu",
        "model.output_activation=softmax",
        "model.loss=cross_entropy",
    ],
}
OPTIMIZERS = {"sgd": [], "momentum": ["model.momentum=0.5"], "adam": ["model.lr=0.01"]}


def parity_keys(names: list[str]) -> set[str]:
    per_layer = {f"parity/{kind}/{name}" for kind in ("grad", "weight") for name in names}
    return per_layer | {"parity/max_grad_diff", "parity/max_weight_diff"}


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=OPTIMIZERS)
@pytest.mark.parametrize("lesson", LESSONS.values(), ids=LESSONS)
def test_float64_parity_is_logged_and_under_tolerance(make_cfg, lesson, optimizer) -> None:
    overrides = [*LOGGED, *FLOAT64, *lesson, f"model.optimizer={optimizer}", *OPTIMIZERS[optimizer]]
    cfg = make_cfg(*overrides, quiet=False)
    record = train(cfg)
    assert record["status"] == "completed" and record["steps"] == 40

    names = list(torch.load(f"{cfg.output_dir}/weights.pth", weights_only=True))
    keys = parity_keys(names)
    metrics = read_metrics(cfg.output_dir)
    assert keys <= metrics.keys()
    for kind in ("grad", "weight"):
        layers = [metrics[f"parity/{kind}/{name}"] for name in names]
        assert metrics[f"parity/max_{kind}_diff"] == max(layers) < 1e-8
    assert metrics["train/loss_autograd"] == pytest.approx(metrics["train/loss"], abs=1e-8)

    events = EventAccumulator(f"{cfg.output_dir}/tensorboard").Reload()
    assert keys | {"train/loss", "train/loss_autograd"} <= set(events.Tags()["scalars"])
    assert "custom_scalars__config__" in events.Tags()["tensors"]


def test_tensorboard_gets_parity_every_log_interval_and_a_loss_chart(make_cfg) -> None:
    cfg = make_cfg(*LOGGED, *FLOAT64, "experiment=xor", "trainer.max_steps=200", quiet=False)
    train(cfg)
    events = EventAccumulator(f"{cfg.output_dir}/tensorboard").Reload()
    every = cfg.trainer.log_every_n_steps
    steps = [e.step for e in events.Scalars("parity/grad/0.weight")]
    # One point per log interval (then the run's maxima beside the final HParams, at step 200).
    assert steps[:-1] == list(range(every, 201, every)) and steps[-1] == 200
    assert [e.step for e in events.Scalars("train/loss_autograd")][:-1] == steps[:-1]
    # TensorBoard: the largest difference of each log interval; metrics.json: of the whole run.
    windows = [e.value for e in events.Scalars("parity/max_grad_diff")][:-1]
    run_max = read_metrics(cfg.output_dir)["parity/max_grad_diff"]
    assert run_max == pytest.approx(max(windows), rel=1e-6) and run_max > windows[-1] > 0

    [config] = events.Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(config.tensor_proto.string_val[0])
    charts = {c.title: list(c.multiline.tag) for c in layout.category[0].chart}
    assert ["^train/loss$", "^train/loss_autograd$"] in charts.values()


def test_the_scratch_side_is_a_plain_scratch_run(make_cfg) -> None:
    """Same weights.pth, same validation and test metrics as model=scratch without compare."""
    lesson = [*LESSONS["heart, tanh [6], mini-batches"], "model.optimizer=adam", "model.lr=0.01"]
    plain = make_cfg(*lesson, "trainer.max_steps=60")
    compared = make_cfg(*lesson, "trainer.max_steps=60", "compare=true")
    expected, got = train(plain), train(compared)
    assert_same_weights(compared.output_dir, plain.output_dir)
    for key in ("val/loss", "val/acc", "test/loss", "test/acc", "train/loss"):
        assert got[key] == expected[key], key


def drop_sigmoid_factor(self, grad_s):
    return grad_s * self.s  # the (1 - s) factor forgotten


def test_a_wrong_backward_stops_the_run_naming_layer_and_step(make_cfg, monkeypatch) -> None:
    monkeypatch.setattr(scratch_layers.Sigmoid, "backward", drop_sigmoid_factor)
    cfg = make_cfg(*FLOAT64, "experiment=xor")
    with pytest.raises(ParityError) as caught:
        train(cfg)
    # 2-4-1: the output sigmoid (layer 3) is the first wrong backward; 2.bias, just below it,
    # is the parameter nearest the loss whose gradient differs.
    message = str(caught.value)
    assert message.startswith("scratch and autograd part at step 0: the gradient of 2.bias")
    assert "compare_tolerance=1e-08" in message and "weights were still equal" in message
    metrics = read_metrics(cfg.output_dir)
    assert (metrics["status"], metrics["steps"]) == ("failed", 0)
    assert metrics["error"].startswith("ParityError: scratch and autograd part at step 0")


def test_a_wrong_update_is_named_as_a_weight_difference(make_cfg, monkeypatch) -> None:
    monkeypatch.setattr(scratch_optimizers.SGD, "direction", lambda self, g, state, group: 2 * g)
    with pytest.raises(ParityError, match=r"at step 1: the weight of .* gradients agreed"):
        train(make_cfg(*FLOAT64, "experiment=linear"))


def test_a_diverging_pair_is_diverged_not_a_parity_failure(make_cfg) -> None:
    cfg = make_cfg(*FLOAT64, "experiment=linear", "model.lr=100")
    with pytest.raises(Exception, match="diverged"):
        train(cfg)
    assert read_metrics(cfg.output_dir)["status"] == "diverged"


def test_resume_continues_both_networks_and_the_maxima_exactly(make_cfg) -> None:
    lesson = [*CHECKPOINTS_ONLY, "compare=true", "experiment=xor", "model.optimizer=momentum"]
    whole = make_cfg(*lesson, "trainer.max_steps=40", quiet=False)
    half = make_cfg(*lesson, "trainer.max_steps=20", quiet=False)
    train(whole), train(half)
    checkpoint = f"{half.output_dir}/checkpoints/last.ckpt"
    resumed = make_cfg(*lesson, "trainer.max_steps=40", f"ckpt_path={checkpoint}", quiet=False)
    record = train(resumed)
    assert record["resumed_from_step"] == 20
    assert_same_weights(resumed.output_dir, whole.output_dir)
    expected = read_metrics(whole.output_dir)
    for key in parity_keys(["0.weight", "0.bias", "2.weight", "2.bias"]) | {"val/loss"}:
        assert record[key] == expected[key], key
    # The checkpoint holds both networks; evaluating it scores the scratch one.
    evaluated = train(make_cfg("experiment=xor", "train=false", f"ckpt_path={checkpoint}"))
    assert evaluated["steps"] == 20
    assert evaluated["test/loss"] == read_metrics(half.output_dir)["test/loss"]


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["compare=yes"], "compare='yes' is not allowed: use true or false"),
        (["compare=true", "compare_tolerance=0"], "compare_tolerance=0 is not allowed"),
        (["compare=true", "trainer.precision=16-mixed"], "use one precision for every operation"),
    ],
)
def test_config_refusals(make_cfg, overrides, says) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        check_config(make_cfg("experiment=xor", *overrides))


def test_a_population_refuses_compare(make_cfg) -> None:
    """The vectorized sweeper's own entry refuses what an ordinary run's checks allow."""
    with pytest.raises(ConfigError, match=re.escape("drop hydra/sweeper=vectorized")):
        check_population(make_cfg("experiment=xor", "compare=true"))
    check_population(make_cfg("experiment=xor"))  # compare=false: nothing to refuse


BROKEN_SIGMOID = """
from experiments.core import layers as scratch_layers

scratch_layers.Sigmoid.backward = lambda self, grad_s: grad_s * self.s
"""


@pytest.mark.slow
def test_cli_parity_failure_is_one_line_and_exit_1(tmp_path, monkeypatch) -> None:
    """A user's broken backward (injected at start-up by sitecustomize) against the real CLI."""
    (tmp_path / "inject").mkdir()
    (tmp_path / "inject" / "sitecustomize.py").write_text(BROKEN_SIGMOID)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "inject"))
    run_dir = tmp_path / "run"
    done = run_cli("compare=true", "experiment=xor", "trainer.max_steps=50", run_dir=run_dir)
    error = the_one_error_line(done)
    assert "part at step 0: the gradient of 2.bias differs by" in error
    assert "compare_tolerance=0.001" in error
    assert read_metrics(run_dir)["status"] == "failed"


@pytest.mark.slow
def test_cli_vectorized_sweep_refuses_compare(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    grid = ["experiment=xor", "model.lr=0.1,0.2", "trainer.max_steps=20"]
    done = multirun("hydra/sweeper=vectorized", "compare=true", *grid, sweep_dir=sweep)
    assert "drop hydra/sweeper=vectorized" in the_one_error_line(done)
    assert [read_metrics(job)["status"] for job in job_dirs(sweep)] == ["failed", "failed"]
