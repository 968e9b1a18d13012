from klomflow.joblog import log_to

log_to(snakemake.log[0])

import torch

from klomflow.datasets import load_dataset
from klomflow.devices import resolve_device
from klomflow.hub import KlomModelsSource, read_commit
from klomflow.layout import EasyDUBLayout
from klomflow.reference import build_pretrain_margins

torch.set_num_threads(snakemake.threads)
layout = EasyDUBLayout.for_benchmark(**snakemake.params.layout)
KlomModelsSource(layout).download_pretrain(
    snakemake.params.n_models,
    {**snakemake.params.hub, "file_list": f"{snakemake.log[0]}.files"},
    read_commit(snakemake.input.commit)["commit"],
)
# KLOM-models holds no pretrain margins: they come from the checkpoints just placed.
build_pretrain_margins(
    layout.format,
    load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
    n_models=snakemake.params.n_models,
    device=resolve_device(snakemake.params.device),
    checkpoint_dir=snakemake.output.checkpoints,
    retain_dir=snakemake.output.retain,
    val_dir=snakemake.output.val,
)
