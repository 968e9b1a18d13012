"""A stand-in HuggingFace hub on 127.0.0.1, for the real hub client (HF_ENDPOINT).

It answers what ``huggingface_hub`` asks of a dataset repo: the revision info
(``/api/datasets/{repo}/revision/{rev}``: commit and file list), the tree
listing (``/api/datasets/{repo}/tree/{rev}[/{folder}]``, the files only) and the files
(``HEAD``/``GET /datasets/{repo}/resolve/{rev}/{path}``, with the
``X-Repo-Commit``, ``ETag`` and ``Content-Length`` headers the client needs).
Errors carry the ``X-Error-Code`` header the client turns into its error types.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import numpy as np


class StandInHub:
    """Dataset repos served over HTTP: ``repos[repo_id] = {"refs": {...}, "commits": {...}}``.

    ``gated``: repo ids that answer 403 GatedRepo; ``delay``: seconds each
    file download waits before answering (to stop a job mid-way).
    """

    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.gated: set[str] = set()
        self.delay = 0.0
        self.downloads: list[str] = []  # repo paths of every GET of a file
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def add(self, repo_id: str, files: dict, branch: str = "main") -> str:
        """Publish ``files`` (path -> bytes or array) as a new commit of ``branch``; its hash."""
        content = {path: _as_bytes(value) for path, value in files.items()}
        digest = hashlib.sha1(repr(sorted(content.items())).encode()).hexdigest()
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        repo["commits"][digest] = content
        repo["refs"][branch] = digest
        return digest

    def start(self) -> StandInHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _as_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, np.ndarray):
        buffer = io.BytesIO()
        np.save(buffer, value)
        return buffer.getvalue()
    import torch

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _handler(hub: StandInHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep the test output clean
            pass

        def do_HEAD(self):
            self._answer(body=False)

        def do_GET(self):
            self._answer(body=True)

        def _answer(self, body: bool):
            parts = [unquote(p) for p in urlsplit(self.path).path.split("/")[1:]]
            if parts[:2] == ["api", "datasets"] and len(parts) >= 6:
                repo_id, kind, revision, rest = "/".join(parts[2:4]), parts[4], parts[5], parts[6:]
                if kind in ("revision", "tree"):
                    return self._api(repo_id, kind, revision, "/".join(rest), body)
            if parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve":
                repo_id, revision, path = "/".join(parts[1:3]), parts[4], "/".join(parts[5:])
                return self._file(repo_id, revision, path, body)
            self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, body)

        def _commit(self, repo_id, revision, body):
            """The commit's hash and files, or None after answering with the error."""
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._send(401, b"", {"X-Error-Code": "RepoNotFound"}, body)
            elif repo_id in hub.gated:
                self._send(403, b"", {"X-Error-Code": "GatedRepo"}, body)
            else:
                sha = repo["refs"].get(revision, revision)
                if sha in repo["commits"]:
                    return sha, repo["commits"][sha]
                self._send(404, b"", {"X-Error-Code": "RevisionNotFound"}, body)
            return None

        def _api(self, repo_id, kind, revision, folder, body):
            found = self._commit(repo_id, revision, body)
            if found is None:
                return
            sha, files = found
            if kind == "revision":
                info = {"id": repo_id, "sha": sha, "siblings": [{"rfilename": f} for f in files]}
                return self._send(200, json.dumps(info).encode(), {}, body)
            prefix = f"{folder}/" if folder else ""
            recursive = "recursive=true" in urlsplit(self.path).query.lower()
            entries = [
                {"type": "file", "path": f, "size": len(data), "oid": _oid(data)}
                for f, data in sorted(files.items())
                if f.startswith(prefix) and (recursive or "/" not in f[len(prefix) :])
            ]
            self._send(200, json.dumps(entries).encode(), {}, body)

        def _file(self, repo_id, revision, path, body):
            found = self._commit(repo_id, revision, body)
            if found is None:
                return
            sha, files = found
            if path not in files:
                return self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, body)
            if body:
                time.sleep(hub.delay)
                hub.downloads.append(path)
            data = files[path]
            headers = {"X-Repo-Commit": sha, "ETag": f'"{_oid(data)}"'}
            self._send(200, data, headers, body)

        def _send(self, status, data, headers, body):
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


def _oid(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()
