"""The vectorized sweeper: Hydra's basic grid, with the keys a population can batch (learning rate,
iterations, seed) trained together in one job per combination of the other keys.

Job numbers, folders and overrides are those the basic sweeper would give, so the two sweeps of the
same grid produce the same summary. Started again into its sweep folder, it skips the grid points
completed before with the same overrides (`_completed_before`). Each population is one job of the
configured launcher, which runs the population's own job function in place of the script's
(`experiments.sweeps.population.entry.run_population`), given its `<sweep>/population_<k>.json`.
"""

# No `from __future__ import annotations`: Hydra's plugin scan imports this module outside
# sys.modules, where dataclasses cannot resolve string annotations.
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple  # noqa: UP035 (OmegaConf structured config)

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)

BATCHED = {"model.lr": "lr", "trainer.max_steps": "steps", "seed": "seed"}


@dataclass
class VectorizedSweeperConf:
    _target_: str = (
        "hydra_plugins.experiments_vectorized_sweeper.vectorized_sweeper.VectorizedSweeper"
    )
    params: Dict[str, str] = field(default_factory=dict)  # noqa: UP006


ConfigStore.instance().store(
    group="hydra/sweeper", name="vectorized", node=VectorizedSweeperConf, provider="experiments"
)


def _key_value(override: str) -> Tuple[str, str]:  # noqa: UP006
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


class VectorizedSweeper(Sweeper):
    def __init__(self, params: Optional[Dict[str, str]] = None) -> None:  # noqa: UP006, UP045
        self.params = params or {}

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from experiments.cli import run_population_job

        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=run_population_job, config=config
        )

    def grid(self, arguments: List[str]) -> List[List[str]]:  # noqa: UP006
        """Every job's overrides, in the basic sweeper's order (`experiments.sweeps.plan.grid`)."""
        from experiments.sweeps.plan import grid

        return grid([f"{k}={v}" for k, v in self.params.items()] + list(arguments))

    def sweep(self, arguments: List[str]) -> Any:  # noqa: UP006
        from experiments.output.hparams import run_name, varied_keys
        from experiments.sweeps.population.entry import plan_override, record_lost

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        defaults = {
            "lr": self.config.model.lr,
            "steps": self.config.trainer.max_steps,
            "seed": self.config.seed,
        }
        groups: Dict[Tuple[str, ...], List[Dict[str, Any]]] = {}  # noqa: UP006
        done = _completed_before(sweep_dir)
        jobs = self.grid(arguments)
        varied = varied_keys(dict(enumerate(jobs)))  # run names lead with them, as in hparams
        for number, overrides in enumerate(jobs):
            if sorted(done.get(str(number)) or []) == sorted(overrides):
                continue
            values = dict(defaults)
            outer = []
            for override in overrides:
                key, value = _key_value(override)
                if key in BATCHED:
                    values[BATCHED[key]] = value  # cast below, as float or int
                else:
                    outer.append(override)
            job = {
                "job": number,
                "overrides": overrides,
                "run_name": run_name(overrides, varied),
                "lr": float(values["lr"]),
                "steps": int(values["steps"]),
                "seed": int(values["seed"]),
            }
            groups.setdefault(tuple(outer), []).append(job)

        batch, plans = [], []
        for k, (outer, jobs) in enumerate(groups.items()):
            plan, folder = sweep_dir / f"population_{k}.json", sweep_dir / f"population_{k}"
            plan.write_text(json.dumps({"sweep_dir": str(sweep_dir), "jobs": jobs}, indent=1))
            (folder / "metrics.json").unlink(missing_ok=True)  # a lost job's, from an earlier start
            plans.append((plan, folder))
            batch.append([*outer, plan_override(plan), f"hydra.sweep.subdir={folder.name}"])
            log.info(
                "population %d: %d grid points as %d members (%s)",
                k,
                len(jobs),
                len({(j["lr"], j["seed"]) for j in jobs}),
                " ".join(outer) or "defaults",
            )
        if not batch:
            log.info("every grid point completed before: nothing to train")
            return []
        returns = self.launcher.launch(batch, initial_job_idx=0)
        for r in returns:
            _ = r.return_value  # a population that raised stops here, as the basic sweeper does
        for plan, folder in plans:
            record_lost(plan, folder)  # a population whose job was lost (SLURM, say)
        return [returns]


def _completed_before(sweep_dir: Path) -> Dict[str, List[str]]:  # noqa: UP006
    """Job number -> overrides of the grid points a sweep started again into its folder
    completed before (see experiments.sweeps.plan); those with the same overrides are skipped:
    members are independent, so the population trains the others alone. A population stopped
    by a signal continues from its checkpoint (`experiments.sweeps.population.interrupt`); a
    grid point left unfinished otherwise (a lost job) trains anew."""
    from experiments.sweeps.plan import read

    return read(sweep_dir).get("completed_before", {})
