"""transformers' ``Sam3TrackerVideoModel`` set up as the parity reference of our tracker step.

Full width (256; transformers hard-codes the 64-channel memory) on a small grid: a 112 px
input gives an 8² grid, 32² low-res masks and 128² memory-encoder mask inputs. No vision
encoder: each frame's tracker-neck features are random and injected into both
(``SAM3_TRACKER_FACTS.md`` §4). Our head gets the reference's tensors 1:1 (same names).

:func:`meta_order_encode_new_memory` replaces transformers' ``_encode_new_memory`` with
Meta's order (binarise/sigmoid at the input size, scale, then resize to 16·G), the one
difference (facts §5 #3) between the two on click tracking.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from sam3lib.model.config import TrackerConfig, VideoConfig
from sam3lib.model.interactive import InteractiveHead
from sam3lib.model.layers import sine_position_grid
from sam3lib.video.memory_bank import FrameMemory, MemoryBank
from sam3lib.video.tracker_step import TrackerFrameFeatures

IMAGE_SIZE, GRID = 112, 8
WIDTH = 256
# transformers' keys that are not ours: unused, and a copy of the prompt encoder's matrix.
NOT_OURS = ("no_memory_positional_encoding", "shared_image_embedding.positional_embedding")
# At full width the seeded noise gives mask logits of ±30..50, well outside the ±0.05
# stability band. A random net scores the object near 0; this shift makes it present on most
# frames and absent on a few (click: tracked frame 6; box: the prompted frame 0), each score
# at least 0.08 from 0, so both branches of the absent-object rule are compared.
OBJECT_SCORE_BIAS = 0.6


def build_video_reference(seed: int = 0) -> Any:
    """A full-width ``Sam3TrackerVideoModel`` without vision encoder, eval mode, eager
    attention, its init plus seeded noise so that norms, biases and embeddings all matter."""
    from transformers import Sam3TrackerVideoConfig, Sam3TrackerVideoModel

    config = Sam3TrackerVideoConfig()
    config.image_size = IMAGE_SIZE  # the setter gives the feature sizes and RoPE grid
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model: Any = Sam3TrackerVideoModel(config, remove_vision_encoder=True)
    model.eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
        model.mask_decoder.pred_obj_score_head.proj_out.bias.add_(OBJECT_SCORE_BIAS)
        model.shared_image_embedding.positional_embedding.copy_(
            model.prompt_encoder.shared_embedding.positional_embedding
        )
    return model


def build_our_head(reference: Any) -> InteractiveHead:
    """Our full-width tracker head with the reference's tensors, eval mode."""
    head = InteractiveHead(TrackerConfig(), IMAGE_SIZE, GRID, VideoConfig()).eval()
    state = {k: v for k, v in reference.state_dict().items() if k not in NOT_OURS}
    head.load_state_dict(state, strict=True)
    return head


