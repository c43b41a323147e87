"""The two lesson models: hand-written backprop and torch autograd, one architecture config."""

from experiments.models.mlp import MLPModule
from experiments.models.scratch import ScratchModule

__all__ = ["MLPModule", "ScratchModule"]
