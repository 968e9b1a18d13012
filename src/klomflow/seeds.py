"""Every random stream of klomflow, each a SeedSequence key of small integers.

A run's seed alone never seeds a generator: it is combined with the model's
index and the stream's key below, so that model m of a run is the same model
whatever N is, and no two streams (or two runs of different kinds) share
random numbers. The keys are gathered here so that a new stream can be seen
not to collide with an old one.
"""

from __future__ import annotations

import numpy as np

# Streams of one training run, keyed (run seed, model, stream) or (run seed, stream).
INIT, DATA_ORDER, TRAINING_NOISE = 0, 1, 2

# The reference models' run seeds, keyed (reference seed, kind[, forget set]):
# the retraining grid's run seeds are small integers, so these never make an
# oracle the very model a retraining cell trains.
PRETRAIN_RUN, ORACLE_RUN = 1, 2

# Streams of an unlearning run, keyed (setting seed, model, stream, ...) or
# (setting seed, stream, ...).
METHOD_BATCHES, METHOD_NOISE = 11, 12


def derive_seed(*key: int) -> int:
    """A 63-bit seed from a tuple of non-negative integers (e.g. run seed, model index)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0] >> 1)
