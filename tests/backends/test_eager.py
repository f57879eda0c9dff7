"""The eager backend is the model itself, in float32, under inference mode."""

from __future__ import annotations

import threading

import pytest
import torch

from sam3lib.backends.eager import CUDA_FP32_PRECISION, EagerBackend
from sam3lib.errors import InputError
from sam3lib.model import ImageFeatures, Sam3Model, Sam3Outputs, TextFeatures


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


def _prompts(count: int) -> TextFeatures:
    generator = torch.Generator().manual_seed(count)
    return TextFeatures(
        torch.randn(count, 32, 32, generator=generator),
        torch.arange(32)[None] < 4 + torch.arange(count)[:, None],
    )


@pytest.mark.parametrize("boxes", ["none", "shared", "per-prompt"])
def test_prompts_are_decoded_in_chunks_with_the_same_outputs(
    model: Sam3Model, pixels: torch.Tensor, boxes: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _prompts(5)
    box_prompt = {}
    if boxes != "none":
        rows = 1 if boxes == "shared" else 5
        box_prompt["boxes_cxcywh"] = (
            torch.rand(rows, 2, 4, generator=torch.Generator().manual_seed(1)) * 0.4 + 0.2
        )
        box_prompt["box_labels"] = torch.tensor([[1, 0]]).expand(rows, 2)
    with torch.no_grad():
        image = model.encode_image(pixels)
        expected = model.decode(image, text, **box_prompt)
    calls: list[int] = []
    decode = model.decode

    def counting(image: ImageFeatures, text: TextFeatures, *args: object) -> Sam3Outputs:
        calls.append(text.features.shape[0])
        return decode(image, text, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(model, "decode", counting)
    got = EagerBackend(model, prompt_chunk=2).decode(image, text, **box_prompt)
    assert calls == [2, 2, 1]
    for have, want in zip(got, expected, strict=True):
        torch.testing.assert_close(have, want, atol=1e-5, rtol=0)


def test_prompt_chunk_defaults_to_one_on_cpu_and_is_checked(model: Sam3Model) -> None:
    assert EagerBackend(model).prompt_chunk == 1
    assert EagerBackend(model, prompt_chunk=8).prompt_chunk == 8
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="prompt_chunk"):
            EagerBackend(model, prompt_chunk=bad)  # type: ignore[arg-type]
