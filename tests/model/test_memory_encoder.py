"""Our video memory encoder against transformers' and Meta's, on the same random weights.

Full tracker width (256 in, 64 memory channels: transformers hard-codes them) on a small grid.
Meta runs its own ``Sam3TrackerBase._encode_new_memory`` (binarise or sigmoid, ·20 − 10, then
its mask downsampler resizes to 16G) on logits at the model's size, 14G, which is where the
two references part (``SAM3_TRACKER_FACTS.md`` §5 #3); transformers' module gets the mask
already at 16G, where they agree. Meta's package is imported module by module with stand-ins
for what those modules import but the encoder never calls (triton, timm, einops, its data
pipeline): see :func:`meta_modules`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import types
from typing import Any
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers.meta_sam3 import bare_package, meta_sam3_root, stand_in
from sam3lib.model.config import MemoryEncoderConfig
from sam3lib.model.memory_encoder import MemoryEncoder, memory_mask_input

TOLERANCE = 1e-5
GRID = 8  # feature grid G: the mask enters at 16G = 128, Meta's logits at 14G = 112
MODEL_SIZE = 14 * GRID  # the input frame size of a 14-px-patch ViT with this grid
BATCH = 2
CONFIG = MemoryEncoderConfig()

# transformers' Sam3TrackerVideoModel ``memory_encoder.*`` (``tracker_model.memory_encoder.*``
# in the hub's Sam3VideoModel checkpoint) -> ours: the same names.
#
# Meta's ``tracker.maskmem_backbone.*`` -> ours. Keys are module prefixes (their weight and
# bias follow) or, for the layer scales, whole tensor names. Meta's downsampler is one
# Sequential of [conv, LN2d, GELU] × 4 + the final 1×1; its fuser's ``proj`` is an Identity.
META_TO_OURS: dict[str, str] = {
    **{f"mask_downsampler.encoder.{3 * k}": f"mask_downsampler.layers.{k}.conv" for k in range(4)},
    **{
        f"mask_downsampler.encoder.{3 * k + 1}": f"mask_downsampler.layers.{k}.layer_norm"
        for k in range(4)
    },
    "mask_downsampler.encoder.12": "mask_downsampler.final_conv",
    "pix_feat_proj": "feature_projection",
    **{
        f"fuser.layers.{i}.{meta}": f"memory_fuser.layers.{i}.{ours}"
        for i in range(2)
        for meta, ours in (
            ("dwconv", "depthwise_conv"),
            ("norm", "layer_norm"),
            ("pwconv1", "pointwise_conv1"),
            ("pwconv2", "pointwise_conv2"),
            ("gamma", "scale"),
        )
    },
    "out_proj": "projection",
}


def meta_to_ours(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    converted = {}
    for key, tensor in state_dict.items():
        if key in META_TO_OURS:
            converted[META_TO_OURS[key]] = tensor
        else:
            module, leaf = key.rsplit(".", 1)
            converted[f"{META_TO_OURS[module]}.{leaf}"] = tensor
    return converted


def randomize_(module: nn.Module, seed: int) -> nn.Module:
    """Noise on the vectors (eval mode), so that biases, LayerNorm affines and the layer scales
    (1e-6 at init, which would hide the fuser) all matter. Weight matrices keep their random
    init, scaled by fan-in: the memory stays O(1), where 1e-5 is ~10 float32 ulps."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if parameter.dim() == 1:
                parameter.add_(0.5 * torch.randn(parameter.shape, generator=generator))
    return module.eval()


def ours_loaded(state_dict: dict[str, Tensor]) -> MemoryEncoder:
    ours = MemoryEncoder(CONFIG).eval()
    ours.load_state_dict(state_dict, strict=True)
    return ours


