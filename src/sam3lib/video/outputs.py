"""Drives the writers of :mod:`sam3lib.video.export` over a tracked video's frames.

Frames may come out of order (click tracking yields the frames after the first prompt, then
those before it, backwards); the JSON and MOT writers take any order, but a video is written
in display order: a frame that arrives early waits, its masks run-length encoded (a few KB),
until the frames before it are written. Frames never tracked are written without overlay.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sam3lib.errors import InputError
from sam3lib.formats import decode_rle, encode_rle
from sam3lib.video.export import AnnotatedVideoWriter, MotWriter, YouTubeVisWriter
from sam3lib.video.frames import VideoFrames
from sam3lib.video.result import TrackedFrame

__all__ = ["WrittenOutputs", "write_outputs"]

DEFAULT_FPS = 30.0  # for frames without a rate (a folder, a list)


@dataclass(frozen=True)
class WrittenOutputs:
    """What :func:`write_outputs` wrote: the frames tracked and every object shown."""

    frames: int
    object_ids: tuple[int, ...]


def write_outputs(
    tracked: Iterable[TrackedFrame],
    frames: VideoFrames,
    *,
    video: str | os.PathLike[str] | None = None,
    json: str | os.PathLike[str] | None = None,
    mot: str | os.PathLike[str] | None = None,
    name: str | None = None,
    category: str | None = None,
    fps: float | None = None,
) -> WrittenOutputs:
    """Writes each tracked frame to the outputs asked for.

    Args:
        tracked: the frames, in any order.
        frames: the video they come from (re-read to draw the annotated video).
        video, json, mot: output paths (see :class:`AnnotatedVideoWriter`,
            :class:`YouTubeVisWriter`, :class:`MotWriter`).
        name: the video's name in the JSON (default: the JSON file's stem).
        category: the JSON's category name (the text prompt).
        fps: frame rate of the annotated video (default: the source's, else 30).

    Raises:
        InputError: an annotated video was asked for a stream (its frames cannot be re-read).
    """
    if video is not None and not frames.seekable:
        raise InputError(
            "video: drawing the annotated video re-reads the frames, which a stream cannot; "
            "pass a file, a folder or a list, or ask only for json= and mot="
        )
    rate = fps if fps is not None else frames.fps or DEFAULT_FPS
    json_writer = (
        None
        if json is None
        else YouTubeVisWriter(
            json, video_name=name or Path(json).stem, category=category, fps=frames.fps
        )
    )
    mot_writer = None if mot is None else MotWriter(mot)
    in_order = None if video is None else _InOrderVideo(video, frames, rate)
    count = 0
    shown: set[int] = set()
    try:
        for frame in tracked:
            count += 1
            shown.update(frame.object_ids.tolist())
            if json_writer is not None:
                json_writer.write(frame)
            if mot_writer is not None:
                mot_writer.write(frame)
            if in_order is not None:
                in_order.add(frame)
        if in_order is not None:
            in_order.finish()
        if json_writer is not None:
            json_writer.close()
    finally:
        for writer in (mot_writer, in_order):
            if writer is not None:
                writer.close()
    return WrittenOutputs(count, tuple(sorted(shown)))


class _InOrderVideo:
    """An :class:`AnnotatedVideoWriter` fed frames in any order."""

    def __init__(self, path: str | os.PathLike[str], frames: VideoFrames, fps: float) -> None:
        self.path = path
        self.frames = frames
        self.fps = fps
        self._writer: AnnotatedVideoWriter | None = None
        self._next = 0
        self._waiting: dict[int, _EncodedFrame] = {}

    def add(self, frame: TrackedFrame) -> None:
        if frame.index != self._next:
            self._waiting[frame.index] = _EncodedFrame(frame)
            return
        self._write(frame)
        while self._next in self._waiting:
            self._write(self._waiting.pop(self._next).decoded())

    def finish(self) -> None:
        """Writes the waiting frames and the untracked ones between them, in order."""
        while self._waiting:
            waiting = self._waiting.pop(self._next, None)
            if waiting is not None:
                self._write(waiting.decoded())
            else:
                self._write_plain(self._next)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def _write(self, frame: TrackedFrame) -> None:
        self._open(frame.image_size).write(self.frames.frame(frame.index), frame)
        self._next = frame.index + 1

    def _write_plain(self, index: int) -> None:
        image = self.frames.frame(index)
        size = (int(image.shape[1]), int(image.shape[2]))
        empty = TrackedFrame(
            index=index,
            object_ids=np.zeros(0, dtype=np.int64),
            masks=np.zeros((0, *size), dtype=bool),
            boxes=np.zeros((0, 4), dtype=np.float32),
            scores=np.zeros(0, dtype=np.float32),
            image_size=size,
        )
        self._write(empty)

    def _open(self, size: tuple[int, int]) -> AnnotatedVideoWriter:
        if self._writer is None:
            self._writer = AnnotatedVideoWriter(self.path, fps=self.fps, size=size)
        return self._writer


class _EncodedFrame:
    """A tracked frame with its masks as COCO RLE (the masks themselves dropped), while it
    waits for its turn."""

    def __init__(self, frame: TrackedFrame) -> None:
        self.index = frame.index
        self.object_ids, self.boxes, self.scores = frame.object_ids, frame.boxes, frame.scores
        self.size = frame.image_size
        self.rles = [encode_rle(mask) for mask in frame.masks]

    def decoded(self) -> TrackedFrame:
        masks = (
            np.stack([decode_rle(rle) for rle in self.rles])
            if self.rles
            else np.zeros((0, *self.size), dtype=bool)
        )
        return TrackedFrame(
            index=self.index,
            object_ids=self.object_ids,
            masks=masks,
            boxes=self.boxes,
            scores=self.scores,
            image_size=self.size,
        )
