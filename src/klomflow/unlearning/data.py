"""What an unlearning method is given besides the models: the splits, and a compute meter."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from klomflow.batches import PerModelBatches
from klomflow.seeds import METHOD_BATCHES, METHOD_NOISE, derive_seed
from klomflow.splits import SPLITS

# Forward-pass equivalents of one training step on one sample: forward plus
# a backward that costs about two forwards.
STEP_COST = 3


@dataclass
class UnlearningData:
    """The splits an unlearning method may use, on the models' device.

    ``retain`` and ``forget`` are (images, labels). Every batch served by
    :meth:`batches` is charged to :attr:`compute`, in forward-pass
    equivalents per model, so that methods are placed on the compute axis
    without knowing how they spend it.
    """

    retain: tuple[torch.Tensor, torch.Tensor]
    forget: tuple[torch.Tensor, torch.Tensor]
    n_models: int
    seed: int
    compute: float = 0.0
    _orders: dict = field(default_factory=dict, repr=False)

    def batches(self, split: str, batch_size: int, cost: float = STEP_COST):
        """One epoch of ``split`` ("retain" or "forget"): (images ``(N, B, ...)``, labels ``(N, B)``).

        Each model sees its own order, fixed by the run seed and the model;
        ``cost`` is charged per sample served (default: one training step).
        """
        images, labels = {"retain": self.retain, "forget": self.forget}[split]
        key = (SPLITS.index(split), batch_size)
        if key not in self._orders:
            seeds = [derive_seed(self.seed, m, METHOD_BATCHES, *key) for m in range(self.n_models)]
            self._orders[key] = PerModelBatches(len(labels), batch_size, seeds, images.device)
        for index in self._orders[key].epoch():
            self.compute += cost * index.shape[1]
            yield images[index], labels[index]

    def generator(self, stream: int = 0) -> torch.Generator:
        """A random generator on the models' device for the method's own noise."""
        return torch.Generator(self.retain[0].device).manual_seed(
            derive_seed(self.seed, METHOD_NOISE, stream)
        )
