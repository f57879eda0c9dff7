"""Text tracking (:class:`~sam3lib.video.text_tracking.TextTracker` through
``Segmenter.track``) against transformers' ``Sam3VideoModel`` on the same tiny random
weights and the same frames.

The reference is aligned to Meta by :func:`helpers.text_video_reference.meta_aligned` (its
docstring lists each patch): geometry CLS token and score clipping (facts #9), NMS and hole
filling through a stand-in for the missing ``kernels`` CUDA kernel (#13), Meta's newborn
mask prompt, mask-as-output and newborn-only tracker call (#4, #5, #10), Meta's memory write
at 16·G with shrink suppression there (#12), Meta's re-conditioning (#11), and the
pairing of a frame's masks and scores with the objects tracked before its hot-start
removals (transformers pairs them after, so each goes to the next object).

Thresholds are the same on both sides (``CONFIG_FIELDS``): detections > 0.5, births >= 0.75,
at most 3 objects, hot start over 4 frames (2 unmatched or 2 duplicate frames remove), so
that on 4 frames objects are born, tracked and removed by hot start. Re-conditioning is off
in that run and on in a second one (``RECONDITION_CONFIG``: every 2nd frame, low IoUs, so
that object 0 is re-conditioned on frame 2 and reported on frames 2 and 3). Memory selection
is off on our side (transformers has none, facts #8; its control is in
test_point_tracking_parity.py).

Controls: with any one patch off the reference reports other ids, scores or low-res logits
on some frame; except ``score_clip`` (no score reaches the clip on this reference) and
``memory_write`` (nothing here sits near the shrink threshold; its control gives both
memory writes a constructed pair of objects that does).

Status: object ids, reported scores (1e-4) and masks (IoU >= 0.99) agree on every frame of
both runs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from torch import Tensor

from helpers.text_video_reference import (
    IMAGE_SIZE,
    PATCHES,
    ReferenceFrame,
    build_text_video_reference,
    meta_aligned,
    meta_update_memories,
    reference_track,
    save_reference,
    transformers_thresholds,
)
from sam3lib import Segmenter
from sam3lib.preprocess import preprocess
from sam3lib.video.result import TrackedFrame
from sam3lib.video.tracking_config import TrackingConfig

CONFIG = TrackingConfig(
    detection_score_threshold=0.5,
    new_object_score=0.75,
    max_objects=3,
    hotstart_frames=4,
    hotstart_unmatched_frames=2,
    hotstart_duplicate_frames=2,
    recondition_every=0,
    memory_selection_threshold=None,  # transformers does not select (facts #8)
)
# The random detector's detections barely overlap the tracks (IoU about 0.04): association
# and re-conditioning IoUs at 0.03 let object 0 be matched and re-conditioned on frame 2.
RECONDITION_CONFIG = replace(
    CONFIG,
    detection_match_iou=0.03,
    track_match_iou=0.03,
    recondition_every=2,
    recondition_detection_score=0.5,
    recondition_object_logit=0.5,  # transformers: one threshold for both (high_conf_thresh)
    recondition_iou=0.03,
)
VIDEO_SIZE = (120, 160)


def clip(num_frames: int) -> list[np.ndarray]:
    """A still scene (a disc, a box, fixed noise) with fresh faint noise per frame: the
    random detector's scores stay near the thresholds from frame to frame."""
    rows, cols = np.mgrid[0 : VIDEO_SIZE[0], 0 : VIDEO_SIZE[1]]
    base = np.zeros((*VIDEO_SIZE, 3), np.int64)
    base[..., 0] = 255 * (((rows - 50) ** 2 + (cols - 50) ** 2) < 25**2)
    base[..., 1] = 255 * ((abs(rows - 70) < 20) & (abs(cols - 115) < 25))
    base[..., 2] = 128
    base += np.random.default_rng(0).integers(0, 40, base.shape)
    return [
        np.clip(base + np.random.default_rng(t + 1).integers(0, 8, base.shape), 0, 255).astype(
            np.uint8
        )
        for t in range(num_frames)
    ]


@pytest.fixture(scope="module")
def reference() -> Any:
    return build_text_video_reference(seed=0, **transformers_thresholds(CONFIG))


