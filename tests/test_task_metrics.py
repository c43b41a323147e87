"""A population's metrics, computed for every member at once, equal each member's own `evaluate`:
including members that predict one class only (macro F1 over the classes that occur) and
confusion counts."""

from __future__ import annotations

import pytest
import torch

from experiments.tasks import BinaryTask, MulticlassTask, RegressionTask

MEMBERS, ROWS = 12, 30


def _outputs(task, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(members, rows, outputs) predictions and (rows, outputs) targets; the first two members
    predict a single class throughout."""
    classes = len(task.classes) if isinstance(task, MulticlassTask) else 2
    codes = torch.randint(0, classes, (ROWS,), generator=generator)
    if isinstance(task, MulticlassTask):
        y = torch.nn.functional.one_hot(codes, classes).double()
        pred = torch.rand(MEMBERS, ROWS, classes, generator=generator, dtype=torch.float64)
        pred[0, :, 0], pred[1, :, 1] = 2.0, 2.0
    else:
        y = codes.double().unsqueeze(-1)
        pred = torch.rand(MEMBERS, ROWS, 1, generator=generator, dtype=torch.float64)
        pred[0], pred[1] = 0.0, 1.0
    return pred, y


@pytest.mark.parametrize("stage", ["val", "test"])
@pytest.mark.parametrize(
    "task",
    [BinaryTask(), MulticlassTask(["a", "b", "c", "d"])],
    ids=["binary", "multiclass"],
)
@pytest.mark.parametrize("seed", range(5))
def test_members_metrics_equal_each_members_own(task, stage, seed) -> None:
    pred, y = _outputs(task, torch.Generator().manual_seed(seed))
    together = task.evaluate_members(stage, pred, y)
    for m in range(MEMBERS):
        alone = task.evaluate(stage, pred[m], y)
        assert together.keys() == alone.keys()
        for name, value in alone.items():
            assert together[name][m].dtype == value.dtype, name
            assert torch.equal(together[name][m], value), (m, name)


@pytest.mark.parametrize("stage", ["val", "test"])
def test_regression_members_metrics_equal_each_members_own(stage) -> None:
    task = RegressionTask(target_scale=2.0)
    generator = torch.Generator().manual_seed(0)
    pred = torch.randn(MEMBERS, ROWS, 2, generator=generator, dtype=torch.float64)
    y = torch.randn(ROWS, 2, generator=generator, dtype=torch.float64)
    together = task.evaluate_members(stage, pred, y)
    for m in range(MEMBERS):
        for name, value in task.evaluate(stage, pred[m], y).items():
            assert together[name][m].item() == pytest.approx(value.item(), rel=1e-12), name
