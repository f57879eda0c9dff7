"""transformers' ``Sam3VideoModel`` set up as the parity reference of text tracking, aligned to
Meta where the two differ.

The model: a tiny detector (ViT width 32, two layers; everything after the ViT at width 256,
one or two layers, 10 queries) and the full-width tracker (256, 64-channel memory, which
transformers hard-codes) at a 112 px input: an 8² grid, 32² low-res masks, 128² memory-encoder
mask inputs. Weights are transformers' init plus seeded noise, saved with ``save_pretrained``
so that our loader reads exactly what transformers runs.

:func:`meta_aligned` patches the reference where it deviates from Meta
(``SAM3_TRACKER_FACTS.md`` §5, ``SAM3_FACTS.md``), each patch written from transformers' own
parts, never from ours, and each named in :data:`PATCHES` so that a control can leave it out
(``meta_aligned(model, without={"newborns"})``):

* ``geometry_cls`` (facts #9, detector difference 1): a padding box (label −10) makes
  transformers run the geometry encoder as Meta does;
* ``score_clip``: scores clipped to [1e-3, 0.999] as Meta's inverse-sigmoid round trip does
  (inert on the tiny reference: its presence probability stays under 0.999);
* ``nms``, ``hole_filling`` (#13): transformers skips both when ``kernels`` cannot load its
  CUDA kernel; :func:`reference_kernels` gives it a stand-in for that kernel (greedy NMS
  over its IoU matrix, 8-connected components by ``scipy.ndimage.label``), so its own NMS
  and hole-filling code runs; left out, that kernel entry fails and transformers skips it;
* ``newborns`` (#10, #4, #5): Meta's mask prompt (detector logits bilinear to 16·G, > 0), its
  ``_use_mask_as_output`` (no detour through the input size; pointer from token 0) and one
  tracker call for the newborns only (transformers' call re-tracks every existing object
  and overwrites its memory with the binarised raw mask);
* ``memory_write`` (#12; #3 only at rounding level here): low-res logits bilinear to 16·G
  first, shrink suppression there, then sigmoid (text video has no clicks, so Meta never
  binarises), as Meta; transformers suppresses on the low-res logits and its memory encoder
  resizes after (with antialias: 8e-6 apart). So the two part only where an object's shrink
  ratio sits near 0.3 (the control builds such a pair);
* ``reconditioning`` (#11, part of the memory write): Meta's pointer from the detection's
  mask prompt, a conditioning frame for every object born on the same frame, the tracker's
  own mask as memory and output (transformers outputs the detection's mask and keeps the
  tracked pointer);
* ``pairing``: the frame's tracker masks and scores paired with the objects tracked before
  the frame's hot-start removals (:func:`paired_before_removal`).
"""

from __future__ import annotations

import types
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from helpers.transformers_reference import PAD_BOX_LABEL
from helpers.video_reference import meta_memory_order

IMAGE_SIZE, GRID = 112, 8
MASK_SIZE, PROMPT_SIZE = 4 * GRID, 16 * GRID
SCORE_EPS = 1e-3


def tiny_video_config(**thresholds: Any) -> Any:
    """``Sam3VideoConfig``: the tiny detector with width 256 after the ViT (the tracker neck
    is built from the detector's vision config), the default tracker, eager attention."""
    from transformers import Sam3VideoConfig

    wide = {"hidden_size": 256, "num_attention_heads": 8, "intermediate_size": 256}
    detector = {
        "vision_config": {
            "backbone_config": {
                "model_type": "sam3_vit_model",
                "hidden_size": 32,
                "num_attention_heads": 2,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "image_size": IMAGE_SIZE,
                "patch_size": 14,
                "window_size": 4,
                "global_attn_indexes": [1],
                "pretrain_image_size": 56,
                "layer_norm_eps": 1e-5,
            },
            "fpn_hidden_size": 256,
            "backbone_feature_sizes": [[4 * GRID] * 2, [2 * GRID] * 2, [GRID] * 2],
        },
        "text_config": {
            "model_type": "clip_text_model",
            "hidden_size": 32,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "vocab_size": 49408,
            "projection_dim": 16,
            "num_hidden_layers": 2,
            "max_position_embeddings": 32,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-5,
            "bos_token_id": 49406,
            "eos_token_id": 49407,
            "pad_token_id": 49407,
        },
        "geometry_encoder_config": {**wide, "num_layers": 1},
        "detr_encoder_config": {**wide, "num_layers": 1},
        "detr_decoder_config": {**wide, "num_layers": 1, "num_queries": 10},
        "mask_decoder_config": {"hidden_size": 256, "num_attention_heads": 8},
    }
    config = Sam3VideoConfig(detector_config=detector, **thresholds)
    config.image_size = IMAGE_SIZE
    config.low_res_mask_size = MASK_SIZE
    config._attn_implementation = "eager"
    return config


