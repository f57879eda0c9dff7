"""Any prompt, box, label and option handed to ``Segmenter.segment``: results or InputError.

The model is the tiny checkpoint; the image is encoded once, so each example costs one decode
at most (and nothing when the arguments are refused before the model runs). The argument
checks themselves are also fuzzed on their own, where examples are cheap.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fuzz.budget import examples
from sam3lib import SegmentationResult, Segmenter
from sam3lib.errors import InputError
from sam3lib.postprocess import MaskRefinement
from sam3lib.postprocess.pipeline import PostprocessOptions
from sam3lib.prompts import check_exemplars, check_text_prompts
from sam3lib.segmenter import ImageEmbedding

HEIGHT, WIDTH = 30, 40


@pytest.fixture(scope="module")
def segmenter(tiny_checkpoint_dir: Path) -> Segmenter:
    return Segmenter.from_pretrained(tiny_checkpoint_dir)


@pytest.fixture(scope="module")
def embedding(segmenter: Segmenter) -> ImageEmbedding:
    rng = np.random.default_rng(3)
    return segmenter.encode_image(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))


# --- strategies --------------------------------------------------------------------------------

ODD_TEXT = [
    "cat",
    "",
    "   ",
    "\t\n",
    "red car " * 40,  # longer than the 32-token context
    "\ud800",  # a lone surrogate: not encodable text
    "&amp;",
    "&nbsp;",
    "\x00",
    "\u200b",
    "猫",
]
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(ODD_TEXT))
NOT_TEXT = st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=3), st.booleans())
PROMPTS = st.one_of(
    TEXT,
    st.lists(st.one_of(TEXT, NOT_TEXT), max_size=4),
    st.tuples(TEXT, TEXT),
    NOT_TEXT,
    st.builds(np.array, st.lists(st.text(max_size=3), max_size=2)),
)

NUMBER = st.one_of(
    st.floats(),
    st.floats(-20, 60),
    st.integers(-(10**6), 10**6),
    st.just(10**400),  # beyond float64
    st.booleans(),
    st.text(max_size=2),
    st.none(),
)


@st.composite
def good_boxes(draw: st.DrawFn, max_count: int = 4) -> list[list[float]]:
    """xyxy boxes with x0 < x1 and y0 < y1 that overlap the image, maybe reaching past it."""
    boxes = []
    for _ in range(draw(st.integers(1, max_count))):
        x0 = draw(st.floats(-20, WIDTH - 1))
        y0 = draw(st.floats(-20, HEIGHT - 1))
        x1 = draw(st.floats(max(x0, 0) + 0.5, WIDTH + 20))
        y1 = draw(st.floats(max(y0, 0) + 0.5, HEIGHT + 20))
        boxes.append([x0, y0, x1, y1])
    return boxes


def _odd_tensor(values: list[list[float]], kind: str) -> torch.Tensor:
    tensor = torch.tensor(values, dtype=torch.float32).reshape(-1, 4)
    if kind == "sparse":
        return tensor.to_sparse()
    if kind == "meta":
        return tensor.to("meta")
    if kind == "complex":
        return tensor.to(torch.complex64)
    return tensor.to(torch.float16)


BOXES = st.one_of(
    st.none(),
    good_boxes(),
    st.lists(st.lists(NUMBER, max_size=5), max_size=3),
    st.lists(NUMBER, max_size=5),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)),
    st.builds(_odd_tensor, good_boxes(), st.sampled_from(["sparse", "meta", "complex", "half"])),
    good_boxes(max_count=1).map(lambda boxes: boxes * 300),  # a huge list
    st.text(max_size=5),
    st.integers(),
)

LABEL = st.one_of(st.integers(-1, 2), st.floats(), st.booleans(), st.text(max_size=1), st.none())
LABELS = st.one_of(
    st.none(),
    st.lists(LABEL, max_size=5),
    st.lists(st.sampled_from([0, 1]), min_size=1, max_size=4),
    st.just([[1], [0, 1]]),  # ragged
    st.just([np.array([1, 0]), 1]),
    hnp.arrays(np.int64, st.integers(0, 4), elements=st.integers(-1, 2)),
    st.builds(lambda n: torch.ones(n, dtype=torch.int64), st.integers(0, 4)),
    st.text(max_size=3),
)

UNIT = st.one_of(
    st.floats(0, 1), st.floats(), st.integers(-1, 2), st.text(max_size=2), st.none(), st.booleans()
)


def _returns_none(masks: torch.Tensor) -> None:
    return None


REFINE = st.one_of(
    st.none(),
    st.integers(-1, 6),
    st.booleans(),
    st.text(max_size=3),
    st.sampled_from(
        [
            MaskRefinement(fill_holes_max_area=4, min_region_area=2),
            lambda masks: masks,
            _returns_none,  # a user's clean-up function gone wrong
            lambda masks: masks.float(),
            lambda masks: masks[:, :1],
        ]
    ),
)

OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "threshold": UNIT,
        "mask_threshold": UNIT,
        "top_k": st.one_of(st.none(), st.integers(-1, 5), st.floats(), st.booleans()),
        "nms_iou": st.one_of(st.none(), UNIT),
        "refine": REFINE,
        "mask_order": st.sampled_from(["meta", "transformers", "sam2", None, 3]),
    },
)


def _check_results(answer: Any, prompt: Any, options: dict[str, Any]) -> None:
    single = prompt is None or isinstance(prompt, str)
    results = [answer] if single else answer
    if not single:
        assert isinstance(answer, list) and len(answer) == len(prompt)
    threshold = options.get("threshold", 0.5)
    for result in results:
        assert isinstance(result, SegmentationResult)
        count = len(result)
        assert result.masks.shape == (count, HEIGHT, WIDTH)
        assert (result.scores > threshold).all()
        assert (np.diff(result.scores) <= 0).all()
        assert (result.boxes >= 0).all()
        assert (result.boxes[:, 0::2] <= WIDTH).all() and (result.boxes[:, 1::2] <= HEIGHT).all()
        if options.get("top_k") is not None:
            assert count <= options["top_k"]


# --- Segmenter.segment -------------------------------------------------------------------------


@examples(120)
@given(PROMPTS, BOXES, LABELS, OPTIONS)
@example("\ud800", None, None, {})  # TypeError from the tokenizer
@example("cat", [[0, 0, 10**400, 10]], None, {})  # OverflowError converting to float
@example("cat", torch.zeros((1, 4), device="meta"), None, {})  # NotImplementedError
@example("cat", torch.tensor([[0.0, 0, 5, 5]]).to_sparse(), None, {})  # TypeError
@example("cat", [[0, 0, 5, 5], [1, 1, 6, 6]], [[1], [0, 1]], {})  # ValueError: ragged
@example("cat", [[0, 0, 5, 5], [1, 1, 6, 6]], [np.array([1, 0]), 1], {})  # ValueError
@example("cat", None, None, {"refine": _returns_none})  # AttributeError on None.cpu()
def test_segment_answers_results_or_an_input_error(
    segmenter: Segmenter,
    embedding: ImageEmbedding,
    prompt: Any,
    boxes: Any,
    box_labels: Any,
    options: dict[str, Any],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncated prompts, complex-to-real casts
        try:
            answer = segmenter.segment(
                embedding, prompt, boxes=boxes, box_labels=box_labels, **options
            )
        except InputError:
            return
    _check_results(answer, prompt, options)


@examples(10)
@given(
    st.one_of(st.none(), st.sampled_from(["cat", "red car"]), st.lists(st.just("dog"), max_size=2)),
    st.one_of(st.none(), good_boxes()),
    st.floats(0, 0.4),
    st.one_of(st.none(), st.integers(1, 3)),
    st.one_of(st.none(), st.floats(0.01, 1)),
    st.one_of(st.none(), st.integers(0, 5)),
)
def test_valid_arguments_always_give_results(
    segmenter: Segmenter,
    embedding: ImageEmbedding,
    prompt: Any,
    boxes: list[list[float]] | None,
    threshold: float,
    top_k: int | None,
    nms_iou: float | None,
    refine: int | None,
) -> None:
    if (prompt is None and boxes is None) or prompt == []:
        prompt = "cat"
    options = {"threshold": threshold, "top_k": top_k, "nms_iou": nms_iou, "refine": refine}

    answer = segmenter.segment(embedding, prompt, boxes=boxes, **options)

    _check_results(answer, prompt, options)


# --- the argument checks alone -----------------------------------------------------------------


@examples(300)
@given(PROMPTS, st.booleans())
def test_text_prompt_check_gives_strings_or_an_input_error(prompt: Any, allow_none: bool) -> None:
    try:
        prompts = check_text_prompts(prompt, allow_none=allow_none)
    except InputError:
        return
    if prompts is None:
        assert prompt is None and allow_none
        return
    assert prompts and all(isinstance(text, str) and text.strip() for text in prompts)
    assert all(text.encode("utf-8") for text in prompts)


@examples(300)
@given(BOXES, LABELS, st.tuples(st.integers(1, 50), st.integers(1, 50)))
def test_exemplar_check_gives_boxes_in_the_image_or_an_input_error(
    boxes: Any, box_labels: Any, size: tuple[int, int]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exemplars = check_exemplars(boxes, box_labels, size)
        except InputError:
            return
    if exemplars is None:
        assert boxes is None and box_labels is None
        return
    cxcywh = exemplars.boxes_cxcywh[0]
    count = cxcywh.shape[0]
    assert cxcywh.dtype == torch.float32 and count >= 1
    assert exemplars.labels.shape == (1, count)
    assert set(exemplars.labels.flatten().tolist()) <= {0, 1}
    assert torch.isfinite(cxcywh).all() and (cxcywh[:, 2:] > 0).all()
    low, high = cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2
    assert (low >= -1e-6).all() and (high <= 1 + 1e-6).all()


@examples(300)
@given(OPTIONS)
def test_option_check_gives_options_or_an_input_error(options: dict[str, Any]) -> None:
    arguments = {
        "threshold": 0.5,
        "mask_threshold": 0.5,
        "top_k": None,
        "nms_iou": None,
        "refine": None,
        "mask_order": "meta",
    } | options
    try:
        checked = PostprocessOptions.check(**arguments)
    except InputError:
        return
    assert 0 <= checked.threshold <= 1 and 0 <= checked.mask_threshold <= 1
    assert checked.nms_iou is None or 0 <= checked.nms_iou <= 1
    assert checked.top_k is None or checked.top_k >= 1
    assert not math.isnan(checked.threshold)
