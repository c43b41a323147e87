"""Learning curves over replicates: curves.csv is numpy's mean and std of the jobs' logged
curves at each step, curves.png is drawn, the TensorBoard mean runs read back, and a vectorized
sweep hands its curves over from memory."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from helpers import job_dirs, multirun, non_trivial
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.util import tensor_util

from experiments.sweeps.report import summarize

GRID = ["experiment=xor", "model.lr=0.5,2.0", "seed=0,1,2", "trainer.max_steps=30"]
LR = {"model.lr=0.5": "model.lr=0.5", "model.lr=2.0": "model.lr=2"}  # override -> its name


def logged(job_dir, tag: str) -> dict[int, float]:
    """{step: value} of `tag` in the job's TensorBoard run, as TensorBoard reads it."""
    runs = list((job_dir / "tensorboard").rglob("events.out.tfevents.*"))
    values = {}
    for path in runs:
        events = EventAccumulator(str(path.parent), size_guidance={"scalars": 0}).Reload()
        values |= {e.step: e.value for e in events.Scalars(tag)}
    return values


def expected_bands(sweep) -> pd.DataFrame:
    """Per configuration, tag and step: numpy's mean and std (ddof=1) over its jobs."""
    by_config: dict[tuple[str, str, int], list[float]] = {}
    for job in job_dirs(sweep):
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        name = next(v for k, v in LR.items() if k in overrides)
        for tag in ("val/loss", "train/loss"):
            for step, value in logged(job, tag).items():
                by_config.setdefault((name, tag, step), []).append(value)
    rows = [
        {
            "configuration": c,
            "tag": t,
            "step": s,
            "n": len(v),
            "mean": np.mean(v),
            "std": np.std(v, ddof=1),
        }
        for (c, t, s), v in by_config.items()
    ]
    return pd.DataFrame(rows).set_index(["configuration", "tag", "step"]).sort_index()


def assert_bands(sweep) -> pd.DataFrame:
    got = pd.read_csv(sweep / "curves.csv").set_index(["configuration", "tag", "step"])
    want = expected_bands(sweep)
    assert sorted(got.index) == sorted(want.index)
    got = got.loc[want.index]
    assert (got["n"] == 3).all() and (want["n"] == 3).all()
    assert np.allclose(got["mean"], want["mean"], rtol=1e-6) and np.allclose(
        got["std"], want["std"], rtol=1e-5
    )
    assert set(got.index.get_level_values("tag")) == {"val/loss", "train/loss"}
    assert non_trivial(sweep / "curves.png")
    return got


def assert_mean_runs(sweep, bands: pd.DataFrame) -> None:
    runs = sorted(p.name for p in (sweep / "tensorboard_mean").iterdir())
    assert runs == ["model.lr=0.5", "model.lr=2"]
    for name in runs:
        events = EventAccumulator(
            str(sweep / "tensorboard_mean" / name), size_guidance={"scalars": 0, "tensors": 0}
        ).Reload()
        for tag in ("val/loss", "train/loss"):
            rows = bands.xs((name, tag), level=["configuration", "tag"])
            mean = {e.step: e.value for e in events.Scalars(f"{tag}/mean")}
            upper = {e.step: e.value for e in events.Scalars(f"{tag}/mean_plus_std")}
            lower = {e.step: e.value for e in events.Scalars(f"{tag}/mean_minus_std")}
            assert sorted(mean) == sorted(rows.index)
            assert np.allclose([mean[s] for s in rows.index], rows["mean"], rtol=1e-6)
            assert np.allclose(
                [upper[s] - lower[s] for s in rows.index], 2 * rows["std"], rtol=1e-4, atol=1e-7
            )
        layout = layout_pb2.Layout.FromString(
            tensor_util.make_ndarray(
                events.Tensors("custom_scalars__config__")[0].tensor_proto
            ).item()
        )
        margin = layout.category[0].chart[0].margin.series[0]
        assert (margin.value, margin.lower, margin.upper) == (
            "val/loss/mean",
            "val/loss/mean_minus_std",
            "val/loss/mean_plus_std",
        )


@pytest.mark.slow
def test_an_ordinary_sweeps_curves(tmp_path) -> None:
    sweep = tmp_path / "ordinary"
    done = multirun(*GRID, sweep_dir=sweep)
    assert done.returncode == 0, done.stderr[-3000:]
    bands = assert_bands(sweep)
    assert_mean_runs(sweep, bands)
    assert not (sweep / ".curves").exists(), "ordinary jobs: read from their event files"


@pytest.mark.slow
def test_a_vectorized_sweeps_curves_come_from_memory(tmp_path) -> None:
    sweep = tmp_path / "vectorized"
    done = multirun(*GRID, "hydra/sweeper=vectorized", sweep_dir=sweep)
    assert done.returncode == 0, done.stderr[-3000:]
    bands = assert_bands(sweep)
    assert_mean_runs(sweep, bands)
    assert list((sweep / ".curves").glob("*.npy")), "the population's curves, from memory"
    for job in job_dirs(sweep):  # without the event files, the report draws the same curves
        shutil.rmtree(job / "tensorboard")
    (sweep / "curves.csv").unlink()
    summarize(sweep)
    again = pd.read_csv(sweep / "curves.csv").set_index(["configuration", "tag", "step"])
    assert np.array_equal(again.loc[bands.index, "mean"], bands["mean"])


def test_a_resumed_jobs_curves_are_what_tensorboard_shows(tmp_path) -> None:
    """An earlier attempt logged past the step its successor resumed from: the successor's marker
    (`SessionLog.START` at that step + 1, as `GracefulInterrupt` writes it) hides those points in
    TensorBoard, and in the report's curves."""
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog
    from torch.utils.tensorboard import SummaryWriter

    from experiments.sweeps.curves import read_curves

    events = tmp_path / "sweep" / "0" / "tensorboard"
    first = SummaryWriter(str(events))
    for step in range(10, 130, 10):
        first.add_scalar("train/loss", 1.0, step)
    first.close()
    # Names that sort in the attempts' order (two writers in one second sort by a counter).
    (written,) = events.glob("events.out.tfevents.*")
    written.rename(events / "events.out.tfevents.1700000001.host.1.0")
    second = SummaryWriter(str(events))
    second._get_file_writer().add_event(
        Event(step=51, session_log=SessionLog(status=SessionLog.START))
    )
    for step in range(60, 110, 10):
        second.add_scalar("train/loss", 2.0, step)
    second.close()
    (written,) = set(events.glob("events.out.tfevents.*")) - {
        events / "events.out.tfevents.1700000001.host.1.0"
    }
    written.rename(events / "events.out.tfevents.1700000002.host.1.0")

    curves = read_curves(tmp_path / "sweep", [0])
    got = dict(zip(curves["step"], curves["value"], strict=True))
    shown = EventAccumulator(str(events), size_guidance={"scalars": 0}).Reload()
    assert got == {e.step: e.value for e in shown.Scalars("train/loss")}
    assert got == {
        10: 1.0,
        20: 1.0,
        30: 1.0,
        40: 1.0,
        50: 1.0,
        60: 2.0,
        70: 2.0,
        80: 2.0,
        90: 2.0,
        100: 2.0,
    }
