"""``Segmenter.predict(..., tiles=...)``: the interactive head on a window around the prompt,
checked against ``predict`` on that window's pixels (the tiny model, random weights)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from sam3lib import Segmenter
from sam3lib.errors import InputError
from sam3lib.interactive import InteractiveResult
from sam3lib.tiling import Rect, TileOptions, WindowedInteractiveResult

OPTIONS = TileOptions(size=200)


@pytest.fixture(scope="module")
def picture() -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(5)
    rows, cols = np.mgrid[:300, :500]
    image = np.stack([(rows * 2) % 256, (cols * 3) % 256, (rows * cols) % 256], axis=-1)
    return np.clip(image + rng.integers(0, 50, image.shape), 0, 255).astype(np.uint8)


def placed(result: InteractiveResult, window: Rect, size: tuple[int, int]) -> np.ndarray:
    masks = np.zeros((len(result), *size), dtype=bool)
    masks[:, window.top : window.bottom, window.left : window.right] = result.masks
    return masks


def test_a_click_is_answered_on_the_window_around_it(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    answer = interactive_segmenter.predict(picture, points=[[450, 60]], tiles=OPTIONS)
    assert isinstance(answer, WindowedInteractiveResult)
    # Centred on the click, pushed back inside the image: columns 300-500, rows 0-200.
    assert answer.window == Rect(0, 300, 200, 500)
    crop = np.ascontiguousarray(picture[0:200, 300:500])
    alone = interactive_segmenter.predict(crop, points=[[150, 60]])
    np.testing.assert_array_equal(answer.dense_masks(), placed(alone, answer.window, (300, 500)))
    np.testing.assert_array_equal(answer.scores, alone.scores)
    np.testing.assert_array_equal(answer.logits, alone.logits)
    np.testing.assert_allclose(answer.boxes, alone.boxes + np.array([300, 0, 300, 0]))
    assert answer.best == alone.best and len(answer) == 3


def test_refining_keeps_the_window_of_the_first_click(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    first = interactive_segmenter.predict(picture, points=[[250, 150]], tiles=OPTIONS)
    again = interactive_segmenter.predict(
        picture,
        points=[[250, 150], [320, 210]],
        point_labels=[1, 0],
        mask_input=first.logits[first.best],
        multimask=False,
        tiles=OPTIONS,
    )
    assert again.window == first.window == Rect(50, 150, 250, 350)
    crop = np.ascontiguousarray(picture[50:250, 150:350])
    alone = interactive_segmenter.predict(
        crop,
        points=[[100, 100], [170, 160]],
        point_labels=[1, 0],
        mask_input=first.logits[first.best],
        multimask=False,
    )
    np.testing.assert_array_equal(again.dense_masks(), placed(alone, again.window, (300, 500)))


def test_boxes_are_answered_together_in_one_window(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    boxes = [[20, 200, 80, 280], [120, 150, 190, 290]]
    answer = interactive_segmenter.predict(picture, boxes=boxes, tiles=OPTIONS)
    assert answer.window == Rect(100, 5, 300, 205)  # centred on both boxes, inside the image
    crop = np.ascontiguousarray(picture[100:300, 5:205])
    alone = interactive_segmenter.predict(crop, boxes=[[15, 100, 75, 180], [115, 50, 185, 190]])
    np.testing.assert_array_equal(answer.dense_masks(), placed(alone, answer.window, (300, 500)))


def test_a_click_outside_the_window_names_it(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    with pytest.raises(
        InputError, match=r"points\[1\]: \(450\.0, 250\.0\) lies outside the 200x200"
    ):
        interactive_segmenter.predict(picture, points=[[100, 100], [450, 250]], tiles=OPTIONS)
    with pytest.raises(InputError, match=r"box: .* does not fit inside .*tiles\.size"):
        interactive_segmenter.predict(picture, box=[10, 10, 290, 100], tiles=OPTIONS)
    with pytest.raises(InputError, match=r"points: .*outside"):  # outside the image itself
        interactive_segmenter.predict(picture, points=[[600, 10]], tiles=OPTIONS)
    embedding = interactive_segmenter.encode_image(picture)
    with pytest.raises(InputError, match="tiles: a window of the image is encoded"):
        interactive_segmenter.predict(embedding, points=[[10, 10]], tiles=OPTIONS)  # type: ignore[call-overload]
