"""Interrupted runs lose nothing: SIGINT/SIGTERM/SIGUSR2 checkpoint at that step, kill -9 leaves the
last periodic checkpoint whole, and resuming (with ckpt_path, or by running the same command into
the same folder) reproduces the uninterrupted run exactly."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from helpers import (
    CHECKPOINTS_ONLY,
    LOGGED,
    assert_same_weights,
    assert_steps_once,
    read_metrics,
    run_cli,
    start_script,
    wait_for_file,
)

from experiments.atomic import write_atomic, write_bytes_atomic
from experiments.errors import RunInterrupted
from experiments.run.checkpoints import read_checkpoint
from experiments.run.resume import prepare_run
from experiments.run.training import train

# One random row per step (the data stream matters on resume), a checkpoint every 100 steps, and
# far more steps than the test waits for.
LONG_RUN = [
    "experiment=heart_lesson",
    "trainer.max_steps=1000000",
    "trainer.val_check_interval=100",
    "~callbacks.figures",
    "~callbacks.histograms",
]


# Long enough to be stopped after its first checkpoint, short enough to finish once resumed.
FINITE_RUN = ["experiment=heart_lesson", "trainer.max_steps=10000", *LOGGED]


def start_long_run(run_dir: Path, args: list[str] = LONG_RUN) -> subprocess.Popen:
    return start_script("train.py", *args, f"hydra.run.dir={run_dir}")


def wait_for_checkpoint(process: subprocess.Popen, path: Path) -> None:
    wait_for_file(path, process)
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
    assert "weights_only" not in output, "the checkpoint at the signal says nothing of torch.load"
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "interrupted"
    step = metrics["steps"]
    assert f"{sig.name} at step {step}: continue with ckpt_path={last}" in metrics["error"]
    assert read_checkpoint(last)["global_step"] == step, "checkpoint written at that step"

    resume_and_compare(make_cfg, last, step + 150)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_start_up_stops_with_one_line(tmp_path, sig) -> None:
    """Hydra has written the run's config, torch is still importing: one line, exit status 1, no
    traceback, nothing that looks like a result."""
    run_dir = tmp_path / "run"
    process = start_long_run(run_dir)
    wait_for_file(run_dir / ".hydra" / "config.yaml", process)
    process.send_signal(sig)
    output, _ = process.communicate(timeout=60)

    assert process.returncode == 1, output[-3000:]
    stopped = f"{sig.name} before training started: nothing was trained or written by this run"
    assert output.count(stopped) == 1 and "Traceback" not in output, output[-3000:]
    leftovers = {"metrics.json", "checkpoints", "weights.pth", "run.lock"}
    assert not leftovers & {p.name for p in run_dir.iterdir()}


def test_a_signal_during_a_sweep_job_s_start_up_stops_the_sweep_with_its_report(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    args = ["-m", "experiment=xor", "model.lr=0.5,1.0", f"hydra.sweep.dir={sweep_dir}"]
    process = start_script("train.py", *args)
    wait_for_file(sweep_dir / "0" / ".hydra" / "config.yaml", process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)

    assert process.returncode == 1, output[-3000:]
    assert output.count("SIGTERM before training started") == 1, output[-3000:]
    assert "Traceback" not in output and "2 of 2 jobs did not complete" in output, output[-3000:]
    assert (sweep_dir / "summary.md").is_file() and not (sweep_dir / "0" / "metrics.json").exists()


@pytest.mark.parametrize(
    ("max_steps", "stopped_at", "checkpoints"),
    [
        (1000, 150, {"last.ckpt", "best-step100.ckpt"}),  # validated at 100, not at 150
        (10**8, 200, {"last.ckpt"}),  # never validated; one last.ckpt (no last-v1.ckpt)
    ],
)
def test_an_interrupted_run_names_its_best_by_a_validated_step(
    make_cfg, max_steps, stopped_at, checkpoints
) -> None:
    """Lightning validates a run told to stop, at that step: not ours, off the schedule."""
    signal_at = "+callbacks.signal_at"
    cfg = make_cfg(
        "experiment=xor",
        f"trainer.max_steps={max_steps}",
        *CHECKPOINTS_ONLY,
        f"{signal_at}._target_=helpers.signals.SignalAt",
        f"{signal_at}.step=150",
        quiet=False,
    )
    with pytest.raises(RunInterrupted):
        train(cfg)
    assert read_metrics(cfg.output_dir)["steps"] == stopped_at
    assert {p.name for p in (Path(cfg.output_dir) / "checkpoints").iterdir()} == checkpoints


def test_a_run_started_over_in_its_folder_keeps_one_best_checkpoint(make_cfg) -> None:
    """Run again into a folder whose run completed: that run's best goes, and no `-v1` appears."""
    folder = None
    for steps in (300, 200, 200):
        cfg = make_cfg(
            "experiment=xor", f"trainer.max_steps={steps}", *CHECKPOINTS_ONLY, quiet=False
        )
        cfg.output_dir = folder = folder or cfg.output_dir
        train(prepare_run(cfg))
    names = {p.name for p in (Path(folder) / "checkpoints").iterdir()}
    assert names == {"last.ckpt", "best-step200.ckpt"}


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


