"""`<sweep>/tensorboard_mean/<configuration>/`: one TensorBoard run per configuration with the
mean over its replicates of `val/loss` and `train/loss` and mean ± std (`<tag>/mean`,
`<tag>/mean_minus_std`, `<tag>/mean_plus_std`), and a Custom Scalars layout whose margin chart
draws each mean inside its band (`tensorboard --logdir <sweep>/tensorboard_mean`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.custom_scalar import layout_pb2, metadata
from tensorboard.util import tensor_util

from experiments.output.event_file import EventFileRun
from experiments.sweeps.values import CURVE_TAGS

FOLDER = "tensorboard_mean"
SERIES = ("mean", "mean_minus_std", "mean_plus_std")
BOUNDS = ("value", "lower", "upper")  # the margin chart's names of SERIES


def run_name(configuration: str) -> str:
    """A folder name: 'model.lr=0.1 model.hidden=[4]' -> 'model.lr=0.1,model.hidden=[4]'."""
    return configuration.replace(" ", ",").replace("/", "_") or "every_job"


def layout() -> layout_pb2.Layout:
    """One margin chart per tag: the mean, between mean - std and mean + std."""
    charts = [
        layout_pb2.Chart(
            title=f"{tag}: mean ± std over replicates",
            margin=layout_pb2.MarginChartContent(
                series=[
                    layout_pb2.MarginChartContent.Series(
                        value=f"{tag}/mean",
                        lower=f"{tag}/mean_minus_std",
                        upper=f"{tag}/mean_plus_std",
                    )
                ]
            ),
        )
        for tag in CURVE_TAGS
    ]
    return layout_pb2.Layout(category=[layout_pb2.Category(title="replicates", chart=charts)])


def layout_summary() -> summary_pb2.Summary:
    """The layout as TensorBoard's `custom_scalar_pb` writes it (without needing TensorFlow)."""
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=metadata.CONFIG_SUMMARY_TAG,
        metadata=metadata.create_summary_metadata(),
        tensor=tensor_util.make_tensor_proto(layout().SerializeToString()),
    )
    return summary


def write(folder: Path, frame) -> None:
    """The runs of curves.csv's `frame` (configuration, tag, step, n, mean, std); an earlier
    report's runs are replaced."""
    shutil.rmtree(folder, ignore_errors=True)
    summary = layout_summary()
    for number, (name, rows) in enumerate(frame.groupby("configuration", sort=False)):
        run = EventFileRun(folder / run_name(name), set(), number)
        run.log_summary(summary, 0)
        by_step: dict[int, dict[str, float]] = {}
        for tag, step, mean, std in rows[["tag", "step", "mean", "std"]].itertuples(index=False):
            spread = 0.0 if np.isnan(std) else std  # one replicate: no band
            values = dict(zip(SERIES, (mean, mean - spread, mean + spread), strict=True))
            by_step.setdefault(int(step), {}).update({f"{tag}/{k}": v for k, v in values.items()})
        for step in sorted(by_step):
            run.log_metrics(by_step[step], step)
        run.end_run("completed")
