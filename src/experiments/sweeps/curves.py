"""Learning curves over replicates: `curves.csv` and `curves.png` at the sweep root.

Per configuration (the jobs that differ only by seed or fold) and per logged step, `val/loss`
and `train/loss` over its completed replicates: `n`, `mean` and `std` (ddof=1, NaN for n=1),
the numbers behind the picture's band. Ordinary jobs' curves are read from their TensorBoard
event files; a vectorized population hands its curves over from memory (`save_population`,
one small file per writer under `<sweep>/.curves/`), so its thousands of event files are not
read again. `experiments.sweeps.mean_runs` writes the same numbers as TensorBoard runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from experiments.atomic import write_csv_atomic
from experiments.sweeps.replicates import config_keys, config_name
from experiments.sweeps.values import CURVE_TAGS

log = logging.getLogger(__name__)

MEMORY = ".curves"
Points = list[tuple[int, float]]


def save_population(sweep_dir: Path, name: str, jobs: Iterable[tuple[int, dict[str, Points]]]):
    """A population's curves, as `(job number, {tag: [(step, value)]})`, into one file."""
    rows = [
        (job, CURVE_TAGS.index(tag), step, value)
        for job, curves in jobs
        for tag, points in curves.items()
        for step, value in points
    ]
    columns = np.array(rows, dtype=np.float64).reshape(-1, 4).T
    folder = Path(sweep_dir) / MEMORY
    folder.mkdir(exist_ok=True)
    np.save(folder / f"{name}.npy", columns)


def _from_memory(sweep_dir: Path):
    import pandas as pd

    files = sorted((Path(sweep_dir) / MEMORY).glob("*.npy"), key=lambda p: p.stat().st_mtime)
    parts = [np.load(p) for p in files]  # oldest first: a job written again keeps its last
    job, tag, step, value = np.concatenate(parts, axis=1) if parts else np.zeros((4, 0))
    tags = np.asarray(CURVE_TAGS)[tag.astype(np.int64)]
    frame = pd.DataFrame({"job": job.astype(np.int64), "tag": tags, "step": step, "value": value})
    return frame.drop_duplicates(["job", "tag", "step"], keep="last")


def _from_events(job: int, job_dir: Path) -> list[tuple[int, str, int, float]]:
    """(job, tag, step, value) of `CURVE_TAGS` in the job's event files, as TensorBoard shows
    them: a step logged twice (the final one, again with the HParams; a resumed run) keeps its
    last value, and a resumed run's marker (`SessionLog.START` at step s) drops the steps from s
    on that earlier attempts logged."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
    from tensorboard.compat.proto.event_pb2 import SessionLog
    from tensorboard.util import tensor_util

    points: dict[tuple[str, int], float] = {}
    for path in sorted(job_dir.glob("tensorboard/**/events.out.tfevents.*")):
        for event in LegacyEventFileLoader(str(path)).Load():
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                points = {key: value for key, value in points.items() if key[1] < event.step}
            for v in event.summary.value:
                if v.tag in CURVE_TAGS:
                    number = v.simple_value if v.HasField("simple_value") else None
                    number = tensor_util.make_ndarray(v.tensor).item() if number is None else number
                    points[v.tag, event.step] = float(number)
    return [(job, tag, step, value) for (tag, step), value in points.items()]


def read_curves(sweep_dir: Path, jobs: list[int]):
    """A DataFrame (job, tag, step, value) of these jobs' curves: from memory where a population
    left them, else from the job's event files."""
    import pandas as pd

    memory = _from_memory(sweep_dir)
    memory = memory[memory["job"].isin(jobs)]
    rest = sorted(set(jobs) - set(memory["job"]))
    read = [row for job in rest for row in _from_events(job, Path(sweep_dir) / str(job))]
    frame = pd.DataFrame(read, columns=["job", "tag", "step", "value"])
    frame = pd.concat([memory, frame], ignore_index=True) if len(frame) else memory
    return frame.astype({"step": np.int64})


def bands(sweep_dir: Path, table, axes: list[str]):
    """(curves.csv: configuration, its swept values, tag, step, n, mean, std; the curves of every
    completed job with its configuration), configurations in the jobs' order."""
    import pandas as pd

    keys = config_keys(axes)
    done = table[table["status"] == "completed"]
    names = done[["job", *keys]].copy()
    names["configuration"] = [config_name(row, keys) for row in names.to_dict("records")]
    order = list(dict.fromkeys(names["configuration"]))
    names["code"] = names["configuration"].map({name: i for i, name in enumerate(order)})
    curves = read_curves(sweep_dir, list(done["job"])).sort_values(["job", "tag", "step"])
    # Grouped by integer codes, not names: a population's curves are a million points.
    code = curves["job"].map(names.set_index("job")["code"]).to_numpy()
    curves["configuration"] = pd.Categorical.from_codes(code, categories=order)
    grouped = curves.groupby([code, curves["tag"].to_numpy(), curves["step"].to_numpy()])
    frame = grouped["value"].agg(n="count", mean="mean", std="std")
    frame.index.names = ["code", "tag", "step"]
    configs = names.drop_duplicates("code").set_index("code")[["configuration", *keys]]
    frame = frame.reset_index().join(configs, on="code")
    return frame[["configuration", *keys, "tag", "step", "n", "mean", "std"]], curves


def write(sweep_dir: Path, table, axes: list[str], metric: str, mode: str, best: dict | None):
    """curves.csv, curves.png and tensorboard_mean/ at the sweep root (see the module)."""
    from experiments.sweeps import curves_figure, mean_runs

    frame, curves = bands(sweep_dir, table, axes)
    write_csv_atomic(Path(sweep_dir) / "curves.csv", frame)
    best_name = config_name(best, config_keys(axes)) if best else None
    curves_figure.save(
        Path(sweep_dir) / "curves.png", frame, curves, table, metric, mode, best_name
    )
    mean_runs.write(Path(sweep_dir) / mean_runs.FOLDER, frame)
