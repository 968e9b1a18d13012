"""The hub client both sources share: commits, fetching, and errors in one line.

A run first resolves the configured revision (a branch, a tag or a commit) to
its 40-character commit, once (:func:`resolve_commit`); every file is then
fetched at that commit, so that all parts of a run come from the same state of
the dataset and the results can record it. Files are fetched one by one with
``huggingface_hub.hf_hub_download`` into the hub client's cache (which honours
``HF_TOKEN``, ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` as it always does), then
linked into the layout directory. A file already there is not fetched again.

Every way the hub can fail ends in one :class:`HubError` line naming the repo,
the revision and the file or the cause; when the hub cannot be reached, the
line is a ``hf download`` command that fills the cache with exactly the files
the job needs, after which the job runs with ``HF_HUB_OFFLINE=1``.

The ``hub`` argument of the functions here is a dict: ``repo_id``,
``cache_dir``, ``revision`` (only to resolve it), and optionally ``endpoint``
(default: the client's, ``HF_ENDPOINT``) and ``file_list`` (where a long
``hf download`` file list is written).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from klomflow.benchmarks import n_oracles
from klomflow.files import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

# Both datasets hold 200 pretrain models and 200 oracles per forget set, named
# after their last epoch, 23 of 24 counted from 0.
HUB_MODELS = 200
HUB_FILE_EPOCH = 23
COMMIT = re.compile(r"[0-9a-f]{40}")
# More files than this go to a list file, named by the hint, not into the hint itself.
HINT_INLINE_FILES = 5


class HubError(OSError):
    """The hub could not deliver; the one-line message names repo, revision and file or cause."""


def resolve_commit(hub: dict, needed: list[str]) -> str:
    """The 40-character commit that ``hub["revision"]`` names in ``hub["repo_id"]``.

    A commit hash is taken as it is, without asking the hub. Otherwise the hub
    answers; when it cannot be reached, the commit the cache recorded for the
    revision (``refs/<revision>``) is used. ``needed``: the files of the whole
    run, for the ``hf download`` command the error gives when neither works.
    """
    repo_id, revision = hub["repo_id"], hub["revision"]
    if COMMIT.fullmatch(revision):
        return revision
    from huggingface_hub import HfApi

    with _hub_errors(hub, revision, needed, include=_are_patterns(needed)) as unreachable:
        commit = (
            HfApi(endpoint=hub.get("endpoint"))
            .repo_info(repo_id, repo_type="dataset", revision=revision)
            .sha
        )
        log.info("%s@%s is commit %s", repo_id, revision, commit)
        return commit
    ref = _repo_cache(hub) / "refs" / revision
    if ref.is_file() and COMMIT.fullmatch(ref.read_text().strip()):
        commit = ref.read_text().strip()
        log.info("%s@%s is commit %s, as the hub cache recorded it", repo_id, revision, commit)
        return commit
    raise unreachable()


def _are_patterns(files: list[str]) -> bool:
    return any("*" in f for f in files)


def write_commit(path: str | Path, hub: dict, commit: str) -> None:
    """Record the commit a run fetches its reference set at (``hub_commit.json``)."""
    record = {"repo_id": hub["repo_id"], "revision": hub["revision"], "commit": commit}
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def resolve_run_commit(hub: dict, needed: list[str], path: str | Path) -> None:
    """Resolve ``hub["revision"]`` to its commit once and record it in ``path`` for the run."""
    write_commit(path, hub, resolve_commit(hub, needed))


def read_commit(path: str | Path) -> dict:
    """The record :func:`write_commit` wrote: ``repo_id``, ``revision`` and ``commit``."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable commit record ({error})") from None
    if not isinstance(record, dict) or not COMMIT.fullmatch(str(record.get("commit"))):
        raise ValueError(f"{path}: holds no 40-character commit")
    return record


def fetch(hub: dict, commit: str, files: list[str]) -> dict[str, Path]:
    """Each repo path in ``files`` -> its file in the hub cache, fetched at ``commit``."""
    from huggingface_hub import hf_hub_download

    def one(name: str) -> Path:
        return Path(
            hf_hub_download(
                hub["repo_id"],
                name,
                repo_type="dataset",
                revision=commit,
                cache_dir=hub["cache_dir"],
                endpoint=hub.get("endpoint"),
            )
        )

    log.info("fetching %d files of %s at commit %s", len(files), hub["repo_id"], commit)
    with _hub_errors(hub, commit, files) as unreachable:
        # The client fetches one file per call; a few at once hide the latency.
        with ThreadPoolExecutor(max_workers=8) as pool:
            return dict(zip(files, pool.map(one, files)))
    raise unreachable()


