"""``Segmenter.segment(..., tiles=...)`` with the tiny SAM 3 (random weights): the plumbing
between the model and the merge, checked against untiled ``segment`` calls on the same
pixels, and the typed errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from sam3lib import Segmenter
from sam3lib.errors import InputError
from sam3lib.tiling import TiledSegmentationResult, TileOptions, TilingAdvice, tile_grid

TINY_INPUT = 168  # Sam3Config.tiny()'s image size


@pytest.fixture(scope="module")
def picture() -> npt.NDArray[np.uint8]:
    """300 x 420: the tiny model's input is 168, so this is 2.5x it, side for side."""
    rng = np.random.default_rng(11)
    rows, cols = np.mgrid[:300, :420]
    image = np.stack([(rows * 3) % 256, (cols * 5) % 256, (rows + cols) % 256], axis=-1)
    return np.clip(image + rng.integers(0, 60, image.shape), 0, 255).astype(np.uint8)


def test_one_tile_is_exactly_the_untiled_answer(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    with pytest.warns(TilingAdvice):  # 2.5x the input: advised to tile
        untiled = interactive_segmenter.segment(picture, "cat", threshold=0.0)
    tiled = interactive_segmenter.segment(
        picture, "cat", threshold=0.0, tiles=TileOptions(size=420, overlap=0)
    )
    assert isinstance(tiled, TiledSegmentationResult) and tiled.tiles == 1
    kept = untiled.areas > 0  # an empty mask is no object: tiling drops it
    assert len(tiled) == int(kept.sum()) > 0
    np.testing.assert_array_equal(tiled.dense_masks(), untiled.masks[kept])
    np.testing.assert_array_equal(tiled.scores, untiled.scores[kept])
    np.testing.assert_allclose(tiled.boxes, untiled.boxes[kept], atol=1e-4)
    assert tiled.to_coco_rle() == [
        rle for rle, k in zip(untiled.to_coco_rle(), kept, strict=True) if k
    ]


def test_exemplar_boxes_go_to_the_tiles_that_hold_them(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    options = TileOptions(size=200, overlap=40)
    tiles = tile_grid(picture.shape[:2], options)
    box = [330.0, 20.0, 380.0, 90.0]  # only the top row's last tile (columns 220-420) holds it
    holders = [t for t in tiles if t.rect.contains_box(*box)]
    assert len(holders) == 1
    (holder,) = holders
    tiled = interactive_segmenter.segment(picture, boxes=[box], threshold=0.0, tiles=options)
    # Boxes only: the other tiles have nothing to look for and are not segmented; the answer
    # is the untiled answer for that tile's pixels, placed where the tile lies.
    rows, columns = holder.rect.slices()
    left, top = holder.rect.left, holder.rect.top
    shifted = [box[0] - left, box[1] - top, box[2] - left, box[3] - top]
    alone = interactive_segmenter.segment(
        np.ascontiguousarray(picture[rows, columns]), boxes=[shifted], threshold=0.0
    )
    kept = alone.areas > 0
    expected = np.zeros((int(kept.sum()), *picture.shape[:2]), dtype=bool)
    expected[:, rows, columns] = alone.masks[kept]
    assert len(tiled) > 0
    np.testing.assert_array_equal(tiled.dense_masks(), expected)
    np.testing.assert_array_equal(tiled.scores, alone.scores[kept])
    assert tiled.prompt is None and tiled.label == "exemplar"


def test_a_list_of_prompts_gives_one_tiled_result_each(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    results = interactive_segmenter.segment(
        picture, ["cat", "dog"], threshold=0.0, tiles=TileOptions(size=200, overlap=40)
    )
    assert [(r.prompt, r.query, r.tiles) for r in results] == [("cat", "cat", 6), ("dog", "dog", 6)]
    assert {"encode_image", "decode", "merge"} <= set(results[0].timings)


def test_top_k_keeps_the_best_after_merging(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    # Random weights: masks are large and alike; a strict match keeps them apart to rank.
    options = TileOptions(size=200, overlap=40, match_iou=0.9)
    every = interactive_segmenter.segment(picture, "cat", threshold=0.0, tiles=options)
    best = interactive_segmenter.segment(picture, "cat", threshold=0.0, top_k=2, tiles=options)
    assert len(every) > 2
    np.testing.assert_array_equal(best.scores, every.scores[:2])
    assert best.to_coco_rle() == every.to_coco_rle()[:2]


def test_an_exif_rotated_photo_is_tiled_upright(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8], tmp_path: Path
) -> None:
    stored = np.ascontiguousarray(np.rot90(picture, k=1))  # what a phone would store
    photo = Image.fromarray(stored)
    photo.getexif()[0x0112] = 6  # EXIF: turn 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    photo.save(path, exif=photo.getexif(), quality=100)
    options = TileOptions(size=200, overlap=40)
    from_array = interactive_segmenter.segment(picture, "cat", threshold=0.3, tiles=options)
    from_pil = interactive_segmenter.segment(photo, "cat", threshold=0.3, tiles=options)
    assert from_pil.image_size == from_array.image_size == (300, 420)
    assert from_pil.to_coco_rle() == from_array.to_coco_rle()
    from_file = interactive_segmenter.segment(path, "cat", threshold=0.3, tiles=options)
    assert from_file.image_size == (300, 420)  # JPEG is lossy: the size, not the pixels


def test_progress_bar_counts_tiles(
    interactive_segmenter: Segmenter,
    picture: npt.NDArray[np.uint8],
    capsys: pytest.CaptureFixture[str],
) -> None:
    interactive_segmenter.segment(
        picture, "cat", tiles=TileOptions(size=200, overlap=40, progress=True)
    )
    assert "6/6" in capsys.readouterr().err


def test_a_large_untiled_image_gets_advice_and_a_small_one_none(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    with pytest.warns(TilingAdvice, match=r"420x300 px.*tiles='auto'"):
        interactive_segmenter.segment(picture, "cat")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TilingAdvice)
        interactive_segmenter.segment(picture[:300, :300], "cat")  # under 2 x 168 px
        interactive_segmenter.segment(picture, "cat", tiles="auto")
    auto = interactive_segmenter.segment(picture, "cat", tiles="auto")
    assert auto.tiles == 6  # 168 px tiles overlapping by 21: 2 rows x 3 columns


def test_an_exemplar_box_in_no_tile_is_refused_before_any_work(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    with pytest.raises(InputError, match=r"boxes\[1\].*fits inside no tile.*tiles\.size"):
        interactive_segmenter.segment(
            picture,
            "cat",
            boxes=[[10, 10, 50, 50], [150, 10, 260, 60]],  # 110 px wide: no 100 px tile holds it
            tiles=TileOptions(size=100, overlap=10),
        )


def test_tiles_need_the_pixels_not_an_embedding(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8]
) -> None:
    embedding = interactive_segmenter.encode_image(picture)
    with pytest.raises(InputError, match=r"tiles: .*not an ImageEmbedding"):
        interactive_segmenter.segment(embedding, "cat", tiles=TileOptions())  # type: ignore[call-overload]


@pytest.mark.parametrize("tiles", ["yes", 512, True])
def test_tiles_of_the_wrong_kind_are_refused(
    interactive_segmenter: Segmenter, picture: npt.NDArray[np.uint8], tiles: object
) -> None:
    with pytest.raises(InputError, match="tiles: expected a TileOptions, 'auto' or None"):
        interactive_segmenter.segment(picture, "cat", tiles=tiles)  # type: ignore[call-overload]
