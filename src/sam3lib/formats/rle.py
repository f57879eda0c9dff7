"""COCO run-length encoding of binary masks, byte-compatible with pycocotools.

A COCO RLE walks the mask in column-major (Fortran) order and stores alternating run lengths,
starting with a run of zeros (0 when the first pixel is set). The compressed form writes each
run as the difference to the run two places back (from the fourth run on) in a LEB128-like
code of 6-bit characters, ASCII 48-111: the low 5 bits carry the value, least significant group
first, 0x20 says "more groups follow" and 0x10 of the last group is the sign. This module
reimplements ``rleToString`` / ``rleFrString`` of pycocotools' ``maskApi.c`` in numpy, so
pycocotools is needed only to cross-check, never at runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from sam3lib.errors import InputError
from sam3lib.formats._checks import check_mask, describe

__all__ = ["decode_rle", "encode_cropped_rle", "encode_rle"]

_CHAR_OFFSET = 48  # '0'; pycocotools' characters span '0' (48) to 'o' (111)
# 12 groups of 5 bits = 60 bits, the most a signed 64-bit value needs; longer means garbage.
_MAX_GROUPS = 12
_INT64_MAX = int(np.iinfo(np.int64).max)


def encode_rle(mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Encodes one binary mask as a compressed COCO RLE.

    The result is byte-identical to
    ``pycocotools.mask.encode(np.asfortranarray(mask.astype(np.uint8)))`` with ``counts``
    decoded to ``str``, so it can go straight into JSON.

    Args:
        mask: (H, W) bool.

    Returns:
        ``{"size": [H, W], "counts": str}``.

    Raises:
        InputError: ``mask`` is not a 2-D numpy bool array.

    Example:
        >>> import numpy as np
        >>> mask = np.zeros((5, 6), dtype=bool)
        >>> mask[1:3, 2:4] = True
        >>> encode_rle(mask)
        {'size': [5, 6], 'counts': ';2309'}
    """
    check_mask(mask)
    height, width = mask.shape
    return _compressed(_run_lengths(mask.ravel(order="F")), height, width)


def encode_cropped_rle(
    pixels: npt.NDArray[np.bool_], top: int, left: int, image_size: tuple[int, int]
) -> dict[str, Any]:
    """Encodes a mask held as its crop: :func:`encode_rle` of the full-size mask that is
    ``pixels`` at (``top``, ``left``) and empty elsewhere, without building it.

    Memory and time follow the crop, not the image: a 20 000 x 20 000 image's mask costs what
    its bounding box does.

    Args:
        pixels: (h, w) bool, the mask inside its crop.
        top, left: where the crop's first pixel lies in the image.
        image_size: (H, W) of the image; the crop must lie inside it.

    Returns:
        ``{"size": [H, W], "counts": str}``, byte-identical to :func:`encode_rle` of the
        full-size mask.

    Raises:
        InputError: ``pixels`` is not a 2-D bool array, or the crop does not fit the image.

    Example:
        >>> import numpy as np
        >>> encode_cropped_rle(np.ones((2, 2), dtype=bool), 1, 2, (5, 6))
        {'size': [5, 6], 'counts': ';2309'}
    """
    check_mask(pixels)
    height, width = _size(image_size)
    crop_height, crop_width = pixels.shape
    if top < 0 or left < 0 or top + crop_height > height or left + crop_width > width:
        raise InputError(
            f"pixels: a {crop_height}x{crop_width} crop at (top={top}, left={left}) does not "
            f"fit a {height}x{width} image"
        )
    # One empty row above and below each column: a run then starts and ends in its column.
    padded = np.zeros((crop_height + 2, crop_width), dtype=np.int8)
    padded[1:-1] = pixels
    steps = np.diff(padded.ravel(order="F"))
    column, row = np.divmod(np.flatnonzero(steps), crop_height + 2)
    # Index in the full image, column-major, of the first pixel after each change.
    position = (left + column).astype(np.int64) * height + top + row
    starts = position[steps[steps != 0] > 0]
    ends = position[steps[steps != 0] < 0]
    total = height * width
    if starts.size == 0:
        return _compressed(np.array([total], dtype=np.int64), height, width)
    # A run reaching the image's bottom continues at the next column's top when the crop
    # spans the whole height: one run in the full mask.
    separate = starts[1:] != ends[:-1]
    starts = starts[np.concatenate(([True], separate))]
    ends = ends[np.concatenate((separate, [True]))]
    gaps = starts - np.concatenate(([0], ends[:-1]))
    runs = np.stack([gaps, ends - starts], axis=1).ravel()
    if ends[-1] < total:
        runs = np.concatenate((runs, [total - ends[-1]]))
    return _compressed(runs, height, width)


