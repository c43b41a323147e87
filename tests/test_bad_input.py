"""Bad input, typed the way a user types it: a message that says what to do, exit status 1, no
traceback, and nothing written that looks like a result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import CHECKPOINTS_ONLY, CONF, run_cli

from experiments.data.csv import packaged_heart_csv
from experiments.training import train

FAST_CONFIG_ERRORS = {
    "unknown experiment": (["experiment=nope"], "Available options in 'experiment'"),
    "unknown model": (["model=nope"], "Available options in 'model'"),
    "unknown data": (["data=nope"], "Available options in 'data'"),
    "lr zero": (["model.lr=0"], "model.lr=0 is not allowed: use a positive number"),
    "lr not a number": (["model.lr=fast"], "model.lr='fast' is not allowed: use a positive number"),
    "max_steps zero": (
        ["trainer.max_steps=0"],
        "trainer.max_steps=0 is not allowed: use a positive",
    ),
    "layer size zero": (["model.hidden=[4,0]"], "model.hidden=[4, 0] is not allowed: use a list"),
    "layer sizes empty": (["model.hidden="], "model.hidden= is not allowed: use a list"),
    "unknown activation": (
        ["model.activation=swish"],
        "choose one of sigmoid, tanh, relu, identity",
    ),
    "unknown loss": (["model.loss=hinge"], "model.loss='hinge' is unknown: choose one of mse, bce"),
    "missing data.path": (["data.path=/no/such.csv"], "data.path=/no/such.csv does not exist"),
    "chunk breaking an interval": (
        ["trainer.max_steps=1000", "updates_per_batch=7"],
        "updates_per_batch=7 does not divide every step count (100, 10, 1000, 100): use "
        "updates_per_batch=auto or a divisor of 10",
    ),
}


def assert_user_error(done, message: str, run_dir: Path) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert message in output, output[-2000:]
    assert "Traceback" not in output
    assert not (run_dir / "metrics.json").exists(), "nothing that looks like a result"
    assert not (run_dir / "checkpoints").exists()


@pytest.mark.parametrize(("args", "message"), FAST_CONFIG_ERRORS.values(), ids=FAST_CONFIG_ERRORS)
def test_wrong_override_fails_before_any_heavy_import(tmp_path, args, message) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(*args, run_dir=run_dir, timeout=60)
    assert_user_error(done, message, run_dir)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_asked_for_where_there_is_none(tmp_path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli("experiment=xor", "trainer.accelerator=gpu", run_dir=run_dir)
    assert_user_error(done, "use trainer.accelerator=cpu or trainer.accelerator=auto", run_dir)


def heart_frame() -> pd.DataFrame:
    return pd.read_csv(packaged_heart_csv())


def write_csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "user.csv"
    frame.to_csv(path, index=False)
    return path


def _no_label(frame):
    return frame.rename(columns={"target": "output"}), "its columns are: age, sex"


def _text_cell(frame):
    frame = frame.astype({"chol": object})
    frame.loc[4, "chol"] = "high"
    return frame, "row 6, column 'chol' holds 'high', not a finite number"


def _empty_cell(frame):
    frame.loc[9, "age"] = None
    return frame, "row 11, column 'age' is empty"


def _too_few_rows(frame):
    return frame.head(6), "has 6 rows: the test (0.2) and validation (0.2) splits need at least"


CSV_ERRORS = {
    "no label column": _no_label,
    "text cell": _text_cell,
    "empty cell": _empty_cell,
    "too few rows": _too_few_rows,
}


@pytest.mark.parametrize("make", CSV_ERRORS.values(), ids=CSV_ERRORS)
def test_malformed_csv(tmp_path, make) -> None:
    frame, message = make(heart_frame())
    path = write_csv(tmp_path, frame)
    run_dir = tmp_path / "run"
    done = run_cli("experiment=heart", f"data.path={path}", run_dir=run_dir)
    assert_user_error(done, message, run_dir)
    assert str(path) in done.stdout + done.stderr, "the message names the file"


def test_no_label_column_says_how_to_name_it(tmp_path) -> None:
    path = write_csv(tmp_path, heart_frame().rename(columns={"target": "output"}))
    done = run_cli("experiment=heart", f"data.path={path}", run_dir=tmp_path / "run")
    assert "output" in done.stdout and "data.target=COLUMN" in done.stdout


@pytest.fixture(scope="module")
def xor_checkpoint(tmp_path_factory) -> Path:
    from hydra import compose, initialize_config_dir

    out = tmp_path_factory.mktemp("xor")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "experiment=xor",
                "trainer.max_steps=20",
                *CHECKPOINTS_ONLY,
                f"output_dir={out}",
            ],
        )
    train(cfg)
    return out / "checkpoints" / "last.ckpt"


def _missing(ckpt: Path, tmp: Path) -> Path:
    return tmp / "gone.ckpt"


def _not_a_checkpoint(ckpt: Path, tmp: Path) -> Path:
    path = tmp / "notes.ckpt"
    path.write_text("these are my notes\n")
    return path


def _truncated(ckpt: Path, tmp: Path) -> Path:
    path = tmp / "cut.ckpt"
    path.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    return path


CHECKPOINT_ERRORS = {
    "missing": (_missing, "does not exist"),
    "not a checkpoint": (_not_a_checkpoint, "is not a checkpoint"),
    "truncated": (_truncated, "is truncated or corrupt"),
}


@pytest.mark.parametrize(("make", "message"), CHECKPOINT_ERRORS.values(), ids=CHECKPOINT_ERRORS)
def test_bad_checkpoint(tmp_path, xor_checkpoint, make, message) -> None:
    path = make(xor_checkpoint, tmp_path)
    run_dir = tmp_path / "run"
    done = run_cli("experiment=xor", f"ckpt_path={path}", run_dir=run_dir)
    assert_user_error(done, f"ckpt_path={path} {message}", run_dir)


def test_checkpoint_of_another_architecture(tmp_path, xor_checkpoint) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(
        "experiment=xor", "model.hidden=[8]", f"ckpt_path={xor_checkpoint}", run_dir=run_dir
    )
    assert_user_error(done, "holds another architecture (ScratchModule 2-4-1", run_dir)
    assert "this run: ScratchModule 2-8-1" in done.stdout


def test_predict_input_of_the_wrong_width(tmp_path, xor_checkpoint) -> None:
    out = tmp_path / "predict"
    done = run_cli(
        f"ckpt_path={xor_checkpoint}", "inputs=[[1,0,1]]", run_dir=out, script="predict.py"
    )
    assert_user_error(done, "the model takes 2 inputs per row (x0, x1); given: 3", out)
    assert not (out / "predictions.csv").exists()


def test_a_diverging_run_stops_at_that_step(tmp_path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli("experiment=linear", "model.lr=100", run_dir=run_dir)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output
    assert "training diverged at step" in output and "try a lower model.lr" in output
    metrics = (run_dir / "metrics.json").read_text()
    import json

    record = json.loads(metrics)
    assert record["status"] == "diverged"
    assert f"diverged at step {record['steps']}" in record["error"]
    assert record["steps"] < 200, "stopped at that step, not at max_steps"
    shutil.rmtree(run_dir)
