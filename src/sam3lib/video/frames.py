"""Frames in: a video file, a folder of images, a list of images or an endless iterator, read
one frame at a time as (3, H, W) uint8 RGB tensors.

Sources accepted by :func:`open_frames`:

- a video file (anything FFmpeg reads: MP4, MOV, MKV, WebM, AVI, animated GIF, ...), decoded
  by PyAV (the ``video`` extra). Frames are turned as the file's display matrix says, so a
  phone's portrait video comes out upright, as :func:`sam3lib.preprocess.to_rgb_uint8` turns
  photos by their EXIF tag (flips in the matrix are ignored; phones write none);
- a directory of image files (the extensions of
  :data:`sam3lib.labelling.sources.IMAGE_EXTENSIONS`; subdirectories and hidden files such as
  macOS ``._frame_1.jpg`` are skipped), in natural order of names: ``frame_2`` before
  ``frame_10``;
- a sequence of images (paths, PIL images, HWC arrays, CHW tensors: whatever
  :func:`~sam3lib.preprocess.to_rgb_uint8` takes), or one (T, H, W, C) numpy array or
  (T, C, H, W) tensor;
- any other iterable of images, read once, in order, one item when the next frame is asked
  for: a camera, an endless generator.

Memory: frames are decoded when asked for and not kept; a :class:`VideoFrames` holds at most
one decoded frame (a file's first, read when it is opened) besides FFmpeg's own reference
frames, and a file's frame timestamps once it has been jumped in (8 bytes a frame).

Random access (:meth:`VideoFrames.frame`) works for files, directories and sequences. A file is
decoded forward while the frames asked for go forward. A jump back, or forward past a keyframe,
seeks to the keyframe at or before the frame and decodes forward from there (at most one group
of pictures). The first jump reads the file's packets once, without decoding them, to list
every frame's timestamp, so that frame i is the same picture whether reached by iteration or by
a jump. Files whose frames carry no timestamps (raw H.264 streams) are decoded again from the
start instead.

Damaged files: a file FFmpeg cannot open (not a video, random bytes, an MP4 cut before its
index, the ``moov`` box, was written) raises :class:`~sam3lib.errors.InputError` naming the path
when opened. A file cut short whose index survives (Matroska, an MP4 written with
``faststart``) yields the frames before the cut and ends cleanly; :attr:`VideoFrames.count`
then becomes the number of frames read. A frame the decoder rejects raises InputError naming
the path and the frame.
"""

from __future__ import annotations

import os
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np
import torch
from PIL import Image

from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.labelling.sources import IMAGE_EXTENSIONS
from sam3lib.preprocess import ImageLike, to_rgb_uint8

if TYPE_CHECKING:  # annotations only: PyAV is an optional extra
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

__all__ = ["FrameSource", "VideoFrames", "natural_key", "open_frames", "require_av"]

FrameSource: TypeAlias = str | os.PathLike[str] | Sequence[ImageLike] | Iterable[ImageLike]

_ARGUMENT = "source"
_DIGITS = re.compile(r"([0-9]+)")
_END = object()


