"""Training speed of one retraining cell: N models at once, synthetic data.

Usage: python bench/train_speed.py [--model resnet9] [--models 100] [--epochs 3]
                                   [--train 49900] [--eval 60000] [--batch-size 256]
                                   [--device auto] [--out FILE]

Trains N models on random images of the model's input shape (the GPU machines
have no internet, and speed does not depend on the pixels) with the schema's
default recipe (the digits one: SGD, momentum 0.9 not cycled, linear one-cycle
schedule) except for --batch-size (256, CIFAR-10's), the one-cycle peak at 5/24
of the epochs (CIFAR-10's fraction) and gradient noise 0.01, as in a noisy grid
cell. It records margins on --eval samples after every epoch as the grid does,
and reports seconds per epoch (training and margins separately, averaged over
--epochs epochs after a warm-up epoch that pays for CUDA's lazy initialisation
and the first allocations), peak GPU memory and the achieved TFLOP/s of the
training steps (FLOPs counted by torch.utils.flop_counter on one model). Writes
the figures with the machine's description to --out (JSON, by default
bench/results/train_speed.json, or train_speed-cuda.json on a GPU, from which
bench/RESULTS.md is rendered).
"""

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from record import RESULTS_DIR, save
from torch.utils.flop_counter import FlopCounterMode

from klomflow.benchmarks import BENCHMARKS
from klomflow.config_checks import schema_defaults
from klomflow.devices import resolve_device
from klomflow.models import build_model
from klomflow.stacking import ModelStack
from klomflow.training import Trainer, TrainingRecipe

SCHEMA = Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"

# Each model's input, from the benchmark that it takes.
INPUT_SHAPE = {benchmark.model: benchmark.image_shape for benchmark in BENCHMARKS.values()}


def training_flops_per_sample(model: str, device) -> float:
    """Forward and backward FLOPs of one model on one sample."""
    network = build_model(model).to(device)
    x = torch.randn(8, *INPUT_SHAPE[model], device=device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(network(x), torch.zeros(8, dtype=torch.long, device=device)).backward()
    return counter.get_total_flops() / 8


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet9", choices=sorted(INPUT_SHAPE))
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up")
    parser.add_argument("--train", type=int, default=49_900, help="training samples (retain split)")
    parser.add_argument(
        "--eval", type=int, default=60_000, help="samples whose margins are recorded"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: bench/results/train_speed[-cuda].json")
    args = parser.parse_args()

    device = resolve_device(args.device)
    generator = torch.Generator().manual_seed(0)
    shape = INPUT_SHAPE[args.model]
    images = torch.randn(args.train, *shape, generator=generator)
    labels = torch.randint(0, 10, (args.train,), generator=generator)
    eval_images = torch.randn(args.eval, *shape, generator=generator).to(device)
    eval_labels = torch.randint(0, 10, (args.eval,), generator=generator).to(device)
    # The schema's recipe, with CIFAR-10's peak (5 of 24 epochs) and the warm-up epoch.
    recipe = TrainingRecipe(
        **{
            **schema_defaults(SCHEMA, "training"),
            "epochs": args.epochs + 1,
            "batch_size": args.batch_size,
            "peak_epoch": 5 * (args.epochs + 1) / 24,
        }
    )
    stack = ModelStack.initialised(args.model, args.models, seed=0, device=device)
    trainer = Trainer(stack, images, labels, recipe, seed=0, grad_noise=0.01)

    train_times, eval_times = [], []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for epoch in range(args.epochs + 1):
        synchronize(device)
        start = time.perf_counter()
        trainer.train_epoch()
        synchronize(device)
        middle = time.perf_counter()
        stack.margins(eval_images, eval_labels)
        synchronize(device)
        end = time.perf_counter()
        if epoch > 0:  # the first epoch pays for CUDA's lazy initialisation and allocation
            train_times.append(middle - start)
            eval_times.append(end - middle)
        print(
            f"epoch {epoch}: train {middle - start:.2f} s, margins {end - middle:.2f} s", flush=True
        )

    train_s = sum(train_times) / len(train_times)
    eval_s = sum(eval_times) / len(eval_times)
    flops = training_flops_per_sample(args.model, device) * args.train * args.models
    on_gpu = device.type == "cuda"
    figures = {
        "model": args.model,
        "n_models": args.models,
        "train_samples": args.train,
        "eval_samples": args.eval,
        "batch_size": args.batch_size,
        "train_s_per_epoch": train_s,
        "margins_s_per_epoch": eval_s,
        "epoch_s": train_s + eval_s,
        "train_tflops": flops / train_s / 1e12,
        "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None,
        "device": str(device),
    }
    for name, value in figures.items():
        print(f"  {name:20s} {value}")
    out = args.out or RESULTS_DIR / ("train_speed-cuda.json" if on_gpu else "train_speed.json")
    save(__doc__.splitlines()[0], figures, out, torch.cuda.get_device_name() if on_gpu else None)


if __name__ == "__main__":
    main()
