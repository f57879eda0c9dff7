"""Clicks and boxes in, one object's masks out: SAM 3's interactive head on an encoded image.

The steps and their defaults are those of Meta's ``SAM3InteractiveImagePredictor.predict``:
the decoder's candidates chosen by the multimask/stability rule, background holes of at most
256 low-resolution pixels filled (8-connected, on the 288² logits), logits resized bilinearly
to the image and thresholded at logit 0, and the low-resolution logits returned clamped to ±32.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sam3lib.backends import Backend
from sam3lib.embedding import ImageEmbedding
from sam3lib.errors import InputError, InteractiveUnavailableError
from sam3lib.interactive.prompts import ObjectPrompts
from sam3lib.interactive.result import InteractiveResult
from sam3lib.model import InteractiveFeatures, InteractiveOutputs, TrackerConfig, select_masks
from sam3lib.postprocess import (
    boxes_from_masks,
    component_areas,
    connected_components,
)

__all__ = ["DEFAULT_MAX_HOLE_AREA", "InteractivePredictor", "fill_small_holes", "resized_masks"]

DEFAULT_MAX_HOLE_AREA = 256  # low-resolution pixels, Meta's predictor default
LOW_RES_LOGIT_LIMIT = 32.0  # Meta returns low-resolution logits clamped to ±32
_FILLED_LOGIT = 10.0  # what Meta writes into a filled hole (threshold 0 + 10)
# Objects decoded per pass: each repeats the image tokens (G² x C floats, 5 MB at full size).
_OBJECTS_PER_PASS = 32


@dataclass(frozen=True)
class Candidates:
    """The chosen low-resolution candidates of N objects (K per object)."""

    mask_logits: torch.Tensor  #: (N, K, m, m)
    iou_scores: torch.Tensor  #: (N, K)
    object_score_logits: torch.Tensor  #: (N, 1)


class InteractivePredictor:
    """Runs interactive prompts through a backend; holds no per-call state (thread-safe).

    Example:
        >>> predictor = InteractivePredictor(seg.backend)  # doctest: +SKIP
        >>> result = predictor.predict(emb, prompts, multimask=True)  # doctest: +SKIP
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def tracker(self) -> TrackerConfig:
        """The head's configuration; raises if the checkpoint has no interactive head."""
        tracker = self.backend.config.tracker
        if tracker is None:
            raise InteractiveUnavailableError(
                "this checkpoint has no interactive (tracker) head: it was saved with the "
                "detector only, so it segments text and exemplar-box concepts but not clicks "
                "or boxes of one object; load a full SAM 3 checkpoint (e.g. facebook/sam3)"
            )
        return tracker

    @property
    def mask_size(self) -> int:
        """Side of the low-resolution masks (288 for SAM 3)."""
        return 4 * self.backend.config.vision.grid_size

    def decode(
        self, features: InteractiveFeatures, prompts: ObjectPrompts, multimask: bool
    ) -> Candidates:
        """The chosen candidates of every object, decoded a batch of objects at a time."""
        tracker = self.tracker
        prompts = prompts.to(self.backend.device)
        parts: list[InteractiveOutputs] = []
        for start in range(0, prompts.num_objects, _OBJECTS_PER_PASS):
            rows = prompts.rows(slice(start, start + _OBJECTS_PER_PASS))
            parts.append(
                self.backend.decode_interactive(
                    features,
                    rows.point_coords,
                    rows.point_labels,
                    rows.mask_input,
                    rows.has_mask_input,
                )
            )
        outputs = InteractiveOutputs(*(torch.cat(field) for field in zip(*parts, strict=True)))
        logits, scores = select_masks(outputs.mask_logits, outputs.iou_scores, multimask, tracker)
        return Candidates(logits, scores, outputs.object_score_logits)

    def predict(
        self,
        embedding: ImageEmbedding,
        prompts: ObjectPrompts,
        *,
        multimask: bool,
        max_hole_area: int = DEFAULT_MAX_HOLE_AREA,
    ) -> InteractiveResult:
        """Masks at the image's size for ``prompts`` (one object, or one per box).

        Args:
            embedding: the encoded image (its interactive features are computed on first use).
            prompts: from :func:`~sam3lib.interactive.prompts.check_interactive_prompt`.
            multimask: three candidates per object instead of one; with several objects,
                each object's best candidate is kept.
            max_hole_area: fill background holes up to this many low-resolution pixels
                before resizing (0: keep masks as decoded).
        """
        if isinstance(max_hole_area, bool) or not isinstance(max_hole_area, int):
            raise InputError(f"max_hole_area: expected an int >= 0, got {max_hole_area!r}")
        if max_hole_area < 0:
            raise InputError(f"max_hole_area: expected an int >= 0, got {max_hole_area}")
        self.tracker  # noqa: B018  # raises before any work if there is no head
        timings = dict(embedding.timings)
        with torch.inference_mode():
            features = embedding.interactive_features(timings)
            started = time.perf_counter()
            chosen = self.decode(features, prompts, multimask)
            self._synchronize()
            timings["decode_interactive"] = time.perf_counter() - started

            started = time.perf_counter()
            logits, scores, objects = _rows(chosen, prompts.one_per_object)
            filled = fill_small_holes(logits, max_hole_area) if max_hole_area else logits
            masks = resized_masks(filled, embedding.original_size)
            boxes = boxes_from_masks(masks)
            timings["postprocess"] = time.perf_counter() - started
        return InteractiveResult(
            masks=masks.cpu().numpy(),
            boxes=boxes.cpu().numpy(),
            scores=scores.cpu().numpy(),
            prompt=None,
            image_size=embedding.original_size,
            timings=timings,
            logits=logits.clamp(-LOW_RES_LOGIT_LIMIT, LOW_RES_LOGIT_LIMIT).cpu().numpy(),
            object_scores=objects.sigmoid().cpu().numpy(),
        )

    def _synchronize(self) -> None:
        if self.backend.device.type == "cuda":
            torch.cuda.synchronize(self.backend.device)


