"""A Hugging Face Hub on loopback: the part of the protocol ``hf_hub_download`` speaks.

``HEAD`` and ``GET /{repo_id}/resolve/{revision}/{filename}`` answered as huggingface.co does
for a plain (non-Xet) file: ``X-Repo-Commit``, a quoted ``ETag``, ``Content-Length``, byte
ranges; failures as 401/403/404 with the ``X-Error-Code`` / ``X-Error-Message`` headers that
``huggingface_hub.utils.hf_raise_for_status`` turns into typed errors. On top of that, faults
a real network has: a connection dropped mid-file, a server that hangs up, a body shorter than
announced, bytes damaged in transit.

Example:
    >>> with serving_hub() as hub:  # doctest: +SKIP
    ...     hub.add_repo("acme/tiny-sam3", {"config.json": b"{}"})
    ...     # HF_ENDPOINT=hub.url in the client's environment
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_RESOLVE_PATH = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<file>.+)")
_BYTE_RANGE = re.compile(r"bytes=(?P<start>\d+)-(?P<end>\d*)")
_PORTAL_PAGE = b"<html><body>Please sign in to the guest network.</body></html>"


@dataclass(frozen=True)
class Commit:
    """One commit of a repository: its hash and every file it holds."""

    sha: str
    files: Mapping[str, bytes]


@dataclass
class Repo:
    """A model repository.

    Attributes:
        commits: by commit hash.
        branches: branch name -> commit hash; ``main`` always exists.
        granted_tokens: None for a public repository; for a gated one, the tokens of the
            accounts whose access request was accepted.
    """

    commits: dict[str, Commit]
    branches: dict[str, str]
    granted_tokens: frozenset[str] | None = None


@dataclass(frozen=True)
class SeenRequest:
    """A request the hub answered (or hung up on), for assertions on what the client sent.

    ``repo_id``, ``revision`` and ``filename`` are empty for a path outside ``/resolve/``
    (huggingface_hub 2 also asks ``/api/agent-harnesses``, answered 404 like any other).
    """

    method: str
    path: str
    repo_id: str
    revision: str
    filename: str
    status: int
    range: str | None
    authorization: str | None


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    # How the transfer goes wrong, if it does: "drop" (half the body, then close), "hang_up"
    # (close before answering).
    fault: str | None = None


@dataclass
class FakeHub:
    """What the loopback hub serves; change it between requests (thread-safe).

    Attributes:
        url: ``http://127.0.0.1:PORT``, the value for ``HF_ENDPOINT``.
        accounts: tokens the hub knows; any other token is "Invalid credentials" (401).
    """

    url: str = ""
    accounts: set[str] = field(default_factory=set)
    _repos: dict[str, Repo] = field(default_factory=dict)
    _drops: dict[tuple[str, str], int] = field(default_factory=dict)
    _hang_ups: set[tuple[str, str]] = field(default_factory=set)
    _short: set[tuple[str, str]] = field(default_factory=set)
    _corrupt: set[tuple[str, str]] = field(default_factory=set)
    _portal: bool = False
    _seen: list[SeenRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        *,
        gated_for: set[str] | None = None,
    ) -> str:
        """Create ``repo_id`` with one commit on ``main``; return that commit's hash.

        ``gated_for``: make the repository gated, readable with these tokens only (each also
        becomes a known account).
        """
        commit = _commit(repo_id, files, parent=None)
        granted = None if gated_for is None else frozenset(gated_for)
        with self._lock:
            self._repos[repo_id] = Repo({commit.sha: commit}, {"main": commit.sha}, granted)
            self.accounts |= gated_for or set()
        return commit.sha

    def commit(self, repo_id: str, files: Mapping[str, bytes], *, branch: str = "main") -> str:
        """Add a commit holding exactly ``files`` on ``branch`` (created if new); its hash."""
        with self._lock:
            repo = self._repos[repo_id]
            commit = _commit(repo_id, files, parent=repo.branches["main"])
            repo.commits[commit.sha] = commit
            repo.branches[branch] = commit.sha
        return commit.sha

    def head(self, repo_id: str, branch: str = "main") -> str:
        """The commit hash ``branch`` points to."""
        with self._lock:
            return self._repos[repo_id].branches[branch]

    def drop_connection(self, repo_id: str, filename: str, times: int = 1) -> None:
        """Cut the next ``times`` GETs of the file halfway through its body."""
        with self._lock:
            self._drops[(repo_id, filename)] = times

    def hang_up(self, repo_id: str, filename: str) -> None:
        """Close every connection that asks for the file, before answering."""
        with self._lock:
            self._hang_ups.add((repo_id, filename))

    def shorten(self, repo_id: str, filename: str) -> None:
        """Serve half the file on GET (a consistent, shorter response) while HEAD announces
        the whole size, as a cache or proxy holding a truncated copy would."""
        with self._lock:
            self._short.add((repo_id, filename))

    def corrupt(self, repo_id: str, filename: str) -> None:
        """Serve damaged bytes for the file: same size and ETag, every 7th byte flipped from
        byte 16 on (a safetensors file keeps its length prefix and the opening of its JSON
        header, so it still reads as safetensors, a damaged one)."""
        with self._lock:
            self._corrupt.add((repo_id, filename))

    def act_as_a_portal(self) -> None:
        """Answer every request as a captive portal or a proxy's error page does: 200 and
        HTML, none of the hub's headers (what an ``HF_ENDPOINT`` that is no hub gives)."""
        with self._lock:
            self._portal = True

    def requests(
        self, repo_id: str | None = None, filename: str | None = None
    ) -> list[SeenRequest]:
        """Requests answered so far, in order; only those for ``repo_id``/``filename`` if
        given (which leaves out paths other than ``/resolve/``, answered 404)."""
        with self._lock:
            return [
                r
                for r in self._seen
                if repo_id in (None, r.repo_id) and filename in (None, r.filename)
            ]

    def reset(self) -> None:
        """Forget every repository, account, fault and request."""
        with self._lock:
            self.accounts.clear()
            for state in (self._repos, self._drops, self._hang_ups, self._short, self._corrupt):
                state.clear()
            self._seen.clear()
            self._portal = False

    def answer(
        self, method: str, path: str, authorization: str | None, byte_range: str | None
    ) -> _Reply:
        """The reply to one request (and its record in :meth:`requests`)."""
        match = _RESOLVE_PATH.fullmatch(unquote(urlsplit(path).path))
        repo_id, revision, filename = match.groups() if match else ("", "", "")
        with self._lock:
            if self._portal:
                reply = _Reply(200, {"Content-Type": "text/html"}, _PORTAL_PAGE)
            elif match is None:
                reply = _Reply(404, {"X-Error-Message": "Not Found"})
            else:
                reply = self._reply(method, repo_id, revision, filename, authorization, byte_range)
            self._seen.append(
                SeenRequest(
                    method,
                    path,
                    repo_id,
                    revision,
                    filename,
                    reply.status,
                    byte_range,
                    authorization,
                )
            )
        return reply

    def _reply(
        self,
        method: str,
        repo_id: str,
        revision: str,
        filename: str,
        authorization: str | None,
        byte_range: str | None,
    ) -> _Reply:
        key = (repo_id, filename)
        if key in self._hang_ups:
            return _Reply(0, {}, fault="hang_up")
        refused = self._refusal(repo_id, authorization)
        if refused is not None:
            return refused
        repo = self._repos[repo_id]
        sha = repo.branches.get(revision, revision if revision in repo.commits else None)
        if sha is None:
            return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        content = repo.commits[sha].files.get(filename)
        headers = {"X-Repo-Commit": sha}
        if content is None:
            return _error(404, "EntryNotFound", "Entry not found", headers)
        # The ETag names the blob in the client's cache: that of the true content, even when
        # the bytes sent are damaged, as when they are damaged on the way.
        shown = filename.rsplit("/", 1)[-1]
        headers |= {
            "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
            "Accept-Ranges": "bytes",
            # The client names its progress bar after this file name (else the whole URL).
            "Content-Disposition": f"inline; filename*=UTF-8''{shown}; filename=\"{shown}\";",
        }
        if method == "HEAD":
            return _Reply(200, headers | {"Content-Length": str(len(content))})
        return self._body(key, self._served_bytes(key, content), headers, byte_range)

    def _refusal(self, repo_id: str, authorization: str | None) -> _Reply | None:
        token = authorization.removeprefix("Bearer ") if authorization else None
        if token is not None and token not in self.accounts:
            return _Reply(401, {"X-Error-Message": "Invalid credentials in Authorization header"})
        repo = self._repos.get(repo_id)
        if repo is None:
            return _error(404, "RepoNotFound", "Repository not found")
        if repo.granted_tokens is None or token in repo.granted_tokens:
            return None
        if token is None:
            why = "You must have access to it and be authenticated to access it. Please log in."
            return _error(401, "GatedRepo", f"Access to model {repo_id} is restricted. {why}")
        return _error(
            403,
            "GatedRepo",
            f"Access to model {repo_id} is restricted and you are not in the authorized list.",
        )

    def _served_bytes(self, key: tuple[str, str], content: bytes) -> bytes:
        if key in self._short:
            return content[: len(content) // 2]
        if key in self._corrupt:
            damaged = bytearray(content)
            for index in range(16, len(damaged), 7):
                damaged[index] ^= 0xFF
            return bytes(damaged)
        return content

    def _body(
        self,
        key: tuple[str, str],
        content: bytes,
        headers: dict[str, str],
        byte_range: str | None,
    ) -> _Reply:
        status, start = 200, 0
        requested = _BYTE_RANGE.fullmatch(byte_range or "")
        if requested is not None and not requested["end"]:
            status, start = 206, int(requested["start"])
            headers = headers | {
                "Content-Range": f"bytes {start}-{len(content) - 1}/{len(content)}"
            }
        body = content[start:]
        fault = None
        if self._drops.get(key, 0) > 0:
            self._drops[key] -= 1
            fault = "drop"
        return _Reply(status, headers | {"Content-Length": str(len(body))}, body, fault)


def _commit(repo_id: str, files: Mapping[str, bytes], parent: str | None) -> Commit:
    digest = hashlib.sha1(f"{repo_id}\0{parent}".encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return Commit(digest.hexdigest(), dict(files))


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> _Reply:
    return _Reply(status, {**(headers or {}), "X-Error-Code": code, "X-Error-Message": message})


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, so a dropped connection is a protocol error to the
    # client (a body shorter than its Content-Length), not a normal end of response.
    protocol_version = "HTTP/1.1"
    server: _HubServer

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the hub's record is :meth:`FakeHub.requests`."""

    def _respond(self, *, send_body: bool) -> None:
        reply = self.server.hub.answer(
            self.command, self.path, self.headers.get("Authorization"), self.headers.get("Range")
        )
        if reply.fault == "hang_up":
            self._hang_up()
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "Content-Length" not in reply.headers:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if not send_body:
            return
        if reply.fault == "drop":
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.wfile.flush()
            self._hang_up()
            return
        self.wfile.write(reply.body)

    def _hang_up(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class _HubServer(ThreadingHTTPServer):
    daemon_threads = True
    # Teardown must not wait on connections a client keeps alive.
    block_on_close = False

    def __init__(self, hub: FakeHub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hub = hub


@contextmanager
def serving_hub() -> Iterator[FakeHub]:
    """Serve an empty :class:`FakeHub` on a free loopback port until the block ends."""
    hub = FakeHub()
    server = _HubServer(hub)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-hub", daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
