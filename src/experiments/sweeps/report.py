"""The sweep report, written at the sweep root when a multirun ends (`SweepSummary`, the Hydra
callback) or again by `scripts/summarize.py`. It lists every job of the sweep's plan
(`experiments.sweeps.plan`) and every job folder; a job never started, or whose folder has no
metrics.json, is `missing`.

- `summary.csv`, `summary.md`: one row per job, in job order: `job`, the swept keys (`seed`
  last), `status`, the optimized metric, other `val/` metrics, `train/`, `test/` (confusion counts
  last), other metrics, `steps`, `seconds`, `error`, `overrides` (the Markdown leaves it out and
  names the overrides every job shares above its table).
- `summary_by_config.csv`, when `seed` is swept (seeds are replicates): one row per configuration
  (jobs that differ only by seed), sorted by its swept values, `n` (completed jobs), `jobs` (all
  its job numbers), then per numeric metric `<metric>_mean`, `<metric>_std` (ddof=1, NaN for
  n=1), `<metric>_ci95_low`, `<metric>_ci95_high` (mean -/+ t(0.975, n-1) * std / sqrt(n)).
  summary.md repeats it as a second table of `mean ± std`, with the optimized metric's interval.
- `summary.png` (`experiments.sweeps.figures`): the metric over the swept axes, ★ on the best.

The best is a job when no seed is swept, else the configuration with the best MEAN over its seeds
(among those whose every seed completed, if any did). Swept values other than numbers (text,
null, booleans, lists) stay the override's text; values sort numbers first, then text.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from experiments.atomic import write_bytes_atomic, write_csv_atomic
from experiments.run.sweep_metric import sweep_mode
from experiments.sweeps.best import best_config, best_job
from experiments.sweeps.replicates import REPLICATES, config_keys, only_replicates, replicates_word
from experiments.sweeps.unfinished import unfinished_lines
from experiments.sweeps.values import is_number, plus_minus, show, sort_key

log = logging.getLogger(__name__)

FIXED_COLUMNS = ["job", "overrides", "status", "error", "steps", "seconds"]
PREFERRED_AXES = ["model.lr", "trainer.max_steps"]  # the picture's axes when swept
CONFUSION = ["test/tn", "test/fp", "test/fn", "test/tp", "test/confusion"]


# libyaml's loader where PyYAML has it: a sweep's report reads every job's overrides (~10x).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=65536)  # a sweep's jobs repeat the same few values
def _parse_value(text: str) -> Any:
    """'0.1' -> 0.1, '1e-3' -> 0.001, '-1' -> -1; anything else ('mlp', 'null', 'true', '[4]')
    stays the override's text, so every value is hashable and none is NaN."""
    try:
        value = yaml.load(text, Loader=_LOADER)
        value = float(text) if isinstance(value, str) else value
    except (yaml.YAMLError, ValueError):
        return text
    return value if is_number(value) and math.isfinite(value) else text


def _read_job(job: int, job_dir: Path | None, planned: list[str] | None, refused: dict | None):
    """(values by override key, the record: job, overrides and metrics.json) of a job. A planned
    job without a folder, or whose folder holds other overrides (an earlier sweep's), is
    `missing`, shown with its planned overrides; one the launcher could not submit (`refused`)
    is `failed`, with the reason."""
    found = None if job_dir is None else _overrides(job_dir)
    planned = planned if planned is not None or refused is None else refused["overrides"]
    overrides = planned if found is None or (planned is not None and found != planned) else found
    pairs = (o.lstrip("+~").partition("=") for o in overrides or [])
    values = {k: _parse_value(v) for k, _, v in pairs}
    record: dict[str, Any] = {"job": job, "overrides": " ".join(overrides or [])}
    if found is None and refused is not None:
        return values, record | {"status": "failed", "error": refused["error"]}
    if found is None:
        return values, record | {"status": "missing", "error": "never started"}
    if overrides is not found:
        return values, record | {"status": "missing", "error": f"folder holds {' '.join(found)}"}
    try:
        record.update(json.loads((job_dir / "metrics.json").read_text()))
    except FileNotFoundError:
        record.update(status="missing", error="no metrics.json: killed, or still running")
    except (OSError, ValueError) as err:
        record.update(status="missing", error=f"metrics.json unreadable: {err}")
    record.pop("predictions", None)
    record.setdefault("status", "missing")
    return values, record


def _overrides(job_dir: Path) -> list[str]:
    overrides = yaml.load((job_dir / ".hydra" / "overrides.yaml").read_text(), Loader=_LOADER)
    return [str(o) for o in overrides or []]


