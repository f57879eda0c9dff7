"""Our video memory attention against transformers' and Meta's on the same random weights.

Both references run at full width (256, 64-channel memory: transformers hard-codes the latter)
on small grids; the memory is 1–2 spatial frames and then 0–8 object-pointer tokens, which
RoPE must leave unrotated. Norm weights and biases are perturbed so each one matters.

Meta's module comes from the ``sam3`` wheel, imported without its package ``__init__`` (which
pulls in iopath, the hub and the whole model builder) and with stand-ins for the two imports
its module files make and this path never calls (``einops``, ``torchvision``'s RoIAlign);
everything it imports is removed from ``sys.modules`` again afterwards.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from helpers.meta_sam3 import bare_package, meta_sam3_root, stand_in
from sam3lib.model.config import MemoryAttentionConfig
from sam3lib.model.memory_attention import MemoryAttention

TOLERANCE = 1e-5
WIDTH, MEMORY_CHANNELS = 256, 64

# name: (grid G, memory frames, pointer tokens, batch)
CASES = {
    "G6-1frame-4ptr": (6, 1, 4, 2),
    "G8-2frames-8ptr": (8, 2, 8, 1),
    "G7-2frames-no-ptr": (7, 2, 0, 1),
}

# transformers' Sam3TrackerVideoMemoryAttention -> ours: the identity (ours uses its names).
# Checkpoint prefix: tracker_model.memory_attention.  (ours: the same).
# Meta's TransformerEncoderCrossAttention (tracker.transformer.encoder.) -> ours:
META_TO_OURS = (
    (r"^layers\.(\d+)\.(self_attn|cross_attn_image)\.out_proj\.", r"layers.\1.\2.o_proj."),
    (r"^layers\.(\d+)\.norm([123])\.", r"layers.\1.layer_norm\2."),
    (r"^norm\.", "layer_norm."),
)


def meta_key_to_ours(key: str) -> str:
    for pattern, replacement in META_TO_OURS:
        key = re.sub(pattern, replacement, key)
    return key


def perturb_norms(module: nn.Module, generator: torch.Generator) -> None:
    """Norms start at (1, 0): give each weight and bias a value of its own."""
    with torch.no_grad():
        for norm in module.modules():
            if isinstance(norm, nn.LayerNorm):
                norm.weight.add_(0.2 * torch.randn(norm.weight.shape, generator=generator))
                norm.bias.add_(0.2 * torch.randn(norm.bias.shape, generator=generator))


def make_inputs(grid: int, frames: int, pointers: int, batch: int) -> dict[str, Any]:
    """Batch-first inputs for ours: (B, G², 256) features and PE, (B, M, 64) memory and PE."""
    generator = torch.Generator().manual_seed(grid * 100 + frames * 10 + pointers)
    tokens, memory_tokens = grid**2, frames * grid**2 + pointers
    return {
        "current": torch.randn(batch, tokens, WIDTH, generator=generator),
        "current_pos": torch.randn(batch, tokens, WIDTH, generator=generator),
        "memory": torch.randn(batch, memory_tokens, MEMORY_CHANNELS, generator=generator),
        "memory_pos": torch.randn(batch, memory_tokens, MEMORY_CHANNELS, generator=generator),
        "num_pointer_tokens": pointers,
        "grid_size": grid,
    }


def seq_first(x: Tensor) -> Tensor:
    """Both references take (L, B, C)."""
    return x.transpose(0, 1)


def max_abs_diff(a: Tensor, b: Tensor) -> float:
    return (a - b).abs().max().item()


def our_model(state_dict: dict[str, Tensor]) -> MemoryAttention:
    """Ours at SAM 3's size holding ``state_dict`` (built on the meta device, no init)."""
    with torch.device("meta"):
        model = MemoryAttention(MemoryAttentionConfig())
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.eval()


def assert_matches(expected: Tensor, ours: MemoryAttention, inputs: dict[str, Any]) -> None:
    """``expected`` batch-first, (B, G², C)."""
    with torch.no_grad():
        actual = ours(**inputs)
    batch, tokens = inputs["current"].shape[:2]
    assert actual.shape == expected.shape == (batch, tokens, WIDTH)
    assert max_abs_diff(actual, expected) <= TOLERANCE


# --- transformers -------------------------------------------------------------------------


def build_transformers_reference(grid: int) -> nn.Module:
    from transformers.models.sam3_tracker_video.configuration_sam3_tracker_video import (
        Sam3TrackerVideoConfig,
    )
    from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import (
        Sam3TrackerVideoMemoryAttention,
    )

    config = Sam3TrackerVideoConfig()
    # Its __post_init__ sets the RoPE grid from image_size (72 for 1008 px): override after.
    config.memory_attention_rope_feat_sizes = [grid, grid]
    torch.manual_seed(grid)
    reference = Sam3TrackerVideoMemoryAttention(config).eval()
    perturb_norms(reference, torch.Generator().manual_seed(grid + 1))
    return reference


@pytest.mark.parametrize("case", CASES)
def test_matches_transformers_memory_attention(case: str) -> None:
    grid, frames, pointers, batch = CASES[case]
    reference = build_transformers_reference(grid)
    inputs = make_inputs(grid, frames, pointers, batch)
    with torch.no_grad():
        expected = reference(
            current_vision_features=seq_first(inputs["current"]),
            memory=seq_first(inputs["memory"]),
            current_vision_position_embeddings=seq_first(inputs["current_pos"]),
            memory_posision_embeddings=seq_first(inputs["memory_pos"]),
            num_object_pointer_tokens=pointers,
        )
    # transformers returns (1, B, L, C): its "convert back to seq first" transposes the
    # (B, 1, L, C) it computes in, not (L, B, C).
    assert_matches(expected[0], our_model(reference.state_dict()), inputs)  # keys as they are


