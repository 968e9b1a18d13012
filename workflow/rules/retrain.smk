# The compute-vs-KLOM grid: N models retrained from scratch on the retain
# split per (noise, seed) cell, margins recorded after every epoch.


rule retrain_models:
    input:
        dataset=get_dataset,
        forget_set=get_forget_set,
    output:
        "results/{benchmark}/forget_{forget_set}/retrain/noise_{noise}/seed_{seed}/margins.npz",
    log:
        "logs/retrain_models/{benchmark}/forget_{forget_set}/noise_{noise}_seed_{seed}.log",
    benchmark:
        "benchmarks/retrain_models/{benchmark}/forget_{forget_set}/noise_{noise}_seed_{seed}.tsv"
    params:
        model=config["model"],
        recipe=get_recipe(),
        n_models=config["n_models"],
        device=config["device"],
        resume_file=resume_file,
    threads: 1
    resources:
        gpu=get_gpus(),
        mem_mb=BENCHMARK.training_memory_mb,
    conda:
        "../../envs/training.yaml"
    script:
        "../scripts/retrain_models.py"
