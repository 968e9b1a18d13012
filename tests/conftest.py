import copy
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# A config small enough for a whole run in about a minute on two cores, with
# the benchmark's shape: two forget sets, a sweep.
TINY_CONFIG = {
    "forget_sets": [1, 2],
    "n_models": 4,
    "retrain": {"noise_levels": [0.0, 0.01], "seeds": [0]},
    "training": {"epochs": 2, "batch_size": 64},
    # Merged into config.yaml's entries (write_config): each of its methods, for at most 2 epochs.
    "methods": {
        "do_nothing": {"epochs": [1]},
        "ascent_forget": {"epochs": [1, 2]},
        # A sweep; its last learning rate makes the models diverge: a result, not a crash.
        "ga_sweep": {"method": "ascent_forget", "epochs": [1], "sweep": {"lr": [0.01, 1.0e6]}},
        "ascent_descent": {"epochs": [1]},
        "noisy_descent": {"epochs": [1]},
        "scrub": {"epochs": [1]},
    },
}


# The recipe (klomflow.training.TrainingRecipe's arguments) of the trainer's and the methods'
# unit tests: seconds on a CPU. Not the benchmark's, which is config.yaml's `training`.
TINY_RECIPE = {
    "epochs": 2,
    "batch_size": 16,
    "lr": 0.2,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "peak_epoch": 1,
    "div_factor": 100.0,
    "final_div_factor": 100.0,
    "cycle_momentum": False,
}


