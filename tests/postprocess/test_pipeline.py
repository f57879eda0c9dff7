"""The composition Segmenter.segment runs, on hand-made raw outputs."""

from __future__ import annotations

import math

import pytest
import torch

from sam3lib.errors import InputError
from sam3lib.model import Sam3Outputs
from sam3lib.postprocess import PostprocessOptions, instances


def _logit(probability: float) -> float:
    return math.log(probability / (1 - probability))


def _outputs() -> Sam3Outputs:
    """Three queries on a 4x4 grid: q0 left half, q1 left half too (a duplicate), q2 right."""
    masks = torch.full((1, 3, 4, 4), -5.0)
    masks[0, 0, :, :2] = 5.0
    masks[0, 1, :, :2] = 5.0
    masks[0, 2, :, 2:] = 5.0
    return Sam3Outputs(
        mask_logits=masks,
        boxes_xyxy=torch.tensor([[[0.0, 0.0, 0.5, 1.0], [0.0, 0.0, 0.5, 1.0], [0.5, 0, 1.2, 1]]]),
        query_logits=torch.tensor([[_logit(0.6), _logit(0.9), _logit(0.3)]]),
        presence_logit=torch.tensor([0.0]),  # σ = 0.5: scores 0.3, 0.45, 0.15
        semantic_logits=torch.zeros(1, 1, 4, 4),
    )


def _options(**overrides: object) -> PostprocessOptions:
    arguments: dict[str, object] = {
        "threshold": 0.1,
        "mask_threshold": 0.5,
        "top_k": None,
        "nms_iou": None,
        "refine": None,
        "mask_order": "meta",
    }
    arguments.update(overrides)
    return PostprocessOptions.check(**arguments)


def test_instances_are_kept_sorted_and_scaled() -> None:
    masks, boxes, scores = instances(_outputs(), 0, (8, 8), _options())
    torch.testing.assert_close(scores, torch.tensor([0.45, 0.3, 0.15]))
    assert masks.shape == (3, 8, 8) and masks[0, :, :4].all() and not masks[0, :, 4:].any()
    # q2's box reaches x = 1.2: clipped to the 8-pixel-wide image.
    torch.testing.assert_close(boxes[2], torch.tensor([4.0, 0.0, 8.0, 8.0]))


def test_threshold_top_k_nms_and_refine() -> None:
    assert len(instances(_outputs(), 0, (8, 8), _options(threshold=0.2))[2]) == 2
    assert len(instances(_outputs(), 0, (8, 8), _options(top_k=1))[2]) == 1
    _, _, scores = instances(_outputs(), 0, (8, 8), _options(nms_iou=0.5))
    torch.testing.assert_close(scores, torch.tensor([0.45, 0.15]))  # the duplicate is gone
    masks, _, _ = instances(_outputs(), 0, (8, 8), _options(refine=lambda m: ~m))
    assert not masks[0, :, :4].any() and masks[0, :, 4:].all()


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"threshold": 1.2}, "threshold"),
        ({"mask_threshold": -1}, "mask_threshold"),
        ({"top_k": 0}, "top_k"),
        ({"nms_iou": 2}, "nms_iou"),
        ({"refine": 6}, "refine"),
        ({"refine": "yes"}, "refine"),
        ({"mask_order": "sam2"}, "mask_order"),
    ],
)
def test_bad_options_name_the_argument(overrides: dict[str, object], argument: str) -> None:
    with pytest.raises(InputError, match=argument):
        _options(**overrides)
