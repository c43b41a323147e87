"""The entry points run as subprocesses, from the repo root, the way a user types them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def the_one_error_line(done: subprocess.CompletedProcess) -> str:
    """The CLI failed as a user error: exit status 1, no traceback, one logged error line."""
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output[-2000:]
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, output[-2000:]
    return errors[0]


def multirun(*args: str, sweep_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python scripts/train.py -m ARGS`, writing the sweep into sweep_dir."""
    return run_script("train.py", "-m", *args, f"hydra.sweep.dir={sweep_dir}", timeout=timeout)


def start_script(script: str, *args: str) -> subprocess.Popen:
    """`python scripts/<script> ARGS` from the repo root, running on (output merged, text) in a
    process group of its own, so a test can signal it, or kill all of it with os.killpg."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until `path` exists, while `process` runs."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout} s"
        time.sleep(0.05)
