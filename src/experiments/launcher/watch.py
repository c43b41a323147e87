"""Wait for a sweep's submitit jobs and hand over each as it ends, rather than in job order (as
`[job.results()[0] for job in jobs]` does, one after another)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any


def each_as_it_ends(
    jobs: Sequence[Any],
    poll_s: float = 1.0,
    never_starts: Callable[[list[int]], dict[int, str]] | None = None,
    check_s: float = 10.0,
) -> Iterator[tuple[int, str | None]]:
    """(index, None) of each of `jobs` (submitit `Job`s) as it ends, with a result or without one
    (killed, cancelled). `job.done()` looks for the result file at each call and asks the
    cluster's accounting now and then (submitit's own pace), as `job.results()` does.

    `never_starts(indices)`, asked every `check_s` seconds, gives {index: reason} for those of the
    waiting jobs that will never start; each is handed over at once as (index, reason)."""
    waiting = list(range(len(jobs)))
    checked = -math.inf
    while waiting:
        ended: dict[int, str | None] = {i: None for i in waiting if jobs[i].done()}
        if never_starts is not None and time.monotonic() - checked >= check_s:
            checked = time.monotonic()
            ended.update(never_starts([i for i in waiting if i not in ended]))
        yield from ended.items()
        waiting = [i for i in waiting if i not in ended]
        if waiting and not ended:
            time.sleep(poll_s)
