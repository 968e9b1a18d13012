# Reference sets from the HuggingFace hub (reference.source: easydub or
# klom-models): the configured revision resolved to its commit once, then
# fetched at that commit a part at a time, only the files the run needs, and
# checked before a job declares them done.


# On a cluster these run on the submitting (login) node: compute nodes often
# have no internet. download_klom_models_pretrain is not among them because it
# evaluates the checkpoints on a GPU; on a cluster whose GPU nodes are offline,
# fill the hub cache (config hub.cache_dir) from the login node first.
localrules:
    resolve_hub_revision,
    download_easydub_forget_set,
    download_easydub,
    download_klom_models_forget_set,
    download_klom_models_oracles,


# A branch moves; its commit is looked up here once and every download job
# fetches at it. Changing hub.<source>.revision resolves again; to follow a
# branch that moved, run with `--forcerun resolve_hub_revision`.
rule resolve_hub_revision:
    output:
        "resources/{benchmark}/{source}/hub_commit.json",
    log:
        "logs/resolve_hub_revision/{benchmark}_{source}.log",
    wildcard_constraints:
        source=HUB_SOURCE_NAMES,
    params:
        hub=get_hub_of_source,
        needed=get_hub_run_files,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/resolve_hub_revision.py"


# The EasyDUB dataset is already in the layout: a job fetches one file or
# folder of it (klomflow.hub.EasyDUBSource.part_of), the forget set first,
# since the margins on it are checked against it.
rule download_easydub_forget_set:
    input:
        commit="resources/{benchmark}/easydub/hub_commit.json",
    output:
        "resources/{benchmark}/easydub/forget_sets/{benchmark}/forget_set_{forget_set}.npy",
    log:
        "logs/download_easydub_forget_set/{benchmark}_forget_{forget_set}.log",
    benchmark:
        "benchmarks/download_easydub_forget_set/{benchmark}_forget_{forget_set}.tsv"
    params:
        hub=get_hub("easydub"),
        layout=get_layout,
        n_models=config["n_models"],
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/download_easydub.py"


# Each folder of margins or checkpoints: margins/{benchmark}/pretrain/{retain,
# val, forget_{forget_set}}/{model}, margins/{benchmark}/oracle/forget_{forget_set}
# and models/{benchmark}/pretrain/{model}.
rule download_easydub:
    input:
        unpack(get_easydub_inputs),
    output:
        directory("resources/{benchmark}/easydub/{folder}"),
    log:
        "logs/download_easydub/{benchmark}/{folder}.log",
    benchmark:
        "benchmarks/download_easydub/{benchmark}/{folder}.tsv"
    wildcard_constraints:
        folder=r"(margins|models)/.+",
    params:
        hub=get_hub("easydub"),
        layout=get_layout,
        n_models=config["n_models"],
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/download_easydub.py"


rule download_klom_models_forget_set:
    input:
        commit="resources/{benchmark}/klom-models/hub_commit.json",
    output:
        "resources/{benchmark}/klom-models/forget_sets/{benchmark}/forget_set_{forget_set}.npy",
    log:
        "logs/download_klom_models_forget_set/{benchmark}_forget_{forget_set}.log",
    benchmark:
        "benchmarks/download_klom_models_forget_set/{benchmark}_forget_{forget_set}.tsv"
    params:
        hub=get_hub("klom-models"),
        layout=get_layout,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/download_klom_models_forget_set.py"


rule download_klom_models_oracles:
    input:
        commit="resources/{benchmark}/klom-models/hub_commit.json",
        dataset=get_dataset,
        forget_set="resources/{benchmark}/klom-models/forget_sets/{benchmark}/forget_set_{forget_set}.npy",
    output:
        directory(
            "resources/{benchmark}/klom-models/margins/{benchmark}/oracle/forget_{forget_set}"
        ),
    log:
        "logs/download_klom_models_oracles/{benchmark}_forget_{forget_set}.log",
    benchmark:
        "benchmarks/download_klom_models_oracles/{benchmark}_forget_{forget_set}.tsv"
    params:
        hub=get_hub("klom-models"),
        layout=get_layout,
        n_models=config["n_models"],
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/download_klom_models_oracles.py"


rule download_klom_models_pretrain:
    input:
        commit="resources/{benchmark}/klom-models/hub_commit.json",
        dataset=get_dataset,
    output:
        retain=directory(
            "resources/{benchmark}/klom-models/margins/{benchmark}/pretrain/retain/{model}"
        ),
        val=directory("resources/{benchmark}/klom-models/margins/{benchmark}/pretrain/val/{model}"),
        checkpoints=directory(
            "resources/{benchmark}/klom-models/models/{benchmark}/pretrain/{model}"
        ),
    log:
        "logs/download_klom_models_pretrain/{benchmark}_{model}.log",
    benchmark:
        "benchmarks/download_klom_models_pretrain/{benchmark}_{model}.tsv"
    params:
        hub=get_hub("klom-models"),
        layout=get_layout,
        n_models=config["n_models"],
        device=config["device"],
    resources:
        gpu=get_gpus(),
        mem_mb=BENCHMARK.training_memory_mb,
    conda:
        "../../envs/training.yaml"
    script:
        "../scripts/download_klom_models_pretrain.py"
