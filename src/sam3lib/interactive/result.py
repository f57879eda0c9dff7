"""The answer to one interactive prompt: one object's candidate masks, or one mask per box."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from sam3lib.errors import InputError
from sam3lib.result import MaskFormat, SegmentationResult

__all__ = ["InteractiveResult"]

OBJECT_LABEL = "object"


@dataclass(frozen=True, eq=False, repr=False)
class InteractiveResult(SegmentationResult):
    """Masks from clicks, a box or boxes: a :class:`SegmentationResult` plus what refining
    needs.

    For one object, the K rows are its candidate masks (3 with ``multimask``, else 1), in the
    decoder's token order; for ``boxes``, one row per box, in the order given (with
    ``multimask``, each box's best candidate).

    Attributes:
        scores: (K,) float32 predicted IoU of each mask (the model's own quality estimate).
        logits: (K, m, m) float32 low-resolution mask logits (m = 288 for SAM 3), clamped to
            ±32 as Meta's predictor returns them: pass ``logits[best]`` back as
            ``mask_input`` to refine the object with more clicks.
        object_scores: (K,) float32 σ(object-score logit): the head's belief that the prompt
            hits an object at all (Meta's image predictor ignores it; it is here to look at).

    Example:
        >>> result = seg.predict(emb, points=[[410, 220]], point_labels=[1])  # doctest: +SKIP
        >>> best = result.masks[result.best]  # doctest: +SKIP
        >>> again = seg.predict(emb, points=[[410, 220], [380, 260]], point_labels=[1, 0],
        ...                     mask_input=result.logits[result.best])  # doctest: +SKIP
    """

    logits: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 1, 1), dtype=np.float32)
    )
    object_scores: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float32)
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        count = len(self.scores)
        logits = np.asarray(self.logits, dtype=np.float32)
        objects = np.asarray(self.object_scores, dtype=np.float32)
        if logits.ndim != 3 or logits.shape[0] != count:
            raise InputError(f"logits: expected ({count}, m, m), got shape {logits.shape}")
        if objects.shape != (count,):
            raise InputError(f"object_scores: expected ({count},), got shape {objects.shape}")
        object.__setattr__(self, "logits", logits)
        object.__setattr__(self, "object_scores", objects)

    @property
    def best(self) -> int:
        """Index of the mask with the highest predicted IoU (0 when there is one)."""
        return int(np.argmax(self.scores)) if len(self.scores) else 0

    @property
    def label(self) -> str:
        return OBJECT_LABEL

    def best_only(self) -> InteractiveResult:
        """This result reduced to its best candidate (highest predicted IoU).

        Example:
            >>> seg.predict(emb, points=[[410, 220]]).best_only().masks.shape[0]
            ... # doctest: +SKIP
            1
        """
        keep = [self.best]
        return replace(
            self,
            masks=self.masks[keep],
            boxes=self.boxes[keep],
            scores=self.scores[keep],
            logits=self.logits[keep],
            object_scores=self.object_scores[keep],
        )

    def __repr__(self) -> str:
        return (
            f"InteractiveResult(masks={len(self)}, best={self.best}, image_size={self.image_size})"
        )

    def to_dict(self, mask_format: MaskFormat = "rle") -> dict[str, Any]:
        """:meth:`SegmentationResult.to_dict` plus ``best`` and, per instance,
        ``object_score``. Low-resolution logits are left out (use :attr:`logits`)."""
        data = super().to_dict(mask_format)
        data["best"] = self.best
        for instance, object_score in zip(data["instances"], self.object_scores, strict=True):
            instance["object_score"] = float(object_score)
        return data
