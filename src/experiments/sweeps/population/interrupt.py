"""A population stopped by SIGINT or SIGTERM, and continued by the same command.

While a population trains, the signals only set a flag (`stop_flag.PopulationInterrupt`); at the
next step boundary (the end of a Lightning batch, never inside an update) the whole population is
checkpointed, with what its grid points have recorded so far, to
`<sweep>/population_<k>/checkpoints/last.ckpt`, and training stops. Every grid point of the
population is then `interrupted` (`record_interrupted`), the population's console says so in one
line (counts, not a line per grid point), and the sweep stops with its report and exit status 1,
as a sweep whose ordinary job was stopped by a signal does.

Run the same command again: the sweeper plans the same grid points (none completed), and the
population whose plan is the checkpoint's resumes from it (`stop_flag.resume_from`) exactly:
weights, optimizer state, the members' data streams at that step, their recorded curves and
metrics. Its grid points then end as if never stopped, with `resumed_from_step` set. A checkpoint
of another plan (the grid changed) is dropped with a warning and the population starts over.

No torch or Lightning here: the sweeper imports this module (through `entry`) to launch its jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.atomic import one_sync_at_the_end
from experiments.errors import RunInterrupted
from experiments.run.results import write_metrics
from experiments.sweeps.population.jobs import job_folder

CHECKPOINT = "checkpoints/last.ckpt"  # under the population's folder, as an ordinary run's


def plan_identity(plan: dict[str, Any]) -> list[list]:
    """What makes two populations the same: every grid point's number, overrides and batched
    values, in order."""
    return [
        [job["job"], sorted(job["overrides"]), job["lr"], job["seed"], job["steps"]]
        for job in plan["jobs"]
    ]


class PopulationInterrupted(RunInterrupted):
    """A signal stopped a population; `step` and `checkpoint` say where it can continue."""

    def __init__(self, name: str, step: int, max_steps: int, checkpoint: Path) -> None:
        self.step, self.max_steps, self.checkpoint = step, max_steps, checkpoint
        super().__init__(
            f"{name} at step {step} of {max_steps}: the population was checkpointed there "
            f"({checkpoint}); run the same command again to continue",
            signal=name,
        )


def record_interrupted(plan: dict[str, Any], err: PopulationInterrupted) -> None:
    """Every grid point of the population `interrupted` at the step the population reached."""
    sweep_dir = Path(plan["sweep_dir"])
    with one_sync_at_the_end():
        for job in plan["jobs"]:
            steps = min(err.step, job["steps"])
            write_metrics(job_folder(sweep_dir, job), "interrupted", str(err), steps, 0.0, {})


def interrupted_line(plan: dict[str, Any], err: PopulationInterrupted) -> str:
    """`SIGTERM: interrupted at step 310 of 1000: 4000 grid points interrupted; ...`."""
    return (
        f"{err.signal}: interrupted at step {err.step} of {err.max_steps}: "
        f"{len(plan['jobs'])} grid points interrupted, checkpoint {err.checkpoint}; "
        "run the same command again to continue"
    )
