from jsonschema import ValidationError
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from klomflow.easydub import EasyDUBLayout
from klomflow.hub import HUB_FILE_EPOCH, check_model_count, run_files
from klomflow.unlearning import check_method_entry


# -- the config ----------------------------------------------------------------

try:
    validate(config, "../schemas/config.schema.yaml")
except WorkflowError as error:
    # Snakemake's message dumps the whole schema; name the key instead.
    cause = error.__context__
    if not isinstance(cause, ValidationError):
        raise
    key = ".".join(str(p) for p in cause.absolute_path) or "top level"
    raise WorkflowError(f"config: {key}: {cause.message}") from None

FORGET_SETS = {"digits": range(1, 4), "cifar10": range(1, 11)}
MODEL_INPUT = {"digits_cnn": "digits", "resnet9": "cifar10"}

if config["forget_set"] not in FORGET_SETS[config["benchmark"]]:
    raise WorkflowError(
        f"config: forget_set: {config['forget_set']} is not a forget set of the "
        f"{config['benchmark']} benchmark (it has {list(FORGET_SETS[config['benchmark']])})"
    )
for name, entry in config["methods"].items():
    # Fail before anything runs: unknown method, missing or unknown parameter,
    # a module:function that does not import.
    try:
        check_method_entry(name, entry)
    except ValueError as error:
        raise WorkflowError(f"config: {error}") from None

if MODEL_INPUT[config["model"]] != config["benchmark"]:
    raise WorkflowError(
        f"config: model: {config['model']} does not take {config['benchmark']} images"
    )

SOURCE = config["reference"]["source"]
if (SOURCE == "local") != (config["benchmark"] == "digits"):
    raise WorkflowError(
        f"config: reference.source: {SOURCE} does not serve the {config['benchmark']} benchmark "
        "(digits: local; cifar10: easydub or klom-models)"
    )
if SOURCE != "local":
    try:
        check_model_count(config["n_models"])
    except ValueError as error:
        raise WorkflowError(f"config: {error}") from None

wildcard_constraints:
    benchmark=r"[a-z0-9]+",
    source=r"local|klom-models",
    model=r"[a-z0-9_]+",
    k=r"\d+",
    noise=r"[0-9.e+-]+",
    seed=r"\d+",
    entry=r"[A-Za-z0-9_.+-]+",


# -- helpers ---------------------------------------------------------------------


def noise_label(noise):
    """A noise level as it appears in paths: 0.001 -> '0.001', 1e-05 -> '1e-05'."""
    return format(float(noise), "g")


def get_final_outputs():
    outputs = [
        "results/compute_vs_klom.png",
        "results/compute_vs_klom.tsv",
        "results/baselines.tsv",
    ]
    if config["methods"]:
        outputs += ["results/methods.png", "results/methods.tsv"]
    return outputs


def get_recipe():
    """The training recipe, as keyword arguments of klomflow.training.TrainingRecipe."""
    return config["training"]


def resume_file(wildcards, output):
    """Where a training job keeps its state after every epoch, to continue after preemption.

    Outside the job's declared outputs, so that Snakemake does not delete it
    with the outputs of a job that was killed.
    """
    return f"resume/{output[0]}.pt"


def reference_root(benchmark):
    """Where the reference set lives: resources/{benchmark}/{local,easydub,klom-models}."""
    return f"resources/{benchmark}/{SOURCE}"


def layout_for(benchmark):
    """Arguments of klomflow.easydub.EasyDUBLayout.for_benchmark for the reference set."""
    return {
        "root": reference_root(benchmark),
        "benchmark": benchmark,
        "arch": config["model"],
        # Local models are named after their last epoch, counted from 0.
        "epoch": config["training"]["epochs"] - 1 if SOURCE == "local" else HUB_FILE_EPOCH,
        **config["split_sizes"],
    }


def get_layout(wildcards):
    return layout_for(wildcards.benchmark)


def get_dataset(wildcards):
    """The images of the benchmark, in the form klomflow.datasets.load_dataset reads."""
    if wildcards.benchmark == "digits":
        return "resources/digits/data.npz"
    return config["cifar10_dir"]


