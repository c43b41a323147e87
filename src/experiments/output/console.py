"""What a run prints: each message once, no advertisements, a short block at the start and the
run folder with the headline metrics at the end; in a sweep, one line per job as it ends (each
job's full log stays in its `train.log`)."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from experiments.job import Job

log = logging.getLogger("experiments")

# Shown at the end of a run and on a sweep's job lines, in this order, where the run has them.
HEADLINE = ("val/loss", "val/acc", "test/loss", "test/acc", "test/rmse", "test/mae")


class _DropAdverts(logging.Filter):
    """Lightning's tips to install litlogger or litmodels: nothing the user asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "litlogger" not in message and "litmodels" not in message


def quiet_lightning() -> None:
    """Call once `lightning` is imported. Its package adds a console handler of its own beside
    Hydra's root handler (every message twice): drop it, so its messages reach the console and
    `train.log` once, through Hydra's. Drop the litlogger tip and the SLURM `srun` hint."""
    for handler in list(logging.getLogger("lightning").handlers):
        if type(handler) is logging.StreamHandler:
            logging.getLogger("lightning").removeHandler(handler)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        if not any(isinstance(f, _DropAdverts) for f in logging.getLogger(name).filters):
            logging.getLogger(name).addFilter(_DropAdverts())
    warnings.filterwarnings("ignore", message=r"The `srun` command is available")


def silence_known_warnings() -> None:
    """Nothing a user can act on: Lightning 2.6's own use of a deprecated torch API, and its
    advice to checkpoint manual-optimization modules before the step (ours save after it, on
    purpose: the checkpoint of step N holds N updates, which is what resume needs). Nor its notes
    on a resumed or repeated run: the checkpoint folder is not empty (`resume` keeps it to one
    run's files), the last checkpoint's interval changed with `trainer.max_steps`, the best is
    tracked afresh in a new folder."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message="Be aware that when using `ckpt_path`")
    warnings.filterwarnings("ignore", message="The dirpath has changed from")


def number(value: Any) -> str:
    """27 as `27` (confusion counts), 0.18234 as `0.1823`."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def headline(record: dict[str, Any]) -> str:
    return "  ".join(f"{k} {number(record[k])}" for k in HEADLINE if k in record)


def announce_start(cfg: DictConfig, job: Job) -> None:
    """A single run's experiment, model, data, command-line overrides and folder (a sweep's job
    says this on its one line)."""
    if job.multirun:
        return
    choices = job.choices
    picked = ", ".join(f"{k}={choices[k]}" for k in ("experiment", "model", "data") if k in choices)
    log.info("run: %s", picked or "no config groups")
    log.info("overrides: %s", " ".join(job.overrides or ()) or "none")
    log.info("run folder: %s", cfg.output_dir)


def announce_end(output_dir: str | Path) -> None:
    record = _read_metrics(Path(output_dir))
    log.info("run folder: %s  %s", output_dir, headline(record))


def _read_metrics(job_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((job_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}


def _console_handlers() -> list[logging.Handler]:
    return [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]


class _SweepConsole(logging.Filter):
    """A sweep job's console: warnings, errors and the resume decisions; the rest is in
    `train.log`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name == "experiments.run.resume"


_SWEEP_CONSOLE = _SweepConsole()


def quiet_console(quiet: bool) -> None:
    """A sweep job's log goes to its `train.log`; the console keeps its warnings and errors."""
    for handler in _console_handlers():
        (handler.addFilter if quiet else handler.removeFilter)(_SWEEP_CONSOLE)


def job_line(job_dir: Path, job: Job) -> str:
    """`[3/12] model.lr=0.1 trainer.max_steps=1000  completed  val/loss 0.182  2.1 s`."""
    overrides = job.overrides or ()
    shown = " ".join(o for o in overrides if o.split("=", 1)[0] in job.varied)
    record = _read_metrics(job_dir)
    status = record.get("status", "missing")
    seconds = f"{record['seconds']:.1f} s" if "seconds" in record else ""
    parts = [f"[{job.num + 1}/{job.total or '?'}] {shown}", status, headline(record), seconds]
    if status in ("failed", "diverged") and record.get("error"):
        parts.append(str(record["error"]).splitlines()[0][:160])
    return "  ".join(p for p in parts if p)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
