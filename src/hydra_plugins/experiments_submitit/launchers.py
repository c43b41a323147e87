"""`hydra/launcher=submitit_slurm` and `submitit_local` (`TakeOverSubmititNames` puts them under
those names): the submitit plugin's launchers, same keys, same submission, collecting EVERY job.

The plugin's own `launch` raises at the first job without a result, so one job that SLURM
cancelled, killed at its time limit or for memory, or lost with its node, ended the whole sweep:
no summary, the other jobs never collected. Here such a job is recorded instead
(`experiments.run.resume.record_lost_job`: `interrupted` at its last checkpoint, else `failed`, with
SLURM's state and where its log is), the sweeper gets NaN for it, as for any failed job, and the
sweep goes on to its summary (which exits non-zero). A job that did return, interrupted or failed,
has recorded itself (`experiments.cli`).

Two more differences, `experiments.launcher`'s: each job's console line is printed as it ends,
whichever ends first (the jobs run elsewhere: their own `JobLines` prints into their submitit
logs), and sbatch refusing the jobs is one line naming the key to fix, the jobs recorded `failed`
with it in the sweep's summary, exit status 1, not submitit's traceback.
"""

# No `from __future__ import annotations`: Hydra's plugin scan imports this module outside
# sys.modules, where dataclasses cannot resolve string annotations.
import contextlib
import io
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Sequence  # noqa: UP035

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra_plugins.hydra_submitit_launcher.config import (
    BaseQueueConf,
    LocalQueueConf,
    SlurmQueueConf,
)
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
from omegaconf import OmegaConf, open_dict

log = logging.getLogger(__name__)

HERE = "hydra_plugins.experiments_submitit.launchers"


