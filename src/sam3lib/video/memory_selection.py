"""Meta's memory selection: which earlier tracked frames count as memories at all.

With ``use_memory_selection`` (Meta's video builder turns it on with temporal
disambiguation, for text and click tracking alike), each tracked frame gets a score — over
the objects tracked together, the mean of ``(2σ(s) − 1 if s > 0 else 0) × predicted IoU``
(``Sam3TrackerBase.cal_mem_score``) — and a frame attends only to earlier tracked frames
scoring above 0.01 (``frame_filter``): the latest ``min(T, 16) − 1`` of them, plus the
frame just before (after, in reverse) whatever its score. The spatial memories are then the
last 6 of that list, the object pointers all but its oldest, each placed by its rank in the
list rather than by its distance. transformers does not select (facts §5 #8).

The selection is by frame index and score only; :mod:`~sam3lib.video.memory_bank` builds the
slots from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

__all__ = [
    "SELECTION_THRESHOLD",
    "object_selection_scores",
    "reachable_frames",
    "selectable_frames",
]

SELECTION_THRESHOLD = 0.01  # Meta ``mf_threshold``


def object_selection_scores(object_score_logits: Tensor, iou_scores: Tensor) -> Tensor:
    """Each object's share of a frame's selection score: (B,) float32.

    Args:
        object_score_logits: (B, 1) the tracker's object-score logits on the frame.
        iou_scores: (B, 1) the predicted IoU of the chosen mask (the best of the multimask
            candidates on a tracked frame).

    Example:
        >>> object_selection_scores(torch.tensor([[0.0], [2.0]]), torch.tensor([[0.9], [0.5]]))
        tensor([0.0000, 0.3808])
    """
    logits = object_score_logits.float().flatten()
    normalised = torch.where(logits > 0, logits.sigmoid() * 2 - 1, torch.zeros_like(logits))
    return normalised * iou_scores.float().flatten()


def selectable_frames(
    frame: int,
    scores: Mapping[int, float],
    *,
    num_frames: int | None,
    max_pointers: int = 16,
    reverse: bool = False,
    threshold: float = SELECTION_THRESHOLD,
) -> list[int]:
    """Meta's ``frame_filter``: the earlier tracked frames ``frame`` may attend to, oldest
    first (in reverse, farthest first), the nearest last.

    Walks back from ``frame − 1`` (forward from ``frame + 1`` in reverse) over the frames
    with a score, keeping those > ``threshold``, until ``min(T, max_pointers) − 1`` are kept;
    frame 0 is never visited going back (Meta's ``range(start, 0, -1)``). The frame next to
    ``frame`` is appended if missing. The first frame of a pass gets none.

    Args:
        frame: the frame being tracked.
        scores: tracked frames' selection scores (conditioning frames have none).
        num_frames: the video's length, None for a stream (then ``max_pointers`` bounds it).
        max_pointers: Meta ``max_obj_ptrs_in_encoder``.
        reverse: tracking towards earlier frames.
        threshold: Meta ``mf_threshold``.

    Example:
        >>> selectable_frames(5, {1: 0.5, 2: 0.0, 3: 0.2, 4: 0.0}, num_frames=10)
        [1, 3, 4]
    """
    end = num_frames - 1 if num_frames is not None else None
    if (frame == 0 and not reverse) or (reverse and frame == end):
        return []
    window = max_pointers if num_frames is None else min(num_frames, max_pointers)
    if reverse:
        if num_frames is None:
            raise ValueError("tracking in reverse needs the video's length")
        visit: Iterable[int] = range(frame + 1, num_frames)
    else:
        visit = range(frame - 1, 0, -1)
    kept: list[int] = []
    for index in visit:
        score = scores.get(index)
        if score is None:
            continue
        if score > threshold:
            kept.insert(0, index)
        if len(kept) >= window - 1:
            break
    neighbour = frame + 1 if reverse else frame - 1
    if neighbour not in kept:
        kept.append(neighbour)
    return kept


def reachable_frames(
    frames: Iterable[int],
    scores: Mapping[int, float],
    anchor: int,
    *,
    reach: int,
    threshold: float | None,
    sides: tuple[int, ...] = (-1, 1),
) -> set[int]:
    """The tracked ``frames`` a frame next to ``anchor`` can still read, on the given sides
    (−1: before it, +1: after it): those within ``reach`` frames, and with memory selection
    (``threshold`` not None) also the ``reach − 1`` nearest scoring above it, however far.

    Example:
        >>> sorted(reachable_frames(range(40), {3: 1.0}, 39, reach=4, threshold=0.01, sides=(-1,)))
        [3, 35, 36, 37, 38, 39]
    """
    kept: set[int] = set()
    for side in sides:
        behind = sorted(
            (t for t in frames if (t - anchor) * side >= 0), key=lambda t: abs(t - anchor)
        )
        kept.update(t for t in behind if abs(t - anchor) <= reach)
        if threshold is not None:
            selected = [t for t in behind if scores.get(t, 0.0) > threshold]
            kept.update(selected[: reach - 1])
    return kept
