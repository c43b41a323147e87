"""hydra/sweeper=vectorized: every grid point of a batched population equals its ordinary run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import multirun
from helpers.tables import diabetes_csv

pytestmark = pytest.mark.slow

# float64, so "equal" can mean < 1e-8; two learning rates x two seeds x two iteration counts.
# A case's own value of a GRID key replaces it (Adam at lr 2.0 on a regression table only adds
# rounding noise). DIABETES stands for scikit-learn's diabetes table written as a CSV.
GRID = ["model.lr=0.5,2.0", "trainer.max_steps=40,90", "seed=0,1", "trainer.precision=64-true"]
CASES = {
    "scratch, full batch": ["experiment=xor", "model=scratch"],
    "mlp, full batch": ["experiment=xor", "model=mlp"],
    "scratch, per-seed mini-batches": ["experiment=heart", "model=scratch", "data.batch_size=16"],
    "mlp, rows drawn with replacement": ["experiment=heart_lesson", "model=mlp"],
    "scratch, momentum": ["experiment=xor", "model=scratch", "model.optimizer=momentum"],
    "scratch, multiclass softmax cross-entropy": [
        "experiment=iris",
        "model=scratch",
        "model.optimizer=sgd",
    ],
    "scratch, regression table (diabetes CSV), adam": [
        "experiment=table",
        "data.path=DIABETES",
        "data.target=label",
        "model=scratch",
        "model.lr=0.01,0.1",
    ],
    "mlp, regression table (diabetes CSV), adam, mini-batches": [
        "experiment=table",
        "data.path=DIABETES",
        "data.target=label",
        "model=mlp",
        "model.lr=0.01,0.1",
        "data.batch_size=64",
    ],
    "mlp, multiclass softmax cross-entropy, mini-batches": [
        "experiment=iris",
        "model=mlp",
        "model.optimizer=sgd",
        "data.batch_size=16",
    ],
    "mlp, adam, mini-batches": [
        "experiment=heart",
        "model=mlp",
        "model.optimizer=adam",
        "data.batch_size=16",
    ],
}
METRIC_TOLERANCE = 1e-6  # torchmetrics keeps some states in float32 in the ordinary run


def sweep_args(case: list[str], tmp_path: Path) -> list[str]:
    """The case's overrides, DIABETES written out, then the GRID keys the case leaves unset."""
    diabetes = str(diabetes_csv(tmp_path / "diabetes.csv"))
    args = [arg.replace("DIABETES", diabetes) for arg in case]
    keys = {arg.split("=")[0] for arg in args}
    return [*args, *(g for g in GRID if g.split("=")[0] not in keys)]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES)
def test_vectorized_sweep_equals_the_ordinary_sweep(tmp_path, case) -> None:
    ordinary, vectorized = tmp_path / "ordinary", tmp_path / "vectorized"
    args = sweep_args(case, tmp_path)
    done = multirun(*args, sweep_dir=ordinary)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    done = multirun(*args, "hydra/sweeper=vectorized", sweep_dir=vectorized)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]

    a = pd.read_csv(ordinary / "summary.csv").drop(columns=["seconds"])
    b = pd.read_csv(vectorized / "summary.csv").drop(columns=["seconds"])
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 8
    for column in a.columns:
        if pd.api.types.is_float_dtype(a[column]):
            assert b[column].to_numpy() == pytest.approx(
                a[column].to_numpy(), rel=METRIC_TOLERANCE, nan_ok=True
            ), column
        else:
            assert a[column].tolist() == b[column].tolist(), column

    for job in range(8):  # each member ends with the ordinary run's weights
        want = torch.load(ordinary / str(job) / "weights.pth", weights_only=True)
        got = torch.load(vectorized / str(job) / "weights.pth", weights_only=True)
        assert want.keys() == got.keys()
        for name, value in want.items():
            assert (got[name] - value).abs().max().item() < 1e-8, (job, name)
    assert sorted(p.name for p in Path(vectorized).glob("*/tensorboard/*")) == sorted(
        p.name for p in Path(ordinary).glob("*/tensorboard/*")
    ), "one TensorBoard run per grid point, named by its overrides"


def test_a_failing_population_is_recorded_and_the_sweep_goes_on(tmp_path) -> None:
    """One outer group's value is wrong: its grid points are recorded failed, the other group's
    train, the summary covers all, and the command exits non-zero."""
    sweep = tmp_path / "sweep"
    grid = ["model.activation=swish,sigmoid", "model.lr=0.5,2.0", "trainer.max_steps=20"]
    done = multirun("experiment=xor", *grid, "hydra/sweeper=vectorized", sweep_dir=sweep)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    summary = pd.read_csv(sweep / "summary.csv")
    assert len(summary) == 4
    status = dict(zip(summary["model.activation"], summary["status"], strict=False))
    by_activation = summary.groupby("model.activation")["status"].agg(set).to_dict()
    assert by_activation == {"swish": {"failed"}, "sigmoid": {"completed"}}, status
    assert (
        summary.loc[summary["model.activation"] == "swish", "error"]
        .str.contains("model.activation='swish' is unknown")
        .all()
    )


def test_a_lost_population_records_its_unrecorded_grid_points(tmp_path) -> None:
    """A population's job lost by its launcher (SLURM cancelled it, say): the launcher recorded
    why in the population's folder; the sweeper records each grid point the job had not."""
    from experiments.run.results import write_metrics
    from experiments.sweeps.population.entry import record_lost

    jobs = [{"job": n, "overrides": [f"model.lr={n}"]} for n in range(3)]
    plan = tmp_path / "population_0.json"
    plan.write_text(json.dumps({"sweep_dir": str(tmp_path), "jobs": jobs}))
    (tmp_path / "0").mkdir()
    write_metrics(tmp_path / "0", "completed", None, 20, 1.0, {"val/loss": 0.5})
    (tmp_path / "population_0").mkdir()
    write_metrics(tmp_path / "population_0", "failed", "slurm job 7 ended CANCELLED", 0, 0.0, {})
    record_lost(plan, tmp_path / "population_0")
    records = [json.loads((tmp_path / str(n) / "metrics.json").read_text()) for n in range(3)]
    assert [r["status"] for r in records] == ["completed", "failed", "failed"]
    assert records[1]["error"] == records[2]["error"] == "slurm job 7 ended CANCELLED"
