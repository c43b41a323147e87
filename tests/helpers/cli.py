"""The entry points run as subprocesses, from the repo root, the way a user types them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.paths import ROOT


def run_script(
    script: str, *args: str, cwd: Path = ROOT, timeout: int = 120
) -> subprocess.CompletedProcess:
    """`python scripts/<script> ARGS` from `cwd`: output captured, no HYDRA_FULL_ERROR."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli(
    *args: str, run_dir: Path, script: str = "train.py", timeout: int = 120
) -> subprocess.CompletedProcess:
    """One run of `scripts/<script>`, writing into run_dir."""
    return run_script(script, *args, f"hydra.run.dir={run_dir}", timeout=timeout)


def multirun(*args: str, sweep_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python scripts/train.py -m ARGS`, writing the sweep into sweep_dir."""
    return run_script("train.py", "-m", *args, f"hydra.sweep.dir={sweep_dir}", timeout=timeout)