def random_frame_features(num_frames: int, seed: int = 0) -> list[TrackerFrameFeatures]:
    """Per frame: random tracker features as transformers caches them (levels x4 and x2
    after ``conv_s0``/``conv_s1``), and the coarsest level's sine position encoding."""
    generator = torch.Generator().manual_seed(seed)
    position = sine_position_grid(GRID, GRID, WIDTH // 2, torch.device("cpu"))
    return [
        TrackerFrameFeatures(
            torch.randn(1, WIDTH // 8, 4 * GRID, 4 * GRID, generator=generator),
            torch.randn(1, WIDTH // 4, 2 * GRID, 2 * GRID, generator=generator),
            torch.randn(1, WIDTH, GRID, GRID, generator=generator),
            position,
        )
        for _ in range(num_frames)
    ]


def reference_session(frames: list[TrackerFrameFeatures]) -> Any:
    """A transformers inference session with ``frames`` cached as vision features."""
    from transformers import Sam3TrackerVideoInferenceSession

    num_frames = len(frames)
    session = Sam3TrackerVideoInferenceSession(
        video=torch.zeros(num_frames, 3, IMAGE_SIZE, IMAGE_SIZE),
        video_height=IMAGE_SIZE,
        video_width=IMAGE_SIZE,
        max_vision_features_cache_size=num_frames,
        dtype=torch.float32,
    )
    for t, frame in enumerate(frames):
        levels = [frame.high_res_x4, frame.high_res_x2, frame.features]
        flat = [level.flatten(2).permute(2, 0, 1) for level in levels]  # (HW, 1, C)
        positions = [torch.zeros_like(x) for x in flat[:-1]]
        positions.append(frame.position.flatten(2).permute(2, 0, 1))
        session.cache.cache_vision_features(
            t, {"vision_feats": flat, "vision_pos_embeds": positions}
        )
    return session


class ReferenceRun(NamedTuple):
    """Per frame: mask logits (1, 1, 4G, 4G), object-score logits (1,); and the session with
    every frame's stored memory, pointer and score."""

    mask_logits: list[Tensor]
    object_score_logits: list[Tensor]
    session: Any


@torch.no_grad()
def reference_track(
    reference: Any, frames: list[TrackerFrameFeatures], coords: Tensor, labels: Tensor
) -> ReferenceRun:
    """Prompts on frame 0 (``coords`` (P, 2) px of the input, ``labels`` (P,) int, clicks
    only, no padding point), then propagation over every frame."""
    session = reference_session(frames)
    obj_idx = session.obj_id_to_idx(1)
    points = {"point_coords": coords.view(1, 1, -1, 2), "point_labels": labels.view(1, 1, -1).int()}
    session.add_point_inputs(obj_idx, 0, points)
    session.obj_with_new_inputs = [1]
    reference(inference_session=session, frame_idx=0)
    outputs = list(reference.propagate_in_video_iterator(session))
    return ReferenceRun(
        [out.pred_masks.clone() for out in outputs],
        [out.object_score_logits.flatten().clone() for out in outputs],
        session,
    )


def reference_entry(session: Any, frame: int) -> tuple[FrameMemory, bool]:
    """The reference's stored memory of ``frame`` as our bank entry (bf16 memory as stored),
    and whether it is a conditioning frame."""
    stored = session.output_dict_per_obj[0]
    conditioning = frame in stored["cond_frame_outputs"]
    out = stored["cond_frame_outputs" if conditioning else "non_cond_frame_outputs"][frame]
    memory = out["maskmem_features"]  # (G², 1, M)
    memory = memory.permute(1, 2, 0).reshape(1, -1, GRID, GRID)
    pointer, score = out["object_pointer"].reshape(1, -1), out["object_score_logits"].reshape(1, 1)
    return FrameMemory(memory, pointer, score), conditioning


def reference_bank(session: Any, frames: range) -> MemoryBank:
    """Our bank holding the reference's stored memories of ``frames``."""
    bank = MemoryBank()
    for frame in frames:
        entry, conditioning = reference_entry(session, frame)
        bank = bank.with_frame(frame, entry, conditioning=conditioning)
    return bank


def meta_order_encode_new_memory(
    self: Any,
    current_vision_feats: Tensor,
    pred_masks_high_res: Tensor,
    object_score_logits: Tensor,
    is_mask_from_pts: bool,
) -> tuple[Tensor, Tensor]:
    """transformers' ``_encode_new_memory`` with Meta's order: binarise (prompted) or
    sigmoid the input-size mask, scale and shift, *then* resize to 16·G with antialiasing.
    Everything else as transformers (bf16 memory, occlusion embedding)."""
    batch = current_vision_feats.size(1)
    height, width = self.backbone_feature_sizes[-1]
    masks = pred_masks_high_res.float()
    mask = (masks > 0).float() if is_mask_from_pts else torch.sigmoid(masks)
    mask = mask * self.config.sigmoid_scale_for_mem_enc + self.config.sigmoid_bias_for_mem_enc
    size = tuple(4 * s for s in self.prompt_encoder.mask_input_size)
    if mask.shape[-2:] != size:
        mask = F.interpolate(mask, size=size, mode="bilinear", align_corners=False, antialias=True)
    pix_feat = current_vision_feats.permute(1, 2, 0).view(batch, self.hidden_dim, height, width)
    features, pos = self.memory_encoder(pix_feat, mask)
    absent = 1 - (object_score_logits > 0).float().view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    occlusion = self.occlusion_spatial_embedding_parameter.view(1, -1, 1, 1)
    features = features + absent * occlusion
    features = features.to(torch.bfloat16).flatten(2).permute(2, 0, 1)
    return features, pos.to(pred_masks_high_res.dtype).flatten(2).permute(2, 0, 1)


@contextmanager
def meta_memory_order(reference: Any) -> Iterator[None]:
    """Within the block, ``reference`` encodes memories in Meta's order."""
    original = reference._encode_new_memory
    reference._encode_new_memory = meta_order_encode_new_memory.__get__(reference)
    try:
        yield
    finally:
        reference._encode_new_memory = original
