"""Reference sets from the HuggingFace hub, in the EasyDUB layout (docs/sources.md).

Two sources, one object each: :class:`EasyDUBSource` (the EasyDUB dataset,
already in the layout) and :class:`KlomModelsSource` (KLOM-models: oracles
as logits, pretrain models as checkpoints). Both fetch through the shared
client (:mod:`klomflow.hub.client`: commits, fetching, one-line errors).
Callers import from here.
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
from klomflow.hub.easydub import EasyDUBSource, forget_set_in
from klomflow.hub.klom_models import KlomModelsSource, match_models
from klomflow.hub.sources import SOURCES, HubSource, source

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
