"""Tracked frames out: YouTube-VIS JSON, MOTChallenge text, and a video with the objects drawn.

Three writers, each fed one :class:`~sam3lib.video.result.TrackedFrame` at a time as tracking
streams them, each safe against a killed job in the way its format allows:

- :class:`YouTubeVisWriter` keeps each object's COCO RLE masks (a few hundred bytes a frame,
  never the masks) and writes the JSON atomically on close: a killed job leaves no JSON.
- :class:`MotWriter` appends and flushes each frame's lines as it comes: a killed job leaves
  every finished frame.
- :class:`AnnotatedVideoWriter` draws the objects (:func:`sam3lib.visualize.draw_tracked`)
  into an H.264 video (:class:`~sam3lib.video.writer.VideoWriter`, atomic as well).

Frames may come in any order (reverse tracking yields them backwards); the JSON and MOT files
place them by :attr:`TrackedFrame.index`, the video in the order they are written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from sam3lib.errors import InputError
from sam3lib.formats import encode_rle
from sam3lib.labelling.atomic import atomic_writer
from sam3lib.preprocess import ImageLike
from sam3lib.video.result import TrackedFrame
from sam3lib.video.writer import VideoWriter  # imports PyAV only when a writer opens
from sam3lib.visualize import draw_tracked

__all__ = ["AnnotatedVideoWriter", "MotWriter", "YouTubeVisWriter"]

_VIDEO_ID = 1
_CATEGORY_ID = 1


class _FrameChecks:
    """What every writer refuses: a non-frame, a frame written twice, a change of size."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise InputError(f"path: expected a file path, got {path!r}")
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"path: '{self.path}' is a directory; give a file name")
        self.indices: set[int] = set()
        self.image_size: tuple[int, int] | None = None

    def check(self, frame: TrackedFrame) -> None:
        """Refuses ``frame`` unless it is new and of the earlier frames' size."""
        if not isinstance(frame, TrackedFrame):
            raise InputError(f"frame: expected a TrackedFrame, got {type(frame).__name__}")
        index = frame.index
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise InputError(f"frame: its index must be a non-negative int, got {index!r}")
        if index in self.indices:
            raise InputError(f"frame: frame {index} was already written to '{self.path}'")
        size = tuple(frame.image_size)
        if self.image_size is not None and size != self.image_size:
            raise InputError(
                f"frame: frame {index} is {size} (H, W) but earlier frames of '{self.path}' "
                f"are {self.image_size}"
            )

    def record(self, frame: TrackedFrame) -> None:
        """Notes ``frame`` as written."""
        self.image_size = (int(frame.image_size[0]), int(frame.image_size[1]))
        self.indices.add(int(frame.index))


