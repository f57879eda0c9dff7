"""Loading pieces of Meta's ``sam3`` package (the 0.1.4 wheel, installed without dependencies
by the README's set-up) in the tests that compare with it.

``sam3/__init__.py`` builds the whole model (iopath, the hub, torchvision), so tests register
bare packages in its place and stand-ins for the imports their module needs but never calls.
"""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path
from typing import Any

import pytest


def meta_sam3_root() -> Path:
    """The installed ``sam3`` package's directory; a failure, not a skip, without it (CI's
    set-up installs it)."""
    spec = importlib.util.find_spec("sam3")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("Meta's sam3 wheel is not installed: pip install --no-deps sam3==0.1.4")
    return Path(next(iter(spec.submodule_search_locations)))


def bare_package(name: str, path: Path | None = None) -> types.ModuleType:
    """A package whose ``__init__`` is not run; its submodules load from ``path``."""
    module = types.ModuleType(name)
    module.__path__ = [str(path)] if path is not None else []
    return module


def stand_in(name: str, **attributes: Any) -> types.ModuleType:
    """A module holding only ``attributes`` (names a Meta module imports and never calls)."""
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module