def collect(sweep_dir: Path):
    """A DataFrame with one row per job, in job order: every job of the sweep's plan
    (`sweep_plan.json`) and every job folder (named by its job number); its `attrs["keys"]` lists
    the override keys."""
    import pandas as pd

    from experiments.sweeps import plan as sweep_plan
    from experiments.sweeps import refused as launch_refused

    folders = {p.parents[1] for p in Path(sweep_dir).glob("*/.hydra/overrides.yaml")}
    folders = {int(d.name): d for d in folders if d.name.isdigit()}
    planned, refused = sweep_plan.jobs(sweep_dir), launch_refused.jobs(sweep_dir)
    if not folders and not planned and not refused:
        raise FileNotFoundError(f"{sweep_dir} holds no job folders (<job>/.hydra/overrides.yaml)")
    numbers = sorted({*folders, *planned, *refused})
    read = [_read_job(n, folders.get(n), planned.get(n), refused.get(n)) for n in numbers]
    keys = list(dict.fromkeys(k for values, _ in read for k in values))
    table = pd.DataFrame([{k: v.get(k, "(unset)") for k in keys} | r for v, r in read])
    table.attrs["keys"] = [k for k in keys if k not in FIXED_COLUMNS]
    return table


def swept_keys(table) -> list[str]:
    """Override keys whose value differs between jobs: preferred axes first, seed last."""
    keys = [k for k in table.attrs.get("keys", []) if table[k].nunique(dropna=False) > 1]
    rank = {key: i for i, key in enumerate([*PREFERRED_AXES, None, *REPLICATES])}
    return sorted(keys, key=lambda k: rank.get(k, rank[None]))  # stable: others keep their order


def ordered_columns(table, axes: list[str], metric: str) -> list[str]:
    """job, swept keys, status, the metric, val/, train/, test/ (confusion last), other metrics,
    steps, seconds, anything else but the unswept keys, error, overrides."""
    keys = {*axes, *table.attrs.get("keys", [])}
    metrics = [c for c in table.columns if "/" in c and c not in keys and c != metric]

    def group(prefix: str) -> list[str]:
        chosen = [c for c in metrics if c.startswith(prefix) and c not in CONFUSION]
        return sorted(chosen, key=lambda c: (not c.endswith("/loss"), c))

    lead = ["job", *axes, "status", metric, *group("val/"), *group("train/"), *group("test/")]
    lead += [c for c in CONFUSION if c in metrics]
    lead = [c for c in lead + sorted(set(metrics) - set(lead)) if c in table.columns]
    rest = set(lead) | set(FIXED_COLUMNS) | keys
    tail = ["steps", "seconds", *(c for c in table.columns if c not in rest), "error", "overrides"]
    return lead + [c for c in tail if c in table.columns]


def by_config(table, axes: list[str], metric: str):
    """The per-configuration table of summary_by_config.csv (see the module docstring)."""
    import pandas as pd
    from scipy import stats

    keys = config_keys(axes)
    metrics = [c for c in ordered_columns(table, axes, metric) if "/" in c and c not in axes]
    metrics = [c for c in metrics if pd.api.types.is_numeric_dtype(table[c])]
    rows = []
    for config, jobs in table.groupby(keys, sort=False, dropna=False) if keys else [((), table)]:
        done = jobs[jobs["status"] == "completed"]
        row = dict(zip(keys, config, strict=True))
        row |= {"n": len(done), "jobs": " ".join(str(j) for j in jobs["job"])}
        for m in metrics:
            values = done[m].astype(float)
            mean, std, count = values.mean(), values.std(), values.count()
            half = stats.t.ppf(0.975, count - 1) * std / math.sqrt(count) if count > 1 else math.nan
            row |= {f"{m}_mean": mean, f"{m}_std": std}
            row |= {f"{m}_ci95_low": mean - half, f"{m}_ci95_high": mean + half}
        rows.append(row)
    return pd.DataFrame(sorted(rows, key=lambda row: [sort_key(row[k]) for k in keys]))


def _best(table, axes: list[str], configs, metric: str, mode: str):
    """(the best line, the best's swept values for the picture), or (None, None)."""
    tests = [c for c in table.columns if c.startswith("test/")]
    best = best_job(table, metric, mode) if configs is None else best_config(configs, metric, mode)
    if best is None:
        return None, None
    if configs is None:
        scores = ", ".join(f"{c} {show(best[c])}" for c in tests if is_number(best[c]))
        line = f"best job {best['job']} by {metric} = {best[metric]:.4g}: {best['overrides']}"
        return f"{line} ({scores})", {k: best[k] for k in ["job", *axes]}
    keys = config_keys(axes)
    name = " ".join(f"{k}={show(best[k], True)}" for k in keys) or only_replicates(axes)
    tests = [c for c in tests if f"{c}_mean" in best.index]  # numbers only
    stats = {c: plus_minus(best[f"{c}_mean"], best[f"{c}_std"]) for c in [metric, *tests]}
    scores = ", ".join(f"{c} {text}" for c, text in stats.items() if c != metric and text)
    seeds = replicates_word(axes, best["n"])
    line = f"best configuration by mean {metric} over {seeds}: {name} = {stats[metric]}"
    return f"{line}{'; ' * bool(scores)}{scores} (jobs {best['jobs']})", {k: best[k] for k in keys}


