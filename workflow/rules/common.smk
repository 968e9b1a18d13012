import sys
from pathlib import Path

import yaml
from jsonschema import ValidationError
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from klomflow.benchmarks import HUB_SOURCES, REFERENCE_SOURCES, reference_source
from klomflow.config_checks import ConfigError, check_config, check_device, noise_label
from klomflow.layout import EasyDUBLayout
from klomflow.hub import HUB_FILE_EPOCH, forget_set_in, source
from klomflow.model_counts import MODEL_COUNT_COLUMNS
from klomflow.results_owner import check_results_benchmark
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, METHOD_COLUMNS
from klomflow.unlearning.code import method_code_hash
from klomflow.unlearning.registry import method_module_file, resolve_method
from klomflow.unlearning.settings import swept_values

# -- the config ----------------------------------------------------------------

# Checked before anything runs, so that no job's outputs are deleted for a
# mistake: first against the schema (which fills in the defaults), then by
# klomflow.config_checks.check_config, which checks the rest and works out
# what the rules are handed. Every mistake is one ConfigError line naming the key.
SCHEMA_FILE = Path(workflow.current_basedir) / "../schemas/config.schema.yaml"
try:
    try:
        validate(config, "../schemas/config.schema.yaml")
    except WorkflowError as error:
        # Snakemake's message dumps the whole schema; name the key instead.
        if not isinstance(error.__context__, ValidationError):
            raise
        raise ConfigError.of_schema(error.__context__) from None
    CHECKED = check_config(config, yaml.safe_load(SCHEMA_FILE.read_text()))
except ConfigError as error:
    raise WorkflowError(str(error)) from None
for warning in CHECKED.warnings:
    print(f"warning: {warning}", file=sys.stderr)

BENCHMARK = CHECKED.benchmark
# The gathered tables and figures (results/*.tsv, *.png) have one name for
# every benchmark: stop before a run could overwrite or mix another's.
try:
    check_results_benchmark("results", BENCHMARK.name)
except ValueError as error:
    raise WorkflowError(str(error)) from None
SOURCE = reference_source(config["reference"]["source"])
# The values of a {source} wildcard, from the registry (klomflow.benchmarks).
HUB_SOURCE_NAMES = "|".join(HUB_SOURCES)
# Those whose pretrain margins on a forget set are cut from their train margins here.
SLICED_SOURCE_NAMES = "|".join(
    name for name, source in REFERENCE_SOURCES.items() if not source.serves_margins
)
FORGET_SETS = config["forget_sets"]
# The grid is the expensive part (on CIFAR-10, twelve GPU cells per forget
# set): by default every forget set gets it, but a config may pick fewer.
RETRAIN_FORGET_SETS = CHECKED.retrain_forget_sets
METHOD_SETTINGS = CHECKED.method_settings


onstart:
    # Once the jobs are planned, before the first runs (and before Snakemake
    # deletes the outputs it will replace). Only where the jobs run on this
    # machine (a cluster's run on its GPU nodes, and check the device there),
    # and only when a planned job runs models: downloading and scoring the
    # CIFAR-10 reference set needs no GPU, whatever `device` says.
    if workflow.local_exec and uses_the_device(workflow.dag.needrun_jobs()):
        try:
            check_device(config["device"])
        except ConfigError as error:
            raise WorkflowError(str(error)) from None


wildcard_constraints:
    benchmark=r"[a-z0-9]+",
    model=r"[a-z0-9_]+",
    forget_set=r"\d+",
    noise=r"[0-9.e+-]+",
    seed=r"\d+",
    setting=r"[A-Za-z0-9_.+-]+",


# -- helpers ---------------------------------------------------------------------


def get_final_outputs():
    outputs = [
        "results/compute_vs_klom.png",
        "results/compute_vs_klom.tsv",
        "results/baselines.tsv",
        "results/eval_pretrain.tsv",
    ]
    outputs += [
        f"results/{BENCHMARK.name}/forget_{forget_set}/compute_vs_klom.png"
        for forget_set in RETRAIN_FORGET_SETS
    ]
    outputs += [f"results/{BENCHMARK.name}/n_models.tsv", f"results/{BENCHMARK.name}/n_models.png"]
    if METHOD_SETTINGS:
        outputs += ["results/methods.png", "results/methods.tsv", "results/leaderboard.tsv"]
        outputs += ["results/leaderboard.md"]
        outputs += [
            f"results/{BENCHMARK.name}/forget_{forget_set}/{name}"
            for forget_set in FORGET_SETS
            for name in ("methods.png", "leaderboard.tsv")
        ]
    return outputs + [RUN_SUMMARY]


# What a run could not score: made by the default target (not by a run of one
# figure), and printed at the end of every run that leaves it up to date.
RUN_SUMMARY = "results/run_summary.txt"


def get_run_summary_inputs(wildcards=None):
    """The gathered tables the run summary reads."""
    inputs = {"curves": "results/compute_vs_klom.tsv", "baselines": "results/baselines.tsv"}
    if METHOD_SETTINGS:
        inputs["methods"] = "results/methods.tsv"
    return inputs


