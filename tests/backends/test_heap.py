"""Freed heap memory goes back to the OS after an encoder call."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from pathlib import Path

import pytest

from sam3lib.backends.heap import release_freed_heap

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)


def _anonymous_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_freed_blocks_below_a_live_one_are_returned() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    block, count = 64 * 1024, 800  # 50 MiB in blocks glibc serves from its heap
    blocks = [libc.malloc(block) for _ in range(count)]
    for address in blocks:
        ctypes.memset(address, 1, block)  # resident
    keeper = libc.malloc(block)  # a live block above them: glibc cannot shrink the heap's top
    for address in blocks:
        libc.free(address)
    before = _anonymous_rss_bytes()
    release_freed_heap()
    after = _anonymous_rss_bytes()
    libc.free(keeper)
    assert before - after > 0.5 * block * count
