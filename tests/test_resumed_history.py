"""A resumed run's loss curves cover its whole history, across attempts: the series
`loss_curves.png` plots (`LessonFigures.curves`, written out by `helpers.figures.SeriesFigures`)
runs from the first logged step to the end, as the uninterrupted run's does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import assert_same_weights

from experiments.errors import RunInterrupted
from experiments.run.resume import prepare_run
from experiments.run.training import train

# xor, 300 steps: train/loss every 3 steps, val/loss every 30; checkpoints on, no TensorBoard.
RUN = [
    "experiment=xor",
    "trainer.max_steps=300",
    "~logger",
    "~callbacks.histograms",
    "~callbacks.progress_bar",
    "+trainer.enable_progress_bar=false",
    "callbacks.figures._target_=helpers.figures.SeriesFigures",
]
STOP_AT_150 = [
    "+callbacks.signal_at._target_=helpers.signals.SignalAt",
    "+callbacks.signal_at.step=150",
]


def series(folder) -> dict[str, list[list[float]]]:
    return json.loads((Path(folder) / "loss_curves.json").read_text())


def assert_same_series(got: dict, expected: dict) -> None:
    for name in ("train", "val"):
        assert [s for s, _ in got[name]] == [s for s, _ in expected[name]], name
        assert [v for _, v in got[name]] == pytest.approx([v for _, v in expected[name]], rel=1e-6)


@pytest.fixture
def uninterrupted(make_cfg) -> dict:
    cfg = make_cfg(*RUN, quiet=False)
    train(cfg)
    whole = series(cfg.output_dir)
    assert [s for s, _ in whole["train"]] == list(range(3, 301, 3))
    assert [s for s, _ in whole["val"]] == list(range(30, 301, 30))
    return whole


def interrupted_at_150(make_cfg):
    cfg = make_cfg(*RUN, *STOP_AT_150, quiet=False)
    with pytest.raises(RunInterrupted):
        train(cfg)
    assert max(s for s, _ in series(cfg.output_dir)["train"]) == 150
    return cfg


def test_a_run_resumed_with_ckpt_path_plots_every_step(make_cfg, uninterrupted) -> None:
    stopped = interrupted_at_150(make_cfg)
    resumed = make_cfg(*RUN, f"ckpt_path={stopped.output_dir}/checkpoints/last.ckpt", quiet=False)
    assert train(resumed)["resumed_from_step"] == 150
    assert_same_series(series(resumed.output_dir), uninterrupted)


def test_a_run_continued_in_its_folder_plots_every_step(make_cfg, uninterrupted) -> None:
    stopped = interrupted_at_150(make_cfg)
    again = make_cfg(*RUN, quiet=False)
    again.output_dir = stopped.output_dir
    assert train(prepare_run(again))["resumed_from_step"] == 150  # the run lock's resume
    assert_same_series(series(stopped.output_dir), uninterrupted)


def test_a_completed_run_rerun_after_its_metrics_were_lost_plots_every_step(
    make_cfg, uninterrupted
) -> None:
    """metrics.json truncated: the folder's run counts as unfinished and resumes at its end."""
    cfg = make_cfg(*RUN, quiet=False)
    train(cfg)
    (Path(cfg.output_dir) / "metrics.json").write_text('{"status": "compl')
    assert train(prepare_run(cfg))["resumed_from_step"] == 300
    assert_same_series(series(cfg.output_dir), uninterrupted)


def test_a_float64_run_resumed_from_a_checkpoint_is_the_uninterrupted_run(make_cfg) -> None:
    """Lightning restores a checkpoint before it converts the model to float64: without
    `GracefulInterrupt.setup` the restored weights were rounded to float32 (~1e-7 off)."""
    common = [*RUN, "trainer.precision=64-true"]
    first = make_cfg(*common, *STOP_AT_150, quiet=False)
    with pytest.raises(RunInterrupted):
        train(first)
    resumed = make_cfg(*common, f"ckpt_path={first.output_dir}/checkpoints/last.ckpt", quiet=False)
    whole = make_cfg(*common, quiet=False)
    train(resumed)
    train(whole)
    assert_same_weights(resumed.output_dir, whole.output_dir)  # bit for bit