def _write(sweep_dir: Path, metric: str, mode: str):
    """Write the report's files at the sweep root; return (table, configs, best line). `mode`
    auto: the metric's own direction (`run.sweep_metric.sweep_mode`)."""
    from experiments.sweeps import curves as sweep_curves
    from experiments.sweeps import figures as sweep_figures
    from experiments.sweeps import markdown as sweep_markdown
    from experiments.sweeps.significance import significance_line

    mode = sweep_mode(metric, mode)
    table = collect(sweep_dir)
    axes = swept_keys(table)
    shared = [f"{k}={show(table[k].iloc[0], True)}" for k in table.attrs["keys"] if k not in axes]
    table = table[ordered_columns(table, axes, metric)]
    seeded = bool(set(REPLICATES) & set(axes)) and (table["status"] == "completed").any()
    configs = by_config(table, axes, metric) if seeded else None
    best, best_values = _best(table, axes, configs, metric, mode)
    tested = significance_line(table, axes, configs, metric, mode) if best and seeded else None
    best = f"{best}\n\n{tested}" if tested else best  # a paragraph of summary.md, a log line
    write_csv_atomic(sweep_dir / "summary.csv", table)
    (sweep_dir / "summary_by_config.csv").unlink(missing_ok=True)  # an earlier report's
    if configs is not None:
        write_csv_atomic(sweep_dir / "summary_by_config.csv", configs)
    markdown = sweep_markdown.markdown(
        table, axes, configs, best, shared, metric, mode, sweep_dir.name
    )
    write_bytes_atomic(sweep_dir / "summary.md", markdown.encode())
    sweep_figures.save(sweep_dir / "summary.png", table, axes, metric, mode, best_values)
    if seeded:  # replicates: their learning curves
        sweep_curves.write(sweep_dir, table, axes, metric, mode, best_values)
    return table, configs, best


def summarize(sweep_dir: Path, metric: str = "val/loss", mode: str = "auto"):
    """Write the report's files at the sweep root; return the table of jobs."""
    return _write(Path(sweep_dir), metric, mode)[0]


def report(sweep_dir: Path, metric: str = "val/loss", mode: str = "auto") -> int:
    """Write the summary, log the best job (or configuration) and each job that did not complete;
    return the sweep's exit status: 1 if any job failed, diverged, was interrupted or is missing."""
    table, configs, best = _write(Path(sweep_dir), metric, mode)
    log.info("sweep summary: %s", md := Path(sweep_dir) / "summary.md")
    if configs is not None:
        log.info("per configuration (replicates): %s", md.with_name("summary_by_config.csv"))
    if best:
        for line in best.split("\n\n"):  # the best, and whether it is really better
            log.info("%s", line)
    elif (table["status"] == "completed").any():
        log.warning("no completed job has %s: no best job", metric)
    unfinished = table[table["status"] != "completed"]
    for line in unfinished_lines(unfinished):
        log.error("%s", line)
    if len(unfinished):
        log.error("%d of %d jobs did not complete: see %s", len(unfinished), len(table), md)
        return 1
    return 0


class SweepSummary(Callback):
    """Hydra callback: the sweep's plan when it starts (`sweep_plan.json`); the report when it
    ends, exit status 1 if a job did not complete. A sweep that stops before its end (a job's
    Ctrl+C, a launcher's error) still gets its report, as the process exits."""

    def __init__(self, metric: str = "val/loss", mode: str = "auto") -> None:
        self.metric, self.mode = metric, mode
        self._unreported: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from experiments.sweeps import plan as sweep_plan

        sweep_plan.write(config)
        self._unreported = Path(str(config.hydra.sweep.dir))
        atexit.register(self._report_at_exit, os.getpid())

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._unreported = None
        if status := report(Path(config.hydra.sweep.dir), self.metric, self.mode):
            sys.exit(status)

    def _report_at_exit(self, pid: int) -> None:
        if self._unreported is None or os.getpid() != pid:  # reported, or a forked child
            return
        sweep_dir, self._unreported = self._unreported, None
        if not any(sweep_dir.glob("*/.hydra")):  # no job started (a key Hydra could not set)
            return
        log.error("the sweep stopped before its end: the report of what it holds")
        try:
            report(sweep_dir, self.metric, self.mode)
        except Exception as err:
            log.error("no sweep report: %s", err)