def get_forget_set(wildcards):
    root = reference_root(wildcards.benchmark)
    return f"{root}/forget_sets/{wildcards.benchmark}/forget_set_{wildcards.k}.npy"


def get_oracle_margins(wildcards):
    root = reference_root(wildcards.benchmark)
    return f"{root}/margins/{wildcards.benchmark}/oracle/forget_{wildcards.k}"


def get_pretrain_checkpoints(wildcards):
    root = reference_root(wildcards.benchmark)
    return f"{root}/models/{wildcards.benchmark}/pretrain/{config['model']}"


def get_baseline_inputs(wildcards):
    """The reference margins the baselines of the configured benchmark and forget set read."""
    benchmark, k, model = config["benchmark"], config["forget_set"], config["model"]
    root = reference_root(benchmark)
    pretrain = f"{root}/margins/{benchmark}/pretrain"
    return {
        "pretrain_retain": f"{pretrain}/retain/{model}",
        "pretrain_val": f"{pretrain}/val/{model}",
        "pretrain_forget": f"{pretrain}/forget_{k}/{model}",
        "oracle": f"{root}/margins/{benchmark}/oracle/forget_{k}",
        "forget_set": f"{root}/forget_sets/{benchmark}/forget_set_{k}.npy",
        **({"hub_commit": get_hub_commit(None)} if is_hub_source() else {}),
    }


def get_hub(source):
    """The `hub` argument of klomflow.hub's download functions: repo and cache.

    Not the revision: downloads fetch at the commit resolve_hub_revision recorded.
    """
    return {"repo_id": config["hub"][source]["repo_id"], "cache_dir": config["hub"]["cache_dir"]}


HUB_KEYS = {"easydub": "easydub", "klom-models": "klom_models"}


def is_hub_source():
    return SOURCE in HUB_KEYS


def get_hub_of_source(wildcards):
    """Repo, cache and the configured revision of the hub source in `wildcards.source`."""
    key = HUB_KEYS[wildcards.source]
    return {**get_hub(key), "revision": config["hub"][key]["revision"]}


def get_hub_commit(wildcards):
    """The record of the commit the run's reference set is fetched at; none for local models.

    Every download job fetches at this commit, and every table's provenance
    names it, so a result can be traced to the exact state of the dataset.
    """
    if not is_hub_source():
        return []
    return f"resources/{config['benchmark']}/{SOURCE}/hub_commit.json"


def get_hub_run_files(wildcards):
    """Every file the configured run fetches from its hub source (klomflow.hub.run_files)."""
    layout = EasyDUBLayout.for_benchmark(**layout_for(config["benchmark"]))
    return run_files(
        wildcards.source,
        layout,
        config["n_models"],
        [config["forget_set"]],
        checkpoints=bool(config["methods"]),
    )


def get_method_entry(wildcards):
    """One entry of config `methods:`, as klomflow.unlearning.unlearn takes it."""
    return config["methods"][wildcards.entry]


def get_method_tables():
    """The klom.tsv of every entry of config `methods:`, and each entry's label columns."""
    entries = list(config["methods"])
    paths = [
        f"results/{config['benchmark']}/forget_{config['forget_set']}/methods/{entry}/klom.tsv"
        for entry in entries
    ]
    return paths, [{"method": entry, "n_models": config["n_models"]} for entry in entries]


def get_gpus():
    """GPUs a training job asks the scheduler for."""
    return 0 if config["device"] == "cpu" else 1


def get_retraining_cells():
    """The klom.tsv of every (noise, seed) cell of the grid, and each cell's label columns."""
    cells = [
        {"noise": noise_label(noise), "seed": seed}
        for noise in config["retrain"]["noise_levels"]
        for seed in config["retrain"]["seeds"]
    ]
    paths = [
        f"results/{config['benchmark']}/forget_{config['forget_set']}/retrain/"
        f"noise_{cell['noise']}/seed_{cell['seed']}/klom.tsv"
        for cell in cells
    ]
    return paths, cells
