"""sbatch's refusal of a sweep's jobs, said in one line that names the launcher key to fix:

    hydra.launcher.partition=nope: sbatch refused the jobs: partition 'nope' does not exist on
    this cluster (its partitions: debug): invalid partition specified: nope; Batch job
    submission failed: Invalid partition name specified

`explain` reads sbatch's own stderr (`sbatch: error: ...` lines, as submitit's FailedJobError
carries them) beside the launcher's parameters; a message it does not recognise is still one
line, with sbatch's words and no key. `cluster_facts` asks `sinfo` what the cluster offers, for
the hint."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClusterFacts:
    """What the cluster offers, for the hints (empty where `sinfo` could not say)."""

    partitions: tuple[str, ...] = ()
    max_memory_mb: int | None = None  # the largest node's


@dataclass(frozen=True)
class _Rule:
    pattern: str  # a regular expression searched in sbatch's stderr
    keys: tuple[str, ...]  # the launcher keys it may be about: the first one set is named
    what: str  # what it means, `{value}` the key's value


# In the order they are tried; the messages are SLURM's (slurm_strerror and sbatch's own).
RULES = (
    _Rule(r"[Ii]nvalid partition", ("partition",),
          "partition '{value}' does not exist on this cluster"),
    _Rule(r"Memory specification can not be satisfied",
          ("mem_gb", "mem_per_cpu", "mem_per_gpu"), "no node has the memory asked for"),
    _Rule(r"Invalid --mem", ("mem_gb", "mem_per_cpu", "mem_per_gpu"),
          "not a memory size sbatch reads"),
    _Rule(r"Invalid generic resource \(gres\)", ("gpus_per_node", "gpus_per_task", "gres"),
          "no node has the GPUs (generic resources) asked for"),
    _Rule(r"Invalid --time specification", ("timeout_min",), "not a time limit sbatch reads"),
    _Rule(r"Requested time limit is invalid", ("timeout_min",),
          "the time limit exceeds what the partition allows"),
    _Rule(r"for --cpus-per-task|More processors requested than permitted", ("cpus_per_task",),
          "not a number of CPUs a task can have here"),
    _Rule(r"Invalid feature specification", ("constraint",),
          "no node has the feature (constraint) asked for"),
    _Rule(r"Invalid account", ("account",), "no such account here, or not on this partition"),
    _Rule(r"Invalid qos", ("qos",), "no such QOS here"),
)  # fmt: skip


def sbatch_reason(stderr: str) -> str:
    """sbatch's stderr as one line: its `error:` lines (or every line), prefixes dropped."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line] or lines
    said = [re.sub(r"^(sbatch: )?error: ", "", line).rstrip(".") for line in errors]
    return "; ".join(dict.fromkeys(said)) or "no message"


def _hint(rule: _Rule, facts: ClusterFacts) -> str:
    if rule.keys[0] == "partition" and facts.partitions:
        return f" (its partitions: {', '.join(facts.partitions)})"
    if rule.keys[0] == "mem_gb" and facts.max_memory_mb:
        return f" (the largest node has {facts.max_memory_mb / 1024:.1f} GB)"
    return ""


def explain(stderr: str, params: Mapping[str, Any], facts: ClusterFacts = ClusterFacts()) -> str:
    """The one line for sbatch's refusal `stderr` of jobs asked with the launcher's `params`."""
    reason = sbatch_reason(stderr)
    for rule in RULES:
        if not re.search(rule.pattern, stderr):
            continue
        key = next((k for k in rule.keys if params.get(k) not in (None, "", {})), rule.keys[0])
        value = params.get(key)
        what = rule.what.format(value=value) + _hint(rule, facts)
        return f"hydra.launcher.{key}={value}: sbatch refused the jobs: {what}: {reason}"
    return f"sbatch refused the jobs: {reason}"


def cluster_facts(timeout_s: float = 10) -> ClusterFacts:
    """The partitions and the largest node's memory, from `sinfo`; empty if it cannot say."""
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%P %m"], capture_output=True, text=True, timeout=timeout_s
        )
    except (OSError, subprocess.SubprocessError):
        return ClusterFacts()
    rows = [line.split() for line in done.stdout.splitlines() if len(line.split()) == 2]
    if done.returncode != 0 or not rows:
        return ClusterFacts()
    partitions = tuple(dict.fromkeys(p.rstrip("*") for p, _ in rows))
    memory = [int(m.rstrip("+")) for _, m in rows if m.rstrip("+").isdigit()]
    return ClusterFacts(partitions, max(memory) if memory else None)
