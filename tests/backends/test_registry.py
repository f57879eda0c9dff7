"""``create_backend`` builds the registered backends and rejects bad arguments by name."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sam3lib.backends import BACKEND_MODULES, Backend, create_backend
from sam3lib.backends.amp import AmpBackend
from sam3lib.backends.eager import EagerBackend
from sam3lib.checkpoint import ResolvedCheckpoint
from sam3lib.errors import InputError


@pytest.mark.parametrize(
    ("name", "precision", "expected"),
    [("eager", "fp32", EagerBackend), ("amp", "bf16", AmpBackend)],
)
def test_creates_each_backend(
    resolved: ResolvedCheckpoint, name: str, precision: Any, expected: type
) -> None:
    backend = create_backend(name, resolved, device="cpu", precision=precision)
    assert isinstance(backend, expected)
    assert isinstance(backend, Backend)
    assert (backend.name, backend.precision) == (name, precision)
    assert backend.device == torch.device("cpu")
    assert backend.config.decoder.num_queries == 10


def test_every_registered_module_has_create() -> None:
    import importlib

    for module in BACKEND_MODULES.values():
        assert callable(importlib.import_module(module).create)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"name": "tensorrt-magic"}, "backend"),
        ({"precision": "fp8"}, "precision"),
        ({"device": "tpu"}, "device"),
        ({"device": "nonsense"}, "device"),
        ({"name": "eager", "precision": "bf16"}, "backend='amp'"),
        ({"name": "amp", "precision": "fp32"}, "backend='eager'"),
        ({"name": "amp", "precision": "fp16"}, "precision='bf16'"),
        ({"name": "eager", "tf32": True}, "tf32"),
        ({"name": "eager", "tf32": "yes"}, "tf32"),
        ({"name": "eager", "cast_weights": True}, "cast_weights"),
        ({"name": "amp", "precision": "bf16", "tf32": True, "warp": 9}, "tf32, warp"),
        ({"name": "amp", "precision": "bf16", "cast_weights": 1}, "cast_weights"),
        ({"name": "eager", "prompt_chunk": 0}, "prompt_chunk"),
        ({"name": "amp", "precision": "bf16", "prompt_chunk": "all"}, "prompt_chunk"),
    ],
)
def test_rejects_bad_arguments_by_name(
    resolved: ResolvedCheckpoint, arguments: dict[str, Any], named: str
) -> None:
    arguments = {"name": "eager", **arguments}
    with pytest.raises(InputError, match=named):
        create_backend(arguments.pop("name"), resolved, **arguments)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_rejects_cuda_without_a_gpu(resolved: ResolvedCheckpoint) -> None:
    with pytest.raises(InputError, match="device"):
        create_backend("eager", resolved, device="cuda")