def test_the_same_command_continues_an_interrupted_run_exactly(tmp_path, make_cfg) -> None:
    """SIGUSR2 (submitit's warning; outside submitit it stops a run as SIGTERM does), then the
    same command into the same folder: resumed from that step, to the uninterrupted weights, with
    one last.ckpt and each TensorBoard step once."""
    run_dir = tmp_path / "run"
    process = start_long_run(run_dir, FINITE_RUN)
    wait_for_checkpoint(process, run_dir / "checkpoints" / "last.ckpt")
    process.send_signal(signal.SIGUSR2)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 1, output[-3000:]
    stopped = read_metrics(run_dir)
    assert stopped["status"] == "interrupted" and 0 < stopped["steps"] < 10000
    assert "SIGUSR2 at step" in stopped["error"]

    again = run_cli(*FINITE_RUN, run_dir=run_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = f"continuing the unfinished run in {run_dir} from step {stopped['steps']}"
    assert resumed in again.stdout + again.stderr
    assert "is not empty" not in again.stderr, "no Lightning note on the run's own folder"
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "completed" and metrics["steps"] == 10000
    assert metrics["resumed_from_step"] == stopped["steps"]
    assert not list(run_dir.glob("checkpoints/last-v*.ckpt")), "one last.ckpt, overwritten"
    assert_steps_once(run_dir / "tensorboard", "train/loss", every=100, last=10000)

    whole = make_cfg(
        "experiment=heart_lesson", "trainer.max_steps=10000", *CHECKPOINTS_ONLY, quiet=False
    )
    assert train(whole)["resumed_from_step"] is None
    assert_same_weights(run_dir, whole.output_dir)


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


def test_a_bytes_write_that_fails_leaves_the_old_file(tmp_path, monkeypatch) -> None:
    """`write_bytes_atomic` (a population's job files) as `write_atomic`: the old file or the
    new one, never half of it, and no temporary file left."""
    path = tmp_path / "metrics.json"
    path.write_bytes(b'{"status": "completed"}')

    def full_disk(fd: int, data) -> int:
        raise OSError("disk full")

    monkeypatch.setattr("experiments.atomic.os.write", full_disk)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(path, b'{"status": "half')
    assert path.read_bytes() == b'{"status": "completed"}'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"], "no temporary file left"
    monkeypatch.undo()
    write_bytes_atomic(tmp_path / "new" / "file.bin", b"\x00" * 100_000)  # makes its folder
    assert (tmp_path / "new" / "file.bin").read_bytes() == b"\x00" * 100_000
