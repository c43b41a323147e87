"""summary.md: the jobs' table, the best job (or configuration), and, when seeds are swept, the
per-configuration table as `mean ± std` (see `sweeps.report`, which builds the tables)."""

from __future__ import annotations

from typing import Any

from experiments.sweeps.replicates import config_keys, replicate_keys
from experiments.sweeps.values import plus_minus, show


def md_table(frame, right: list[str]) -> list[str]:
    """A Markdown table of the cells as `show` writes them; the `right` columns aligned right."""

    def cell(value: Any) -> str:
        return show(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |"]
    lines.append("|" + "|".join("---:" if c in right else "---" for c in frame.columns) + "|")
    return lines + ["| " + " | ".join(map(cell, r)) + " |" for r in frame.itertuples(index=False)]


def config_table(configs, keys: list[str], metric: str):
    """summary.md's view of the per-configuration table: 'mean ± std' cells."""
    shown = configs[keys].copy()
    counts = zip(configs["n"], configs["jobs"].str.split().str.len(), strict=True)
    shown["n"] = [f"{n}" if n == of else f"{n} of {of}" for n, of in counts]
    for m in [c.removesuffix("_mean") for c in configs.columns if c.endswith("_mean")]:
        stats = zip(configs[f"{m}_mean"], configs[f"{m}_std"], strict=True)
        shown[m] = [plus_minus(mean, std) for mean, std in stats]
        if m == metric:
            bounds = zip(configs[f"{m}_ci95_low"], configs[f"{m}_ci95_high"], strict=True)
            shown[f"{m} 95 % CI"] = [f"{a:.4g} to {b:.4g}" if a == a else "" for a, b in bounds]
    return shown


def markdown(table, axes, configs, best, shared, metric: str, mode: str, name: str) -> str:
    from pandas.api.types import is_numeric_dtype

    better = "lower" if mode == "min" else "higher"
    done = f"{(table['status'] == 'completed').sum()} completed; {metric}: {better} is better"
    lines = [f"# Sweep {name}: {len(table)} jobs, {done}", ""]
    lines += [f"Every job: {' '.join(shared)}", ""] if shared else []
    shown = table.drop(columns=["overrides"])
    lines += md_table(shown, [c for c in shown.columns if is_numeric_dtype(shown[c])])
    lines += ["", best or f"No completed job has {metric}."]
    if configs is not None:
        keys = config_keys(axes)
        shown = config_table(configs, keys, metric)
        left = [k for k in keys if not is_numeric_dtype(configs[k])]
        over = " and ".join(f"{k.removeprefix('data.')}s" for k in replicate_keys(axes))
        lines += ["", f"## By configuration: mean ± std over {over} (n completed)", ""]
        lines += md_table(shown, [c for c in shown.columns if c not in left])
    return "\n".join(lines) + "\n"
