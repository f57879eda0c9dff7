"""Tests of sam3lib.visualize, by checking pixels of overlays of hand-made instances.

Expected pixel values are computed here from the documented blend, ``(1 - alpha) * image +
alpha * colour``, on uniform images whose value is known.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from sam3lib.errors import InputError
from sam3lib.result import SegmentationResult
from sam3lib.visualize import draw_overlay, draw_tracked, instance_colors, object_color

HEIGHT, WIDTH = 120, 160
GRAY = 100


def _image(value: int = GRAY) -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 3), value, dtype=np.uint8)


def _result(
    rectangles: list[tuple[int, int, int, int]],
    prompt: str | None = "cat",
    scores: list[float] | None = None,
) -> SegmentationResult:
    """One instance per (top, bottom, left, right) rectangle, its box the rectangle."""
    masks = np.zeros((len(rectangles), HEIGHT, WIDTH), dtype=bool)
    for mask, (top, bottom, left, right) in zip(masks, rectangles, strict=True):
        mask[top:bottom, left:right] = True
    boxes = [[left, top, right, bottom] for top, bottom, left, right in rectangles]
    return SegmentationResult(
        masks=masks,
        boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        scores=np.array(scores or [0.5] * len(rectangles), dtype=np.float32),
        prompt=prompt,
        image_size=(HEIGHT, WIDTH),
    )


A = (40, 80, 20, 60)  # top, bottom, left, right
B = (0, 30, 100, 160)  # touches the top and right borders
C = (90, 115, 70, 140)


def _three_instances() -> list[SegmentationResult]:
    return [_result([A, B]), _result([C], prompt="dog")]


def _pixels(picture: Image.Image) -> np.ndarray:
    assert picture.mode == "RGB"
    return np.asarray(picture).astype(np.int64)


# --- colours ------------------------------------------------------------------------------------


def test_instance_colors_are_deterministic_distinct_and_prefix_stable() -> None:
    colors = instance_colors(64)

    assert colors == instance_colors(64)
    assert colors[:5] == instance_colors(5)
    assert len(set(colors)) == 64
    assert all(0 <= channel <= 255 for color in colors for channel in color)


def test_the_first_colours_are_far_apart() -> None:
    colors = np.array(instance_colors(8))

    distances = [
        np.abs(colors[i] - colors[j]).sum() for i, j in itertools.combinations(range(8), 2)
    ]

    assert min(distances) > 80  # sum of channel differences, out of 765


@pytest.mark.parametrize("count", [-1, 2.0, True, "3"])
def test_instance_colors_rejects_a_bad_count(count: Any) -> None:
    with pytest.raises(InputError, match=r"^count:"):
        instance_colors(count)


# --- fill and edges -----------------------------------------------------------------------------


def test_inside_an_instance_the_image_is_blended_with_its_colour() -> None:
    alpha = 0.45
    colors = np.array(instance_colors(3))

    pixels = _pixels(draw_overlay(_image(), _three_instances(), alpha=alpha, show_labels=False))

    for (top, bottom, left, right), color in zip((A, B, C), colors, strict=True):
        inside = pixels[(top + bottom) // 2, (left + right) // 2]
        expected = np.rint((1 - alpha) * GRAY + alpha * color)
        np.testing.assert_allclose(inside, expected, atol=1)
    np.testing.assert_array_equal(pixels[85, 5], [GRAY] * 3)  # outside every instance


def test_distinct_instances_get_distinct_colours() -> None:
    pixels = _pixels(draw_overlay(_image(), _three_instances(), show_labels=False))

    fills = {
        tuple(pixels[(top + bottom) // 2, (left + right) // 2])
        for top, bottom, left, right in (A, B, C)
    }

    assert len(fills) == 3


def test_boundary_pixels_carry_an_opaque_shade_of_the_instance_colour() -> None:
    color = np.array(instance_colors(1)[0])
    top, _, left, right = A
    middle = (left + right) // 2
    on_gray = _pixels(draw_overlay(_image(GRAY), [_result([A])], edge_width=2, show_labels=False))
    on_white = _pixels(draw_overlay(_image(255), [_result([A])], edge_width=2, show_labels=False))

    edge = on_gray[top, middle]

    # The two outermost rows of the mask are the edge; it ignores the image under it.
    np.testing.assert_array_equal(on_gray[top + 1, middle], edge)
    np.testing.assert_array_equal(on_gray[top, left], edge)
    np.testing.assert_array_equal(on_white[top, middle], edge)
    assert not np.array_equal(on_gray[top + 2, middle], edge)  # the fill starts here
    assert not np.array_equal(edge, color)
    # A shade: every channel scaled towards black, or every channel moved towards white.
    darker = edge / np.maximum(color, 1)
    brighter = (255 - edge) / np.maximum(255 - color, 1)
    assert np.ptp(darker) < 0.05 or np.ptp(brighter) < 0.05


def test_the_image_border_counts_as_outside_the_mask() -> None:
    pixels = _pixels(draw_overlay(_image(), [_result([B])], edge_width=1, show_labels=False))

    edge = pixels[B[1] - 1, 130]  # bottom row of B, an inner boundary
    np.testing.assert_array_equal(pixels[0, 130], edge)  # top row, on the image border
    np.testing.assert_array_equal(pixels[15, WIDTH - 1], edge)  # right column, on the border


def test_edge_width_zero_draws_no_edge() -> None:
    alpha = 0.5
    color = np.array(instance_colors(1)[0])

    pixels = _pixels(
        draw_overlay(_image(), [_result([A])], alpha=alpha, edge_width=0, show_labels=False)
    )

    np.testing.assert_allclose(pixels[A[0], A[2]], np.rint(0.5 * GRAY + 0.5 * color), atol=1)


def test_later_instances_are_painted_over_earlier_ones() -> None:
    alpha = 0.5
    first, second = np.array(instance_colors(2))
    overlapping = _result([(10, 50, 10, 50), (30, 70, 30, 70)])

    pixels = _pixels(
        draw_overlay(_image(), [overlapping], alpha=alpha, edge_width=0, show_labels=False)
    )

    under = (1 - alpha) * GRAY + alpha * first
    np.testing.assert_allclose(pixels[40, 40], (1 - alpha) * under + alpha * second, atol=1)


# --- tags ---------------------------------------------------------------------------------------


def test_a_tag_in_the_instance_colour_sits_on_the_box_top_left() -> None:
    color = np.array(instance_colors(1)[0])
    top, _, left, _ = A

    labelled = _pixels(draw_overlay(_image(), [_result([A])]))
    plain = _pixels(draw_overlay(_image(), [_result([A])], show_labels=False))

    # There is room above the box, so the tag's bottom-left corner touches the box's corner.
    np.testing.assert_array_equal(labelled[top - 1, left], color)
    tag_region = labelled[top - 30 : top, left : left + 60]
    assert (tag_region == color).all(axis=-1).sum() > 100
    assert not (plain == color).all(axis=-1).any()
    assert (tag_region != color).any(axis=-1).sum() > 10, "no text drawn in the tag"


def test_tags_of_instances_sharing_a_box_do_not_hide_each_other() -> None:
    first, second = (np.array(c) for c in instance_colors(2))
    top, _, left, _ = A
    picture = _pixels(draw_overlay(_image(), [_result([A]), _result([A], prompt="dog")]))

    column = picture[: top + 40, left + 1]
    first_rows = np.flatnonzero((column == first).all(axis=-1))
    second_rows = np.flatnonzero((column == second).all(axis=-1))
    assert first_rows.size and second_rows.size
    # The first tag sits above the box; the second is stacked just below it, inside the box.
    assert first_rows.max() < top <= second_rows.min()


def test_tags_stay_inside_the_image() -> None:
    color = np.array(instance_colors(1)[0])
    at_corner = _result([(0, 20, 0, 20)])
    at_right = _result([(50, 60, 150, 160)], prompt="a rather long label")

    corner = _pixels(draw_overlay(_image(), [at_corner]))
    right = _pixels(draw_overlay(_image(), [at_right]))

    np.testing.assert_array_equal(corner[0, 0], color)  # no room above: inside the box
    np.testing.assert_array_equal(right[49, WIDTH - 1], color)  # pushed left to fit
    np.testing.assert_array_equal(right[49, 100], color)


# --- inputs -------------------------------------------------------------------------------------


def test_no_instances_gives_a_copy_of_the_image() -> None:
    image = Image.fromarray(np.arange(HEIGHT * WIDTH * 3, dtype=np.uint8).reshape(HEIGHT, WIDTH, 3))

    for results in ([], [SegmentationResult.empty("cat", (HEIGHT, WIDTH))]):
        picture = draw_overlay(image, results)
        assert picture is not image
        np.testing.assert_array_equal(np.asarray(picture), np.asarray(image))


def test_tensor_and_array_images_draw_the_same() -> None:
    image = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    tensor = torch.from_numpy(image).permute(2, 0, 1)

    from_array = np.asarray(draw_overlay(image, _three_instances()))
    from_tensor = np.asarray(draw_overlay(tensor, _three_instances()))

    np.testing.assert_array_equal(from_array, from_tensor)


def test_a_result_of_another_size_is_rejected() -> None:
    other = SegmentationResult.empty("cat", (HEIGHT, WIDTH + 1))

    with pytest.raises(InputError, match=r"results\[1\]\.image_size"):
        draw_overlay(_image(), [_result([A]), other])


@pytest.mark.parametrize(
    ("style", "argument"),
    [
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": "0.5"}, "alpha"),
        ({"edge_width": -1}, "edge_width"),
        ({"edge_width": 1.5}, "edge_width"),
    ],
)
def test_bad_style_arguments_are_rejected(style: dict[str, Any], argument: str) -> None:
    with pytest.raises(InputError, match=f"^{argument}:"):
        draw_overlay(_image(), [_result([A])], **style)


def test_a_bare_result_instead_of_a_list_is_rejected() -> None:
    with pytest.raises(InputError, match=r"^results:"):
        draw_overlay(_image(), _result([A]))  # type: ignore[arg-type]


# --- tracked objects ----------------------------------------------------------------------------


def _tracked(
    rectangles: dict[int, tuple[int, int, int, int]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masks, object_ids, boxes) of one object per id, each a (top, bottom, left, right)."""
    result = _result(list(rectangles.values()))
    return result.masks, np.array(list(rectangles), dtype=np.int64), result.boxes


