"""Our interactive head against transformers' ``Sam3TrackerModel`` on the same tiny random weights.

transformers is fed the image embedding Meta computes: its pixel path leaves
``no_memory_embedding`` out of the embedding (``SAM3_TRACKER_FACTS.md`` §1), which a control
test shows. Prompts follow Meta's order on our side (box corners, clicks, one padding point);
transformers puts the clicks first, which attention does not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor

from helpers.transformers_tracker_reference import (
    build_our_tiny_model,
    build_tiny_tracker_reference,
    corrected_image_embeddings,
    corrected_reference_outputs,
)
from sam3lib.model import InteractiveFeatures, Sam3Model, select_masks

TOLERANCE = 1e-5
LOW_RES = 48  # 4 × the 12² token grid of the 168 px tiny model
POSITIVE, NEGATIVE, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT, NOT_A_POINT = 1, 0, 2, 3, -1
STABILITY_THRESHOLD = 0.98  # Meta's, the default of both TrackerConfig and transformers


@dataclass(frozen=True)
class Prompt:
    """One object's prompt, in pixels of the 168 × 168 input frame."""

    clicks: tuple[tuple[float, float, int], ...] = ()  # (x, y, POSITIVE | NEGATIVE)
    box_xyxy: tuple[float, float, float, float] | None = None

    def as_points(self) -> tuple[Tensor, Tensor]:
        """Meta's point list: (P, 2) coordinates and (P,) labels, corners first, then the
        clicks, then the padding point."""
        coords, labels = [], []
        if self.box_xyxy is not None:
            x0, y0, x1, y1 = self.box_xyxy
            coords += [(x0, y0), (x1, y1)]
            labels += [BOX_TOP_LEFT, BOX_BOTTOM_RIGHT]
        coords += [(x, y) for x, y, _ in self.clicks] + [(0.0, 0.0)]
        labels += [label for _, _, label in self.clicks] + [NOT_A_POINT]
        return torch.tensor(coords), torch.tensor(labels)


@dataclass(frozen=True)
class Case:
    """Prompts for one image, one object each."""

    prompts: tuple[Prompt, ...]

    def ours(self) -> tuple[Tensor, Tensor]:
        """(N, P, 2) and (N, P) for ``decode_interactive``."""
        coords, labels = zip(*(prompt.as_points() for prompt in self.prompts), strict=True)
        return torch.stack(coords), torch.stack(labels)

    def transformers(self) -> dict[str, Tensor]:
        """transformers' inputs for one image and N objects, all prompted alike (as its
        tensors need); it appends the padding point itself."""
        inputs: dict[str, Tensor] = {}
        if self.prompts[0].clicks:
            inputs["input_points"] = torch.tensor(
                [[[(x, y) for x, y, _ in prompt.clicks] for prompt in self.prompts]]
            )
            inputs["input_labels"] = torch.tensor(
                [[[label for _, _, label in prompt.clicks] for prompt in self.prompts]]
            )
        if self.prompts[0].box_xyxy is not None:
            inputs["input_boxes"] = torch.tensor([[prompt.box_xyxy for prompt in self.prompts]])
        return inputs


ONE_CLICK = Prompt(clicks=((60.0, 70.0, POSITIVE),))
CASES = {
    "one-positive-click": Case((ONE_CLICK,)),
    "clicks-with-negatives": Case(
        (
            Prompt(
                clicks=(
                    (60.0, 70.0, POSITIVE),
                    (100.0, 40.0, NEGATIVE),
                    (30.0, 120.0, NEGATIVE),
                    (90.0, 95.0, POSITIVE),
                )
            ),
        )
    ),
    "box": Case((Prompt(box_xyxy=(30.0, 40.0, 120.0, 130.0)),)),
    "box-and-clicks": Case(
        (
            Prompt(
                clicks=((70.0, 80.0, POSITIVE), (50.0, 60.0, NEGATIVE)),
                box_xyxy=(30.0, 40.0, 120.0, 130.0),
            ),
        )
    ),
    "three-boxes-at-once": Case(
        (
            Prompt(box_xyxy=(30.0, 40.0, 120.0, 130.0)),
            Prompt(box_xyxy=(10.0, 10.0, 80.0, 60.0)),
            Prompt(box_xyxy=(60.0, 90.0, 160.0, 165.0)),
        )
    ),
}
# Single clicks whose token-0 mask is stable (0.995, a nearly full mask) and unstable (0.53)
# under the reference's weights: the single-mask rule keeps token 0 for the first and falls
# back to the best of tokens 1..3 for the second.
STABLE_CLICK = Prompt(clicks=((60.0, 132.0, POSITIVE),))
UNSTABLE_CLICK = Prompt(clicks=((84.0, 36.0, POSITIVE),))
MULTIMASK = pytest.mark.parametrize("multimask", [True, False], ids=["multimask", "single-mask"])


