"""The tracked objects' book-keeping across frames: numbering, hot-start removal, keep-alive
hiding and last occlusion, one :meth:`TrackLifecycle.step` per frame.

Meta's ``_process_hotstart``, ``_suppress_overlapping_based_on_recent_occlusion`` and the
metadata update of ``run_tracker_update_planning_phase`` (sam3 0.1.4), without the model: the
caller runs the detector and tracker and hands over masks and the frame's
:class:`~sam3lib.video.association.Association`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import check_masks
from sam3lib.video.association import Association
from sam3lib.video.overlaps import ALWAYS_OCCLUDED, NEVER_OCCLUDED, occlusion_suppression
from sam3lib.video.tracking_config import TrackingConfig

__all__ = ["FrameUpdate", "TrackLifecycle"]


@dataclass(frozen=True, eq=False)
class FrameUpdate:
    """What one frame changed.

    Attributes:
        frame_index: the frame.
        track_ids: the objects tracked when the frame began, in tracker order: the tracks of
            the frame's association, masks and object logits.
        new_object_ids: objects born on the frame, one per admitted detection, in its order.
        removed_ids: objects hot start removed on the frame (not tracked from the next one,
            hidden in every output not yet emitted).
        hidden_ids: objects keep-alive hides on this frame only (still tracked).
        blanked: (T,) bool over ``track_ids``, tracks whose masks occlusion suppression
            blanks on this frame (:func:`~sam3lib.video.overlaps.blank_masks`).
    """

    frame_index: int
    track_ids: tuple[int, ...]
    new_object_ids: tuple[int, ...]
    removed_ids: frozenset[int]
    hidden_ids: frozenset[int]
    blanked: torch.Tensor


class TrackLifecycle:
    """Per-object state of a text-prompted video: ids, births, hot-start counters.

    Objects are numbered 0, 1, 2 … in birth order (each frame's new objects in the order of
    their admitted detections); a removed id is never reused. Hot start removes an object
    while it is young (born after frame ``t - hotstart_frames`` when tracking forward, before
    ``t + hotstart_frames`` in reverse) once it has had ``hotstart_unmatched_frames`` frames
    with a non-empty, unmatched mask, or ``hotstart_duplicate_frames`` frames touching the
    same detection as one particular older object; the frames need not be consecutive and may
    predate a reversal of direction. An object older than that is never removed. transformers
    does the same, except that it removes nothing when fed frame by frame (``frame=``).

    Example:
        >>> from sam3lib.video.association import associate
        >>> lifecycle = TrackLifecycle()
        >>> detections = torch.zeros(1, 8, 8, dtype=torch.bool)
        >>> detections[0, :4, :4] = True
        >>> empty = torch.zeros(0, 8, 8, dtype=torch.bool)
        >>> found = associate(empty, detections, torch.tensor([0.75]))
        >>> update = lifecycle.step(0, found, empty, found.new_detections, torch.tensor([0.75]))
        >>> update.new_object_ids
        (0,)
        >>> lifecycle.object_ids, lifecycle.birth_score(0)
        ((0,), 0.75)
    """

    def __init__(self, config: TrackingConfig | None = None) -> None:
        self.config = config if config is not None else TrackingConfig()
        self._object_ids: list[int] = []
        self._next_id = 0
        self._birth_scores: dict[int, float] = {}
        self._first_frames: dict[int, int] = {}
        self._unmatched_counts: dict[int, int] = {}
        # (older object, younger object) -> frames on which both touched one detection.
        self._duplicate_counts: dict[tuple[int, int], int] = {}
        self._keep_alive: dict[int, int] = {}
        self._removed: set[int] = set()
        self._removed_at: dict[int, int] = {}  # removed object -> the frame it was removed on
        self._last_occluded: dict[int, int] = {}
        self._last_frame = 0

    @property
    def object_ids(self) -> tuple[int, ...]:
        """Objects tracked now, in tracker order (increasing ids)."""
        return tuple(self._object_ids)

    @property
    def removed_ids(self) -> frozenset[int]:
        """The objects removed (by hot start or :meth:`remove`) within the last
        ``hotstart_frames`` frames: every one a frame not yet reported may show."""
        return frozenset(self._removed)

    def remove(self, object_id: int) -> None:
        """Removes an object on request (the user's): not tracked from the next frame on and,
        like hot start's removals, hidden in every output not yet emitted.

        Raises:
            InputError: no tracked object has this id.
        """
        if object_id not in self._object_ids:
            known = ", ".join(map(str, self._object_ids)) or "none"
            raise InputError(f"object_id: no tracked object {object_id} (tracked: {known})")
        self._object_ids.remove(object_id)
        self._removed.add(object_id)
        self._removed_at[object_id] = self._last_frame

    def birth_score(self, object_id: int) -> float:
        """The detection score the object was born with: its reported score on every frame."""
        return self._birth_scores[object_id]

    def first_frame(self, object_id: int) -> int:
        """The frame the object was born on."""
        return self._first_frames[object_id]

    def step(
        self,
        frame_index: int,
        association: Association,
        track_masks: torch.Tensor,
        admitted_detections: torch.Tensor,
        detection_scores: torch.Tensor,
        *,
        reverse: bool = False,
    ) -> FrameUpdate:
        """Books one frame: births, hot-start removals, keep-alive, occlusion suppression.

        Args:
            frame_index: the frame.
            association: the frame's association of detections with :attr:`object_ids`.
            track_masks: (T, h, w) bool, the tracks' masks it was computed from.
            admitted_detections: (K,) int64 detections that become objects, in numbering order
                (:func:`~sam3lib.video.association.limit_new_detections`).
            detection_scores: (D,) float, the frame's detection scores.
            reverse: tracking towards earlier frames.

        Returns:
            The :class:`FrameUpdate`; :attr:`object_ids` then lists the objects to track on
            the next frame (these, minus the removed, plus the born).

        Raises:
            InputError: the association or masks do not cover :attr:`object_ids`.
        """
        track_ids = tuple(self._object_ids)
        check_masks(track_masks, "track_masks")
        if association.track_matched.shape[0] != len(track_ids) or track_masks.shape[0] != len(
            track_ids
        ):
            raise InputError(
                f"association and track_masks must cover the {len(track_ids)} tracked objects, "
                f"got {association.track_matched.shape[0]} and {track_masks.shape[0]}"
            )
        new_ids = self._admit(frame_index, admitted_detections, detection_scores)
        self._count_matches(track_ids, association)
        removed, hidden = self._apply_hotstart(frame_index, track_ids, association, reverse)
        blanked = self._suppress_occluded(frame_index, track_ids, track_masks, removed, reverse)
        self._removed |= removed
        self._removed_at.update(dict.fromkeys(removed, frame_index))
        self._last_frame = frame_index
        self._forget_removed(frame_index)
        self._object_ids = [i for i in self._object_ids + list(new_ids) if i not in removed]
        return FrameUpdate(
            frame_index=frame_index,
            track_ids=track_ids,
            new_object_ids=new_ids,
            removed_ids=frozenset(removed),
            hidden_ids=frozenset(hidden),
            blanked=blanked,
        )

    def _forget_removed(self, frame_index: int) -> None:
        """Drops what is kept about objects removed more than ``hotstart_frames`` frames ago:
        no frame still waiting to be reported can show them, and their counters can no
        longer remove anyone (so a long stream's book-keeping stays bounded)."""
        window = self.config.hotstart_frames
        gone = {i for i, at in self._removed_at.items() if abs(frame_index - at) > window}
        if not gone:
            return
        for table in (
            self._birth_scores,
            self._first_frames,
            self._unmatched_counts,
            self._keep_alive,
            self._removed_at,
        ):
            for object_id in gone:
                table.pop(object_id, None)
        self._removed -= gone
        self._duplicate_counts = {
            pair: count
            for pair, count in self._duplicate_counts.items()
            if not gone.intersection(pair)
        }

    def _admit(
        self, frame_index: int, admitted: torch.Tensor, detection_scores: torch.Tensor
    ) -> tuple[int, ...]:
        scores = detection_scores[admitted.to(detection_scores.device)].tolist()
        new_ids = tuple(range(self._next_id, self._next_id + len(scores)))
        self._next_id += len(scores)
        for object_id, score in zip(new_ids, scores, strict=True):
            self._birth_scores[object_id] = float(score)
            self._first_frames[object_id] = frame_index
            self._keep_alive[object_id] = self.config.keep_alive_initial
        return new_ids

    def _count_matches(self, track_ids: tuple[int, ...], association: Association) -> None:
        config = self.config
        for track in association.touched_tracks:
            object_id = track_ids[track]
            self._keep_alive[object_id] = min(
                config.keep_alive_max, self._keep_alive.get(object_id, 0) + 1
            )
        decreasing = association.track_unmatched
        if config.keep_alive_decrease_when_empty:
            decreasing = decreasing | association.track_empty
        for track, unmatched in enumerate(association.track_unmatched.tolist()):
            if unmatched:
                object_id = track_ids[track]
                self._unmatched_counts[object_id] = self._unmatched_counts.get(object_id, 0) + 1
        for track in torch.nonzero(decreasing).flatten().tolist():
            object_id = track_ids[track]
            self._keep_alive[object_id] = max(
                config.keep_alive_min, self._keep_alive.get(object_id, 0) - 1
            )

    def _is_young(self, object_id: int, frame_index: int, reverse: bool) -> bool:
        born = self._first_frames[object_id]
        window = self.config.hotstart_frames
        return born < frame_index + window if reverse else born > frame_index - window

    def _apply_hotstart(
        self,
        frame_index: int,
        track_ids: tuple[int, ...],
        association: Association,
        reverse: bool,
    ) -> tuple[set[int], set[int]]:
        config = self.config
        removed: set[int] = set()
        hidden: set[int] = set()
        for object_id, count in self._unmatched_counts.items():
            if object_id in self._removed:
                continue
            if count >= config.hotstart_unmatched_frames and self._is_young(
                object_id, frame_index, reverse
            ):
                removed.add(object_id)
            elif (
                not config.suppress_unmatched_only_within_hotstart
                and self._keep_alive.get(object_id, 0) <= 0
            ):
                hidden.add(object_id)
        # The oldest object on a shared detection (the first listed on equal birth frames) is
        # the original; every other one there gets a frame against it.
        pick_oldest = max if reverse else min
        for tracks in association.detection_tracks:
            if len(tracks) < 2:
                continue
            object_ids = [track_ids[track] for track in tracks]
            oldest = pick_oldest(object_ids, key=self._first_frames.__getitem__)
            for object_id in object_ids:
                if object_id != oldest:
                    pair = (oldest, object_id)
                    self._duplicate_counts[pair] = self._duplicate_counts.get(pair, 0) + 1
        for (_, object_id), count in self._duplicate_counts.items():
            if (
                object_id not in self._removed
                and count >= config.hotstart_duplicate_frames
                and self._is_young(object_id, frame_index, reverse)
            ):
                removed.add(object_id)
        return removed, hidden

    def _suppress_occluded(
        self,
        frame_index: int,
        track_ids: tuple[int, ...],
        track_masks: torch.Tensor,
        removed: set[int],
        reverse: bool,
    ) -> torch.Tensor:
        if self.config.occlusion_iou == 0 or not track_ids:
            self._last_occluded = {}
            return torch.zeros(len(track_ids), dtype=torch.bool, device=track_masks.device)
        # An object removed on its first tracked frame has no record yet: it yields to any
        # overlapping object that was ever occluded.
        last = torch.tensor(
            [
                self._last_occluded.get(
                    object_id, ALWAYS_OCCLUDED if object_id in removed else NEVER_OCCLUDED
                )
                for object_id in track_ids
            ],
            dtype=torch.int64,
            device=track_masks.device,
        )
        blanked = occlusion_suppression(track_masks, last, self.config, reverse=reverse)
        empty = ~track_masks.flatten(1).any(dim=1)
        last = torch.where(empty | blanked, frame_index, last)
        self._last_occluded = {
            object_id: frame
            for object_id, frame in zip(track_ids, last.tolist(), strict=True)
            if object_id not in removed
        }
        return blanked
