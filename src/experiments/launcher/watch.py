"""Wait for a sweep's submitit jobs and hand over each as it ends, rather than in job order (as
`[job.results()[0] for job in jobs]` does, one after another)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any


def each_as_it_ends(jobs: Sequence[Any], poll_s: float = 1.0) -> Iterator[int]:
    """The index of each of `jobs` (submitit `Job`s) as it ends, with a result or without one
    (killed, cancelled). `job.done()` looks for the result file at each call and asks the
    cluster's accounting now and then (submitit's own pace), as `job.results()` does."""
    waiting = list(range(len(jobs)))
    while waiting:
        ended = [i for i in waiting if jobs[i].done()]
        yield from ended
        waiting = [i for i in waiting if i not in ended]
        if waiting and not ended:
            time.sleep(poll_s)