@dataclass(frozen=True)
class Decoded:
    """Selected masks of N objects: (N, M, 48, 48) logits, (N, M) IoU, (N, 1) object score."""

    mask_logits: Tensor
    iou_scores: Tensor
    object_score_logits: Tensor


@pytest.fixture(scope="module")
def reference(transformers_reference: Any) -> Any:
    """The tiny transformers tracker, its ViT trunk the detector reference's."""
    return build_tiny_tracker_reference(transformers_reference)


@pytest.fixture(scope="module")
def ours(transformers_reference: Any, reference: Any) -> Sam3Model:
    return build_our_tiny_model(transformers_reference, reference)


@dataclass(frozen=True)
class Image:
    """One image, encoded once by both models."""

    pixels: Tensor  #: (1, 3, 168, 168)
    features: InteractiveFeatures  #: ours
    reference_embeddings: list[Tensor]  #: transformers', corrected


@pytest.fixture(scope="module")
def image(reference: Any, ours: Sam3Model) -> Image:
    pixels = torch.randn(1, 3, 168, 168, generator=torch.Generator().manual_seed(1))
    return Image(pixels, _encode(ours, pixels), corrected_image_embeddings(reference, pixels))


@torch.no_grad()
def _encode(model: Sam3Model, pixels: Tensor) -> InteractiveFeatures:
    return model.encode_interactive(model.encode_image(pixels).backbone)


@torch.no_grad()
def _decode_ours(
    model: Sam3Model,
    image: Image,
    case: Case,
    multimask: bool,
    mask_input: Tensor | None = None,
) -> tuple[Decoded, Tensor]:
    """Our selected outputs for the case's N objects, and all four tokens' mask logits."""
    features = image.features
    coords, labels = case.ours()
    count = len(case.prompts)
    has_mask = torch.full((count,), mask_input is not None)
    masks = torch.zeros(count, 1, LOW_RES, LOW_RES) if mask_input is None else mask_input
    out = model.decode_interactive(features, coords, labels, masks, has_mask)
    assert model.config.tracker is not None
    mask_logits, iou_scores = select_masks(
        out.mask_logits, out.iou_scores, multimask, model.config.tracker
    )
    return Decoded(mask_logits, iou_scores, out.object_score_logits), out.mask_logits


def _decode_reference(
    reference: Any,
    image: Image,
    case: Case,
    multimask: bool,
    mask_input: Tensor | None = None,
) -> Decoded:
    out = corrected_reference_outputs(
        reference,
        image.pixels,
        image_embeddings=image.reference_embeddings,
        input_masks=mask_input,
        multimask_output=multimask,
        **case.transformers(),
    )
    return Decoded(
        out.pred_masks.flatten(0, 1),
        out.iou_scores.flatten(0, 1),
        out.object_score_logits.flatten(0, 1),
    )


def _assert_match(name: str, expected: Decoded, actual: Decoded) -> None:
    differences = {}
    for field in ("mask_logits", "iou_scores", "object_score_logits"):
        want, got = getattr(expected, field), getattr(actual, field)
        assert got.shape == want.shape, f"{name}: {field} {got.shape} vs {want.shape}"
        differences[field] = (got - want).abs().max().item()
        torch.testing.assert_close(got, want, atol=TOLERANCE, rtol=0, msg=f"{name}: {field}")
    print(f"{name}: max abs differences {differences}")  # shown with -s


@MULTIMASK
@pytest.mark.parametrize("name", list(CASES))
def test_prompt_matches_transformers(
    reference: Any, ours: Sam3Model, image: Image, name: str, multimask: bool
) -> None:
    case = CASES[name]
    actual, _ = _decode_ours(ours, image, case, multimask)
    expected = _decode_reference(reference, image, case, multimask)
    _assert_match(f"{name}-{multimask=}", expected, actual)


