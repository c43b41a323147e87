"""The sweep report: one row per job, written at the sweep root when a multirun ends.

`summarize(sweep_dir)` reads every job's `.hydra/overrides.yaml` and `metrics.json` (a job without
one is `missing`: killed, or still running) and writes `summary.csv`, `summary.md` and
`summary.png`. `SweepSummary` is the Hydra callback that calls it; `scripts/summarize.py` runs it
again over any sweep folder.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)

FIXED_COLUMNS = ["job", "overrides", "status", "error", "steps", "seconds"]
# Preferred axes of the picture, when swept: the mission's lr x iterations grid.
PREFERRED_AXES = ["model.lr", "trainer.max_steps"]


def _parse_value(text: str) -> Any:
    """'0.1' -> 0.1, '1000' -> 1000, 'mlp' -> 'mlp' (YAML's reading of an override value)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else text


def read_job(job_dir: Path) -> dict[str, Any]:
    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    row: dict[str, Any] = {"job": int(job_dir.name), "overrides": " ".join(overrides)}
    row.update(
        {k: _parse_value(v) for k, _, v in (o.lstrip("+~").partition("=") for o in overrides)}
    )
    metrics_file = job_dir / "metrics.json"
    if metrics_file.is_file():
        record = json.loads(metrics_file.read_text())
        record.pop("predictions", None)
        row.update(record)
    else:
        row.update(
            status="missing", error="no metrics.json: the job was killed or is still running"
        )
    return row


def collect(sweep_dir: Path):
    """A DataFrame with one row per job folder (named by its job number), in job order."""
    import pandas as pd

    jobs = [
        d
        for d in sweep_dir.iterdir()
        if d.name.isdigit() and (d / ".hydra/overrides.yaml").exists()
    ]
    if not jobs:
        raise FileNotFoundError(
            f"{sweep_dir} holds no job folders (<number>/.hydra/overrides.yaml)"
        )
    return pd.DataFrame([read_job(d) for d in sorted(jobs, key=lambda d: int(d.name))])


def swept_keys(table) -> list[str]:
    """Override keys whose value differs between jobs, preferred axes first."""
    keys = [
        c
        for c in table.columns
        if "=" not in c and c not in FIXED_COLUMNS and "/" not in c and table[c].nunique() > 1
    ]
    rank = {key: i for i, key in enumerate(PREFERRED_AXES)}
    return sorted(keys, key=lambda k: rank.get(k, len(rank)))  # stable: others keep their order


def best_job(table, metric: str, mode: str):
    """The completed job with the best value of `metric` (a validation metric), or None."""
    done = table[(table["status"] == "completed")]
    if metric not in done.columns or done[metric].isna().all():
        return None
    index = done[metric].idxmin() if mode == "min" else done[metric].idxmax()
    return table.loc[index]


def summarize(sweep_dir: Path, metric: str = "val/loss", mode: str = "min"):
    """Write summary.csv, summary.md and summary.png at the sweep root; return the table."""
    table = collect(sweep_dir)
    axes = swept_keys(table)
    metric_columns = sorted(c for c in table.columns if "/" in c)
    ordered = ["job", *axes, "status", "steps", "seconds", *metric_columns, "error", "overrides"]
    table = table[[c for c in ordered if c in table.columns]]
    table.to_csv(sweep_dir / "summary.csv", index=False)
    (sweep_dir / "summary.md").write_text(_markdown(table, metric, mode))
    _picture(table, axes, metric).savefig(sweep_dir / "summary.png", dpi=100)
    return table


def _markdown(table, metric: str, mode: str) -> str:
    shown = table.drop(columns=["overrides"]).fillna("")
    lines = [shown.to_markdown(index=False, floatfmt=".4g"), ""]
    best = best_job(table, metric, mode)
    if best is not None:
        lines.append(f"Best job by {metric} ({mode}): {int(best['job'])}: {best['overrides']}")
    return "\n".join(lines) + "\n"


def _picture(table, axes: list[str], metric: str):
    """A heatmap of the metric over the first two swept axes (mean over any others), or a line
    plot over one axis; failed jobs leave empty cells."""
    import numpy as np

    from experiments import figures

    plt = figures.plt
    values = table.assign(**{metric: table.get(metric, np.nan)})
    values.loc[values["status"] != "completed", metric] = np.nan
    fig, ax = plt.subplots(figsize=(7, 5))
    if len(axes) >= 2:
        from matplotlib import patheffects

        outline = [patheffects.withStroke(linewidth=2, foreground="black")]
        grid = values.pivot_table(
            index=axes[1], columns=axes[0], values=metric, aggfunc="mean", dropna=False
        )
        grid = grid.reindex(
            index=sorted(values[axes[1]].unique()), columns=sorted(values[axes[0]].unique())
        )
        image = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto", origin="lower")
        fig.colorbar(image, ax=ax, label=metric)
        ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            label = "failed" if math.isnan(value) else f"{value:.3g}"
            ax.text(j, i, label, ha="center", va="center", color="white", path_effects=outline)
        ax.set(xlabel=axes[0], ylabel=axes[1])
    elif axes:
        line = values.groupby(axes[0])[metric].mean().sort_index()
        ax.plot([str(x) for x in line.index], line.to_numpy(), "o-")
        ax.set(xlabel=axes[0], ylabel=metric)
        ax.grid(alpha=0.3)
    else:
        ax.bar([str(j) for j in values["job"]], values[metric])
        ax.set(xlabel="job", ylabel=metric)
    ax.set_title(f"{metric} over the sweep")
    fig.tight_layout()
    return fig


def report(sweep_dir: Path, metric: str = "val/loss", mode: str = "min") -> int:
    """Write the summary, log the best job and every job that did not complete; return the exit
    status a sweep should end with (1 if any job failed, diverged or is missing)."""
    table = summarize(sweep_dir, metric, mode)
    log.info("sweep summary: %s", sweep_dir / "summary.md")
    best = best_job(table, metric, mode)
    if best is not None:
        tests = [c for c in table.columns if c.startswith("test/") and not math.isnan(best[c])]
        scores = ", ".join(f"{c} {best[c]:.4g}" for c in tests)
        log.info(
            "best job %d by %s = %.4g: %s (%s)",
            best["job"],
            metric,
            best[metric],
            best["overrides"],
            scores,
        )
    unfinished = table[table["status"] != "completed"]
    for _, row in unfinished.iterrows():
        log.error("job %d %s: %s", row["job"], row["status"], row["error"])
    if len(unfinished):
        log.error(
            "%d of %d jobs did not complete: see %s",
            len(unfinished),
            len(table),
            sweep_dir / "summary.md",
        )
        return 1
    return 0


class SweepSummary(Callback):
    """Hydra callback: the report when a multirun ends; exit status 1 if a job did not complete."""

    def __init__(self, metric: str = "val/loss", mode: str = "min") -> None:
        self.metric, self.mode = metric, mode

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if status := report(Path(config.hydra.sweep.dir), self.metric, self.mode):
            sys.exit(status)
