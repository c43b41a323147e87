"""Whether the best configuration is really better than the runner-up: a t-test over their
replicates (paired by seed and fold when both have the same ones), in summary.md and the log."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_sweep_report import make_job

from experiments.sweeps.report import report
from experiments.sweeps.values import plus_minus

# lr -> {(seed, fold): val/loss}; 0.1 is best, 0.3 the runner-up, 1.0 last.
CLOSE = {
    0.1: [0.20, 0.25, 0.22, 0.27],
    0.3: [0.21, 0.26, 0.24, 0.25],
    1.0: [0.90, 0.80, 0.85, 0.95],
}


def sweep_of(tmp_path, losses: dict, replicates: list[list[str]]):
    """One job per (lr, replicate overrides), numbered in that order."""
    sweep = tmp_path / "sweep"
    pairs = itertools.product(losses, range(len(replicates)))
    for job, (lr, r) in enumerate(pairs):
        loss = losses[lr][r]
        overrides = ["experiment=heart", f"model.lr={lr}", *replicates[r]]
        make_job(sweep, job, overrides, **{"val/loss": loss, "test/loss": loss + 0.1})
    return sweep


def test_same_seeds_and_folds_are_paired(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    pairs = itertools.product([0, 1], [0, 1])
    both = [[f"seed={s}", "data.folds=2", f"data.fold={f}"] for s, f in pairs]
    sweep = sweep_of(tmp_path, CLOSE, both)
    assert report(sweep) == 0
    configs = pd.read_csv(sweep / "summary_by_config.csv")
    assert configs["n"].tolist() == [4, 4, 4], "n counts seeds x folds"
    assert {"seed", "data.fold"}.isdisjoint(configs.columns)
    p = stats.ttest_rel(CLOSE[0.1], CLOSE[0.3]).pvalue
    assert p >= 0.05
    md = (sweep / "summary.md").read_text()
    line = f"two-sided paired t-test (same seeds and folds) on val/loss (n = 4 and 4): p = {p:.3g}"
    assert line in md and "not distinguishable at this n" in md
    spread = plus_minus(np.mean(CLOSE[0.3]), np.std(CLOSE[0.3], ddof=1))
    assert f"Runner-up: model.lr=0.3 = {spread} by mean val/loss over 4 replicates" in md
    assert "over 4 replicates (seeds x folds): model.lr=0.1" in md
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("best configuration") for m in logged)
    assert any(m.startswith("Runner-up: model.lr=0.3") and f"p = {p:.3g}" in m for m in logged)


def test_other_seeds_are_compared_by_welch(tmp_path) -> None:
    losses = {0.1: [0.10, 0.12, 0.11], 0.3: [0.30, 0.33, 0.29]}
    sweep = tmp_path / "sweep"
    for job, (lr, seed) in enumerate([(0.1, 0), (0.1, 1), (0.1, 2), (0.3, 3), (0.3, 4), (0.3, 5)]):
        loss = losses[lr][seed % 3]
        make_job(sweep, job, [f"model.lr={lr}", f"seed={seed}"], **{"val/loss": loss})
    assert report(sweep) == 0
    p = stats.ttest_ind(losses[0.1], losses[0.3], equal_var=False).pvalue
    assert p < 0.05
    md = (sweep / "summary.md").read_text()
    assert f"two-sided Welch t-test on val/loss (n = 3 and 3): p = {p:.3g}" in md
    assert "the best is better at the 5 % level" in md


@pytest.mark.parametrize("mode", ["min", "max"])
def test_the_runner_up_is_the_second_best_mean(tmp_path, mode) -> None:
    folds = [["data.folds=4", f"data.fold={f}"] for f in range(4)]
    sweep = sweep_of(tmp_path, CLOSE, folds)
    assert report(sweep, mode=mode) == 0
    md = (sweep / "summary.md").read_text()
    best, runner_up = (0.1, 0.3) if mode == "min" else (1.0, 0.3)
    p = stats.ttest_rel(CLOSE[best], CLOSE[runner_up]).pvalue
    assert f"Runner-up: model.lr={runner_up} = " in md and "over 4 folds. " in md
    assert f"p = {p:.3g}" in md


def test_one_configuration_has_no_runner_up(tmp_path) -> None:
    sweep = sweep_of(tmp_path, {0.1: CLOSE[0.1]}, [[f"seed={s}"] for s in range(4)])
    assert report(sweep) == 0
    assert "Runner-up" not in (sweep / "summary.md").read_text()