def open_frames(source: FrameSource) -> VideoFrames:
    """Opens a video, a folder of frames, a list of images or an iterator of images.

    Args:
        source: see the module docstring.

    Returns:
        The frames, to iterate (``for index, rgb in frames``) or to index (``frames.frame(i)``);
        use it as a context manager to close the file.

    Raises:
        InputError: the source does not exist, is of an unsupported type, holds no frame, or
            is a file FFmpeg cannot read as a video.
        BackendUnavailableError: a video file was given and PyAV is not installed.

    Example:
        >>> import numpy as np
        >>> clip = [np.zeros((48, 64, 3), dtype=np.uint8)] * 3
        >>> with open_frames(clip) as frames:
        ...     [(index, tuple(rgb.shape)) for index, rgb in frames]
        [(0, (3, 48, 64)), (1, (3, 48, 64)), (2, (3, 48, 64))]
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            return VideoFrames(_SequenceReader(_frame_files(path)))
        if not path.is_file():
            raise InputError(f"{_ARGUMENT}: no such file or directory: '{path}'")
        return VideoFrames(_FileReader(path))
    if isinstance(source, (np.ndarray, torch.Tensor)):
        if source.ndim != 4:
            raise InputError(
                f"{_ARGUMENT}: an array or tensor is read as a stack of frames, (T, H, W, C) or "
                f"(T, C, H, W), got shape {tuple(source.shape)}; pass one image as [image]"
            )
        return VideoFrames(_SequenceReader(source))
    if isinstance(source, (bytes, bytearray, Image.Image)):
        raise InputError(
            f"{_ARGUMENT}: expected a video file, a directory of frames or a sequence or iterator "
            f"of images, got {type(source).__name__}"
        )
    if isinstance(source, Sequence):
        if len(source) == 0:
            raise InputError(f"{_ARGUMENT}: the sequence of frames is empty")
        return VideoFrames(_SequenceReader(source))
    if isinstance(source, Iterable):
        return VideoFrames(_IteratorReader(iter(source)))
    raise InputError(
        f"{_ARGUMENT}: expected a video file, a directory of frames or a sequence or iterator of "
        f"images, got {type(source).__name__}"
    )


class VideoFrames:
    """The frames of one video, decoded one at a time; made by :func:`open_frames`.

    Iterating yields ``(index, rgb)`` pairs, ``rgb`` a new (3, H, W) uint8 tensor, from frame 0;
    a file, directory or sequence can be iterated again, an iterator source only once.
    Not thread-safe: one reader at a time.

    Attributes:
        size: (height, width) of every frame; read from a file when it is opened, otherwise
            None until the first frame has been read.
        count: number of frames, or None while unknown (an iterator, a file whose header does
            not say, such as Matroska); set once the end has been reached.
        fps: frames per second from a file's header, None for other sources.

    Example:
        >>> import torch
        >>> frames = open_frames(torch.zeros(5, 3, 8, 8, dtype=torch.uint8))
        >>> frames.count, tuple(frames.frame(4).shape)
        (5, (3, 8, 8))
    """

    def __init__(self, reader: _Reader) -> None:
        self._reader = reader
        self._size = reader.size

    @property
    def size(self) -> tuple[int, int] | None:
        return self._size

    @property
    def count(self) -> int | None:
        return self._reader.count

    @property
    def fps(self) -> float | None:
        return self._reader.fps

    @property
    def seekable(self) -> bool:
        """Whether any frame can be read at any time (False for an iterator: in order, once)."""
        return self._reader.seekable

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        index = 0
        while (rgb := self._read(index)) is not None:
            yield index, rgb
            index += 1
        if index == 0:
            raise InputError(f"{_ARGUMENT}: the video has no frames")

    def frame(self, index: int) -> torch.Tensor:
        """Frame ``index`` as a new (3, H, W) uint8 RGB tensor.

        Raises:
            InputError: ``index`` is not a frame of the video, or the source is an iterator
                (read in order only).
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise InputError(f"frame: expected a frame index (int), got {type(index).__name__}")
        if not self._reader.seekable:
            raise InputError(
                "frame: an iterator of images is read once, in order; pass a file, a directory "
                "or a list for random access"
            )
        rgb = self._read(int(index)) if index >= 0 else None
        if rgb is None:
            count = self._reader.count
            valid = "0 and up" if count is None else f"0..{count - 1}"
            raise InputError(f"frame: {index} is not a frame of the video; valid frames: {valid}")
        return rgb

    def read(self, index: int) -> torch.Tensor | None:
        """Frame ``index``, or None past the last frame; an iterator source must be read in
        order (each index once). For the streaming reader that does not know the length."""
        return self._read(index)

    def close(self) -> None:
        """Closes the file (a no-op for other sources); later reads raise InputError."""
        self._reader.close()

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, index: int) -> torch.Tensor | None:
        rgb = self._reader.read(index)
        if rgb is None:
            return None
        size = (rgb.shape[1], rgb.shape[2])
        if self._size is None:
            self._size = size
        elif size != self._size:
            raise InputError(
                f"{_ARGUMENT}: frame {index} is {size[0]}x{size[1]} (HxW) but the video's frames "
                f"are {self._size[0]}x{self._size[1]}; every frame must have the same size"
            )
        return rgb


def natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key that orders digit runs by value: ``frame_2`` before ``frame_10``.

    Example:
        >>> sorted(["f10.png", "f2.png", "f1.png"], key=natural_key)
        ['f1.png', 'f2.png', 'f10.png']
    """
    pieces = _DIGITS.split(name)  # text, digits, text, ...: like pieces compare with like
    return tuple(int(p) if i % 2 else p for i, p in enumerate(pieces)), name


def require_av() -> ModuleType:
    """PyAV, or BackendUnavailableError naming the extra that installs it."""
    try:
        import av
    except ImportError as error:
        raise BackendUnavailableError(
            f"video files need PyAV: pip install 'sam3lib[video]' ({error})"
        ) from error
    return av


class _Reader(Protocol):
    size: tuple[int, int] | None
    count: int | None
    fps: float | None
    seekable: bool

    def read(self, index: int) -> torch.Tensor | None:
        """Frame ``index`` as (3, H, W) uint8, or None when the video has fewer frames."""

    def close(self) -> None: ...


def _frame_files(directory: Path) -> list[Path]:
    files = [
        path
        for path in directory.iterdir()
        if path.suffix.lower() in IMAGE_EXTENSIONS
        and not path.name.startswith(".")
        and path.is_file()
    ]
    if not files:
        extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise InputError(
            f"{_ARGUMENT}: the directory '{directory}' holds no frames (image files: {extensions})"
        )
    return sorted(files, key=lambda path: natural_key(path.name))


class _SequenceReader:
    """Frames of a list, tuple, stacked array or directory listing, each converted when read."""

    seekable: bool = True
    fps: float | None = None

    def __init__(self, images: Sequence[ImageLike] | np.ndarray[Any, Any] | torch.Tensor) -> None:
        self._images = images
        self.count: int | None = len(images)
        self.size: tuple[int, int] | None = None
        self._closed = False

    def read(self, index: int) -> torch.Tensor | None:
        if self._closed:
            raise InputError(f"{_ARGUMENT}: the frames were closed")
        if index >= len(self._images):
            return None
        return to_rgb_uint8(self._images[index], argument=f"{_ARGUMENT} frame {index}")

    def close(self) -> None:
        self._closed = True


class _IteratorReader:
    """Frames pulled from an iterator one at a time, in order, once."""

    seekable: bool = False
    fps: float | None = None

    def __init__(self, images: Iterator[ImageLike]) -> None:
        self._images: Iterator[ImageLike] | None = images
        self._next = 0
        self.count: int | None = None
        self.size: tuple[int, int] | None = None

    def read(self, index: int) -> torch.Tensor | None:
        if self._images is None:
            raise InputError(f"{_ARGUMENT}: the frames were closed")
        if index != self._next:
            raise InputError(
                f"{_ARGUMENT}: an iterator of images is read once, in order; frame {index} was "
                f"asked for when frame {self._next} was next"
            )
        image = next(self._images, _END)
        if image is _END:
            self.count = index
            return None
        self._next += 1
        return to_rgb_uint8(image, argument=f"{_ARGUMENT} frame {index}")  # type: ignore[arg-type]

    def close(self) -> None:
        self._images = None  # the caller's iterator is theirs to close (a camera, a generator)


class _FileReader:
    """One video file through PyAV: decoded forward, seeking only for jumps."""

    seekable: bool = True

    def __init__(self, path: Path) -> None:
        self._av = require_av()
        self._path = path
        self._container, self._stream = self._open()
        self._frames: Iterator[VideoFrame] | None = self._container.decode(self._stream)
        self._next = 0  # index of the frame self._frames yields next
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps: float | None = float(rate) if rate else None
        self.count: int | None = self._stream.frames or None  # 0: the header does not say
        # Every frame's timestamp in display order and the indices of keyframes, listed at the
        # first jump; None before, or when frames carry no timestamps.
        self._timestamps: array[int] | None = None
        self._keyframes: array[int] | None = None
        self._listed = False
        try:
            first = self._decode_forward_to(0)
        except InputError:
            self.close()
            raise
        if first is None:
            self.close()
            raise InputError(f"{_ARGUMENT}: the video '{path}' has no frames")
        self._first: torch.Tensor | None = first  # handed out once, by read(0), not re-decoded
        self.size: tuple[int, int] | None = (first.shape[1], first.shape[2])

    def read(self, index: int) -> torch.Tensor | None:
        if self._frames is None:
            raise InputError(f"{_ARGUMENT}: the video '{self._path}' was closed")
        if index == 0 and self._first is not None:
            first, self._first = self._first, None
            return first
        self._first = None
        if index != self._next and self._should_seek(index):
            return self._seek_to(index)
        return self._decode_forward_to(index)

    def close(self) -> None:
        self._frames = None
        self._first = None
        self._container.close()

    def _open(self) -> tuple[InputContainer, VideoStream]:
        try:
            container = self._av.open(os.fspath(self._path), metadata_errors="replace")
        except (self._av.FFmpegError, OSError, ValueError) as error:
            raise InputError(
                f"{_ARGUMENT}: could not read '{self._path}' as a video ({error})"
            ) from error
        if not container.streams.video:
            container.close()
            raise InputError(f"{_ARGUMENT}: '{self._path}' holds no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # slice and frame threads; seeking flushes both
        return container, stream

    def _should_seek(self, index: int) -> bool:
        """Whether frame ``index`` is better reached by a seek than by decoding on: it lies
        behind, or a keyframe lies between the next frame and it."""
        if index < self._next:
            return True
        self._list_timestamps()
        if self._keyframes is None:
            return False
        keyframe = self._keyframes[bisect_right(self._keyframes, index) - 1]
        return keyframe > self._next

    def _seek_to(self, index: int) -> torch.Tensor | None:
        self._list_timestamps()
        if self._timestamps is None:
            return self._restart_to(index)
        if index >= len(self._timestamps):
            return None
        target = self._timestamps[index]
        try:  # backward=True: to the keyframe at or before the target, then decode forward
            self._container.seek(target, stream=self._stream, backward=True)
        except self._av.FFmpegError:
            return self._restart_to(index)
        self._frames = self._container.decode(self._stream)
        while (frame := self._decode_one(index)) is not None:
            if frame.pts is None or frame.pts >= target:
                break
        if frame is None or frame.pts != target:
            return self._restart_to(index)  # an imprecise index put the demuxer past the frame
        self._next = index + 1
        return self._to_rgb(frame)

    def _restart_to(self, index: int) -> torch.Tensor | None:
        self._container.close()
        self._container, self._stream = self._open()
        self._frames = self._container.decode(self._stream)
        self._next = 0
        return self._decode_forward_to(index)

    def _decode_forward_to(self, index: int) -> torch.Tensor | None:
        while (frame := self._decode_one(self._next)) is not None:
            self._next += 1
            if self._next - 1 == index:
                return self._to_rgb(frame)
        self.count = self._next  # every frame up to the end was decoded, in order
        return None

    def _decode_one(self, index: int) -> VideoFrame | None:
        assert self._frames is not None
        try:
            return next(self._frames, None)
        except (self._av.FFmpegError, ValueError) as error:
            raise InputError(
                f"{_ARGUMENT}: could not decode frame {index} of '{self._path}' ({error})"
            ) from error

    def _list_timestamps(self) -> None:
        """Reads every packet once (no decoding) in a second container, so the frames being
        decoded keep their place; only the first call does anything."""
        if self._listed:
            return
        self._listed = True
        container, stream = self._open()
        entries: list[tuple[int, bool]] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                if packet.pts is None:
                    return
                entries.append((packet.pts, packet.is_keyframe))
        except self._av.FFmpegError:
            pass  # damaged after some packets: the frames before the damage stay reachable
        finally:
            container.close()
        entries.sort()
        self._timestamps = array("q", (pts for pts, _ in entries))
        # Frame 0 counts as a keyframe: decoding always starts there (even when an open GOP's
        # first keyframe is shown after leading B-frames).
        keyframes = [i for i, (_, keyframe) in enumerate(entries) if keyframe and i > 0]
        self._keyframes = array("q", [0, *keyframes])
        if self.count is None:
            self.count = len(entries)

    @staticmethod
    def _to_rgb(frame: VideoFrame) -> torch.Tensor:
        hwc = frame.to_ndarray(format="rgb24")
        # Counter-clockwise quarter turns to display; PyAV releases without VideoFrame.rotation
        # give frames as stored.
        turns = round(getattr(frame, "rotation", 0) / 90) % 4
        if turns:
            hwc = np.rot90(hwc, turns)
        return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)))
