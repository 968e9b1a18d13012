"""Unlearning methods batched against one model at a time, on the embedded benchmark.

Usage: python bench/methods_speed.py [--models 100] [--epochs 3] [--device auto] [--out FILE]

Trains N pretrain digits models (not timed), then times the five methods of
docs/methods.md, each for --epochs epochs with margins recorded after every epoch:
once with all N models in one stack, once as N stacks of one model. Prints
both times per method, the totals and the ratio; writes them to --out (JSON, by
default bench/results/methods_speed.json, or methods_speed-cuda.json on a GPU;
bench/RESULTS.md is rendered from them).
"""

import argparse
import time
from pathlib import Path

import torch
import yaml
from record import RESULTS_DIR, save

from klomflow.config_checks import schema_defaults
from klomflow.datasets import build_digits, digits_forget_set
from klomflow.devices import resolve_device
from klomflow.stacking import ModelStack
from klomflow.training import TrainingRecipe, train_models
from klomflow.unlearning import METHODS, STEP_COST, UnlearningData, run_method
from klomflow.unlearning.settings import setting_parameters

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"

# The parameters of config.yaml's method entries, one per built-in method.
PARAMS = {
    entry["method"]: setting_parameters(entry)
    for entry in yaml.safe_load((REPO / "config.yaml").read_text())["methods"].values()
}


def time_method(name, states, splits, epochs, n_train, device):
    models = ModelStack("digits_cnn", states, device)
    data = UnlearningData(splits["retain"], splits["forget"], len(states), seed=0)
    start = time.perf_counter()
    run_method(
        METHODS[name],
        models,
        data,
        splits,
        list(range(1, epochs + 1)),
        PARAMS[name],
        full_retrain_cost=10 * n_train * STEP_COST,
    )
    return time.perf_counter() - start  # margins come back to the host: the GPU is done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: bench/results/methods_speed[-cuda].json")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(1)  # as each Snakemake job runs

    dataset, _ = build_digits()
    splits = {
        split: (images.to(device), labels.to(device))
        for split, (images, labels) in dataset.splits(digits_forget_set(1, dataset)).items()
    }
    # The pretrain models of a default run.
    recipe = TrainingRecipe(**schema_defaults(SCHEMA, "training"))
    train = (dataset.train_images, dataset.train_labels)
    states = train_models(
        "digits_cnn", train, recipe, n_models=args.models, seed=1, eval_splits={}, device=device
    ).stack.state_dicts()

    figures = {"n_models": args.models, "epochs": args.epochs, "methods": {}}
    print(f"{args.models} digits models, {args.epochs} epochs per method, on {device}")
    print(f"{'method':16s} {'batched':>9s} {'one by one':>11s} {'ratio':>7s}")
    for name in METHODS:
        batched = time_method(name, states, splits, args.epochs, dataset.n_train, device)
        alone = sum(
            time_method(name, [s], splits, args.epochs, dataset.n_train, device) for s in states
        )
        figures["methods"][name] = {"batched_s": batched, "one_by_one_s": alone}
        print(f"{name:16s} {batched:8.1f}s {alone:10.1f}s {alone / batched:6.1f}x", flush=True)
    batched = sum(m["batched_s"] for m in figures["methods"].values())
    alone = sum(m["one_by_one_s"] for m in figures["methods"].values())
    figures.update(batched_s=batched, one_by_one_s=alone, speedup=alone / batched)
    figures["device"] = str(device)
    print(f"{'all five':16s} {batched:8.1f}s {alone:10.1f}s {alone / batched:6.1f}x")
    on_gpu = device.type == "cuda"
    out = args.out or RESULTS_DIR / ("methods_speed-cuda.json" if on_gpu else "methods_speed.json")
    save(__doc__.splitlines()[0], figures, out, torch.cuda.get_device_name() if on_gpu else None)


if __name__ == "__main__":
    main()
