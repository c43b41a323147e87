"""The sweep's picture, summary.png (the pictures of one run are in `experiments.figures`).

The optimized metric over the swept keys other than seed: a heatmap over the first two (model.lr
x trainer.max_steps when both are swept), a line over one, or one point per job when only seeds
(or nothing) vary. A cell or point is the mean over its completed jobs (over the seeds and any
further swept key) with ± their std; a cell with no completed job names its jobs' status. The
best (configuration, or job without seeds) has a ★ and a red frame; the title says which way is
better. Axes are positions with the values as tick labels, so any mix of numbers and text plots
(and matplotlib's categorical-units logging stays quiet).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from experiments.sweeps.png import save_png
from experiments.sweeps.replicates import WORDS, config_keys, replicate_keys, replicates_word
from experiments.sweeps.values import plus_minus, show, sort_key

BEST = "red"


def save(
    path: Path, table, axes: list[str], metric: str, mode: str, best: dict[str, Any] | None
) -> None:
    save_png(path, picture(table, axes, metric, mode, best))


def picture(table, axes: list[str], metric: str, mode: str, best: dict[str, Any] | None = None):
    """The Figure of summary.png. `table` has one row per job, `axes` the swept keys, `best` the
    swept values of the best configuration (with `job` when it is a job)."""
    from experiments.figures import plt

    plotted = config_keys(axes)[:2]
    averaged = [k for k in axes if k not in plotted]
    values = [sorted(table[k].unique(), key=sort_key) for k in plotted]
    width = min(20.0, max(7.0, 1.5 * len(values[0]) + 3)) if values else 7.0
    height = min(14.0, max(5.0, 0.8 * len(values[1]) + 2)) if len(values) > 1 else 5.0
    fig, ax = plt.subplots(figsize=(width, height))
    if len(plotted) == 2:
        _heatmap(fig, ax, table, plotted, values, metric, mode, best or {})
    elif plotted:
        _line(ax, table, plotted[0], values[0], metric, best or {})
    else:
        _jobs(ax, table, metric, best or {}, replicate_keys(axes))
    better = "lower" if mode == "min" else "higher"
    title = f"{metric} over the sweep ({better} is better; ★ best)"
    if averaged:  # 'mean ± std over model.init, 3 seeds'
        over = [f"{table[k].nunique()} {WORDS[k]}s" if k in WORDS else k for k in averaged]
        title += f"\nmean ± std over {', '.join(over)}"
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _cell(jobs, metric: str) -> tuple[float, float, str]:
    """(mean, std, label) of the metric over the completed ones of these jobs."""
    import pandas as pd

    done = jobs[jobs["status"] == "completed"]
    values = pd.to_numeric(done[metric], errors="coerce") if metric in done else pd.Series()
    values = values.dropna().astype(float)
    if len(jobs) == 0:
        return math.nan, math.nan, ""
    if len(values) == 0:
        statuses = sorted(set(jobs["status"]) - {"completed"}) or [f"no {metric}"]
        return math.nan, math.nan, "\n".join(statuses)
    mean, std = float(values.mean()), float(values.std())  # std: NaN for one value
    label = plus_minus(mean, std, digits=1)
    return (
        mean,
        std,
        label if len(values) == len(jobs) else f"{label}\n{len(values)} of {len(jobs)}",
    )


def _xticks(ax, labels: list[str]) -> None:
    """Labels at positions 0, 1, ... (never categorical units); slanted when crowded."""
    crowded = len(labels) > 8 or sum(len(label) for label in labels) > 60
    slant = {"rotation": 30, "ha": "right"} if crowded else {}
    ax.set_xticks(range(len(labels)), labels, **slant)


def _index(values: list, value: Any) -> int | None:
    return next((i for i, v in enumerate(values) if v == value), None)


def _heatmap(fig, ax, table, axes, values, metric, mode, best) -> None:
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    from experiments.figures import plt

    (x, y), (xs, ys) = axes, values
    means = np.full((len(ys), len(xs)), np.nan)
    labels = {}
    for i, b in enumerate(ys):
        for j, a in enumerate(xs):
            means[i, j], _, labels[i, j] = _cell(table[(table[x] == a) & (table[y] == b)], metric)
    cmap = plt.get_cmap("viridis_r" if mode == "min" else "viridis")
    cmap = cmap.with_extremes(bad="0.85")  # cells without a completed job
    finite = means[np.isfinite(means)]
    limits = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    image = ax.imshow(
        means, cmap=cmap, aspect="auto", origin="lower", vmin=limits[0], vmax=limits[1]
    )
    fig.colorbar(image, ax=ax, label=f"{metric} (mean)")
    _xticks(ax, [show(v) for v in xs])
    ax.set_yticks(range(len(ys)), [show(v) for v in ys])
    ax.set(xlabel=x, ylabel=y)
    size = 10 if means.size <= 30 else 7
    star = (_index(ys, best.get(y)), _index(xs, best.get(x))) if x in best and y in best else None
    outline = [patheffects.withStroke(linewidth=2, foreground="black")]
    for (i, j), label in labels.items():
        label = f"★ {label}" if (i, j) == star else label
        style = {"color": "white", "fontsize": size, "path_effects": outline}
        ax.text(j, i, label, ha="center", va="center", **style)
    if star and None not in star:
        frame = Rectangle((star[1] - 0.5, star[0] - 0.5), 1, 1, fill=False, lw=3, ec=BEST)
        ax.add_patch(frame)


def _line(ax, table, x, xs, metric, best) -> None:
    cells = [_cell(table[table[x] == a], metric) for a in xs]
    means, stds = (np.array([c[k] for c in cells]) for k in (0, 1))
    positions = np.arange(len(xs))
    ax.errorbar(positions, means, yerr=np.nan_to_num(stds), fmt="o-", capsize=4, label="mean ± std")
    for p, (mean, _, label) in zip(positions, cells, strict=True):
        if math.isnan(mean) and label:  # no completed job here: say why, at the bottom
            ax.text(p, 0.03, label, transform=ax.get_xaxis_transform(), ha="center", color=BEST)
    if (p := _index(xs, best.get(x, object()))) is not None and not math.isnan(means[p]):
        ax.plot(p, means[p], "*", color=BEST, markersize=20, zorder=5, label="best")
    _xticks(ax, [show(v) for v in xs])
    ax.set(xlabel=x, ylabel=metric)
    ax.grid(alpha=0.3)
    ax.legend()


def _jobs(ax, table, metric, best, replicates: list[str]) -> None:
    import pandas as pd

    done = table["status"] == "completed"
    values = pd.to_numeric(table[metric], errors="coerce") if metric in table else done * np.nan
    values = values.where(done).to_numpy(dtype=float)
    positions = np.arange(len(table))
    ax.plot(positions, values, "o", markersize=8, label=metric)
    for p, ok, status in zip(positions, done, table["status"], strict=True):
        if not ok:
            ax.text(p, 0.03, status, transform=ax.get_xaxis_transform(), ha="center", color=BEST)
    names = [f"job {j}" for j in table["job"]]
    if replicates:  # one configuration: its mean and spread over the seeds (or folds)
        for key in replicates:
            names = [f"{n}\n{WORDS[key]} {show(s)}" for n, s in zip(names, table[key], strict=True)]
        finite = pd.Series(values).dropna()
        mean, std, count = finite.mean(), finite.std(), len(finite)
        if count:
            text = f"★ mean over {replicates_word(replicates, count)}: {plus_minus(mean, std)}"
            ax.axhline(mean, color=BEST, label=text)
            if count > 1:
                ax.axhspan(mean - std, mean + std, color=BEST, alpha=0.15, label="± std")
    elif (p := _index(list(table["job"]), best.get("job"))) is not None:
        ax.plot(p, values[p], "*", color=BEST, markersize=20, zorder=5, label="best")
    _xticks(ax, names)
    ax.set(xlabel="job", ylabel=metric)
    ax.grid(alpha=0.3)
    ax.legend()
