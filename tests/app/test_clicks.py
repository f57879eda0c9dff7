"""The demo's click mode without a browser: the clicks kept, what is shown equal to
``Segmenter.predict``, the picture encoded once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from sam3lib import InputError, InteractiveUnavailableError, Segmenter
from sam3lib.app.clicks import (
    BACKGROUND,
    BOX,
    OBJECT,
    ClickPrompt,
    click_for_display,
    draw_clicks,
    encode_picture,
)
from sam3lib.formats import decode_rle


def test_clicks_add_points_and_two_corners_make_a_box() -> None:
    prompt = ClickPrompt().with_click(10, 20, OBJECT).with_click(30, 5, BACKGROUND)
    assert prompt.points == ((10, 20), (30, 5)) and prompt.labels == (1, 0)
    half = prompt.with_click(50, 60, BOX)
    assert half.corner == (50, 60) and half.box is None and half.ready
    boxed = half.with_click(5, 90, BOX)
    assert boxed.box == (5.0, 60.0, 50.0, 90.0) and boxed.corner is None
    assert ClickPrompt().with_click(1, 1, BOX).ready is False
    assert boxed.without_last().points == ((10, 20),)
    assert half.without_last() == prompt
    assert ClickPrompt(box=(1, 2, 3, 4)).without_last() == ClickPrompt()


def test_each_click_shows_what_predict_answers_refining_the_last_mask(
    interactive_segmenter: Segmenter, street: npt.NDArray[np.uint8], tmp_path: Path
) -> None:
    embedding = encode_picture(interactive_segmenter, street)
    assert "encode_interactive" in embedding.timings  # the head's features, computed at upload

    first = click_for_display(
        interactive_segmenter,
        embedding,
        street,
        ClickPrompt().with_click(85, 190, OBJECT),
        directory=tmp_path / "1",
    )
    want = interactive_segmenter.predict(embedding, points=[[85, 190]]).best_only()
    assert first.result is not None
    np.testing.assert_array_equal(first.result.masks, want.masks)
    assert first.result.scores.tolist() == pytest.approx(want.scores.tolist())
    assert first.prompt.logits is not None
    np.testing.assert_array_equal(first.prompt.logits, want.logits[0])
    np.testing.assert_array_equal(
        np.asarray(first.picture), np.asarray(draw_clicks(street, want, first.prompt))
    )
    assert "best of 3 candidates" in first.details and "decode clicks" in first.timings

    second = click_for_display(
        interactive_segmenter,
        embedding,
        street,
        first.prompt.with_click(400, 40, BACKGROUND),
        directory=tmp_path / "2",
    )
    want = interactive_segmenter.predict(
        embedding,
        points=[[85, 190], [400, 40]],
        point_labels=[1, 0],
        mask_input=want.logits[0],
        multimask=False,
    )
    assert second.result is not None
    np.testing.assert_array_equal(second.result.masks, want.masks)
    assert "1 on the background" in second.details
    png, rle = second.downloads
    with Image.open(png) as picture:
        np.testing.assert_array_equal(np.asarray(picture), want.masks[0].astype(np.uint8))
    [result] = json.loads(rle.read_text())["results"]
    np.testing.assert_array_equal(decode_rle(result["instances"][0]["segmentation"]), want.masks[0])


def test_a_box_with_one_corner_only_draws_the_corner(
    interactive_segmenter: Segmenter, street: npt.NDArray[np.uint8], tmp_path: Path
) -> None:
    embedding = encode_picture(interactive_segmenter, street)
    shown = click_for_display(
        interactive_segmenter,
        embedding,
        street,
        ClickPrompt().with_click(20, 30, BOX),
        directory=tmp_path,
    )
    assert shown.result is None and shown.downloads == []
    assert np.any(np.asarray(shown.picture) != street)  # the corner's cross


def test_clicks_outside_and_checkpoints_without_the_head_are_refused(
    interactive_segmenter: Segmenter,
    segmenter: Segmenter,
    street: npt.NDArray[np.uint8],
    tmp_path: Path,
) -> None:
    embedding = encode_picture(interactive_segmenter, street)
    outside = ClickPrompt().with_click(900, 10, OBJECT)
    with pytest.raises(InputError, match="outside the 480x320 image"):
        click_for_display(interactive_segmenter, embedding, street, outside, directory=tmp_path)
    with pytest.raises(InteractiveUnavailableError):
        encode_picture(segmenter, street)
