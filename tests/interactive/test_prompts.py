"""Interactive prompts: bad input gets an InputError naming the argument; good input is
encoded as Meta's predictor encodes it."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from sam3lib import InputError, Segmenter
from sam3lib.interactive.prompts import check_interactive_prompt

IMAGE = (100, 200)  # H, W
MODEL, MASK = 168, 48


def _check(**prompt: Any) -> Any:
    arguments: dict[str, Any] = {
        "points": None,
        "point_labels": None,
        "box": None,
        "boxes": None,
        "mask_input": None,
    }
    arguments.update(prompt)
    return check_interactive_prompt(**arguments, image_size=IMAGE, model_size=MODEL, mask_size=MASK)


def test_box_corners_then_clicks_then_a_padding_point_in_the_model_frame() -> None:
    prompts = _check(box=[20, 10, 100, 90], points=[[50, 40], [150, 60]], point_labels=[1, 0])
    assert prompts.point_labels.tolist() == [[2, 3, 1, 0, -1]]
    sx, sy = MODEL / 200, MODEL / 100
    expected = [[20 * sx, 10 * sy], [100 * sx, 90 * sy], [50 * sx, 40 * sy], [150 * sx, 60 * sy]]
    torch.testing.assert_close(
        prompts.point_coords[0, :4], torch.tensor(expected, dtype=torch.float32)
    )
    assert prompts.point_coords[0, 4].tolist() == [0.0, 0.0]
    assert not prompts.has_mask_input.any()


def test_labels_default_to_positive_and_boxes_make_one_object_each() -> None:
    assert _check(points=[[1, 2], [3, 4]]).point_labels.tolist() == [[1, 1, -1]]
    prompts = _check(boxes=[[0, 0, 10, 10], [5, 5, 200, 100]])
    assert prompts.num_objects == 2
    assert prompts.point_labels.tolist() == [[2, 3, -1], [2, 3, -1]]


def test_a_mask_alone_has_no_sparse_tokens_as_in_metas_predictor() -> None:
    prompts = _check(mask_input=np.zeros((MASK, MASK)))
    assert prompts.point_coords.shape == (1, 0, 2)
    assert prompts.has_mask_input.tolist() == [True]


@pytest.mark.parametrize(
    ("prompt", "argument"),
    [
        ({"points": [[201, 10]]}, "points"),  # right of the image
        ({"points": [[10, -0.5]]}, "points"),  # above it
        ({"box": [0, 0, 200, 101]}, "box"),
        ({"boxes": [[0, 0, 10, 10], [-1, 0, 5, 5]]}, "boxes"),
    ],
    ids=["point right", "point above", "box below", "second box left"],
)
def test_coordinates_outside_the_image_are_refused_not_clipped(
    prompt: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InputError, match=rf"^{argument}: .*outside.*refused, not clipped"):
        _check(**prompt)


def test_the_image_edges_themselves_are_inside() -> None:
    prompts = _check(points=[[0, 0], [200, 100]], box=[0, 0, 200, 100])
    assert prompts.point_coords[0, :4].tolist() == [
        [0.0, 0.0],
        [MODEL, MODEL],
        [0.0, 0.0],
        [MODEL, MODEL],
    ]


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "label 2": ({"points": [[1, 1]], "point_labels": [2]}, "point_labels"),
    "label -1": ({"points": [[1, 1]], "point_labels": [-1]}, "point_labels"),
    "fewer labels": ({"points": [[1, 1], [2, 2]], "point_labels": [1]}, "point_labels"),
    "labels without points": ({"point_labels": [1]}, "point_labels"),
    "NaN point": ({"points": [[float("nan"), 1]]}, "points"),
    "infinite box": ({"box": [0, 0, float("inf"), 5]}, "box"),
    "flat points": ({"points": [1, 2]}, "points"),
    "no points": ({"points": np.zeros((0, 2))}, "points"),
    "text points": ({"points": "10,20"}, "points"),
    "empty prompt": ({}, "empty prompt"),
    "box and boxes": ({"box": [0, 0, 5, 5], "boxes": [[0, 0, 5, 5]]}, "box and boxes"),
    "points with boxes": ({"points": [[1, 1]], "boxes": [[0, 0, 5, 5]]}, "points with boxes"),
    "box without area": ({"box": [10, 10, 10, 20]}, "box"),
    "two boxes as box": ({"box": [[0, 0, 5, 5], [1, 1, 6, 6]]}, "box"),
    "box of 3 numbers": ({"box": [0, 0, 5]}, "box"),
    "mask at image size": ({"mask_input": np.zeros(IMAGE)}, "mask_input"),
    "mask of 2 objects for 1": ({"mask_input": np.zeros((2, MASK, MASK))}, "mask_input"),
    "NaN mask": ({"mask_input": np.full((MASK, MASK), np.nan)}, "mask_input"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_prompts_name_their_argument(case: str) -> None:
    prompt, argument = BAD[case]
    with pytest.raises(InputError, match=rf"^{argument}"):
        _check(**prompt)


def test_predict_checks_its_own_arguments(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    with pytest.raises(InputError, match=r"^multimask"):
        interactive_segmenter.predict(photo, points=[[1, 1]], multimask="yes")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"^max_hole_area"):
        interactive_segmenter.predict(photo, points=[[1, 1]], max_hole_area=-1)
    with pytest.raises(InputError, match="outside"):
        interactive_segmenter.predict(photo, points=[[photo.shape[1] + 1, 1]])
