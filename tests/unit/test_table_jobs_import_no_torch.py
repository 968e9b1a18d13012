"""The scoring, table and figure jobs never import torch, whatever the reference source.

They are most of a run's jobs and take a second or two each; torch would add
seconds and hundreds of megabytes to every one. Each source is tried in a
fresh process: it imports what the jobs' scripts import and writes the
provenance record, the one step whose code depends on the source (a hub
source reads its commit record through klomflow.hub).
"""

import ast
import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import REPO
from job_code import SOURCE, rules

# The environments of the jobs that score, gather, plot and rank (their headers list the rules).
TORCH_FREE_ENVS = ("scoring.yaml", "plotting.yaml")

IMPORT_AND_RECORD = """
import importlib, json, sys

job = json.loads(sys.argv[1])
for module in job["modules"]:
    importlib.import_module(module)
from klomflow.provenance import provenance
provenance(job["config"], job["code_dir"], job["hub_commits"])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))))
"""


def top_level_imports(script) -> set[str]:
    """The modules ``script`` imports as it starts (its imports outside functions)."""
    names = set()
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
    return names


def torch_free_scripts():
    scripts = {r.script for r in rules() if r.conda and r.conda.name in TORCH_FREE_ENVS}
    assert len(scripts) > 1, "no scoring or plotting rules found"
    return sorted(scripts)


def resolved_config(*files, **overrides) -> dict:
    """The config a run sees: ``files`` merged in order, with the schema's defaults."""
    from snakemake.utils import update_config, validate

    config = {}
    for file in files:
        update_config(config, yaml.safe_load((REPO / file).read_text()))
    update_config(config, overrides)
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"), set_default=True)
    return config


SOURCES = {
    "local": ("config.yaml",),
    "easydub": ("config.yaml", "config/easydub-cifar10.yaml"),
    "klom-models": ("config.yaml", "config/easydub-cifar10.yaml"),
}


@pytest.mark.parametrize("source", SOURCES)
def test_scoring_table_and_figure_jobs_import_no_torch(source, tmp_path):
    from klomflow.hub.client import write_commit

    config = resolved_config(*SOURCES[source], reference={"source": source})
    hub_commits = []
    if source != "local":
        key = source.replace("-", "_")
        hub_commits.append(str(tmp_path / "hub_commit.json"))
        write_commit(hub_commits[0], config["hub"][key], "0" * 40)
    modules = sorted(set().union(*map(top_level_imports, torch_free_scripts())))
    job = {
        "modules": modules,
        "config": config,
        "code_dir": str(REPO / "workflow/scripts"),
        "hub_commits": hub_commits,
    }
    python_path = os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_RECORD, json.dumps(job)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": python_path},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == [], "torch was imported"
