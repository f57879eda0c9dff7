"""The per-frame control logic against Meta's own code (sam3 0.1.4) on random inputs, and its
defaults against Meta's builder and transformers' ``Sam3VideoConfig``.

Meta's ``sam3_video_base`` and ``sam3_tracking_predictor`` load without their CUDA-only
imports (triton's distance transform, the training collator, the SAM decoder …), which
stand-ins replace while they load; the methods compared call none of them. Hole filling is
not compared (it needs a connected-components backend Meta's CPU path takes from
scikit-image).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.util
import inspect
import random
import sys
import types
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch

from helpers.meta_sam3 import bare_package, meta_sam3_root, stand_in
from sam3lib.postprocess.boxes import boxes_from_masks
from sam3lib.video.association import (
    associate,
    limit_new_detections,
    nms_detections,
    reconditioning_candidates,
)
from sam3lib.video.frame_output import resolve_output_overlaps
from sam3lib.video.lifecycle import TrackLifecycle
from sam3lib.video.overlaps import (
    keep_highest_per_pixel,
    occlusion_suppression,
    suppress_shrunk_masks,
)
from sam3lib.video.tracking_config import TrackingConfig

SIZE = 16

# Our field -> Meta's Sam3VideoBase argument.
META_ARGUMENTS = {
    "detection_score_threshold": "score_threshold_detection",
    "nms_iou_threshold": "det_nms_thresh",
    "detection_match_iou": "assoc_iou_thresh",
    "track_match_iou": "trk_assoc_iou_thresh",
    "new_object_score": "new_det_thresh",
    "hotstart_frames": "hotstart_delay",
    "hotstart_unmatched_frames": "hotstart_unmatch_thresh",
    "hotstart_duplicate_frames": "hotstart_dup_thresh",
    "suppress_unmatched_only_within_hotstart": "suppress_unmatched_only_within_hotstart",
    "keep_alive_initial": "init_trk_keep_alive",
    "keep_alive_max": "max_trk_keep_alive",
    "keep_alive_min": "min_trk_keep_alive",
    "keep_alive_decrease_when_empty": "decrease_trk_keep_alive_for_empty_masklets",
    "occlusion_iou": "suppress_overlapping_based_on_recent_occlusion_threshold",
    "fill_hole_area": "fill_hole_area",
    "recondition_every": "recondition_every_nth_frame",
}

# Our field -> transformers' Sam3VideoConfig field, where the name differs.
TRANSFORMERS_FIELDS = {
    **META_ARGUMENTS,
    "recondition_detection_score": "high_conf_thresh",
    "recondition_iou": "high_iou_thresh",
    "recondition_object_logit": "high_conf_thresh",
}


# --- loading Meta ------------------------------------------------------------------------


@functools.cache
def _meta_modules() -> types.SimpleNamespace:
    root = meta_sam3_root()
    unused = object()
    modules = {
        "sam3": bare_package("sam3", root),
        "sam3.model": bare_package("sam3.model", root / "model"),
        "sam3.perflib": bare_package("sam3.perflib", root / "perflib"),
        "sam3.model.sam3_tracker_utils": stand_in(
            "u",
            fill_holes_in_mask_scores=unused,
            mask_to_box=unused,
            get_1d_sine_pe=unused,
            select_closest_cond_frames=unused,
        ),
        "sam3.model.memory": stand_in("m", SimpleMaskEncoder=unused),
        "sam3.model.box_ops": stand_in("b", fast_diag_box_iou=unused),
        "sam3.model.utils": bare_package("sam3.model.utils"),
        "sam3.model.utils.sam2_utils": stand_in("s", load_video_frames=unused),
        "sam3.sam": bare_package("sam3.sam"),
        "sam3.sam.mask_decoder": stand_in("d", MaskDecoder=unused, MLP=unused),
        "sam3.sam.prompt_encoder": stand_in("p", PromptEncoder=unused),
        "sam3.sam.transformer": stand_in("t", TwoWayTransformer=unused),
        "sam3.train": bare_package("sam3.train"),
        "sam3.train.masks_ops": stand_in("o", rle_encode=unused),
        "sam3.train.data": bare_package("sam3.train.data"),
        "sam3.train.data.collator": stand_in("c", BatchedDatapoint=unused),
        "timm": bare_package("timm"),
        "timm.layers": stand_in("l", DropPath=unused, trunc_normal_=unused),
    }
    importlib.import_module("torch.distributed")
    importlib.import_module("tqdm.auto")
    with mock.patch.dict(sys.modules, modules):
        return types.SimpleNamespace(
            root=root,
            video_base=importlib.import_module("sam3.model.sam3_video_base"),
            nms=importlib.import_module("sam3.perflib.nms"),
            masks_ops=importlib.import_module("sam3.perflib.masks_ops"),
            predictor=importlib.import_module("sam3.model.sam3_tracking_predictor"),
        )


@pytest.fixture(scope="module")
def meta() -> types.SimpleNamespace:
    return _meta_modules()


def meta_video(meta: types.SimpleNamespace, config: TrackingConfig) -> Any:
    """Meta's Sam3VideoBase (no detector, no tracker) with ``config``'s thresholds."""
    arguments = {meta_name: getattr(config, ours) for ours, meta_name in META_ARGUMENTS.items()}
    arguments["max_num_objects"] = -1 if config.max_objects is None else config.max_objects
    return meta.video_base.Sam3VideoBase(detector=None, tracker=None, **arguments)


def meta_tracker(meta: types.SimpleNamespace) -> Any:
    """Meta's Sam3TrackerPredictor, unbuilt: only its pure mask methods are called."""
    return object.__new__(meta.predictor.Sam3TrackerPredictor)


