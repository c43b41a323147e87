"""sbatch's refusals said in one line (`experiments.launcher.refusals`), from sbatch messages
captured on the local cluster (tests/data/sbatch_refusals.yaml), and a refused sweep's report
(`experiments.sweeps.refused`): every refused job `failed` with the reason. No SLURM needed;
tests/test_slurm.py runs the same through sbatch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from experiments.atomic import write_json_atomic
from experiments.launcher.refusals import ClusterFacts, explain, sbatch_reason
from experiments.sweeps import refused
from experiments.sweeps.report import summarize

CAPTURED = yaml.safe_load((Path(__file__).parent / "data" / "sbatch_refusals.yaml").read_text())


@pytest.mark.parametrize("case", CAPTURED, ids=[c["flags"] for c in CAPTURED])
def test_each_captured_refusal_names_its_key_in_one_line(case: dict) -> None:
    line = explain(case["stderr"], case["params"])
    assert line.startswith(f"hydra.launcher.{case['key']}: sbatch refused the jobs: ")
    assert case["says"] in line
    assert line.endswith(sbatch_reason(case["stderr"]))  # sbatch's own words, last
    assert "\n" not in line and "sbatch: error:" not in line


def test_sbatch_reason_keeps_each_error_once_without_prefixes() -> None:
    stderr = CAPTURED[0]["stderr"]
    assert sbatch_reason(stderr) == (
        "invalid partition specified: nope; "
        "Batch job submission failed: Invalid partition name specified"
    )


def test_an_unknown_refusal_is_still_one_line_with_sbatch_s_words_and_no_key() -> None:
    stderr = "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy\n"
    line = explain(stderr, {"partition": "debug"})
    assert line == "sbatch refused the jobs: Batch job submission failed: " + (
        "Job violates accounting/QOS policy"
    )


def test_the_hint_lists_the_cluster_s_partitions_and_largest_node() -> None:
    facts = ClusterFacts(partitions=("debug", "gpu"), max_memory_mb=21709)
    partition, memory = CAPTURED[0], CAPTURED[1]
    assert "(its partitions: debug, gpu)" in explain(
        partition["stderr"], partition["params"], facts
    )
    assert "(the largest node has 21.2 GB)" in explain(memory["stderr"], memory["params"], facts)


def test_the_key_named_is_the_one_set() -> None:
    """Memory asked per CPU, not per node: the line names mem_per_cpu, whose value it shows."""
    memory = CAPTURED[1]["stderr"]
    assert explain(memory, {"mem_gb": None, "mem_per_cpu": "4G"}).startswith(
        "hydra.launcher.mem_per_cpu=4G:"
    )
    assert explain(memory, {}).startswith("hydra.launcher.mem_gb=None:")


def test_a_refused_sweep_s_report_lists_every_job_failed_with_the_reason(tmp_path: Path) -> None:
    jobs = {0: ["experiment=xor", "model.lr=0.5"], 1: ["experiment=xor", "model.lr=1.0"]}
    plan = {
        "sweeper": "BasicSweeper",
        "jobs": [{"job": n, "overrides": o} for n, o in jobs.items()],
    }
    write_json_atomic(tmp_path / "sweep_plan.json", plan)
    reason = explain(CAPTURED[0]["stderr"], CAPTURED[0]["params"])
    refused.write(tmp_path, reason, jobs)

    table = summarize(tmp_path)
    assert list(table["job"]) == [0, 1] and list(table["model.lr"]) == [0.5, 1.0]
    assert list(table["status"]) == ["failed", "failed"]
    assert list(table["error"]) == [reason, reason]
    assert (tmp_path / "summary.md").read_text().count("sbatch refused the jobs") == 2
    written = pd.read_csv(tmp_path / "summary.csv")
    assert list(written["status"]) == ["failed", "failed"]


def test_refused_jobs_without_a_plan_are_listed_from_the_record(tmp_path: Path) -> None:
    """Another sweeper (no job list in the plan): the record's own overrides show."""
    refused.write(tmp_path, "sbatch refused the jobs: x", {3: ["model.lr=0.1"]})
    refused.write(tmp_path, "sbatch refused the jobs: y", {4: ["model.lr=0.2"]})  # a later batch
    table = summarize(tmp_path)
    assert list(table["job"]) == [3, 4] and list(table["model.lr"]) == [0.1, 0.2]
    assert list(table["error"]) == ["sbatch refused the jobs: x", "sbatch refused the jobs: y"]
