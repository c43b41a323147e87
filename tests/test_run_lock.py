"""One live run per output folder (`experiments.run.run_lock`): a second run into a folder a live
run is writing stops with one line and writes nothing; a lock left by a dead process is
taken over."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, run_cli

from experiments.run.run_lock import LOCK_FILE, RunLock, RunLocked, held

# A process that takes the lock of argv[1], says so, and waits to be killed.
HOLDER = """
import sys, time
from experiments.run.run_lock import hold
hold(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""


def start_holder(folder: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_live_owner_keeps_the_folder_and_a_dead_one_is_taken_over(tmp_path, caplog) -> None:
    folder = tmp_path / "run"
    holder = start_holder(folder)
    try:
        owner = json.loads((folder / LOCK_FILE).read_text())
        assert owner["pid"] == holder.pid
        with pytest.raises(RunLocked, match=f"pid {holder.pid} on {owner['host']}"):
            RunLock(folder).acquire()
    finally:
        holder.kill()
        holder.wait()

    assert (folder / LOCK_FILE).exists(), "kill -9 leaves the file; the kernel drops the lock"
    caplog.set_level(logging.WARNING, logger="experiments.run.run_lock")
    with held(folder):
        assert json.loads((folder / LOCK_FILE).read_text())["pid"] == os.getpid()
        assert f"from pid {holder.pid}" in caplog.text and "no longer running" in caplog.text
        with held(folder):  # this process holds it already: re-entrant
            pass
        assert (folder / LOCK_FILE).exists()
    assert not (folder / LOCK_FILE).exists(), "an orderly release removes the file"


@pytest.mark.slow
def test_a_second_run_into_a_live_runs_folder_stops_in_one_line(tmp_path) -> None:
    run_dir = tmp_path / "run"
    # No checkpoints or TensorBoard: nothing of the first run's changes while the second tries.
    long_run = ["experiment=heart_lesson", "trainer.max_steps=1000000", "callbacks=none", "~logger"]
    first = subprocess.Popen(
        [sys.executable, "scripts/train.py", *long_run, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / ".hydra" / "overrides.yaml").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first run started"
            time.sleep(0.2)
        # train.log is the live run's own log, which it goes on writing: compared by content
        before = {
            p: p.stat().st_mtime_ns
            for p in run_dir.rglob("*")
            if p.is_file() and p.name != "train.log"
        }

        second = run_cli("experiment=xor", run_dir=run_dir)
        assert second.returncode == 1
        lines = (second.stdout + second.stderr).strip().splitlines()
        assert len(lines) == 1, lines
        assert f"{run_dir} is being written by another run (pid {first.pid} on" in lines[0]
        after = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
        assert {p: after[p] for p in before} == before, "the live run's files are untouched"
        assert "experiment=xor" not in (run_dir / "train.log").read_text()
        assert not (run_dir / "metrics.json").exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