# --- random masks ------------------------------------------------------------------------


def random_box(generator: random.Random) -> tuple[int, int, int, int]:
    top, left = generator.randrange(SIZE - 2), generator.randrange(SIZE - 2)
    return (
        top,
        left,
        generator.randrange(top + 1, SIZE + 1),
        generator.randrange(left + 1, SIZE + 1),
    )


def jittered(generator: random.Random, box: tuple[int, int, int, int]) -> tuple[int, ...]:
    top, left, bottom, right = (edge + generator.randint(-1, 1) for edge in box)
    top, left = min(max(top, 0), SIZE - 1), min(max(left, 0), SIZE - 1)
    return top, left, min(max(bottom, top + 1), SIZE), min(max(right, left + 1), SIZE)


def masks_of(boxes: list[tuple[int, ...]]) -> torch.Tensor:
    masks = torch.zeros(len(boxes), SIZE, SIZE, dtype=torch.bool)
    for mask, box in zip(masks, boxes, strict=True):
        if box:
            top, left, bottom, right = box
            mask[top:bottom, left:right] = True
    return masks


def logits_of(masks: torch.Tensor) -> torch.Tensor:
    return torch.where(masks, 1.0, -1.0)


def random_masks(generator: random.Random, count: int, pool: int = 4) -> torch.Tensor:
    """Masks jittered around a few shared boxes (so that many overlap), some empty."""
    anchors = [random_box(generator) for _ in range(pool)]
    boxes = [
        () if generator.random() < 0.1 else jittered(generator, generator.choice(anchors))
        for _ in range(count)
    ]
    return masks_of(boxes)


SEEDS = range(40)


# --- detections and association ----------------------------------------------------------


@pytest.mark.parametrize("iou", [0.1, 0.5])
def test_nms_matches_meta(meta: types.SimpleNamespace, iou: float) -> None:
    config = TrackingConfig(nms_iou_threshold=iou)
    for seed in SEEDS:
        generator = random.Random(seed)
        masks = random_masks(generator, generator.randrange(12))
        scores = torch.tensor([generator.uniform(0.3, 1.0) for _ in range(masks.shape[0])])
        expected = meta.nms.nms_masks(scores, logits_of(masks), 0.5, iou)
        assert (
            nms_detections(masks, scores, config).tolist()
            == torch.nonzero(expected).flatten().tolist()
        )


def test_association_matches_meta(meta: types.SimpleNamespace) -> None:
    config = TrackingConfig()
    video = meta_video(meta, config)
    for seed in SEEDS:
        generator = random.Random(seed)
        tracks = random_masks(generator, generator.randrange(6))
        detections = random_masks(generator, generator.randrange(6))
        scores = torch.tensor([generator.uniform(0.5, 1.0) for _ in range(detections.shape[0])])
        ids = np.arange(tracks.shape[0], dtype=np.int64) * 3 + 1
        new, unmatched, touching, confident, empty = video._associate_det_trk(
            logits_of(detections), scores.numpy(), logits_of(tracks), ids
        )
        found = associate(tracks, detections, scores, config)
        assert found.new_detections.tolist() == list(new)
        assert ids[found.track_unmatched.numpy()].tolist() == list(unmatched)
        assert ids[found.track_empty.numpy()].tolist() == list(empty)
        # Meta lists no detection on a frame without tracks; we list each with no track.
        ours_touching = {
            d: ids[list(t)].tolist() for d, t in enumerate(found.detection_tracks) if t
        }
        assert ours_touching == {d: list(t) for d, t in touching.items() if len(t)}
        always = torch.full((tracks.shape[0],), 100.0)
        pairs = reconditioning_candidates(0, found, scores, always, config)
        assert [(int(ids[t]), d) for t, d in pairs.items()] == list(confident.items())