def build_text_video_reference(seed: int = 0, **thresholds: Any) -> Any:
    """A tiny ``Sam3VideoModel`` in eval mode: init plus seeded noise (so norms, biases and
    embeddings all matter), one position matrix for clicks and the image grid (as the
    published checkpoint), and biases that make a random net behave like a tracker:
    confident presence, a spread of query scores around the thresholds, objects present."""
    from transformers import Sam3VideoModel

    torch.manual_seed(seed)
    model: Any = Sam3VideoModel(tiny_video_config(**thresholds))
    model.eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
        tracker = model.tracker_model
        tracker.shared_image_embedding.positional_embedding.copy_(
            tracker.prompt_encoder.shared_embedding.positional_embedding
        )
        tracker.mask_decoder.pred_obj_score_head.proj_out.bias.add_(OBJECT_SCORE_BIAS)
        detector = model.detector_model
        detector.detr_decoder.presence_head.layer3.bias.add_(PRESENCE_BIAS)
        detector.dot_product_scoring.query_proj.weight.mul_(QUERY_SCORE_SPREAD)
    return model


OBJECT_SCORE_BIAS = 3.0
PRESENCE_BIAS = 4.0
QUERY_SCORE_SPREAD = 4.0


def save_reference(model: Any, directory: Path, vocabulary: Path) -> Path:
    """``save_pretrained`` plus the CLIP tokenizer files: a directory ``Segmenter`` loads."""
    from sam3lib.tokenizer import write_clip_vocab_files

    model.save_pretrained(directory)
    write_clip_vocab_files(vocabulary, directory)
    return directory


# --- transformers' missing CUDA kernel, re-implemented independently ----------------------


def _greedy_nms(
    ious: Tensor, probs: Tensor, iou_threshold: float, use_iou_matrix: bool = True
) -> Tensor:
    """cv-utils ``generic_nms`` on an IoU matrix: visit by descending score (ties: lower index
    first), drop one whose IoU with a kept one is > the threshold; indices of the kept."""
    order = sorted(range(len(probs)), key=lambda i: (-float(probs[i]), i))
    kept: list[int] = []
    for i in order:
        if all(float(ious[i, j]) <= iou_threshold for j in kept):
            kept.append(i)
    return torch.tensor(sorted(kept), dtype=torch.int64)


def _components_2d(mask: Tensor, get_counts: bool = True) -> tuple[Tensor, Tensor]:
    """cv-utils ``cc_2d``: 8-connected labels of (N, 1, H, W) uint8 masks and, per pixel, the
    size of its component (0 on background), by ``scipy.ndimage.label``."""
    from scipy import ndimage

    labels = np.zeros(mask.shape, dtype=np.int32)
    counts = np.zeros(mask.shape, dtype=np.int32)
    for index, image in enumerate(mask[:, 0].cpu().numpy()):
        labelled, _ = ndimage.label(image, structure=np.ones((3, 3), dtype=bool))
        sizes = np.bincount(labelled.ravel())
        sizes[0] = 0
        labels[index, 0] = labelled
        counts[index, 0] = sizes[labelled]
    return torch.from_numpy(labels), torch.from_numpy(counts)