class YouTubeVisWriter:
    """Writes a tracked video as a YouTube-VIS (2019/2021) annotation file, atomically.

    The file follows the YouTube-VIS label files (MS COCO's layout adapted to video), with all
    objects in one category, as one video::

        {
          "info": {"description": ...},
          "videos": [{"id": 1, "name": video_name, "width": W, "height": H,
                      "length": N, "file_names": ["<video_name>/00000.jpg", ...], "fps": ...}],
          "categories": [{"id": 1, "name": category, "supercategory": category}],
          "annotations": [{"id": object_id + 1, "video_id": 1, "category_id": 1,
                           "object_id": object_id, "iscrowd": 0,
                           "segmentations": [RLE or None] * N,
                           "bboxes": [[x, y, w, h] or None] * N,
                           "areas": [int or None] * N, "scores": [float or None] * N,
                           "score": float}, ...]
        }

    - ``N`` (``length``) is the highest frame index written + 1; frame ``i`` is entry ``i`` of
      every per-frame list, and ``file_names[i]`` is ``"<video_name>/<i:05d>.jpg"``, the
      dataset's naming of extracted frames. ``fps`` is present only when given.
    - ``segmentations`` are compressed COCO RLEs (``{"size": [H, W], "counts": str}``,
      ``pycocotools.mask.decode`` reads them as they are); ``None`` where the object is not on
      the frame (or its mask is empty), and on frames never written.
    - ``bboxes`` are COCO ``[x, y, width, height]`` in pixel edges (0-based, x to the right),
      ``areas`` the mask's pixel count.
    - ``id`` is the object's id + 1 (COCO ids start at 1); ``object_id`` is sam3lib's stable
      id, as in :class:`TrackedFrame` and on the drawn video's tags.
    - ``scores`` (per frame) and ``score`` (their mean over the frames the object is on) are
      not in the label format; with them each annotation is also a YouTube-VIS prediction
      (``video_id``, ``category_id``, ``segmentations``, ``score``), so
      ``json["annotations"]`` can be submitted as ``results.json`` as is.

    Memory holds only the RLE strings, boxes and scores. The JSON is written by :meth:`close`
    to a temporary file beside ``path`` and renamed to it; after an exception inside the
    ``with`` block, or a killed job, nothing appears under ``path``.

    Args:
        path: the JSON file to write; missing parent directories are created.
        video_name: the video's name (``videos[0].name``, the folder in ``file_names``).
        category: the objects' category name (the text prompt, say); ``"object"`` if None.
        fps: the video's frame rate, recorded as ``videos[0].fps`` when given.

    Raises:
        InputError: ``path`` is a directory or not a path, or ``video_name``, ``category`` or
            ``fps`` is not valid.

    Example:
        >>> import json, pathlib, tempfile
        >>> import numpy as np
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tracks.json"
        >>> masks = np.zeros((1, 4, 6), dtype=bool)
        >>> masks[0, 1:3, 2:5] = True
        >>> frame = TrackedFrame(
        ...     index=0,
        ...     object_ids=np.array([0]),
        ...     masks=masks,
        ...     boxes=np.array([[2, 1, 5, 3]], dtype=np.float32),
        ...     scores=np.array([0.9], dtype=np.float32),
        ...     image_size=(4, 6),
        ... )
        >>> with YouTubeVisWriter(path, video_name="clip", category="cat") as writer:
        ...     writer.write(frame)
        >>> annotation = json.loads(path.read_text())["annotations"][0]
        >>> annotation["bboxes"], annotation["areas"]
        ([[2.0, 1.0, 3.0, 2.0]], [6])
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        video_name: str,
        category: str | None = None,
        fps: float | None = None,
    ) -> None:
        if not isinstance(video_name, str) or not video_name:
            raise InputError(f"video_name: expected a non-empty str, got {video_name!r}")
        if category is not None and (not isinstance(category, str) or not category):
            raise InputError(f"category: expected a non-empty str or None, got {category!r}")
        if fps is not None and (
            isinstance(fps, bool)
            or not isinstance(fps, (int, float))
            or not np.isfinite(fps)
            or fps <= 0
        ):
            raise InputError(f"fps: expected a positive number or None, got {fps!r}")
        self._checks = _FrameChecks(path)
        self.path = self._checks.path
        self.video_name = video_name
        self.category = category or "object"
        self.fps = None if fps is None else float(fps)
        # object id -> frame index -> (RLE, [x, y, w, h], area, score)
        self._tracks: dict[int, dict[int, tuple[dict[str, Any], list[float], int, float]]] = {}
        self._closed = False

    @property
    def frames_written(self) -> int:
        """How many frames :meth:`write` took."""
        return len(self._checks.indices)

    def write(self, frame: TrackedFrame) -> None:
        """Records one frame's objects, as RLEs; frames may come in any order.

        Raises:
            InputError: ``frame`` is not a :class:`TrackedFrame`, its index was written
                already, its size differs from earlier frames', or the writer is closed.
        """
        if self._closed:
            raise InputError(f"frame: the writer of '{self.path}' is closed")
        self._checks.check(frame)
        for object_id, mask, box, score in zip(
            frame.object_ids, frame.masks, frame.boxes, frame.scores, strict=True
        ):
            area = int(mask.sum())
            if area == 0:
                continue  # not visible: None, as the dataset marks absent objects
            self._tracks.setdefault(int(object_id), {})[int(frame.index)] = (
                encode_rle(mask),
                _xywh(box),
                area,
                round(float(score), 6),
            )
        self._checks.record(frame)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the frames written so far."""
        length = max(self._checks.indices) + 1 if self._checks.indices else 0
        height, width = self._checks.image_size or (0, 0)
        video: dict[str, Any] = {
            "id": _VIDEO_ID,
            "name": self.video_name,
            "width": width,
            "height": height,
            "length": length,
            "file_names": [f"{self.video_name}/{index:05d}.jpg" for index in range(length)],
        }
        if self.fps is not None:
            video["fps"] = self.fps
        annotations = [
            _annotation(object_id, frames, length)
            for object_id, frames in sorted(self._tracks.items())
        ]
        return {
            "info": {"description": f"sam3lib tracking of {self.video_name}"},
            "videos": [video],
            "categories": [
                {"id": _CATEGORY_ID, "name": self.category, "supercategory": self.category}
            ],
            "annotations": annotations,
        }

    def close(self) -> None:
        """Writes the JSON to ``path``; a no-op when already closed.

        Raises:
            InputError: no frame was written, or ``path`` cannot be written (nothing is saved).
        """
        if self._closed:
            return
        self._closed = True
        if not self._checks.indices:
            raise InputError(f"frame: no frame was written, so '{self.path}' was not saved")
        try:
            with atomic_writer(self.path) as file:
                json.dump(self.to_dict(), file, separators=(",", ":"))
        except OSError as error:
            raise InputError(f"path: could not write '{self.path}' ({error})") from error

    def __enter__(self) -> YouTubeVisWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._closed = True  # an interrupted run: no JSON rather than a partial one


