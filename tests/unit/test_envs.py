"""envs/: each file is what ``--use-conda`` needs for the rules that name it.

Conda's channels cannot be reached from CI, so the files are checked against
the code instead: every rule that runs a script names an environment file
that exists, the file's header names the rules that use it, and it lists the
distributions of every third-party module that the rules' scripts can import,
through klomflow's modules, in any branch (tests/job_code.py), and klomflow
itself from this repository.
"""

import re
from collections import defaultdict

import pytest
import yaml
from conftest import REPO
from job_code import imports_of, rules

# Import name -> conda-forge distribution, for every third-party module klomflow imports.
DISTRIBUTIONS = {
    "huggingface_hub": "huggingface_hub",
    "matplotlib": "matplotlib-base",
    "numpy": "numpy",
    "sklearn": "scikit-learn",
    "torch": "pytorch",
    "torchvision": "torchvision",
    "tqdm": "tqdm",
    "yaml": "pyyaml",
}
# Where Snakemake puts its copy of an environment file, which conda's pip runs in.
CONDA_PREFIX = REPO / ".snakemake" / "conda"


def rules_by_env() -> dict:
    users = defaultdict(list)
    for rule in rules():
        if rule.conda is not None:
            users[rule.conda].append(rule)
    return users


def test_every_rule_that_runs_a_script_names_an_existing_environment():
    for rule in rules():
        if rule.script is not None:
            assert rule.conda is not None, f"rule {rule.name} has no conda: directive"
            assert rule.conda.is_file(), f"rule {rule.name}: {rule.conda} does not exist"
    assert set(rules_by_env()) == set((REPO / "envs").glob("*.yaml")), "an unused file in envs/"


@pytest.mark.parametrize("env", sorted(p.name for p in (REPO / "envs").glob("*.yaml")))
def test_an_environment_holds_what_its_rules_import_and_says_which_rules(env):
    path = REPO / "envs" / env
    users = rules_by_env()[path]
    text = path.read_text()
    header = " ".join(line.lstrip("# ") for line in text.split("channels:")[0].splitlines())
    named = re.search(r"for the rules: ([\w, ]+)\.", header)
    assert named, f"{env}: its header does not say 'for the rules: ...'"
    assert sorted(named.group(1).split(", ")) == sorted(r.name for r in users)

    imported = set().union(*(imports_of(r.script).third_party for r in users if r.script))
    unknown = imported - set(DISTRIBUTIONS)
    assert not unknown, f"add the distributions of {sorted(unknown)} to DISTRIBUTIONS"
    dependencies = yaml.safe_load(text)["dependencies"]
    listed = {d.split()[0] for d in dependencies if isinstance(d, str)} - {"python", "pip"}
    assert listed == {DISTRIBUTIONS[name] for name in imported}

    [pip] = [d["pip"] for d in dependencies if isinstance(d, dict)]
    [klomflow] = [p.split()[-1] for p in pip if p.startswith("--editable")]
    root = (CONDA_PREFIX / klomflow).resolve()
    assert 'name = "klomflow"' in (root / "pyproject.toml").read_text()
