"""A small in-memory Hugging Face Hub behind huggingface_hub's own HTTP client, for the publishing tests.

The Hub is unreachable here, so tests swap the transport under huggingface_hub's shared
HTTP client (:func:`huggingface_hub.set_client_factory`; ``httpx2`` in huggingface_hub 2, ``httpx`` in 1.x) for :class:`StubHub`'s handler: every
call the real ``HfApi``, ``hf_hub_download``, ``metadata_update`` and ``upload_file`` make runs their
own code down to the network boundary, and the tests assert outcomes there: the files each commit
put into a repo (:meth:`StubHub.file`), the pull requests opened, what a download returns.

It answers the endpoints those calls use, as the Hub does: ``resolve`` downloads (``HEAD`` and
``GET``, with ``X-Repo-Commit`` and ``ETag``), ``/api/models/<id>`` (model info),
``/api/datasets/<id>/leaderboard``, ``/api/validate-yaml``, ``preupload`` (every file regular),
``commit`` (the ndjson payload, ``create_pr=1`` opening ``refs/pr/N``) and ``/api/repos/create``;
anything else is a 404 that names the request, so a new call shows up as a clear failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import unquote

ENDPOINT = "https://huggingface.co"


@dataclass
class StubRepo:
    repo_type: str
    repo_id: str
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)  # (sha, files), oldest first
    pull_requests: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)  # (sha, files of the PR head)

    @property
    def head(self) -> tuple[str, dict[str, bytes]]:
        return self.commits[-1] if self.commits else ("0" * 40, {})


def _http_module():
    """The HTTP library huggingface_hub's client is built on (``httpx2`` from version 2, ``httpx`` before)."""
    from huggingface_hub.utils import _http

    return getattr(_http, "httpx2", None) or _http.httpx


def _sha(*parts: bytes) -> str:
    return hashlib.sha1(b"".join(parts)).hexdigest()


class StubHub:
    """The repos, leaderboards and requests of one test."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], StubRepo] = {}
        self.leaderboards: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[str] = []  # "METHOD path", for failure messages only

    # ---------------------------------------------------------------- set-up and read-back
    def add_repo(self, repo_id: str, *, repo_type: str = "model", files: dict[str, bytes | str] | None = None) -> str:
        """Create ``repo_id`` with one commit holding ``files``; return that commit's sha."""
        repo = self.repos.setdefault((repo_type, repo_id), StubRepo(repo_type, repo_id))
        return self._commit(repo, {k: v.encode() if isinstance(v, str) else v for k, v in (files or {}).items()})

    def file(self, repo_id: str, path: str, *, repo_type: str = "model", pull_request: int | None = None) -> bytes | None:
        """A file at the head of ``repo_id`` (or of its pull request number ``pull_request``)."""
        repo = self.repos[(repo_type, repo_id)]
        files = repo.pull_requests[pull_request - 1][1] if pull_request else repo.head[1]
        return files.get(path)

    def _commit(self, repo: StubRepo, changes: dict[str, bytes], *, pull_request: bool = False) -> str:
        files = {**repo.head[1], **changes}
        sha = _sha(repo.head[0].encode(), json.dumps(sorted((k, _sha(v)) for k, v in files.items())).encode(),
                   str(len(repo.commits) + len(repo.pull_requests)).encode())
        (repo.pull_requests if pull_request else repo.commits).append((sha, files))
        return sha

    # ---------------------------------------------------------------- transport
    @contextmanager
    def installed(self, monkeypatch) -> Iterator["StubHub"]:
        """Route huggingface_hub's HTTP client to this stub (online mode) for the ``with`` block."""
        from huggingface_hub import constants, set_client_factory
        from huggingface_hub.utils._http import default_client_factory, hf_request_event_hook

        http = _http_module()
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        set_client_factory(lambda: http.Client(transport=http.MockTransport(self.handle), follow_redirects=True,
                                               event_hooks={"request": [hf_request_event_hook]}))
        try:
            yield self
        finally:
            set_client_factory(default_client_factory)

    def handle(self, request) -> Any:
        path = unquote(request.url.path)
        self.requests.append(f"{request.method} {path}")
        try:
            status, body, headers = self._route(request.method, path, request)
        except KeyError as missing:
            status, body, headers = 404, {"error": f"not found: {missing}"}, {"X-Error-Code": "RepoNotFound"}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        if request.method == "HEAD":
            headers = {**headers, "Content-Length": str(len(content))}
            content = b""
        return _http_module().Response(status, content=content, headers=headers)

    def _repo(self, repo_type: str, repo_id: str) -> StubRepo:
        return self.repos[(repo_type, repo_id)]

    def _route(self, method: str, path: str, request) -> tuple[int, Any, dict[str, str]]:
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "datasets"] and parts[-1] == "leaderboard":
            return 200, self.leaderboards[f"{parts[2]}/{parts[3]}"], {}
        if parts[:2] == ["api", "validate-yaml"]:
            return 200, {}, {}
        if parts[:3] == ["api", "repos", "create"]:
            payload = json.loads(request.content)
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            if (repo_type, repo_id) not in self.repos:
                self.add_repo(repo_id, repo_type=repo_type)
            prefix = "" if repo_type == "model" else f"{repo_type}s/"
            return 200, {"url": f"{ENDPOINT}/{prefix}{repo_id}"}, {}
        if parts[0] == "api" and parts[1] in ("models", "datasets", "spaces") and len(parts) >= 4:
            repo_type = parts[1][:-1]
            repo = self._repo(repo_type, f"{parts[2]}/{parts[3]}")
            action = parts[4] if len(parts) > 4 else None
            if action is None or action == "revision":
                sha, files = repo.head
                return 200, {"id": repo.repo_id, "sha": sha, "siblings": [{"rfilename": f} for f in files]}, {}
            if action == "preupload":
                payload = json.loads(request.content)
                return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                       for f in payload["files"]]}, {}
            if action == "commit":
                return self._commit_request(repo, request)
        # downloads: [datasets/|spaces/]<org>/<name>/resolve/<revision>/<path>
        repo_type = "model"
        if parts[0] in ("datasets", "spaces"):
            repo_type, parts = parts[0][:-1], parts[1:]
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = self._repo(repo_type, f"{parts[0]}/{parts[1]}")
            revision, name = parts[3], "/".join(parts[4:])
            sha, files = next(((s, f) for s, f in reversed(repo.commits) if s == revision), repo.head) \
                if revision != "main" else repo.head
            if name not in files:
                return 404, {"error": f"{name} not in {repo.repo_id}"}, {"X-Error-Code": "EntryNotFound",
                                                                         "X-Repo-Commit": sha}
            return 200, files[name], {"X-Repo-Commit": sha, "ETag": f'"{_sha(files[name])}"'}
        return 404, {"error": f"the stub Hub does not answer {method} {path}"}, {"X-Error-Code": "EntryNotFound"}

    def _commit_request(self, repo: StubRepo, request) -> tuple[int, Any, dict[str, str]]:
        changes: dict[str, bytes] = {}
        for line in request.content.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                changes[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
        pull_request = request.url.params.get("create_pr") == "1"
        sha = self._commit(repo, changes, pull_request=pull_request)
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        body = {"commitUrl": f"{ENDPOINT}/{prefix}{repo.repo_id}/commit/{sha}", "commitOid": sha}
        if pull_request:
            body["pullRequestUrl"] = f"{ENDPOINT}/{prefix}{repo.repo_id}/discussions/{len(repo.pull_requests)}"
        return 200, body, {}