def inputs(mask_size: int, seed: int) -> tuple[Tensor, Tensor]:
    """(B, 256, G, G) features and (B, 1, S, S) mask logits: a blob per object, a sharp
    transition between +6 and −6 plus noise (the binarised and sigmoid paths both see edges)."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(BATCH, CONFIG.hidden_size, GRID, GRID, generator=generator)
    coords = (torch.arange(mask_size) + 0.5) / mask_size
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    centres = 0.3 + 0.4 * torch.rand(BATCH, 2, generator=generator)
    radius = 0.15 + 0.2 * torch.rand(BATCH, generator=generator)
    distance = torch.hypot(ys - centres[:, 0, None, None], xs - centres[:, 1, None, None])
    logits = 6 * torch.tanh(8 * (radius[:, None, None] - distance))
    logits = logits + 0.5 * torch.randn(logits.shape, generator=generator)
    return features, logits[:, None]


def max_diff(a: Tensor, b: Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


# --- transformers -----------------------------------------------------------------------------


@pytest.mark.parametrize("binarize", [True, False], ids=["binarised", "sigmoid"])
def test_matches_transformers_memory_encoder_on_a_mask_at_16g(binarize: bool) -> None:
    from transformers import Sam3TrackerVideoConfig
    from transformers.models.sam3_tracker_video import modeling_sam3_tracker_video as hf

    torch.manual_seed(0)
    # Sam3TrackerVideoConfig's memory-encoder fields are Meta's; the module is grid-agnostic.
    reference = randomize_(hf.Sam3TrackerVideoMemoryEncoder(Sam3TrackerVideoConfig()), seed=1)
    ours = ours_loaded(reference.state_dict())  # the same names
    features, logits = inputs(CONFIG.mask_stride * GRID, seed=2)

    mask = memory_mask_input(logits, GRID, binarize=binarize, config=CONFIG)
    # transformers' _encode_new_memory on a mask already at 16G: no resize, then this.
    probabilities = (logits > 0).float() if binarize else torch.sigmoid(logits)
    assert torch.equal(mask, probabilities * 20.0 - 10.0)
    with torch.no_grad():
        expected, expected_pos = reference(features, mask)
        memory, memory_pos = ours(features, mask)

    assert max_diff(memory, expected) <= TOLERANCE
    assert max_diff(memory_pos, expected_pos) <= TOLERANCE
    assert expected.abs().max() > 1.0  # not a degenerate comparison


# --- Meta -----------------------------------------------------------------------------------


@functools.cache
def meta_modules() -> tuple[Any, Any, Any]:
    """Meta's ``memory``, ``position_encoding`` and ``sam3_tracker_base`` modules.

    ``sam3_tracker_base`` imports, besides the memory encoder, the SAM decoder (einops), a
    distance transform (triton), its training collator and ``timm``; none of them is called
    by ``_encode_new_memory``, so stand-ins with the imported names take their place while the
    three modules load; ``sys.modules`` is restored afterwards.
    """
    root = meta_sam3_root()
    placeholder = object()
    modules = {
        "sam3": bare_package("sam3", root),
        "sam3.model": bare_package("sam3.model", root / "model"),
        "sam3.sam": bare_package("sam3.sam"),
        "sam3.sam.mask_decoder": stand_in("m", MaskDecoder=placeholder, MLP=placeholder),
        "sam3.sam.prompt_encoder": stand_in("p", PromptEncoder=placeholder),
        "sam3.sam.transformer": stand_in("t", TwoWayTransformer=placeholder),
        "sam3.model.sam3_tracker_utils": stand_in(
            "u", get_1d_sine_pe=placeholder, select_closest_cond_frames=placeholder
        ),
        "sam3.train": bare_package("sam3.train"),
        "sam3.train.data": bare_package("sam3.train.data"),
        "sam3.train.data.collator": stand_in("c", BatchedDatapoint=placeholder),
        "timm": bare_package("timm"),
        "timm.layers": stand_in("l", DropPath=placeholder, trunc_normal_=placeholder),
    }
    with mock.patch.dict(sys.modules, modules):
        return (
            importlib.import_module("sam3.model.memory"),
            importlib.import_module("sam3.model.position_encoding"),
            importlib.import_module("sam3.model.sam3_tracker_base"),
        )


def build_meta_memory_encoder() -> nn.Module:
    """Meta's ``_create_tracker_maskmem_backbone`` with the resize target 16G instead of 1152
    and no position-encoding cache (its precomputation allocates on CUDA)."""
    memory, position_encoding, _ = meta_modules()
    size = CONFIG.mask_stride * GRID
    return memory.SimpleMaskEncoder(
        out_dim=64,
        position_encoding=position_encoding.PositionEmbeddingSine(
            num_pos_feats=64, normalize=True, scale=None, temperature=10000
        ),
        mask_downsampler=memory.SimpleMaskDownSampler(
            kernel_size=3, stride=2, padding=1, interpol_size=[size, size]
        ),
        fuser=memory.SimpleFuser(
            layer=memory.CXBlock(
                dim=256, kernel_size=7, padding=3, layer_scale_init_value=1e-6, use_dwconv=True
            ),
            num_layers=2,
        ),
    )


def meta_encode_new_memory(
    encoder: nn.Module, features: Tensor, mask_logits: Tensor, *, binarize: bool
) -> tuple[Tensor, Tensor]:
    """Meta's own ``Sam3TrackerBase._encode_new_memory`` (eval, objects present)."""
    _, _, tracker_base = meta_modules()
    tracker = types.SimpleNamespace(
        hidden_dim=CONFIG.hidden_size,
        non_overlap_masks_for_mem_enc=False,
        training=False,
        sigmoid_scale_for_mem_enc=20.0,
        sigmoid_bias_for_mem_enc=-10.0,
        maskmem_backbone=encoder,
        _maybe_clone=lambda x: x,
        no_obj_embed_spatial=torch.zeros(1, CONFIG.memory_channels),
    )
    batch, _, grid, _ = features.shape
    tokens = features.flatten(2).permute(2, 0, 1)  # (HW, B, C), Meta's layout
    memory, (memory_pos,) = tracker_base.Sam3TrackerBase._encode_new_memory(
        tracker,
        image=None,
        current_vision_feats=[tokens],
        feat_sizes=[(grid, grid)],
        pred_masks_high_res=mask_logits,
        object_score_logits=torch.ones(batch, 1),
        is_mask_from_pts=binarize,
    )
    return memory, memory_pos


