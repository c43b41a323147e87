"""What tests share: the repo's paths, the override lists that switch per-run extras off, the
CLI run as a user types it, and comparisons of run folders. Fixtures live in tests/conftest.py."""

from helpers.cli import (
    multirun,
    run_cli,
    run_script,
    start_script,
    the_one_error_line,
    wait_for_file,
)
from helpers.overrides import CHECKPOINTS_ONLY, LOGGED, QUIET
from helpers.paths import CONF, ROOT
from helpers.runs import (
    assert_same_weights,
    assert_steps_once,
    job_dirs,
    non_trivial,
    read_metrics,
)

__all__ = [
    "CHECKPOINTS_ONLY",
    "CONF",
    "LOGGED",
    "QUIET",
    "ROOT",
    "assert_same_weights",
    "assert_steps_once",
    "job_dirs",
    "multirun",
    "non_trivial",
    "read_metrics",
    "run_cli",
    "run_script",
    "start_script",
    "the_one_error_line",
    "wait_for_file",
]
