"""Tests of sam3lib.postprocess.selection: detection scores and query selection."""

from __future__ import annotations

import math

import pytest
import torch

from sam3lib.errors import InputError
from sam3lib.postprocess import detection_scores, select_detections


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


# --- detection_scores ----------------------------------------------------------------------------


def test_detection_scores_are_the_product_of_the_two_sigmoids() -> None:
    query_logits = torch.tensor([[0.0, 2.0, -1.0], [3.0, -3.0, 0.5]])
    presence_logit = torch.tensor([0.0, 1.0])

    scores = detection_scores(query_logits, presence_logit)

    expected = torch.tensor(
        [
            [_sigmoid(q) * _sigmoid(p) for q in row]
            for row, p in zip(query_logits.tolist(), presence_logit.tolist(), strict=True)
        ]
    )
    assert scores.dtype == torch.float32
    torch.testing.assert_close(scores, expected, rtol=0, atol=1e-7)
    assert scores[0, 0].item() == 0.25  # σ(0)·σ(0), exact


def test_detection_scores_take_one_presence_logit_for_one_image() -> None:
    scores = detection_scores(torch.tensor([0.0, 4.0]), torch.tensor(-2.0))

    assert scores.shape == (2,)
    assert scores.tolist() == pytest.approx([0.5 * _sigmoid(-2), _sigmoid(4) * _sigmoid(-2)])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_detection_scores_are_computed_in_float32(dtype: torch.dtype) -> None:
    query_logits = torch.tensor([-3.0, 0.25, 7.0], dtype=dtype)
    presence_logit = torch.tensor(1.5, dtype=dtype)

    scores = detection_scores(query_logits, presence_logit)

    expected = query_logits.float().sigmoid() * presence_logit.float().sigmoid()
    assert scores.dtype == torch.float32
    assert torch.equal(scores, expected)


def test_detection_scores_do_not_modify_their_inputs() -> None:
    query_logits, presence_logit = torch.tensor([1.0, -1.0]), torch.tensor(0.5)

    detection_scores(query_logits, presence_logit)

    assert query_logits.tolist() == [1.0, -1.0] and presence_logit.item() == 0.5


@pytest.mark.parametrize(
    ("query_logits", "presence_logit", "argument"),
    [
        (torch.tensor([1, 2]), torch.tensor(0.0), "query_logits"),
        (torch.tensor(1.0), torch.tensor(0.0), "query_logits"),
        ([1.0, 2.0], torch.tensor(0.0), "query_logits"),
        (torch.zeros(2, 3), torch.zeros(2, 1), "presence_logit"),
        (torch.zeros(2, 3), torch.zeros(3), "presence_logit"),
        (torch.zeros(3), torch.tensor(0), "presence_logit"),
        (torch.zeros(3), 0.0, "presence_logit"),
    ],
)
def test_detection_scores_reject_bad_inputs(
    query_logits: object, presence_logit: object, argument: str
) -> None:
    with pytest.raises(InputError, match=rf"^{argument}:"):
        detection_scores(query_logits, presence_logit)  # type: ignore[arg-type]


# --- select_detections ---------------------------------------------------------------------------


def test_select_keeps_only_scores_strictly_above_the_threshold() -> None:
    scores = torch.tensor([0.5, 0.5001, 0.3, 0.4999])

    assert select_detections(scores, 0.5).tolist() == [1]


def test_select_orders_by_descending_score_and_keeps_query_order_on_ties() -> None:
    scores = torch.tensor([0.6, 0.9, 0.6, 0.95, 0.1, 0.6])

    keep = select_detections(scores, 0.5)

    assert keep.tolist() == [3, 1, 0, 2, 5]
    assert keep.dtype == torch.int64


@pytest.mark.parametrize(
    ("top_k", "expected"), [(1, [3]), (2, [3, 1]), (3, [3, 1, 0]), (99, [3, 1, 0, 2])]
)
def test_select_returns_at_most_top_k_of_the_best(top_k: int, expected: list[int]) -> None:
    scores = torch.tensor([0.6, 0.9, 0.6, 0.95, 0.1])

    assert select_detections(scores, 0.5, top_k=top_k).tolist() == expected


@pytest.mark.parametrize("scores", [torch.tensor([0.1, 0.2]), torch.zeros(0)])
def test_select_returns_an_empty_int64_tensor_when_nothing_passes(scores: torch.Tensor) -> None:
    keep = select_detections(scores, 0.5)

    assert keep.shape == (0,) and keep.dtype == torch.int64


def test_select_at_the_ends_of_the_threshold_range() -> None:
    scores = torch.tensor([0.0, 1e-9, 1.0])

    assert select_detections(scores, 0.0).tolist() == [2, 1]
    assert select_detections(scores, 1.0).tolist() == []


def test_select_never_keeps_nan_scores() -> None:
    assert select_detections(torch.tensor([float("nan"), 0.7]), 0.5).tolist() == [1]


def test_select_works_on_the_scores_device(device: torch.device) -> None:
    keep = select_detections(torch.tensor([0.2, 0.8, 0.9], device=device), 0.5)

    assert keep.device == device and keep.tolist() == [2, 1]


@pytest.mark.parametrize("threshold", [-0.1, 1.1, float("nan"), True, "0.5", None])
def test_select_rejects_a_threshold_outside_0_1(threshold: object) -> None:
    with pytest.raises(InputError, match=r"^threshold:"):
        select_detections(torch.tensor([0.5]), threshold)  # type: ignore[arg-type]


@pytest.mark.parametrize("top_k", [0, -1, 1.5, True])
def test_select_rejects_a_top_k_below_one(top_k: object) -> None:
    with pytest.raises(InputError, match=r"^top_k:"):
        select_detections(torch.tensor([0.5]), 0.3, top_k=top_k)  # type: ignore[arg-type]


@pytest.mark.parametrize("scores", [torch.zeros(2, 3), torch.tensor([1, 0]), [0.5]])
def test_select_rejects_scores_that_are_not_a_float_vector(scores: object) -> None:
    with pytest.raises(InputError, match=r"^scores:"):
        select_detections(scores, 0.3)  # type: ignore[arg-type]
