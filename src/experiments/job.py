"""`Job`: what a run needs to know of how it was launched, read from Hydra and the sweep's plan once
(`experiments.hydra_job.current_job`) and passed down, so nothing below the entry asks either.
Plain data: every layer may take one."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Job:
    """A single run (`multirun=False`) or one job of a sweep. The defaults describe a run that
    Hydra did not launch (a config composed in-process)."""

    multirun: bool = False
    num: int = 0  # the job's number in its sweep
    overrides: tuple[str, ...] | None = None  # as Hydra passed them; None outside a Hydra run
    varied: frozenset[str] = frozenset()  # the keys the sweep varies (all of a job's, if unknown)
    choices: dict[str, str] = field(default_factory=dict)  # config-group choices: model=scratch
    jobs_run_here: bool = True  # the basic launcher: jobs run in the sweep's own process
    total: int | None = None  # the sweep's planned jobs, when its plan lists them
    completed_before: tuple[str, ...] | None = None  # the overrides of a completed earlier run

    @property
    def run_overrides(self) -> list[str] | None:
        """The overrides, sorted, as checkpoints record them; None outside a Hydra run."""
        return None if self.overrides is None else sorted(self.overrides)

    @property
    def sweep(self) -> tuple[list[str], set[str]]:
        """(overrides, varied keys) of a sweep's job; ([], set()) for a single run."""
        return (list(self.overrides or ()), set(self.varied)) if self.multirun else ([], set())
