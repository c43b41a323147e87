"""The sweep report over synthetic sweep folders, in-process: seeds as replicates, mixed swept
values, column order, how numbers print, the picture, and scripts/summarize.py."""

from __future__ import annotations

import itertools
import json
import logging
import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.patches import Rectangle
from omegaconf import OmegaConf
from PIL import Image
from scipy import stats

from experiments.sweeps import figures as sweep_figures
from experiments.sweeps.report import SweepSummary, report, summarize

ROOT = Path(__file__).resolve().parents[1]


def make_job(sweep: Path, job: int, overrides: list, status="completed", extra=None, **metrics):
    """A job folder as a multirun leaves it: .hydra/overrides.yaml and, unless the job is
    `missing`, metrics.json (status, error, steps, seconds, the metrics by name, then `extra`)."""
    (sweep / str(job) / ".hydra").mkdir(parents=True)
    (sweep / str(job) / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if status == "missing":
        return
    error = None if status == "completed" else f"{status}: something | went\nwrong"
    record = {"status": status, "error": error, "steps": 100, "seconds": 1.5}
    record.update(sorted(metrics.items()) if status == "completed" else {})
    record.update(extra or {})
    (sweep / str(job) / "metrics.json").write_text(json.dumps(record, indent=2))


def metrics_of(sweep: Path, job: int) -> dict:
    return json.loads((sweep / str(job) / "metrics.json").read_text())


def md_rows(md: str) -> list[list[str]]:
    """The cells of the first Markdown table."""
    lines = md.split("\n| job |", 1)[1].split("\n\n", 1)[0].splitlines()
    table = ["| job |" + lines[0], *lines[2:]]
    return [[c.strip() for c in row.strip().strip("|").split(" | ")] for row in table]


def assert_picture(png: Path) -> None:
    with Image.open(png) as image:
        assert image.format == "PNG" and 500 <= image.width <= 2500 and 400 <= image.height <= 1500
        pixels = np.asarray(image.convert("RGB"))  # decodes it all
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, "more than a blank canvas"


# Two learning rates x three seeds. lr=0.01 has the best single job (0.05) but the worse mean.
VAL_LOSS = {0.01: [0.05, 0.41, 0.44], 0.1: [0.20, 0.22, 0.25]}


@pytest.fixture
def grid(tmp_path) -> Path:
    sweep = tmp_path / "grid"
    for job, (lr, seed) in enumerate(itertools.product(VAL_LOSS, range(3))):
        loss = VAL_LOSS[lr][seed]
        metrics = {"val/loss": loss, "val/acc": 1 - loss, "train/loss": loss * 0.9}
        metrics |= {"test/loss": loss * 1.1, "test/acc": 0.9 - loss / 2 + seed / 100}
        metrics |= {"test/tn": 27.0 + seed, "test/fp": 3.0, "test/tp": 29.0}
        metrics["test/fn"] = 2.0 - seed // 2
        make_job(sweep, job, ["experiment=heart", f"model.lr={lr}", f"seed={seed}"], **metrics)
    return sweep


def test_seeds_are_replicates(grid, caplog) -> None:
    caplog.set_level(logging.INFO)
    assert report(grid) == 0
    configs = pd.read_csv(grid / "summary_by_config.csv")
    assert list(configs["model.lr"]) == [0.01, 0.1] and list(configs["n"]) == [3, 3]
    assert list(configs["jobs"]) == ["0 1 2", "3 4 5"]
    jobs = {lr: [metrics_of(grid, 3 * i + s) for s in range(3)] for i, lr in enumerate(VAL_LOSS)}
    metrics = [k for k in jobs[0.1][0] if "/" in k]
    assert len(metrics) == 9
    for _, row in configs.iterrows():
        for m in metrics:
            values = pd.Series([job[m] for job in jobs[row["model.lr"]]])
            assert row[f"{m}_mean"] == pytest.approx(values.mean(), rel=1e-12), m
            assert row[f"{m}_std"] == pytest.approx(values.std(), rel=1e-12, abs=1e-15), m
            low = high = values.mean()  # no spread: scipy's interval is NaN there
            if values.std() > 0:
                low, high = stats.t.interval(0.95, 2, loc=values.mean(), scale=values.sem())
            assert row[f"{m}_ci95_low"] == pytest.approx(low, rel=1e-9, abs=1e-12), m
            assert row[f"{m}_ci95_high"] == pytest.approx(high, rel=1e-9, abs=1e-12), m

    summary = pd.read_csv(grid / "summary.csv")  # the best single job is in the worse config
    assert summary.loc[summary["val/loss"].idxmin(), "model.lr"] == 0.01
    line = next(r.message for r in caplog.records if r.message.startswith("best configuration"))
    assert line.startswith("best configuration by mean val/loss over 3 seeds: model.lr=0.1 = ")
    assert "0.223 ± 0.025" in line and "test/acc 0.7983 ± 0.0029" in line and "(jobs 3 4 5)" in line
    assert "best job" not in caplog.text, "never a single seed"

    md = (grid / "summary.md").read_text()
    assert line in md and "Every job: experiment=heart" in md
    assert "## By configuration" in md and "| 0.1 | 3 | 0.223 ± 0.025 |" in md
    assert_picture(grid / "summary.png")


def test_the_best_configuration_is_one_whose_seeds_all_completed(grid, caplog) -> None:
    caplog.set_level(logging.INFO)
    # A fourth seed of lr=0.01 diverged: its mean over the others no longer competes, however good
    make_job(grid, 6, ["experiment=heart", "model.lr=0.01", "seed=3"], status="diverged")
    for job in range(3):
        record = metrics_of(grid, job) | {"val/loss": 0.01}
        (grid / str(job) / "metrics.json").write_text(json.dumps(record))
    assert report(grid) == 1
    configs = pd.read_csv(grid / "summary_by_config.csv")
    assert list(configs["n"]) == [3, 3] and configs.loc[0, "jobs"] == "0 1 2 6"
    assert "best configuration by mean val/loss over 3 seeds: model.lr=0.1 = " in caplog.text
    assert "| 0.01 | 3 of 4 |" in (grid / "summary.md").read_text()


MIXED = {"data.batch_size": ["null", "32"], "model.hidden": ["[]", "[4]"]}  # null/int, lists
MIXED |= {"model.init": ["default", "0.5"], "model.bias": ["true", "false"]}  # text/number, bool
MIXED["model.lr"] = ["1", "0.1"]  # int and float


@pytest.mark.parametrize("seeds", [["-1", "0"], []], ids=["seeds", "no seeds"])
def test_any_mix_of_swept_values(tmp_path, caplog, seeds) -> None:
    caplog.set_level(logging.INFO)
    sweep = tmp_path / "mixed"
    keys = [*MIXED, "seed"] if seeds else list(MIXED)
    grid = list(itertools.product(*MIXED.values(), *([seeds] if seeds else [])))
    for job, values in enumerate(grid):
        overrides = ["experiment=xor", *(f"{k}={v}" for k, v in zip(keys, values, strict=True))]
        metrics = {"val/loss": 0.1 + job / 100, "test/acc": 0.5, "test/confusion": [[3, 1], [0, 4]]}
        make_job(sweep, job, overrides, "failed" if job == 3 else "completed", **metrics)
    assert report(sweep) == 1, "a failed job: the sweep did not succeed"
    assert (sweep / "summary.csv").is_file() and (sweep / "summary.md").is_file()
    assert_picture(sweep / "summary.png")
    assert "job 3 failed" in caplog.text
    summary = pd.read_csv(sweep / "summary.csv", keep_default_na=False, dtype=str)
    swept = ["model.lr", *list(MIXED)[:-1], *(["seed"] if seeds else [])]  # model.lr first
    assert list(summary.columns[: len(swept) + 2]) == ["job", *swept, "status"]
    assert len(summary) == len(grid) and summary.loc[3, "status"] == "failed"
    assert summary.loc[0, "data.batch_size"] == "null"
    assert (
        "best configuration by mean" if seeds else "best job 0 by val/loss = 0.1"
    ) in caplog.text
    md = (sweep / "summary.md").read_text()
    assert "something \\| went wrong" in md, "a cell's | and newline do not break the table"
    assert "| [[3, 1], [0, 4]] |" in md, "a multiclass confusion matrix, as it is"
    if seeds:
        configs = pd.read_csv(sweep / "summary_by_config.csv", keep_default_na=False, dtype=str)
        assert len(configs) == len(grid) // 2
        # numbers before text, numbers by value: 0.1 < 1; 32 < 'null'; 0.5 < 'default'
        assert configs["model.lr"].tolist() == ["0.1"] * 16 + ["1.0"] * 16
        assert configs["data.batch_size"].tolist()[:16] == ["32"] * 8 + ["null"] * 8
        assert configs["model.init"].tolist()[:4] == ["0.5", "0.5", "default", "default"]
        assert configs["model.bias"].tolist()[:2] == ["false", "true"]
        best = "best configuration by mean val/loss over 2 seeds: model.lr=1 data.batch_size=null"
        best += " model.hidden=[] model.init=default model.bias=true = 0.1050 ± 0.0071;"
        best += " test/acc 0.5 ± 0 (jobs 0 1)"
        assert best in caplog.text


@pytest.mark.parametrize("metric", ["val/loss", "val/acc"])
def test_column_order(tmp_path, metric) -> None:
    sweep = tmp_path / "order"
    metrics = {"test/tp": 29.0, "parity/max_grad_diff": 1e-9, "test/acc": 0.9, "val/acc": 0.8}
    metrics |= {"train/loss": 0.3, "test/fn": 2.0, "val/loss": 0.25, "test/tn": 27.0}
    metrics |= {"test/loss": 0.3, "test/fp": 3.0, "test/f1_macro": 0.88}
    grid = itertools.product([100, 1000], [0.000123456, 1], [0, 1])
    for job, (steps, lr, seed) in enumerate(grid):
        overrides = [f"seed={seed}", f"trainer.max_steps={steps}", "experiment=heart"]
        overrides.append(f"model.lr={lr}")
        make_job(sweep, job, overrides, extra={"resumed_from_step": None}, **metrics)
    assert report(sweep, metric, "min" if metric.endswith("loss") else "max") == 0
    best = "best configuration by mean {} over 2 seeds: model.lr=0.000123456 trainer.max_steps=100"
    assert best.format(metric) in (sweep / "summary.md").read_text(), "a tie: the first, exact"

    other_val = ["val/acc"] if metric == "val/loss" else ["val/loss"]
    expected = ["job", "model.lr", "trainer.max_steps", "seed", "status", metric, *other_val]
    expected += ["train/loss", "test/loss", "test/acc", "test/f1_macro"]
    expected += ["test/tn", "test/fp", "test/fn", "test/tp", "parity/max_grad_diff"]
    expected += ["steps", "seconds", "resumed_from_step", "error", "overrides"]
    assert list(pd.read_csv(sweep / "summary.csv").columns) == expected
    assert md_rows((sweep / "summary.md").read_text())[0] == expected[:-1]
    configs = pd.read_csv(sweep / "summary_by_config.csv")
    leading = ["model.lr", "trainer.max_steps", "n", "jobs", f"{metric}_mean", f"{metric}_std"]
    assert list(configs.columns[:6]) == leading


def test_integers_print_as_integers(tmp_path) -> None:
    sweep = tmp_path / "integers"
    for job, steps in enumerate([100, 10000]):
        metrics = {"val/loss": 0.123456, "test/tn": 27.0, "test/fp": 3.0, "test/acc": 0.8}
        make_job(sweep, job, ["model.lr=1", f"trainer.max_steps={steps}"], **metrics)
    assert report(sweep) == 0
    md = (sweep / "summary.md").read_text()
    header, *rows = md_rows(md)
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert [c["trainer.max_steps"] for c in cells] == ["100", "10000"]
    assert {c["test/tn"] for c in cells} == {"27"} and {c["test/fp"] for c in cells} == {"3"}
    assert {c["steps"] for c in cells} == {"100"} and {c["val/loss"] for c in cells} == {"0.1235"}
    assert [c["job"] for c in cells] == ["0", "1"] and "Every job: model.lr=1" in md
    assert not [wrong for wrong in ["27.0", "2.7e+01", "1e+04", "10000.0"] if wrong in md]
    best = "best job 0 by val/loss = 0.1235: model.lr=1 trainer.max_steps=100"
    assert f"{best} (test/acc 0.8, test/tn 27, test/fp 3)" in md


def test_huge_finite_metrics_still_give_a_report(tmp_path) -> None:
    """A run that blew up without reaching inf (a regression at too high an lr) completes with
    losses near 1e200: their spread over seeds overflows to inf, and the report still prints."""
    sweep = tmp_path / "huge"
    for job, loss in enumerate([1e200, -1e200, 0.5, 0.6]):
        overrides = [f"model.lr={10 if job < 2 else 1}", f"seed={job % 2}"]
        make_job(sweep, job, overrides, **{"val/loss": abs(loss), "test/r2": loss})
    assert report(sweep) == 0
    md = (sweep / "summary.md").read_text()
    assert "0 ± inf" in md and "0.550 ± 0.071" in md


SHAPES = {  # swept overrides per job -> the picture: heatmap, line, points per job
    "heatmap": [[f"model.lr={lr}", f"trainer.max_steps={n}"] for lr in [0.1, 1] for n in [10, 20]],
    "line": [[f"model.lr={lr}", f"seed={s}"] for lr in ["0.01", "0.1", "1"] for s in range(2)],
    "seeds only": [[f"seed={s}"] for s in range(4)],
    "one job": [["model.lr=0.1"]],
}


@pytest.mark.parametrize("shape", SHAPES)
def test_picture_marks_the_best_no_categorical_units(tmp_path, caplog, monkeypatch, shape):
    caplog.set_level(logging.DEBUG, logger="matplotlib")
    caplog.set_level(logging.INFO)
    figures, picture = [], sweep_figures.picture  # keep the report's own Figure, to look into
    monkeypatch.setattr(
        sweep_figures, "picture", lambda *a: figures.append(picture(*a)) or figures[-1]
    )
    sweep = tmp_path / "shape"
    for job, overrides in enumerate(SHAPES[shape]):
        status = "diverged" if job == 1 else "completed"
        make_job(sweep, job, overrides, status, **{"val/loss": 1 / (job + 1), "test/acc": 0.5})
    assert report(sweep) == (0 if shape == "one job" else 1)
    assert_picture(sweep / "summary.png")
    assert "categorical units" not in caplog.text and "best " in caplog.text

    (ax, *_), title = figures[0].axes, figures[0].axes[0].get_title()
    assert title.startswith("val/loss over the sweep (lower is better; ★ best)")
    if shape == "heatmap":
        frames = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_edgecolor()[0] == 1]
        assert len(frames) == 1 and frames[0].get_xy() == (0.5, 0.5), "lr=1, 20 steps: job 3"
        assert [t.get_text() for t in ax.texts if "★" in t.get_text()] == ["★ 0.25"]
        assert "diverged" in [t.get_text() for t in ax.texts]
    elif shape in ("line", "one job"):
        (star,) = [line for line in ax.get_lines() if line.get_marker() == "*"]
        # line: lr=1 has the best mean, (1/5 + 1/6) / 2; one job: job 0, 1/1
        best = [2, (1 / 5 + 1 / 6) / 2] if shape == "line" else [0, 1.0]
        assert star.get_xydata().tolist() == [pytest.approx(best)]
    else:
        assert title.endswith("mean ± std over 4 seeds")
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "★ mean over 3 seeds: 0.53 ± 0.41" in legend


