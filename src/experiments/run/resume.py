"""Stopped work goes on where it stopped, and whatever stopped it is recorded.

- **A folder's unfinished run continues** (`prepare_run`): a run started into an output folder
  holding `checkpoints/last.ckpt` of an unfinished run (metrics.json absent or `interrupted`)
  resumes from it exactly as with `ckpt_path`, provided that run had the same overrides (every
  checkpoint records them, `GracefulInterrupt.state_dict`). Other overrides: a single run stops
  with one line (run them again, or use another folder); a sweep job, whose folder a changed
  grid may reuse, starts over. Whatever it does, the previous run's metrics.json and weights.pth
  go first (and its best checkpoint when this run starts over), so a folder never pairs one run's
  results with another's overrides.
- **A sweep started again skips its completed jobs** (`completed_before`): a job whose folder
  held, when the sweep started, a completed run with the same overrides (`sweep_plan.json`, read
  into the `Job`) returns that run's metric and trains nothing.
- **SIGUSR2 in a submitit job requeues it** (`hand_over_to_submitit`): `GracefulInterrupt` took
  the signal over from submitit while training and checkpointed at the next step boundary; then
  submitit's own handler runs, outside any update: it requeues the job (the process exits; the
  requeued job continues from the checkpoint) or, out of `max_num_timeout`, says why not.
- **A job that could not report itself is recorded** (`record_lost_job`, by the launcher):
  `interrupted` at its last checkpoint when it has one, else `failed`, with SLURM's reason.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from experiments.atomic import write_json_atomic
from experiments.errors import ConfigError, RunInterrupted
from experiments.job import Job

log = logging.getLogger(__name__)

RUN_STATE_KEY = "run"  # where a checkpoint keeps the run's overrides: checkpoint["callbacks"][...]
UNFINISHED = (None, "interrupted")  # metrics.json statuses (None: no metrics.json) a run resumes
BEST_CHECKPOINTS = "checkpoints/best-*.ckpt"  # conf/callbacks/default.yaml: best_checkpoint


def recorded(folder: Path) -> dict[str, Any] | None:
    """The folder's metrics.json, or None when there is none (or none that reads)."""
    try:
        return json.loads((Path(folder) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None


def prepare_run(cfg: DictConfig, job: Job | None = None) -> DictConfig:
    """`cfg`, with `ckpt_path` set to the folder's unfinished run when this run continues it."""
    job = job or Job()
    folder = Path(cfg.output_dir)
    last = folder / "checkpoints" / "last.ckpt"
    resume = (
        cfg.train
        and not cfg.get("ckpt_path")
        and last.is_file()
        and (recorded(folder) or {}).get("status") in UNFINISHED
        and _is_own(last, folder, cfg, job)
    )
    for name in ("metrics.json", "weights.pth"):
        (folder / name).unlink(missing_ok=True)
    if not resume:
        _drop_earlier_best(folder, cfg)
        return cfg
    cfg = copy.deepcopy(cfg)
    cfg.ckpt_path = str(last)
    return cfg


def _drop_earlier_best(folder: Path, cfg: DictConfig) -> None:
    """A run that starts over in a folder: the earlier run's best checkpoints go (not the one
    `ckpt_path` names), so the folder holds one best, this run's, and never a `best-...-v1`."""
    if not cfg.train:
        return
    keep = Path(cfg.ckpt_path).resolve() if cfg.get("ckpt_path") else None
    for best in folder.glob(BEST_CHECKPOINTS):
        if best.resolve() != keep:
            best.unlink(missing_ok=True)


def _is_own(last: Path, folder: Path, cfg: DictConfig, job: Job) -> bool:
    """Whether the unfinished run whose checkpoint is `last` is this run's to continue."""
    from experiments.run.checkpoints import read_checkpoint

    try:
        checkpoint = read_checkpoint(last)
    except ConfigError as err:
        raise ConfigError(
            f"{folder} holds an unfinished run whose checkpoint cannot be read ({err}): "
            "delete that checkpoint to start over, or use another output folder"
        ) from None
    theirs = checkpoint.get("callbacks", {}).get(RUN_STATE_KEY, {}).get("overrides")
    mine = job.run_overrides
    if theirs is not None and mine is not None and sorted(theirs) != mine:
        if job.multirun:
            log.warning("%s held an unfinished run of other overrides: starting over", folder)
            return False
        raise ConfigError(
            f"{folder} holds an unfinished run of other overrides ({' '.join(theirs) or 'none'}): "
            f"run those to continue it, or use another hydra.run.dir (ckpt_path={last} starts "
            "from its checkpoint there)"
        )
    step, max_steps = checkpoint["global_step"], cfg.trainer.max_steps
    if step > max_steps:
        raise ConfigError(
            f"{folder} holds an unfinished run at step {step}, past trainer.max_steps="
            f"{max_steps}: use another output folder"
        )
    log.info("continuing the unfinished run in %s from step %d", folder, step)
    return True


def completed_before(cfg: DictConfig, job: Job) -> dict[str, Any] | None:
    """In a sweep: this job's metrics.json when its folder held a completed run of the same
    overrides as the sweep started (`Job.completed_before`, from the sweep's plan); else None."""
    before, record = job.completed_before, recorded(Path(cfg.output_dir))
    if before is None or sorted(before) != job.run_overrides or record is None:
        return None
    if record.get("status") != "completed":
        return None
    log.info("job %d completed before with these overrides: not run again", job.num)
    return record


def hand_over_to_submitit(err: RunInterrupted, output_dir: str | Path) -> None:
    """After SIGUSR2 became a checkpoint: run submitit's own SIGUSR2 handler, put back by
    `GracefulInterrupt`. It requeues the job and exits the process; when it may not (out of
    `max_num_timeout`, or the job cannot be checkpointed) its reason joins metrics.json's error."""
    if err.signal != "SIGUSR2" or "SUBMITIT_EXECUTOR" not in os.environ:
        return
    handler = signal.getsignal(signal.SIGUSR2)
    if not callable(handler):
        return
    try:
        handler(signal.SIGUSR2, None)
    except Exception as why:  # submitit's UncompletedJobError
        log.error("%s", why)
        if (record := recorded(Path(output_dir))) is not None:
            record["error"] = f"{record['error']}; {why}"
            write_json_atomic(Path(output_dir) / "metrics.json", record)


def record_lost_job(job_dir: Path, reason: str, never_ran: bool = False) -> None:
    """An ordinary job that ended without a result (SLURM cancelled or killed it, say): keep what
    the job recorded itself; else `interrupted` at its last checkpoint, or `failed`, with the
    reason. `never_ran`: this attempt never started, so what the folder records is an earlier
    attempt's and gives way (unless it completed). (A population's grid points:
    `sweeps.population.entry.record_lost`.)"""
    from experiments.run.results import write_metrics

    earlier = recorded(job_dir)
    if earlier is not None and (not never_ran or earlier.get("status") == "completed"):
        return
    last = job_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        from experiments.run.checkpoints import read_checkpoint

        try:
            step = read_checkpoint(last)["global_step"]
        except ConfigError as err:  # the job's own file, yet unreadable: a disk error, say
            write_metrics(job_dir, "failed", f"{reason}; {err}", 0, 0.0, {})
            return
        error = f"{reason}; checkpoint at step {step}: run the sweep again to continue it"
        write_metrics(job_dir, "interrupted", error, step, 0.0, {})
    else:
        write_metrics(job_dir, "failed", reason, 0, 0.0, {})