def print_run_summary():
    """Print the run summary, unless it is missing or older than a table it summarises.

    A run of one figure does not make it: then an earlier run's summary may
    no longer be true, and nothing is printed.
    """
    summary = Path(RUN_SUMMARY)
    tables = [Path(p) for p in get_run_summary_inputs().values()]
    if summary.is_file() and all(
        t.is_file() and t.stat().st_mtime <= summary.stat().st_mtime for t in tables
    ):
        print(f"\n{summary}:\n{summary.read_text()}", end="")


def get_recipe():
    """The training recipe, as keyword arguments of klomflow.training.TrainingRecipe."""
    return CHECKED.recipe


def resume_file(wildcards, output):
    """Where a training job keeps its state after every epoch, to continue after preemption.

    Outside the job's declared outputs, so that Snakemake does not delete it
    with the outputs of a job that was killed.
    """
    return f"resume/{output[0]}.pt"


def get_reference_format():
    """Arguments of klomflow.layout.LayoutFormat: how the reference files are named and sized."""
    return {
        "model": config["model"],
        # Local models are named after their last epoch, counted from 0.
        "epoch": HUB_FILE_EPOCH if is_hub_source() else config["training"]["epochs"] - 1,
        **CHECKED.split_sizes,
    }


def reference_root(benchmark):
    """Where the reference set lives: resources/{benchmark}/{local,easydub,klom-models}."""
    return f"resources/{benchmark}/{SOURCE.name}"


def layout_for(benchmark):
    """Arguments of klomflow.layout.EasyDUBLayout.for_benchmark: the hub's layout, for downloads."""
    reference = get_reference_format()
    return {
        "root": reference_root(benchmark),
        "benchmark": benchmark,
        "model": reference["model"],
        "epoch": reference["epoch"],
        "n_train": reference["n_train"],
        "n_val": reference["n_val"],
    }


def get_layout(wildcards):
    return layout_for(wildcards.benchmark)


def get_dataset(wildcards):
    """The images of the benchmark, in the form klomflow.datasets.load_dataset reads:
    a file the workflow builds, or a config key's directory."""
    return BENCHMARK.images.format(**config)


def get_forget_set(wildcards):
    root = reference_root(wildcards.benchmark)
    return f"{root}/forget_sets/{wildcards.benchmark}/forget_set_{wildcards.forget_set}.npy"


def get_oracle_margins(wildcards):
    root = reference_root(wildcards.benchmark)
    return f"{root}/margins/{wildcards.benchmark}/oracle/forget_{wildcards.forget_set}"


def get_pretrain_checkpoints(wildcards):
    root = reference_root(wildcards.benchmark)
    return f"{root}/models/{wildcards.benchmark}/pretrain/{config['model']}"


def get_baseline_inputs(wildcards):
    """The reference margins the baselines of one forget set read."""
    pretrain = f"{reference_root(wildcards.benchmark)}/margins/{wildcards.benchmark}/pretrain"
    return {
        "pretrain_retain": f"{pretrain}/retain/{config['model']}",
        "pretrain_val": f"{pretrain}/val/{config['model']}",
        "pretrain_forget": f"{pretrain}/forget_{wildcards.forget_set}/{config['model']}",
        "oracle": get_oracle_margins(wildcards),
        "forget_set": get_forget_set(wildcards),
        **({"hub_commit": get_hub_commit(wildcards)} if is_hub_source() else {}),
    }


def get_hub(source):
    """The `hub` argument of the downloads from hub source `source`: repo and cache.

    Not the revision: downloads fetch at the commit resolve_hub_revision recorded.
    """
    settings = config["hub"][reference_source(source).hub_key]
    return {"repo_id": settings["repo_id"], "cache_dir": config["hub"]["cache_dir"]}


def is_hub_source():
    return SOURCE.hub_key is not None


def get_hub_of_source(wildcards):
    """Repo, cache and the configured revision of the hub source in `wildcards.source`."""
    revision = config["hub"][reference_source(wildcards.source).hub_key]["revision"]
    return {**get_hub(wildcards.source), "revision": revision}


def get_easydub_inputs(wildcards):
    """The commit a download fetches at, and the forget set the margins on it are checked against."""
    inputs = {"commit": f"resources/{wildcards.benchmark}/easydub/hub_commit.json"}
    forget_set = forget_set_in(wildcards.folder)
    if forget_set is not None:
        inputs["forget_set"] = (
            f"resources/{wildcards.benchmark}/easydub/forget_sets/{wildcards.benchmark}/"
            f"forget_set_{forget_set}.npy"
        )
    return inputs


def get_hub_commit(wildcards):
    """The record of the commit the run's reference set is fetched at; none for local models.

    Every download job fetches at this commit, and every table's provenance
    names it, so a result can be traced to the exact state of the dataset.
    """
    if not is_hub_source():
        return []
    return f"resources/{BENCHMARK.name}/{SOURCE.name}/hub_commit.json"


