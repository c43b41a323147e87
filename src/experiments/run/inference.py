"""Raw rows in, outputs in the data's own units out: the one encode-scale-infer-unscale chain, used
after training (`predict_inputs`), by `scripts/predict.py` and by the run's pictures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from experiments.data.encoder import Encoder
from experiments.data.scaler import Scaler
from experiments.tasks import Task, task_from_state


def predict_raw(model, scaler, task, x_raw: Any) -> Tensor:
    """`model`'s outputs for feature rows (encoded, unscaled), in the data's own units, on the
    CPU."""
    return task.outputs(model.eval().infer(scaler.inputs(x_raw)))


@dataclass
class Preprocessing:
    """What a checkpoint keeps besides the network: raw columns -> features (`encoder`),
    features -> model inputs (`scaler`), model outputs -> the data's units and columns (`task`)."""

    encoder: Encoder
    scaler: Scaler
    task: Task

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Preprocessing:
        scaler = Scaler.from_state(state["scaler"])
        # Checkpoints from before the encoder existed held numbers only, named by the scaler.
        encoder = state.get("encoder") or Encoder.numeric(scaler.feature_names).state_dict()
        return cls(Encoder.from_state(encoder), scaler, task_from_state(state["task"]))

    def predict(self, model, frame) -> Tensor:
        """Outputs for a frame of raw cells holding the encoder's columns (checked by
        `Encoder.check`)."""
        return predict_raw(model, self.scaler, self.task, self.encoder.transform(frame))
