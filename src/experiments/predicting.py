"""`predict(cfg)`: a checkpoint's model on raw inputs, as a table and `predictions.csv`."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from experiments.checkpoints import (
    model_from_checkpoint,
    preprocessing_from_checkpoint,
    read_checkpoint,
)
from experiments.data.scaler import Scaler
from experiments.errors import ConfigError, DataError, missing_csv
from experiments.inference import predict_raw

log = logging.getLogger(__name__)


def read_inputs(cfg: DictConfig, scaler: Scaler) -> np.ndarray:
    """Raw input rows from `inputs=` or `input_csv=`, checked against the model's input width."""
    if (cfg.inputs is None) == (cfg.input_csv is None):
        raise ConfigError("give the rows to predict: either 'inputs=[[...]]' or input_csv=FILE")
    names = scaler.feature_names
    if cfg.input_csv is not None:
        import pandas as pd

        path = Path(cfg.input_csv)
        if not path.is_file():
            raise missing_csv("input_csv", path)
        frame = pd.read_csv(path)
        if set(names) <= set(frame.columns):
            frame = frame[names]  # extra columns (a label, an id) are left out
        rows = frame.to_numpy()
    else:
        rows = np.asarray(OmegaConf.to_container(cfg.inputs), dtype=object)
    if rows.ndim != 2 or rows.shape[1] != len(names):
        given = rows.shape[1] if rows.ndim == 2 else "ragged rows"
        raise ConfigError(
            f"the model takes {len(names)} inputs per row ({', '.join(names)}); given: {given}"
        )
    try:
        return rows.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"inputs must be numbers: {err}") from err


def predict(cfg: DictConfig):
    """Return the predictions as a pandas DataFrame and write `<output_dir>/predictions.csv`."""
    import pandas as pd

    checkpoint = read_checkpoint(cfg.ckpt_path)
    scaler, task = preprocessing_from_checkpoint(checkpoint)
    rows = read_inputs(cfg, scaler)
    model = model_from_checkpoint(checkpoint)
    outputs = predict_raw(model, scaler, task, rows).numpy()
    table = pd.DataFrame(rows, columns=scaler.feature_names).assign(**task.output_columns(outputs))
    output_dir = Path(cfg.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(output_dir / "predictions.csv", index=False)
    return table
