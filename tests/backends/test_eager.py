"""The eager backend is the model itself, in float32, under inference mode."""

from __future__ import annotations

import threading

import pytest
import torch

from sam3lib.backends.eager import CUDA_FP32_PRECISION, EagerBackend
from sam3lib.errors import InputError
from sam3lib.model import Sam3Model


def test_outputs_equal_the_model(
    model: Sam3Model,
    pixels: torch.Tensor,
    text: tuple[torch.Tensor, torch.Tensor],
    box_prompt: dict[str, torch.Tensor],
) -> None:
    backend = EagerBackend(model)
    with torch.no_grad():
        image, prompt = model.encode_image(pixels), model.encode_text(*text)
        expected = model.decode(image, prompt, **box_prompt)
    got_image, got_prompt = backend.encode_image(pixels), backend.encode_text(*text)
    got = backend.decode(got_image, got_prompt, **box_prompt)
    for want, have in zip(
        (*image, *prompt, *expected), (*got_image, *got_prompt, *got), strict=True
    ):
        assert torch.equal(want, have)
    assert got.mask_logits.is_inference()


def test_rejects_low_precision_weights(model: Sam3Model) -> None:
    with pytest.raises(InputError, match="amp"):
        EagerBackend(model.to(torch.bfloat16))


def test_rejects_tf32_off_cuda(model: Sam3Model) -> None:
    with pytest.raises(InputError, match="CUDA"):
        EagerBackend(model, tf32=True)


def _flags() -> tuple[str, str]:
    return (
        torch.backends.cuda.matmul.fp32_precision,
        torch.backends.cudnn.conv.fp32_precision,  # type: ignore[attr-defined]
    )


def test_fp32_precision_is_set_while_held_and_restored_after() -> None:
    before = _flags()
    with CUDA_FP32_PRECISION.hold("tf32"):
        assert _flags() == ("tf32", "tf32")
        with CUDA_FP32_PRECISION.hold("tf32"):  # a second call joins the first
            assert _flags() == ("tf32", "tf32")
        assert _flags() == ("tf32", "tf32")
    assert _flags() == before


def test_a_call_wanting_the_other_mode_waits_for_the_holders() -> None:
    """The flags are process-global: an fp32 call must not run while a TF32 call holds them."""
    held, seen = threading.Event(), []

    def strict_call() -> None:
        held.wait(timeout=5)
        with CUDA_FP32_PRECISION.hold("ieee"):
            seen.append(_flags())

    thread = threading.Thread(target=strict_call, daemon=True)
    thread.start()
    with CUDA_FP32_PRECISION.hold("tf32"):
        held.set()
        thread.join(timeout=0.2)
        assert thread.is_alive() and not seen  # still waiting
    thread.join(timeout=5)
    assert seen == [("ieee", "ieee")]