def copy_workflow(destination: Path) -> Path:
    """The workflow's files (not its results) in a fresh directory."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, destination / name)
    for name in ("workflow", "envs"):
        shutil.copytree(REPO / name, destination / name)
    return destination


def write_config(
    directory: Path, config: dict, name: str = "test_config.yaml", over: str | None = "config.yaml"
) -> Path:
    """A config file of ``config``'s keys merged over ``directory/over``, as a user edits a copy.

    A ``--configfile`` is a whole experiment (the Snakefile reads config.yaml
    only without one), so a test's digits config starts from config.yaml's.
    ``over=None`` writes ``config`` alone: a file layered over another
    ``--configfile`` on the command line (the CIFAR-10 config).
    """
    from snakemake.utils import update_config

    merged = {} if over is None else yaml.safe_load((directory / over).read_text())
    update_config(merged, copy.deepcopy(config))
    path = directory / name
    path.write_text(yaml.safe_dump(merged))
    return path


def snakemake_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--cores", "2", *args]


def snakemake(directory: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_command(*args),
        cwd=directory,
        capture_output=True,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )


def start_snakemake(directory: Path, *args: str, output=subprocess.DEVNULL) -> subprocess.Popen:
    """Snakemake in the background, in its own process group, as a terminal runs it."""
    return subprocess.Popen(
        snakemake_command(*args),
        cwd=directory,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # A shell that starts the tests in the background makes them ignore
        # SIGINT, and children inherit that; Ctrl-C in a terminal is not ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Until ``path`` exists, while ``process`` (a background snakemake) still runs."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"snakemake ended before {path} appeared"
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout} s"
        time.sleep(0.01)


def planned_jobs(directory: Path, *args: str, env: dict | None = None) -> dict[str, int]:
    """Rule -> number of jobs that a dry run would execute."""
    result = snakemake(directory, "--dry-run", "--quiet", "rules", *args, env=env)
    assert result.returncode == 0, result.stderr
    jobs = {}
    lines = (result.stdout + result.stderr).splitlines()
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total",):
            jobs[parts[0]] = int(parts[1])
    return jobs


@dataclass(frozen=True)
class PlannedJob:
    rule: str
    outputs: tuple[str, ...]
    log: str | None


def planned_from_scratch(directory: Path, *args: str) -> list[PlannedJob]:
    """Every job of the run that ``args`` ask for, as a dry run from scratch (``--forceall``) lists them."""
    result = snakemake(directory, "--dry-run", "--forceall", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = []
    # Each job is a block: "rule NAME:" (or "localrule"), then indented "key: value" lines.
    for rule, block in re.findall(
        r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", result.stdout + result.stderr, re.M
    ):
        fields = dict(re.findall(r"^    (\w+): (.*)$", block, re.M))
        outputs = tuple(fields["output"].split(", ")) if "output" in fields else ()
        jobs.append(PlannedJob(rule, outputs, fields.get("log")))
    assert jobs, f"no jobs in the dry run of {args}"
    return jobs


def output_files(directory: Path, jobs: list[PlannedJob]) -> set[Path]:
    """The files of the jobs' outputs under ``directory`` (a directory output: the files in it)."""
    files = set()
    for output in (directory / o for job in jobs for o in job.outputs):
        files |= {output} if output.is_file() else {p for p in output.rglob("*") if p.is_file()}
    return {p.relative_to(directory) for p in files}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole workflow run once on the tiny config; returns its directory."""
    directory = copy_workflow(tmp_path_factory.mktemp("workflow"))
    config = write_config(directory, TINY_CONFIG)
    result = snakemake(directory, "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    return directory


def differing_outputs(first: Path, second: Path) -> list[str]:
    """The files under results/ and resources/ of two run directories that differ, or that
    only one of them has.

    Byte for byte, except two kinds: provenance sidecars (``*.json``), which
    record when they were written, and checkpoints (``*.pt``), in which torch
    stores a random serialization id; those are compared by their tensors.
    """
    import torch

    def files(run: Path) -> set[Path]:
        return {
            path.relative_to(run)
            for folder in ("results", "resources")
            for path in (run / folder).rglob("*")
            if path.is_file() and path.suffix != ".json"
        }

    assert files(first), f"no outputs under {first}"
    differing = sorted(map(str, files(first) ^ files(second)))  # a file only one run has
    for name in sorted(files(first) & files(second)):
        a, b = first / name, second / name
        if name.suffix == ".pt":
            x, y = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
            same = x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            differing.append(str(name))
    return differing


def write_fake_cifar10(root: Path, n_train: int = 20, n_val: int = 4) -> Path:
    """A CIFAR-10 directory in torchvision's layout, with random pixels.

    torchvision checks the real files' MD5 sums; see tests/boundary for how
    the tests that load these skip that check.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sizes = [n_train // 5] * 4 + [n_train - 4 * (n_train // 5), n_val]
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, size in zip(names, sizes):
        batch = {
            "data": rng.integers(0, 256, size=(size, 3 * 32 * 32), dtype=np.uint8),
            "labels": rng.integers(0, 10, size=size).tolist(),
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return root


def write_hub_cache(cache: Path, repo_id: str, files: dict, revision: str = "main") -> str:
    """A HuggingFace hub cache holding ``files`` (repo path -> array or bytes) of a dataset repo.

    With HF_HUB_OFFLINE=1 the hub client serves ``snapshot_download`` from it,
    as it does on a machine that downloaded them before. Returns the commit.
    """
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"datasets--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    write_files(repo / "snapshots" / commit, files)
    return commit


def write_files(root: Path, files: dict) -> None:
    """Write ``files`` (relative path -> bytes, array, or object for torch.save) under ``root``."""
    import torch

    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif isinstance(content, np.ndarray):
            np.save(target, content)
        else:
            torch.save(content, target)


def easydub_hub_files(layout, n_models: int, forget: np.ndarray, forget_set: int = 2) -> dict:
    """The files of a small EasyDUB dataset as the hub names them, with random margins.

    ``layout`` (an EasyDUBLayout, any root) gives the names and split sizes.
    """
    from klomflow.benchmarks import n_oracles
    from klomflow.models import build_model

    rng = np.random.default_rng(0)
    files = {}

    def add(directory, models, length):
        for m in models:
            path = layout.model_file(directory, m).relative_to(layout.root)
            files[str(path)] = rng.normal(size=length).astype(np.float32)

    files[str(layout.forget_set_file(forget_set).relative_to(layout.root))] = forget
    add(layout.pretrain_dir("retain"), range(n_models), layout.n_train)
    add(layout.pretrain_dir("val"), range(n_models), layout.n_val)
    add(layout.pretrain_dir(f"forget_{forget_set}"), range(n_models), len(forget))
    for split, length in (
        ("retain", layout.n_train - len(forget)),
        ("forget", len(forget)),
        ("val", layout.n_val),
    ):
        add(layout.oracle_dir(forget_set, split), range(n_oracles(n_models)), length)
    for m in range(n_models):
        path = layout.model_file(layout.checkpoint_dir(), m, ".pt").relative_to(layout.root)
        files[str(path)] = {
            f"module.{k}": v for k, v in build_model(layout.model).state_dict().items()
        }
    return files
