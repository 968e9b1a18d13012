# The tables and the figure of the configured benchmark and forget set.


rule collect_compute_vs_klom:
    input:
        tables=get_retraining_cells()[0],
        hub_commit=get_hub_commit,
    output:
        table=report(
            "results/compute_vs_klom.tsv",
            caption="../report/compute_vs_klom_table.rst",
            category="Compute vs KLOM",
        ),
        provenance="results/compute_vs_klom.tsv.json",
    log:
        "logs/collect_compute_vs_klom/compute_vs_klom.log",
    benchmark:
        "benchmarks/collect_compute_vs_klom/compute_vs_klom.tsv"
    params:
        labels=get_retraining_cells()[1],
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/collect_compute_vs_klom.py"


rule plot_compute_vs_klom:
    input:
        curves="results/compute_vs_klom.tsv",
        baselines="results/baselines.tsv",
    output:
        report(
            "results/compute_vs_klom.png",
            caption="../report/compute_vs_klom.rst",
            category="Compute vs KLOM",
        ),
    log:
        "logs/plot_compute_vs_klom/compute_vs_klom.log",
    benchmark:
        "benchmarks/plot_compute_vs_klom/compute_vs_klom.tsv"
    params:
        title=(
            f"{config['benchmark']}, forget set {config['forget_set']}, "
            f"N = {config['n_models']} models"
        ),
    conda:
        "../../envs/plotting.yaml"
    script:
        "../scripts/plot_compute_vs_klom.py"


rule collect_methods:
    input:
        tables=get_method_tables()[0],
        hub_commit=get_hub_commit,
    output:
        table=report(
            "results/methods.tsv",
            caption="../report/methods_table.rst",
            category="Unlearning methods",
        ),
        provenance="results/methods.tsv.json",
    log:
        "logs/collect_methods/methods.log",
    benchmark:
        "benchmarks/collect_methods/methods.tsv"
    params:
        labels=get_method_tables()[1],
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/collect_methods.py"


rule plot_methods:
    input:
        methods="results/methods.tsv",
        baselines="results/baselines.tsv",
        curves="results/compute_vs_klom.tsv",
    output:
        report(
            "results/methods.png",
            caption="../report/methods.rst",
            category="Unlearning methods",
        ),
    log:
        "logs/plot_methods/methods.log",
    benchmark:
        "benchmarks/plot_methods/methods.tsv"
    params:
        title=(
            f"{config['benchmark']}, forget set {config['forget_set']}, "
            f"N = {config['n_models']} models"
        ),
    conda:
        "../../envs/plotting.yaml"
    script:
        "../scripts/plot_methods.py"