@pytest.fixture(scope="module")
def segmenter(
    reference: Any, shared_reference: Path, tmp_path_factory: pytest.TempPathFactory
) -> Segmenter:
    directory = tmp_path_factory.mktemp("text_video_reference")
    save_reference(reference, directory, shared_reference / "clip_bpe_simple_vocab_16e6.txt.gz")
    return Segmenter.from_pretrained(directory)


def reference_run(
    reference: Any, segmenter: Segmenter, num_frames: int, without: Collection[str] = ()
) -> list[ReferenceFrame]:
    """The reference over the first ``num_frames`` of :func:`clip`, aligned to Meta except
    for the patches in ``without``."""
    pixels = torch.cat([preprocess(f, IMAGE_SIZE).pixels for f in clip(num_frames)])
    tokens = segmenter.tokenizer.encode("person")
    with meta_aligned(reference, without=without):
        return reference_track(reference, pixels, VIDEO_SIZE, tokens.ids, tokens.attention_mask)


def run_both(
    reference: Any, segmenter: Segmenter, num_frames: int, config: TrackingConfig = CONFIG
) -> tuple[list[ReferenceFrame], list[TrackedFrame]]:
    theirs = reference_run(reference, segmenter, num_frames)
    ours = list(segmenter.track(clip(num_frames), "person", config=config))
    return theirs, ours


@pytest.fixture(scope="module")
def four_frames(reference: Any, segmenter: Segmenter) -> Any:
    return run_both(reference, segmenter, 4)


@pytest.fixture(scope="module")
def reconditioning_reference() -> Any:
    return build_text_video_reference(seed=0, **transformers_thresholds(RECONDITION_CONFIG))


@pytest.fixture(scope="module")
def reconditioned(reconditioning_reference: Any, segmenter: Segmenter) -> Any:
    """The re-conditioning run: both sides, and whether ours re-conditioned on frame 2."""
    theirs = reference_run(reconditioning_reference, segmenter, 4)
    video = segmenter.track(clip(4), "person", config=RECONDITION_CONFIG)
    ours = list(video)
    banks = video.tracker._banks  # type: ignore[union-attr]
    return theirs, ours, any(2 in bank.conditioning for bank in banks.values())


def assert_ids_and_scores_match(theirs: list[ReferenceFrame], ours: list[TrackedFrame]) -> None:
    assert [f.index for f in ours] == [f.frame_index for f in theirs]
    for mine, their in zip(ours, theirs, strict=True):
        assert mine.object_ids.tolist() == their.object_ids, mine.index
        np.testing.assert_allclose(mine.scores, their.scores.numpy(), rtol=0, atol=1e-4)


def assert_masks_match(theirs: list[ReferenceFrame], ours: list[TrackedFrame]) -> None:
    for mine, their in zip(ours, theirs, strict=True):
        for row, object_id in enumerate(mine.object_ids.tolist()):
            expected = their.masks[their.object_ids.index(object_id)].numpy()
            union = (mine.masks[row] | expected).sum()
            assert (mine.masks[row] & expected).sum() / max(union, 1) >= 0.99, mine.index


def test_first_frames_ids_and_scores_match_reference(reference: Any, segmenter: Segmenter) -> None:
    """Two frames: a birth on frame 0, tracking and a birth on frame 1."""
    assert_ids_and_scores_match(*run_both(reference, segmenter, 2))


def test_ids_and_scores_match_reference(four_frames: Any) -> None:
    """Four frames: births, the object limit, hot-start removals (reported frames hide the
    removed objects), a late birth that shows."""
    theirs, ours = four_frames
    assert_ids_and_scores_match(theirs, ours)
    assert any(f.removed for f in theirs)  # hot start removed something
    assert any(len(f.object_ids) for f in ours)  # something shows


def test_tracked_masks_match_reference(four_frames: Any) -> None:
    """Every reported mask (tracked, newborn, after hot-start removals) at IoU >= 0.99."""
    assert_masks_match(*four_frames)


def test_reconditioned_tracks_match_reference(reconditioned: Any) -> None:
    """Re-conditioning on: object 0 is re-conditioned on frame 2 (Meta's way on both
    sides); ids, scores and masks agree on every frame, frame 3 read from that frame."""
    theirs, ours, reconditioned_on_frame_2 = reconditioned
    assert reconditioned_on_frame_2
    assert_ids_and_scores_match(theirs, ours)
    assert_masks_match(theirs, ours)
    assert 0 in theirs[3].object_ids  # the re-conditioned object shows after it


