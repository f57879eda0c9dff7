"""Tests of sam3lib.formats.rle.

Expected strings come from hand computation (documented inline) or from pycocotools, the
reference implementation; none is produced by the code under test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pycocotools.mask as coco_mask
import pytest

from sam3lib.errors import InputError
from sam3lib.formats.rle import decode_rle, encode_rle

# pycocotools' decode trips numpy 2's __array__ copy deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _coco_encode(mask: np.ndarray) -> dict[str, Any]:
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))


def _checkerboard(height: int, width: int) -> np.ndarray:
    rows, cols = np.indices((height, width))
    return (rows + cols) % 2 == 0


HAND_MASKS = {
    "1x1 set": np.ones((1, 1), dtype=bool),
    "1x1 clear": np.zeros((1, 1), dtype=bool),
    "row": np.array([[0, 1, 1, 0, 1, 0, 0, 0, 1]], dtype=bool),
    "column": np.array([[1], [1], [0], [1], [0], [0], [1]], dtype=bool),
    "all set": np.ones((7, 5), dtype=bool),
    "all clear": np.zeros((7, 5), dtype=bool),
    "checkerboard": _checkerboard(9, 11),
    "inverted checkerboard": ~_checkerboard(4, 3),
    "last pixel only": np.eye(1, 300 * 300, 300 * 300 - 1, dtype=bool).reshape(300, 300),
}


# --- hand-computed strings ---------------------------------------------------------------------


def test_encode_writes_runs_column_major_with_a_leading_zero_run() -> None:
    # Column-major the 2x3 mask reads 1, 1, 1, 1, 1, 1: an empty zero run, then six ones;
    # both fit one character: chr(48 + 0) = "0", chr(48 + 6) = "6".
    assert encode_rle(np.ones((2, 3), dtype=bool)) == {"size": [2, 3], "counts": "06"}


def test_encode_stores_later_runs_as_differences_with_a_sign_bit() -> None:
    # Runs 5, 10, 2, 1 (18 pixels in one column). From the fourth run on the change to the run
    # two back is stored: 1 - 10 = -9. Its 5-bit group is -9 & 31 = 23, with 0x10 set (negative)
    # and nothing left but sign bits, so it is the last group: chr(48 + 23) = "G".
    # "5" = 48 + 5, ":" = 48 + 10, "2" = 48 + 2.
    column = np.array([0] * 5 + [1] * 10 + [0] * 2 + [1], dtype=bool)[:, None]

    rle = encode_rle(column)

    assert rle == {"size": [18, 1], "counts": "5:2G"}
    np.testing.assert_array_equal(decode_rle(rle), column)


def test_encode_splits_large_runs_into_continued_groups() -> None:
    # 40 = 0b01000, 0b00001: first group 8 with the 0x20 "more" flag -> chr(48 + 40) = "X",
    # then 1 -> "1"; the second run, 2, is "2".
    column = np.array([0] * 40 + [1] * 2, dtype=bool)[:, None]

    assert encode_rle(column)["counts"] == "X12"


def test_decode_reads_uncompressed_counts_column_major() -> None:
    # 1 zero, 2 ones, 3 zeros in column-major order over a 2x3 mask.
    mask = decode_rle({"size": [2, 3], "counts": [1, 2, 3]})

    assert mask.dtype == np.bool_
    assert mask.flags.c_contiguous
    np.testing.assert_array_equal(mask, [[0, 1, 0], [1, 0, 0]])


# --- agreement with pycocotools -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(HAND_MASKS))
def test_encode_is_byte_identical_to_pycocotools_on_hand_masks(name: str) -> None:
    mask = HAND_MASKS[name]
    reference = _coco_encode(mask)

    ours = encode_rle(mask)

    assert ours == {"size": reference["size"], "counts": reference["counts"].decode("ascii")}


def test_encode_is_byte_identical_to_pycocotools_on_random_masks() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        height, width = (int(side) for side in rng.integers(1, 60, size=2))
        mask = rng.random((height, width)) < rng.random()

        assert encode_rle(mask)["counts"] == _coco_encode(mask)["counts"].decode("ascii")


def test_encode_matches_pycocotools_on_a_full_size_blob() -> None:
    rows, cols = np.indices((1008, 1008))
    mask = (rows - 500) ** 2 / 300**2 + (cols - 400) ** 2 / 200**2 < 1

    assert encode_rle(mask)["counts"] == _coco_encode(mask)["counts"].decode("ascii")


def test_encode_matches_pycocotools_on_an_empty_mask() -> None:
    mask = np.zeros((0, 4), dtype=bool)

    assert encode_rle(mask) == {"size": [0, 4], "counts": _coco_encode(mask)["counts"].decode()}
    assert decode_rle(encode_rle(mask)).shape == (0, 4)


@pytest.mark.parametrize("name", list(HAND_MASKS))
def test_round_trips_in_both_directions_with_pycocotools(name: str) -> None:
    mask = HAND_MASKS[name]

    np.testing.assert_array_equal(decode_rle(encode_rle(mask)), mask)
    np.testing.assert_array_equal(coco_mask.decode(encode_rle(mask)).astype(bool), mask)
    np.testing.assert_array_equal(decode_rle(_coco_encode(mask)), mask)  # bytes counts


def test_round_trips_random_masks() -> None:
    rng = np.random.default_rng(1)
    for _ in range(100):
        height, width = (int(side) for side in rng.integers(1, 40, size=2))
        mask = rng.random((height, width)) < rng.random()

        np.testing.assert_array_equal(decode_rle(encode_rle(mask)), mask)
        np.testing.assert_array_equal(decode_rle(_coco_encode(mask)), mask)


def test_decode_accepts_the_counts_pycocotools_makes_from_uncompressed_ones() -> None:
    rng = np.random.default_rng(2)
    mask = rng.random((13, 17)) < 0.4
    flat = mask.ravel(order="F")
    boundaries = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    runs = np.diff(np.concatenate(([0], boundaries, [flat.size]))).tolist()
    if flat[0]:
        runs = [0, *runs]
    uncompressed = {"size": [13, 17], "counts": runs}

    np.testing.assert_array_equal(decode_rle(uncompressed), mask)
    np.testing.assert_array_equal(decode_rle({"size": (13, 17), "counts": np.array(runs)}), mask)
    compressed = coco_mask.frPyObjects(uncompressed, 13, 17)
    assert encode_rle(mask)["counts"] == compressed["counts"].decode("ascii")


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ([[2, 3], "06"], "mapping"),
        ({"counts": "06"}, "size"),
        ({"size": [6], "counts": "06"}, "size"),
        ({"size": [2, -3], "counts": "06"}, "size"),
        ({"size": [2.0, 3.0], "counts": "06"}, "size"),
        ({"size": [2, 3]}, "counts"),
        ({"size": [2, 3], "counts": 6}, "counts"),
        ({"size": [2, 3], "counts": [1.5, 4.5]}, "counts"),
        ({"size": [2, 3], "counts": [3, -1, 4]}, "negative"),
        ({"size": [2, 3], "counts": [1, 2]}, "cover 3 pixels"),
        ({"size": [2, 3], "counts": "07"}, "cover 7 pixels"),
        ({"size": [2, 3], "counts": ""}, "empty"),
        ({"size": [2, 3], "counts": "0 6"}, "outside"),
        ({"size": [2, 3], "counts": "0~"}, "outside"),
        ({"size": [2, 3], "counts": "0P"}, "truncated"),  # "P" = 48 + 0x20: "more follows"
        ({"size": [2, 3], "counts": "0" + "P" * 13 + "0"}, "too long"),
    ],
)
def test_decode_rejects_malformed_rle(rle: Any, message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        decode_rle(rle)
    assert str(raised.value).startswith("rle:")


@pytest.mark.parametrize(
    "mask",
    [
        np.ones((2, 3), dtype=np.uint8),
        np.ones((1, 2, 3), dtype=bool),
        [[True, False]],
    ],
)
def test_encode_rejects_anything_but_a_2d_bool_array(mask: Any) -> None:
    with pytest.raises(InputError, match="mask: expected a"):
        encode_rle(mask)
