"""SLURM jobs that sbatch accepted but that will never start, found while the sweep waits.

By default SLURM accepts a job above a partition's or a QOS's limits (`EnforcePartLimits=NO`) and
leaves it PENDING for good, with a reason such as `PartitionTimeLimit`; a sweep waiting for it
would wait forever. `never_starting` asks `squeue` for the reason of the sweep's pending jobs;
`explain` says it in one line that names the launcher key to fix, and the launcher cancels the
job and records it `failed` with that line, as for any job lost on the cluster:

    hydra.launcher.timeout_min=5: SLURM will never start job 0 (PartitionTimeLimit): its time
    limit exceeds what the partition allows; cancelled
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

# SLURM's reasons for a pending job that no change on the cluster's side lets start (its
# `JOB_REASON` codes): the launcher keys each may be about, the first one set is named; and what
# it means. Waiting for resources, priority, dependencies or a reservation is not among them, nor
# `PartitionNodeLimit` and `BadConstraints`, which SLURM also gives while nodes are down.
NEVER = {
    "PartitionTimeLimit": (("timeout_min",), "its time limit exceeds what the partition allows"),
    "DependencyNeverSatisfied": (("dependency",), "its dependency can never be satisfied"),
    "InvalidAccount": (("account",), "its account is not valid here"),
    "InvalidQOS": (("qos",), "its QOS is not valid here"),
    "QOSMaxWallDurationPerJobLimit": (("timeout_min", "qos"),
                                      "its time limit exceeds what its QOS allows a job"),
    "AssocMaxWallDurationPerJobLimit": (("timeout_min", "account"),
                                        "its time limit exceeds what its account allows a job"),
    "QOSMaxCpuPerJobLimit": (("cpus_per_task", "qos"), "it asks for more CPUs than its QOS allows"),
    "AssocMaxCpuPerJobLimit": (("cpus_per_task", "account"),
                               "it asks for more CPUs than its account allows"),
    "QOSMaxNodePerJobLimit": (("nodes", "qos"), "it asks for more nodes than its QOS allows"),
    "AssocMaxNodePerJobLimit": (("nodes", "account"),
                                "it asks for more nodes than its account allows"),
    "QOSMaxMemoryPerJob": (("mem_gb", "qos"), "it asks for more memory than its QOS allows"),
    "AssocMaxMemoryPerJob": (("mem_gb", "account"),
                             "it asks for more memory than its account allows"),
}  # fmt: skip


def never_starting(job_ids: Sequence[str], timeout_s: float = 10) -> dict[str, str]:
    """{job id: reason} for those of `job_ids` (`123_4`, array tasks) that are pending for a
    reason in `NEVER`; empty when `squeue` cannot say."""
    if not job_ids:
        return {}
    arrays = sorted({job_id.split("_")[0] for job_id in job_ids})
    try:
        done = subprocess.run(
            ["squeue", "-h", "-r", "-t", "PENDING", "-o", "%i %r", "-j", ",".join(arrays)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    wanted = set(job_ids)
    rows = (line.split(maxsplit=1) for line in done.stdout.splitlines())
    return {
        row[0]: row[1].strip()
        for row in rows
        if len(row) == 2 and row[0] in wanted and row[1].strip() in NEVER
    }


def explain(reason: str, number: int, params: Mapping[str, Any]) -> str:
    """The one line for job `number`, pending for `reason`, asked with the launcher's `params`."""
    keys, what = NEVER[reason]
    key = next((k for k in keys if params.get(k) not in (None, "", {})), None)
    named = f"hydra.launcher.{key}={params.get(key)}: " if key else ""
    return f"{named}SLURM will never start job {number} ({reason}): {what}; cancelled"
