"""One Segmenter shared by 8 threads answers exactly as serial calls do."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sam3lib import SegmentationResult, Segmenter

PROMPT_SETS = [["cat"], ["dog", "cat"], ["red car"], ["bus", "tree", "sky"]]


def _calls(photo: npt.NDArray[np.uint8]) -> list[tuple[npt.NDArray[np.uint8], list[str]]]:
    images = [photo, photo[::-1].copy(), photo[:, ::-1].copy()]
    return [(images[i % 3], PROMPT_SETS[i % 4]) for i in range(24)]


def _run(
    segmenter: Segmenter, call: tuple[npt.NDArray[np.uint8], list[str]]
) -> list[SegmentationResult]:
    image, prompts = call
    return segmenter.segment(image, prompts, threshold=0.1)


def test_eight_threads_equal_serial_calls(
    tiny_checkpoint_dir: Path, photo: npt.NDArray[np.uint8]
) -> None:
    calls = _calls(photo)
    # 24 calls repeat 12 distinct ones (3 images x 4 prompt sets): each is computed serially
    # once, and the threads ask each twice, concurrently with its twin and the others.
    distinct = calls[:12]
    serial = [_run(Segmenter.from_pretrained(tiny_checkpoint_dir), call) for call in distinct]

    shared = Segmenter.from_pretrained(tiny_checkpoint_dir)  # a fresh, empty text cache
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda call: _run(shared, call), calls))

    for expected, actual in zip(serial * 2, threaded, strict=True):
        for want, got in zip(expected, actual, strict=True):
            assert got.prompt == want.prompt
            np.testing.assert_array_equal(got.masks, want.masks)
            np.testing.assert_array_equal(got.boxes, want.boxes)
            np.testing.assert_array_equal(got.scores, want.scores)
