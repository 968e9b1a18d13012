"""Unlearning methods, all N models at once (docs/methods.md).

Where to look:

- :mod:`~klomflow.unlearning.methods`: the built-in methods, each an example
  of a method of your own (how one is written is said there);
- :mod:`~klomflow.unlearning.data`: :class:`UnlearningData`, the splits a
  method may use and the compute it spends;
- :mod:`~klomflow.unlearning.parameters`: the types that bound a method's
  parameters (``PositiveFloat``, ``Range``, ...) and the check of config
  values against them;
- :mod:`~klomflow.unlearning.registry`: a method from its name in config, a
  built-in or ``path/to/file.py:function`` / ``package.module:function``;
- :mod:`~klomflow.unlearning.settings`: config ``methods:`` entries and the
  settings their sweeps expand to;
- :mod:`~klomflow.unlearning.runner`: one setting run on the pretrain models,
  margins recorded after its epochs.

What a method of your own may use is importable from here.
"""

from klomflow.unlearning.data import STEP_COST, UnlearningData
from klomflow.unlearning.methods import METHODS
from klomflow.unlearning.parameters import (
    BatchSize,
    Epochs,
    Momentum,
    NonNegativeFloat,
    PositiveFloat,
    Range,
)
from klomflow.unlearning.runner import run_method, unlearn

__all__ = [
    "METHODS",
    "STEP_COST",
    "BatchSize",
    "Epochs",
    "Momentum",
    "NonNegativeFloat",
    "PositiveFloat",
    "Range",
    "UnlearningData",
    "run_method",
    "unlearn",
]
