"""The benchmarks klomflow knows: the one registry of their facts.

Everything that differs between benchmarks and is not an experiment choice
lives here, read by the workflow's rules, its scripts, the benchmark scripts
and the tests alike: the split sizes, the image shape, the model that takes
the images, the forget sets, and where a reference set can come from.

A reference set holds, per forget set, ``n_oracles(N)`` oracle models: the
first N are what unlearned models are scored against, the other N, disjoint
from them, give the oracle floor (oracle against oracle).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Benchmark:
    """One benchmark's dataset, model and forget sets.

    ``name`` is also its name in the EasyDUB layout; ``forget_sets`` maps each
    forget set's number to what it holds; ``sources`` are the places its
    pretrain and oracle models can come from (config ``reference.source``).
    """

    name: str
    n_train: int
    n_val: int
    image_shape: tuple[int, int, int]  # (channels, height, width)
    model: str  # the architecture of klomflow.models that takes the images
    forget_sets: dict[int, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    # Host memory (MB) a training job asks a cluster for (resource mem_mb).
    # Digits: 2.5x the 0.8 GB peak of its largest job (pretraining, N = 100).
    # CIFAR-10: the images, N ResNet9 copies for the host side of the GPU run
    # and 576 MB of margins per cell; 16 GB leaves room (peak not measured).
    training_memory_mb: int = 4000


# What each forget set holds, by number.
DIGITS_FORGET_SETS = {
    # Picked by klomflow.datasets.digits_forget_set; docs/recipe.md says why.
    1: "the 50 train images farthest from their class mean (atypical)",
    2: "100 random train images",
    3: "the 100 train images highest on the first principal component",
}
CIFAR10_FORGET_SETS = {
    # EasyDUB's (docs/sources.md); the files come from the hub.
    1: "10 random train images",
    2: "100 random train images",
    3: "500 random train images",
    4: "the 10 highest on the first principal component of the datamodel matrix",
    5: "the 100 highest on the first principal component of the datamodel matrix",
    6: "250 highest and 250 lowest on the first principal component",
    7: "the 10 highest on the second principal component",
    8: "the 100 highest on the second principal component",
    9: "250 highest and 250 lowest on the second principal component",
    10: "the 100 train images nearest train image 6 in CLIP space",
}
HUB_SOURCES = ("easydub", "klom-models")

# One row per benchmark, in the order of Benchmark's fields:
#   name, n_train, n_val, image_shape, model, forget_sets, sources, training_memory_mb
_REGISTRY = [
    Benchmark("digits", 1438, 359, (1, 8, 8), "digits_cnn", DIGITS_FORGET_SETS, ("local",), 2000),
    Benchmark(
        "cifar10", 50_000, 10_000, (3, 32, 32), "resnet9", CIFAR10_FORGET_SETS, HUB_SOURCES, 16000
    ),
]
BENCHMARKS = {benchmark.name: benchmark for benchmark in _REGISTRY}


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def n_oracles(n_models: int) -> int:
    """Oracle models a reference set needs per forget set for N scored models: 2N.

    Oracles 0..N-1 score the unlearned models; N..2N-1 score oracles 0..N-1
    (the floor).
    """
    return 2 * n_models
