"""What a finished run leaves behind for people and scripts: metrics.json and the HParams row."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from omegaconf import DictConfig, OmegaConf


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a temporary file beside `path`, flush it to disk, then rename it over `path`.

    The rename is atomic on one filesystem, so a reader, or a resume after `kill -9`, finds the
    old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    text = json.dumps(payload, indent=2, sort_keys=False) + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))


def write_metrics(
    output_dir: Path,
    status: str,
    error: str | None,
    steps: int,
    seconds: float,
    metrics: dict[str, float],
    **extra: Any,
) -> dict[str, Any]:
    """metrics.json: status (completed, diverged, failed or interrupted), error, steps, seconds,
    then each final metric under its logged name."""
    payload = {"status": status, "error": error, "steps": steps, "seconds": round(seconds, 3)}
    payload.update(sorted(metrics.items()))
    payload.update(extra)
    write_json_atomic(output_dir / "metrics.json", payload)
    return payload


def hparams_of(cfg: DictConfig, choices: dict[str, str]) -> dict[str, Any]:
    """The flat row the TensorBoard HParams tab compares runs by."""
    model = cfg.model
    return {
        "experiment": choices.get("experiment", "none"),
        "model": choices.get("model", model._target_.rsplit(".", 1)[-1]),
        "data": choices.get("data", cfg.data._target_.rsplit(".", 1)[-1]),
        "lr": float(model.lr),
        "max_steps": int(cfg.trainer.max_steps),
        "batch_size": "full" if cfg.data.get("batch_size") is None else int(cfg.data.batch_size),
        "seed": int(cfg.seed),
        "hidden": str(OmegaConf.to_container(model.hidden)),
        "activation": model.activation,
        "output_activation": model.output_activation,
        "bias": bool(model.bias),
        "init": model.init,
        "loss": model.loss,
    }
