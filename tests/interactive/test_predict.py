"""Segmenter.predict end to end: the prompt reaches the model as Meta's predictor sends it,
masks are post-processed as Meta's, the head's features are computed once per image."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
import torch.nn.functional as F

from helpers.reference_components import component_areas_8
from helpers.transformers_tracker_reference import corrected_reference_outputs
from sam3lib import InteractiveUnavailableError, Segmenter
from sam3lib.interactive.predictor import fill_small_holes
from sam3lib.preprocess import preprocess

SIZE = 168  # the tiny model's input frame
ATOL = 1e-5


@pytest.fixture(scope="module")
def pixels(photo: npt.NDArray[np.uint8]) -> torch.Tensor:
    return preprocess(photo, SIZE).pixels


def _frame(xy: list[list[float]], photo: npt.NDArray[np.uint8]) -> torch.Tensor:
    """Image pixels -> pixels of the model's square frame, as Meta's predictor scales them."""
    height, width = photo.shape[:2]
    return torch.tensor(xy, dtype=torch.float64) * torch.tensor([SIZE / width, SIZE / height])


def _reference(tracker: Any, pixels: torch.Tensor, multimask: bool, **prompt: Any) -> Any:
    return corrected_reference_outputs(tracker, pixels, multimask_output=multimask, **prompt)


CASES = {
    "one click": ({"points": [[120.0, 70.0]], "point_labels": [1]}, True),
    "clicks with a negative": (
        {"points": [[120.0, 70.0], [30.5, 150.25], [200.0, 20.0]], "point_labels": [1, 0, 1]},
        False,
    ),
    "box": ({"box": [40.0, 30.0, 150.0, 120.0]}, False),
    "box and a click": ({"box": [40.0, 30.0, 150.0, 120.0], "points": [[90.0, 80.0]]}, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_predict_equals_the_reference_on_the_same_pixels(
    case: str,
    interactive_segmenter: Segmenter,
    tracker_reference: Any,
    photo: npt.NDArray[np.uint8],
    pixels: torch.Tensor,
) -> None:
    prompt, multimask = CASES[case]
    result = interactive_segmenter.predict(photo, multimask=multimask, max_hole_area=0, **prompt)

    reference_prompt: dict[str, torch.Tensor] = {}
    if "points" in prompt:
        reference_prompt["input_points"] = _frame(prompt["points"], photo).float()[None, None]
        labels = prompt.get("point_labels", [1] * len(prompt["points"]))
        reference_prompt["input_labels"] = torch.tensor(labels)[None, None]
    if "box" in prompt:
        corners = _frame([prompt["box"][:2], prompt["box"][2:]], photo).float()
        reference_prompt["input_boxes"] = corners.reshape(1, 1, 4)
    expected = _reference(tracker_reference, pixels, multimask, **reference_prompt)
    logits = expected.pred_masks[0, 0]
    np.testing.assert_allclose(result.logits, logits.clamp(-32, 32).numpy(), atol=ATOL)
    np.testing.assert_allclose(result.scores, expected.iou_scores[0, 0].numpy(), atol=ATOL)
    objects = expected.object_score_logits[0, 0].sigmoid().expand(len(result)).numpy()
    np.testing.assert_allclose(result.object_scores, objects, atol=ATOL)
    # Masks: the reference's logits resized to the image (bilinear, no corner alignment), > 0.
    resized = F.interpolate(logits[:, None], size=photo.shape[:2], mode="bilinear")[:, 0]
    decided = resized.abs() > 1e-4  # away from the threshold, where rounding cannot flip it
    assert np.array_equal(result.masks[decided.numpy()], (resized > 0)[decided].numpy())
    assert result.best == int(np.argmax(result.scores))


def test_refining_with_the_previous_logits_equals_the_reference(
    interactive_segmenter: Segmenter,
    tracker_reference: Any,
    photo: npt.NDArray[np.uint8],
    pixels: torch.Tensor,
) -> None:
    first = interactive_segmenter.predict(photo, points=[[120.0, 70.0]])
    clicks = [[120.0, 70.0], [60.0, 150.0]]
    refined = interactive_segmenter.predict(
        photo,
        points=clicks,
        point_labels=[1, 0],
        mask_input=first.logits[first.best],
        multimask=False,
        max_hole_area=0,
    )
    expected = _reference(
        tracker_reference,
        pixels,
        False,
        input_points=_frame(clicks, photo).float()[None, None],
        input_labels=torch.tensor([[[1, 0]]]),
        input_masks=torch.from_numpy(first.logits[first.best])[None, None],
    )
    np.testing.assert_allclose(refined.logits[0], expected.pred_masks[0, 0, 0].numpy(), atol=ATOL)
    without_mask = interactive_segmenter.predict(
        photo, points=clicks, point_labels=[1, 0], multimask=False, max_hole_area=0
    )
    assert np.abs(without_mask.logits - refined.logits).max() > 1e-2  # the mask was used


def test_a_batch_of_boxes_equals_each_box_alone(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    boxes = [[40.0, 30.0, 150.0, 120.0], [0.0, 0.0, 250.0, 190.0], [100.0, 100.0, 130.0, 180.0]]
    embedding = interactive_segmenter.encode_image(photo)
    together = interactive_segmenter.predict(embedding, boxes=boxes, multimask=False)
    assert len(together) == 3
    for index, box in enumerate(boxes):
        alone = interactive_segmenter.predict(embedding, box=box, multimask=False)
        np.testing.assert_allclose(together.logits[index], alone.logits[0], atol=ATOL)
        assert np.array_equal(together.masks[index], alone.masks[0])
    # multimask with several objects: each object's best candidate.
    best = interactive_segmenter.predict(embedding, boxes=boxes, multimask=True)
    for index, box in enumerate(boxes):
        alone = interactive_segmenter.predict(embedding, box=box, multimask=True)
        np.testing.assert_allclose(best.scores[index], alone.scores.max(), atol=ATOL)
    # A list of one box is still a list of objects: one mask, not three candidates.
    one = interactive_segmenter.predict(embedding, boxes=boxes[:1], multimask=True)
    assert len(one) == 1 and one.scores[0] == best.scores[0]


def test_the_heads_features_are_computed_once_per_image(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    embedding = interactive_segmenter.encode_image(photo)
    first = interactive_segmenter.predict(embedding, points=[[10.0, 10.0]])
    second = interactive_segmenter.predict(embedding, points=[[200.0, 100.0]])
    assert "encode_interactive" in first.timings
    assert "encode_interactive" not in second.timings
    assert embedding.interactive_features() is embedding.interactive_features()


def test_threads_clicking_one_embedding_agree(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    embedding = interactive_segmenter.encode_image(photo)
    clicks = [[[float(10 + 20 * i), float(5 + 15 * i)]] for i in range(8)]
    results: dict[int, npt.NDArray[np.float32]] = {}

    def click(index: int) -> None:
        results[index] = interactive_segmenter.predict(embedding, points=clicks[index]).logits

    threads = [threading.Thread(target=click, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in range(8):
        serial = interactive_segmenter.predict(embedding, points=clicks[index]).logits
        np.testing.assert_allclose(results[index], serial, atol=ATOL)


def test_a_detector_only_checkpoint_refuses_clicks_but_segments_text(
    tiny_checkpoint_dir: Path, photo: npt.NDArray[np.uint8]
) -> None:
    segmenter = Segmenter.from_pretrained(tiny_checkpoint_dir)  # transformers' Sam3Model files
    with pytest.raises(InteractiveUnavailableError, match="no interactive"):
        segmenter.predict(photo, points=[[10, 10]])
    with pytest.raises(InteractiveUnavailableError):
        segmenter.generate(photo, points_per_side=2)
    assert segmenter.segment(photo, "cat").image_size == photo.shape[:2]


def test_result_exports_carry_the_interactive_fields(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    result = interactive_segmenter.predict(photo, box=[40, 30, 150, 120], multimask=False)
    data = result.to_dict()
    assert data["best"] == 0 and data["label"] == "object"
    assert data["instances"][0]["object_score"] == pytest.approx(float(result.object_scores[0]))
    assert len(result.to_coco_rle()) == 1
    candidates = interactive_segmenter.predict(photo, points=[[120, 70]])
    best = candidates.best_only()
    assert len(best) == 1 and best.best == 0
    assert best.scores[0] == candidates.scores.max()
    assert np.array_equal(best.logits[0], candidates.logits[candidates.best])
    assert np.array_equal(best.masks[0], candidates.masks[candidates.best])
    assert result.overlay(photo).size == (photo.shape[1], photo.shape[0])


@pytest.mark.parametrize("max_area", [1, 5, 40])
def test_small_background_regions_are_filled_as_metas_predictor_does(max_area: int) -> None:
    generator = torch.Generator().manual_seed(max_area)
    logits = torch.randn(3, 24, 24, generator=generator) + 0.8
    filled = fill_small_holes(logits, max_area)
    for mask, result in zip(logits, filled, strict=True):
        areas = component_areas_8((mask <= 0).numpy())
        hole = (areas > 0) & (areas <= max_area)
        assert hole.any()  # the case is not trivial
        np.testing.assert_array_equal(result.numpy()[hole], 10.0)
        np.testing.assert_array_equal(result.numpy()[~hole], mask.numpy()[~hole])


def test_holes_are_filled_before_resizing(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    plain = interactive_segmenter.predict(photo, points=[[120, 70]], max_hole_area=0)
    filled = interactive_segmenter.predict(photo, points=[[120, 70]], max_hole_area=10_000)
    np.testing.assert_array_equal(plain.logits, filled.logits)  # returned logits: unfilled
    assert filled.masks.sum() >= plain.masks.sum()
    assert (filled.masks | ~plain.masks).all()  # filling only adds pixels
