"""The provenance record written beside every table."""

import json
import subprocess

import yaml
from conftest import REPO

from klomflow.provenance import dataset_provenance, provenance, provenance_file
from klomflow.tables import write_tsv


def config(**overrides):
    """The CIFAR-10 config with ``overrides``, its defaults filled in as the workflow does."""
    from snakemake.utils import validate

    with open(REPO / "config" / "easydub-cifar10.yaml") as f:
        resolved = yaml.safe_load(f) | overrides
    validate(resolved, str(REPO / "workflow/schemas/config.schema.yaml"))
    return resolved


def test_hub_sources_record_repo_and_revision():
    assert dataset_provenance(config()) == {
        "benchmark": "cifar10",
        "forget_sets": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        "n_models": 100,
        "reference_source": "easydub",
        "repo_id": "easydub/EasyDUB-dataset",
        "revision": "main",
    }
    klom_models = config(reference={"source": "klom-models"})
    assert dataset_provenance(klom_models)["repo_id"] == "royrin/KLOM-models"


def test_the_git_commit_and_uncommitted_changes_are_recorded(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "Snakefile").write_text("# v1\n")
    git("add", "Snakefile")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()

    record = provenance(config(device="cpu"), tmp_path)
    assert (record["git_commit"], record["git_uncommitted_changes"]) == (head, False)
    (tmp_path / "Snakefile").write_text("# v2\n")
    assert provenance(config(device="cpu"), tmp_path)["git_uncommitted_changes"] is True


def test_the_sidecar_is_written_beside_the_table(tmp_path):
    table = tmp_path / "results" / "t.tsv"
    write_tsv(table, [{"a": 1}], ["a"], provenance={"klomflow_version": "x"})
    assert provenance_file(table) == tmp_path / "results" / "t.tsv.json"
    assert json.loads(provenance_file(table).read_text()) == {"klomflow_version": "x"}
    assert table.read_text() == "a\n1\n"
