"""Raw rows in, outputs in the data's own units out: the one scale-infer-unscale chain, used after
training (`predict_inputs`), by `scripts/predict.py` and by the run's pictures."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def predict_raw(model, scaler, task, x_raw: Any) -> Tensor:
    """`model`'s outputs for raw (unscaled) input rows, in the data's own units, on the CPU."""
    return task.outputs(model.eval().infer(scaler.inputs(x_raw)))
