"""Fresh Python interpreters in a fraction of a second, forked from a pristine one.

A hub scenario must start with no ``huggingface_hub`` or ``sam3lib`` module loaded: both read
``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` or ``HF_HOME`` when imported, and an earlier import is how
a crash on a fresh install went unnoticed. A plain subprocess would do, but spends seconds
importing torch each time. So a *zygote* (this file run as a script) imports the heavy modules
that hold no such state (torch), checks that no hub module came with them, then forks one
child per call. The child takes the caller's environment, then imports and runs a function
exactly as a new interpreter would; its return value (JSON) comes back with its exit code,
stdout and stderr. Only stdlib modules are imported here, so the zygote stays pristine.

Example:
    >>> with zygote(preload=["torch"], workdir=tmp_path) as python:  # doctest: +SKIP
    ...     run = python.call("helpers.hub_client:resolve", env=env, repo_id="acme/tiny-sam3")
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Modules a child must import itself, under its own environment.
STATEFUL_MODULES = ("huggingface_hub", "sam3lib", "transformers")
TESTS_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    """What one forked interpreter did."""

    exit_code: int
    value: Any  # the function's return value; None if it raised (see stderr)
    stdout: str
    stderr: str


class Zygote:
    """A running zygote process; :meth:`call` forks a fresh interpreter from it."""

    def __init__(self, preload: Sequence[str], workdir: Path, env: Mapping[str, str]) -> None:
        self._workdir = workdir
        self._calls = 0
        self._process = subprocess.Popen(
            [sys.executable, __file__, *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env),
            text=True,
        )

    def call(
        self,
        function: str,
        *,
        env: Mapping[str, str],
        terminal: bool = False,
        timeout_s: int = 120,
        **kwargs: Any,
    ) -> Run:
        """Run ``"module:function"(**kwargs)`` in a fresh interpreter with exactly ``env``.

        ``terminal``: give the child a pseudo-terminal as stderr, as a user at a console has
        (progress bars are drawn only there); its output comes back as ``Run.stderr``.
        """
        self._calls += 1
        files = {part: self._workdir / f"call{self._calls}.{part}" for part in ("out", "err")}
        result = self._workdir / f"call{self._calls}.json"
        request = {
            "function": function,
            "kwargs": kwargs,
            "env": dict(env),
            "stdout": str(files["out"]),
            "stderr": str(files["err"]),
            "result": str(result),
            "terminal": terminal,
            "timeout_s": timeout_s,
        }
        reply = self._exchange(request, timeout_s + 30)
        return Run(
            reply["exit_code"],
            json.loads(result.read_text()) if result.is_file() else None,
            files["out"].read_text(errors="replace"),
            files["err"].read_text(errors="replace"),
        )

    def close(self) -> None:
        """Stop the zygote (its stdin closing ends its loop)."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _exchange(self, request: dict[str, Any], timeout_s: int) -> dict[str, Any]:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], timeout_s)
        line = stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(
                f"the zygote gave no answer in {timeout_s} s (exit code {self._process.poll()})"
            )
        reply: dict[str, Any] = json.loads(line)
        return reply


@contextmanager
def zygote(
    preload: Sequence[str], workdir: Path, env: Mapping[str, str] | None = None
) -> Iterator[Zygote]:
    """A :class:`Zygote` that imported ``preload``, for the duration of the block."""
    process = Zygote(preload, workdir, os.environ if env is None else env)
    try:
        yield process
    finally:
        process.close()


# --- the zygote process -----------------------------------------------------------------------


def _serve(preload: Sequence[str]) -> None:
    for name in preload:
        importlib.import_module(name)
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(STATEFUL_MODULES))
    if loaded:
        sys.exit(f"preloading {preload} imported {loaded}: children would not be fresh")
    for line in sys.stdin:
        exit_code = _fork_and_wait(json.loads(line))
        print(json.dumps({"exit_code": exit_code}), flush=True)
    # Nothing to clean up, and tearing an interpreter with torch loaded down takes seconds.
    os._exit(0)


def _fork_and_wait(request: dict[str, Any]) -> int:
    terminal = _open_terminal() if request["terminal"] else None
    pid = os.fork()
    if pid == 0:
        _child(request, None if terminal is None else terminal[1])
    if terminal is None:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    master, slave = terminal
    os.close(slave)  # so that reading ends once the child's copy closes
    with open(request["stderr"], "wb") as sink:
        sink.write(_drain(master))
    os.close(master)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _open_terminal() -> tuple[int, int]:
    """A pseudo-terminal of 24 x 120 characters (a new one has 0 columns: bars draw empty)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    return master, slave


def _drain(master: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every slave end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _child(request: dict[str, Any], terminal: int | None) -> None:
    """Become a fresh interpreter running the request; never returns."""
    exit_code = 1
    try:
        signal.alarm(request["timeout_s"])  # an answer even if the call hangs
        os.environ.clear()
        os.environ.update(request["env"])
        _redirect(0, os.devnull, os.O_RDONLY)  # the zygote's protocol pipes are not ours
        _redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        if terminal is None:
            _redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        else:
            os.dup2(terminal, 2)
            os.close(terminal)
        sys.path.insert(0, str(TESTS_DIR))
        module_name, function_name = request["function"].split(":")
        function = getattr(importlib.import_module(module_name), function_name)
        value = function(**request["kwargs"])
        Path(request["result"]).write_text(json.dumps(value))
        exit_code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(exit_code)


def _redirect(fd: int, path: str, flags: int) -> None:
    opened = os.open(path, flags, 0o644)
    os.dup2(opened, fd)
    os.close(opened)


if __name__ == "__main__":
    _serve(sys.argv[1:])
