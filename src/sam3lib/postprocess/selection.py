"""Detection scores and which queries to keep.

SAM 3 scores a query as σ(query logit) · σ(presence logit): the presence head says whether the
concept is in the image at all, the query logit whether this query matches it. Both reference
implementations keep the queries whose score is strictly greater than a threshold (Meta 0.5,
transformers 0.3 by default); neither applies a top-k.
"""

from __future__ import annotations

import torch

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import (
    check_float_tensor,
    check_int,
    check_unit_interval,
    describe,
)

__all__ = ["detection_scores", "select_detections"]


def detection_scores(query_logits: torch.Tensor, presence_logit: torch.Tensor) -> torch.Tensor:
    """Combines per-query and presence logits into detection scores σ(q) · σ(p).

    Computed in float32 whatever the input precision, so that thresholds compare the same
    numbers on every backend.

    Args:
        query_logits: (..., Q) float, one logit per query.
        presence_logit: (...) float, one logit per image-prompt pair: the shape of
            ``query_logits`` without its last dimension.

    Returns:
        (..., Q) float32 scores in [0, 1], on the device of ``query_logits``.

    Raises:
        InputError: an argument is not a float tensor, or the shapes do not match.

    Example:
        >>> scores = detection_scores(torch.tensor([0.0, 2.0]), torch.tensor(0.0))
        >>> [round(value, 4) for value in scores.tolist()]
        [0.25, 0.4404]
    """
    if (
        not isinstance(query_logits, torch.Tensor)
        or not query_logits.is_floating_point()
        or query_logits.ndim < 1
    ):
        raise InputError(
            f"query_logits: expected a (..., Q) float tensor, got {describe(query_logits)}"
        )
    expected = tuple(query_logits.shape[:-1])
    if (
        not isinstance(presence_logit, torch.Tensor)
        or not presence_logit.is_floating_point()
        or tuple(presence_logit.shape) != expected
    ):
        raise InputError(
            f"presence_logit: expected a float tensor of shape {expected} (query_logits' shape "
            f"without the query dimension), got {describe(presence_logit)}"
        )
    query_probability = query_logits.to(torch.float32).sigmoid()
    presence_probability = presence_logit.to(torch.float32).sigmoid()
    return query_probability * presence_probability.unsqueeze(-1)


def select_detections(
    scores: torch.Tensor, threshold: float, top_k: int | None = None
) -> torch.Tensor:
    """Indices of the queries to keep: score > ``threshold``, best first, at most ``top_k``.

    Args:
        scores: (Q,) float detection scores.
        threshold: keep scores strictly greater than this, in [0, 1].
        top_k: keep at most this many (the best ones); None keeps all that pass.

    Returns:
        (K,) int64 query indices on the device of ``scores``, by descending score; equal
        scores keep query order. NaN scores are never kept.

    Raises:
        InputError: ``scores`` is not a (Q,) float tensor, ``threshold`` is outside [0, 1]
            or ``top_k`` is not None or a positive int.

    Example:
        >>> select_detections(torch.tensor([0.2, 0.9, 0.6, 0.9]), threshold=0.5).tolist()
        [1, 3, 2]
        >>> select_detections(torch.tensor([0.2, 0.9, 0.6, 0.9]), 0.5, top_k=1).tolist()
        [1]
    """
    check_float_tensor(scores, "scores", 1, "(Q,)")
    limit = check_unit_interval(threshold, "threshold")
    if top_k is not None:
        check_int(top_k, "top_k", 1)
    passing = torch.nonzero(scores > limit).squeeze(1)
    order = torch.argsort(scores[passing], descending=True, stable=True)
    return passing[order][:top_k]