def get_hub_run_files(wildcards):
    """Every file the configured run fetches from its hub source (klomflow.hub.HubSource.run_files)."""
    layout = EasyDUBLayout.for_benchmark(**layout_for(BENCHMARK.name))
    return source(wildcards.source, layout).run_files(
        config["n_models"], FORGET_SETS, checkpoints=bool(METHOD_SETTINGS)
    )


def uses_the_device(jobs):
    """Whether any of ``jobs`` runs models: the rules that ask for a GPU (get_gpus)."""
    return any("gpu" in job.rule.resources for job in jobs)


def get_gpus():
    """GPUs a training job asks the scheduler for."""
    return 0 if config["device"] == "cpu" else 1


def forget_set_labels(wildcards):
    return {"benchmark": wildcards.benchmark, "forget_set": int(wildcards.forget_set)}


# -- the retraining grid and the method settings of one forget set --------------


def retraining_cells():
    return [
        {"noise": noise_label(noise), "seed": seed}
        for noise in config["retrain"]["noise_levels"]
        for seed in config["retrain"]["seeds"]
    ]


def get_retraining_tables(wildcards):
    """The klom.tsv of every (noise, seed) cell of the grid of one forget set."""
    return [
        f"results/{wildcards.benchmark}/forget_{wildcards.forget_set}/retrain/"
        f"noise_{cell['noise']}/seed_{cell['seed']}/klom.tsv"
        for cell in retraining_cells()
    ]


def get_retraining_replicates(wildcards):
    return replicates_of(get_retraining_tables(wildcards))


def get_retraining_labels(wildcards):
    return [{**forget_set_labels(wildcards), **cell} for cell in retraining_cells()]


def get_method_setting(wildcards):
    """One setting of config `methods:`, as klomflow.unlearning.unlearn takes it."""
    return METHOD_SETTINGS[wildcards.setting]


def get_method_code(wildcards):
    """The hash of the code of the setting's method (klomflow.unlearning.code).

    A param of the setting's jobs, so that editing the method, a built-in or a
    user's, re-runs exactly the settings that use it, and adding an unrelated
    function to its file re-runs none.
    """
    return method_code_hash(resolve_method(METHOD_SETTINGS[wildcards.setting]["method"]))


def method_code_record(method):
    """What a method table's provenance says of ``method``: its code's hash and its user file."""
    return {
        "code_sha256": method_code_hash(resolve_method(method)),
        "file": method_module_file(method),
    }


def get_method_code_records(wildcards):
    """The code records of the methods of the setting in `wildcards`, or of every setting."""
    settings = [wildcards.setting] if hasattr(wildcards, "setting") else METHOD_SETTINGS
    methods = sorted({METHOD_SETTINGS[name]["method"] for name in settings})
    return {method: method_code_record(method) for method in methods}


def get_method_tables(wildcards):
    """The klom.tsv of every method setting on one forget set."""
    return [
        f"results/{wildcards.benchmark}/forget_{wildcards.forget_set}/methods/{name}/klom.tsv"
        for name in METHOD_SETTINGS
    ]


def get_method_replicates(wildcards):
    return replicates_of(get_method_tables(wildcards))


def get_method_labels(wildcards):
    return [
        {
            **forget_set_labels(wildcards),
            "method": setting["entry"],
            "setting": name,
            "params": swept_values(setting),
            "n_models": config["n_models"],
        }
        for name, setting in METHOD_SETTINGS.items()
    ]


# -- the tables of every forget set, gathered ------------------------------------


def replicates_of(tables):
    """The P95 replicates saved beside each KLOM table (klomflow.tables)."""
    return [table.removesuffix(".tsv") + "_p95_replicates.npy" for table in tables]


def get_forget_set_leaderboard_inputs(wildcards):
    """The tables of the forget set's methods figure, with their replicates."""
    return get_forget_set_methods_figure_inputs(wildcards)


def get_forget_set_methods_figure_inputs(wildcards):
    """The methods of one forget set, its baselines, its grid if it was run, and their replicates."""
    tables = {
        "methods": f"results/{wildcards.benchmark}/forget_{wildcards.forget_set}/methods.tsv",
        "baselines": f"results/{wildcards.benchmark}/forget_{wildcards.forget_set}/baselines.tsv",
    }
    if int(wildcards.forget_set) in RETRAIN_FORGET_SETS:
        tables["curves"] = (
            f"results/{wildcards.benchmark}/forget_{wildcards.forget_set}/compute_vs_klom.tsv"
        )
    return tables | {
        f"{name}_replicates": replicates_of([path])[0] for name, path in tables.items()
    }


def figure_title(forget_sets):
    """A figure's title: benchmark, forget set(s) and N."""
    which = "forget set" if len(forget_sets) == 1 else "forget sets"
    numbers = ", ".join(map(str, forget_sets))
    return f"{BENCHMARK.name}, {which} {numbers}, N = {config['n_models']} models"


def get_forget_set_title(wildcards):
    return figure_title([wildcards.forget_set])