# --- Meta ---------------------------------------------------------------------------------


def _unused(*_: Any, **__: Any) -> Any:
    raise AssertionError("a stand-in for an import the memory attention never calls")


@pytest.fixture(scope="module")
def meta_modules() -> tuple[Any, Any, Any]:
    """Meta's classes: ``RoPEAttention``, ``TransformerDecoderLayerv2`` and
    ``TransformerEncoderCrossAttention``.

    The stand-ins live only while the two modules import; then they and Meta's modules leave
    ``sys.modules`` (the classes keep working: their forwards import nothing), so no other
    test sees a fake ``torchvision`` or a half-imported ``sam3``.
    """
    root = meta_sam3_root()
    with pytest.MonkeyPatch.context() as patch:
        package = bare_package("sam3", root)
        patch.setitem(sys.modules, "sam3", package)  # sam3/__init__ not run
        if importlib.util.find_spec("einops") is None:
            patch.setitem(
                sys.modules, "einops", stand_in("einops", rearrange=_unused, repeat=_unused)
            )
        if importlib.util.find_spec("torchvision") is None:
            for name in ("torchvision", "torchvision.ops"):
                patch.setitem(sys.modules, name, stand_in(name, __path__=[]))
            roi_align = stand_in("torchvision.ops.roi_align", RoIAlign=_unused)
            patch.setitem(sys.modules, "torchvision.ops.roi_align", roi_align)
        transformer = importlib.import_module("sam3.sam.transformer")
        decoder = importlib.import_module("sam3.model.decoder")
        meta_names = [name for name in sys.modules if name.startswith("sam3.")]
    for name in meta_names:  # after the context: its undo would restore them
        del sys.modules[name]
    return (
        transformer.RoPEAttention,
        decoder.TransformerDecoderLayerv2,
        decoder.TransformerEncoderCrossAttention,
    )


def build_meta_reference(meta_modules: tuple[Any, Any, Any], grid: int) -> nn.Module:
    """Meta's tracker memory attention as ``sam3.model_builder._create_tracker_transformer``
    builds it (sam3 0.1.4), with the RoPE grid ``grid`` instead of 72."""
    rope_attention, layer_class, encoder_class = meta_modules
    common = {"embedding_dim": 256, "num_heads": 1, "downsample_rate": 1, "dropout": 0.1}
    rope = {"rope_theta": 10000.0, "feat_sizes": [grid, grid], "use_fa3": False}
    self_attention = rope_attention(**common, **rope, use_rope_real=False)
    cross_attention = rope_attention(
        **common, **rope, kv_in_dim=64, rope_k_repeat=True, use_rope_real=False
    )
    layer = layer_class(
        cross_attention_first=False,
        activation="relu",
        dim_feedforward=2048,
        dropout=0.1,
        pos_enc_at_attn=False,
        pre_norm=True,
        self_attention=self_attention,
        d_model=256,
        pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False,
        cross_attention=cross_attention,
    )
    torch.manual_seed(grid + 2)
    encoder = encoder_class(
        remove_cross_attention_layers=[],
        batch_first=True,
        d_model=256,
        frozen=False,
        pos_enc_at_input=True,
        layer=layer,
        num_layers=4,
        use_act_checkpoint=False,
    )
    # get_clones deep-copies one layer: give the copies weights of their own.
    generator = torch.Generator().manual_seed(grid + 3)
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.copy_(parameter + 0.02 * torch.randn(parameter.shape, generator=generator))
    perturb_norms(encoder, generator)
    return encoder.eval()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("case", CASES)
def test_matches_meta_memory_attention(case: str, meta_modules: tuple[Any, Any, Any]) -> None:
    grid, frames, pointers, batch = CASES[case]
    reference = build_meta_reference(meta_modules, grid)
    inputs = make_inputs(grid, frames, pointers, batch)
    with torch.no_grad():
        expected = reference(
            src=seq_first(inputs["current"]),
            prompt=seq_first(inputs["memory"]),
            src_pos=seq_first(inputs["current_pos"]),
            prompt_pos=seq_first(inputs["memory_pos"]),
            num_obj_ptr_tokens=pointers,
        )["memory"]
    state = {meta_key_to_ours(key): value for key, value in reference.state_dict().items()}
    assert_matches(expected.transpose(0, 1), our_model(state), inputs)


# --- our own checks -----------------------------------------------------------------------


def test_pointer_tokens_are_not_rotated() -> None:
    """Moving the frame/pointer boundary changes the result: RoPE sees the count."""
    ours = MemoryAttention(MemoryAttentionConfig(num_layers=1)).eval()
    inputs = make_inputs(4, 2, 16, 1)  # 16 pointer tokens = one more 4² frame
    with torch.no_grad():
        as_pointers = ours(**inputs)
        as_frame = ours(**{**inputs, "num_pointer_tokens": 0})
    assert max_abs_diff(as_pointers, as_frame) > 1e-3


def test_memory_must_be_whole_frames_plus_pointers() -> None:
    ours = MemoryAttention(MemoryAttentionConfig(num_layers=1))
    inputs = make_inputs(4, 1, 3, 1)
    with pytest.raises(ValueError, match="whole number"):
        ours(**{**inputs, "num_pointer_tokens": 2})