def test_object_limit_matches_meta(meta: types.SimpleNamespace) -> None:
    video = meta_video(meta, TrackingConfig())
    for seed in SEEDS:
        generator = random.Random(seed)
        count = generator.randrange(1, 8)
        scores = torch.tensor([generator.uniform(0.5, 1.0) for _ in range(count + 2)])
        new = torch.tensor(sorted(generator.sample(range(count + 2), count)))
        room = generator.randrange(count)
        config = TrackingConfig(max_objects=5 + room)
        expected = video._drop_new_det_with_obj_limit(new.numpy(), scores.numpy(), room)
        assert limit_new_detections(new, scores, 5, config).tolist() == list(expected)


# --- whole sequences: hot start, keep-alive, occlusion -----------------------------------

SEQUENCE_CONFIGS = {
    "default": TrackingConfig(),
    "short hot start": TrackingConfig(
        hotstart_frames=6, hotstart_unmatched_frames=3, hotstart_duplicate_frames=2
    ),
    "keep-alive, object limit": TrackingConfig(
        hotstart_frames=4,
        hotstart_unmatched_frames=4,
        hotstart_duplicate_frames=3,
        suppress_unmatched_only_within_hotstart=False,
        keep_alive_initial=2,
        keep_alive_max=3,
        keep_alive_decrease_when_empty=True,
        max_objects=6,
    ),
}


class _World:
    """A few boxes that detections and tracks jitter around; each object follows the box it
    was born on, now and then going empty or astray."""

    def __init__(self, seed: int) -> None:
        self.generator = random.Random(seed)
        self.anchors = [random_box(self.generator) for _ in range(5)]
        self.object_anchor: dict[int, int] = {}

    def detections(self) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        generator = self.generator
        chosen = [a for a in range(len(self.anchors)) if generator.random() < 0.6]
        chosen += [generator.randrange(len(self.anchors)) for _ in range(generator.randrange(3))]
        boxes = [jittered(generator, self.anchors[a]) for a in chosen]
        scores = torch.tensor([generator.uniform(0.5, 1.0) for _ in chosen])
        return masks_of(boxes), scores, chosen

    def tracks(self, object_ids: tuple[int, ...]) -> torch.Tensor:
        boxes: list[tuple[int, ...]] = []
        for object_id in object_ids:
            draw = self.generator.random()
            if draw < 0.15:
                boxes.append(())
            elif draw < 0.25:
                boxes.append(random_box(self.generator))
            else:
                boxes.append(jittered(self.generator, self.anchors[self.object_anchor[object_id]]))
        return masks_of(boxes)


