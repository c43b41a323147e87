"""curves.png: per configuration, `val/loss` and `train/loss` against the step, the mean over
its replicates with a ± std band and each replicate faint; the best configuration drawn thick and
named with a ★. With many configurations, the best few by the optimized metric are drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.sweeps.png import save_png
from experiments.sweeps.values import CURVE_TAGS

SHOWN = 8  # configurations drawn at most: more bands than this are unreadable
FAINT = 20  # replicates drawn faint per configuration at most (the band holds them all)


def _ranked(curves, table, metric: str, mode: str, best: str | None) -> list[str]:
    """Configurations by their mean `metric` (best first; the best one first in any case)."""
    import pandas as pd

    jobs = curves.drop_duplicates("job")[["job", "configuration"]].astype({"configuration": str})
    scores = table.set_index("job")[metric] if metric in table else pd.Series(dtype=float)
    means = pd.to_numeric(jobs["job"].map(scores), errors="coerce")
    means = means.groupby(jobs["configuration"], sort=False).mean()
    ranked = list(means.sort_values(ascending=mode == "min", na_position="last").index)
    return [best, *(c for c in ranked if c != best)] if best in ranked else ranked


def _each(rows) -> list[np.ndarray]:
    """One (step, value) array per job of these rows (sorted by job, then step)."""
    if rows is None:
        return []
    jobs, points = rows["job"].to_numpy(), rows[["step", "value"]].to_numpy(dtype=float)
    return np.split(points, np.flatnonzero(np.diff(jobs)) + 1)


def save(path: Path, frame, curves, table, metric: str, mode: str, best: str | None) -> None:
    from matplotlib.collections import LineCollection

    from experiments.figures import plt

    ranked = _ranked(curves, table, metric, mode, best)
    shown = ranked[:SHOWN]
    tags = [t for t in CURVE_TAGS if t in set(frame["tag"])] or list(CURVE_TAGS[:1])
    fig, axes = plt.subplots(1, len(tags), figsize=(7 * len(tags), 5), squeeze=False)
    colours = plt.get_cmap("tab10")
    drawn = curves[curves["configuration"].isin(shown)]
    first = drawn.drop_duplicates("job").groupby("configuration", observed=True).head(FAINT)
    drawn = drawn[drawn["job"].isin(first["job"])].astype({"configuration": str})
    drawn = drawn.sort_values(["job", "step"], kind="stable")
    lines = dict(tuple(drawn.groupby(["configuration", "tag"], sort=False)))
    bands = dict(tuple(frame[frame["configuration"].isin(shown)].groupby(["configuration", "tag"])))
    for ax, tag in zip(axes[0], tags, strict=True):
        for i, name in enumerate(shown):
            colour, thick = colours(i % 10), name == best
            ax.add_collection(
                LineCollection(_each(lines.get((name, tag))), colors=[colour], alpha=0.25, lw=0.8)
            )
            band = bands.get((name, tag), frame.iloc[:0])
            steps, mean = band["step"].to_numpy(), band["mean"].to_numpy()
            spread = np.nan_to_num(band["std"].to_numpy())
            ax.fill_between(steps, mean - spread, mean + spread, color=colour, alpha=0.2, lw=0)
            label = f"★ {name} (best)" if thick else name
            ax.plot(steps, mean, color=colour, lw=3 if thick else 1.5, label=label, zorder=3)
        ax.autoscale_view()
        ax.set(xlabel="step", ylabel=tag, title=f"{tag}: mean ± std over replicates (faint: each)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if len(ranked) > SHOWN:
        fig.suptitle(f"the {SHOWN} best of {len(ranked)} configurations by {metric}")
    fig.tight_layout()
    save_png(path, fig)
