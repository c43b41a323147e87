"""Jobs a launcher could not start (sbatch refused them, or SLURM never would and they were
cancelled: `launcher.never_start`), recorded at the sweep root as `<sweep>/launch_refused.json`,
so that the sweep's report lists each as `failed` with the reason though Hydra wrote no job
folder (no job ran):

    {"jobs": {"0": {"error": "hydra.launcher.partition=nope: sbatch refused the jobs: ...",
                    "overrides": ["experiment=xor", "model.lr=0.5"]}, ...}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from experiments.atomic import write_json_atomic

REFUSED_FILE = "launch_refused.json"


def write(sweep_dir: Path, error: str, jobs: Mapping[int, Sequence[str]]) -> None:
    """Add `jobs` (job number -> overrides), refused for `error`, to the sweep's record."""
    path = Path(sweep_dir) / REFUSED_FILE
    record = {str(n): {"error": error, "overrides": list(o)} for n, o in jobs.items()}
    write_json_atomic(path, {"jobs": {**_read(path), **record}})


def _read(path: Path) -> dict[str, dict]:
    try:
        return json.loads(path.read_text())["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def jobs(sweep_dir: Path) -> dict[int, dict]:
    """Refused job number -> {"error": reason, "overrides": [...]}; empty when none was."""
    return {int(n): job for n, job in _read(Path(sweep_dir) / REFUSED_FILE).items()}
