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
from klomflow.hub.easydub import EASYDUB_REPO, EasyDUBSource
from klomflow.hub.klom_models import KLOM_MODELS_REPO, KlomModelsSource, match_models
from klomflow.hub.sources import SOURCES, HubSource, source

__all__ = [
    "EASYDUB_REPO",
    "HUB_FILE_EPOCH",
    "HUB_MODELS",
    "KLOM_MODELS_REPO",
    "SOURCES",
    "EasyDUBSource",
    "HubError",
    "HubSource",
    "KlomModelsSource",
    "check_model_count",
    "download_command",
    "match_models",
    "read_commit",
    "resolve_commit",
    "resolve_run_commit",
    "source",
    "write_commit",
]
