"""What a finished run leaves behind for people and scripts: metrics.json, weights.pth and the
TensorBoard HParams row. Ordinary runs and vectorized members write them through `finish_run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from experiments.architecture import Architecture
from experiments.atomic import write_atomic, write_json_atomic


def write_metrics(
    output_dir: Path,
    status: str,
    error: str | None,
    steps: int,
    seconds: float,
    metrics: dict[str, float],
    resumed_from_step: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """metrics.json: status (completed, diverged, failed or interrupted), error, steps, seconds,
    resumed_from_step (the checkpoint's step when the run resumed, else null), then each final
    metric under its logged name."""
    payload = {"status": status, "error": error, "steps": steps, "seconds": round(seconds, 3)}
    payload["resumed_from_step"] = resumed_from_step
    payload.update(sorted(metrics.items()))
    payload.update(extra)
    write_json_atomic(Path(output_dir) / "metrics.json", payload)
    return payload


def hparams_of(
    cfg: DictConfig, choices: dict[str, str], sweep: tuple[list[str], set[str]] = ([], set())
) -> dict[str, Any]:
    """The flat row the TensorBoard HParams tab compares runs by: in a sweep, the keys it varies
    first, as typed (`model.lr`); then the run's own, less those the swept keys already name.
    `sweep` is the job's (overrides, varied keys) (`Job.sweep`): none for a single run."""
    from experiments.output.hparams import swept_row

    swept = swept_row(cfg, choices, *sweep)
    lasts = {key.rsplit(".", 1)[-1] for key in swept}
    row = {
        "experiment": choices.get("experiment", "none"),
        "model": choices.get("model", cfg.model._target_.rsplit(".", 1)[-1]),
        "data": choices.get("data", cfg.data._target_.rsplit(".", 1)[-1]),
        "max_steps": int(cfg.trainer.max_steps),
        "batch_size": "full" if cfg.data.get("batch_size") is None else int(cfg.data.batch_size),
        "seed": int(cfg.seed),
        **Architecture.from_config(cfg.model).hparams(),
    }
    return {**swept, **{k: v for k, v in row.items() if k not in lasts}}


def _ours(logger: Any) -> bool:
    """`HParamsLogger` and `EventFileRun`: their HParams row takes the final metrics, and the run
    closes them (`end_run`); Lightning's own loggers have neither."""
    return callable(getattr(logger, "end_run", None))


def close_logger(logger: Any, status: str, hparams: dict, metrics: dict, step: int) -> None:
    """The final metrics and the HParams row, then the logger closed: ours by its own methods, any
    other Lightning logger by `log_metrics`, `log_hyperparams` and `finalize`."""
    if _ours(logger):
        if metrics:
            logger.log_hyperparams(hparams, metrics, step)
        logger.end_run(status)
        return
    if metrics:
        logger.log_metrics(metrics, step)
    logger.log_hyperparams(hparams)
    logger.finalize("success" if status == "completed" else "failed")


def finish_run(
    output_dir: Path,
    record: dict[str, Any],
    weights: dict | None = None,
    logger: Any = None,
    hparams: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a run's results: `weights.pth` (the lesson's saveWeights, a plain state_dict for the
    matching `torch.nn.Sequential`), `metrics.json` from `record` (status, error, steps,
    seconds, metrics, extras), and, to each logger (one, a list, or none), the final metrics and
    the HParams row (`close_logger`)."""
    output_dir = Path(output_dir)
    if weights is not None:
        import torch

        write_atomic(output_dir / "weights.pth", lambda f: torch.save(weights, f))
    record = write_metrics(output_dir, **record)
    metrics = {k: v for k, v in record.items() if "/" in k and isinstance(v, (int, float))}
    for each in logger if isinstance(logger, (list, tuple)) else [logger] if logger else []:
        close_logger(each, record["status"], hparams or {}, metrics, record["steps"])
    return record