def list_folder(hub: dict, commit: str, folder: str, patterns: list[str]) -> list[str]:
    """The repo paths of the files directly in ``folder`` at ``commit``.

    Offline, the files of the folder that the cache holds at that commit.
    ``patterns``: what the caller looks for, for the ``hf download`` command
    of the error when the hub cannot be reached and the cache has nothing.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    with _hub_errors(hub, commit, [f"{folder}/{p}" for p in patterns], include=True) as unreachable:
        tree = HfApi(endpoint=hub.get("endpoint")).list_repo_tree(
            hub["repo_id"], folder, revision=commit, repo_type="dataset"
        )
        return sorted(entry.path for entry in tree if isinstance(entry, RepoFile))
    cached = _repo_cache(hub) / "snapshots" / commit / folder
    if cached.is_dir():
        return sorted(f"{folder}/{p.name}" for p in cached.iterdir() if p.is_file())
    raise unreachable()


class _Unreachable:
    """Set by :func:`_hub_errors` when the hub cannot be reached: call it for the error."""

    def __init__(self):
        self.error: HubError | None = None

    def __call__(self) -> HubError:
        return self.error


@contextlib.contextmanager
def _hub_errors(hub: dict, revision: str, files: list[str], include: bool = False) -> Iterator:
    """Turn the hub client's errors into one :class:`HubError` line each.

    An unreachable hub does not raise at once: the caller may still find what
    it needs in the cache, and raises the prepared error (``unreachable()``)
    when it does not. ``files`` (patterns when ``include``) are what the
    ``hf download`` command of that error fetches.
    """
    from huggingface_hub import errors

    repo = repo_at(hub, revision)
    unreachable = _Unreachable()
    try:
        yield unreachable
    except errors.RevisionNotFoundError:
        raise HubError(
            f"{repo}: revision not found on the hub; set hub.*.revision to a branch, a tag "
            "or a full 40-character commit of the dataset"
        ) from None
    except errors.RemoteEntryNotFoundError as error:
        name = getattr(error, "filename", None) or _entry_of(error, files)
        raise HubError(f"{repo}: no file {name} on the hub (missing in the dataset)") from None
    except errors.GatedRepoError:
        raise HubError(
            f"{repo}: access denied, the dataset is gated; accept its conditions on "
            f"https://huggingface.co/datasets/{hub['repo_id']} and log in (`hf auth login` "
            "or HF_TOKEN)"
        ) from None
    except errors.RepositoryNotFoundError:
        raise HubError(
            f"{repo}: access denied or no such repository; check hub.*.repo_id and log in "
            "(`hf auth login` or HF_TOKEN) if it is private"
        ) from None
    except errors.HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            raise HubError(
                f"{repo}: access denied (HTTP {status}); log in (`hf auth login` or HF_TOKEN)"
            ) from None
        unreachable.error = _unreachable_error(hub, revision, files, include, f"HTTP {status}")
    except (ConnectionError, TimeoutError, errors.LocalEntryNotFoundError) as error:
        # OfflineModeIsEnabled is a ConnectionError; httpx's errors are not OSErrors.
        unreachable.error = _unreachable_error(hub, revision, files, include, _cause(error))
    except Exception as error:
        if type(error).__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore"):
            raise
        unreachable.error = _unreachable_error(hub, revision, files, include, _cause(error))


def _cause(error: BaseException) -> str:
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    if isinstance(error, (OfflineModeIsEnabled, LocalEntryNotFoundError)):
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "on", "yes", "true"):
            return "HF_HUB_OFFLINE is set and the hub cache does not hold them"
        below = error.__cause__ or error.__context__
        reached = f": {type(below).__name__}" if below is not None else ""
        return f"not in the hub cache, and the hub is not reachable{reached}"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _entry_of(error: Exception, files: list[str]) -> str:
    """The file a 404 was about, from its URL (the client keeps no file name)."""
    url = str(getattr(getattr(error, "response", None), "url", ""))
    return next((f for f in files if url.endswith("/" + f)), "?")


def _unreachable_error(hub: dict, revision: str, files: list[str], include: bool, cause: str):
    return HubError(
        f"{repo_at(hub, revision)}: hub unreachable ({cause}); "
        f"on a machine with access run {download_command(hub, revision, files, include)} "
        "and copy the cache here, then run again (it works with HF_HUB_OFFLINE=1)"
    )


def download_command(hub: dict, revision: str, files: list[str], include: bool = False) -> str:
    """The ``hf download`` command that puts ``files`` of ``revision`` into the hub cache.

    ``include``: ``files`` are glob patterns (``--include``). A list longer
    than a few files goes to ``hub["file_list"]`` (one per line), when given,
    and the command reads it.
    """
    # Every value is quoted: the command must work when copied, whatever config holds.
    command = (
        f"hf download {shlex.quote(hub['repo_id'])} --repo-type dataset "
        f"--revision {shlex.quote(revision)} --cache-dir {shlex.quote(str(hub['cache_dir']))}"
    )
    if include:
        return "`" + command + "".join(f" --include {shlex.quote(p)}" for p in files) + "`"
    listing = hub.get("file_list")
    if len(files) > HINT_INLINE_FILES and listing:
        atomic_write_text(listing, "".join(f + "\n" for f in files))
        return f"`{command} $(cat {shlex.quote(str(listing))})` (the {len(files)} files listed in {listing})"
    return "`" + command + "".join(f" {shlex.quote(f)}" for f in files) + "`"


def repo_at(hub: dict, revision: str) -> str:
    """How every hub error begins: ``dataset REPO at revision REVISION``."""
    return f"dataset {hub['repo_id']} at revision {revision}"


def _repo_cache(hub: dict) -> Path:
    return Path(hub["cache_dir"]) / f"datasets--{hub['repo_id'].replace('/', '--')}"


def fetch_into(hub: dict, commit: str, files: list[str], destination: Path) -> None:
    """Make ``destination / f`` exist for every repo path ``f`` in ``files``, fetching what is missing."""
    destination = Path(destination)
    missing = [f for f in files if not (destination / f).is_file()]
    if missing:
        for name, path in fetch(hub, commit, missing).items():
            place_file(path.resolve(), destination / name)


def place_file(source: Path, target: Path) -> None:
    """Hard-link (or, across file systems, copy) ``source`` to ``target``, atomically."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


def check_model_count(n_models: int) -> None:
    """ValueError unless the hub datasets hold the ``n_oracles(n_models)`` oracles a run needs."""
    if not 1 <= n_oracles(n_models) <= HUB_MODELS:
        raise ValueError(
            f"n_models: {n_models} needs {n_oracles(n_models)} oracles per forget set, but the hub "
            f"datasets hold {HUB_MODELS}; use at most {HUB_MODELS // 2}"
        )
