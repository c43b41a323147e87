"""Sweeps that lose nothing: a sweep killed half-way and run again with the same command skips
the jobs it completed, resumes the one it was in, runs the rest and reports all; under submitit a
job warned by SIGUSR2 is requeued and resumes, and a job killed outright is recorded while the
sweep goes on to its summary."""

from __future__ import annotations

import json
import os
import signal

import pandas as pd
import pytest
from helpers import (
    LOGGED,
    assert_same_weights,
    assert_steps_once,
    multirun,
    read_metrics,
    run_script,
    start_script,
    wait_for_file,
)

pytestmark = pytest.mark.slow

# Job 2 runs long enough to be killed between its periodic checkpoints (every 600 steps).
GRID = ["experiment=heart_lesson", "trainer.max_steps=100,200,6000,300", *LOGGED]


def test_a_killed_sweep_run_again_skips_resumes_and_runs_the_rest(tmp_path) -> None:
    sweep_dir, reference_dir = tmp_path / "sweep", tmp_path / "reference"
    reference = start_script("train.py", "-m", *GRID, f"hydra.sweep.dir={reference_dir}")
    first = start_script("train.py", "-m", *GRID, f"hydra.sweep.dir={sweep_dir}")
    wait_for_file(sweep_dir / "2" / "checkpoints" / "last.ckpt", first)
    os.killpg(first.pid, signal.SIGKILL)  # the sweep and its job, at once
    first.communicate(timeout=60)
    assert not (sweep_dir / "2" / "metrics.json").exists(), "killed during job 2"
    report = run_script("summarize.py", str(sweep_dir))  # every planned job, started or not
    assert report.returncode == 1
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert list(summary["status"]) == ["completed", "completed", "missing", "missing"]
    assert list(summary["trainer.max_steps"]) == [100, 200, 6000, 300]
    assert summary.loc[3, "error"] == "never started"
    assert "2 of 4 jobs did not complete" in report.stdout + report.stderr
    done = {j: (sweep_dir / j / "metrics.json").stat().st_mtime_ns for j in ("0", "1")}
    seconds = {j: read_metrics(sweep_dir / j)["seconds"] for j in ("0", "1")}

    again = multirun(*GRID, sweep_dir=sweep_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    output = again.stdout + again.stderr
    assert "took over" in output, "the dead sweep's locks are stale"
    for job in ("0", "1"):
        assert (sweep_dir / job / "metrics.json").stat().st_mtime_ns == done[job], "not retrained"
        assert read_metrics(sweep_dir / job)["seconds"] == seconds[job]
        assert f"job {job} completed before with these overrides: not run again" in output
    resumed = read_metrics(sweep_dir / "2")
    assert resumed["status"] == "completed" and resumed["steps"] == 6000
    assert resumed["resumed_from_step"] > 0 and resumed["resumed_from_step"] % 600 == 0
    assert read_metrics(sweep_dir / "3")["resumed_from_step"] is None
    (events,) = (sweep_dir / "2" / "tensorboard").iterdir()
    assert_steps_once(events, "train/loss", every=60, last=6000)

    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert list(summary["job"]) == [0, 1, 2, 3] and set(summary["status"]) == {"completed"}
    assert reference.wait(timeout=300) == 0, reference.stdout.read()[-3000:]
    for job in range(4):
        assert_same_weights(sweep_dir / str(job), reference_dir / str(job))


def test_submitit_requeues_a_warned_job_and_records_a_killed_one(tmp_path) -> None:
    """submitit_local, the SLURM code path on this machine. Job 0 gets SIGUSR2 (submitit's warning
    before a time limit): it checkpoints at a step boundary, submitit requeues it, and it resumes
    from that step (exactly so: tests/test_slurm.py compares the weights). Job 1 is killed
    outright (kill -9, as the out-of-memory killer does): no result, so the launcher records it
    `interrupted` at its last checkpoint. The sweep reports both and exits 1."""
    job = ["experiment=heart_lesson", "trainer.max_steps=100000", *LOGGED]
    sweep_dir = tmp_path / "sweep"
    sweep = start_script(
        "train.py", "-m", *job, "seed=0,1", "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={sweep_dir}",
    )  # fmt: skip
    for n in ("0", "1"):
        wait_for_file(sweep_dir / n / "checkpoints" / "last.ckpt", sweep)
    owner = {n: json.loads((sweep_dir / n / "run.lock").read_text())["pid"] for n in ("0", "1")}
    os.kill(owner["0"], signal.SIGUSR2)
    os.kill(owner["1"], signal.SIGKILL)
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 1, output[-3000:]

    warned = read_metrics(sweep_dir / "0")
    assert warned["status"] == "completed" and warned["resumed_from_step"] > 0
    logs = "".join(p.read_text() for p in sweep_dir.glob(".submitit/*/*_log.out"))
    assert "Requeued job" in logs, "by submitit's own handler"
    killed = read_metrics(sweep_dir / "1")
    assert killed["status"] == "interrupted" and killed["steps"] % 1000 == 0 < killed["steps"]
    assert "without a result" in killed["error"] and "run the sweep again" in killed["error"]
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert list(summary["status"]) == ["completed", "interrupted"]


def test_a_vectorized_sweep_run_again_trains_only_what_did_not_complete(tmp_path) -> None:
    """Grid points completed before are skipped; the population trains the others alone (members
    are independent), and the summary holds them all."""
    grid = ["experiment=xor", "model.lr=0.5,2.0", "trainer.max_steps=60,120"]
    grid += ["hydra/sweeper=vectorized"]
    sweep_dir = tmp_path / "sweep"
    assert multirun(*grid, sweep_dir=sweep_dir).returncode == 0
    first = read_metrics(sweep_dir / "3")
    (sweep_dir / "3" / "metrics.json").unlink()  # as if stopped before this point was written
    done = {j: (sweep_dir / str(j) / "metrics.json").stat().st_mtime_ns for j in range(3)}

    again = multirun(*grid, sweep_dir=sweep_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 grid points as 1 members" in again.stdout + again.stderr
    assert {j: (sweep_dir / str(j) / "metrics.json").stat().st_mtime_ns for j in range(3)} == done
    assert read_metrics(sweep_dir / "3")["val/loss"] == pytest.approx(first["val/loss"], rel=1e-6)
    assert set(pd.read_csv(sweep_dir / "summary.csv")["status"]) == {"completed"}


def test_a_lost_job_whose_checkpoint_cannot_be_read_is_recorded_failed(tmp_path) -> None:
    """SLURM killed a job whose last.ckpt is unreadable (a disk error, say): the sweep records it
    `failed` with both reasons, rather than stopping on a traceback."""
    from experiments.run.resume import record_lost_job

    job_dir = tmp_path / "3"
    (job_dir / "checkpoints").mkdir(parents=True)
    (job_dir / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    record_lost_job(job_dir, "SLURM cancelled the job")
    metrics = read_metrics(job_dir)
    assert metrics["status"] == "failed"
    assert metrics["error"].startswith("SLURM cancelled the job; ")
    assert "last.ckpt" in metrics["error"] and "\n" not in metrics["error"]


def test_a_job_that_never_ran_this_time_replaces_an_earlier_attempt_s_record(tmp_path) -> None:
    """A sweep run again whose job SLURM will never start: its folder's earlier `failed` record
    gives way to the reason (the report reads the folder); a completed one stays."""
    from experiments.atomic import write_json_atomic
    from experiments.run.resume import record_lost_job

    earlier = {"status": "failed", "error": "earlier", "steps": 0, "seconds": 1.0}
    for status in ("failed", "completed"):
        job_dir = tmp_path / status
        write_json_atomic(job_dir / "metrics.json", {**earlier, "status": status})
        record_lost_job(job_dir, "SLURM will never start job 0 (PartitionTimeLimit)", True)
        kept = read_metrics(job_dir)
        assert kept["status"] == status
        assert (kept["error"] == "earlier") == (status == "completed"), kept