def _xywh(box: npt.NDArray[np.float32]) -> list[float]:
    """[x, y, width, height] of an xyxy box, rounded to 1/10 000 of a pixel (float32 noise)."""
    left, top, right, bottom = (float(value) for value in box)
    return [round(value, 4) for value in (left, top, right - left, bottom - top)]


def _annotation(
    object_id: int,
    frames: Mapping[int, tuple[dict[str, Any], list[float], int, float]],
    length: int,
) -> dict[str, Any]:
    entries = [frames.get(index) for index in range(length)]
    scores = [entry[3] for entry in entries if entry is not None]
    return {
        "id": object_id + 1,
        "video_id": _VIDEO_ID,
        "category_id": _CATEGORY_ID,
        "object_id": object_id,
        "iscrowd": 0,
        "segmentations": [None if entry is None else entry[0] for entry in entries],
        "bboxes": [None if entry is None else entry[1] for entry in entries],
        "areas": [None if entry is None else entry[2] for entry in entries],
        "scores": [None if entry is None else entry[3] for entry in entries],
        "score": sum(scores) / len(scores),
    }


class MotWriter:
    """Writes tracked boxes as a MOTChallenge text file, one flushed frame at a time.

    One line per object on a frame, as MOTChallenge takes tracker results (the 10 columns of
    MOT17's ``det/det.txt``, e.g. ``1,-1,1359.1,413.27,120.26,362.77,2.3092,-1,-1,-1``, with
    track ids instead of -1; ``gt/gt.txt`` has 9 columns, the 7th a "consider" flag, then class
    and visibility)::

        frame,id,bb_left,bb_top,bb_width,bb_height,conf,-1,-1,-1

    Following MOTChallenge, frame numbers, ids and box corners are 1-based: ``frame`` is
    :attr:`TrackedFrame.index` + 1, ``id`` the object id + 1, and (``bb_left``, ``bb_top``) the
    box's top-left pixel counted from 1 (its 0-based pixel edge + 1); ``bb_width`` and
    ``bb_height`` are in pixels, ``conf`` the object's score on the frame; the world
    coordinates x, y, z are -1. Objects with an empty mask on a frame get no line.

    Lines appear in the order frames are written (backwards for reverse tracking);
    evaluators (TrackEval, py-motmetrics) group them by frame number. Each frame's lines are
    flushed to the operating system before :meth:`write` returns, so a killed job leaves every
    frame it finished and no partial line; ``path`` is replaced when the writer opens.

    Args:
        path: the text file to write; missing parent directories are created.

    Raises:
        InputError: ``path`` is a directory, not a path, or cannot be opened for writing.

    Example:
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "MOT-01.txt"
        >>> masks = np.zeros((1, 4, 6), dtype=bool)
        >>> masks[0, 1:3, 2:5] = True
        >>> frame = TrackedFrame(
        ...     index=0,
        ...     object_ids=np.array([0]),
        ...     masks=masks,
        ...     boxes=np.array([[2, 1, 5, 3]], dtype=np.float32),
        ...     scores=np.array([0.9], dtype=np.float32),
        ...     image_size=(4, 6),
        ... )
        >>> with MotWriter(path) as writer:
        ...     writer.write(frame)
        >>> path.read_text()
        '1,1,3,2,3,2,0.9,-1,-1,-1\\n'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._checks = _FrameChecks(path)
        self.path = self._checks.path
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = self.path.open("w", encoding="ascii", newline="\n")
        except OSError as error:
            raise InputError(f"path: cannot write '{self.path}' ({error})") from error

    @property
    def frames_written(self) -> int:
        """How many frames :meth:`write` took."""
        return len(self._checks.indices)

    def write(self, frame: TrackedFrame) -> None:
        """Appends one frame's lines and flushes them.

        Raises:
            InputError: ``frame`` is not a :class:`TrackedFrame`, its index was written
                already, its size differs from earlier frames', or the writer is closed.
        """
        if self._file is None:
            raise InputError(f"frame: the writer of '{self.path}' is closed")
        self._checks.check(frame)
        lines = []
        for object_id, mask, box, score in zip(
            frame.object_ids, frame.masks, frame.boxes, frame.scores, strict=True
        ):
            if not mask.any():
                continue
            left, top, width, height = _xywh(box)
            numbers = (left + 1, top + 1, width, height, round(float(score), 6))
            text = ",".join(f"{number:.10g}" for number in numbers)
            lines.append(f"{frame.index + 1},{int(object_id) + 1},{text},-1,-1,-1\n")
        # One write and flush per frame: a kill lands between frames, not inside a line.
        try:
            self._file.write("".join(lines))
            self._file.flush()
        except OSError as error:
            raise InputError(f"path: could not write '{self.path}' ({error})") from error
        self._checks.record(frame)

    def close(self) -> None:
        """Closes the file; a no-op when already closed."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> MotWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()  # the finished frames stay, also after an exception


