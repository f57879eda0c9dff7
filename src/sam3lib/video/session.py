"""What :meth:`Segmenter.track <sam3lib.Segmenter.track>` returns: a tracked video to iterate
frame by frame, to correct with clicks and to prune, and to save.

Iterating runs the model: frames are decoded, tracked and yielded one at a time (nothing is
preloaded), and iterating again re-runs with the corrections made since. A text-prompted video
(:class:`~sam3lib.video.text_tracking.TextTracker`) runs forward from frame 0; a click-prompted
one (:class:`~sam3lib.video.click_tracking.ClickTracker`) forward from its earliest prompted
frame, then backward from there to frame 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import torch
from tqdm.auto import tqdm

from sam3lib.backends import Backend
from sam3lib.errors import InputError
from sam3lib.interactive.prompts import PointsLike
from sam3lib.model.outputs import TextFeatures
from sam3lib.video.click_tracking import ClickTracker
from sam3lib.video.frame_encoder import FrameEncoder
from sam3lib.video.frames import FrameSource, VideoFrames, open_frames
from sam3lib.video.outputs import WrittenOutputs, write_outputs
from sam3lib.video.result import TrackedFrame
from sam3lib.video.text_tracking import TextTracker
from sam3lib.video.tracking_config import TrackingConfig

__all__ = ["ClickPrompts", "VideoTracking", "start_tracking"]

ClickPrompts = Mapping[int, Any]
"""Per object id: ``(points, labels)`` for ``points=``, ``[x0, y0, x1, y1]`` for ``boxes=``,
an (H, W) mask for ``masks=``."""


class VideoTracking:
    """A video being tracked; iterate it for :class:`~sam3lib.video.result.TrackedFrame`.

    Example:
        >>> video = seg.track("clip.mp4", "person")  # doctest: +SKIP
        >>> for frame in video:  # doctest: +SKIP
        ...     frame.index, frame.object_ids, frame.masks.shape, frame.boxes, frame.scores
        >>> clicks = {1: ([[410, 220]], [1])}  # object 1: one positive click
        >>> video = seg.track("clip.mp4", points=clicks, frame=0)  # doctest: +SKIP
        >>> video.add_points(frame=40, object_id=1, points=[[300, 200]],
        ...                  labels=[0])  # doctest: +SKIP
        >>> video.save(video="out.mp4", json="out.json", mot="out.txt")  # doctest: +SKIP
    """

    def __init__(
        self,
        tracker: ClickTracker | TextTracker,
        frames: VideoFrames,
        prompt: str | None = None,
        source: FrameSource | None = None,
    ) -> None:
        self.tracker = tracker
        self.frames = frames
        self.source = source  #: what ``frames`` were opened from
        self.prompt = prompt  #: the text prompt of a text-tracked video

    @property
    def mode(self) -> str:
        """``"text"`` or ``"click"``."""
        return "text" if isinstance(self.tracker, TextTracker) else "click"

    @property
    def num_frames(self) -> int | None:
        """Frames in the video; None for a stream until it has ended."""
        return self.frames.count

    @property
    def fps(self) -> float | None:
        """Frames per second of a video file (None for other sources)."""
        return self.frames.fps

    @property
    def object_ids(self) -> tuple[int, ...]:
        """Click tracking: the prompted objects; text tracking: those tracked right now."""
        return self.tracker.object_ids

    def __iter__(self) -> Iterator[TrackedFrame]:
        if isinstance(self.tracker, TextTracker):
            yield from self.tracker.run()
            return
        forward = self.tracker.propagate()
        first: int | None = None
        for frame in forward:
            first = frame.index if first is None else first
            yield frame
        if first is not None and first > 0:
            yield from self.tracker.propagate(first - 1, reverse=True)

    def propagate(
        self, *, start: int | None = None, reverse: bool = False
    ) -> Iterator[TrackedFrame]:
        """Click tracking in one direction from ``start`` (default: the earliest prompted
        frame, the latest in ``reverse``). See :meth:`ClickTracker.propagate`."""
        return self._clicks("propagate").propagate(start, reverse=reverse)

    def add_points(
        self,
        *,
        frame: int,
        object_id: int,
        points: PointsLike,
        labels: Sequence[int] | None = None,
    ) -> TrackedFrame:
        """Clicks on ``object_id`` on ``frame``: a new object, or a correction (added to that
        frame's earlier clicks); iterate again to re-track. Returns that frame at once.

        Args:
            frame: frame index.
            object_id: the object's id (any int ≥ 0).
            points: (P, 2) xy in video pixels.
            labels: (P,) 1 object / 0 background; default all 1.
        """
        return self._clicks("add_points").add_prompt(frame, object_id, points=points, labels=labels)

    def add_box(self, *, frame: int, object_id: int, box: Sequence[float]) -> TrackedFrame:
        """A box [x0, y0, x1, y1] (video pixels) around ``object_id`` on ``frame``."""
        return self._clicks("add_box").add_prompt(frame, object_id, box=box)

    def add_mask(self, *, frame: int, object_id: int, mask: Any) -> TrackedFrame:
        """The object's (H, W) mask on ``frame`` (bool, or values in [0, 1])."""
        return self._clicks("add_mask").add_prompt(frame, object_id, mask=mask)

    def remove(self, *, object_id: int) -> None:
        """Forget an object: click tracking drops its prompts and memory; text tracking stops
        tracking it and hides it from frames not yet yielded (and from later passes)."""
        self.tracker.remove(object_id)

    def save(
        self,
        *,
        video: str | os.PathLike[str] | None = None,
        json: str | os.PathLike[str] | None = None,
        mot: str | os.PathLike[str] | None = None,
        name: str | None = None,
        category: str | None = None,
        progress: bool = True,
    ) -> WrittenOutputs:
        """Runs the tracking and writes its outputs as it goes; returns how many frames it
        wrote and the ids of every object shown.

        Args:
            video: an annotated H.264 video (each object in a stable colour, with its id).
            json: per-frame COCO RLE masks, YouTube-VIS style.
            mot: MOTChallenge-style box lines.
            name: the video's name in the JSON (default: the JSON file's stem).
            category: the JSON's category (default: the text prompt, else "object").
            progress: show a progress bar.
        """

        if video is None and json is None and mot is None:
            raise InputError("save: give at least one of video=, json= or mot=")
        frames = tqdm(self, total=self.num_frames, unit="frame", disable=not progress)
        # A file gets a second reader for drawing: the tracker reads ahead (text tracking
        # reports 14 frames late), and one reader would seek back and decode again each time.
        separate = video is not None and isinstance(self.source, (str, os.PathLike))
        drawing = open_frames(self.source) if separate else self.frames  # type: ignore[arg-type]
        try:
            return write_outputs(
                frames,
                drawing,
                video=video,
                json=json,
                mot=mot,
                name=name,
                category=category if category is not None else self.prompt,
            )
        finally:
            if drawing is not self.frames:
                drawing.close()

    def close(self) -> None:
        """Closes the video file."""
        self.frames.close()

    def __enter__(self) -> VideoTracking:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"VideoTracking(mode={self.mode!r}, frames={self.num_frames}, "
            f"objects={list(self.object_ids)})"
        )

    def _clicks(self, method: str) -> ClickTracker:
        if not isinstance(self.tracker, ClickTracker):
            raise InputError(
                f"{method}: clicks, boxes and masks prompt a click-tracking video "
                "(seg.track(video, points=..., frame=...)); this one tracks a text prompt"
            )
        return self.tracker


