"""The benchmarks klomflow knows: the one registry of their facts.

Everything that differs between benchmarks and is not an experiment choice
lives here, read by the workflow's rules, its scripts, the benchmark scripts
and the tests alike: the split sizes, the image shape and classes, the model
that takes the images, how the images are loaded, the forget sets, and where
a reference set can come from (each source with its config key under ``hub``
and its repository on the hub). No code elsewhere branches on a benchmark's
or a source's name; the config schema's enums are held to this registry by a test.

A reference set holds, per forget set, ``n_oracles(N)`` oracle models: the
first N are what unlearned models are scored against, the other N, disjoint
from them, give the oracle floor (oracle against oracle).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReferenceSource:
    """A place the pretrain and oracle models can come from (config ``reference.source``).

    ``hub_key``: its settings' key under config ``hub`` (repo, revision), None
    for the models the pipeline trains itself; ``repo_id``: the dataset
    repository on the HuggingFace hub it is fetched from by default;
    ``serves_margins``: it holds the pretrain models' margins ready-made, on
    every forget set too (else the workflow computes them from the models).
    """

    name: str
    hub_key: str | None = None
    repo_id: str | None = None
    serves_margins: bool = False


LOCAL = ReferenceSource("local")
EASYDUB = ReferenceSource("easydub", "easydub", "easydub/EasyDUB-dataset", serves_margins=True)
KLOM_MODELS = ReferenceSource("klom-models", "klom_models", "royrin/KLOM-models")
REFERENCE_SOURCES = {source.name: source for source in (LOCAL, EASYDUB, KLOM_MODELS)}
HUB_SOURCES = {name: source for name, source in REFERENCE_SOURCES.items() if source.hub_key}


@dataclass(frozen=True)
class Benchmark:
    """One benchmark's dataset, model and forget sets.

    ``name`` is also its name in the EasyDUB layout; ``forget_sets`` maps each
    forget set's number to what it holds; ``forget_set_sizes`` the sizes known
    before the data exist (none where they come with the download);
    ``sources`` are the places its pretrain and oracle models can come from.
    ``images``: where the workflow keeps the images, as a path or a config key
    in braces; ``loader``: the function of :mod:`klomflow.datasets` that reads
    them from there. ``reducible``: a config's ``split_sizes`` may name a
    smaller copy (a downloaded dataset; not one built the same way every time).
    """

    name: str
    n_train: int
    n_val: int
    image_shape: tuple[int, int, int]  # (channels, height, width)
    n_classes: int
    model: str  # the architecture of klomflow.models that takes the images
    images: str
    loader: str
    reducible: bool
    forget_sets: dict[int, str] = field(default_factory=dict)
    forget_set_sizes: dict[int, int] = field(default_factory=dict)
    sources: dict[str, ReferenceSource] = field(default_factory=dict)
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
DIGITS_FORGET_SET_SIZES = {1: 50, 2: 100, 3: 100}
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

_REGISTRY = [
    Benchmark(
        "digits",
        n_train=1438,
        n_val=359,
        image_shape=(1, 8, 8),
        n_classes=10,
        model="digits_cnn",
        # Built from scikit-learn's bundle by the workflow's build_digits.
        images="resources/digits/data.npz",
        loader="load_saved_dataset",
        reducible=False,
        forget_sets=DIGITS_FORGET_SETS,
        forget_set_sizes=DIGITS_FORGET_SET_SIZES,
        sources={"local": LOCAL},
        training_memory_mb=2000,
    ),
    Benchmark(
        "cifar10",
        n_train=50_000,
        n_val=10_000,
        image_shape=(3, 32, 32),
        n_classes=10,
        model="resnet9",
        images="{cifar10_dir}",
        loader="load_cifar10",
        reducible=True,
        forget_sets=CIFAR10_FORGET_SETS,
        sources=HUB_SOURCES,
        training_memory_mb=16000,
    ),
]
BENCHMARKS = {benchmark.name: benchmark for benchmark in _REGISTRY}


def reference_source(name: str) -> ReferenceSource:
    """The reference source called ``name`` in config ``reference.source``."""
    if name not in REFERENCE_SOURCES:
        raise ValueError(
            f"unknown reference source {name!r}; known: {', '.join(REFERENCE_SOURCES)}"
        )
    return REFERENCE_SOURCES[name]


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
