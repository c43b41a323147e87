"""What a sweep means to run, written at its start as `<sweep>/sweep_plan.json` (by
`SweepSummary.on_multirun_start`), so that its report lists every job, those that never started
too, and a sweep started again into its folder knows which jobs it had completed.

    {"sweeper": "BasicSweeper",
     "jobs": [{"job": 0, "overrides": ["experiment=xor", "model.lr=0.5"]}, ...],
     "completed_before": {"0": ["experiment=xor", "model.lr=0.5"]}}

- `jobs`: for the basic and vectorized sweepers, the grid in the basic sweeper's order (the
  vectorized sweeper numbers its grid points the same way); for Optuna, `n_trials` jobs whose
  overrides are known only once sampled (null); for any other sweeper, null (the report then lists
  the job folders it finds).
- `completed_before`: each job folder that held a completed run when this start found it, with that
  run's overrides, read now because a job's `.hydra/overrides.yaml` is rewritten as it starts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig

from experiments.atomic import write_json_atomic

log = logging.getLogger(__name__)

PLAN_FILE = "sweep_plan.json"
GRID_SWEEPERS = ("BasicSweeper", "VectorizedSweeper")


def grid(arguments: list[str]) -> list[list[str]]:
    """Every job's overrides, in the basic sweeper's order."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(arguments)
    return BasicSweeper.split_arguments(parsed, None)[0]


def sweep_arguments(config: DictConfig) -> list[str]:
    """What a grid sweeper sweeps: `hydra.sweeper.params`, then the command line's overrides."""
    params = config.hydra.sweeper.get("params") or {}
    return [f"{k}={v}" for k, v in params.items()] + [str(o) for o in config.hydra.overrides.task]


def planned_jobs(config: DictConfig) -> list[dict[str, Any]] | None:
    sweeper = str(config.hydra.sweeper.get("_target_", "")).rsplit(".", 1)[-1]
    if sweeper in GRID_SWEEPERS:
        return [{"job": i, "overrides": o} for i, o in enumerate(grid(sweep_arguments(config)))]
    if sweeper == "OptunaSweeper":
        return [{"job": i, "overrides": None} for i in range(int(config.hydra.sweeper.n_trials))]
    return None


def write(config: DictConfig) -> None:
    """`sweep_plan.json` for the sweep `config` starts."""
    sweep_dir = Path(str(config.hydra.sweep.dir))
    try:
        jobs = planned_jobs(config)
    except Exception as err:  # a sweep syntax only the sweeper itself resolves (glob, say)
        log.warning("no job list in %s (%s): the report lists the job folders", PLAN_FILE, err)
        jobs = None
    sweeper = str(config.hydra.sweeper.get("_target_", "")).rsplit(".", 1)[-1]
    payload = {"sweeper": sweeper, "jobs": jobs, "completed_before": _completed(sweep_dir)}
    write_json_atomic(sweep_dir / PLAN_FILE, payload)


def read(sweep_dir: Path) -> dict[str, Any]:
    """The sweep's plan; empty when it has none (a sweep from before plans, another sweeper)."""
    try:
        return json.loads((Path(sweep_dir) / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return {}


def jobs(sweep_dir: Path) -> dict[int, list[str] | None]:
    """Planned job number -> its overrides (None when not known in advance)."""
    return {j["job"]: j["overrides"] for j in read(sweep_dir).get("jobs") or []}


def completed_before(sweep_dir: Path, job: int) -> list[str] | None:
    """The overrides of the completed run job `job`'s folder held as the sweep started."""
    return read(sweep_dir).get("completed_before", {}).get(str(job))


def _completed(sweep_dir: Path) -> dict[str, list[str]]:
    done = {}
    for metrics in Path(sweep_dir).glob("*/metrics.json"):
        job_dir = metrics.parent
        try:
            completed = json.loads(metrics.read_text()).get("status") == "completed"
            overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if completed and job_dir.name.isdigit():
            done[job_dir.name] = [str(o) for o in overrides or []]
    return done