def start_tracking(
    backend: Backend,
    source: FrameSource,
    text: TextFeatures | None,
    *,
    prompt: str | None = None,
    points: ClickPrompts | None = None,
    boxes: ClickPrompts | None = None,
    masks: ClickPrompts | None = None,
    frame: int = 0,
    config: TrackingConfig | None = None,
    offload_state: bool = False,
) -> VideoTracking:
    """Opens the video and prompts it: text (``text``) or clicks, boxes and masks on ``frame``
    (see :meth:`sam3lib.Segmenter.track`, which checks the text and encodes it)."""
    clicks = {"points": points, "boxes": boxes, "masks": masks}
    given = [name for name, value in clicks.items() if value is not None]
    if text is not None and given:
        raise InputError(
            f"{given[0]}: give a text prompt or clicks/boxes/masks, not both (refine a text "
            "video's objects by tracking them with clicks)"
        )
    if text is None and not given:
        raise InputError("prompt: give a text prompt, or points=, boxes= or masks= per object")
    if config is not None and not isinstance(config, TrackingConfig):
        raise InputError(f"config: expected a TrackingConfig, got {type(config).__name__}")
    for name in given:
        if not isinstance(clicks[name], Mapping) or not clicks[name]:
            raise InputError(
                f"{name}: expected a non-empty dict {{object_id: prompt}}, e.g. "
                "points={1: ([[410, 220]], [1])}"
            )
    config = config or TrackingConfig()
    if not isinstance(offload_state, bool):
        raise InputError(f"offload_state: expected True or False, got {offload_state!r}")
    state_device = torch.device("cpu") if offload_state else None
    encoder = FrameEncoder(backend)
    frames = open_frames(source)
    try:
        if text is not None:
            tracker: ClickTracker | TextTracker = TextTracker(
                encoder, frames, text, config, state_device
            )
            return VideoTracking(tracker, frames, prompt, source)
        clicking = ClickTracker(encoder, frames, state_device, config.memory_selection_threshold)
        # A box starts a frame's prompt afresh: boxes first, then the clicks refine them.
        for object_id, box in (boxes or {}).items():
            clicking.add_prompt(frame, object_id, box=box)
        for object_id, value in (points or {}).items():
            object_points, labels = _points_and_labels(value)
            clicking.add_prompt(frame, object_id, points=object_points, labels=labels)
        for object_id, mask in (masks or {}).items():
            clicking.add_prompt(frame, object_id, mask=mask)
        return VideoTracking(clicking, frames, source=source)
    except BaseException:
        frames.close()
        raise


def _points_and_labels(value: object) -> tuple[Any, Any]:
    if isinstance(value, tuple) and len(value) == 2:
        return value
    return value, None  # clicks alone: all positive
