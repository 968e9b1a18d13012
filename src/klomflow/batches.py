"""Each model's own shuffled order of one split, served as index batches ``(N, batch)``."""

from __future__ import annotations

import torch


class PerModelBatches:
    """Index batches ``(N, batch)`` in which every model has its own shuffled order."""

    def __init__(self, n_samples: int, batch_size: int, seeds: list[int], device):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.device = device
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]

    def __len__(self) -> int:
        # A last batch of one sample would break BatchNorm in training mode, so
        # that sample waits for the next epoch's order.
        full, rest = divmod(self.n_samples, self.batch_size)
        return full + (rest > 1)

    def epoch(self, skip: int = 0):
        """The batches of one epoch, less its first ``skip``; draws each model's next permutation."""
        # Drawn on the CPU so that CPU and GPU runs see the same order.
        order = torch.stack([torch.randperm(self.n_samples, generator=g) for g in self.generators])
        order = order.to(self.device)
        for step in range(skip, len(self)):
            yield order[:, step * self.batch_size : (step + 1) * self.batch_size]

    def state_dict(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.generators]

    def load_state_dict(self, states: list[torch.Tensor]) -> None:
        for g, s in zip(self.generators, states):
            g.set_state(s)
