"""Run one workflow script as Snakemake would, but with inputs wherever the test put them.

    python tests/script_job.py JOB.json

JOB.json: ``script`` (its path), ``input``, ``output``, ``params``,
``wildcards`` (each a dict of names, or a list for unnamed files), ``log``
and ``config``. The script gets the same ``snakemake`` object it gets from
Snakemake, so a script that reads a file its rule does not declare fails
here where that file is not. The object is built from Snakemake's internals
(snakemake.iocontainers), hence the Snakemake range pinned in pyproject.toml.
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
    """A Snakemake container of ``value``: a list, or names -> a value (or a list of files,
    flattened into the container as Snakemake does with a named list of inputs)."""
    if isinstance(value, list):
        return kind(toclone=value)
    if kind not in (InputFiles, OutputFiles):
        return kind(fromdict=value)
    container = kind()
    for name, item in value.items():
        start = len(container)
        container.extend(item if isinstance(item, list) else [item])
        container._set_name(name, start, len(container) if isinstance(item, list) else None)
    return container


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
