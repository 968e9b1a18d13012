# klomflow: the EasyDUB data-unlearning benchmark as a workflow.
#
# The story: get the data, get (download or train) the reference models, retrain N
# models per (noise, seed) cell, score everything with KLOM against the
# oracles, run and score the unlearning methods, draw compute against KLOM.
#
# Paths (the one scheme every rule follows; the rules are its only owner, and
# every script reads exactly the files its rule declares):
#   resources/digits/data.npz                         the embedded benchmark's images
#   resources/cifar10/images/                         CIFAR-10 (config cifar10_dir), torchvision's layout
#   resources/{benchmark}/{source}/                   reference set in the EasyDUB layout (docs/sources.md),
#                                                     source = local | easydub | klom-models:
#       forget_sets/{benchmark}/forget_set_{forget_set}.npy
#       margins/{benchmark}/pretrain/{retain,val,forget_{forget_set}}/{model}/id_{m}_epoch_{e}.npy
#       margins/{benchmark}/oracle/forget_{forget_set}/{retain,forget,val}/{model}/id_{m}_epoch_{e}.npy
#       models/{benchmark}/pretrain/{model}/id_{m}_epoch_{e}.pt
#   results/{benchmark}/forget_{forget_set}/          one forget set:
#       baselines.tsv                                 pretrain and oracle floor against the oracles
#       retrain/noise_{noise}/seed_{seed}/margins.npz (epochs, N, n) per split
#       retrain/noise_{noise}/seed_{seed}/klom.tsv    KLOM per epoch and split
#       methods/{setting}/margins.npz, klom.tsv       one per method setting (entry or sweep point)
#       compute_vs_klom.tsv, .png; methods.tsv, .png  that forget set's tables and figures
#       leaderboard.tsv                               that forget set's settings, ranked
#       methods_diverged.txt                          the settings the methods figure leaves out
#       n_models.tsv                                  baselines' P95 with the first n of the N models
#   results/{benchmark}/n_models.tsv, .png            the same, every forget set
#   results/                                          every forget set, with benchmark and forget_set columns:
#       baselines.tsv, eval_pretrain.tsv, compute_vs_klom.tsv, .png, methods.tsv, .png,
#       leaderboard.tsv, .md, methods_diverged.txt
#       run_summary.txt                               what the run could not score, and why
#   <table>_p95_replicates.npy                        beside every KLOM table <table>.tsv: each row's
#                                                     P95 bootstrap replicates (klomflow.uncertainty)
#   logs/<rule>/..., benchmarks/<rule>/...             one per job, mirroring its output
#   resume/<output>.pt                                a training job's state while it runs

from snakemake.utils import min_version

# The release pyproject.toml requires (its lower bound).
min_version("9.27")


# A --configfile is a whole experiment (config/easydub-cifar10.yaml is one):
# config.yaml is read only when none is given, so that none of its method
# entries, grid or forget sets leak into another benchmark's run.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/retrain.smk"
include: "workflow/rules/klom.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/cluster.smk"


rule all:
    input:
        get_final_outputs(),


onsuccess:
    print_run_summary()
