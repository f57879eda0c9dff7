"""Every bad argument gets an InputError naming it, never an error from deep inside torch."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from PIL import Image

from sam3lib import InputError, Segmenter
from sam3lib.tokenizer import PromptTruncatedWarning

SMALL = np.zeros((40, 60, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("image", "argument"),
    [
        ({"not": "an image"}, "image"),
        (12, "image"),
        (np.zeros((4, 5, 6, 3), dtype=np.uint8), "image"),
        (np.zeros((3, 40, 60), dtype=np.uint8), "image"),  # CHW numpy
        (np.zeros((40, 60, 3), dtype=np.int32), "image"),
        (np.zeros((0, 60, 3), dtype=np.uint8), "image"),
        (np.zeros((40, 0), dtype=np.uint8), "image"),
        (np.full((40, 60, 3), np.nan, dtype=np.float32), "image"),
        (np.full((40, 60, 3), np.inf, dtype=np.float32), "image"),
        (np.full((40, 60, 3), 2.0, dtype=np.float32), "image"),
        (np.zeros((40, 60), dtype=bool), "image"),
        (torch.zeros(40, 60, 3), "image"),  # HWC tensor
        ("/no/such/file.jpg", "image"),
    ],
)
def test_bad_images(segmenter: Segmenter, image: Any, argument: str) -> None:
    with pytest.raises(InputError, match=argument):
        segmenter.segment(image, "cat")


def test_a_file_that_is_not_an_image(segmenter: Segmenter, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(InputError, match="image"):
        segmenter.segment(text, "cat")


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (None, "prompt"),
        ("", r"prompt\[0\]"),
        ("   ", r"prompt\[0\]"),
        ([], "prompt"),
        (["cat", ""], r"prompt\[1\]"),
        (["cat", 3], r"prompt\[1\]"),
        (42, "prompt"),
        (b"cat", "prompt"),
    ],
)
def test_bad_prompts(segmenter: Segmenter, prompt: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        segmenter.segment(SMALL, prompt)


@pytest.mark.parametrize(
    ("boxes", "labels", "message"),
    [
        ([[30, 10, 20, 30]], None, r"boxes\[0\].*x0 < x1"),  # inverted x
        ([[10, 30, 20, 10]], None, r"boxes\[0\].*y0 < y1"),  # inverted y
        ([[10, 10, 10, 30]], None, r"boxes\[0\]"),  # zero width
        ([[0, 0, 5, 5], [70, 10, 90, 30]], None, r"boxes\[1\].*outside"),
        ([[-20, -20, -1, -1]], None, r"boxes\[0\].*outside"),
        ([[0, 0, 10]], None, "boxes"),
        ([[0, 0, 10, float("nan")]], None, "boxes"),
        ("0,0,10,10", None, "boxes"),
        ([[0, 0, 10, 10]], [1, 0], "box_labels"),
        ([[0, 0, 10, 10]], [2], r"box_labels\[0\]"),
        ([[0, 0, 10, 10]], [-1], r"box_labels\[0\]"),
        ([[0, 0, 10, 10]], ["yes"], r"box_labels\[0\]"),
    ],
)
def test_bad_boxes(segmenter: Segmenter, boxes: Any, labels: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        segmenter.segment(SMALL, "cat", boxes=boxes, box_labels=labels)


def test_labels_without_boxes(segmenter: Segmenter) -> None:
    with pytest.raises(InputError, match="box_labels"):
        segmenter.segment(SMALL, "cat", box_labels=[1])


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"threshold": -0.1}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": "high"}, "threshold"),
        ({"mask_threshold": 2}, "mask_threshold"),
        ({"mask_threshold": float("nan")}, "mask_threshold"),
        ({"nms_iou": 1.1}, "nms_iou"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"mask_order": "sam2"}, "mask_order"),
        ({"refine": "smooth"}, "refine"),
        ({"refine": 99}, "level"),
    ],
)
def test_bad_options(segmenter: Segmenter, options: dict[str, Any], argument: str) -> None:
    with pytest.raises(InputError, match=argument):
        segmenter.segment(SMALL, "cat", **options)


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"backend": "tpu-magic"}, "backend"),
        ({"precision": "fp8"}, "precision"),
        ({"device": "cuda"}, "device"),
        ({"device": "nonsense"}, "device"),
    ],
)
def test_bad_construction(
    tiny_checkpoint_dir: Path, options: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InputError, match=argument):
        Segmenter.from_pretrained(tiny_checkpoint_dir, **options)


def test_an_embedding_from_another_segmenter(
    segmenter: Segmenter, tiny_checkpoint_dir: Path
) -> None:
    other = Segmenter.from_pretrained(tiny_checkpoint_dir)
    with pytest.raises(InputError, match="another Segmenter"):
        segmenter.segment(other.encode_image(SMALL), "cat")


def test_an_overlong_prompt_is_truncated_with_a_warning(segmenter: Segmenter) -> None:
    long_prompt = " ".join(["red"] * 40)
    with pytest.warns(PromptTruncatedWarning):
        result = segmenter.segment(SMALL, long_prompt)
    assert result.prompt == long_prompt


def _image_modes() -> dict[str, Image.Image]:
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8))
    sixteen = Image.fromarray((np.arange(40 * 60).reshape(40, 60) * 20).astype(np.uint16))
    return {
        "L": rgb.convert("L"),
        "RGBA": rgb.convert("RGBA"),
        "P": rgb.convert("P"),
        "I;16": sixteen,
        "CMYK": rgb.convert("CMYK"),
        "1": rgb.convert("1"),
    }


@pytest.mark.parametrize("mode", list(_image_modes()))
def test_every_pil_mode_gives_masks_of_the_displayed_size(segmenter: Segmenter, mode: str) -> None:
    image = _image_modes()[mode]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = segmenter.segment(image, "cat", threshold=0.0, top_k=2)
    assert result.masks.shape == (2, 40, 60)


def test_exif_rotated_photo_masks_align_with_the_displayed_image(
    segmenter: Segmenter, photo: npt.NDArray[np.uint8], tmp_path: Path
) -> None:
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(photo)))  # as a camera stores it
    stored.getexif()[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rotated.png"
    stored.save(path, exif=stored.getexif())

    from_file = segmenter.segment(path, "cat", threshold=0.0, top_k=3)
    upright = segmenter.segment(photo, "cat", threshold=0.0, top_k=3)
    assert from_file.image_size == photo.shape[:2]
    np.testing.assert_array_equal(from_file.masks, upright.masks)