def decode_rle(rle: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    """Decodes a COCO RLE, compressed or not, into a binary mask.

    Args:
        rle: ``{"size": [H, W], "counts": ...}`` where ``counts`` is the compressed string
            (``str`` or ``bytes``, as pycocotools writes it) or the uncompressed list of run
            lengths (as in COCO ``iscrowd`` annotations).

    Returns:
        (H, W) bool, C-contiguous.

    Raises:
        InputError: ``rle`` is not a mapping with a valid ``size`` and ``counts``, or the runs
            do not add up to H * W.

    Example:
        >>> decode_rle({"size": [2, 3], "counts": [1, 2, 3]}).astype(int).tolist()
        [[0, 1, 0], [1, 0, 0]]
    """
    if not isinstance(rle, Mapping):
        raise InputError(f"rle: expected a mapping with 'size' and 'counts', got {describe(rle)}")
    height, width = _size(rle.get("size"))
    counts = rle.get("counts")
    if isinstance(counts, str) and not counts.isascii():
        raise InputError("rle: 'counts' holds non-ASCII characters; not a COCO RLE string")
    if isinstance(counts, (str, bytes)):
        runs = _from_chars(counts.encode("ascii") if isinstance(counts, str) else counts)
    else:
        runs = _uncompressed_runs(counts)
    if (runs < 0).any():
        raise InputError("rle: 'counts' holds negative run lengths")
    # Runs longer than the mask could wrap the int64 sum around to H * W, and np.repeat would
    # then write past its buffer: those are summed exactly, in Python integers.
    long_runs = bool((runs > min(height * width, _INT64_MAX)).any())
    covered = sum(runs.tolist()) if long_runs else int(runs.sum())
    if covered != height * width:
        raise InputError(
            f"rle: the runs cover {covered} pixels but 'size' {[height, width]} "
            f"has {height * width}"
        )
    values = (np.arange(runs.size) % 2).astype(np.bool_)
    flat = np.repeat(values, runs)
    return np.ascontiguousarray(flat.reshape((height, width), order="F"))


def _compressed(runs: npt.NDArray[np.int64], height: int, width: int) -> dict[str, Any]:
    deltas = runs.copy()
    deltas[3:] -= runs[1:-2]  # from the fourth run on, store the change to the run two back
    return {"size": [height, width], "counts": _to_chars(deltas)}


def _run_lengths(flat: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    if flat.size == 0:
        return np.zeros(1, dtype=np.int64)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(bounds)
    if flat[0]:
        runs = np.concatenate(([0], runs))  # RLE always opens with a (possibly empty) zero run
    return runs.astype(np.int64)


def _to_chars(values: npt.NDArray[np.int64]) -> str:
    # One column per 5-bit group, filled for all values at once; a value stops at its first
    # group after which only sign bits remain.
    groups = np.zeros((values.size, _MAX_GROUPS), dtype=np.uint8)
    used = np.zeros((values.size, _MAX_GROUPS), dtype=np.bool_)
    rest = values.copy()
    active = np.ones(values.size, dtype=np.bool_)
    for group in range(_MAX_GROUPS):
        if not active.any():
            break
        low = rest & 0x1F
        rest >>= 5  # arithmetic shift: negative values tend to -1, as C's signed long does
        more = np.where(low & 0x10, rest != -1, rest != 0)
        groups[:, group] = low | (more << 5)
        used[:, group] = active
        active &= more
    return (groups[used] + _CHAR_OFFSET).tobytes().decode("ascii")


def _from_chars(text: bytes) -> npt.NDArray[np.int64]:
    codes = np.frombuffer(text, dtype=np.uint8).astype(np.int64) - _CHAR_OFFSET
    if codes.size == 0:
        raise InputError("rle: 'counts' is an empty string")
    if ((codes < 0) | (codes > 63)).any():
        raise InputError("rle: 'counts' holds characters outside '0'-'o'; not a COCO RLE string")
    last = (codes & 0x20) == 0
    if not last[-1]:
        raise InputError("rle: 'counts' is truncated (its last character expects another)")
    starts = np.flatnonzero(np.concatenate(([True], last[:-1])))
    group_of = np.cumsum(np.concatenate(([0], last[:-1]))).astype(np.int64)
    position = np.arange(codes.size) - starts[group_of]
    if position.max() >= _MAX_GROUPS:
        raise InputError("rle: 'counts' holds a value too long for 64 bits")
    values = np.bitwise_or.reduceat((codes & 0x1F) << (5 * position), starts)
    ends = np.flatnonzero(last)
    negative = (codes[ends] & 0x10) != 0
    values[negative] |= np.left_shift(-1, 5 * (position[ends][negative] + 1))
    runs = values.copy()
    # Undo the delta coding: runs 1, 3, 5, ... and runs 2, 4, 6, ... are running sums.
    runs[1::2] = np.cumsum(values[1::2])
    runs[2::2] = np.cumsum(values[2::2])
    return runs


def _uncompressed_runs(counts: object) -> npt.NDArray[np.int64]:
    if isinstance(counts, np.ndarray):
        counts = counts.tolist()
    if not isinstance(counts, Sequence) or not all(
        isinstance(run, (int, np.integer)) and not isinstance(run, bool) for run in counts
    ):
        raise InputError(
            "rle: 'counts' must be a compressed string (str or bytes) or a list of ints, "
            f"got {describe(counts)}"
        )
    if any(abs(int(run)) > _INT64_MAX for run in counts):
        raise InputError("rle: 'counts' holds a run length too large for any mask")
    return np.asarray(counts, dtype=np.int64).reshape(-1)


def _size(size: object) -> tuple[int, int]:
    if isinstance(size, np.ndarray):
        size = size.tolist()  # a 0-d array becomes a number, refused below
    if (
        isinstance(size, Sequence)
        and not isinstance(size, (str, bytes))
        and len(size) == 2
        and all(isinstance(side, (int, np.integer)) and not isinstance(side, bool) for side in size)
        and all(side >= 0 for side in size)
    ):
        return int(size[0]), int(size[1])
    raise InputError(f"rle: 'size' must be [height, width] with non-negative ints, got {size!r}")
