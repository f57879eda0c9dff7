"""bf16 autocast on the CPU: float32 outputs close to fp32, and fp32 islands that hold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn

from helpers.outputs import detection_scores, mask_iou
from sam3lib.backends.amp import AmpBackend
from sam3lib.backends.base import Backend
from sam3lib.backends.eager import EagerBackend
from sam3lib.errors import InputError
from sam3lib.model import Sam3Model, Sam3Outputs
from sam3lib.model.layers import fp32_modules

SCORE_TOLERANCE = 1e-2
MIN_MASK_IOU = 0.98


def _run(
    backend: Backend, pixels: torch.Tensor, text: tuple[torch.Tensor, ...], **boxes: torch.Tensor
) -> Sam3Outputs:
    return backend.decode(backend.encode_image(pixels), backend.encode_text(*text), **boxes)


@pytest.mark.parametrize("cast_weights", [False, True], ids=["mixed", "cast-weights"])
@pytest.mark.parametrize("with_boxes", [False, True], ids=["text", "text+boxes"])
def test_bf16_matches_fp32(
    model: Sam3Model,
    pixels: torch.Tensor,
    text: tuple[torch.Tensor, torch.Tensor],
    box_prompt: dict[str, torch.Tensor],
    cast_weights: bool,
    with_boxes: bool,
) -> None:
    boxes = box_prompt if with_boxes else {}
    expected = _run(EagerBackend(model), pixels, text, **boxes)
    amp = AmpBackend(model, precision="bf16", cast_weights=cast_weights)
    image, prompt = amp.encode_image(pixels), amp.encode_text(*text)
    got = amp.decode(image, prompt, **boxes)
    for tensor in (*image, prompt.features, *got):
        assert tensor.dtype == torch.float32
    torch.testing.assert_close(
        detection_scores(got), detection_scores(expected), atol=SCORE_TOLERANCE, rtol=0
    )
    assert mask_iou(got.mask_logits, expected.mask_logits).min() >= MIN_MASK_IOU


@contextmanager
def _output_dtypes(modules: dict[str, nn.Module]) -> Iterator[dict[str, set[torch.dtype]]]:
    seen: dict[str, set[torch.dtype]] = {name: set() for name in modules}
    handles = [
        module.register_forward_hook(lambda _m, _i, out, name=name: seen[name].add(out.dtype))
        for name, module in modules.items()
    ]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.parametrize("cast_weights", [False, True], ids=["mixed", "cast-weights"])
def test_fp32_islands_compute_in_fp32_under_autocast(
    model: Sam3Model,
    pixels: torch.Tensor,
    text: tuple[torch.Tensor, torch.Tensor],
    box_prompt: dict[str, torch.Tensor],
    cast_weights: bool,
) -> None:
    """Autocast would give these linears and norms bf16 outputs without their islands."""
    decoder = model.detr_decoder
    islands = {
        "box refinement": decoder.box_head.layer3,
        "presence head": decoder.presence_head.layer3,
        "scoring": model.dot_product_scoring.query_proj,
        "decoder layer norm": decoder.layers[0].mlp_layer_norm,
        "ViT layer norm": model.vision_encoder.backbone.layers[0].layer_norm1,
        # The group norm runs as a function over the stage's float32 buffer (no module call);
        # the pixel decoder's output is that norm's, through a ReLU.
        "mask head group norm": model.mask_decoder.pixel_decoder,
    }
    autocast = {"decoder attention": decoder.layers[0].self_attn.o_proj}  # the control
    amp = AmpBackend(model, precision="bf16", cast_weights=cast_weights)
    with _output_dtypes({**islands, **autocast}) as seen:
        _run(amp, pixels, text, **box_prompt)
    assert {name: seen[name] for name in islands} == {name: {torch.float32} for name in islands}
    assert seen["decoder attention"] == {torch.bfloat16}


def test_cast_weights_halves_memory_but_keeps_islands_and_norms_fp32(model: Sam3Model) -> None:
    def weight_bytes() -> int:
        return sum(p.numel() * p.element_size() for p in model.parameters())

    fp32_bytes = weight_bytes()
    AmpBackend(model, precision="bf16", cast_weights=True)
    kept = {id(p) for module in fp32_modules(model) for p in module.parameters()}
    assert kept  # the islands and norms exist
    for parameter in model.parameters():
        assert parameter.dtype == (torch.float32 if id(parameter) in kept else torch.bfloat16)
    assert weight_bytes() < 0.51 * fp32_bytes


def test_rejects_a_model_cast_wholesale(model: Sam3Model) -> None:
    with pytest.raises(InputError, match="float32"):
        AmpBackend(model.to(torch.bfloat16))


@pytest.mark.parametrize(("precision", "hint"), [("fp16", "bf16"), ("fp32", "eager")])
def test_rejects_precisions_autocast_cannot_run_on_cpu(
    model: Sam3Model, precision: str, hint: str
) -> None:
    with pytest.raises(InputError, match=hint):
        AmpBackend(model, precision=precision)  # type: ignore[arg-type]
