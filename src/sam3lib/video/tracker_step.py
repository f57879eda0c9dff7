"""Meta's tracker step: B objects on one frame, from that frame's tracker features and the
objects' :class:`~sam3lib.video.memory_bank.MemoryBank` (``SAM3_TRACKER_FACTS.md`` §3).

Three ways a frame is segmented, each giving a :class:`StepOutput`:

* :func:`prompted_step`, a conditioning frame with clicks and/or a box: the coarsest feature
  plus ``no_memory_embedding``, no memory attention; multimask iff the frame has 0–1 points
  (a box counts 2), then the best-IoU token; else the single-mask (stability) rule, token 0;
* :func:`mask_prompt_step`, a conditioning frame with a mask: the output logits are
  ``mask · 20 − 10``; the pointer comes from the decoder run on the *raw* feature with the
  mask through ``mask_downsample`` as its mask prompt, token 0; object score ±10 by whether
  the mask is empty; the pointer is ``no_object_pointer`` if the mask is empty or the
  decoder scores the object absent (Meta ``_use_mask_as_output``; transformers takes the
  best multimask token instead, facts §5 #4);
* :func:`tracked_step`, any other frame: memory attention over the bank's selected memories
  and pointers, then the decoder without prompts (multimask, best IoU).

An object whose score logit is ≤ 0 gets masks of −1024 and ``no_object_pointer``.
:func:`encode_memory` then writes the frame's memory: the low-res logits bilinearly up to the
model's input size, binarised (prompted frames) or through a sigmoid (tracked frames), in
Meta's order (:func:`~sam3lib.model.memory_encoder.memory_mask_input`), plus
``occlusion_spatial_embedding_parameter`` where the object is absent.

The head is an :class:`~sam3lib.model.interactive.InteractiveHead` built with a video config.

Example:
    >>> # features = tracker_frame_features(head, neck_levels)   # per frame, once
    >>> # out = prompted_step(head, features, coords_px, labels)    # the clicked frame
    >>> # bank = bank.with_frame(0, write_memory(head, features, out, prompted=True),
    >>> #                        conditioning=True)
    >>> # out = tracked_step(head, features, bank, frame=1, num_frames=T)
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.interactive import InteractiveHead
from sam3lib.model.interactive_decoder import select_masks
from sam3lib.model.layers import sine_position_grid
from sam3lib.model.memory_attention import MemoryAttention
from sam3lib.model.memory_encoder import MemoryEncoder, memory_mask_input
from sam3lib.model.outputs import InteractiveFeatures
from sam3lib.model.two_way_transformer import FeedForward
from sam3lib.video.memory_bank import MAX_CONDITIONING_FRAMES, FrameMemory, MemoryBank
from sam3lib.video.memory_read import MAX_OBJECT_POINTERS, build_memory, video_part
from sam3lib.video.overlaps import keep_highest_per_pixel

NO_OBJECT_LOGIT = -1024.0  # Meta's NO_OBJ_SCORE: mask logits of an absent object
MASK_PROMPT_SCALE, MASK_PROMPT_BIAS = 20.0, -10.0  # a mask prompt's output logits
MULTIMASK_MAX_POINTS = 1  # multimask iff 0..1 points (Meta's builder, transformers' config)
PREVIOUS_LOGIT_LIMIT = 32.0  # Meta clamps earlier logits fed back with correction clicks
_PADDING = -1


class TrackerFrameFeatures(NamedTuple):
    """One frame's tracker-neck features (batch 1, shared by its objects). C = tracker width."""

    high_res_x4: Tensor  #: (1, C/8, 4G, 4G) finest level after ``conv_s0``
    high_res_x2: Tensor  #: (1, C/4, 2G, 2G) middle level after ``conv_s1``
    features: Tensor  #: (1, C, G, G) coarsest level as the neck gives it (no embedding added)
    position: Tensor  #: (1, C, G, G) its sine position encoding


class StepOutput(NamedTuple):
    """One frame's result for B objects."""

    mask_logits: Tensor  #: (B, 1, 4G, 4G) low-res logits (−1024 where the object is absent)
    iou_scores: Tensor  #: (B, 1) predicted IoU of that mask (1 for a mask prompt)
    object_score_logits: Tensor  #: (B, 1) > 0: the object is present
    pointer: Tensor  #: (B, C) object pointer (``no_object_pointer`` where absent)


