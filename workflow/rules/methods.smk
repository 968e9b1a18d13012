# Unlearning methods (config `methods:`), each entry started from the N
# pretrain models, recorded after its listed epochs and scored like the grid.


rule run_unlearning_method:
    input:
        dataset=get_dataset,
        forget_set=get_forget_set,
        checkpoints=get_pretrain_checkpoints,
    output:
        "results/{benchmark}/forget_{k}/methods/{entry}/margins.npz",
    log:
        "logs/run_unlearning_method/{benchmark}/forget_{k}/{entry}.log",
    benchmark:
        "benchmarks/run_unlearning_method/{benchmark}/forget_{k}/{entry}.tsv"
    params:
        # Only this entry's settings: adding or changing another entry
        # leaves this job's outputs alone.
        entry=get_method_entry,
        layout=get_layout,
        n_models=config["n_models"],
        training_epochs=config["training"]["epochs"],
        device=config["device"],
    threads: 1
    resources:
        gpu=get_gpus(),
    conda:
        "../../envs/training.yaml"
    script:
        "../scripts/run_unlearning_method.py"


rule score_unlearning_method:
    input:
        margins="results/{benchmark}/forget_{k}/methods/{entry}/margins.npz",
        oracle=get_oracle_margins,
        hub_commit=get_hub_commit,
    output:
        table="results/{benchmark}/forget_{k}/methods/{entry}/klom.tsv",
        provenance="results/{benchmark}/forget_{k}/methods/{entry}/klom.tsv.json",
    log:
        "logs/score_unlearning_method/{benchmark}/forget_{k}/{entry}.log",
    benchmark:
        "benchmarks/score_unlearning_method/{benchmark}/forget_{k}/{entry}.tsv"
    params:
        layout=get_layout,
        n_models=config["n_models"],
    threads: 1
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/score_epochs.py"
