# The tables and figures: per forget set first, then every forget set of the
# config gathered into one table each (long format, with benchmark and
# forget_set columns), the figures across forget sets, the leaderboard, and
# the summary of what the run could not score.


# Each takes under a second, also at the full EasyDUB size: on a cluster they
# run on the submitting node rather than wait for a queue.
localrules:
    gather_retraining_cells,
    gather_method_settings,
    plot_forget_set_compute_vs_klom,
    plot_forget_set_methods,
    gather_baselines,
    gather_compute_vs_klom,
    gather_methods,
    plot_compute_vs_klom,
    plot_methods,
    gather_model_counts,
    plot_model_counts,
    rank_forget_set_methods,
    rank_methods,
    summarize_run,


rule gather_retraining_cells:
    input:
        tables=get_retraining_tables,
        replicates=get_retraining_replicates,
        hub_commit=get_hub_commit,
    output:
        table="results/{benchmark}/forget_{forget_set}/compute_vs_klom.tsv",
        replicates="results/{benchmark}/forget_{forget_set}/compute_vs_klom_p95_replicates.npy",
        provenance="results/{benchmark}/forget_{forget_set}/compute_vs_klom.tsv.json",
    log:
        "logs/gather_retraining_cells/{benchmark}/forget_{forget_set}.log",
    benchmark:
        "benchmarks/gather_retraining_cells/{benchmark}/forget_{forget_set}.tsv"
    params:
        labels=get_retraining_labels,
        columns=GRID_COLUMNS,
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/gather_tables.py"


rule gather_method_settings:
    input:
        tables=get_method_tables,
        replicates=get_method_replicates,
        hub_commit=get_hub_commit,
    output:
        table="results/{benchmark}/forget_{forget_set}/methods.tsv",
        replicates="results/{benchmark}/forget_{forget_set}/methods_p95_replicates.npy",
        provenance="results/{benchmark}/forget_{forget_set}/methods.tsv.json",
    log:
        "logs/gather_method_settings/{benchmark}/forget_{forget_set}.log",
    benchmark:
        "benchmarks/gather_method_settings/{benchmark}/forget_{forget_set}.tsv"
    params:
        labels=get_method_labels,
        columns=METHOD_COLUMNS,
        methods=get_method_code_records,
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/gather_tables.py"


rule plot_forget_set_compute_vs_klom:
    input:
        curves="results/{benchmark}/forget_{forget_set}/compute_vs_klom.tsv",
        curves_replicates="results/{benchmark}/forget_{forget_set}/compute_vs_klom_p95_replicates.npy",
        baselines="results/{benchmark}/forget_{forget_set}/baselines.tsv",
        baselines_replicates="results/{benchmark}/forget_{forget_set}/baselines_p95_replicates.npy",
    output:
        report(
            "results/{benchmark}/forget_{forget_set}/compute_vs_klom.png",
            caption="../report/compute_vs_klom.rst",
            category="Compute vs KLOM",
        ),
    log:
        "logs/plot_forget_set_compute_vs_klom/{benchmark}/forget_{forget_set}.log",
    benchmark:
        "benchmarks/plot_forget_set_compute_vs_klom/{benchmark}/forget_{forget_set}.tsv"
    params:
        title=get_forget_set_title,
    conda:
        "../../envs/plotting.yaml"
    script:
        "../scripts/plot_compute_vs_klom.py"


rule plot_forget_set_methods:
    input:
        unpack(get_forget_set_methods_figure_inputs),
    output:
        figure=report(
            "results/{benchmark}/forget_{forget_set}/methods.png",
            caption="../report/methods.rst",
            category="Unlearning methods",
        ),
        diverged="results/{benchmark}/forget_{forget_set}/methods_diverged.txt",
    log:
        "logs/plot_forget_set_methods/{benchmark}/forget_{forget_set}.log",
    benchmark:
        "benchmarks/plot_forget_set_methods/{benchmark}/forget_{forget_set}.tsv"
    params:
        title=get_forget_set_title,
    conda:
        "../../envs/plotting.yaml"
    script:
        "../scripts/plot_methods.py"


