"""The tiny workflow submitted to a real SLURM through profiles/slurm.

`.ci/slurm/up` starts a one-node cluster on this machine (CI does so in
`.ci/run`); without one these tests skip, except under CI=true, where they fail.
"""

import os
import re
import shutil
import subprocess
from collections import Counter

import pytest
from conftest import (
    REPO,
    TINY_CONFIG,
    copy_workflow,
    differing_outputs,
    planned_jobs,
    snakemake,
    write_config,
)

GPU_RULES = {
    "train_pretrain_models",
    "train_oracle_models",
    "retrain_models",
    "run_unlearning_method",
}
SUBMITTED = re.compile(
    r"has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/"
)


def why_no_slurm() -> str | None:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "sinfo/sbatch not on PATH"
    try:
        result = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        return "sinfo did not answer in 20 s"
    if result.returncode != 0:
        return f"sinfo failed: {result.stderr.strip()}"
    if not {"idle", "mixed", "allocated"} & set(result.stdout.split()):
        return f"no node is up (states: {result.stdout.split()})"
    return None


def squeue(job_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Job id -> (state, GPUs requested) of finished and running jobs alike."""
    result = subprocess.run(
        ["squeue", "--states=all", "-h", "-j", ",".join(job_ids)]
        + ["-O", "JobID:20,State:20,tres-per-job:40"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = (line.split() for line in result.stdout.splitlines())
    return {job: (state, tres) for job, state, tres in rows}


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """The tiny workflow run through the SLURM profile.

    Returns its directory, the jobs a local run would plan, the (SLURM job
    id, rule) of each submission, and SLURM's (state, GPU request) per job id.
    """
    reason = why_no_slurm()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no SLURM is reachable ({reason}); .ci/run starts one")
        pytest.skip(f"no SLURM reachable ({reason}); start one with .ci/slurm/up (as root)")
    directory = copy_workflow(tmp_path_factory.mktemp("slurm"))
    write_config(directory, TINY_CONFIG)
    planned = planned_jobs(directory, "--configfile", "test_config.yaml")
    result = snakemake(
        directory,
        *("--profile", str(REPO / "profiles/slurm"), "--configfile", "test_config.yaml"),
        # A test cluster answers at once; the profile's waits suit a real one.
        *("--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5"),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    submitted = SUBMITTED.findall(output)
    return directory, planned, submitted, squeue([job for job, _ in submitted])


def test_every_job_but_the_target_is_a_slurm_job_that_completed(slurm_run):
    _, planned, submitted, states = slurm_run
    expected = {rule: n for rule, n in planned.items() if rule != "all"}  # `all` runs no code
    assert Counter(rule for _, rule in submitted) == expected
    assert {state for state, _ in states.values()} == {"COMPLETED"}
    assert len(states) == len(submitted)


def test_training_jobs_request_a_gpu_and_the_others_none(slurm_run):
    _, _, submitted, states = slurm_run
    requests = {rule: set() for _, rule in submitted}
    for job, rule in submitted:
        requests[rule].add(states[job][1])
    assert GPU_RULES <= set(requests)
    for rule, tres in requests.items():
        assert tres == ({"gres:gpu:1"} if rule in GPU_RULES else {"N/A"}), rule


def test_outputs_equal_those_of_a_local_run(slurm_run, tiny_run):
    directory, *_ = slurm_run
    assert differing_outputs(tiny_run, directory) == []
