"""What the sweep's own process says of its submitit jobs (`hydra_plugins.experiments_submitit`):
one console line per job as it ends, the line a local sweep prints (the jobs run elsewhere, so
their own `JobLines` prints into their submitit logs only); and sbatch's refusal of the jobs as
one line, the jobs recorded `failed` with it, the summary written, exit status 1."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.utils import JobReturn
from omegaconf import DictConfig

from experiments.hydra_job import end_line, sweep_job
from experiments.launcher import refusals
from experiments.output.console import job_line
from experiments.sweeps import refused as sweep_refused
from experiments.sweeps.report import summarize

log = logging.getLogger("experiments")


def say_ended(
    returned: JobReturn, job_dir: Path, sweep_dir: Path, num: int, overrides: Sequence[str]
) -> None:
    """Print job `num`'s line: from its own config when it returned one, else from what its
    folder records (a job lost by the cluster, recorded by the launcher)."""
    if returned.hydra_cfg is not None:
        print(end_line(returned.hydra_cfg.hydra, returned), flush=True)
    else:
        print(job_line(job_dir, sweep_job(sweep_dir, num, tuple(overrides))), flush=True)


def refuse(
    err: Exception,
    params: Mapping[str, Any],
    config: DictConfig,
    jobs: Mapping[int, Sequence[str]],
    sweep_dir: Path,
) -> NoReturn:
    """sbatch refused `jobs` (number -> overrides), submitit raised `err`: say it in one line,
    record the jobs failed with it, write the sweep's summary, exit 1."""
    cause = err.__cause__
    stderr = cause.stderr if isinstance(cause, subprocess.CalledProcessError) else None
    line = refusals.explain(stderr or str(err), params, refusals.cluster_facts())
    sweep_refused.write(sweep_dir, line, jobs)
    summary = config.hydra.callbacks.get("sweep_summary") or {}
    summarize(sweep_dir, summary.get("metric", "val/loss"), summary.get("mode", "auto"))
    jobs_word = f"{len(jobs)} job{'s' * (len(jobs) != 1)}"
    log.error("%s (%s recorded failed: %s)", line, jobs_word, sweep_dir / "summary.md")
    sys.exit(1)