def tracker_frame_features(
    head: InteractiveHead, neck_levels: list[Tensor]
) -> TrackerFrameFeatures:
    """Tracker-neck levels x4, x2, x1 (finest first, batch 1) -> :class:`TrackerFrameFeatures`."""
    level_x4, level_x2, level_x1 = neck_levels
    grid = level_x1.shape[-1]
    position = sine_position_grid(grid, grid, level_x1.shape[1] // 2, level_x1.device)
    return TrackerFrameFeatures(
        head.mask_decoder.conv_s0(level_x4),
        head.mask_decoder.conv_s1(level_x2),
        level_x1,
        position.to(level_x1.dtype),
    )


def prompted_step(
    head: InteractiveHead,
    features: TrackerFrameFeatures,
    point_coords: Tensor,
    point_labels: Tensor,
    previous_logits: Tensor | None = None,
) -> StepOutput:
    """A conditioning frame with clicks and/or a box, B objects.

    Args:
        point_coords: (B, P, 2) xy pixels of the model's S×S input: box corners (labels 2, 3)
            first, then clicks (1, 0), then one padding point (−1), as
            :meth:`InteractiveHead.forward` takes them.
        point_labels: (B, P) int64. Every row must have as many non-padding points.
        previous_logits: (B, 1, 4G, 4G) the objects' earlier low-res logits on this frame,
            given with correction clicks: the decoder's mask prompt, clamped to ±32 (Meta's
            ``prev_sam_mask_logits``).
    """
    counts = (point_labels >= 0).sum(dim=1)
    if bool((counts != counts[0]).any()):
        raise ValueError(f"objects have different numbers of points {counts.tolist()}")
    embedding = features.features + head.no_memory_embedding.view(1, -1, 1, 1)
    multimask = int(counts[0]) <= MULTIMASK_MAX_POINTS
    mask_prompt = None
    if previous_logits is not None:
        mask_prompt = previous_logits.clamp(-PREVIOUS_LOGIT_LIMIT, PREVIOUS_LOGIT_LIMIT)
    return _decode_step(
        head, features, embedding, point_coords, point_labels, multimask, mask_prompt
    )


def mask_prompt_step(
    head: InteractiveHead, features: TrackerFrameFeatures, mask: Tensor
) -> StepOutput:
    """A conditioning frame with a mask, B objects (Meta ``_use_mask_as_output``).

    Args:
        mask: (B, 1, H, W) in [0, 1] (or bool), any size: resized with antialiasing to the
            mask-prompt size 16·G (Meta: 1152² for a 72² grid) where it differs.

    Returns:
        Logits ``mask · 20 − 10`` resized (antialiased) to 4G; IoU 1; object score +10 if
        the mask has a pixel > 0 at 16·G, else −10.
    """
    mask = mask_at_prompt_size(features, mask)
    logits = F.interpolate(
        mask * MASK_PROMPT_SCALE + MASK_PROMPT_BIAS,
        size=features.high_res_x4.shape[-2:],
        mode="bilinear",
        antialias=True,
    )
    batch = mask.shape[0]
    downsample = video_part(head, "mask_downsample", nn.Module)
    prompt = downsample(mask.to(features.features.dtype))
    padding = _padding_points(batch, features.features)
    _, _, decoder_score, tokens = _run_decoder(head, features, features.features, *padding, prompt)
    present = (mask.flatten(1) > 0).any(dim=1, keepdim=True)
    # Meta's decoder pass already swaps in the no-object pointer where its own score is <= 0;
    # the mask's emptiness then decides the rest.
    pointer = _pointer(head, tokens[:, 0], present & (decoder_score > 0))
    score = torch.where(present, -MASK_PROMPT_BIAS, MASK_PROMPT_BIAS).to(logits.dtype)
    return StepOutput(logits.to(features.features.dtype), torch.ones_like(score), score, pointer)


def mask_at_prompt_size(features: TrackerFrameFeatures, mask: Tensor) -> Tensor:
    """(B, 1, H, W) mask -> float (B, 1, 16G, 16G), antialiased where the size differs
    (Meta ``add_new_mask``: to its ``input_mask_size``, not thresholded)."""
    size = 4 * features.high_res_x4.shape[-1]  # mask_downsample (k4 s4) -> 4G
    mask = mask.float()
    if mask.shape[-2:] != (size, size):
        mask = F.interpolate(mask, size=(size, size), mode="bilinear", antialias=True)
    return mask


def write_mask_prompt_memory(
    head: InteractiveHead, features: TrackerFrameFeatures, mask: Tensor, output: StepOutput
) -> FrameMemory:
    """The bank entry of a :func:`mask_prompt_step` frame, as Meta's ``add_new_mask`` and then
    ``propagate_in_video_preflight`` write it: the mask as its low-res logits
    (:func:`mask_prompt_memory_logits`), then like a clicked frame (bilinear to S, binarised)."""
    logits = mask_prompt_memory_logits(features, mask)
    memory = encode_prompted_memories(head, features, logits, output.object_score_logits)
    return FrameMemory(memory, output.pointer, output.object_score_logits)


def mask_prompt_memory_logits(features: TrackerFrameFeatures, mask: Tensor) -> Tensor:
    """(B, 1, H, W) mask at its own (video) size -> Meta's low-res logits of a mask-prompted
    frame, (B, 1, 4G, 4G): the mask (> 0.5) as ±1024, resized with antialiasing
    (``_consolidate_temp_output_across_obj`` on ``pred_masks_video_res``)."""
    size = features.high_res_x4.shape[-2:]
    logits = torch.where(mask > 0.5, -NO_OBJECT_LOGIT, NO_OBJECT_LOGIT).float()
    if logits.shape[-2:] != size:
        logits = F.interpolate(logits, size=size, mode="bilinear", antialias=True)
    return logits


def encode_prompted_memories(
    head: InteractiveHead,
    features: TrackerFrameFeatures,
    mask_logits: Tensor,
    object_score_logits: Tensor,
) -> Tensor:
    """The memories of B objects prompted on one frame, (B, M, G, G), as Meta's
    ``propagate_in_video_preflight`` encodes them: the low-res logits (B, 1, 4G, 4G)
    bilinearly to S, each pixel kept only by the object with the highest logit (the others
    clamped to ≤ −10), binarised."""
    size = head.prompt_encoder.image_size
    high_res = F.interpolate(
        mask_logits.float(), size=(size, size), mode="bilinear", align_corners=False
    )
    high_res = keep_highest_per_pixel(high_res[:, 0])[:, None]
    return encode_mask_memory(head, features, high_res, object_score_logits, prompted=True)


def tracked_step(
    head: InteractiveHead,
    features: TrackerFrameFeatures,
    bank: MemoryBank,
    frame: int,
    num_frames: int | None,
    *,
    reverse: bool = False,
    max_conditioning: int = MAX_CONDITIONING_FRAMES,
    max_pointers: int = MAX_OBJECT_POINTERS,
    selection_threshold: float | None = None,
) -> StepOutput:
    """A frame without prompts: memory attention over ``bank``, then the decoder (multimask,
    best IoU). ``num_frames``: the video's length, None for a stream of unknown length;
    ``selection_threshold``: Meta's memory selection (None: off)."""
    if not bank.conditioning:
        raise ValueError("a tracked frame needs at least one conditioning frame in the bank")
    memory, memory_pos, num_pointer_tokens = build_memory(
        head, bank, frame, num_frames,
        reverse=reverse, max_conditioning=max_conditioning, max_pointers=max_pointers,
        selection_threshold=selection_threshold,
    )  # fmt: skip
    attention = video_part(head, "memory_attention", MemoryAttention)
    current = features.features
    batch, width, grid, _ = memory.shape[0], *current.shape[1:]
    flat = current.flatten(2).transpose(1, 2).expand(batch, -1, -1)
    flat_pos = features.position.flatten(2).transpose(1, 2).expand(batch, -1, -1)
    conditioned = attention(flat, flat_pos, memory, memory_pos, num_pointer_tokens, grid)
    embedding = conditioned.transpose(1, 2).reshape(batch, width, grid, grid)
    coords, labels = _padding_points(batch, current)
    return _decode_step(head, features, embedding, coords, labels, multimask=True)


def encode_memory(
    head: InteractiveHead, features: TrackerFrameFeatures, output: StepOutput, *, prompted: bool
) -> Tensor:
    """The frame's memory for B objects, (B, M, G, G) in the features' dtype.

    ``prompted``: binarise the mask (frames the user prompted, Meta ``is_mask_from_pts``);
    otherwise a sigmoid (tracked frames). The low-res logits go bilinearly to the model's
    input size S first, as Meta's predicted high-res masks do.
    """
    size = head.prompt_encoder.image_size
    high_res = F.interpolate(
        output.mask_logits.float(), size=(size, size), mode="bilinear", align_corners=False
    )
    return encode_mask_memory(
        head, features, high_res, output.object_score_logits, prompted=prompted
    )


def encode_mask_memory(
    head: InteractiveHead,
    features: TrackerFrameFeatures,
    mask_logits: Tensor,
    object_score_logits: Tensor,
    *,
    prompted: bool,
) -> Tensor:
    """The memory of B objects' masks given as logits (B, 1, H, W) of any size, with their
    object-score logits (B, 1): ≤ 0 adds ``occlusion_spatial_embedding_parameter`` (Meta
    ``no_obj_embed_spatial``). Text tracking writes its memories this way, from logits already
    at the memory encoder's 16·G input and scores set by mask area."""
    encoder = video_part(head, "memory_encoder", MemoryEncoder)
    occlusion = video_part(head, "occlusion_spatial_embedding_parameter", nn.Parameter)
    grid = features.features.shape[-1]
    mask_input = memory_mask_input(mask_logits, grid, binarize=prompted, config=encoder.config)
    batch = mask_logits.shape[0]
    memory, _ = encoder(features.features.expand(batch, -1, -1, -1), mask_input)
    absent = (object_score_logits <= 0).to(memory.dtype).view(batch, 1, 1, 1)
    occluded: Tensor = memory + absent * occlusion.view(1, -1, 1, 1)
    return occluded


def write_memory(
    head: InteractiveHead,
    features: TrackerFrameFeatures,
    output: StepOutput,
    *,
    prompted: bool,
    selection_score: float | None = None,
) -> FrameMemory:
    """:func:`encode_memory` with the step's pointer and score: the frame's bank entry
    (``selection_score``: a tracked frame's, see :mod:`~sam3lib.video.memory_selection`)."""
    memory = encode_memory(head, features, output, prompted=prompted)
    return FrameMemory(memory, output.pointer, output.object_score_logits, selection_score)


def _decode_step(
    head: InteractiveHead,
    features: TrackerFrameFeatures,
    embedding: Tensor,
    coords: Tensor,
    labels: Tensor,
    multimask: bool,
    mask_prompt: Tensor | None = None,
) -> StepOutput:
    """Decoder -> the chosen mask, its IoU, the object score and the pointer (best-IoU token
    with multimask, token 0 otherwise), with the absent-object rule applied."""
    batch = coords.shape[0]
    mask_logits, iou, score, tokens = _run_decoder(
        head, features, embedding, coords, labels, mask_prompt
    )
    rows = torch.arange(batch, device=mask_logits.device)
    if multimask:
        best = iou[:, 1:].argmax(dim=1) + 1
        chosen, chosen_iou, token = mask_logits[rows, best], iou[rows, best], tokens[rows, best]
        chosen, chosen_iou = chosen.unsqueeze(1), chosen_iou.unsqueeze(1)
    else:
        chosen, chosen_iou = select_masks(mask_logits, iou, False, head.config)
        token = tokens[:, 0]
    present = score > 0
    chosen = torch.where(present.view(batch, 1, 1, 1), chosen, NO_OBJECT_LOGIT)
    return StepOutput(chosen, chosen_iou, score, _pointer(head, token, present))


def _run_decoder(
    head: InteractiveHead,
    features: TrackerFrameFeatures,
    embedding: Tensor,
    coords: Tensor,
    labels: Tensor,
    mask_prompt: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The head's decoder on ``embedding``: all four masks (B, 4, 4G, 4G), IoU (B, 4), object
    score (B, 1) and the four mask tokens (B, 4, C) the pointer is made from."""
    batch = coords.shape[0]
    has_mask = torch.full((batch,), mask_prompt is not None, device=coords.device)
    if mask_prompt is None:
        mask_prompt = torch.zeros(batch, 1, *features.high_res_x4.shape[-2:])
    image = InteractiveFeatures(features.high_res_x4, features.high_res_x2, embedding)
    out, tokens = head.decode_with_tokens(
        image, coords, labels, mask_prompt.to(embedding), has_mask
    )
    return out.mask_logits, out.iou_scores, out.object_score_logits, tokens


def _pointer(head: InteractiveHead, token: Tensor, present: Tensor) -> Tensor:
    """``object_pointer_proj(token)``, ``no_object_pointer`` where the object is absent."""
    projection = video_part(head, "object_pointer_proj", FeedForward)
    no_object = video_part(head, "no_object_pointer", nn.Parameter)
    pointer: Tensor = projection(token)
    return torch.where(present.view(-1, 1), pointer, no_object.to(pointer.dtype))


def _padding_points(batch: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """Two padding points: the "no prompt" point and the pad Meta's prompt encoder appends."""
    coords = torch.zeros(batch, 2, 2, dtype=like.dtype, device=like.device)
    labels = torch.full((batch, 2), _PADDING, dtype=torch.int64, device=like.device)
    return coords, labels
