"""An endless stream of batches drawn from tensors already in memory.

Lessons train on 4-row tables, so one DataLoader epoch per step would re-run Lightning's per-epoch
work (progress-bar reset, loader re-creation) every step. Instead the training set is one endless
epoch that `trainer.max_steps` ends. (`experiments.loop.chunking` groups its batches, several
updates to one Lightning batch.)
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import IterableDataset


class EndlessBatches(IterableDataset):
    """Yields (x, y) forever.

    batch_size None (or >= rows): the whole table every step (full-batch gradient descent).
    replacement False: reshuffle each pass and walk it in mini-batches (the last may be short).
    replacement True: every batch drawn uniformly with replacement (the heart lesson's
    `np.random.randint` pick of one row per step).
    skip: batches to draw and drop first, so a resumed run continues the same sequence.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int | None,
        replacement: bool,
        seed: int,
        skip: int = 0,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.replacement = replacement
        self.seed = seed
        self.skip = skip

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        batches = self._batches()
        for _ in range(self.skip):
            next(batches)
        yield from batches

    def _batches(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.x)
        if self.batch_size is None or self.batch_size >= n:
            while True:
                yield self.x, self.y
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            if self.replacement:
                idx = torch.randint(n, (self.batch_size,), generator=generator)
                yield self.x[idx], self.y[idx]
                continue
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                yield self.x[idx], self.y[idx]
