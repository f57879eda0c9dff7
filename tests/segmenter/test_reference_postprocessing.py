"""Segmenter results against the references' post-processing, on the same tiny weights.

transformers' order (σ, resize, threshold) is checked against its own
``post_process_instance_segmentation``; Meta's order (resize logits, σ, threshold) against an
independent implementation written here from the reference's description.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
import torch.nn.functional as F

from helpers.transformers_reference import PAD_BOX_LABEL
from sam3lib import Segmenter
from sam3lib.bench.runners import transformers_postprocessor
from sam3lib.preprocess import preprocess

PROMPT = "red car"
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def reference_outputs(
    transformers_reference: Any, segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> Any:
    """transformers' raw outputs for PROMPT on ``photo`` (Meta's text-only path: a pad box)."""
    pixels = preprocess(photo, segmenter.backend.config.vision.image_size).pixels
    tokens = segmenter.tokenizer.encode(PROMPT)
    with torch.no_grad():
        return transformers_reference(
            pixel_values=pixels,
            input_ids=tokens.ids,
            attention_mask=tokens.attention_mask.long(),
            input_boxes=torch.zeros(1, 1, 4),
            input_boxes_labels=torch.full((1, 1), PAD_BOX_LABEL),
        )


@pytest.fixture(scope="module")
def threshold(reference_outputs: Any) -> float:
    """A score threshold between the reference's scores: some queries kept, some not."""
    scores = reference_outputs.pred_logits.sigmoid() * reference_outputs.presence_logits.sigmoid()
    return float(scores.quantile(0.6))


def by_descending_score(scores: torch.Tensor) -> torch.Tensor:
    return torch.sort(scores, descending=True, stable=True).indices


def test_transformers_order_equals_transformers_postprocessing(
    segmenter: Segmenter, photo: npt.NDArray[np.uint8], reference_outputs: Any, threshold: float
) -> None:
    height, width = photo.shape[:2]
    expected = transformers_postprocessor().post_process_instance_segmentation(
        reference_outputs, threshold=threshold, mask_threshold=0.5, target_sizes=[(height, width)]
    )[0]
    result = segmenter.segment(photo, PROMPT, threshold=threshold, mask_order="transformers")

    order = by_descending_score(expected["scores"])
    assert 0 < len(result) < reference_outputs.pred_logits.shape[1]
    assert len(result) == len(order)
    np.testing.assert_array_equal(result.masks, expected["masks"][order].numpy())
    np.testing.assert_allclose(result.scores, expected["scores"][order].numpy(), atol=TOLERANCE)
    # transformers does not clip boxes to the image; we do.
    limits = torch.tensor([width, height, width, height], dtype=torch.float32)
    expected_boxes = expected["boxes"][order].clamp(min=torch.zeros(4), max=limits)
    np.testing.assert_allclose(result.boxes, expected_boxes.numpy(), atol=TOLERANCE * width)


def test_default_order_is_metas(
    segmenter: Segmenter, photo: npt.NDArray[np.uint8], reference_outputs: Any, threshold: float
) -> None:
    height, width = photo.shape[:2]
    scores = (
        reference_outputs.pred_logits.sigmoid() * reference_outputs.presence_logits.sigmoid()
    )[0]
    kept = torch.nonzero(scores > threshold).squeeze(1)
    kept = kept[by_descending_score(scores[kept])]
    logits = reference_outputs.pred_masks[0, kept]
    # Meta: bilinear upsampling of the logits, then σ, then > 0.5.
    upsampled = F.interpolate(
        logits[None], size=(height, width), mode="bilinear", align_corners=False
    )
    expected_masks = upsampled[0].sigmoid() > 0.5
    scale = torch.tensor([width, height, width, height])
    expected_boxes = reference_outputs.pred_boxes[0, kept] * scale

    result = segmenter.segment(photo, PROMPT, threshold=threshold)

    np.testing.assert_array_equal(result.masks, expected_masks.numpy())
    np.testing.assert_allclose(result.scores, scores[kept].numpy(), atol=TOLERANCE)
    clipped = expected_boxes.clamp(min=torch.zeros(4), max=scale.float())
    np.testing.assert_allclose(result.boxes, clipped.numpy(), atol=TOLERANCE * width)
    assert result.prompt == PROMPT and result.image_size == (height, width)


def test_the_two_orders_differ_somewhere(
    segmenter: Segmenter, photo: npt.NDArray[np.uint8], threshold: float
) -> None:
    """Otherwise the two tests above could not tell the orders apart."""
    embedding = segmenter.encode_image(photo)
    meta = segmenter.segment(embedding, PROMPT, threshold=threshold)
    hf = segmenter.segment(embedding, PROMPT, threshold=threshold, mask_order="transformers")
    assert (meta.masks != hf.masks).any()
