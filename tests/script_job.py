"""Run one workflow script as Snakemake would, but with inputs wherever the test put them.

    python tests/script_job.py JOB.json

JOB.json: ``script`` (its path), ``input``, ``output``, ``params``,
``wildcards`` (each a dict of names, or a list for unnamed files), ``log``
and ``config``. The script gets the same ``snakemake`` object it gets from
Snakemake, so a script that reads a file its rule does not declare fails
here where that file is not.
"""

import json
import runpy
import sys
from pathlib import Path

from snakemake.iocontainers import (
    InputFiles,
    Log,
    OutputFiles,
    Params,
    ResourceList,
    Snakemake,
    Wildcards,
)


def named(kind, value):
    if isinstance(value, list):
        return kind(toclone=value)
    return kind(fromdict=value)


job = json.loads(Path(sys.argv[1]).read_text())
snakemake = Snakemake(
    named(InputFiles, job["input"]),
    named(OutputFiles, job["output"]),
    named(Params, job.get("params", {})),
    named(Wildcards, job.get("wildcards", {})),
    1,
    ResourceList(fromdict={"_cores": 1, "_nodes": 1}),
    named(Log, [job["log"]]),
    job["config"],
    Path(job["script"]).stem,
    None,
    str(Path(job["script"]).parent),
)
runpy.run_path(job["script"], init_globals={"snakemake": snakemake}, run_name="__main__")