def _masks_to_boxes(masks: Tensor) -> Tensor:
    """torchvision ``masks_to_boxes``: (N, H, W) bool -> (N, 4) xyxy of the extreme pixels."""
    boxes = torch.zeros(masks.shape[0], 4)
    for index, mask in enumerate(masks):
        rows, cols = torch.nonzero(mask, as_tuple=True)
        if rows.numel():
            boxes[index] = torch.stack([cols.min(), rows.min(), cols.max(), rows.max()]).float()
    return boxes


def _skipped(*args: Any, **kwargs: Any) -> Any:
    """A kernel entry that fails: transformers then skips that step, as without ``kernels``."""
    raise RuntimeError("no kernel (as without the kernels package)")


@contextmanager
def reference_kernels(*, nms: bool = True, hole_filling: bool = True) -> Iterator[None]:
    """Within the block transformers finds its cv-utils kernel (NMS, connected components)
    and torchvision's ``masks_to_boxes`` and ``roi_align``, each a plain stand-in; ``nms`` or
    ``hole_filling`` False leaves that kernel entry failing, so transformers skips the step
    as it does without ``kernels``."""
    import transformers.models.sam3.modeling_sam3 as detector_module
    import transformers.models.sam3_video.modeling_sam3_video as video_module
    import transformers.models.sam3_video.processing_sam3_video as processing_module

    from helpers.reference_roi_align import torchvision_style_roi_align

    kernel = types.SimpleNamespace(
        generic_nms=_greedy_nms if nms else _skipped,
        cc_2d=_components_2d if hole_filling else _skipped,
    )
    ops = types.SimpleNamespace(roi_align=torchvision_style_roi_align)
    saved = (
        video_module.cv_utils_kernel,
        getattr(detector_module, "torchvision", None),
        getattr(processing_module, "masks_to_boxes", None),
    )
    video_module.cv_utils_kernel = kernel  # type: ignore[assignment]
    detector_module.torchvision = types.SimpleNamespace(ops=ops)  # type: ignore[attr-defined]
    processing_module.masks_to_boxes = _masks_to_boxes  # type: ignore[attr-defined]
    try:
        yield
    finally:
        video_module.cv_utils_kernel = saved[0]
        detector_module.torchvision = saved[1]  # type: ignore[attr-defined]
        processing_module.masks_to_boxes = saved[2]  # type: ignore[attr-defined]


# --- Meta's behaviour, written with transformers' parts ----------------------------------


def meta_run_detection(
    self: Any,
    inference_session: Any,
    vision_embeds: Any,
    *,
    geometry_cls: bool = True,
    score_clip: bool = True,
) -> dict[int, Any]:
    """``run_detection`` for one prompt as Meta: the geometry encoder runs (a padding box),
    scores σ(logit)·σ(presence) clipped to [1e-3, 0.999], then score threshold and NMS
    (``geometry_cls`` / ``score_clip`` False: transformers' way for that step)."""
    from transformers.models.sam3_video.modeling_sam3_video import nms_masks

    (prompt_id,) = inference_session.prompts
    if prompt_id not in inference_session.prompt_embeddings:
        inference_session.prompt_embeddings[prompt_id] = self.detector_model.get_text_features(
            input_ids=inference_session.prompt_input_ids[prompt_id],
            attention_mask=inference_session.prompt_attention_masks[prompt_id],
            return_dict=True,
        )
    padding_box = {
        "input_boxes": torch.zeros(1, 1, 4),
        "input_boxes_labels": torch.full((1, 1), PAD_BOX_LABEL),
    }
    out = self.detector_model(
        vision_embeds=vision_embeds,
        text_embeds=inference_session.prompt_embeddings[prompt_id],
        attention_mask=inference_session.prompt_attention_masks[prompt_id],
        **(padding_box if geometry_cls else {}),
    )
    probs = (out.pred_logits.sigmoid() * out.presence_logits.sigmoid())[0]
    if score_clip:
        probs = probs.clamp(SCORE_EPS, 1 - SCORE_EPS)
    keep = probs > self.score_threshold_detection
    if self.det_nms_thresh > 0:
        keep = nms_masks(
            probs, out.pred_masks[0], self.score_threshold_detection, self.det_nms_thresh
        )
    return {
        prompt_id: {
            "bbox": out.pred_boxes[0][keep],
            "mask": out.pred_masks[0][keep],
            "scores": probs[keep],
        }
    }


