"""Property tests of COCO RLE and polygons, judged by pycocotools and by the definitions.

pycocotools is the reference: our RLE must be its RLE, byte for byte, and its rasteriser must
draw our polygons back into the mask. Polygons are exact pixel-edge outlines (integer
vertices on pixel corners), so the tolerance is zero pixels: pycocotools samples pixel column
c at its centre and fills between horizontal edges, which an exact outline reproduces.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pycocotools.mask as coco_mask
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.budget import examples
from fuzz.references import (
    bbox_xywh,
    components,
    mask_from_runs,
    rle_string,
    rle_string_runs,
    run_lengths,
    shoelace_area,
)
from fuzz.strategies import masks
from sam3lib.errors import InputError
from sam3lib.formats import decode_rle, encode_rle, mask_to_polygons
from sam3lib.postprocess import boxes_from_masks

# pycocotools' decode trips numpy 2's __array__ copy deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _coco_encode(mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))


def _as_bytes(rle: dict[str, Any]) -> dict[str, Any]:
    return {"size": rle["size"], "counts": rle["counts"].encode("ascii")}


# --- RLE: our encoder is pycocotools' encoder -------------------------------------------------


@examples(150)
@given(masks())
def test_encode_is_pycocotools_encode(mask: npt.NDArray[np.bool_]) -> None:
    ours = encode_rle(mask)
    theirs = _coco_encode(mask)

    assert ours == {"size": [mask.shape[0], mask.shape[1]], "counts": theirs["counts"].decode()}


@examples(150)
@given(masks())
def test_decode_inverts_encode_and_reads_pycocotools_rles(mask: npt.NDArray[np.bool_]) -> None:
    ours = encode_rle(mask)

    for rle in (ours, _as_bytes(ours), _coco_encode(mask)):
        decoded = decode_rle(rle)
        assert decoded.dtype == np.bool_ and decoded.flags.c_contiguous
        np.testing.assert_array_equal(decoded, mask)
    if mask.size:  # pycocotools cannot allocate a 0-pixel mask to decode into
        np.testing.assert_array_equal(coco_mask.decode(_as_bytes(ours)).astype(bool), mask)


@examples(100)
@given(masks())
def test_uncompressed_counts_match_pycocotools_compression(mask: npt.NDArray[np.bool_]) -> None:
    runs = run_lengths(mask)
    height, width = mask.shape

    np.testing.assert_array_equal(decode_rle({"size": [height, width], "counts": runs}), mask)
    np.testing.assert_array_equal(
        decode_rle({"size": (height, width), "counts": np.array(runs)}), mask
    )
    compressed = coco_mask.frPyObjects({"size": [height, width], "counts": runs}, height, width)
    assert encode_rle(mask)["counts"] == compressed["counts"].decode()


@examples(100)
@given(masks(min_side=1))
def test_pycocotools_area_and_box_of_our_rle_match_the_mask(mask: npt.NDArray[np.bool_]) -> None:
    rle = _as_bytes(encode_rle(mask))

    assert int(coco_mask.area(rle)) == int(mask.sum())
    assert coco_mask.toBbox(rle).tolist() == bbox_xywh(mask)
    # Our own pixel box, xyxy, agrees with COCO's xywh.
    x0, y0, x1, y1 = boxes_from_masks(torch.from_numpy(mask.copy())[None])[0].tolist()
    assert [x0, y0, x1 - x0, y1 - y0] == bbox_xywh(mask)


@examples(30)
@given(masks(layouts=False), st.sampled_from([np.uint8, np.int64, np.float32]))
def test_non_bool_masks_are_refused_with_a_hint(mask: npt.NDArray[np.bool_], dtype: Any) -> None:
    for function in (encode_rle, mask_to_polygons):
        with pytest.raises(InputError, match=r"astype\(bool\)"):
            function(mask.astype(dtype))


# --- RLE: anything may be handed to decode_rle --------------------------------------------------

COCO_CHARACTERS = st.characters(min_codepoint=48, max_codepoint=111)
SIZES = st.one_of(
    st.lists(st.integers(0, 12), min_size=2, max_size=2),
    st.tuples(st.integers(0, 12), st.integers(0, 12)),
    st.lists(st.integers(-3, 2**40), min_size=0, max_size=3),
    st.builds(np.array, st.integers(0, 12)),
    st.lists(st.one_of(st.floats(), st.booleans(), st.text(max_size=2)), max_size=3),
    st.none(),
    st.text(max_size=3),
)
COUNTS = st.one_of(
    st.text(COCO_CHARACTERS, max_size=30),
    st.text(COCO_CHARACTERS, max_size=30).map(lambda text: text.encode("ascii")),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(0, 40), max_size=12),
    st.lists(st.integers(-(2**70), 2**70), max_size=6),
    st.lists(st.one_of(st.integers(), st.floats(), st.booleans(), st.none()), max_size=4),
    st.none(),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def _reference_decode(rle: dict[str, Any]) -> npt.NDArray[np.bool_] | None:
    """The mask pycocotools would read, where the RLE is unambiguous; None otherwise."""
    size, counts = rle["size"], rle["counts"]
    if not (isinstance(size, (list, tuple)) and len(size) == 2):
        return None
    if not all(type(side) is int and side >= 0 for side in size):
        return None
    if isinstance(counts, str) and counts.isascii():
        counts = counts.encode("ascii")
    if isinstance(counts, bytes):
        if not all(48 <= code <= 111 for code in counts):
            return None
        runs = rle_string_runs(counts)
        if runs is None:
            return None
    elif isinstance(counts, list) and all(type(run) is int for run in counts):
        runs = counts
    else:
        return None
    if any(run < 0 for run in runs) or sum(runs) != size[0] * size[1]:
        return None
    return mask_from_runs(runs, size[0], size[1])


@examples(400)
@given(st.fixed_dictionaries({"size": SIZES, "counts": COUNTS}))
# Found by this property; each raised something other than InputError:
@example({"size": [1, 1], "counts": [2**70]})  # OverflowError converting to int64
@example({"size": [1, 1], "counts": "\x80"})  # UnicodeEncodeError
@example({"size": np.array(5), "counts": "1"})  # TypeError: len() of a 0-d array
@example({"size": [0, 0], "counts": []})  # valid: no runs for no pixels
def test_decode_reads_any_rle_or_raises_input_error(rle: dict[str, Any]) -> None:
    try:
        decoded = decode_rle(rle)
    except InputError:
        decoded = None
    want = _reference_decode(rle)
    if decoded is not None:
        assert want is not None, f"decoded an RLE pycocotools would not read: {rle!r}"
        np.testing.assert_array_equal(decoded, want)
    elif want is not None and isinstance(rle["counts"], list):
        pytest.fail(f"refused a valid uncompressed RLE: {rle!r}")


@st.composite
def valid_rles(draw: st.DrawFn) -> tuple[int, int, list[int], list[int]]:
    """(H, W, runs, padding): runs, zero-length ones included, that add up to H * W."""
    height, width = draw(st.integers(0, 8)), draw(st.integers(0, 8))
    cuts = sorted(draw(st.lists(st.integers(0, height * width), max_size=12)))
    bounds = [0, *cuts, height * width]
    runs = [end - start for start, end in itertools.pairwise(bounds)]
    padding = draw(st.lists(st.integers(0, 3), min_size=len(runs), max_size=len(runs)))
    return height, width, runs, padding


@examples(200)
@given(valid_rles())
def test_decode_reads_every_valid_compressed_string(
    rle: tuple[int, int, list[int], list[int]],
) -> None:
    height, width, runs, padding = rle
    want = mask_from_runs(runs, height, width)

    for text in (rle_string(runs), rle_string(runs, padding)):
        np.testing.assert_array_equal(decode_rle({"size": [height, width], "counts": text}), want)
        if want.size:  # the reference reader agrees, padded groups included
            coco = coco_mask.decode({"size": [height, width], "counts": text.encode("ascii")})
            np.testing.assert_array_equal(coco.astype(bool), want)


def test_runs_whose_int64_sum_wraps_around_are_refused() -> None:
    # 1 + 64 * 2**58 = 2**64 + 1: in int64 the sum wraps to 1, the pixel count of a 1x1 mask,
    # and np.repeat then wrote 2**64 values into a one-pixel buffer (a segmentation fault).
    runs = [1] + [2**58] * 64
    for counts in (runs, rle_string(runs)):
        with pytest.raises(InputError, match=f"cover {2**64 + 1} pixels"):
            decode_rle({"size": [1, 1], "counts": counts})


@examples(100)
@given(masks())
def test_reference_string_encoder_agrees_with_pycocotools(mask: npt.NDArray[np.bool_]) -> None:
    # The hand-made strings above are only as good as this encoder.
    assert rle_string(run_lengths(mask)) == _coco_encode(mask)["counts"].decode()


# --- polygons: pycocotools draws them back into the mask ----------------------------------------


def _rasterise(polygons: list[list[float]], height: int, width: int) -> npt.NDArray[np.bool_]:
    if not polygons:
        return np.zeros((height, width), dtype=bool)
    rles = coco_mask.frPyObjects(polygons, height, width)
    return coco_mask.decode(coco_mask.merge(rles)).astype(bool)


@examples(150)
@given(masks(min_side=1, max_side=20))
def test_pycocotools_rasterises_our_polygons_into_the_mask(mask: npt.NDArray[np.bool_]) -> None:
    height, width = mask.shape
    polygons = mask_to_polygons(mask)

    np.testing.assert_array_equal(_rasterise(polygons, height, width), mask)
    rles = coco_mask.frPyObjects(polygons, height, width) if polygons else []
    assert sum(int(coco_mask.area(rle)) for rle in rles) == int(mask.sum())


@examples(150)
@given(masks(max_side=20))
def test_polygons_are_one_exact_outline_per_component(mask: npt.NDArray[np.bool_]) -> None:
    height, width = mask.shape
    polygons = mask_to_polygons(mask)
    regions = components(mask, connectivity=8)

    assert len(polygons) == len(regions)
    for polygon, region in zip(polygons, regions, strict=True):
        assert len(polygon) % 2 == 0 and len(polygon) >= 8
        xs, ys = np.asarray(polygon[0::2]), np.asarray(polygon[1::2])
        assert (xs == np.round(xs)).all() and (ys == np.round(ys)).all()
        assert xs.min() >= 0 and xs.max() <= width and ys.min() >= 0 and ys.max() <= height
        # Holes are spliced in with zero-width cuts, so the area is the component's pixels.
        assert shoelace_area(polygon) == len(region)
        # It starts at the top-left corner of the component's first pixel in raster order.
        first_row, first_col = region[0]
        assert polygon[:2] == [first_col, first_row]
