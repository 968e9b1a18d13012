from jsonschema import ValidationError
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


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
if MODEL_INPUT[config["model"]] != config["benchmark"]:
    raise WorkflowError(
        f"config: model: {config['model']} does not take {config['benchmark']} images"
    )

wildcard_constraints:
    benchmark=r"[a-z0-9]+",
    model=r"[a-z0-9_]+",
    k=r"\d+",
    noise=r"[0-9.e+-]+",
    seed=r"\d+",


# -- helpers ---------------------------------------------------------------------


def noise_label(noise):
    """A noise level as it appears in paths: 0.001 -> '0.001', 1e-05 -> '1e-05'."""
    return format(float(noise), "g")


def get_final_outputs():
    return [
        "results/compute_vs_klom.png",
        "results/compute_vs_klom.tsv",
        "results/baselines.tsv",
    ]


def get_recipe():
    """The training recipe, as keyword arguments of klomflow.training.TrainingRecipe."""
    return config["training"]


def layout_for(benchmark):
    """Arguments of klomflow.easydub.EasyDUBLayout.for_benchmark for a reference set."""
    return {
        "root": f"resources/{benchmark}/reference",
        "benchmark": benchmark,
        "arch": config["model"],
        "epoch": config["training"]["epochs"] - 1,
    }


def get_layout(wildcards):
    return layout_for(wildcards.benchmark)


def get_dataset(wildcards):
    """The images of the benchmark, in the form klomflow.datasets.load_dataset reads."""
    if wildcards.benchmark == "digits":
        return "resources/digits/data.npz"
    raise WorkflowError(f"no images for benchmark {wildcards.benchmark!r} yet")


def get_forget_set(wildcards):
    return "resources/{benchmark}/reference/forget_sets/{benchmark}/forget_set_{k}.npy".format(
        **wildcards
    )


def get_oracle_margins(wildcards):
    return "resources/{benchmark}/reference/margins/{benchmark}/oracle/forget_{k}".format(
        **wildcards
    )


def get_baseline_inputs(wildcards):
    """The reference margins the baselines of the configured benchmark and forget set read."""
    benchmark, k, model = config["benchmark"], config["forget_set"], config["model"]
    pretrain = f"resources/{benchmark}/reference/margins/{benchmark}/pretrain"
    return {
        "pretrain_retain": f"{pretrain}/retain/{model}",
        "pretrain_val": f"{pretrain}/val/{model}",
        "pretrain_forget": f"{pretrain}/forget_{k}/{model}",
        "oracle": f"resources/{benchmark}/reference/margins/{benchmark}/oracle/forget_{k}",
        "forget_set": f"resources/{benchmark}/reference/forget_sets/{benchmark}/forget_set_{k}.npy",
    }


def get_gpus():
    """GPUs a training job asks the scheduler for."""
    return 0 if config["device"] == "cpu" else 1


def get_retraining_cells():
    """The klom.tsv of every (noise, seed) cell of the grid, and the cells in the same order."""
    cells = [
        (noise_label(noise), seed)
        for noise in config["retrain"]["noise_levels"]
        for seed in config["retrain"]["seeds"]
    ]
    paths = [
        f"results/{config['benchmark']}/forget_{config['forget_set']}/retrain/"
        f"noise_{noise}/seed_{seed}/klom.tsv"
        for noise, seed in cells
    ]
    return paths, cells
