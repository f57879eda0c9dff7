"""The ``compile`` option: the torch backends under ``torch.compile`` give the eager numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch._dynamo.utils import counters
from torch._inductor import config as inductor_config

from helpers.toolchain import requires_cpp_compiler
from sam3lib.backends import amp, create_backend, eager
from sam3lib.backends.amp import AmpBackend
from sam3lib.backends.eager import EagerBackend
from sam3lib.backends.torch_compile import check_compile
from sam3lib.checkpoint import ResolvedCheckpoint
from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.model import Sam3Model

CPU = torch.device("cpu")


def _run(
    backend: EagerBackend | AmpBackend,
    pixels: torch.Tensor,
    text: tuple[torch.Tensor, torch.Tensor],
    box_prompt: dict[str, torch.Tensor],
) -> list[torch.Tensor]:
    image, prompt = backend.encode_image(pixels), backend.encode_text(*text)
    return [*image, *prompt, *backend.decode(image, prompt, **box_prompt)]


def _eager(model: Sam3Model, compile: bool) -> EagerBackend:
    return EagerBackend(model, compile=compile)


def _amp_bf16(model: Sam3Model, compile: bool) -> AmpBackend:
    return AmpBackend(model, precision="bf16", compile=compile)


@pytest.mark.parametrize(
    ("build", "tolerance"),
    [
        (_eager, 1e-4),
        # bf16 rounds differently once elementwise work is fused: a bf16 step of the values.
        pytest.param(_amp_bf16, 2e-2, marks=pytest.mark.slow),
    ],
    ids=["eager", "amp-bf16"],
)
@requires_cpp_compiler
def test_compiled_backend_gives_the_uncompiled_outputs(
    model: Sam3Model,
    pixels: torch.Tensor,
    text: tuple[torch.Tensor, torch.Tensor],
    box_prompt: dict[str, torch.Tensor],
    build: Callable[[Sam3Model, bool], EagerBackend | AmpBackend],
    tolerance: float,
) -> None:
    expected = _run(build(model, False), pixels, text, box_prompt)
    compiled = build(model, True)
    counters["stats"].clear()
    got = _run(compiled, pixels, text, box_prompt)
    # Graphs were compiled (past PyTorch's recompile limit it would run eager, silently).
    assert counters["stats"]["unique_graphs"] >= 3
    assert compiled.compile_mode == "default"
    for want, have in zip(expected, got, strict=True):
        torch.testing.assert_close(have, want, rtol=tolerance, atol=tolerance)
    # The model's input check, traced into the compiled call, still raises the typed error.
    with pytest.raises(InputError, match="pixels must have shape"):
        compiled.encode_image(pixels[:, :, :-1])


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        (False, None),
        (None, None),
        (True, "default"),
        ("max-autotune-no-cudagraphs", "max-autotune-no-cudagraphs"),
    ],
)
@requires_cpp_compiler
def test_compile_values_name_a_mode(value: object, mode: str | None) -> None:
    assert check_compile(value, CPU) == mode


# CUDA-graph modes are refused: a replay overwrites the outputs the backend hands out.
@pytest.mark.parametrize("value", ["fast", 1, "Default", "reduce-overhead", "max-autotune"])
def test_unknown_compile_values_are_refused(value: object) -> None:
    with pytest.raises(InputError, match="compile: expected True, False or one of default"):
        check_compile(value, CPU)


def test_a_missing_cpp_compiler_is_reported_before_loading(
    resolved: ResolvedCheckpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("weights were loaded before the options were checked")

    monkeypatch.setattr(eager, "load_resolved_model", no_loading)
    monkeypatch.setattr(amp, "load_resolved_model", no_loading)
    with inductor_config.patch({"cpp.cxx": (None, "no-such-compiler++")}):
        with pytest.raises(BackendUnavailableError, match="no-such-compiler\\+\\+, which is not"):
            create_backend("eager", resolved, compile=True)
        with pytest.raises(BackendUnavailableError, match="C\\+\\+ kernels"):
            create_backend("amp", resolved, precision="bf16", compile=True)
    assert check_compile(False, CPU) is None  # off needs no compiler


def test_missing_triton_is_reported_for_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "triton" else real_find_spec(name, *args),
    )
    with pytest.raises(BackendUnavailableError, match="triton is not installed"):
        check_compile(True, torch.device("cuda"))


@requires_cpp_compiler
def test_registry_passes_the_option_through(resolved: ResolvedCheckpoint) -> None:
    backend = create_backend("eager", resolved, compile="max-autotune-no-cudagraphs")
    assert isinstance(backend, EagerBackend)
    assert backend.compile_mode == "max-autotune-no-cudagraphs"
    with pytest.raises(InputError, match="compile"):
        create_backend("eager", resolved, compile="fastest")
