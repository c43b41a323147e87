"""`model=mlp`: the same architecture from `torch.nn.Linear`, trained with autograd."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import skip_init

from experiments.models.architecture import build_network
from experiments.models.base import LessonModule

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "identity": nn.Identity,
}
LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy}


def _linear(fan_in: int, fan_out: int, bias: bool) -> nn.Linear:
    # skip_init: nn.Linear's constructor would draw from the RNG before our shared init does.
    return skip_init(nn.Linear, fan_in, fan_out, bias=bias)


class MLPModule(LessonModule):
    """Autograd: `manual_backward` of the torch loss, then `SGD.step()`. Optimization is manual
    so that one Lightning batch can carry several updates (see `LessonModule.training_step`)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False
        self.net = build_network(self.arch, _linear, ACTIVATIONS, nn.Sequential)
        self.criterion = LOSSES[self.hparams.loss]

    def compute_loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return self.criterion(pred, y)

    def loss_and_gradients(self, x: Tensor, y: Tensor) -> Tensor:
        self.zero_grad()
        loss = self.criterion(self.net(x), y)
        self.manual_backward(loss)
        return loss.detach()
