"""What Hydra says about a job, read in this one module: the `Job` passed down to the run
(`current_job`), and a sweep's console (`JobLines`, a Hydra callback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from experiments.job import Job
from experiments.output.console import job_line, quiet_console
from experiments.output.hparams import varied_keys
from experiments.run.entry import sweep_ends, sweep_starts
from experiments.sweeps import plan as sweep_plan


def _jobs_run_here(hydra: DictConfig) -> bool:
    """Jobs of the basic launcher run one after another in the sweep's own process."""
    return str(hydra.launcher.get("_target_", "")).endswith(".BasicLauncher")


def _multirun(hydra: DictConfig) -> bool:
    """`hydra.mode`: the enum in a live job, its name in a job's saved `.hydra/hydra.yaml`."""
    return str(hydra.mode).rpartition(".")[2] == RunMode.MULTIRUN.name


def job_of(hydra: DictConfig) -> Job:
    """The job a `hydra` config node describes; in a sweep, with what its plan says of it."""
    overrides = tuple(str(o) for o in hydra.overrides.task)
    choices = {k: str(v) for k, v in hydra.runtime.choices.items() if v is not None}
    if not _multirun(hydra):
        return Job(overrides=overrides, choices=choices)
    return sweep_job(
        Path(hydra.sweep.dir), int(hydra.job.num), overrides, choices, _jobs_run_here(hydra)
    )


def sweep_job(
    sweep_dir: Path,
    num: int,
    overrides: tuple[str, ...],
    choices: dict[str, str] | None = None,
    jobs_run_here: bool = False,
) -> Job:
    """Job `num` of the sweep in `sweep_dir`, with what its plan says of it."""
    planned = sweep_plan.jobs(sweep_dir)
    before = sweep_plan.completed_before(sweep_dir, num)
    return Job(
        multirun=True,
        num=num,
        overrides=overrides,
        varied=frozenset(varied_keys(planned) or {o.partition("=")[0] for o in overrides}),
        choices=choices or {},
        jobs_run_here=jobs_run_here,
        total=len(planned) or None,
        completed_before=None if before is None else tuple(before),
    )


def current_job() -> Job:
    """This process's Hydra job; a `Job()` when Hydra did not launch it."""
    return job_of(HydraConfig.get()) if HydraConfig.initialized() else Job()


class JobLines(Callback):
    """Hydra callback: in a sweep, a job's log goes to its `train.log` (the console keeps its
    warnings and errors); when it ends, one line:
    `[3/12] model.lr=0.1 trainer.max_steps=1000  completed  val/loss 0.182  2.1 s`."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_starts(_jobs_run_here(config.hydra))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_ends()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _multirun(config.hydra):
            quiet_console(True)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        quiet_console(False)
        if _multirun(config.hydra):
            print(end_line(config.hydra, job_return), flush=True)


def end_line(hydra: DictConfig, job_return: JobReturn) -> str:
    """A sweep's job's console line, once it has ended (`JobLines`; the launchers that watch
    jobs run elsewhere, `experiments.launcher`)."""
    said = job_return.return_value if job_return.status == JobStatus.COMPLETED else None
    if isinstance(said, str):  # a job that says its own line (a vectorized population's)
        return said
    return job_line(Path(hydra.runtime.output_dir), job_of(hydra))