@pytest.mark.parametrize("binarize", [True, False], ids=["binarised", "sigmoid"])
def test_matches_meta_encode_new_memory_on_logits_at_the_model_size(binarize: bool) -> None:
    torch.manual_seed(0)
    reference = randomize_(build_meta_memory_encoder(), seed=3)
    ours = ours_loaded(meta_to_ours(reference.state_dict()))
    features, logits = inputs(MODEL_SIZE, seed=4)

    with torch.no_grad():
        expected, expected_pos = meta_encode_new_memory(
            reference, features, logits, binarize=binarize
        )
        mask = memory_mask_input(logits, GRID, binarize=binarize, config=CONFIG)
        memory, memory_pos = ours(features, mask)
        # Control: transformers' order, the logits resized to 16G before the threshold/sigmoid.
        resized = F.interpolate(logits, size=mask.shape[-2:], mode="bilinear", antialias=True)
        probabilities = (resized > 0).float() if binarize else torch.sigmoid(resized)
        resized_first, _ = ours(features, probabilities * 20 - 10)

    assert max_diff(memory, expected) <= TOLERANCE
    assert max_diff(memory_pos, expected_pos) <= TOLERANCE
    assert expected.abs().max() > 1.0
    assert max_diff(resized_first, expected) > 100 * TOLERANCE


def test_meta_key_map_covers_every_tensor_once() -> None:
    meta_keys = build_meta_memory_encoder().state_dict().keys()
    ours = MemoryEncoder(CONFIG).state_dict()
    converted = meta_to_ours(dict.fromkeys(meta_keys, torch.empty(0)))
    assert len(converted) == len(meta_keys)
    assert converted.keys() == ours.keys()


# --- the mask input ---------------------------------------------------------------------------


@pytest.mark.parametrize("binarize", [True, False], ids=["binarised", "sigmoid"])
@pytest.mark.parametrize("logit", [3.0, -0.5])
def test_a_constant_mask_gives_a_constant_input(binarize: bool, logit: float) -> None:
    logits = torch.full((1, 1, MODEL_SIZE, MODEL_SIZE), logit)
    mask = memory_mask_input(logits, GRID, binarize=binarize, config=CONFIG)

    probability = float(logit > 0) if binarize else torch.sigmoid(torch.tensor(logit)).item()
    assert mask.shape == (1, 1, 16 * GRID, 16 * GRID)
    assert mask.dtype == torch.float32
    torch.testing.assert_close(mask, torch.full_like(mask, 20 * probability - 10))


def test_binarises_at_the_logits_size_then_resizes() -> None:
    """Meta's order: a binarised step edge resized to 16G keeps intermediate values at the
    edge; transformers' order (resize the logits, then binarise) would give only ±10."""
    logits = torch.full((1, 1, MODEL_SIZE, MODEL_SIZE), -5.0)
    logits[..., : MODEL_SIZE // 2] = 5.0
    size = 16 * GRID

    mask = memory_mask_input(logits, GRID, binarize=True, config=CONFIG)

    step = (logits > 0).float() * 20 - 10
    by_hand = F.interpolate(step, size=(size, size), mode="bilinear", antialias=True)
    torch.testing.assert_close(mask, by_hand, rtol=0, atol=1e-6)
    edge = mask[0, 0, 0]
    assert ((edge > -10) & (edge < 10)).sum() >= 2
    resized_first = F.interpolate(logits, size=(size, size), mode="bilinear", antialias=True)
    assert set((resized_first > 0).float().mul(20).sub(10).unique().tolist()) == {-10.0, 10.0}


def test_a_mask_already_at_16g_is_not_resized() -> None:
    logits = torch.randn(2, 1, 16 * GRID, 16 * GRID, generator=torch.Generator().manual_seed(5))
    mask = memory_mask_input(logits, GRID, binarize=False, config=CONFIG)
    assert torch.equal(mask, torch.sigmoid(logits) * 20 - 10)


def test_refuses_a_mask_input_of_the_wrong_size() -> None:
    encoder = MemoryEncoder(CONFIG)
    with pytest.raises(ValueError, match="must be 128²"):
        encoder(torch.zeros(1, 256, GRID, GRID), torch.zeros(1, 1, MODEL_SIZE, MODEL_SIZE))
