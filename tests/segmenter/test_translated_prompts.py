"""Prompts not in English reach the model through the Segmenter's translator; the result keeps
the user's words (``prompt``) and the English the model read (``query``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import sam3lib
from helpers.extras import needs_zh
from sam3lib import ImageEmbedding, InputError, Segmenter


@pytest.fixture(scope="module")
def embedding(segmenter: Segmenter, photo: npt.NDArray[np.uint8]) -> ImageEmbedding:
    return segmenter.encode_image(photo)


def _with_translator(segmenter: Segmenter, translator: Any) -> Segmenter:
    """The same model and tokenizer (embeddings stay valid) with another translator."""
    return Segmenter(segmenter.backend, segmenter.tokenizer, translator=translator)


def _same_answer(got: sam3lib.SegmentationResult, want: sam3lib.SegmentationResult) -> None:
    np.testing.assert_array_equal(got.scores, want.scores)
    np.testing.assert_array_equal(got.masks, want.masks)


def test_the_default_translator_is_sam3lib_translate(segmenter: Segmenter) -> None:
    assert segmenter.translator is sam3lib.translate


@needs_zh
def test_a_chinese_prompt_finds_what_its_english_query_finds(
    segmenter: Segmenter, embedding: ImageEmbedding
) -> None:
    chinese, english = segmenter.segment(
        embedding, ["红色的汽车", "red car"], threshold=0.0, top_k=3
    )

    assert (chinese.prompt, chinese.query) == ("红色的汽车", "red car")
    assert (english.prompt, english.query) == ("red car", "red car")
    assert chinese.label == "红色的汽车"  # the overlay and legend show the user's words
    assert len(chinese) > 0
    _same_answer(chinese, english)
    assert "translate" in chinese.timings


def test_ascii_prompts_never_reach_the_translator(
    segmenter: Segmenter, embedding: ImageEmbedding
) -> None:
    asked: list[str] = []

    def glossary(prompt: str) -> str:
        asked.append(prompt)
        return {"狗": "dog", "crème brûlée": "custard"}[prompt]

    seg = _with_translator(segmenter, glossary)
    results = seg.segment(embedding, ["cat", "狗", "crème brûlée"], threshold=0.0, top_k=3)
    dog = seg.segment(embedding, "dog", threshold=0.0, top_k=3)

    assert asked == ["狗", "crème brûlée"]  # not ASCII: translated; ASCII: untouched
    assert [r.query for r in results] == ["cat", "dog", "custard"]
    assert [r.prompt for r in results] == ["cat", "狗", "crème brûlée"]
    assert "translate" in results[0].timings  # the stage is shared by the prompts of a call
    assert "translate" not in dog.timings  # English alone never runs the translator
    _same_answer(results[1], dog)


def test_translator_none_sends_every_prompt_as_typed(
    segmenter: Segmenter, embedding: ImageEmbedding
) -> None:
    seg = _with_translator(segmenter, None)

    result = seg.segment(embedding, "狗", threshold=0.0, top_k=3)

    assert (result.prompt, result.query) == ("狗", "狗")
    assert "translate" not in result.timings
    dog = segmenter.segment(embedding, "dog", threshold=0.0, top_k=3)
    assert not np.array_equal(result.scores, dog.scores)  # the model read 狗, not dog


def test_boxes_only_have_no_query(segmenter: Segmenter, embedding: ImageEmbedding) -> None:
    result = segmenter.segment(embedding, boxes=[[10, 10, 120, 100]], threshold=0.0, top_k=3)

    assert (result.prompt, result.query) == (None, None)


def _raises(prompt: str) -> str:
    raise ConnectionError("the translation service is down")


@pytest.mark.parametrize(
    ("translator", "message"),
    [
        (_raises, r"translator: failed on the prompt '狗': ConnectionError: the translation"),
        (lambda prompt: "", r"translator: returned '' for the prompt '狗'"),
        (lambda prompt: "   ", r"translator: returned '   ' for the prompt '狗'"),
        (lambda prompt: None, r"translator: returned None for the prompt '狗'"),
        (lambda prompt: ["dog"], r"translator: returned \['dog'\] for the prompt '狗'"),
        (lambda prompt: "d\ud800g", r"translator: returned .* lone surrogate"),
    ],
)
def test_a_failing_translator_is_an_input_error_naming_it_and_the_prompt(
    segmenter: Segmenter, translator: Callable[[str], Any], message: str
) -> None:
    seg = _with_translator(segmenter, translator)

    # The image path does not exist: translation runs (and fails) before the image is read.
    with pytest.raises(InputError, match=f"^{message}"):
        seg.segment("no-such-image.png", ["cat", "狗"])


def test_sam3lib_errors_of_the_translator_pass_through(
    segmenter: Segmenter, embedding: ImageEmbedding
) -> None:
    def refuses(prompt: str) -> str:
        raise sam3lib.BackendUnavailableError("install the glossary")

    with pytest.raises(sam3lib.BackendUnavailableError, match=r"^install the glossary$"):
        _with_translator(segmenter, refuses).segment(embedding, "狗")


def test_a_translator_that_is_not_callable_is_refused(segmenter: Segmenter) -> None:
    with pytest.raises(InputError, match=r"^translator: expected a function"):
        Segmenter(segmenter.backend, segmenter.tokenizer, translator="en")  # type: ignore[arg-type]
