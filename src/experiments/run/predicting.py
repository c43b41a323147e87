"""`predict(cfg)`: a checkpoint's model on raw rows, as a table and `predictions.csv`.

Rows come from `inputs=[[...]]` (values in the model's column order) or `input_csv=FILE`
(columns by name: a header is required, extra columns such as an id or the label are ignored).
Cells are read as training read them (`Encoder.check`): a number column holds numbers, text
columns are one-hot encoded with the training categories, and empty cells follow the training
run's `data.missing`. A model trained on images predicts image files (`predict_images`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from experiments.atomic import write_csv_atomic
from experiments.data.cells import Where, file_rows, frame_rows
from experiments.data.encoder import Encoder
from experiments.data.reader import read_header_and_rows
from experiments.errors import ConfigError, DataError, missing_csv
from experiments.run.checkpoints import (
    model_from_checkpoint,
    preprocessing_from_checkpoint,
    read_checkpoint,
)
from experiments.run.predict_images import is_image_checkpoint, predict_images

log = logging.getLogger(__name__)


def read_inputs(cfg: DictConfig, encoder: Encoder) -> tuple[pd.DataFrame, Where, str]:
    """(raw rows under the model's column names, where each row sits, where they came from)."""
    if (cfg.inputs is None) == (cfg.input_csv is None):
        raise ConfigError("give the rows to predict: either 'inputs=[[...]]' or input_csv=FILE")
    names = encoder.columns
    if cfg.input_csv is None:
        rows = np.asarray(OmegaConf.to_container(cfg.inputs), dtype=object)
        if rows.ndim != 2 or rows.shape[1] != len(names):
            given = rows.shape[1] if rows.ndim == 2 else "ragged rows"
            raise ConfigError(
                f"the model takes {len(names)} inputs per row ({', '.join(names)}); given: {given}"
            )
        return pd.DataFrame(rows, columns=names), frame_rows(), "inputs"
    path = Path(cfg.input_csv).expanduser()
    if not path.is_file():
        raise missing_csv("input_csv", path)
    frame = read_header_and_rows(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    lacking = [c for c in names if c not in frame.columns]
    if lacking:
        raise DataError(
            f"{path} lacks the column{'s' if len(lacking) > 1 else ''} "
            f"{', '.join(map(repr, lacking))} the model takes; its columns are: "
            f"{', '.join(frame.columns)}. The model reads columns by name: {', '.join(names)}"
        )
    if frame.empty:
        raise DataError(f"{path} has a header but no rows to predict")
    return frame[names], file_rows(path), str(path)


def predict(cfg: DictConfig) -> pd.DataFrame:
    """Return the predictions as a pandas DataFrame and write `<output_dir>/predictions.csv`."""
    checkpoint = read_checkpoint(cfg.ckpt_path)
    if is_image_checkpoint(checkpoint):
        return predict_images(cfg, checkpoint)
    if cfg.get("input_dir") is not None:
        raise ConfigError(
            "input_dir is for a model trained on images, and this one was trained on a table: "
            "give 'inputs=[[...]]' or input_csv=FILE"
        )
    preprocessing = preprocessing_from_checkpoint(checkpoint)
    frame, where, source = read_inputs(cfg, preprocessing.encoder)
    frame = preprocessing.encoder.check(frame, where, source)
    model = model_from_checkpoint(checkpoint)
    outputs = preprocessing.predict(model, frame).numpy()
    table = frame.assign(**preprocessing.task.output_columns(outputs))
    output_dir = Path(cfg.output_dir)
    write_csv_atomic(output_dir / "predictions.csv", table)
    return table
