"""Bad input, typed the way a user types it, as one table: each row gives a message that names
the key, the value and what is allowed, exit status 1, no traceback, and nothing written that looks
like a result; config and data rows fail in seconds (before torch and Lightning are imported)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from helpers import CHECKPOINTS_ONLY, CONF, run_cli
from helpers.images import draw_shapes
from helpers.trainer_args import REFUSED

from experiments.data.csv import packaged_heart_csv
from experiments.run.training import train

FAST_S = 15  # wall time of one subprocess on a loaded 2-core machine; ~1-2 s alone


@dataclass(frozen=True)
class Bad:
    """One bad input: `args(tmp, checkpoint)` gives the command line; `message` must appear."""

    args: Callable[[Path, Path], list[str]]
    message: str
    script: str = "train.py"
    fast: bool = True  # a config or data error: before any heavy import
    one_line: bool = False  # the whole output is the message's line (no Hydra block, no log)


def typed(*args: str, message: str, fast: bool = True) -> Bad:
    return Bad(lambda tmp, ckpt: list(args), message, fast=fast, one_line=True)


# Config rows live in a data file beside this test: one key, value and message each.
CONFIG = {
    name: typed(*row["args"], message=row["message"])
    for name, row in yaml.safe_load(
        (Path(__file__).parent / "bad_config_inputs.yaml").read_text()
    ).items()
}
if not torch.cuda.is_available():
    CONFIG["gpu without one"] = typed(
        "trainer.accelerator=gpu",
        message="use trainer.accelerator=cpu or trainer.accelerator=auto",
    )


def heart_csv(tmp: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    path = tmp / "user.csv"
    change(pd.read_csv(packaged_heart_csv())).to_csv(path, index=False)
    return path


def _text_cell(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"chol": object})
    frame.loc[4, "chol"] = "high"
    return frame


def _empty_cell(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[9, "age"] = None
    return frame


def _infinite_cell(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"chol": float})
    frame.loc[3, "chol"] = float("inf")
    return frame


def _repeated_name(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"chol": "age"})


def _latin1_csv(tmp: Path) -> Path:
    frame = pd.read_csv(packaged_heart_csv()).assign(town="Genève")
    frame.to_csv(path := tmp / "latin.csv", index=False, encoding="latin-1")
    return path


def csv_row(change: Callable[[pd.DataFrame], pd.DataFrame], message: str) -> Bad:
    return Bad(
        lambda tmp, ckpt: ["experiment=heart", f"data.path={heart_csv(tmp, change)}"],
        message,
        one_line=True,
    )


DATA = {
    "no label column": csv_row(
        lambda f: f.rename(columns={"target": "output"}), "its columns are: age, sex"
    ),
    "text cell": csv_row(_text_cell, "row 6, column 'chol' holds 'high', not a finite number"),
    "empty cell": csv_row(_empty_cell, "row 11, column 'age' is empty"),
    "too few rows": csv_row(lambda f: f.head(6), "has 6 rows: the test (0.2) and validation"),
    "one class": csv_row(lambda f: f.assign(target=1), "column 'target' holds one value only"),
    "infinite cell": csv_row(_infinite_cell, "row 5, column 'chol' holds 'inf', not a finite"),
    "repeated column name": csv_row(_repeated_name, "the header names 'age' more than once"),
    "folder as data.path": Bad(
        lambda tmp, ckpt: ["experiment=heart", f"data.path={tmp}"],
        "is a folder: give the path of a CSV file",
        one_line=True,
    ),
    # Data that cannot say anything, and files that are not UTF-8 (issue 23).
    "a class of one row": csv_row(
        lambda f: f.assign(target=[1] + [0] * (len(f) - 1)),
        "class '1' of column 'target' has 1 row: a class needs at least 2",
    ),
    "latin-1 file": Bad(
        lambda tmp, ckpt: ["experiment=heart", f"data.path={_latin1_csv(tmp)}"],
        "is not utf-8 text (byte 0xe8 on line 2): name its encoding, e.g. data.encoding=latin-1",
        one_line=True,
    ),
    # resources (issue 23 item 4): refused before the network is built (tests/test_resources.py)
    "a network too big for memory": Bad(
        lambda tmp, ckpt: ["model.hidden=[100000000]"],
        "the network 13-100000000-1 needs at least",
        fast=False,
    ),
}


def _image_folder(tmp: Path, kinds=("circle", "square")) -> Path:
    return draw_shapes(tmp / "images", per_class=5, side=8, kinds=kinds)


def _not_an_image(tmp: Path) -> Path:
    root = _image_folder(tmp)
    (root / "square" / "notes.png").write_text("not a picture\n")
    return root


def images_row(folder: Callable[[Path], Path], message: str, experiment: str = "images") -> Bad:
    return Bad(
        lambda tmp, ckpt: [f"experiment={experiment}", f"data.path={folder(tmp)}"],
        message,
        one_line=True,
    )


IMAGES = {
    "images: empty folder": images_row(
        lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "empty holds no class folders"
    ),
    "images: one class": images_row(
        lambda tmp: _image_folder(tmp, kinds=("circle",)),
        "holds one class folder only (circle): a classifier needs at least two",
    ),
    "images: not an image": images_row(
        _not_an_image, "square/notes.png is not an image Pillow can read"
    ),
    "images: a CSV": images_row(
        lambda tmp: heart_csv(tmp, lambda f: f),
        "user.csv is a file, not a folder: give a folder holding one sub-folder of images per "
        "class, e.g. DIR/cat/1.png; a CSV trains with experiment=table",
    ),
    "table: a folder of images": images_row(
        _image_folder,
        "is a folder of images, not a CSV file: train on it with experiment=images",
        experiment="table",
    ),
}


def _not_a_checkpoint(tmp: Path, ckpt: Path) -> Path:
    (path := tmp / "notes.ckpt").write_text("these are my notes\n")
    return path


def _truncated(tmp: Path, ckpt: Path) -> Path:
    (path := tmp / "cut.ckpt").write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    return path


def _pickled_object(tmp: Path, ckpt: Path) -> Path:
    from fractions import Fraction

    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["extra"] = Fraction(1, 3)  # pickled as a class: a safe load refuses it
    torch.save(checkpoint, path := tmp / "object.ckpt")
    return path


def resume(make: Callable[[Path, Path], Path], message: str, *extra: str) -> Bad:
    def args(tmp: Path, ckpt: Path) -> list[str]:
        path = make(tmp, ckpt)
        return ["experiment=xor", *extra, f"ckpt_path={path}"]

    return Bad(args, message, fast=False)


CHECKPOINTS = {
    "checkpoint missing": Bad(
        lambda tmp, ckpt: ["experiment=xor", f"ckpt_path={tmp}/gone.ckpt"],
        "gone.ckpt does not exist: give a checkpoint",
    ),
    "not a checkpoint": resume(_not_a_checkpoint, "notes.ckpt is not a checkpoint"),
    "truncated checkpoint": resume(_truncated, "cut.ckpt is truncated or corrupt"),
    "another architecture": resume(
        lambda tmp, ckpt: ckpt,
        "holds another architecture (ScratchModule 2-4-1",
        "model.hidden=[8]",
    ),
    # A checkpoint holding a pickled object (issue 23).
    "checkpoint with an object": resume(
        _pickled_object,
        "holds a Python object (fractions.Fraction) that a safe load (torch.load with "
        "weights_only=True) refuses",
    ),
}

PREDICT = {
    "predict without ckpt_path": Bad(
        lambda tmp, ckpt: ["inputs=[[1,0]]"], "ckpt_path is required: give ckpt_path=", "predict.py"
    ),
    "predict checkpoint missing": Bad(
        lambda tmp, ckpt: [f"ckpt_path={tmp}/gone.ckpt", "inputs=[[1,0]]"],
        "gone.ckpt does not exist",
        "predict.py",
        fast=False,
    ),
    "predict rows too wide": Bad(
        lambda tmp, ckpt: [f"ckpt_path={ckpt}", "inputs=[[1,0,1]]"],
        "the model takes 2 inputs per row (x0, x1); given: 3",
        "predict.py",
        fast=False,
    ),
    "predict input_dir with a table model": Bad(
        lambda tmp, ckpt: [f"ckpt_path={ckpt}", f"input_dir={tmp}"],
        "input_dir is for a model trained on images, and this one was trained on a table",
        "predict.py",
        fast=False,
    ),
}


def _typed_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# A row per Trainer argument the run refuses, from run.trainer_keys' table of Lightning's signature
# (the honoured ones: test_trainer_keys.py builds the Trainer and checks each meaning).
TRAINER = {
    f"trainer.{key}": typed(
        f"trainer.{key}={_typed_value(value)}",
        message=f"trainer.{key}={_typed_value(value)}: trainer.{key} ",
    )
    for key, value in REFUSED.items()
}
TABLE = {**CONFIG, **DATA, **IMAGES, **CHECKPOINTS, **PREDICT, **TRAINER}


@pytest.fixture(scope="module")
def xor_checkpoint(tmp_path_factory) -> Path:
    from hydra import compose, initialize_config_dir

    out = tmp_path_factory.mktemp("xor")
    overrides = ["experiment=xor", "trainer.max_steps=20", *CHECKPOINTS_ONLY, f"output_dir={out}"]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        train(compose("train", overrides=overrides))
    return out / "checkpoints" / "last.ckpt"


@pytest.mark.slow
@pytest.mark.parametrize("bad", TABLE.values(), ids=TABLE)
def test_bad_input(tmp_path, xor_checkpoint, bad: Bad) -> None:
    run_dir = tmp_path / "run"
    started = time.perf_counter()
    done = run_cli(*bad.args(tmp_path, xor_checkpoint), run_dir=run_dir, script=bad.script)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert bad.message in output, output[-2000:]
    assert "Traceback" not in output and "Error in call to target" not in output, output[-2000:]
    leftovers = {"metrics.json", "checkpoints", "weights.pth", "predictions.csv"}
    assert not leftovers & {p.name for p in run_dir.glob("*")}, "nothing that looks like a result"
    if bad.fast:
        assert seconds < FAST_S, f"{seconds:.1f} s to the error"
    if bad.one_line:
        assert len(output.strip().splitlines()) == 1, output[-2000:]


def test_no_label_column_says_how_to_name_it(tmp_path) -> None:
    path = heart_csv(tmp_path, lambda f: f.rename(columns={"target": "output"}))
    done = run_cli("experiment=heart", f"data.path={path}", run_dir=tmp_path / "run")
    assert str(path) in done.stdout, "the message names the file"
    assert "output" in done.stdout and "data.target=COLUMN" in done.stdout


def test_a_diverging_run_stops_at_that_step(tmp_path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli("experiment=linear", "model.lr=100", run_dir=run_dir)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output
    assert "training diverged at step" in output and "try a lower model.lr" in output
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "diverged"
    assert f"diverged at step {record['steps']}" in record["error"]
    assert record["steps"] < 200, "stopped at that step, not at max_steps"
    shutil.rmtree(run_dir)
