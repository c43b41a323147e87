"""A real one-node SLURM cluster on this machine (`scripts/slurm_local.sh`), and sweeps through
`hydra/launcher=submitit_slurm` on it: the same results as the jobs run locally; a job warned by
SIGUSR2 (what submitit's requeue hangs on) is requeued and resumes exactly; a job cancelled
outright is recorded and the sweep still reports.

The cluster needs root and Debian's packages (installed on first use, ~40 s); without them the
module is skipped with the script's own reason. It is stopped at the end only if a test
started it, by the last test process using it (`slurm_cluster`), so no xdist worker stops it
under another's test.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from helpers import (
    LOGGED,
    ROOT,
    assert_same_weights,
    multirun,
    read_metrics,
    start_script,
    wait_for_file,
)

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


# The test processes using the cluster (xdist workers, pytest sessions), and whether a test started
# it: {"started": bool, "users": [pid, ...]}, read and written under an flock.
USERS = Path(tempfile.gettempdir()) / "experiments-slurm-test-users.json"


@contextmanager
def cluster_users() -> Iterator[dict]:
    """The users' record, locked for the block, the dead ones left out; written back after."""
    with open(f"{USERS}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = json.loads(USERS.read_text())
        except (OSError, ValueError):
            state = {"started": False, "users": []}
        state["users"] = [pid for pid in state["users"] if Path(f"/proc/{pid}").exists()]
        try:
            yield state
        finally:
            USERS.write_text(json.dumps(state))


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[None]:
    """The local cluster, up while any test process uses it: started here unless it already runs,
    and stopped by the last test process to leave, if a test started it. (xdist may hand this
    module's tests to several workers, each with its own module fixture.)"""
    with cluster_users() as state:
        if slurm_local("status").returncode != 0:
            began = time.perf_counter()
            # A first start installs packages, and may wait up to 300 s for another apt's lock.
            started = slurm_local("start", timeout=900)
            if started.returncode != 0:
                reason = (started.stderr.strip().splitlines() or ["no message"])[-1]
                pytest.skip(f"no local SLURM cluster: {reason}")
            print(f"slurm_local.sh start: {time.perf_counter() - began:.1f} s")
            state["started"] = True
        state["users"].append(os.getpid())
    yield
    with cluster_users() as state:
        state["users"].remove(os.getpid())
        if state["started"] and not state["users"]:
            began = time.perf_counter()
            stopped = slurm_local("stop")
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr
            print(f"slurm_local.sh stop: {time.perf_counter() - began:.1f} s")
            state["started"] = False


def test_sweep_on_slurm_matches_local_runs(slurm_cluster, tmp_path: Path) -> None:
    again = slurm_local("start")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout, "a second start leaves the cluster as it is"

    sweep_dir = tmp_path / "sweep"
    grid = ["experiment=xor", "model.lr=0.5,1.0", "trainer.max_steps=60"]
    local = {  # the same jobs run locally, alongside
        lr: start_script("train.py", "experiment=xor", f"model.lr={lr}", "trainer.max_steps=60",
                         f"hydra.run.dir={tmp_path / f'local_lr{lr}'}")
        for lr in (0.5, 1.0)
    }  # fmt: skip
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
        assert local[row["model.lr"]].wait(timeout=120) == 0
        expected = read_metrics(tmp_path / f"local_lr{row['model.lr']}")
        assert on_slurm["steps"] == expected["steps"] == 60
        assert on_slurm["val/loss"] == pytest.approx(expected["val/loss"], abs=1e-6), row["job"]
        assert row["val/loss"] == pytest.approx(on_slurm["val/loss"], rel=1e-9)


# Long enough to be signalled after its first checkpoint (every 1,000 steps), short enough to
# finish once resumed.
LONG_JOB = ["experiment=heart_lesson", "trainer.max_steps=10000", *LOGGED]


def slurm_job(sweep_dir: Path, job: int) -> str:
    """The SLURM id of a sweep's job (`<array>_<index>`, its .submitit folder's name)."""
    (folder,) = sweep_dir.glob(f".submitit/*_{job}")
    return folder.name


def squeue_state(job_id: str) -> str:
    done = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True
    )
    return done.stdout.strip()


def seconds_until_running_again(job_id: str, timeout: float = 120) -> float:
    """After a requeue: seconds until SLURM runs the job again."""
    began, pending = time.perf_counter(), False
    while time.perf_counter() - began < timeout:
        state = squeue_state(job_id)
        pending = pending or state in ("PENDING", "REQUEUED")
        if pending and state == "RUNNING":
            return time.perf_counter() - began
        time.sleep(0.2)
    raise AssertionError(f"{job_id} was not run again within {timeout} s")


