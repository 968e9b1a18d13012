"""The workflow profile profiles/default: read by itself, it prints a failed job's log."""

import shutil

from conftest import REPO, copy_workflow, planned_jobs, snakemake, write_config

# The first job that reads the digits images: it fails at once on a broken file.
TARGET = "resources/digits/local/forget_sets/digits/forget_set_1.npy"
LOG = "logs/define_digits_forget_set/forget_set_1.log"


def broken_run(tmp_path):
    directory = copy_workflow(tmp_path)
    shutil.copytree(REPO / "profiles/default", directory / "profiles/default")
    write_config(directory, {})
    (directory / "resources/digits").mkdir(parents=True)
    (directory / "resources/digits/data.npz").write_bytes(b"not an npz file")
    return directory


def test_a_failed_jobs_log_is_printed_without_asking(tmp_path):
    directory = broken_run(tmp_path)
    result = snakemake(directory, TARGET, "--configfile", "test_config.yaml")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "workflow specific profile profiles/default" in output
    cause = (directory / LOG).read_text().strip().splitlines()[-1]
    assert f"Logfile {LOG}:" in output, output[-3000:]
    assert cause in output


def test_without_the_workflow_profile_the_log_is_only_named(tmp_path):
    directory = broken_run(tmp_path)
    result = snakemake(
        directory, TARGET, "--configfile", "test_config.yaml", "--workflow-profile", "none"
    )
    assert result.returncode != 0
    assert f"Logfile {LOG}:" not in result.stdout + result.stderr


def test_the_workflow_profile_changes_no_plan(tmp_path):
    directory = broken_run(tmp_path)
    (directory / "resources/digits/data.npz").unlink()
    write_config(directory, {})
    without = planned_jobs(
        directory, "--configfile", "test_config.yaml", "--workflow-profile", "none"
    )
    assert planned_jobs(directory, "--configfile", "test_config.yaml") == without
