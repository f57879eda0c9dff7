"""Skip markers for tests that need a build toolchain this machine may lack."""

from __future__ import annotations

import shutil

import pytest
from torch._inductor import config as inductor_config

requires_cpp_compiler = pytest.mark.skipif(
    not any(shutil.which(name) for name in inductor_config.cpp.cxx if name),
    reason="torch.compile on the CPU needs a C++ compiler (install g++, or set $CXX)",
)
