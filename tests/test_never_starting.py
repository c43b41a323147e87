"""Jobs that sbatch accepted but SLURM will never start (`experiments.launcher.never_start`):
`squeue`'s reason read for the sweep's own array tasks, said in one line naming the launcher key,
and handed over by the sweep's wait at once (`launcher.watch.each_as_it_ends`). No SLURM needed
(a stand-in `squeue` on PATH); tests/test_slurm.py does it on the real cluster."""

from __future__ import annotations

import os
import stat

import pytest

from experiments.launcher.never_start import NEVER, explain, never_starting
from experiments.launcher.watch import each_as_it_ends

# What `squeue -h -r -t PENDING -o "%i %r"` printed on the local cluster, plus other arrays' tasks.
SQUEUE = """\
41_0 PartitionTimeLimit
41_1 Resources
41_2 Priority
42_0 PartitionTimeLimit
41_3 QOSMaxWallDurationPerJobLimit
"""


@pytest.fixture
def squeue(tmp_path, monkeypatch):
    """A `squeue` on PATH that prints SQUEUE and records its arguments."""
    script = tmp_path / "bin" / "squeue"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat <<"EOF"\n{SQUEUE}EOF\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "args"


def test_only_the_sweep_s_tasks_pending_for_good_are_named(squeue) -> None:
    found = never_starting(["41_0", "41_1", "41_2", "41_3"])
    assert found == {"41_0": "PartitionTimeLimit", "41_3": "QOSMaxWallDurationPerJobLimit"}
    assert squeue.read_text().split() == ["-h", "-r", "-t", "PENDING", "-o", "%i", "%r", "-j", "41"]


def test_no_squeue_is_no_answer(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert never_starting(["41_0"]) == {}


def test_the_line_names_the_key_set_and_what_slurm_means() -> None:
    params = {"partition": "short", "timeout_min": 5, "qos": None}
    assert explain("PartitionTimeLimit", 0, params) == (
        "hydra.launcher.timeout_min=5: SLURM will never start job 0 (PartitionTimeLimit): its "
        "time limit exceeds what the partition allows; cancelled"
    )
    assert explain("InvalidQOS", 3, params) == (
        "SLURM will never start job 3 (InvalidQOS): its QOS is not valid here; cancelled"
    )


@pytest.mark.parametrize("reason", sorted(NEVER))
def test_every_reason_is_one_line(reason: str) -> None:
    line = explain(reason, 1, {"timeout_min": 60, "nodes": 2, "mem_gb": 4, "cpus_per_task": 2})
    assert f"SLURM will never start job 1 ({reason}): " in line and "\n" not in line


class FakeJob:
    def __init__(self, ends_after: int | None) -> None:
        self.calls, self.ends_after = 0, ends_after

    def done(self) -> bool:
        self.calls += 1
        return self.ends_after is not None and self.calls > self.ends_after


def test_a_job_that_will_never_start_is_handed_over_at_once_with_its_reason() -> None:
    """Job 1 never ends by itself; the wait hands it over with its reason, and the others as
    they end, without waiting for job 1."""
    jobs = [FakeJob(ends_after=3), FakeJob(ends_after=None), FakeJob(ends_after=0)]
    asked: list[list[int]] = []

    def never_starts(indices: list[int]) -> dict[int, str]:
        asked.append(indices)
        return {1: "PartitionTimeLimit"} if 1 in indices else {}

    got = list(each_as_it_ends(jobs, poll_s=0, never_starts=never_starts, check_s=0))
    assert got == [(2, None), (1, "PartitionTimeLimit"), (0, None)]
    assert asked[0] == [0, 1], "job 2 had ended: not asked about"
