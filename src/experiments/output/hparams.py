"""TensorBoard's HParams tab and run names for a sweep: the keys the sweep varied come first,
named as on the command line (`model.lr`), marked as differing (so they are the tab's visible
columns), integers shown as integers; the headline metrics lead the metric columns."""

from __future__ import annotations

from functools import cache
from typing import Any

from experiments.output.console import HEADLINE


def varied_keys(planned: dict[int, list[str] | None]) -> set[str]:
    """The keys whose value differs between a sweep's planned jobs."""
    values: dict[str, set[str]] = {}
    for overrides in planned.values():
        for override in overrides or []:
            key, _, value = override.partition("=")
            values.setdefault(key, set()).add(value)
    return {k for k, v in values.items() if len(v) > 1}


def run_name(overrides: list[str], varied: set[str]) -> str:
    """`lr=0.1,max_steps=500,experiment=xor`: the varied keys first, each key by its last part
    unless two keys share it; '/' would make a folder, so it becomes '_'."""
    keys = [o.partition("=")[0] for o in overrides]
    lasts = [k.rsplit(".", 1)[-1] for k in keys]

    def short(override: str) -> str:
        key, _, value = override.partition("=")
        last = key.rsplit(".", 1)[-1]
        return f"{last if lasts.count(last) == 1 else key}={value}"

    first = sorted(o for o in overrides if o.partition("=")[0] in varied)
    rest = sorted(o for o in overrides if o.partition("=")[0] not in varied)
    return ",".join(map(short, first + rest)).replace("/", "_")


def swept_row(
    cfg, choices: dict[str, str], overrides: list[str], varied: set[str]
) -> dict[str, Any]:
    """The swept keys of a job's `overrides` with their typed values, named as on the command
    line."""
    from omegaconf import OmegaConf

    row = {}
    for override in overrides:
        key, _, text = override.partition("=")
        if key in varied:
            value = choices.get(key, OmegaConf.select(cfg, key.lstrip("+"), default=text))
            row[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return row


def shown(value: Any) -> Any:
    """Integers as text, so the tab shows `500`, not `500.0000`; bools stay bools."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def shown_params(params: dict[str, Any]) -> dict[str, Any]:
    """An HParams row as the tab shows it: integers as integers, unset values left out."""
    return {k: shown(v) for k, v in params.items() if v is not None}


def hparams_summaries(params: dict[str, Any], metric_tags: list[str], varied: set[str]) -> list:
    """The experiment (columns), session start (this run's values) and end summaries."""
    from tensorboard.plugins.hparams import summary_v2

    types = {bool: "DATA_TYPE_BOOL", str: "DATA_TYPE_STRING"}
    order = sorted(params, key=lambda k: k not in varied)  # stable: the row's own order after
    columns = tuple(
        (k, types.get(type(params[k]), "DATA_TYPE_FLOAT64"), k in varied) for k in order
    )
    tags = [t for t in HEADLINE if t in metric_tags] + [t for t in metric_tags if t not in HEADLINE]
    return [_experiment(columns, tuple(tags)), summary_v2.hparams_pb(params), _session_end()]


@cache  # the same for every member of a population: built once
def _experiment(columns: tuple[tuple[str, str, bool], ...], tags: tuple[str, ...]):
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    experiment = api_pb2.Experiment(
        hparam_infos=[
            api_pb2.HParamInfo(name=k, type=api_pb2.DataType.Value(kind), differs=differs)
            for k, kind, differs in columns
        ],
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=t)) for t in tags],
    )
    data = plugin_data_pb2.HParamsPluginData(experiment=experiment)
    return _summary(metadata.EXPERIMENT_TAG, data)


@cache
def _session_end():
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS)
    return _summary(
        metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end)
    )


def _summary(tag: str, data):
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata

    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR
    )
    return summary