def test_usr2_requeues_the_job_which_resumes_exactly(slurm_cluster, tmp_path: Path) -> None:
    """`scancel --signal=USR2` is what submitit's time-limit warning sends: the job checkpoints at
    a step boundary, submitit requeues it (`max_num_timeout=1`), and it resumes from that step to
    the weights of an uninterrupted run; the sweep exits 0."""
    sweep_dir, local_dir = tmp_path / "sweep", tmp_path / "local"
    local = start_script("train.py", *LONG_JOB, "seed=0", f"hydra.run.dir={local_dir}")
    began = time.perf_counter()
    sweep = start_script(
        "train.py", "-m", *LONG_JOB, "seed=0,1", *ON_SLURM, "hydra.launcher.max_num_timeout=1",
        f"hydra.sweep.dir={sweep_dir}",
    )  # fmt: skip
    wait_for_file(sweep_dir / "0" / "checkpoints" / "last.ckpt", sweep)
    job = slurm_job(sweep_dir, 0)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    print(f"requeue: running again {seconds_until_running_again(job):.1f} s after SIGUSR2")
    output, _ = sweep.communicate(timeout=240)
    print(f"2-job sweep, one job requeued: {time.perf_counter() - began:.1f} s")
    assert sweep.returncode == 0, output[-3000:]

    metrics = read_metrics(sweep_dir / "0")
    assert metrics["status"] == "completed" and metrics["steps"] == 10000
    assert metrics["resumed_from_step"] > 0
    log = "".join(p.read_text() for p in sweep_dir.glob(f".submitit/{job}/*_log.out"))
    assert f"Requeued job {job} (0 remaining timeouts)" in log
    assert local.wait(timeout=120) == 0
    assert_same_weights(sweep_dir / "0", local_dir)
    assert read_metrics(sweep_dir / "1")["resumed_from_step"] is None


def test_a_cancelled_job_is_recorded_and_the_sweep_reports(slurm_cluster, tmp_path) -> None:
    """`scancel` (SIGTERM, then SIGKILL after SLURM's KillWait): the job checkpoints, records
    `interrupted` and returns, so submitit has its result; the sweep writes its summary, exits 1."""
    sweep_dir = tmp_path / "sweep"
    began = time.perf_counter()
    sweep = start_script(
        "train.py", "-m", "experiment=heart_lesson", "trainer.max_steps=2000,30000", *LOGGED,
        *ON_SLURM, f"hydra.sweep.dir={sweep_dir}",
    )  # fmt: skip
    wait_for_file(sweep_dir / "1" / "checkpoints" / "last.ckpt", sweep)
    subprocess.run(["scancel", slurm_job(sweep_dir, 1)], check=True)
    output, _ = sweep.communicate(timeout=240)
    print(f"2-job sweep, one job cancelled: {time.perf_counter() - began:.1f} s")
    assert sweep.returncode == 1, output[-3000:]

    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert list(summary["status"]) == ["completed", "interrupted"]
    cancelled = read_metrics(sweep_dir / "1")
    assert f"SIGTERM at step {cancelled['steps']}" in cancelled["error"]
    assert cancelled["steps"] > 0 and (sweep_dir / "1" / "checkpoints" / "last.ckpt").is_file()
    assert "job 1 interrupted" in output and "1 of 2 jobs did not complete" in output


# The cluster's refusals as answers, and a line per job as it ends (issue 23, item 5).


