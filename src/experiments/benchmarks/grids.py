"""Sweeps timed as a user runs them: the whole command, and the vectorized population's own
phases (build, train, write) read from its log (`<sweep>/population_<k>/train.log`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

PHASES = {
    "build": r"built \d+ members .* in ([\d.]+) s",
    "train": r"trained \d+ members .* in ([\d.]+) s",
    "write": r"wrote \d+ job folders in ([\d.]+) s",
}


def learning_rates(n: int) -> str:
    """`n` learning rates, log-spaced from 0.01 to 10, as one override value."""
    return ",".join(f"{0.01 * 1000 ** (i / max(1, n - 1)):.4g}" for i in range(n))


def timed_command(root: Path, args: list[str]) -> tuple[float, str]:
    """Seconds the command took, and what it printed."""
    started = time.perf_counter()
    done = subprocess.run(args, cwd=root, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout + done.stderr


def timed_train(root: Path, python: str, folder: Path, *args: str) -> tuple[float, str]:
    """`scripts/train.py *args` into a cleared `folder` (a run or sweep started again into its
    folder resumes or skips what it did), timed as `timed_command`."""
    shutil.rmtree(folder, ignore_errors=True)
    return timed_command(root, [python, "scripts/train.py", *args])


def vectorized_grid(
    root: Path, python: str, sweep_dir: Path, lrs: int, seeds: int, steps: str
) -> dict[str, float]:
    """XOR, `lrs` learning rates x `seeds` seeds x the iteration counts `steps`, as one
    vectorized sweep: its wall time and each phase's."""
    seconds, output = timed_train(
        root,
        python,
        sweep_dir,
        "-m",
        "experiment=xor",
        f"model.lr={learning_rates(lrs)}",
        f"seed=range({seeds})",
        f"trainer.max_steps={steps}",
        "hydra/sweeper=vectorized",
        f"hydra.sweep.dir={sweep_dir}",
    )
    logs = output + "".join(p.read_text() for p in sweep_dir.glob("population_*/*.log"))
    figures = {"whole sweep, s": seconds}
    for phase, pattern in PHASES.items():
        found = re.search(pattern, logs)
        figures[f"{phase}, s"] = float(found.group(1)) if found else float("nan")
    return figures


def ordinary_run(root: Path, python: str, run_dir: Path, steps: int) -> float:
    """Wall seconds of one ordinary XOR run of `steps` steps, launched as a user does."""
    args = ("experiment=xor", f"trainer.max_steps={steps}", f"hydra.run.dir={run_dir}")
    return timed_train(root, python, run_dir, *args)[0]
