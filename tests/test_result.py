"""Tests of sam3lib.result.

Masks, boxes and scores are made by hand; encodings are checked against pycocotools.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pycocotools.mask as coco_mask
import pytest

from sam3lib.errors import InputError
from sam3lib.result import SegmentationResult
from sam3lib.visualize import draw_overlay

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

HEIGHT, WIDTH = 12, 16


def _masks() -> np.ndarray:
    masks = np.zeros((2, HEIGHT, WIDTH), dtype=bool)
    masks[0, 2:6, 3:9] = True  # 4 x 6 = 24 pixels
    masks[1, 7:11, 10:14] = True  # 16 pixels ...
    masks[1, 8:10, 11:13] = False  # ... minus a 2 x 2 hole = 12
    return masks


def _result(**changes: Any) -> SegmentationResult:
    fields: dict[str, Any] = {
        "masks": _masks(),
        "boxes": np.array([[3, 2, 9, 6], [10, 7, 14, 11]], dtype=np.float32),
        "scores": np.array([0.875, 0.5], dtype=np.float32),  # exact in float32
        "prompt": "cat",
        "image_size": (HEIGHT, WIDTH),
        "timings": {"encode_image": 0.25, "decode": 0.125},
    }
    fields.update(changes)
    return SegmentationResult(**fields)


# --- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"masks": _masks().astype(np.uint8)}, "masks"),
        ({"masks": _masks()[0]}, "masks"),
        ({"masks": _masks().tolist()}, "masks"),
        ({"masks": _masks()[:, :, :-1]}, "masks"),
        ({"boxes": np.zeros((2, 4), dtype=np.float64)}, "boxes"),
        ({"boxes": np.zeros((3, 4), dtype=np.float32)}, "boxes"),
        ({"boxes": np.zeros((2, 5), dtype=np.float32)}, "boxes"),
        ({"scores": np.zeros(2, dtype=np.float64)}, "scores"),
        ({"scores": np.zeros(1, dtype=np.float32)}, "scores"),
        ({"scores": np.zeros((2, 1), dtype=np.float32)}, "scores"),
        ({"prompt": 3}, "prompt"),
        ({"query": b"red car"}, "query"),
        ({"prompt": None, "query": "red car"}, "query"),
        ({"image_size": (HEIGHT, WIDTH, 3)}, "image_size"),
        ({"image_size": (0, WIDTH)}, "image_size"),
        ({"image_size": (float(HEIGHT), float(WIDTH))}, "image_size"),
        ({"image_size": (True, WIDTH)}, "image_size"),
        ({"timings": {"decode": "fast"}}, "timings"),
        ({"timings": {1: 0.5}}, "timings"),
        ({"timings": {"decode": float("nan")}}, "timings"),
        ({"timings": [0.5]}, "timings"),
    ],
)
def test_inconsistent_fields_raise_input_error_naming_the_field(
    changes: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InputError, match=f"^{argument}:"):
        _result(**changes)


def test_image_size_and_timings_are_normalised_and_frozen() -> None:
    timings = {"decode": 1}
    result = _result(image_size=[np.int64(HEIGHT), WIDTH], timings=timings)

    timings["decode"] = 99

    assert result.image_size == (HEIGHT, WIDTH)
    assert type(result.image_size[0]) is int
    assert dict(result.timings) == {"decode": 1.0}
    with pytest.raises(TypeError):
        result.timings["decode"] = 2.0  # type: ignore[index]


def test_label_is_the_prompt_or_exemplar() -> None:
    assert _result().label == "cat"
    assert _result(prompt=None).label == "exemplar"


def test_len_repr_and_areas() -> None:
    result = _result()

    assert len(result) == 2
    assert repr(result) == "SegmentationResult(prompt='cat', instances=2, image_size=(12, 16))"
    assert result.areas.dtype == np.int64
    assert result.areas.tolist() == [24, 12]


def test_empty_result_has_no_instances_at_the_image_size() -> None:
    result = SegmentationResult.empty(None, (HEIGHT, WIDTH), timings={"decode": 0.5})

    assert len(result) == 0
    assert result.masks.shape == (0, HEIGHT, WIDTH)
    assert result.boxes.shape == (0, 4)
    assert result.scores.shape == (0,)
    assert result.label == "exemplar"
    assert result.to_coco_rle() == []
    assert result.to_polygons() == []
    assert result.to_dict() == {
        "prompt": None,
        "query": None,
        "label": "exemplar",
        "image_size": [HEIGHT, WIDTH],
        "timings": {"decode": 0.5},
        "instances": [],
    }


def test_empty_rejects_a_bad_image_size() -> None:
    with pytest.raises(InputError, match=r"^image_size:"):
        SegmentationResult.empty("cat", (HEIGHT, -1))


# --- exports ------------------------------------------------------------------------------------


def test_to_coco_rle_is_pycocotools_encoding_per_instance() -> None:
    result = _result()

    rles = result.to_coco_rle()

    assert len(rles) == 2
    for rle, mask in zip(rles, _masks(), strict=True):
        reference = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert rle == {"size": [HEIGHT, WIDTH], "counts": reference["counts"].decode("ascii")}


def test_to_polygons_rasterise_back_to_each_mask_with_pycocotools() -> None:
    polygons = _result().to_polygons()

    assert polygons[0] == [[3.0, 2.0, 9.0, 2.0, 9.0, 6.0, 3.0, 6.0]]
    for instance_polygons, mask in zip(polygons, _masks(), strict=True):
        rles = coco_mask.frPyObjects(instance_polygons, HEIGHT, WIDTH)
        np.testing.assert_array_equal(coco_mask.decode(coco_mask.merge(rles)).astype(bool), mask)


def test_to_dict_holds_plain_json_values() -> None:
    result = _result()

    exported = result.to_dict()

    assert json.loads(json.dumps(exported)) == exported
    assert exported["prompt"] == "cat"
    assert exported["query"] is None  # not recorded by whoever built it
    assert exported["label"] == "cat"
    assert exported["image_size"] == [HEIGHT, WIDTH]
    assert exported["timings"] == {"encode_image": 0.25, "decode": 0.125}
    first, second = exported["instances"]
    assert first["label"] == "cat"
    assert first["score"] == 0.875 and type(first["score"]) is float
    assert first["box"] == [3.0, 2.0, 9.0, 6.0]
    assert all(type(value) is float for value in first["box"])
    assert first["area"] == 24 and type(first["area"]) is int
    assert second["area"] == 12
    assert second["segmentation"]["size"] == [HEIGHT, WIDTH]
    np.testing.assert_array_equal(
        coco_mask.decode(second["segmentation"]).astype(bool), _masks()[1]
    )


def test_to_dict_with_polygons_or_no_masks() -> None:
    result = _result()

    with_polygons = result.to_dict(mask_format="polygons")
    without = result.to_dict(mask_format="none")

    json.dumps(with_polygons)
    assert with_polygons["instances"][0]["segmentation"] == [
        [3.0, 2.0, 9.0, 2.0, 9.0, 6.0, 3.0, 6.0]
    ]
    assert all("segmentation" not in instance for instance in without["instances"])
    assert without["instances"][1]["score"] == 0.5


def test_to_dict_rejects_an_unknown_mask_format() -> None:
    with pytest.raises(InputError, match=r"^mask_format:"):
        _result().to_dict(mask_format="png")  # type: ignore[arg-type]


def test_overlay_is_draw_overlay_of_this_result() -> None:
    result = _result()
    image = np.full((HEIGHT, WIDTH, 3), 100, dtype=np.uint8)

    picture = result.overlay(image, alpha=0.6, edge_width=1, show_labels=False)

    expected = draw_overlay(image, [result], alpha=0.6, edge_width=1, show_labels=False)
    np.testing.assert_array_equal(np.asarray(picture), np.asarray(expected))


def test_the_query_is_exported_and_the_label_stays_the_users_words() -> None:
    result = _result(prompt="红色的汽车", query="red car")

    exported = result.to_dict()

    assert (exported["prompt"], exported["query"]) == ("红色的汽车", "red car")
    assert result.label == exported["label"] == "红色的汽车"
    assert {instance["label"] for instance in exported["instances"]} == {"红色的汽车"}
    empty = SegmentationResult.empty("狗", (HEIGHT, WIDTH), query="dog")
    assert (empty.prompt, empty.query) == ("狗", "dog")
