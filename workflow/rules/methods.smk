# Unlearning methods: every setting of config `methods:` (an entry, or one
# combination of its sweep) on every forget set, started from the N pretrain
# models, recorded after its listed epochs and scored like the grid.


rule run_unlearning_method:
    input:
        dataset=get_dataset,
        forget_set=get_forget_set,
        checkpoints=get_pretrain_checkpoints,
    output:
        "results/{benchmark}/forget_{forget_set}/methods/{setting}/margins.npz",
    log:
        "logs/run_unlearning_method/{benchmark}/forget_{forget_set}/{setting}.log",
    benchmark:
        "benchmarks/run_unlearning_method/{benchmark}/forget_{forget_set}/{setting}.tsv"
    params:
        # Only this setting's values: adding or changing another setting
        # leaves this job's outputs alone.
        setting=get_method_setting,
        # The method's code, hashed: editing it re-runs this setting.
        method_code=get_method_code,
        reference=get_reference_format(),
        n_models=config["n_models"],
        training_epochs=config["training"]["epochs"],
        device=config["device"],
    threads: 1
    resources:
        gpu=get_gpus(),
        mem_mb=BENCHMARK.training_memory_mb,
    conda:
        "../../envs/training.yaml"
    script:
        "../scripts/run_unlearning_method.py"


rule score_unlearning_method:
    input:
        margins="results/{benchmark}/forget_{forget_set}/methods/{setting}/margins.npz",
        oracle=get_oracle_margins,
        forget_set=get_forget_set,
        hub_commit=get_hub_commit,
    output:
        table="results/{benchmark}/forget_{forget_set}/methods/{setting}/klom.tsv",
        replicates="results/{benchmark}/forget_{forget_set}/methods/{setting}/klom_p95_replicates.npy",
        provenance="results/{benchmark}/forget_{forget_set}/methods/{setting}/klom.tsv.json",
    log:
        "logs/score_unlearning_method/{benchmark}/forget_{forget_set}/{setting}.log",
    benchmark:
        "benchmarks/score_unlearning_method/{benchmark}/forget_{forget_set}/{setting}.tsv"
    params:
        reference=get_reference_format(),
        n_models=config["n_models"],
        methods=get_method_code_records,
    threads: 1
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/score_epochs.py"
