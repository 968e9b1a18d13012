"""The tiny workflow submitted to a real SLURM through profiles/slurm.

`.ci/slurm/up` starts a one-node cluster on this machine (CI does so in
`.ci/run`); without one these tests skip, except under CI=true, where they fail.
"""

import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import (
    REPO,
    TINY_CONFIG,
    copy_workflow,
    differing_outputs,
    planned_jobs,
    start_snakemake,
    write_config,
)

GPU_RULES = {
    "train_pretrain_models",
    "train_oracle_models",
    "retrain_models",
    "run_unlearning_method",
}
# profiles/slurm's groups: a training job and the scoring of its margins, one SLURM job.
GROUPS = {
    "cell": ("retrain_models", "score_retraining"),
    "method": ("run_unlearning_method", "score_unlearning_method"),
}
# The rules whose jobs go to SLURM (alone, or in a group); the others are
# `localrules` (tables, figures, the digits' data), run by the submitting
# process: seconds of work that would otherwise wait for the queue.
CLUSTER_RULES = GPU_RULES | {
    "slice_pretrain_forget_margins",
    "score_retraining",
    "score_baselines",
    "score_model_counts",
    "score_unlearning_method",
    "eval_pretrain",
}
SUBMITTED = re.compile(
    r"has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/(?:rule|group)_([a-z_]+?)/"
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


def squeue_running(comment_prefix: str) -> list[str]:
    """Ids of the running jobs whose comment (the plugin's rule or group name) starts so."""
    result = subprocess.run(
        ["squeue", "-h", "-t", "RUNNING", "-O", "JobID:20,Comment:200"],
        capture_output=True,
        text=True,
    )
    rows = (line.split() for line in result.stdout.splitlines())
    return [row[0] for row in rows if len(row) == 2 and row[1].startswith(comment_prefix)]


def run_requeueing_one_cell(directory, *args) -> tuple[str, str]:
    """Snakemake through the profile; SLURM requeues the first retraining cell seen running.

    As a preemption or a node failure does (`scontrol requeue`): the job is
    stopped and queued again, and starts over. Returns the run's output and the
    requeued job's id.
    """
    output = directory / "snakemake_output.txt"
    with output.open("w") as sink:
        process = start_snakemake(directory, *args, output=sink)
        requeued = None
        while process.poll() is None:
            if requeued is None:
                running = squeue_running("rule_cell_")
                if running:
                    requeued = running[0]
                    subprocess.run(["scontrol", "requeue", requeued], check=True)
            time.sleep(0.2)
    text = output.read_text()
    assert process.returncode == 0, text[-3000:]
    assert requeued is not None, "no retraining cell was seen running"
    return text, requeued


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """The tiny workflow run through the SLURM profile, one retraining cell requeued.

    Returns its directory, the jobs a local run would plan, the (SLURM job id,
    rule or group) of each submission, SLURM's (state, GPU request) per job id,
    the run's output and the requeued job's id.
    """
    reason = why_no_slurm()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no SLURM is reachable ({reason}); .ci/run starts one")
        pytest.skip(f"no SLURM reachable ({reason}); start one with .ci/slurm/up (as root)")
    directory = copy_workflow(tmp_path_factory.mktemp("slurm"))
    write_config(directory, TINY_CONFIG)
    planned = planned_jobs(directory, "--configfile", "test_config.yaml")
    output, requeued = run_requeueing_one_cell(
        directory,
        *("--profile", str(REPO / "profiles/slurm"), "--configfile", "test_config.yaml"),
        # A test cluster's file system shows outputs at once; the profile's wait suits a real one.
        *("--latency-wait", "5"),
    )
    submitted = [(job, submission_name(name)) for job, name in SUBMITTED.findall(output)]
    return SlurmRun(
        directory, planned, submitted, squeue([job for job, _ in submitted]), output, requeued
    )


class SlurmRun(NamedTuple):
    directory: Path
    planned: dict[str, int]
    submitted: list[tuple[str, str]]
    states: dict[str, tuple[str, str]]
    output: str
    requeued: str


def submission_name(logged: str) -> str:
    """A submission's rule, or its group's name, from its SLURM log's folder."""
    for group, rules in GROUPS.items():
        if logged == "_".join([group, *sorted(rules)]):
            return group
    return logged


def test_cluster_rules_are_slurm_jobs_that_completed_and_the_others_run_locally(slurm_run):
    expected = Counter({rule: n for rule, n in slurm_run.planned.items() if rule in CLUSTER_RULES})
    for group, rules in GROUPS.items():
        jobs = {expected.pop(rule) for rule in rules}
        assert len(jobs) == 1, f"{group}: its rules planned {jobs} jobs; one of each per group"
        expected[group] = jobs.pop()
    assert Counter(name for _, name in slurm_run.submitted) == expected
    assert {state for state, _ in slurm_run.states.values()} == {"COMPLETED"}
    assert len(slurm_run.states) == len(slurm_run.submitted)


def test_training_jobs_request_a_gpu_and_the_others_none(slurm_run):
    requests = {name: set() for _, name in slurm_run.submitted}
    for job, name in slurm_run.submitted:
        requests[name].add(slurm_run.states[job][1])
    grouped = {rule for rules in GROUPS.values() for rule in rules}
    trains = GPU_RULES - grouped | set(GROUPS)
    assert trains <= set(requests)
    for name, tres in requests.items():
        assert tres == ({"gres:gpu:1"} if name in trains else {"N/A"}), name


def test_no_account_warning_where_the_profile_says_there_is_none(slurm_run):
    assert "slurm-no-account: true" in (REPO / "profiles/slurm/config.yaml").read_text()
    assert "SLURM account" not in slurm_run.output


def test_a_requeued_cell_ran_again_and_its_log_shows_the_requeue(slurm_run):
    shown = subprocess.run(
        ["scontrol", "show", "job", slurm_run.requeued], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"\bRestarts=1\b", shown), shown
    logs = list((slurm_run.directory / ".snakemake/slurm_logs").rglob(f"{slurm_run.requeued}.log"))
    assert len(logs) == 1, "the requeued job's SLURM log was not kept"
    text = logs[0].read_text()
    # SLURM writes the requeue into the log; the profile's --open-mode=append keeps
    # it there, followed by the job's second start (its Snakemake, naming its group).
    requeue = text.find("DUE TO JOB REQUEUE")
    assert requeue >= 0, text[-3000:]
    assert "--local-groupid" in text[requeue:], text[-3000:]


def test_outputs_equal_those_of_a_local_run(slurm_run, tiny_run):
    assert differing_outputs(tiny_run, slurm_run.directory) == []
