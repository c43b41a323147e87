"""A real one-node SLURM cluster on this machine (`scripts/slurm_local.sh`), and a sweep through
`hydra/launcher=submitit_slurm` on it that gives what the same jobs give run locally.

The cluster needs root and Debian's packages (installed on first use, ~40 s); without them the
module is skipped with the script's own reason. It is stopped at the end only if this module
started it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from helpers import ROOT, multirun, read_metrics, run_cli

pytestmark = pytest.mark.slow

SCRIPT = ROOT / "scripts" / "slurm_local.sh"

# What a user adds to a sweep to send it to the local cluster (see `slurm_local.sh start`).
ON_SLURM = [
    "hydra/launcher=submitit_slurm",
    "hydra.launcher.partition=debug",
    "hydra.launcher.timeout_min=5",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
]


def slurm_local(command: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """`bash scripts/slurm_local.sh COMMAND`, its output captured."""
    return subprocess.run(
        ["bash", str(SCRIPT), command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[None]:
    """The local cluster, up: started here unless it already runs, then stopped only if so."""
    already_running = slurm_local("status").returncode == 0
    if not already_running:
        began = time.perf_counter()
        # A first start installs packages, and may wait up to 300 s for another apt's lock.
        started = slurm_local("start", timeout=900)
        if started.returncode != 0:
            reason = (started.stderr.strip().splitlines() or ["no message"])[-1]
            pytest.skip(f"no local SLURM cluster: {reason}")
        print(f"slurm_local.sh start: {time.perf_counter() - began:.1f} s")
    yield
    if not already_running:
        began = time.perf_counter()
        stopped = slurm_local("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        print(f"slurm_local.sh stop: {time.perf_counter() - began:.1f} s")


def test_sweep_on_slurm_matches_local_runs(slurm_cluster, tmp_path: Path) -> None:
    again = slurm_local("start")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout, "a second start leaves the cluster as it is"

    sweep_dir = tmp_path / "sweep"
    grid = ["experiment=xor", "model.lr=0.5,1.0", "trainer.max_steps=60"]
    began = time.perf_counter()
    done = multirun(*grid, *ON_SLURM, sweep_dir=sweep_dir, timeout=240)
    print(f"2-job sweep on SLURM: {time.perf_counter() - began:.1f} s")
    assert done.returncode == 0, done.stderr[-3000:]

    # It went through sbatch, and the jobs ran this interpreter (submitit takes sys.executable).
    (submission,) = sweep_dir.glob(".submitit/*/*_submission.sh")
    assert "#SBATCH --partition=debug" in submission.read_text()
    assert f"{sys.executable} -u -m submitit.core._submit" in submission.read_text()

    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert len(summary) == 2
    assert list(summary["status"]) == ["completed", "completed"]
    for _, row in summary.iterrows():
        on_slurm = read_metrics(sweep_dir / str(row["job"]))
        local_dir = tmp_path / f"local_lr{row['model.lr']}"
        overrides = ["experiment=xor", f"model.lr={row['model.lr']}", "trainer.max_steps=60"]
        local = run_cli(*overrides, run_dir=local_dir)
        assert local.returncode == 0, local.stderr[-3000:]
        expected = read_metrics(local_dir)
        assert on_slurm["steps"] == expected["steps"] == 60
        assert on_slurm["val/loss"] == pytest.approx(expected["val/loss"], abs=1e-6), row["job"]
        assert row["val/loss"] == pytest.approx(on_slurm["val/loss"], rel=1e-9)