def test_a_partition_that_does_not_exist_is_one_line_and_a_failed_summary(
    slurm_cluster, tmp_path: Path
) -> None:
    """sbatch refuses at once: one line naming the key and sbatch's reason (no traceback, not
    sbatch's raw lines), every job `failed` with it in the summary, exit 1, no job folder."""
    sweep_dir = tmp_path / "sweep"
    began = time.perf_counter()
    done = multirun(
        "experiment=xor", "model.lr=0.5,1.0", *ON_SLURM, "hydra.launcher.partition=nope",
        sweep_dir=sweep_dir, timeout=120,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    print(f"refused sweep: {seconds:.1f} s")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    (line,) = [line for line in output.splitlines() if "sbatch refused" in line]
    assert (
        "hydra.launcher.partition=nope: sbatch refused the jobs: partition 'nope' does not "
        "exist on this cluster (its partitions: debug): invalid partition specified: nope" in line
    )
    assert f"(2 jobs recorded failed: {sweep_dir / 'summary.md'})" in line
    assert "Traceback" not in output and "sbatch: error" not in output
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert list(summary["status"]) == ["failed", "failed"]
    assert all("partition 'nope' does not exist" in error for error in summary["error"])
    assert not list(sweep_dir.glob("*/metrics.json")), "no job ran"
    assert seconds < 30


def test_too_much_memory_names_mem_gb(slurm_cluster, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    done = multirun(
        "experiment=xor", *ON_SLURM, "hydra.launcher.mem_gb=100000", sweep_dir=sweep_dir,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "refused" in line]
    assert len(errors) == 1
    assert (
        "hydra.launcher.mem_gb=100000: sbatch refused the jobs: no node has the memory"
        in (errors[0])
    )
    assert "(1 job recorded failed" in errors[0]
    assert list(pd.read_csv(sweep_dir / "summary.csv")["status"]) == ["failed"]


def test_each_job_s_line_is_printed_as_it_ends(slurm_cluster, tmp_path: Path) -> None:
    """Job 0 trains far longer than job 1. Whichever ends first (both run at once when the node
    has a CPU for each; job 1 waits for one when other tests hold them), its line comes first,
    while the other job still runs, and each job has exactly one line, the local sweep's."""
    sweep_dir = tmp_path / "sweep"
    sweep = start_script(
        "train.py", "-m", "experiment=heart_lesson", "trainer.max_steps=300000,100", *LOGGED,
        *ON_SLURM, f"hydra.sweep.dir={sweep_dir}",
    )  # fmt: skip
    lines, other_running = [], None
    for line in sweep.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(("[1/2]", "[2/2]")):
            other = "0" if line.startswith("[2/2]") else "1"
            other_running = not (sweep_dir / other / "metrics.json").exists()
            break
    rest, _ = sweep.communicate(timeout=240)
    lines += rest.splitlines()
    assert sweep.returncode == 0, "\n".join(lines)[-3000:]
    job_lines = [line for line in lines if line.startswith(("[1/2]", "[2/2]"))]
    ended = sorted("01", key=lambda job: (sweep_dir / job / "metrics.json").stat().st_mtime)
    assert [line[:5] for line in job_lines] == [f"[{int(job) + 1}/2]" for job in ended], job_lines
    assert other_running, "the first line came only once both jobs had ended"
    steps = {"0": "300000", "1": "100"}
    for line, job in zip(job_lines, ended, strict=True):
        assert f"trainer.max_steps={steps[job]}  completed  val/loss" in line


def test_jobs_slurm_will_never_start_are_cancelled_and_named_in_one_line(
    slurm_cluster, tmp_path: Path
) -> None:
    """A partition whose time limit (1 min) is below the jobs' (5): sbatch accepts them and
    SLURM would leave them PENDING (PartitionTimeLimit) for good. The sweep cancels them, says so
    in one line per job naming timeout_min (its console line), records them `failed` and exits
    1, in seconds."""
    partition = f"short{os.getpid()}"
    subprocess.run(
        ["scontrol", "create", f"PartitionName={partition}", "Nodes=ALL", "MaxTime=1"], check=True
    )
    try:
        sweep_dir = tmp_path / "sweep"
        began = time.perf_counter()
        done = multirun(
            "experiment=xor", "model.lr=0.5,1.0", *ON_SLURM,
            f"hydra.launcher.partition={partition}", sweep_dir=sweep_dir, timeout=120,
        )  # fmt: skip
        seconds = time.perf_counter() - began
        print(f"never-starting sweep: {seconds:.1f} s")
        left = subprocess.run(["squeue", "-h", "-p", partition], capture_output=True, text=True)
        assert left.stdout.strip() == "", "the jobs were cancelled"
    finally:
        subprocess.run(["scontrol", "delete", f"PartitionName={partition}"], check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    lines = [line for line in output.splitlines() if line.startswith(("[1/2]", "[2/2]"))]
    assert len(lines) == 2, output[-3000:]
    for job, lr in ((0, "0.5"), (1, "1.0")):
        said = (
            f"[{job + 1}/2] model.lr={lr}  failed  0.0 s  hydra.launcher.timeout_min=5: SLURM "
            f"will never start job {job} (PartitionTimeLimit): its time limit exceeds what the "
            "partition allows; cancelled"
        )
        assert said in lines, lines
        assert f"job {job} failed: hydra.launcher.timeout_min=5: SLURM will never start" in output
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert list(summary["status"]) == ["failed", "failed"]
    assert all("PartitionTimeLimit" in error for error in summary["error"])
    assert "2 of 2 jobs did not complete" in output
    assert seconds < 60
