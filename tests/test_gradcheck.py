"""scripts/gradcheck.py: every lesson's hand-written gradients against finite differences and
autograd, on its real data and architecture; an injected backward bug is caught and named."""

from __future__ import annotations

import math
import runpy
import sys
from pathlib import Path

import pytest
from helpers import CONF, ROOT, run_script

from experiments.core import layers as scratch_layers
from experiments.run.gradcheck import compose_config, gradcheck, main

LESSONS = ["scores", "xor", "linear", "and_gate", "heart_lesson", "heart"]
SCRIPT = ROOT / "scripts" / "gradcheck.py"


def check(*overrides: str):
    return gradcheck(compose_config(overrides, CONF))


@pytest.mark.parametrize("experiment", LESSONS)
def test_every_lesson_passes(experiment: str) -> None:
    result = check(f"experiment={experiment}")
    assert result.passed, result.failing
    assert result.tensors, "nothing was checked"
    assert result.tensors[0].name == "0.weight"
    for t in result.tensors:
        assert t.fd_elements == math.prod(t.shape), "every element of a lesson network"
        assert t.finite_differences.max_rel < 1e-6
        assert t.autograd.max_rel < 1e-10
    assert abs(result.loss - result.autograd_loss) <= 1e-12 * max(1.0, abs(result.loss))


def test_tensor_names_and_data_follow_the_config() -> None:
    result = check("experiment=scores")  # 2-3-1 without bias, 3 training rows
    assert [t.name for t in result.tensors] == ["0.weight", "2.weight"]
    assert [t.shape for t in result.tensors] == [(3, 2), (1, 3)]
    assert result.rows == 3
    heart = check("experiment=heart")
    assert heart.rows == 193  # the training split, not validation or test


def test_a_big_tensor_is_finite_differenced_on_a_sample() -> None:
    result = check("experiment=heart", "model.hidden=[32]")
    first = result.tensors[0]
    assert first.shape == (32, 13)
    assert first.fd_elements == 200
    assert result.passed, result.failing


def test_the_cli_prints_the_table_and_writes_nothing(tmp_path: Path) -> None:
    done = run_script("gradcheck.py", "experiment=xor", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("gradcheck experiment=xor: 2-4-1 sigmoid/sigmoid, mse loss")
    assert lines[1].split() == [
        "tensor",
        "shape",
        "fd",
        "checked",
        "fd",
        "abs",
        "fd",
        "rel",
        "autograd",
        "abs",
        "autograd",
        "rel",
    ]
    names = [line.split()[0] for line in lines[2:6]]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(line.endswith("ok") for line in lines[2:6])
    assert lines[-1].startswith("PASS")
    assert list(tmp_path.iterdir()) == [], "no run directory, no log"


def drop_sigmoid_factor(self, grad_s):
    return grad_s * self.s  # the bug: ds/dz without its (1 - s)


def test_a_broken_backward_fails_and_names_every_tensor_upstream(monkeypatch) -> None:
    monkeypatch.setattr(scratch_layers.Sigmoid, "backward", drop_sigmoid_factor)
    result = check("experiment=xor")  # both activations are sigmoids: everything is upstream
    assert not result.passed
    assert result.failing == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for t in result.tensors:
        assert t.disagrees_with == ["finite differences", "autograd"]
        assert t.finite_differences.max_rel > 1e-2


def test_a_broken_hidden_activation_fails_only_the_layer_below_it(monkeypatch) -> None:
    def drop_tanh_factor(self, grad_t):
        return grad_t  # the bug: no (1 - t^2)

    monkeypatch.setattr(scratch_layers.Tanh, "backward", drop_tanh_factor)
    result = check("experiment=xor", "model.activation=tanh", "model.output_activation=sigmoid")
    assert result.failing == ["0.weight", "0.bias"]


def test_the_cli_exits_1_and_names_the_failing_tensors(monkeypatch, capsys) -> None:
    monkeypatch.setattr(scratch_layers.Sigmoid, "backward", drop_sigmoid_factor)
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "experiment=xor"])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert stopped.value.code == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("FAIL: 0.weight (vs finite differences and autograd), 0.bias")
    assert "2.bias" in out[-1]
    assert sum(line.rstrip().endswith("FAIL") for line in out) == 4


def test_an_unknown_experiment_is_one_line_and_exit_1(tmp_path: Path) -> None:
    done = run_script("gradcheck.py", "experiment=nope", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gradcheck: In 'train': Could not find 'experiment/nope'")
    assert "Available options in 'experiment': and_gate," in lines[0] and "xor" in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model.lr=0"], "model.lr=0 is not allowed: use a positive number"),
        (["nope=1"], "Could not override 'nope'.; To append to your config use +nope=1"),
        (["model=mlp"], "checks model=scratch's hand-written gradients"),
        (["experiment=xor", "data.batch_size=0"], "data.batch_size=0 is not allowed"),
        (["-m", "experiment=xor"], "-m: give only overrides, KEY=VALUE"),
    ],
)
def test_other_bad_input_is_one_line_and_exit_1(capsys, args: list[str], message: str) -> None:
    assert main(args, CONF) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert message in lines[0]
