"""A population's grid points written as ordinary job folders (`write_jobs`): `.hydra/`,
`metrics.json`, `weights.pth` and a TensorBoard run each, through the same `finish_run` as an
ordinary run's; with thousands of grid points spread over the machine's cores by forked writers,
with a progress line as they go. Each writer also hands the report its grid points' curves
(`sweeps.curves.save_population`), so they are not read back from the event files."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from pathlib import Path

from experiments.atomic import one_sync_at_the_end, write_bytes_atomic
from experiments.output.event_file import EventFileRun
from experiments.run.results import finish_run, write_metrics
from experiments.sweeps.curves import save_population
from experiments.sweeps.population.jobs import JobRecord, JobRecords, job_folder

log = logging.getLogger(__name__)


def write_job(sweep_dir: Path, record: JobRecord) -> None:
    """One grid point's folder, as an ordinary job of the same overrides writes it."""
    job_dir = job_folder(sweep_dir, record.job)
    config = record.config.render(**record.values).encode()
    write_bytes_atomic(job_dir / ".hydra" / "config.yaml", config)
    result = dict(
        status=record.status,
        error=record.error,
        steps=record.steps,
        seconds=record.seconds,
        metrics=record.metrics,
        resumed_from_step=record.resumed_from_step,
        **record.notes,
    )
    if record.status != "completed":
        write_metrics(job_dir, **result)
        return
    run = EventFileRun(
        job_dir / "tensorboard" / record.job["run_name"], record.varied, record.job["job"]
    )
    scalars: dict[int, dict[str, float]] = {}  # step -> everything logged at it, one event each
    for step, loss in record.train_loss:
        scalars.setdefault(step, {})["train/loss"] = loss
    for step, values in record.validation:
        scalars.setdefault(step, {}).update(values)
    for step in sorted(scalars):
        run.log_metrics(scalars[step], step)
    finish_run(job_dir, result, record.weights, run, record.hparams)


_PENDING: JobRecords | None = None  # what forked writers inherit


def _write_slice(args: tuple[str, int, int]) -> int:
    """The folders of every `step`-th member from `start`; the first writer logs its progress."""
    sweep_dir, start, step = args
    records = _PENDING
    mine = range(start, len(records.members), step)
    every = max(1, len(mine) // 10)
    jobs = sum(len(member.jobs) for member in records.members)
    written, curves = 0, []
    with one_sync_at_the_end():
        for i, m in enumerate(mine, 1):
            for record in records.of_member(m):
                write_job(Path(sweep_dir), record)
                written += 1
                curves.append((record.job["job"], population_curves(record)))
            if start == 0 and i % every == 0 and i < len(mine):
                log.info("job folders: about %d of %d written", written * step, jobs)
        first = records.members[start].jobs[0]["job"] if mine else start
        save_population(Path(sweep_dir), f"{first}-{start}", curves)  # the report's curves
    return written


def population_curves(record: JobRecord) -> dict[str, list[tuple[int, float]]]:
    """A grid point's logged `train/loss` and `val/loss`, as the report's curves take them."""
    val = [(step, values["val/loss"]) for step, values in record.validation if "val/loss" in values]
    return {"train/loss": record.train_loss, "val/loss": val}


def _usual_signals() -> None:
    """A writer stops on SIGINT/SIGTERM as any process does: it inherits the run's own handlers
    (checkpoint at the next step, or the start-up line), which would leave it running."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def write_jobs(
    cfg, plan, members, recorder, diverged_at, choices, resumed_from=None, notes=None
) -> None:
    """Every grid point's folder; on several cores when there are many. `resumed_from`: the
    step the population resumed from (`sweeps.population.interrupt`), if it did; `notes`: what
    the shared data says in each metrics.json (`record_notes`: `single_class_splits`)."""
    global _PENDING
    started = time.perf_counter()
    _PENDING = JobRecords.prepare(cfg, plan, members, recorder, diverged_at, choices)
    _PENDING.resumed_from = resumed_from
    _PENDING.notes = dict(notes or {})
    sweep_dir = plan["sweep_dir"]
    jobs = sum(len(member.jobs) for member in members)
    workers = min(os.cpu_count() or 1, max(1, jobs // 64), len(members))
    if workers == 1:
        _write_slice((sweep_dir, 0, 1))
    else:  # fork: the writers inherit the numbers instead of receiving them pickled
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_usual_signals)
        try:
            pool.map(_write_slice, [(sweep_dir, i, workers) for i in range(workers)])
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    _PENDING = None
    log.info(
        "wrote %d job folders in %.1f s (%d process%s)",
        jobs,
        time.perf_counter() - started,
        workers,
        "es" if workers > 1 else "",
    )