def _frame_features(
    tracker: Any, session: Any, frame_idx: int
) -> tuple[Tensor, list[Tensor], Tensor]:
    """The cached coarsest level (HW, 1, C), [s0, s1] as (1, C, h, w), the coarsest (1, C, G, G)."""
    feats, _ = tracker._prepare_vision_features(session, frame_idx, 1)
    high_res = [
        x.permute(1, 2, 0).view(x.size(1), x.size(2), *s)
        for x, s in zip(feats[:-1], tracker.backbone_feature_sizes[:-1], strict=True)
    ]
    pix_feat = (
        feats[-1].permute(1, 2, 0).view(-1, tracker.hidden_dim, *tracker.backbone_feature_sizes[-1])
    )
    return feats[-1], high_res, pix_feat


def meta_mask_as_output(
    tracker: Any, pix_feat: Tensor, high_res: list[Tensor], mask: Tensor
) -> dict[str, Tensor]:
    """Meta's ``_use_mask_as_output`` for (B, 1, 16G, 16G) {0, 1} masks: low-res logits
    ``mask · 20 − 10`` at 4G (antialiased), the pointer of decoder token 0 with the mask
    through ``mask_downsample`` as its prompt, score ±10 by emptiness."""
    low_res = F.interpolate(
        mask * 20.0 - 10.0,
        size=tracker.prompt_encoder.mask_input_size,
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    decoded = tracker._single_frame_forward(
        input_masks=tracker.mask_downsample(mask),
        image_embeddings=[*high_res, pix_feat],
        multimask_output=False,
    )
    present = mask.flatten(1).any(dim=1, keepdim=True).float()
    pointer = present * decoded.object_pointer + (1 - present) * tracker.no_object_pointer
    return {
        "pred_masks": low_res,
        "object_pointer": pointer,
        "object_score_logits": present * 20.0 - 10.0,
    }


def meta_add_new_objects(
    self: Any,
    inference_session: Any,
    frame_idx: int,
    new_obj_ids: list[int],
    new_obj_masks: Tensor,
    reverse: bool = False,
) -> None:
    """Meta's ``_tracker_add_new_objects`` + ``add_new_mask`` + ``propagate_in_video_preflight``
    for one frame's newborns (only they run; their own tracker state):

    * the prompt: detector logits bilinear to 16·G, > 0 (transformers: ``>= 0.5`` at 4G);
    * the frame's output and pointer from :func:`meta_mask_as_output`;
    * the memory: the prompt at video resolution (antialiased, > 0.5; a later newborn's
      prompt takes its pixels from the earlier ones') as ±1024 logits, consolidated at 4G
      (antialiased), bilinear to the input size, pixel-wise non-overlap among the newborns,
      binarised, then (Meta's order) to 16·G.
    """
    tracker = self.tracker_model
    size = 4 * tracker.prompt_encoder.mask_input_size[0]
    masks = F.interpolate(
        new_obj_masks[:, None].float(), size=(size, size), mode="bilinear", align_corners=False
    )
    masks = (masks > 0).float()
    flat, high_res, pix_feat = _frame_features(tracker, inference_session, frame_idx)
    outputs = [meta_mask_as_output(tracker, pix_feat, high_res, m[None]) for m in masks]
    video_size = (inference_session.video_height, inference_session.video_width)
    video = F.interpolate(
        masks, size=video_size, mode="bilinear", align_corners=False, antialias=True
    )
    video = video > 0.5
    for later in range(1, len(video)):  # add_new_mask: a later prompt takes its pixels
        video[:later] &= ~video[later]
    logits = torch.where(video, 1024.0, -1024.0)
    low_res = F.interpolate(
        logits,
        size=tracker.prompt_encoder.mask_input_size,
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    high = F.interpolate(
        low_res, size=(tracker.image_size, tracker.image_size), mode="bilinear", align_corners=False
    )
    high = self._apply_non_overlapping_constraints(high)
    scores = torch.cat([out["object_score_logits"] for out in outputs])
    for row, (obj_id, out) in enumerate(zip(new_obj_ids, outputs, strict=True)):
        with meta_memory_order(tracker):  # one object at a time: its occlusion term is (1, 1)
            memory, position = tracker._encode_new_memory(
                flat, high[row : row + 1], scores[row : row + 1], is_mask_from_pts=True
            )
        obj_idx = inference_session.obj_id_to_idx(obj_id)
        entry = {**out, "maskmem_features": memory, "maskmem_pos_enc": position}
        inference_session.store_output(
            obj_idx, frame_idx, output_value=entry, is_conditioning_frame=True
        )


def meta_recondition_masks(
    self: Any,
    inference_session: Any,
    frame_idx: int,
    det_out: dict[str, Tensor],
    trk_masks: Tensor,
    trk_id_to_max_iou_high_conf_det: dict[int, int],
    tracker_obj_scores_global: Tensor,
) -> tuple[dict[int, Tensor], set[int]]:
    """``_prepare_recondition_masks`` as Meta's periodic ``_recondition_masklets``: the same
    tracks (object logit > ``high_conf_thresh``), each with its detection's (4G, 4G) logits
    for :func:`meta_update_memories`, and no ids whose reported mask the detection's replaces
    (Meta's periodic path reports the tracker's mask)."""
    detections = {}
    for obj_id, det_idx in trk_id_to_max_iou_high_conf_det.items():
        obj_idx = inference_session.obj_id_to_idx(obj_id)
        if tracker_obj_scores_global[obj_idx] > self.high_conf_thresh:
            detections[obj_idx] = det_out["mask"][det_idx]
    return detections, set()


def meta_update_memories(
    self: Any,
    inference_session: Any,
    frame_idx: int,
    low_res_masks: Tensor,
    reconditioned_masks: dict[int, Tensor] | None = None,
    *,
    meta_reconditioning: bool = True,
) -> None:
    """Meta's ``_tracker_update_memories``: logits bilinear to 16·G, shrink suppression there
    (also for a lone object), scores ±10 by area, sigmoid path.

    Re-conditioned objects (``reconditioned_masks``, by object index) make the frame a
    conditioning frame. With ``meta_reconditioning`` (the values: detection logits from
    :func:`meta_recondition_masks`) as Meta: the pointer of the detection's mask prompt
    (bilinear to 16·G, > 0; :func:`meta_mask_as_output`), the memory the tracker mask's, and
    every object born on the same frame (Meta's tracker state) conditioned too, its tracked
    pointer kept. Else as transformers: the tracked output, the memory from the given mask
    (the tracker's, ``recondition_on_trk_masks``)."""
    if len(inference_session.obj_ids) == 0:
        return
    tracker = self.tracker_model
    size = 4 * tracker.prompt_encoder.mask_input_size[0]
    reconditioned = reconditioned_masks or {}
    masks = low_res_masks[:, None].float().clone()
    if not meta_reconditioning:
        for obj_idx, mask in reconditioned.items():
            masks[obj_idx] = mask.float()
    high = F.interpolate(masks, size=(size, size), mode="bilinear", align_corners=False)
    high = self._suppress_shrunk_masks(high, self._apply_non_overlapping_constraints(high))
    scores = torch.where((high > 0).any(dim=(-1, -2)), 10.0, -10.0).unsqueeze(-1)
    memory, position = self.run_memory_encoder(inference_session, frame_idx, high, scores)
    outputs = inference_session.output_dict_per_obj
    conditioned = set(reconditioned)
    if meta_reconditioning and reconditioned:
        birth = {i: min(outputs[i]["cond_frame_outputs"]) for i in range(len(outputs))}
        conditioned = {i for i in birth if birth[i] in {birth[r] for r in reconditioned}}
        _, high_res, pix_feat = _frame_features(tracker, inference_session, frame_idx)
        for obj_idx, logits in reconditioned.items():
            prompt = F.interpolate(
                logits[None, None].float(), size=(size, size), mode="bilinear", align_corners=False
            )
            out = meta_mask_as_output(tracker, pix_feat, high_res, (prompt > 0).float())
            outputs[obj_idx]["non_cond_frame_outputs"][frame_idx]["object_pointer"] = out[
                "object_pointer"
            ]
    for obj_idx in range(len(inference_session.obj_ids)):
        stored = outputs[obj_idx]["non_cond_frame_outputs"][frame_idx]
        stored["maskmem_features"] = memory[:, obj_idx : obj_idx + 1]
        stored["maskmem_pos_enc"] = position[:, obj_idx : obj_idx + 1]
        if obj_idx in conditioned:
            outputs[obj_idx]["cond_frame_outputs"][frame_idx] = outputs[obj_idx][
                "non_cond_frame_outputs"
            ].pop(frame_idx)


def paired_before_removal(self: Any, **kwargs: Any) -> Any:
    """transformers' ``_det_track_one_frame`` with this frame's tracker masks and scores
    paired with the objects tracked *when the frame began*: transformers pairs them with the
    objects left after the frame's hot-start removals, so after a removal each mask and
    score goes to the next object (``build_outputs`` and the tracker-score update zip
    ``inference_session.obj_ids`` after ``remove_object``). Meta pairs them before."""
    session, frame_idx = kwargs["inference_session"], kwargs["frame_idx"]
    tracked = list(session.obj_ids)
    execute = self.run_tracker_update_execution_phase
    build = self.build_outputs

    def execute_then_restore_ids(**inner: Any) -> Any:
        result = execute(**inner)
        session.ids_after_removal = list(session.obj_ids)
        session.obj_ids = tracked  # read by build_outputs, then put back below
        return result

    def build_with_ids_before(**inner: Any) -> Any:
        try:
            return build(**inner)
        finally:
            session.obj_ids = session.ids_after_removal

    self.run_tracker_update_execution_phase = execute_then_restore_ids
    self.build_outputs = build_with_ids_before
    try:
        masks, scores, metadata, tracker_scores = type(self)._det_track_one_frame(self, **kwargs)
    finally:
        del self.run_tracker_update_execution_phase, self.build_outputs
    if tracked:
        frame_scores = metadata["obj_id_to_tracker_score_frame_wise"][frame_idx]
        for obj_id in session.obj_ids:
            frame_scores.pop(obj_id, None)
        frame_scores.update(zip(tracked, tracker_scores, strict=True))
    return masks, scores, metadata, tracker_scores


PATCHES = (
    "geometry_cls",
    "score_clip",
    "nms",
    "hole_filling",
    "newborns",
    "memory_write",
    "reconditioning",
    "pairing",
)


@contextmanager
def meta_aligned(model: Any, *, without: Collection[str] = ()) -> Iterator[None]:
    """Within the block ``model`` (a ``Sam3VideoModel``) follows Meta where it can differ,
    except for the patches named in ``without`` (of :data:`PATCHES`), left as transformers
    has them (for the controls)."""
    on = {name: name not in without for name in PATCHES}
    if unknown := set(without) - set(PATCHES):
        raise ValueError(f"without: unknown patches {sorted(unknown)}")
    methods: dict[str, Any] = {
        "run_detection": partial(
            meta_run_detection, model, geometry_cls=on["geometry_cls"], score_clip=on["score_clip"]
        )
    }
    if on["newborns"]:
        methods["_tracker_add_new_objects"] = partial(meta_add_new_objects, model)
    if on["memory_write"]:
        methods["_tracker_update_memories"] = partial(
            meta_update_memories, model, meta_reconditioning=on["reconditioning"]
        )
        if on["reconditioning"]:  # Meta's re-conditioning is part of its memory write
            methods["_prepare_recondition_masks"] = partial(meta_recondition_masks, model)
    if on["pairing"]:
        methods["_det_track_one_frame"] = partial(paired_before_removal, model)
    with ExitStack() as stack:
        stack.enter_context(reference_kernels(nms=on["nms"], hole_filling=on["hole_filling"]))
        for method, function in methods.items():
            setattr(model, method, function)
            stack.callback(delattr, model, method)
        yield


class ReferenceFrame(NamedTuple):
    """One reported frame of the reference: ids, (N, H, W) bool masks (overlaps resolved),
    scores, and the raw per-object low-res logits and tracker scores behind them."""

    frame_index: int
    object_ids: list[int]
    masks: Tensor
    scores: Tensor
    low_res: dict[int, Tensor]
    tracker_scores: dict[int, float]
    removed: set[int]


def reference_session(pixels: Tensor, size: tuple[int, int], ids: Tensor, mask: Tensor) -> Any:
    """A session over ``pixels`` (T, 3, S, S) normalised frames of a video of ``size`` (H, W),
    prompted with one text (``ids``, ``mask``: (1, 32) token ids and attention mask)."""
    from transformers.models.sam3_video.modeling_sam3_video import Sam3VideoInferenceSession

    session: Any = Sam3VideoInferenceSession(
        video=pixels,
        video_height=size[0],
        video_width=size[1],
        max_vision_features_cache_size=pixels.shape[0],
        dtype=torch.float32,
    )
    prompt_id = session.add_prompt("prompt")
    session.prompt_input_ids[prompt_id] = ids
    session.prompt_attention_masks[prompt_id] = mask.long()
    session.obj_with_new_inputs = []
    return session


@torch.no_grad()
def reference_track(
    model: Any, pixels: Tensor, size: tuple[int, int], ids: Tensor, mask: Tensor
) -> list[ReferenceFrame]:
    """transformers' propagation over every frame, each yielded frame post-processed by its
    processor at video resolution, as a user would."""
    from transformers.models.sam3_video.processing_sam3_video import Sam3VideoProcessor

    processor = Sam3VideoProcessor.__new__(Sam3VideoProcessor)  # its post-processing only
    session = reference_session(pixels, size, ids, mask)
    frames = []
    for out in model.propagate_in_video_iterator(session):
        shown = processor.postprocess_outputs(session, out)
        frames.append(
            ReferenceFrame(
                frame_index=out.frame_idx,
                object_ids=shown["object_ids"].tolist(),
                masks=shown["masks"],
                scores=shown["scores"].float(),
                low_res={k: v.clone() for k, v in out.obj_id_to_mask.items()},
                tracker_scores=dict(out.obj_id_to_tracker_score),
                removed=set(out.removed_obj_ids),
            )
        )
    return frames


# Our TrackingConfig field -> transformers' Sam3VideoConfig field.
CONFIG_FIELDS = {
    "detection_score_threshold": "score_threshold_detection",
    "nms_iou_threshold": "det_nms_thresh",
    "detection_match_iou": "assoc_iou_thresh",
    "track_match_iou": "trk_assoc_iou_thresh",
    "new_object_score": "new_det_thresh",
    "hotstart_frames": "hotstart_delay",
    "hotstart_unmatched_frames": "hotstart_unmatch_thresh",
    "hotstart_duplicate_frames": "hotstart_dup_thresh",
    "suppress_unmatched_only_within_hotstart": "suppress_unmatched_only_within_hotstart",
    "keep_alive_initial": "init_trk_keep_alive",
    "keep_alive_max": "max_trk_keep_alive",
    "keep_alive_min": "min_trk_keep_alive",
    "keep_alive_decrease_when_empty": "decrease_trk_keep_alive_for_empty_masklets",
    "recondition_every": "recondition_every_nth_frame",
    "recondition_detection_score": "high_conf_thresh",
    "recondition_iou": "high_iou_thresh",
    "occlusion_iou": "suppress_overlapping_based_on_recent_occlusion_threshold",
    "fill_hole_area": "fill_hole_area",
}


def transformers_thresholds(config: Any) -> dict[str, Any]:
    """``Sam3VideoConfig`` keyword arguments equal to our ``TrackingConfig``."""
    if config.recondition_object_logit != config.recondition_detection_score:
        raise ValueError("transformers has one threshold for both (high_conf_thresh)")
    values = {theirs: getattr(config, ours) for ours, theirs in CONFIG_FIELDS.items()}
    values["max_num_objects"] = 10000 if config.max_objects is None else config.max_objects
    return values