def _meta_sequence_step(
    video: Any,
    state: dict[str, Any],
    frame: int,
    tracks: torch.Tensor,
    detections: torch.Tensor,
    scores: torch.Tensor,
    reverse: bool,
) -> dict[str, Any]:
    """Meta's planning phase without a tracker: association, object limit, hot start,
    occlusion, then its metadata update (``run_tracker_update_planning_phase``)."""
    object_ids = state["object_ids"]
    new, unmatched, touching, _, empty = video._associate_det_trk(
        logits_of(detections), scores.numpy(), logits_of(tracks), object_ids
    )
    if len(object_ids) + len(new) > video.max_num_objects:
        new = video._drop_new_det_with_obj_limit(
            new, scores.numpy(), video.max_num_objects - len(object_ids)
        )
    new_ids = state["max_id"] + 1 + np.arange(len(new))
    removed, state["rank0"] = video._process_hotstart(
        frame_idx=frame,
        num_frames=1000,
        reverse=reverse,
        det_to_matched_trk_obj_ids=touching,
        new_det_obj_ids=new_ids,
        empty_trk_obj_ids=empty,
        unmatched_trk_obj_ids=unmatched,
        rank0_metadata=state["rank0"],
        tracker_metadata=None,
    )
    previous = {"obj_ids_all_gpu": object_ids, "obj_id_to_last_occluded": state["occluded"]}
    current: dict[str, Any] = {"obj_id_to_last_occluded": {}}
    blanked = torch.zeros(len(object_ids), dtype=torch.bool)
    if len(object_ids) > 0:
        after = video._suppress_overlapping_based_on_recent_occlusion(
            frame, logits_of(tracks), previous, current, removed, reverse
        )
        blanked = (after == -10).flatten(1).all(dim=1)
    for object_id in removed:
        current["obj_id_to_last_occluded"].pop(object_id, None)
    state["occluded"] = current["obj_id_to_last_occluded"]
    kept = np.concatenate([object_ids, new_ids])
    state["object_ids"] = kept[~np.isin(kept, list(removed))]
    if len(new_ids):
        state["max_id"] = int(new_ids.max())
    return {
        "new": new.tolist(),
        "new_ids": new_ids.tolist(),
        "removed": set(removed),
        "hidden": set(state["rank0"]["suppressed_obj_ids"][frame]),
        "blanked": blanked.tolist(),
    }


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", list(SEQUENCE_CONFIGS))
def test_sequences_match_meta(meta: types.SimpleNamespace, name: str, reverse: bool) -> None:
    config = SEQUENCE_CONFIGS[name]
    totals = {"born": 0, "removed": 0, "hidden": 0, "blanked": 0}
    for seed in range(6):
        video = meta_video(meta, config)
        state = {
            "object_ids": np.array([], np.int64),
            "max_id": -1,
            "rank0": video._initialize_metadata()["rank0_metadata"],
            "occluded": {},
        }
        lifecycle = TrackLifecycle(config)
        world = _World(seed)
        for step_number in range(30):
            frame = 100 - step_number if reverse else step_number
            tracks = world.tracks(lifecycle.object_ids)
            detections, scores, anchors = world.detections()
            expected = _meta_sequence_step(video, state, frame, tracks, detections, scores, reverse)
            found = associate(tracks, detections, scores, config)
            admitted = limit_new_detections(
                found.new_detections, scores, len(lifecycle.object_ids), config
            )
            update = lifecycle.step(frame, found, tracks, admitted, scores, reverse=reverse)
            assert admitted.tolist() == expected["new"]
            assert list(update.new_object_ids) == expected["new_ids"]
            assert update.removed_ids == expected["removed"]
            assert update.hidden_ids == expected["hidden"]
            assert update.blanked.tolist() == expected["blanked"]
            assert list(lifecycle.object_ids) == state["object_ids"].tolist()
            for object_id, detection in zip(update.new_object_ids, admitted.tolist(), strict=True):
                world.object_anchor[object_id] = anchors[detection]
            totals["born"] += len(update.new_object_ids)
            totals["removed"] += len(update.removed_ids)
            totals["hidden"] += len(update.hidden_ids)
            totals["blanked"] += int(update.blanked.sum())
    # The random videos exercise what they compare.
    assert totals["born"] > 10 and totals["removed"] > 0 and totals["blanked"] > 0
    if not config.suppress_unmatched_only_within_hotstart:
        assert totals["hidden"] > 0


# --- overlaps ----------------------------------------------------------------------------


def test_occlusion_suppression_matches_meta(meta: types.SimpleNamespace) -> None:
    video = meta_video(meta, TrackingConfig())
    for seed in SEEDS:
        generator = random.Random(seed)
        masks = random_masks(generator, generator.randrange(1, 7), pool=2)
        last = torch.tensor([generator.choice([-1, 2, 5, 9]) for _ in range(masks.shape[0])])
        for reverse in (False, True):
            expected = video._get_objects_to_suppress_based_on_most_recently_occluded(
                masks, last, list(range(masks.shape[0])), None, reverse
            )
            assert occlusion_suppression(masks, last, reverse=reverse).tolist() == expected.tolist()


def _random_logits(generator: torch.Generator, count: int) -> torch.Tensor:
    """Logits in steps of 0.5 (so that ties happen) with a few strong blobs."""
    logits = torch.randint(-6, 3, (count, SIZE, SIZE), generator=generator) / 2.0
    return logits


def test_pixelwise_argmax_and_shrink_suppression_match_meta(meta: types.SimpleNamespace) -> None:
    tracker = meta_tracker(meta)
    generator = torch.Generator().manual_seed(0)
    for _ in SEEDS:
        count = int(torch.randint(1, 6, (1,), generator=generator))
        logits = _random_logits(generator, count)
        owned = tracker._apply_non_overlapping_constraints(logits.unsqueeze(1)).squeeze(1)
        assert torch.equal(keep_highest_per_pixel(logits), owned)
        expected = tracker._suppress_object_pw_area_shrinkage(logits.unsqueeze(1)).squeeze(1)
        assert torch.equal(suppress_shrunk_masks(logits), expected)