class _CollectsEveryJob:
    """`launch` of the submitit plugin's launchers, collecting every job (see the module)."""

    _EXECUTOR: str

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> List[JobReturn]:  # noqa: UP006
        import submitit

        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        shared = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in shared else f"{self._EXECUTOR}_{k}": v for k, v in params.items()}
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        log.info("Submitit '%s' sweep output dir : %s", self._EXECUTOR, sweep_dir)
        overrides = [list(o) for o in job_overrides]
        numbers = list(range(initial_job_idx, initial_job_idx + len(overrides)))
        for number, job in zip(numbers, overrides, strict=True):
            log.info("\t#%d : %s", number, " ".join(filter_overrides(job)))
        state = Singleton.get_state()
        from submitit.core.utils import FailedJobError

        from experiments.launcher.sweep import refuse, say_ended
        from experiments.launcher.watch import each_as_it_ends

        try:  # submitit prints sbatch's stderr as it raises: `refuse` says it in one line instead
            with contextlib.redirect_stderr(io.StringIO()):
                jobs = executor.map_array(
                    self,
                    overrides,
                    ["hydra.sweep.dir"] * len(numbers),
                    numbers,
                    [f"job_id_for_{n}" for n in numbers],
                    [state] * len(numbers),
                )
        except FailedJobError as err:  # sbatch refused them: nothing was submitted
            jobs_asked = dict(zip(numbers, overrides, strict=True))
            refuse(err, self.params, self.config, jobs_asked, sweep_dir)
        returns: List[JobReturn] = [None] * len(jobs)  # noqa: UP006
        for i, never in each_as_it_ends(jobs, never_starts=self._never_starts(jobs)):
            if never is None:
                returns[i] = self._collect(jobs[i], overrides[i], numbers[i])
            else:
                returns[i] = self._never_started(jobs[i], never, overrides[i], numbers[i])
            job_dir = self._job_dir(overrides[i], numbers[i])
            say_ended(returns[i], job_dir, sweep_dir, numbers[i], overrides[i])
        return returns

    def _collect(self, job: Any, overrides: List[str], number: int) -> JobReturn:  # noqa: UP006
        """The job's JobReturn; for a job without one, or that raised outside our task
        function, a record of it in its folder and NaN."""
        try:
            returned = job.results()[0]
        except Exception:  # submitit's UncompletedJobError (no result) or FailedJobError
            reason = f"{self._EXECUTOR} job {job.job_id} ended {job.state} without a result"
        else:
            if returned.status != JobStatus.FAILED:
                return returned
            reason = f"{self._EXECUTOR} job {job.job_id} raised {returned._return_value!r}"
        log.error("job %d: %s (log: %s)", number, reason, job.paths.stderr)
        return self._lost(overrides, number, f"{reason}; see {job.paths.stderr}")

    def _never_starts(self, jobs: Sequence[Any]) -> Any:
        """For `each_as_it_ends`: which of the waiting jobs SLURM will never start (None for
        the local executor, whose jobs always start)."""
        if self._EXECUTOR != "slurm":
            return None
        from experiments.launcher.never_start import never_starting

        def never_starts(indices: List[int]) -> dict:  # noqa: UP006
            ids = {jobs[i].job_id: i for i in indices}
            return {ids[job_id]: why for job_id, why in never_starting(list(ids)).items()}

        return never_starts

    def _never_started(
        self,
        job: Any,
        reason: str,
        overrides: List[str],  # noqa: UP006
        number: int,
    ) -> JobReturn:
        """A job pending for a `reason` that never passes: cancelled, and recorded `failed`
        with one line naming the key to fix (its console line says it); the sweep goes on. No
        job folder of Hydra's exists, so the sweep's record of jobs that could not be started
        carries it to the report, as for jobs sbatch refused."""
        from experiments.launcher.never_start import explain
        from experiments.sweeps import refused

        line = explain(reason, number, self.params)
        job.cancel(check=False)
        refused.write(Path(str(self.config.hydra.sweep.dir)), line, {number: overrides})
        return self._lost(overrides, number, line, never_ran=True)

    def _lost(
        self,
        overrides: List[str],  # noqa: UP006
        number: int,
        reason: str,
        never_ran: bool = False,
    ) -> JobReturn:
        """A job without a result, recorded in its folder with `reason`; NaN to the sweeper."""
        from experiments.run.resume import record_lost_job

        record_lost_job(self._job_dir(overrides, number), reason, never_ran)
        lost = JobReturn(overrides=overrides, status=JobStatus.COMPLETED)
        lost.return_value = math.nan
        return lost

    def _job_dir(self, overrides: List[str], number: int) -> Path:  # noqa: UP006
        """The job's folder, as the job itself resolves it (`hydra.sweep.dir`/`subdir`)."""
        config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(config.hydra.job):
            config.hydra.job.num = number
        return Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)


class CollectingSlurmLauncher(_CollectsEveryJob, SlurmLauncher):
    pass


class CollectingLocalLauncher(_CollectsEveryJob, LocalLauncher):
    pass


@dataclass
class CollectingSlurmConf(SlurmQueueConf):
    _target_: str = f"{HERE}.CollectingSlurmLauncher"


@dataclass
class CollectingLocalConf(LocalQueueConf):
    _target_: str = f"{HERE}.CollectingLocalLauncher"


class TakeOverSubmititNames(SearchPathPlugin):
    """Puts these launchers' configs under the names users type, `hydra/launcher=submitit_slurm`
    and `submitit_local`, in place of the submitit plugin's own configs.

    That plugin registers its configs when Hydra's plugin scan imports it, and the scan's order
    depends on sys.path; Hydra calls every SearchPathPlugin once the scan is over and before any
    config is composed (in the job processes too, which take the sweep's ConfigStore), so this is
    the one place where the replacement always comes last. The search path itself is unchanged.
    """

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        store = ConfigStore.instance()
        for name, node in [
            ("submitit_slurm", CollectingSlurmConf),
            ("submitit_local", CollectingLocalConf),
        ]:
            store.store(group="hydra/launcher", name=name, node=node, provider="experiments")
