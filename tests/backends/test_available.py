"""``available_backends`` offers what this machine can run, without importing engines."""

from __future__ import annotations

import importlib.util
from importlib.machinery import ModuleSpec

import pytest

from sam3lib.backends import BACKEND_MODULES, available_backends


def test_torch_backends_are_always_available() -> None:
    assert {"eager", "amp"} <= set(available_backends("cpu"))
    assert set(available_backends("cpu")) <= set(BACKEND_MODULES)


def test_engines_need_their_package_and_a_device_they_run_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed = {"onnxruntime"}

    def find_spec(name: str) -> ModuleSpec | None:
        return ModuleSpec(name, None) if name in installed else None

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert "onnxruntime" in available_backends("cpu")
    assert "tensorrt" not in available_backends("cuda")  # not installed
    installed.add("tensorrt")
    assert "tensorrt" in available_backends("cuda")
    assert "tensorrt" not in available_backends("cpu")  # TensorRT runs on GPUs only
    installed.clear()
    assert "onnxruntime" not in available_backends("cpu")