def test_output_overlaps_match_meta(meta: types.SimpleNamespace) -> None:
    tracker = meta_tracker(meta)
    for seed in SEEDS:
        generator = random.Random(seed)
        masks = random_masks(generator, generator.randrange(2, 7), pool=2)
        scores = torch.tensor([generator.choice([0.0, 0.3, 0.7, 0.9]) for _ in masks])
        expected = tracker._apply_object_wise_non_overlapping_constraints(
            masks.unsqueeze(1), scores.unsqueeze(1), background_value=0
        )
        assert torch.equal(resolve_output_overlaps(masks, scores), expected.squeeze(1) > 0)


def test_boxes_are_meta_boxes_one_pixel_wider(meta: types.SimpleNamespace) -> None:
    masks = random_masks(random.Random(0), 20)
    masks = masks[masks.flatten(1).any(dim=1)]
    expected = meta.masks_ops.masks_to_boxes(masks, list(range(masks.shape[0])))
    assert torch.equal(boxes_from_masks(masks), expected + torch.tensor([0.0, 0.0, 1.0, 1.0]))


# --- defaults ----------------------------------------------------------------------------


def _builder_arguments(root: Path, disambiguation: bool = True) -> dict[str, Any]:
    """The keyword arguments ``build_sam3_video_model`` passes to the video model with
    ``apply_temporal_disambiguation`` true or false (read from its source, not run)."""
    tree = ast.parse((root / "model_builder.py").read_text())
    builder = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "build_sam3_video_model"
    )
    branch = next(
        node
        for node in ast.walk(builder)
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "apply_temporal_disambiguation"
    )
    call = next(
        node
        for statement in (branch.body if disambiguation else branch.orelse)
        for node in ast.walk(statement)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Sam3VideoInferenceWithInstanceInteractivity"
    )
    arguments = {}
    for keyword in call.keywords:
        with contextlib.suppress(ValueError):  # a name, not a literal: compile_model=compile
            arguments[keyword.arg] = ast.literal_eval(keyword.value)
    return arguments


def _constant_in(function: Any, name: str) -> Any:
    """The value assigned to local ``name`` in ``function``'s source."""
    source = inspect.getsource(function)
    tree = ast.parse(inspect.cleandoc("\n" + source) if source.startswith(" ") else source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found")


def test_defaults_are_metas_builder_defaults(meta: types.SimpleNamespace) -> None:
    config = TrackingConfig()
    passed = _builder_arguments(meta.root)
    signature = inspect.signature(meta.video_base.Sam3VideoBase.__init__).parameters
    for ours, theirs in META_ARGUMENTS.items():
        expected = passed[theirs] if theirs in passed else signature[theirs].default
        assert getattr(config, ours) == expected, ours
    assert "max_num_objects" not in passed and signature["max_num_objects"].default == -1
    assert config.max_objects is None
    base, tracker = meta.video_base.Sam3VideoBase, meta.predictor.Sam3TrackerPredictor
    assert (
        _constant_in(base._associate_det_trk, "HIGH_CONF_THRESH")
        == config.recondition_detection_score
    )
    assert _constant_in(base._associate_det_trk, "HIGH_IOU_THRESH") == config.recondition_iou
    assert (
        _constant_in(base._recondition_masklets, "HIGH_CONF_THRESH")
        == config.recondition_object_logit
    )
    blank = _constant_in(base._suppress_overlapping_based_on_recent_occlusion, "NO_OBJ_LOGIT")
    assert blank == config.suppressed_mask_logit
    shrink = inspect.signature(tracker._suppress_shrinked_masks).parameters["shrink_threshold"]
    assert shrink.default == config.memory_min_area_kept


def test_defaults_are_transformers_defaults() -> None:
    from transformers import Sam3VideoConfig

    reference = Sam3VideoConfig()
    config = TrackingConfig()
    for ours, theirs in TRANSFORMERS_FIELDS.items():
        assert getattr(config, ours) == getattr(reference, theirs), ours
    assert reference.max_num_objects == 10000  # "effectively no limit"


def test_without_temporal_disambiguation_is_metas_ablation(meta: types.SimpleNamespace) -> None:
    ablation = _builder_arguments(meta.root, disambiguation=False)
    config = TrackingConfig.without_temporal_disambiguation()
    for ours, theirs in META_ARGUMENTS.items():
        if theirs in ablation:
            assert getattr(config, ours) == ablation[theirs], ours
