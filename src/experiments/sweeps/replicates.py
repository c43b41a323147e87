"""Which swept keys are replicates (seeds, cross-validation folds) and which make a
configuration; the report groups the jobs of a configuration over its replicates."""

from __future__ import annotations

SEED = "seed"
FOLD = "data.fold"
REPLICATES = (SEED, FOLD)
WORDS = {SEED: "seed", FOLD: "fold"}


def config_keys(axes: list[str]) -> list[str]:
    """The swept keys that tell configurations apart."""
    return [k for k in axes if k not in REPLICATES]


def replicate_keys(axes: list[str]) -> list[str]:
    """The swept replicate keys: seed, data.fold, or both."""
    return [k for k in axes if k in REPLICATES]


def replicates_word(axes: list[str], n: int) -> str:
    """'3 seeds', '5 folds', '10 replicates (seeds x folds)', '1 seed'."""
    plural = "" if n == 1 else "s"
    swept = replicate_keys(axes) or [SEED]
    if len(swept) > 1:
        return f"{n} replicate{plural} ({' x '.join(WORDS[k] + 's' for k in swept)})"
    return f"{n} {WORDS[swept[0]]}{plural}"


def config_name(values: dict, keys: list[str]) -> str:
    """'model.lr=0.03 model.hidden=[4]': a configuration as overrides to copy."""
    from experiments.sweeps.values import show

    return " ".join(f"{k}={show(values[k], True)}" for k in keys) or "every job"


def only_replicates(axes: list[str]) -> str:
    """'every job (only seed varies)': the name of a sweep's one configuration."""
    words = [WORDS[k] for k in replicate_keys(axes)] or [WORDS[SEED]]
    return f"every job (only {' and '.join(words)} var{'ies' if len(words) == 1 else 'y'})"
