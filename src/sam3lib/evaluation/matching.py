"""Matching one variant's instances to another's, and the agreement numbers over many queries.

For one query (one image × one prompt), :func:`match_instances` pairs reference and candidate
instances one-to-one by mask IoU: the assignment (Hungarian, scipy's
``linear_sum_assignment``) that maximises the summed IoU of pairs at or above ``match_iou``;
ties (duplicate masks) are broken by the closer score. A reference instance left unpaired is
*missed*, a candidate instance left unpaired is *extra*. :class:`AgreementTally` adds the
matches of many queries up into the report's numbers. Everything here takes arrays: no model.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["AgreementTally", "InstanceMatch", "mask_ious", "match_instances"]

Masks = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.floating[Any]]
# Tie-break weight of |score difference| against IoU: far below any IoU difference that
# matters, enough to prefer the same instance among duplicates of one mask.
_SCORE_TIE_BREAK = 1e-6


def mask_ious(reference: Masks, candidate: Masks) -> npt.NDArray[np.float64]:
    """(N, M) IoU of every reference mask (N, H, W) with every candidate mask (M, H, W).

    Two empty masks are identical: IoU 1.

    Example:
        >>> a = np.zeros((1, 2, 4), dtype=bool); a[0, :, :2] = True
        >>> b = np.zeros((2, 2, 4), dtype=bool); b[0, :, :1] = True; b[1, :, 2:] = True
        >>> mask_ious(a, b).tolist()
        [[0.5, 0.0]]
    """
    if reference.shape[1:] != candidate.shape[1:]:
        raise ValueError(f"masks of different sizes: {reference.shape} and {candidate.shape}")
    pixels = int(np.prod(reference.shape[1:]))
    flat_candidate = candidate.reshape(len(candidate), pixels)
    candidate_areas = np.count_nonzero(flat_candidate, axis=1)
    ious = np.zeros((len(reference), len(candidate)), dtype=np.float64)
    for row, mask in enumerate(reference.reshape(len(reference), pixels)):
        common = np.count_nonzero(flat_candidate & mask, axis=1)
        union = candidate_areas + np.count_nonzero(mask) - common
        ious[row] = np.divide(common, union, out=np.ones(len(candidate)), where=union > 0)
    return ious


@dataclass(frozen=True)
class InstanceMatch:
    """The pairing of one query's instances.

    Attributes:
        reference_index, candidate_index: (P,) the paired instances, by reference order.
        ious: (P,) mask IoU of each pair.
        score_diffs: (P,) candidate score − reference score of each pair.
        box_diffs_px: (P,) mean |Δ| over the four xyxy coordinates of each pair, in pixels;
            empty when boxes were not given.
        missed: reference instances without a pair.
        extra: candidate instances without a pair.
    """

    reference_index: npt.NDArray[np.intp]
    candidate_index: npt.NDArray[np.intp]
    ious: npt.NDArray[np.float64]
    score_diffs: npt.NDArray[np.float64]
    box_diffs_px: npt.NDArray[np.float64]
    missed: list[int]
    extra: list[int]


def match_instances(
    reference_masks: Masks,
    reference_scores: Floats,
    candidate_masks: Masks,
    candidate_scores: Floats,
    *,
    reference_boxes: Floats | None = None,
    candidate_boxes: Floats | None = None,
    match_iou: float = 0.5,
) -> InstanceMatch:
    """Pair reference and candidate instances one-to-one by mask IoU (see the module).

    Args:
        reference_masks, candidate_masks: (N, H, W) and (M, H, W) bool.
        reference_scores, candidate_scores: (N,) and (M,).
        reference_boxes, candidate_boxes: (N, 4) and (M, 4) xyxy in pixels, optional.
        match_iou: a pair counts from this mask IoU.

    Example:
        >>> masks = np.zeros((2, 4, 4), dtype=bool); masks[0, :2] = True; masks[1, 2:] = True
        >>> found = match_instances(masks, np.array([0.9, 0.8]), masks[::-1], np.array([0.7, 0.9]))
        >>> found.candidate_index.tolist(), found.ious.tolist(), found.missed, found.extra
        ([1, 0], [1.0, 1.0], [], [])
    """
    from scipy.optimize import linear_sum_assignment

    ious = mask_ious(reference_masks, candidate_masks)
    score_gaps = np.abs(
        np.asarray(reference_scores, np.float64)[:, None]
        - np.asarray(candidate_scores, np.float64)[None, :]
    )
    gain = np.where(ious >= match_iou, ious - _SCORE_TIE_BREAK * score_gaps, 0.0)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    kept = ious[rows, cols] >= match_iou
    rows, cols = rows[kept], cols[kept]
    score_diffs = (
        np.asarray(candidate_scores, np.float64)[cols]
        - np.asarray(reference_scores, np.float64)[rows]
    )
    if reference_boxes is not None and candidate_boxes is not None:
        box_gaps = (
            np.asarray(candidate_boxes, np.float64)[cols]
            - np.asarray(reference_boxes, np.float64)[rows]
        )
        box_diffs = np.abs(box_gaps).mean(axis=1)
    else:
        box_diffs = np.zeros(0)
    return InstanceMatch(
        reference_index=rows,
        candidate_index=cols,
        ious=ious[rows, cols],
        score_diffs=score_diffs,
        box_diffs_px=box_diffs,
        missed=sorted(set(range(len(reference_masks))) - set(rows.tolist())),
        extra=sorted(set(range(len(candidate_masks))) - set(cols.tolist())),
    )


@dataclass
class AgreementTally:
    """The numbers of many queries' matches, added up (no masks kept).

    Example:
        >>> masks = np.ones((1, 2, 2), dtype=bool)
        >>> tally = AgreementTally()
        >>> tally.add("cat", match_instances(masks, np.array([0.5]), masks, np.array([0.5])))
        >>> tally.summary()["matched"], tally.summary()["mask_iou"]["min"]
        (1, 1.0)
    """

    ious: list[float] = field(default_factory=list)
    score_diffs: list[float] = field(default_factory=list)
    box_diffs_px: list[float] = field(default_factory=list)
    missed: int = 0
    extra: int = 0
    queries: int = 0
    count_differs: int = 0
    per_prompt: dict[str, dict[str, Any]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )

    def add(self, prompt: str, match: InstanceMatch) -> None:
        """One query's match, for ``prompt``."""
        self.ious += match.ious.tolist()
        self.score_diffs += match.score_diffs.tolist()
        self.box_diffs_px += match.box_diffs_px.tolist()
        self.missed += len(match.missed)
        self.extra += len(match.extra)
        self.queries += 1
        self.count_differs += len(match.missed) != len(match.extra)
        mine = self.per_prompt[prompt]
        mine["queries"] += 1
        mine["matched"] += len(match.ious)
        mine["missed"] += len(match.missed)
        mine["extra"] += len(match.extra)
        mine["iou_sum"] += float(match.ious.sum())

    def summary(self) -> dict[str, Any]:
        """The agreement numbers (NaN where there is nothing to average): instances on each
        side, ``matched``, ``missed``, ``extra``; ``mask_iou`` mean/median/min and
        ``score_abs_diff`` / ``box_abs_diff_px`` mean/max over matched pairs;
        ``count_differs`` queries (and their ``count_differs_fraction``) where the two
        variants found a different number of instances; and the same counts per prompt."""
        matched = len(self.ious)
        scores = np.abs(self.score_diffs)
        boxes = np.asarray(self.box_diffs_px)
        return {
            "queries": self.queries,
            "reference_instances": matched + self.missed,
            "candidate_instances": matched + self.extra,
            "matched": matched,
            "missed": self.missed,
            "extra": self.extra,
            "mask_iou": {
                "mean": _mean(self.ious),
                "median": statistics.median(self.ious) if self.ious else float("nan"),
                "min": min(self.ious, default=float("nan")),
            },
            "score_abs_diff": {"mean": _mean(scores), "max": _max(scores)},
            "box_abs_diff_px": {"mean": _mean(boxes), "max": _max(boxes)},
            "count_differs": self.count_differs,
            "count_differs_fraction": (
                self.count_differs / self.queries if self.queries else float("nan")
            ),
            "per_prompt": {
                prompt: {
                    "queries": counts["queries"],
                    "matched": counts["matched"],
                    "missed": counts["missed"],
                    "extra": counts["extra"],
                    "mask_iou_mean": (
                        counts["iou_sum"] / counts["matched"] if counts["matched"] else float("nan")
                    ),
                }
                for prompt, counts in self.per_prompt.items()
            },
        }


def _mean(values: Any) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _max(values: Any) -> float:
    return float(np.max(values)) if len(values) else float("nan")