def test_an_object_colour_is_a_function_of_its_id_alone() -> None:
    assert [object_color(object_id) for object_id in range(40)] == instance_colors(40)
    assert object_color(np.int64(17)) == object_color(17)


@pytest.mark.parametrize("object_id", [-1, 2.0, True, "3"])
def test_object_color_rejects_a_bad_id(object_id: Any) -> None:
    with pytest.raises(InputError, match=r"^object_id:"):
        object_color(object_id)


def test_a_tracked_object_keeps_its_colour_whichever_objects_are_drawn_with_it() -> None:
    alone = _pixels(draw_tracked(_image(), *_tracked({9: C}), show_labels=False))
    with_others = _pixels(draw_tracked(_image(), *_tracked({2: A, 5: B, 9: C}), show_labels=False))
    top, bottom, left, right = C
    np.testing.assert_array_equal(
        alone[top:bottom, left:right], with_others[top:bottom, left:right]
    )
    expected = np.rint(0.55 * GRAY + 0.45 * np.array(object_color(9)))
    np.testing.assert_allclose(alone[(top + bottom) // 2, (left + right) // 2], expected, atol=1)


def test_a_tracked_object_gets_an_id_tag_in_its_colour() -> None:
    top, _, left, _ = A
    pixels = _pixels(draw_tracked(_image(), *_tracked({4: A})))
    np.testing.assert_array_equal(pixels[top - 1, left], object_color(4))  # the tag sits above


def test_draw_tracked_rejects_arrays_that_do_not_fit() -> None:
    masks, ids, boxes = _tracked({0: A, 1: B})
    with pytest.raises(InputError, match=r"^masks:"):
        draw_tracked(_image(), masks[:, :10], ids, boxes)
    with pytest.raises(InputError, match=r"^object_ids:"):
        draw_tracked(_image(), masks, ids[:1], boxes)
    with pytest.raises(InputError, match=r"^boxes:"):
        draw_tracked(_image(), masks, ids, boxes[:, :2])
    with pytest.raises(InputError, match=r"^object_id:"):
        draw_tracked(_image(), masks, -ids - 1, boxes)
