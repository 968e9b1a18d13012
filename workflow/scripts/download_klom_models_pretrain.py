from klomflow.joblog import log_to

log_to(snakemake.log[0])

import torch

from klomflow.datasets import load_dataset
from klomflow.devices import resolve_device
from klomflow.easydub import EasyDUBLayout
from klomflow.hub import download_klom_models_pretrain, read_commit

torch.set_num_threads(snakemake.threads)
download_klom_models_pretrain(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
    snakemake.params.n_models,
    {**snakemake.params.hub, "file_list": f"{snakemake.log[0]}.files"},
    read_commit(snakemake.input.commit)["commit"],
    resolve_device(snakemake.params.device),
)
