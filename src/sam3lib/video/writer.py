"""Frames out: an H.264 video written frame by frame, under its name only once complete.

The codec is libx264 (PyAV's wheels bundle it) at CRF 20, or MPEG-4 Part 2 where the FFmpeg
build lacks it; pixels are stored as yuv420p, BT.709, limited range, which every player and
browser shows. The container follows the file's suffix (``.mp4``, ``.mov``, ``.mkv``, ...);
MP4 and MOV files get their index at the front (``faststart``), so they play while loading.

yuv420p halves the colour resolution, so H.264 needs an even width and height: a frame with an
odd height or width gets one more row or column, a copy of its last one (nothing of the
picture is lost; :attr:`VideoWriter.encoded_size` says what was written).

The video is written to a hidden temporary file beside ``path`` (``.<name>.<random>.part<suffix>``)
and renamed to ``path`` when the writer closes without an error; after an exception nothing
is left, and a killed process leaves only the hidden temporary file, never a truncated video
under ``path``. (:func:`sam3lib.labelling.atomic.atomic_writer` does the same for Python file
objects, but FFmpeg must write a named file itself: it picks the format from the name and
re-reads the file to move the MP4 index to the front.)
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from sam3lib.errors import InputError
from sam3lib.preprocess import ImageLike, to_rgb_uint8
from sam3lib.video.frames import require_av

if TYPE_CHECKING:  # annotations only: PyAV is an optional extra
    from av.container import OutputContainer
    from av.packet import Packet
    from av.video.stream import VideoStream

__all__ = ["VideoWriter"]

# In order of preference; the first one this FFmpeg build can encode with is used.
_CODECS = ("libx264", "mpeg4")
_X264_OPTIONS = {"crf": "20"}  # visually lossless for drawn overlays, a few MB a minute at 1080p
_MPEG4_BITS_PER_PIXEL = 0.2  # MPEG-4 Part 2 has no constant-quality mode in PyAV: a bit rate
_FAST_START_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})
_BT709 = 1  # AVCOL_PRI_BT709 = AVCOL_TRC_BT709 = AVCOL_SPC_BT709
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG


class VideoWriter:
    """Writes frames of one size to an H.264 video, atomically.

    Args:
        path: the video to write; its suffix picks the container (``.mp4``, ``.mkv``, ...).
            Missing parent directories are created; an existing file is replaced on success.
        fps: frames per second, a positive number (``30``, ``29.97``, ``Fraction(30000, 1001)``).
        size: (height, width) of every frame, in pixels.

    Attributes:
        codec: the encoder used, ``"libx264"`` or ``"mpeg4"``.
        encoded_size: (height, width) as written: ``size`` rounded up to even numbers.
        frames_written: frames written so far.

    Raises:
        InputError: ``fps`` or ``size`` is not valid, or FFmpeg cannot write ``path`` (an
            unknown suffix, a container that does not take H.264 such as ``.webm``).
        BackendUnavailableError: PyAV is not installed.

    Example:
        >>> import numpy as np, pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "clip.mp4"
        >>> with VideoWriter(path, fps=25, size=(48, 64)) as writer:
        ...     for _ in range(3):
        ...         writer.write(np.zeros((48, 64, 3), dtype=np.uint8))
        >>> path.exists(), writer.frames_written
        (True, 3)
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, size: tuple[int, int]) -> None:
        self._av = require_av()
        self.path = Path(path)
        self._rate = _frame_rate(fps)
        self.size = _frame_size(size)
        height, width = self.size
        self.encoded_size = (height + height % 2, width + width % 2)
        self.codec = self._pick_codec()
        self.frames_written = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=f".part{self.path.suffix}", dir=self.path.parent
        )
        os.close(handle)
        self._temporary: Path | None = Path(temporary)
        try:
            self._container, self._stream = self._open(self._temporary)
        except BaseException:
            self._discard()
            raise

    def write(self, image: ImageLike) -> None:
        """Appends one frame: an (H, W, 3) uint8 array, a PIL image, a (3, H, W) tensor or
        anything else :func:`~sam3lib.preprocess.to_rgb_uint8` takes, of the writer's size.

        Raises:
            InputError: the frame is not an image, its size is not the writer's, or the writer
                is closed.
        """
        if self._temporary is None:
            raise InputError(f"image: the writer of '{self.path}' is closed")
        index = self.frames_written
        rgb = to_rgb_uint8(image, argument=f"image (frame {index})")
        height, width = rgb.shape[1], rgb.shape[2]
        if (height, width) != self.size:
            raise InputError(
                f"image: frame {index} is {height}x{width} (HxW) but the writer's size is "
                f"{self.size[0]}x{self.size[1]}"
            )
        hwc = rgb.permute(1, 2, 0).numpy()
        if self.encoded_size != self.size:  # one copied row or column to make both even
            hwc = np.pad(hwc, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        frame = self._av.VideoFrame.from_ndarray(hwc, format="rgb24")
        frame = frame.reformat(
            format="yuv420p", dst_colorspace="ITU709", dst_color_range=_LIMITED_RANGE
        )
        frame.pts = index
        frame.time_base = 1 / self._rate
        self._mux(self._stream.encode(frame))
        self.frames_written += 1

    def close(self) -> None:
        """Finishes the video and moves it to ``path``; a no-op when already closed.

        Raises:
            InputError: no frame was written (nothing is saved).
        """
        if self._temporary is None:
            return
        if self.frames_written == 0:
            self._discard()
            raise InputError(f"image: no frame was written, so '{self.path}' was not saved")
        try:
            self._mux(self._stream.encode(None))  # the frames the encoder still holds
            self._container.close()
            with self._temporary.open("rb") as written:
                os.fsync(written.fileno())  # on disk before it gets the final name
            os.replace(self._temporary, self.path)
        except BaseException:
            self._discard()
            raise
        self._temporary = None

    def __enter__(self) -> VideoWriter:
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
            self._discard()

    def _pick_codec(self) -> str:
        for name in _CODECS:
            try:
                self._av.Codec(name, "w")
            except self._av.codec.codec.UnknownCodecError:
                continue
            return name
        raise InputError(f"path: this FFmpeg build has none of the encoders {', '.join(_CODECS)}")

    def _open(self, temporary: Path) -> tuple[OutputContainer, VideoStream]:
        fast_start = self.path.suffix.lower() in _FAST_START_SUFFIXES
        try:
            container = self._av.open(
                os.fspath(temporary),
                "w",
                container_options={"movflags": "+faststart"} if fast_start else {},
            )
        except (self._av.FFmpegError, OSError, ValueError) as error:
            raise InputError(
                f"path: could not write a video at '{self.path}' ({error}); use a video "
                "suffix such as .mp4 or .mkv"
            ) from error
        try:
            options = _X264_OPTIONS if self.codec == "libx264" else {}
            stream = container.add_stream(self.codec, rate=self._rate, options=options)
            stream.height, stream.width = self.encoded_size
            stream.pix_fmt = "yuv420p"
            context = stream.codec_context
            context.color_primaries = context.color_trc = context.colorspace = _BT709
            context.color_range = _LIMITED_RANGE
            if self.codec == "mpeg4":
                pixels_per_second = self.encoded_size[0] * self.encoded_size[1] * self._rate
                context.bit_rate = int(pixels_per_second * _MPEG4_BITS_PER_PIXEL)
        except (self._av.FFmpegError, ValueError) as error:
            container.close()
            raise InputError(
                f"path: '{self.path}' cannot hold {self.codec} video ({error}); use .mp4, .mov "
                "or .mkv"
            ) from error
        return container, stream

    def _mux(self, packets: list[Packet[VideoStream]]) -> None:
        try:
            self._container.mux(packets)
        except (self._av.FFmpegError, OSError) as error:
            raise InputError(f"path: could not write '{self.path}' ({error})") from error

    def _discard(self) -> None:
        """Closes and deletes the temporary file; ``path`` is left as it was."""
        if self._temporary is None:
            return
        container = getattr(self, "_container", None)
        if container is not None:
            with contextlib.suppress(self._av.FFmpegError, OSError):
                container.close()  # half-written output: removed next
        self._temporary.unlink(missing_ok=True)
        self._temporary = None


def _frame_rate(fps: float) -> Fraction:
    valid = isinstance(fps, (int, float, Fraction)) and not isinstance(fps, bool)
    if not valid or not math.isfinite(fps) or fps <= 0:
        raise InputError(f"fps: expected a positive number of frames per second, got {fps!r}")
    # 29.97 → 2997/100, 30000/1001 stays: small denominators, as containers store rates.
    rate = Fraction(fps).limit_denominator(1001)
    if rate == 0:
        raise InputError(f"fps: {fps!r} frames per second is too slow; the least is 1/1001")
    return rate


def _frame_size(size: tuple[int, int]) -> tuple[int, int]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise InputError(f"size: expected (height, width), got {size!r}")
    height, width = size
    for value in (height, width):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"size: expected two positive ints (height, width), got {size!r}")
    return int(height), int(width)
