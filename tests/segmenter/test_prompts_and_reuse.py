"""One encoded image, many prompts: reuse, batching, the text cache, exemplar boxes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from sam3lib import Segmenter
from sam3lib.backends import Backend
from sam3lib.model import Sam3Outputs

PROMPTS = ["cat", "dog", "red car", "a person", "tree", "bicycle", "sky", "road", "sign", "bus"]


class CountingBackend:
    """Delegates to a real backend and counts calls of each entry point."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name, self.precision = inner.name, inner.precision
        self.device, self.config = inner.device, inner.config
        self.calls: Counter[str] = Counter()
        self.decoded: list[Sam3Outputs] = []

    def encode_image(self, pixels: torch.Tensor) -> Any:
        self.calls["encode_image"] += 1
        return self.inner.encode_image(pixels)

    def encode_text(self, token_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        self.calls["encode_text"] += 1
        self.calls["text_rows"] += token_ids.shape[0]
        return self.inner.encode_text(token_ids, attention_mask)

    def decode(self, *args: Any, **kwargs: Any) -> Sam3Outputs:
        self.calls["decode"] += 1
        outputs: Sam3Outputs = self.inner.decode(*args, **kwargs)
        self.decoded.append(outputs)
        return outputs

    def encode_interactive(self, backbone: torch.Tensor) -> Any:
        self.calls["encode_interactive"] += 1
        return self.inner.encode_interactive(backbone)

    def decode_interactive(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["decode_interactive"] += 1
        return self.inner.decode_interactive(*args, **kwargs)


@pytest.fixture()
def counting(segmenter: Segmenter) -> tuple[Segmenter, CountingBackend]:
    backend = CountingBackend(segmenter.backend)
    return Segmenter(backend, segmenter.tokenizer), backend


def test_one_encoding_serves_ten_prompts_in_one_decode(
    counting: tuple[Segmenter, CountingBackend], photo: npt.NDArray[np.uint8]
) -> None:
    seg, backend = counting
    embedding = seg.encode_image(photo)
    results = seg.segment(embedding, PROMPTS, threshold=0.0)
    assert backend.calls["encode_image"] == 1
    assert backend.calls["decode"] == 1 and backend.calls["encode_text"] == 1
    assert [r.prompt for r in results] == PROMPTS
    for prompt in PROMPTS:  # and again, one prompt at a time
        seg.segment(embedding, prompt)
    assert backend.calls["encode_image"] == 1


def test_batched_decode_equals_single_decodes(
    counting: tuple[Segmenter, CountingBackend], photo: npt.NDArray[np.uint8]
) -> None:
    seg, backend = counting
    embedding = seg.encode_image(photo)
    seg.segment(embedding, PROMPTS)
    batched = backend.decoded[-1]
    for index, prompt in enumerate(PROMPTS):
        seg.segment(embedding, prompt)
        single = backend.decoded[-1]
        for name, value in single._asdict().items():
            torch.testing.assert_close(
                getattr(batched, name)[index : index + 1], value, atol=1e-5, rtol=0, msg=name
            )


def test_text_features_are_cached_by_tokens(
    counting: tuple[Segmenter, CountingBackend], photo: npt.NDArray[np.uint8]
) -> None:
    seg, backend = counting
    embedding = seg.encode_image(photo)
    seg.segment(embedding, ["cat", "dog"])
    seg.segment(embedding, ["Cat ", "dog", "bus"])  # "Cat " cleans to the tokens of "cat"
    assert backend.calls["text_rows"] == 3
    assert seg.text_cache.hits == 2


def test_text_cache_evicts_least_recently_used(segmenter: Segmenter) -> None:
    backend = CountingBackend(segmenter.backend)
    seg = Segmenter(backend, segmenter.tokenizer, text_cache_size=2)
    embedding = seg.encode_image(np.zeros((20, 30, 3), dtype=np.uint8))
    for prompt in ["cat", "dog", "cat", "bus", "cat", "dog"]:
        seg.segment(embedding, prompt)
    # cat, dog miss; cat hits; bus misses (evicts dog); cat hits; dog misses again.
    assert backend.calls["text_rows"] == 4
    assert len(seg.text_cache) == 2


def test_box_only_and_box_plus_text_prompts(
    segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    embedding = segmenter.encode_image(photo)
    boxes_only = segmenter.segment(embedding, boxes=[[40, 20, 120, 100]], threshold=0.0)
    assert boxes_only.prompt is None and boxes_only.label == "exemplar"
    assert len(boxes_only) == segmenter.backend.config.decoder.num_queries
    boxes = [[40, 20, 120, 100], [150, 90, 220, 150]]
    with_text = segmenter.segment(embedding, "red car", boxes=boxes, box_labels=[1, 0], threshold=0)
    text_only = segmenter.segment(embedding, "red car", threshold=0.0)
    assert with_text.prompt == "red car"
    assert not np.allclose(np.sort(with_text.scores), np.sort(text_only.scores), atol=1e-3)


def test_a_box_partly_outside_is_clipped(
    segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    embedding = segmenter.encode_image(photo)
    width = photo.shape[1]
    clipped = segmenter.segment(embedding, "cat", boxes=[[0, 0, width, 100]], threshold=0.0)
    overhanging = segmenter.segment(
        embedding, "cat", boxes=[[-50, -10, width + 80, 100]], threshold=0.0
    )
    np.testing.assert_array_equal(clipped.scores, overhanging.scores)


def test_results_are_numpy_at_the_original_size(
    segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    result = segmenter.segment(photo, "cat", threshold=0.0, top_k=3)
    assert result.masks.dtype == np.bool_ and result.masks.shape == (3, *photo.shape[:2])
    assert result.boxes.dtype == np.float32 and result.boxes.shape == (3, 4)
    assert result.scores.dtype == np.float32 and (np.diff(result.scores) <= 0).all()
    assert {"preprocess", "encode_image", "encode_text", "decode", "postprocess"} <= set(
        result.timings
    )


def test_segment_batch_equals_segment_per_image(
    segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    images = [photo, photo[::-1].copy(), photo[:, :100].copy()]
    batch = segmenter.segment_batch(images, ["cat", "dog"], threshold=0.2)
    for image, results in zip(images, batch, strict=True):
        expected = segmenter.segment(image, ["cat", "dog"], threshold=0.2)
        for got, want in zip(results, expected, strict=True):
            np.testing.assert_array_equal(got.masks, want.masks)
            np.testing.assert_array_equal(got.scores, want.scores)


def test_refinement_is_applied(segmenter: Segmenter, photo: npt.NDArray[np.uint8]) -> None:
    embedding = segmenter.encode_image(photo)
    raw = segmenter.segment(embedding, "cat", threshold=0.0, top_k=5)
    seen = []

    def invert(masks: torch.Tensor) -> torch.Tensor:
        seen.append(masks.shape)
        return ~masks

    refined = segmenter.segment(embedding, "cat", threshold=0.0, top_k=5, refine=invert)
    assert seen == [torch.Size(raw.masks.shape)]
    np.testing.assert_array_equal(refined.masks, ~raw.masks)
