"""Our model against transformers' ``Sam3Model`` on the same tiny random weights.

transformers is run on Meta's semantics: a text-only prompt gets one padding box (label -10) so
that it carries the geometry encoder's CLS token, and its ViT LayerNorm eps is set to 1e-5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from helpers.transformers_reference import PAD_BOX_LABEL, paired_outputs
from sam3lib.model import Sam3Model, Sam3Outputs

TOLERANCE = 1e-5
CONTEXT = 32


@pytest.fixture(scope="module")
def ours(tiny_hf_checkpoint: Path) -> Sam3Model:
    return Sam3Model.from_pretrained(tiny_hf_checkpoint).eval()


def _tokens(*lengths: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random prompts of the given real lengths (SOT ... EOT), padded like transformers (EOT)."""
    generator = torch.Generator().manual_seed(sum(lengths))
    ids = torch.full((len(lengths), CONTEXT), 49407)
    mask = torch.zeros(len(lengths), CONTEXT, dtype=torch.bool)
    for row, length in enumerate(lengths):
        ids[row, 0] = 49406
        ids[row, 1 : length - 1] = torch.randint(300, 40000, (length - 2,), generator=generator)
        mask[row, :length] = True
    return ids, mask


def _pixels(batch: int) -> torch.Tensor:
    return torch.randn(batch, 3, 168, 168, generator=torch.Generator().manual_seed(batch))


def _padding_box(batch: int) -> dict[str, torch.Tensor]:
    return {
        "input_boxes": torch.zeros(batch, 1, 4),
        "input_boxes_labels": torch.full((batch, 1), PAD_BOX_LABEL),
    }


def _assert_outputs_match(reference: Any, ours: Sam3Outputs) -> None:
    for name, (expected, actual) in paired_outputs(reference, ours).items():
        assert actual.shape == expected.shape, name
        torch.testing.assert_close(actual, expected, atol=TOLERANCE, rtol=0, msg=name)


@torch.no_grad()
def test_text_prompt_matches_transformers(transformers_reference: Any, ours: Sam3Model) -> None:
    pixels = _pixels(1)
    ids, mask = _tokens(5)
    expected = transformers_reference(
        pixel_values=pixels, input_ids=ids, attention_mask=mask.long(), **_padding_box(1)
    )
    _assert_outputs_match(expected, ours(pixels, ids, mask))


@torch.no_grad()
def test_text_and_exemplar_boxes_match_transformers(
    transformers_reference: Any, ours: Sam3Model
) -> None:
    pixels = _pixels(1)
    ids, mask = _tokens(4)
    boxes = torch.tensor([[[0.4, 0.5, 0.3, 0.2], [0.7, 0.3, 0.2, 0.4], [0.2, 0.8, 0.1, 0.1]]])
    labels = torch.tensor([[1, 0, 1]])
    expected = transformers_reference(
        pixel_values=pixels,
        input_ids=ids,
        attention_mask=mask.long(),
        input_boxes=boxes,
        input_boxes_labels=labels,
    )
    _assert_outputs_match(expected, ours(pixels, ids, mask, boxes, labels))


@torch.no_grad()
def test_padded_boxes_are_ignored(transformers_reference: Any, ours: Sam3Model) -> None:
    """A batch mixing 2 boxes and 1 box + padding equals transformers with label -10."""
    pixels = _pixels(2)
    ids, mask = _tokens(4, 6)
    boxes = torch.tensor(
        [[[0.4, 0.5, 0.3, 0.2], [0.7, 0.3, 0.2, 0.4]], [[0.5, 0.5, 0.5, 0.5], [0, 0, 0, 0]]]
    )
    labels = torch.tensor([[1, 0], [1, PAD_BOX_LABEL]])
    expected = transformers_reference(
        pixel_values=pixels,
        input_ids=ids,
        attention_mask=mask.long(),
        input_boxes=boxes,
        input_boxes_labels=labels,
    )
    box_mask = labels != PAD_BOX_LABEL
    actual = ours(pixels, ids, mask, boxes, labels.clamp(min=0), box_mask)
    _assert_outputs_match(expected, actual)


@torch.no_grad()
def test_batch_of_two_images_matches_transformers(
    transformers_reference: Any, ours: Sam3Model
) -> None:
    pixels = _pixels(2)
    ids, mask = _tokens(3, 7)
    expected = transformers_reference(
        pixel_values=pixels, input_ids=ids, attention_mask=mask.long(), **_padding_box(2)
    )
    _assert_outputs_match(expected, ours(pixels, ids, mask))


@torch.no_grad()
def test_three_prompts_share_one_encoded_image(
    transformers_reference: Any, ours: Sam3Model
) -> None:
    pixels = _pixels(1)
    ids, mask = _tokens(3, 5, 9)
    vision = transformers_reference.get_vision_features(pixel_values=pixels)
    vision.fpn_hidden_states = tuple(f.expand(3, -1, -1, -1) for f in vision.fpn_hidden_states)
    vision.fpn_position_encoding = tuple(
        p.expand(3, -1, -1, -1) for p in vision.fpn_position_encoding
    )
    expected = transformers_reference(
        vision_embeds=vision, input_ids=ids, attention_mask=mask.long(), **_padding_box(3)
    )
    image = ours.encode_image(pixels)
    assert image.fpn_x1.shape[0] == 1  # encoded once, broadcast in decode
    _assert_outputs_match(expected, ours.decode(image, ours.encode_text(ids, mask)))


@torch.no_grad()
def test_transformers_without_cls_token_differs(
    transformers_reference: Any, ours: Sam3Model
) -> None:
    """Control: transformers' own text-only path (no geometry CLS) is measurably different,
    so the padding-box convention above is what makes the references agree."""
    pixels = _pixels(1)
    ids, mask = _tokens(5)
    plain = transformers_reference(pixel_values=pixels, input_ids=ids, attention_mask=mask.long())
    actual = ours(pixels, ids, mask)
    assert (plain.pred_logits - actual.query_logits).abs().max() > 100 * TOLERANCE