def _rows(
    chosen: Candidates, one_per_object: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One object's candidates, or each object's best candidate, as (K, m, m), (K,), (K,)."""
    logits, scores = chosen.mask_logits, chosen.iou_scores
    objects = chosen.object_score_logits.expand_as(scores)
    if not one_per_object:
        return logits[0], scores[0], objects[0]
    best = scores.argmax(dim=1)
    rows = torch.arange(logits.shape[0], device=logits.device)
    return logits[rows, best], scores[rows, best], objects[rows, best]


def resized_masks(mask_logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(K, m, m) logits -> (K, H, W) bool: bilinear (no corner alignment), then logit > 0.

    Thresholded on the logit, as Meta's predictor does (σ(x) > 0.5 would drop logits below
    ~1e-7, which round to σ = 0.5 in float32); one mask at a time bounds the float memory.
    """
    masks = torch.empty((mask_logits.shape[0], *size), dtype=torch.bool, device=mask_logits.device)
    for row, logits in enumerate(mask_logits):
        resized = F.interpolate(logits[None, None], size=size, mode="bilinear", align_corners=False)
        torch.gt(resized[0, 0], 0.0, out=masks[row])
    return masks


def fill_small_holes(mask_logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Turn background regions of at most ``max_area`` pixels into foreground (logit 10).

    Meta's rule: every 8-connected component of ``logit <= 0`` counts, also one touching the
    border, so small background slivers at an edge are filled too.

    Args:
        mask_logits: (N, m, m) low-resolution logits.

    Example:
        >>> logits = torch.full((1, 4, 4), 5.0)
        >>> logits[0, 1, 1] = -3.0
        >>> fill_small_holes(logits, 1)[0, 1, 1].item()
        10.0
    """
    labels = connected_components(mask_logits <= 0, connectivity=8)
    holes = (labels > 0) & (component_areas(labels) <= max_area)
    return torch.where(holes, torch.full_like(mask_logits, _FILLED_LOGIT), mask_logits)