def outputs_differ(a: list[ReferenceFrame], b: list[ReferenceFrame]) -> bool:
    """Some frame reports other ids or scores, or some object other low-res logits."""
    return any(
        x.object_ids != y.object_ids
        or not torch.equal(x.scores, y.scores)
        or x.low_res.keys() != y.low_res.keys()
        or any(not torch.equal(x.low_res[i], y.low_res[i]) for i in x.low_res)
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("patch", [p for p in PATCHES if p not in {"score_clip", "memory_write"}])
def test_each_alignment_patch_changes_the_reference(
    patch: str,
    reference: Any,
    reconditioning_reference: Any,
    segmenter: Segmenter,
    four_frames: Any,
    reconditioned: Any,
) -> None:
    """Control, one per patch of ``meta_aligned``: the reference with that patch off reports
    other ids, scores or low-res logits on some frame than the aligned one (which ours
    equals, above), so each patch is a real difference between Meta and transformers on
    this run. Re-conditioning is controlled on the re-conditioning run (transformers reports
    the detection's mask on the re-conditioned frame and keeps the tracked pointer).

    ``score_clip`` has no control: the presence probability of this reference stays under
    0.999, so no score reaches Meta's clip at 0.999, and the lower clip (0.001) sits below
    every threshold.
    """
    if patch == "reconditioning":
        model, aligned = reconditioning_reference, reconditioned[0]
    else:
        model, aligned = reference, four_frames[0]
    assert outputs_differ(reference_run(model, segmenter, 4, without={patch}), aligned)


def shrinking_pair(size: int) -> Tensor:
    """Low-res logits of two objects whose shrink decision depends on the resolution.

    Object 0 is a 10 x 10 square (+5 inside, -1 outside); object 1 (+6 inside, -20 outside)
    covers 9 x 8 of it and wins those pixels. At this size object 0 keeps 28 of its 100
    pixels, under the 0.3 shrink threshold, so it is suppressed. Bilinear at 16·G (4x) its
    edge moves out (its outside is only -1) and object 1's moves in (-20): it keeps 660 of
    1680 pixels, 0.39, and stays.
    """
    logits = torch.empty(2, size, size)
    logits[0], logits[1] = -1.0, -20.0
    logits[0, :10, :10] = 5.0
    logits[1, :9, :8] = 6.0
    return logits


def test_memory_write_patch_changes_the_memory(reference: Any, segmenter: Segmenter) -> None:
    """Control for ``memory_write``, at the memory it writes.

    transformers and Meta write memories alike except where shrink suppression runs (low-res
    logits vs bilinear at 16·G, #12), and on this run no object sits near the 0.3 shrink
    threshold: the patch leaves outputs and memories equal up to rounding (one bf16 step in
    one memory on one CPU, nothing on another). So on the first frame with two tracked
    objects both writes get :func:`shrinking_pair`: transformers suppresses object 0 (its
    memory becomes an absent object's), Meta keeps it; object 1 is written alike.
    """
    transformers_write = type(reference)._tracker_update_memories
    written: dict[str, list[Tensor]] = {}

    def stored(session: Any, frame: int) -> list[Tensor]:
        outputs = session.output_dict_per_obj
        return [outputs[i]["non_cond_frame_outputs"][frame]["maskmem_features"] for i in (0, 1)]

    def both_writes(
        self: Any,
        inference_session: Any,
        frame_idx: int,
        low_res_masks: Tensor,
        reconditioned_masks: Any = None,
    ) -> None:
        session, frame = inference_session, frame_idx
        if not written and len(session.obj_ids) == 2:
            logits = shrinking_pair(low_res_masks.shape[-1])
            transformers_write(self, session, frame, logits.clone())
            written["transformers"] = stored(session, frame)
            meta_update_memories(self, session, frame, logits.clone())
            written["meta"] = stored(session, frame)
        transformers_write(self, session, frame, low_res_masks, reconditioned_masks)

    with mock.patch.object(type(reference), "_tracker_update_memories", both_writes):
        reference_run(reference, segmenter, 3, without={"memory_write"})
    assert written, "no frame of the run had two tracked objects"
    meta, transformers = ([m.float() for m in written[side]] for side in ("meta", "transformers"))
    assert (meta[0] - transformers[0]).abs().max() > 1.0
    torch.testing.assert_close(meta[1], transformers[1], rtol=0, atol=0.1)
