# The reference set trained locally (reference.source: local): N pretrain
# models on the whole train split, n_oracles(N) = 2N oracles per forget set on
# its retain split. The forget-set margins of the pretrain models are cut from
# their train margins (also for klom-models, whose pretrain margins the
# pipeline computes).


rule train_pretrain_models:
    input:
        dataset=get_dataset,
    output:
        retain=directory("resources/{benchmark}/local/margins/{benchmark}/pretrain/retain/{model}"),
        val=directory("resources/{benchmark}/local/margins/{benchmark}/pretrain/val/{model}"),
        checkpoints=directory("resources/{benchmark}/local/models/{benchmark}/pretrain/{model}"),
    log:
        "logs/train_pretrain_models/{benchmark}_{model}.log",
    benchmark:
        "benchmarks/train_pretrain_models/{benchmark}_{model}.tsv"
    params:
        reference=get_reference_format(),
        recipe=get_recipe(),
        n_models=config["n_models"],
        reference_seed=config["reference"]["seed"],
        device=config["device"],
        resume_file=resume_file,
    threads: 1
    resources:
        gpu=get_gpus(),
        mem_mb=BENCHMARK.training_memory_mb,
    conda:
        "../../envs/training.yaml"
    script:
        "../scripts/train_pretrain_models.py"


rule slice_pretrain_forget_margins:
    input:
        retain="resources/{benchmark}/{source}/margins/{benchmark}/pretrain/retain/{model}",
        forget_set="resources/{benchmark}/{source}/forget_sets/{benchmark}/forget_set_{forget_set}.npy",
    output:
        directory(
            "resources/{benchmark}/{source}/margins/{benchmark}/pretrain/forget_{forget_set}/{model}"
        ),
    log:
        "logs/slice_pretrain_forget_margins/{benchmark}_{source}_{model}_forget_{forget_set}.log",
    benchmark:
        "benchmarks/slice_pretrain_forget_margins/{benchmark}_{source}_{model}_forget_{forget_set}.tsv"
    wildcard_constraints:
        source=SLICED_SOURCE_NAMES,
    params:
        reference=get_reference_format(),
        n_models=config["n_models"],
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/slice_pretrain_forget_margins.py"


rule train_oracle_models:
    input:
        dataset=get_dataset,
        forget_set="resources/{benchmark}/local/forget_sets/{benchmark}/forget_set_{forget_set}.npy",
    output:
        directory("resources/{benchmark}/local/margins/{benchmark}/oracle/forget_{forget_set}"),
    log:
        "logs/train_oracle_models/{benchmark}_forget_{forget_set}.log",
    benchmark:
        "benchmarks/train_oracle_models/{benchmark}_forget_{forget_set}.tsv"
    params:
        reference=get_reference_format(),
        recipe=get_recipe(),
        n_models=config["n_models"],
        reference_seed=config["reference"]["seed"],
        device=config["device"],
        resume_file=resume_file,
    threads: 1
    resources:
        gpu=get_gpus(),
        mem_mb=BENCHMARK.training_memory_mb,
    conda:
        "../../envs/training.yaml"
    script:
        "../scripts/train_oracle_models.py"
