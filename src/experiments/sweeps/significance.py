"""Is the best configuration really better than the runner-up?

A two-sided t-test on the optimized metric over the two configurations' completed replicates:
paired (`scipy.stats.ttest_rel`) when both have exactly the same seeds and folds, each pair
being one seed and fold, else Welch's (`ttest_ind(equal_var=False)`). The report states it in a
plain sentence: "better at the 5 % level" when p < 0.05, else "not distinguishable at this n".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from experiments.sweeps.best import best_config
from experiments.sweeps.replicates import (
    WORDS,
    config_keys,
    config_name,
    replicate_keys,
    replicates_word,
)
from experiments.sweeps.values import plus_minus

LEVEL = 0.05


@dataclass
class Comparison:
    """The best and the runner-up configuration's replicates (in pairing order when paired)."""

    best: str
    runner_up: str
    best_values: np.ndarray
    runner_up_values: np.ndarray
    paired: bool
    p: float


def _replicates(table, jobs: str, replicates: list[str], metric: str):
    """{(seed, fold): metric} of the completed jobs among `jobs` (their numbers, as text)."""
    numbers = [int(j) for j in jobs.split()]
    done = table[table["job"].isin(numbers) & (table["status"] == "completed")]
    done = done[done[metric].notna()] if metric in done else done.iloc[:0]
    ids = zip(*(done[k] for k in replicates), strict=True)
    return dict(zip(ids, done[metric].astype(float), strict=True))


def compare(table, axes: list[str], configs, metric: str, mode: str) -> Comparison | None:
    """The best against the runner-up (chosen as the best is, among the others), or None when
    there is no runner-up or either has fewer than two replicates."""
    from scipy import stats

    best = best_config(configs, metric, mode)
    others = configs.drop(index=best.name) if best is not None else configs.iloc[:0]
    runner_up = best_config(others, metric, mode) if len(others) else None
    if runner_up is None:
        return None
    replicates, keys = replicate_keys(axes), config_keys(axes)
    a = _replicates(table, best["jobs"], replicates, metric)
    b = _replicates(table, runner_up["jobs"], replicates, metric)
    if min(len(a), len(b)) < 2:
        return None
    paired = set(a) == set(b)
    if paired:
        order = sorted(a)
        x, y = np.array([a[i] for i in order]), np.array([b[i] for i in order])
        p = float(stats.ttest_rel(x, y).pvalue)
    else:
        x, y = np.array(list(a.values())), np.array(list(b.values()))
        p = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
    return Comparison(config_name(best, keys), config_name(runner_up, keys), x, y, paired, p)


def sentence(comparison: Comparison, axes: list[str], metric: str) -> str:
    """'Runner-up: model.lr=0.1 = 0.22 ± 0.03 over 3 seeds. Best vs runner-up: ...'."""
    y = comparison.runner_up_values
    spread = plus_minus(float(y.mean()), float(y.std(ddof=1)))
    over = replicates_word(axes, len(y))
    same = " and ".join(f"{WORDS[k]}s" for k in replicate_keys(axes))
    test = f"paired t-test (same {same})" if comparison.paired else "Welch t-test"
    p = comparison.p
    verdict = (
        "the best is better at the 5 % level"
        if p < LEVEL
        else "not distinguishable at this n"
        if not math.isnan(p)
        else "no spread to test"
    )
    return (
        f"Runner-up: {comparison.runner_up} = {spread} by mean {metric} over {over}. "
        f"Best vs runner-up, two-sided {test} on {metric} (n = {len(comparison.best_values)} "
        f"and {len(y)}): p = {p:.3g}: {verdict}."
    )


def significance_line(table, axes: list[str], configs, metric: str, mode: str) -> str | None:
    """The sentence of the report, or None without a runner-up to compare."""
    comparison = compare(table, axes, configs, metric, mode)
    return None if comparison is None else sentence(comparison, axes, metric)