@pytest.mark.parametrize("status", ["failed", "diverged", "interrupted", "missing"])
def test_any_unfinished_job_fails_the_sweep(tmp_path, caplog, status) -> None:
    caplog.set_level(logging.INFO)
    sweep = tmp_path / "unfinished"
    make_job(sweep, 0, ["model.lr=0.1", "seed=0"], **{"val/loss": 0.3})
    make_job(sweep, 1, ["model.lr=0.1", "seed=1"], status)
    assert report(sweep) == 1
    assert f"job 1 {status}" in caplog.text and "1 of 2 jobs did not complete" in caplog.text
    assert pd.read_csv(sweep / "summary.csv")["status"].tolist() == ["completed", status]
    assert "over 1 seed: every job (only seed varies) = 0.3 (jobs 0 1)" in caplog.text
    with pytest.raises(SystemExit) as exit_:
        SweepSummary().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    assert exit_.value.code == 1


def test_no_completed_job(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    sweep = tmp_path / "all_failed"
    for job, lr in enumerate(["0.1", "1"]):
        make_job(sweep, job, [f"model.lr={lr}", "seed=0"], "failed")
    make_job(sweep, 2, ["model.lr=0.1", "seed=1"], "missing")
    assert report(sweep) == 1
    assert_picture(sweep / "summary.png")
    assert not (sweep / "summary_by_config.csv").exists() and "best" not in caplog.text
    assert "No completed job has val/loss." in (sweep / "summary.md").read_text()
    assert list(summarize(sweep)["status"]) == ["failed", "failed", "missing"]


def run_script(monkeypatch, *args: str) -> SystemExit:
    monkeypatch.setattr(sys, "argv", ["summarize.py", *args])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(ROOT / "scripts" / "summarize.py"), run_name="__main__")
    return exit_.value


def test_summarize_script(tmp_path, monkeypatch, grid) -> None:
    assert run_script(monkeypatch, str(grid)).code == 0
    (tmp_path / "a_file").write_text("")
    (tmp_path / "empty").mkdir()
    for not_a_sweep in [tmp_path / "empty", tmp_path / "nowhere", tmp_path / "a_file"]:
        message = run_script(monkeypatch, str(not_a_sweep)).code
        assert isinstance(message, str) and message.startswith("error: "), message
        assert "\n" not in message and str(not_a_sweep) in message  # exit status 1, one line
    assert run_script(monkeypatch, str(grid), "--metric", "val/acc", "--mode", "max").code == 0
    best = "best configuration by mean val/acc over 3 seeds: model.lr=0.1"
    assert best in (grid / "summary.md").read_text()