@MULTIMASK
def test_mask_prompt_from_previous_prediction_matches_transformers(
    reference: Any, ours: Sam3Model, image: Image, multimask: bool
) -> None:
    """A refining click plus the previous prediction's best low-res logits as mask prompt."""
    previous = _decode_reference(reference, image, CASES["one-positive-click"], multimask=True)
    best = previous.iou_scores[0].argmax()
    mask_input = previous.mask_logits[:, best : best + 1]  # (1, 1, 48, 48) logits
    assert mask_input.abs().max() > 1, "the mask prompt should carry real logits"
    case = Case((Prompt(clicks=((60.0, 70.0, POSITIVE), (110.0, 50.0, NEGATIVE))),))
    actual, _ = _decode_ours(ours, image, case, multimask, mask_input)
    expected = _decode_reference(reference, image, case, multimask, mask_input)
    _assert_match(f"mask-prompt-{multimask=}", expected, actual)
    without_mask, _ = _decode_ours(ours, image, case, multimask)
    assert (without_mask.mask_logits - actual.mask_logits).abs().max() > 100 * TOLERANCE


@pytest.mark.parametrize(
    ("prompt", "token0_stable"),
    [(STABLE_CLICK, True), (UNSTABLE_CLICK, False)],
    ids=["token0-stable-kept", "token0-unstable-best-of-1-3"],
)
def test_single_mask_rule_takes_the_same_branch_as_transformers(
    reference: Any, ours: Sam3Model, image: Image, prompt: Prompt, token0_stable: bool
) -> None:
    case = Case((prompt,))
    actual, all_tokens = _decode_ours(ours, image, case, multimask=False)
    stability = reference.mask_decoder._get_stability_scores(all_tokens[:, :1]).item()
    assert (stability >= STABILITY_THRESHOLD) == token0_stable, f"stability {stability:.4f}"
    expected = _decode_reference(reference, image, case, multimask=False)
    _assert_match(f"single-mask-stability-{stability:.3f}", expected, actual)
    multimask = _decode_reference(reference, image, case, multimask=True)
    token = 0 if token0_stable else 1 + int(multimask.iou_scores[0].argmax())
    torch.testing.assert_close(actual.mask_logits[0, 0], all_tokens[0, token], atol=0, rtol=0)


def test_two_images_match_transformers(reference: Any, ours: Sam3Model) -> None:
    """One click on each of two images: image features of batch 2."""
    pixels = torch.randn(2, 3, 168, 168, generator=torch.Generator().manual_seed(2))
    case = Case((ONE_CLICK,))
    coords, labels = case.ours()
    with torch.no_grad():
        out = ours.decode_interactive(
            _encode(ours, pixels),
            coords.expand(2, -1, -1),
            labels.expand(2, -1),
            torch.zeros(2, 1, LOW_RES, LOW_RES),
            torch.zeros(2, dtype=torch.bool),
        )
    inputs: dict[str, Any] = {
        key: value.expand(2, *value.shape[1:]) for key, value in case.transformers().items()
    }
    expected = corrected_reference_outputs(reference, pixels, multimask_output=True, **inputs)
    _assert_match(
        "two-images",
        Decoded(
            expected.pred_masks.flatten(0, 1),
            expected.iou_scores.flatten(0, 1),
            expected.object_score_logits.flatten(0, 1),
        ),
        Decoded(out.mask_logits[:, 1:], out.iou_scores[:, 1:], out.object_score_logits),
    )


def test_image_features_match_transformers(image: Image) -> None:
    """conv_s0(x4 level), conv_s1(x2 level) and the x1 level + no_memory_embedding, against
    transformers' ``get_image_features`` (plus the embedding where Meta adds it)."""
    pairs = zip(image.features._fields, image.features, image.reference_embeddings, strict=True)
    for name, got, want in pairs:
        assert got.shape == want.shape, name
        print(f"{name}: max abs difference {(got - want).abs().max().item():.2e}")
        torch.testing.assert_close(got, want, atol=TOLERANCE, rtol=0, msg=name)


@torch.no_grad()
def test_transformers_pixel_path_lacks_no_memory_embedding(
    reference: Any, ours: Sam3Model, image: Image
) -> None:
    """Control: transformers' own pixel path is far from ours, by exactly the embedding it
    forgets; the corrected path above is what matches."""
    case = CASES["one-positive-click"]
    uncorrected = reference(pixel_values=image.pixels, multimask_output=True, **case.transformers())
    forgotten = reference.no_memory_embedding.view(1, -1, 1, 1)
    torch.testing.assert_close(
        uncorrected.image_embeddings[-1],
        image.features.embedding - forgotten,
        atol=TOLERANCE,
        rtol=0,
    )
    actual, _ = _decode_ours(ours, image, case, multimask=True)
    difference = uncorrected.pred_masks[0] - actual.mask_logits
    relative = (difference.norm() / actual.mask_logits.norm()).item()
    print(f"uncorrected pixel path: max abs {difference.abs().max().item():.2e}, rel-L2 {relative}")
    assert difference.abs().max() > 1000 * TOLERANCE
    assert relative > 0.01
