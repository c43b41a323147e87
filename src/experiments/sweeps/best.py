"""The best job, or the best configuration by its mean over replicates."""

from __future__ import annotations


def _pick(frame, column: str, mode: str):
    """The row with the best value in `column`, or None."""
    if column not in frame.columns or frame[column].isna().all():
        return None
    return frame.loc[frame[column].idxmin() if mode == "min" else frame[column].idxmax()]


def best_job(table, metric: str, mode: str):
    """The completed job with the best value of `metric` (a validation metric), or None."""
    return _pick(table[table["status"] == "completed"], metric, mode)


def best_config(configs, metric: str, mode: str):
    """The configuration with the best mean over its seeds, among those whose every seed
    completed if there are any; None when no configuration has a mean."""
    whole = configs[configs["n"] == configs["jobs"].str.split().str.len()]
    best = _pick(whole, f"{metric}_mean", mode)
    return best if best is not None else _pick(configs, f"{metric}_mean", mode)
