"""Interrupted runs lose nothing: SIGINT/SIGTERM checkpoint at that step, kill -9 leaves the last
periodic checkpoint whole, and resuming reproduces the uninterrupted run exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import CHECKPOINTS_ONLY, ROOT, assert_same_weights, read_metrics

from experiments.atomic import write_atomic
from experiments.checkpoints import read_checkpoint
from experiments.training import train

# One random row per step (the data stream matters on resume), a checkpoint every 100 steps, and
# far more steps than the test waits for.
LONG_RUN = [
    "experiment=heart_lesson",
    "trainer.max_steps=1000000",
    "trainer.val_check_interval=100",
    "~callbacks.figures",
    "~callbacks.histograms",
]


def start_long_run(run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "scripts/train.py", *LONG_RUN, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_checkpoint(process: subprocess.Popen, path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "no periodic checkpoint appeared"
        time.sleep(0.2)
    time.sleep(0.5)  # a few hundred steps more, so the stop lands between checkpoints


def resume_and_compare(make_cfg, checkpoint: Path, steps: int) -> None:
    """Resume to `steps` and compare with an uninterrupted run of `steps` from the start."""
    common = ["experiment=heart_lesson", f"trainer.max_steps={steps}", *CHECKPOINTS_ONLY]
    resumed = make_cfg(*common, f"ckpt_path={checkpoint}", quiet=False)
    whole = make_cfg(*common, quiet=False)
    assert train(resumed)["steps"] == steps
    train(whole)
    assert_same_weights(resumed.output_dir, whole.output_dir)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_checkpoints_at_that_step_and_resume_is_exact(tmp_path, make_cfg, sig) -> None:
    run_dir = tmp_path / "run"
    process = start_long_run(run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    wait_for_checkpoint(process, last)
    process.send_signal(sig)
    output, _ = process.communicate(timeout=120)

    assert process.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "interrupted"
    step = metrics["steps"]
    assert f"{sig.name} at step {step}: continue with ckpt_path={last}" in metrics["error"]
    assert read_checkpoint(last)["global_step"] == step, "checkpoint written at that step"

    resume_and_compare(make_cfg, last, step + 150)


def test_kill_9_leaves_a_whole_periodic_checkpoint_to_resume_from(tmp_path, make_cfg) -> None:
    run_dir = tmp_path / "run"
    process = start_long_run(run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    wait_for_checkpoint(process, last)
    process.kill()
    process.communicate(timeout=60)

    checkpoint = read_checkpoint(last)  # loads: never half-written
    step = checkpoint["global_step"]
    assert step > 0 and step % 100 == 0, "a periodic checkpoint"
    resume_and_compare(make_cfg, last, step + 150)


def test_an_atomic_write_that_fails_leaves_the_old_file(tmp_path) -> None:
    path = tmp_path / "last.ckpt"
    torch.save({"global_step": 1}, path)

    def broken(f) -> None:
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, broken)
    assert torch.load(path, weights_only=True) == {"global_step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"], "no temporary file left"
