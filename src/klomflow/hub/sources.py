"""What both hub sources offer the workflow, and the lookup by the name in the config."""

from __future__ import annotations

from typing import ClassVar, Protocol

from klomflow.hub.easydub import EasyDUBSource
from klomflow.hub.klom_models import KlomModelsSource
from klomflow.layout import EasyDUBLayout


class HubSource(Protocol):
    """A reference set on the hub, fetched into an EasyDUB layout (``reference.source``)."""

    name: ClassVar[str]
    layout: EasyDUBLayout

    def run_files(self, n_models: int, forget_sets: list[int], checkpoints: bool) -> list[str]:
        """Every file a run fetches, as ``hf download --include`` patterns.

        The same selection the download jobs make. ``checkpoints``: whether
        the run needs the pretrain checkpoints (unlearning methods do).
        """
        ...


SOURCES: dict[str, type[HubSource]] = {
    kind.name: kind for kind in (EasyDUBSource, KlomModelsSource)
}


def source(name: str, layout: EasyDUBLayout) -> HubSource:
    """The hub source ``name`` (``reference.source``), fetching into ``layout``."""
    if name not in SOURCES:
        raise ValueError(f"reference.source: {name} is not a hub source ({', '.join(SOURCES)})")
    return SOURCES[name](layout)
