# Scoring with KLOM against oracles 0..N-1: every epoch of every grid cell,
# and, per forget set, the two baselines (pretrain, and the oracle floor),
# also with the first n of the N models, to show what N buys.


rule score_retraining:
    input:
        margins="results/{benchmark}/forget_{forget_set}/retrain/noise_{noise}/seed_{seed}/margins.npz",
        oracle=get_oracle_margins,
        forget_set=get_forget_set,
        hub_commit=get_hub_commit,
    output:
        table="results/{benchmark}/forget_{forget_set}/retrain/noise_{noise}/seed_{seed}/klom.tsv",
        replicates="results/{benchmark}/forget_{forget_set}/retrain/noise_{noise}/seed_{seed}/klom_p95_replicates.npy",
        provenance="results/{benchmark}/forget_{forget_set}/retrain/noise_{noise}/seed_{seed}/klom.tsv.json",
    log:
        "logs/score_retraining/{benchmark}/forget_{forget_set}/noise_{noise}_seed_{seed}.log",
    benchmark:
        "benchmarks/score_retraining/{benchmark}/forget_{forget_set}/noise_{noise}_seed_{seed}.tsv"
    params:
        reference=get_reference_format(),
        n_models=config["n_models"],
    threads: 1
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/score_epochs.py"


rule score_baselines:
    input:
        unpack(get_baseline_inputs),
    output:
        table="results/{benchmark}/forget_{forget_set}/baselines.tsv",
        replicates="results/{benchmark}/forget_{forget_set}/baselines_p95_replicates.npy",
        provenance="results/{benchmark}/forget_{forget_set}/baselines.tsv.json",
    log:
        "logs/score_baselines/{benchmark}/forget_{forget_set}.log",
    benchmark:
        "benchmarks/score_baselines/{benchmark}/forget_{forget_set}.tsv"
    params:
        reference=get_reference_format(),
        labels=forget_set_labels,
        n_models=config["n_models"],
    threads: 1
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/score_baselines.py"


rule score_model_counts:
    input:
        unpack(get_baseline_inputs),
    output:
        table="results/{benchmark}/forget_{forget_set}/n_models.tsv",
        replicates="results/{benchmark}/forget_{forget_set}/n_models_p95_replicates.npy",
        provenance="results/{benchmark}/forget_{forget_set}/n_models.tsv.json",
    log:
        "logs/score_model_counts/{benchmark}/forget_{forget_set}.log",
    benchmark:
        "benchmarks/score_model_counts/{benchmark}/forget_{forget_set}.tsv"
    params:
        reference=get_reference_format(),
        labels=forget_set_labels,
        n_models=config["n_models"],
    threads: 1
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/score_model_counts.py"


rule eval_pretrain:
    input:
        "results/baselines.tsv",
        hub_commit=get_hub_commit,
    output:
        table=report(
            "results/eval_pretrain.tsv",
            caption="../report/eval_pretrain.rst",
            category="Baselines",
        ),
        provenance="results/eval_pretrain.tsv.json",
    log:
        "logs/eval_pretrain/eval_pretrain.log",
    benchmark:
        "benchmarks/eval_pretrain/eval_pretrain.tsv"
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/eval_pretrain.py"
