"""Any interactive prompt ends in a result or an InputError naming its argument, never another
error: clicks, labels, boxes and mask inputs of every shape, dtype and value, against the tiny
model with both heads. Accepted prompts must come out right: masks at the image's size, one
row per candidate or per box, finite low-resolution logits within ±32."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fuzz.budget import examples
from sam3lib import Segmenter
from sam3lib.embedding import ImageEmbedding
from sam3lib.errors import InputError

ARGUMENTS = ("points", "point_labels", "box", "boxes", "mask_input", "multimask", "max_hole_area")
IMAGE_HW = (30, 40)

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-50, 90),
    st.sampled_from([0, 1, 2, -1, 40, 30, 40.5, 1e30]),
)


def _arrays(max_dims: int = 3) -> st.SearchStrategy[Any]:
    return hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8]),
        shape=hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=5),
        elements=st.integers(0, 60),
    )


def _coordinates(width: int) -> st.SearchStrategy[Any]:
    rows = st.lists(st.lists(NUMBERS, min_size=width, max_size=width), min_size=0, max_size=4)
    anything = st.one_of(rows, st.lists(NUMBERS, max_size=5), _arrays(), st.text(max_size=3))
    return st.one_of(st.none(), _inside(width), anything)


def _inside(width: int) -> st.SearchStrategy[Any]:
    """Rows of valid coordinates (points, or boxes with x0 < x1, y0 < y1), mostly accepted."""
    height_px, width_px = IMAGE_HW
    x, y = st.floats(0, width_px), st.floats(0, height_px)
    if width == 2:
        return st.lists(st.tuples(x, y).map(list), min_size=1, max_size=4)
    corners = st.tuples(x, y, x, y).map(
        lambda c: [min(c[0], c[2]), min(c[1], c[3]), max(c[0], c[2]) + 1, max(c[1], c[3]) + 1]
    )
    return st.lists(corners, min_size=1, max_size=3)


PROMPTS = st.fixed_dictionaries(
    {},
    optional={
        "points": _coordinates(2),
        "point_labels": st.one_of(
            st.none(), st.lists(st.sampled_from([0, 1, 2, -1, 0.5, True]), max_size=4), _arrays(1)
        ),
        "box": _coordinates(4),
        "boxes": _coordinates(4),
        "mask_input": st.one_of(
            st.none(),
            hnp.arrays(
                np.float32,
                st.sampled_from([(48, 48), (1, 48, 48), (2, 48, 48), (1, 1, 48, 48), (4, 4), ()]),
                elements=st.floats(-40, 40, width=32),
            ),
            st.just(np.full((48, 48), np.nan, dtype=np.float32)),
        ),
        "multimask": st.sampled_from([True, False, 1, None]),
        "max_hole_area": st.sampled_from([0, 256, -1, 2.5, True]),
    },
)


@st.composite
def _plausible(draw: st.DrawFn) -> dict[str, Any]:
    """Prompts a user would write, with an occasional wrong detail: most are accepted."""
    prompt: dict[str, Any] = {}
    kind = draw(st.sampled_from(["points", "box", "box+points", "boxes"]))
    if "points" in kind:
        points = draw(_inside(2))
        prompt["points"] = points
        labels = st.lists(st.sampled_from([0, 1]), min_size=len(points), max_size=len(points))
        prompt["point_labels"] = draw(st.one_of(st.none(), labels))
    if kind.startswith("box"):
        prompt["box"] = draw(_inside(4))[0]
    if kind == "boxes":
        prompt["boxes"] = draw(_inside(4))
    if draw(st.booleans()):
        rows = len(prompt.get("boxes", [0]))
        shape = draw(st.sampled_from([(48, 48), (1, 48, 48), (rows, 48, 48), (rows, 1, 48, 48)]))
        prompt["mask_input"] = draw(hnp.arrays(np.float32, shape, elements=st.floats(-40, 40)))
    prompt["multimask"] = draw(st.booleans())
    prompt["max_hole_area"] = draw(st.sampled_from([0, 5, 256]))
    return prompt


@pytest.fixture(scope="module")
def embedding(interactive_segmenter: Segmenter) -> ImageEmbedding:
    rng = np.random.default_rng(0)
    image: npt.NDArray[np.uint8] = rng.integers(0, 255, (*IMAGE_HW, 3), dtype=np.uint8)
    return interactive_segmenter.encode_image(image)


@examples(60)
@given(prompt=st.one_of(PROMPTS, _plausible()))
def test_any_prompt_gives_a_result_or_an_input_error(
    prompt: dict[str, Any], interactive_segmenter: Segmenter, embedding: ImageEmbedding
) -> None:
    try:
        result = interactive_segmenter.predict(embedding, **prompt)
    except InputError as error:
        message = str(error)
        assert message.split(":")[0].split(" ")[0] in (*ARGUMENTS, "empty"), message
        event("refused")
        return
    event("accepted")
    rows = len(result)
    boxes = prompt.get("boxes")
    multimask = prompt.get("multimask", True)
    assert rows == (len(np.asarray(boxes)) if boxes is not None else (3 if multimask else 1))
    assert result.masks.shape == (rows, *IMAGE_HW) and result.masks.dtype == np.bool_
    assert result.logits.shape == (rows, 48, 48)
    assert np.isfinite(result.logits).all() and np.abs(result.logits).max() <= 32
    assert ((result.scores >= 0) & (result.scores <= 1)).all()
    boxes = prompt.get("boxes")
    assert rows == (
        len(np.asarray(boxes)) if boxes is not None else (3 if prompt.get("multimask", True) else 1)
    )