class AnnotatedVideoWriter:
    """Writes each frame's image with its tracked objects drawn into an H.264 video.

    Each object is drawn by :func:`sam3lib.visualize.draw_tracked`: its mask blended in the
    colour of its id (:func:`sam3lib.visualize.object_color`: the same on every frame and in
    every run, whichever other objects are shown), an opaque edge, and an ``"id N"`` tag with
    sam3lib's object id. Frames go into the video in the order they are written, so write them
    in display order. The video appears under ``path`` only when complete (see
    :class:`~sam3lib.video.writer.VideoWriter`; PyAV is imported when the writer opens).

    Args:
        path: the video to write (``.mp4``, ``.mkv``, ...).
        fps: frames per second, a positive number.
        size: (height, width) of every frame.
        alpha, edge_width, show_labels: the drawing style, as in
            :func:`~sam3lib.visualize.draw_tracked`.

    Raises:
        InputError: ``fps``, ``size`` or the style is not valid, or ``path`` cannot hold an
            H.264 video.
        BackendUnavailableError: PyAV is not installed.

    Example:
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tracked.mp4"
        >>> masks = np.zeros((1, 32, 48), dtype=bool)
        >>> masks[0, 8:24, 16:40] = True
        >>> frame = TrackedFrame(
        ...     index=0,
        ...     object_ids=np.array([0]),
        ...     masks=masks,
        ...     boxes=np.array([[16, 8, 40, 24]], dtype=np.float32),
        ...     scores=np.array([0.9], dtype=np.float32),
        ...     image_size=(32, 48),
        ... )
        >>> with AnnotatedVideoWriter(path, fps=10, size=(32, 48)) as writer:
        ...     writer.write(np.zeros((32, 48, 3), dtype=np.uint8), frame)
        >>> path.exists(), writer.frames_written
        (True, 1)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float,
        size: tuple[int, int],
        alpha: float = 0.45,
        edge_width: int = 2,
        show_labels: bool = True,
    ) -> None:
        self._checks = _FrameChecks(path)
        self.path = self._checks.path
        self._style: dict[str, Any] = {
            "alpha": alpha,
            "edge_width": edge_width,
            "show_labels": show_labels,
        }
        self._video = VideoWriter(self.path, fps=fps, size=size)

    @property
    def frames_written(self) -> int:
        """How many frames went into the video."""
        return self._video.frames_written

    def write(self, image: ImageLike, frame: TrackedFrame) -> None:
        """Draws ``frame``'s objects over ``image`` (the frame's RGB picture: a (3, H, W)
        uint8 tensor, an (H, W, 3) array, a PIL image, ...) and appends it to the video.

        Raises:
            InputError: ``frame`` is not a :class:`TrackedFrame`, was written already, or is
                not the writer's size; ``image`` is not an image of the frame's size; or the
                writer is closed.
        """
        self._checks.check(frame)
        if frame.image_size != self._video.size:
            raise InputError(
                f"frame: frame {frame.index} is {frame.image_size} (H, W) but the writer's "
                f"size is {self._video.size}"
            )
        picture = draw_tracked(image, frame.masks, frame.object_ids, frame.boxes, **self._style)
        self._video.write(picture)
        self._checks.record(frame)

    def close(self) -> None:
        """Finishes the video and moves it to ``path``; a no-op when already closed.

        Raises:
            InputError: no frame was written (nothing is saved).
        """
        self._video.close()

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._video.__exit__(exc_type, exc, traceback)
