"""Reference sets from the HuggingFace hub, in the EasyDUB layout (docs/sources.md).

Two sources, one object each: :class:`EasyDUBSource` (the EasyDUB dataset,
already in the layout) and :class:`KlomModelsSource` (KLOM-models: oracles
as logits, pretrain models as checkpoints). Both fetch through the shared
client (:mod:`klomflow.hub.client`: commits, fetching, one-line errors).
Callers import from here.

The sources are imported when first asked for, not with this package: the
KLOM-models source evaluates checkpoints and so imports torch, while every
table job reads its hub commit record (:func:`read_commit`) through this
package and must not pay seconds and hundreds of megabytes for torch.
"""

from klomflow.hub.client import (
    HUB_FILE_EPOCH,
    HUB_MODELS,
    HubError,
    check_model_count,
    download_command,
    read_commit,
    resolve_commit,
    resolve_run_commit,
    write_commit,
)

_FROM_EASYDUB = ("EasyDUBSource", "forget_set_in")
_FROM_KLOM_MODELS = ("KlomModelsSource", "match_models")
_FROM_SOURCES = ("SOURCES", "HubSource", "source")


def __getattr__(name: str):
    # Written as import statements, not a table of module names, so that a
    # reader (and tests/unit/test_envs.py's import scan) sees where each comes from.
    if name in _FROM_EASYDUB:
        from klomflow.hub import easydub as module
    elif name in _FROM_KLOM_MODELS:
        from klomflow.hub import klom_models as module
    elif name in _FROM_SOURCES:
        from klomflow.hub import sources as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)


__all__ = [
    "HUB_FILE_EPOCH",
    "HUB_MODELS",
    "SOURCES",
    "EasyDUBSource",
    "HubError",
    "HubSource",
    "KlomModelsSource",
    "check_model_count",
    "download_command",
    "forget_set_in",
    "match_models",
    "read_commit",
    "resolve_commit",
    "resolve_run_commit",
    "source",
    "write_commit",
]