rule gather_baselines:
    input:
        tables=expand(
            "results/{benchmark}/forget_{forget_set}/baselines.tsv",
            benchmark=BENCHMARK.name,
            forget_set=FORGET_SETS,
        ),
        replicates=expand(
            "results/{benchmark}/forget_{forget_set}/baselines_p95_replicates.npy",
            benchmark=BENCHMARK.name,
            forget_set=FORGET_SETS,
        ),
        hub_commit=get_hub_commit,
    output:
        replicates="results/baselines_p95_replicates.npy",
        table=report(
            "results/baselines.tsv",
            caption="../report/baselines.rst",
            category="Baselines",
        ),
        provenance=report(
            "results/baselines.tsv.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/gather_baselines/baselines.log",
    benchmark:
        "benchmarks/gather_baselines/baselines.tsv"
    params:
        columns=BASELINE_COLUMNS,
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/gather_tables.py"


rule gather_compute_vs_klom:
    input:
        tables=expand(
            "results/{benchmark}/forget_{forget_set}/compute_vs_klom.tsv",
            benchmark=BENCHMARK.name,
            forget_set=RETRAIN_FORGET_SETS,
        ),
        replicates=expand(
            "results/{benchmark}/forget_{forget_set}/compute_vs_klom_p95_replicates.npy",
            benchmark=BENCHMARK.name,
            forget_set=RETRAIN_FORGET_SETS,
        ),
        hub_commit=get_hub_commit,
    output:
        replicates="results/compute_vs_klom_p95_replicates.npy",
        table=report(
            "results/compute_vs_klom.tsv",
            caption="../report/compute_vs_klom_table.rst",
            category="Compute vs KLOM",
        ),
        provenance="results/compute_vs_klom.tsv.json",
    log:
        "logs/gather_compute_vs_klom/compute_vs_klom.log",
    benchmark:
        "benchmarks/gather_compute_vs_klom/compute_vs_klom.tsv"
    params:
        columns=GRID_COLUMNS,
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/gather_tables.py"


rule gather_methods:
    input:
        tables=expand(
            "results/{benchmark}/forget_{forget_set}/methods.tsv",
            benchmark=BENCHMARK.name,
            forget_set=FORGET_SETS,
        ),
        replicates=expand(
            "results/{benchmark}/forget_{forget_set}/methods_p95_replicates.npy",
            benchmark=BENCHMARK.name,
            forget_set=FORGET_SETS,
        ),
        hub_commit=get_hub_commit,
    output:
        replicates="results/methods_p95_replicates.npy",
        table=report(
            "results/methods.tsv",
            caption="../report/methods_table.rst",
            category="Unlearning methods",
        ),
        provenance="results/methods.tsv.json",
    log:
        "logs/gather_methods/methods.log",
    benchmark:
        "benchmarks/gather_methods/methods.tsv"
    params:
        columns=METHOD_COLUMNS,
        methods=get_method_code_records,
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/gather_tables.py"


rule plot_compute_vs_klom:
    input:
        curves="results/compute_vs_klom.tsv",
        curves_replicates="results/compute_vs_klom_p95_replicates.npy",
        baselines="results/baselines.tsv",
        baselines_replicates="results/baselines_p95_replicates.npy",
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
        title=figure_title(RETRAIN_FORGET_SETS),
    conda:
        "../../envs/plotting.yaml"
    script:
        "../scripts/plot_compute_vs_klom.py"


rule plot_methods:
    input:
        methods="results/methods.tsv",
        methods_replicates="results/methods_p95_replicates.npy",
        baselines="results/baselines.tsv",
        baselines_replicates="results/baselines_p95_replicates.npy",
        curves="results/compute_vs_klom.tsv",
        curves_replicates="results/compute_vs_klom_p95_replicates.npy",
    output:
        figure=report(
            "results/methods.png",
            caption="../report/methods.rst",
            category="Unlearning methods",
        ),
        diverged="results/methods_diverged.txt",
    log:
        "logs/plot_methods/methods.log",
    benchmark:
        "benchmarks/plot_methods/methods.tsv"
    params:
        title=figure_title(FORGET_SETS),
    conda:
        "../../envs/plotting.yaml"
    script:
        "../scripts/plot_methods.py"


rule gather_model_counts:
    input:
        tables=expand(
            "results/{benchmark}/forget_{forget_set}/n_models.tsv",
            benchmark=BENCHMARK.name,
            forget_set=FORGET_SETS,
        ),
        replicates=expand(
            "results/{benchmark}/forget_{forget_set}/n_models_p95_replicates.npy",
            benchmark=BENCHMARK.name,
            forget_set=FORGET_SETS,
        ),
        hub_commit=get_hub_commit,
    output:
        table=report(
            "results/{benchmark}/n_models.tsv",
            caption="../report/n_models_table.rst",
            category="Baselines",
        ),
        replicates="results/{benchmark}/n_models_p95_replicates.npy",
        provenance="results/{benchmark}/n_models.tsv.json",
    log:
        "logs/gather_model_counts/{benchmark}.log",
    benchmark:
        "benchmarks/gather_model_counts/{benchmark}.tsv"
    params:
        columns=MODEL_COUNT_COLUMNS,
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/gather_tables.py"


rule plot_model_counts:
    input:
        "results/{benchmark}/n_models.tsv",
    output:
        report(
            "results/{benchmark}/n_models.png",
            caption="../report/n_models.rst",
            category="Baselines",
        ),
    log:
        "logs/plot_model_counts/{benchmark}.log",
    benchmark:
        "benchmarks/plot_model_counts/{benchmark}.tsv"
    params:
        title=figure_title(FORGET_SETS),
    conda:
        "../../envs/plotting.yaml"
    script:
        "../scripts/plot_model_counts.py"


rule rank_forget_set_methods:
    input:
        unpack(get_forget_set_leaderboard_inputs),
        hub_commit=get_hub_commit,
    output:
        table=report(
            "results/{benchmark}/forget_{forget_set}/leaderboard.tsv",
            caption="../report/leaderboard.rst",
            category="Leaderboard",
        ),
        provenance="results/{benchmark}/forget_{forget_set}/leaderboard.tsv.json",
    log:
        "logs/rank_forget_set_methods/{benchmark}/forget_{forget_set}.log",
    benchmark:
        "benchmarks/rank_forget_set_methods/{benchmark}/forget_{forget_set}.tsv"
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/rank_methods.py"


rule rank_methods:
    input:
        methods="results/methods.tsv",
        methods_replicates="results/methods_p95_replicates.npy",
        baselines="results/baselines.tsv",
        baselines_replicates="results/baselines_p95_replicates.npy",
        curves="results/compute_vs_klom.tsv",
        curves_replicates="results/compute_vs_klom_p95_replicates.npy",
        hub_commit=get_hub_commit,
    output:
        table=report(
            "results/leaderboard.tsv",
            caption="../report/leaderboard.rst",
            category="Leaderboard",
        ),
        markdown=report(
            "results/leaderboard.md",
            caption="../report/leaderboard.rst",
            category="Leaderboard",
        ),
        provenance="results/leaderboard.tsv.json",
    log:
        "logs/rank_methods/leaderboard.log",
    benchmark:
        "benchmarks/rank_methods/leaderboard.tsv"
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/rank_methods.py"


rule summarize_run:
    input:
        unpack(get_run_summary_inputs),
    output:
        report(
            "results/run_summary.txt",
            caption="../report/run_summary.rst",
            category="Run summary",
        ),
    log:
        "logs/summarize_run/run_summary.log",
    benchmark:
        "benchmarks/summarize_run/run_summary.tsv"
    conda:
        "../../envs/scoring.yaml"
    script:
        "../scripts/summarize_run.py"
