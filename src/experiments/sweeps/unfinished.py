"""The sweep report's console lines for the jobs that did not complete."""

from __future__ import annotations

EACH_JOB_UP_TO = 10  # more unfinished jobs than this: one line per status and error, with counts


def unfinished_lines(unfinished) -> list[str]:
    """A line per job that did not complete (`job 3 failed: ...`); past `EACH_JOB_UP_TO` of them
    (a population of 4,000 grid points stopped by a signal), one per status and error:
    `4000 jobs interrupted (0-3999): ...`, so the console stays readable."""
    if len(unfinished) <= EACH_JOB_UP_TO:
        return [f"job {int(r.job)} {r.status}: {r.error}" for r in unfinished.itertuples()]
    groups = unfinished.fillna({"error": ""}).groupby(["status", "error"], sort=False)["job"]
    return [
        f"{len(jobs)} jobs {status} ({_spans(jobs)}): {error}" for (status, error), jobs in groups
    ]


def _spans(jobs) -> str:
    """Job numbers as runs: `0-3999`, `2, 5-7, 9`."""
    numbers, spans = sorted(int(j) for j in jobs), []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
