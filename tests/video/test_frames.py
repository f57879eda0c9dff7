"""Frames in: video files (made here with PyAV, losslessly where pixels are compared), folders,
lists and iterators read one frame at a time; random access equal to iteration; typed errors."""

from __future__ import annotations

import gc
import io
import itertools
import os
import sys
import tracemalloc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from PIL import Image

from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.video.frames import _FileReader, natural_key, open_frames

HEIGHT, WIDTH = 48, 64


def moving_square(count: int, height: int = HEIGHT, width: int = WIDTH) -> list[npt.NDArray[Any]]:
    """(H, W, 3) uint8 frames: a background that brightens and a square moving right."""
    frames = []
    for index in range(count):
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[..., 0] = (index * 10) % 256
        frame[..., 2] = np.arange(width, dtype=np.uint8)[None, :] * 3  # no symmetry to hide turns
        left = (index * 4) % (width - 12)
        frame[8:20, left : left + 12] = (255, 200, 30)
        frames.append(frame)
    return frames


def write_clip(
    path: Path | io.BytesIO,
    frames: list[npt.NDArray[Any]],
    *,
    codec: str = "libx264rgb",
    gop: int = 4,
    rotation: int | None = None,
    format: str | None = None,
) -> None:
    """Encodes ``frames`` at 25 fps. libx264rgb at CRF 0 and FFV1 are lossless (decoded pixels
    equal the input); libx264 in yuv420p is lossy but uses B-frames (decode order differs from
    display order)."""
    import av

    pixel_formats = {"libx264rgb": "rgb24", "ffv1": "bgr0", "libx264": "yuv420p"}
    options = {"crf": "0", "preset": "ultrafast"} if codec == "libx264rgb" else {}
    target = path if isinstance(path, io.BytesIO) else os.fspath(path)
    with av.open(target, "w", format=format) as container:
        stream = container.add_stream(codec, rate=25, options=options)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pixel_formats[codec]
        stream.codec_context.gop_size = gop
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))


def chw(frame: npt.NDArray[Any]) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))


def read_all(source: Any) -> list[torch.Tensor]:
    with open_frames(source) as frames:
        return [rgb for _, rgb in frames]


# Video files


@pytest.mark.parametrize(("name", "codec"), [("clip.mkv", "libx264rgb"), ("clip.mkv", "ffv1")])
def test_lossless_file_decodes_to_the_encoded_pixels(tmp_path: Path, name: str, codec: str) -> None:
    expected = moving_square(12)
    write_clip(tmp_path / name, expected, codec=codec)
    with open_frames(tmp_path / name) as frames:
        assert frames.size == (HEIGHT, WIDTH)  # known before the first frame is asked for
        assert frames.count is None  # Matroska headers give no frame count ...
        assert frames.fps == 25.0
        decoded = list(frames)
        assert frames.count == 12  # ... known once the end was reached
    assert [index for index, _ in decoded] == list(range(12))
    for (_, rgb), frame in zip(decoded, expected, strict=True):
        assert rgb.dtype == torch.uint8 and rgb.shape == (3, HEIGHT, WIDTH)
        assert torch.equal(rgb, chw(frame))


def test_mp4_header_gives_count_and_fps(tmp_path: Path) -> None:
    write_clip(tmp_path / "clip.mp4", moving_square(7))
    with open_frames(str(tmp_path / "clip.mp4")) as frames:
        assert (frames.size, frames.count, frames.fps) == ((HEIGHT, WIDTH), 7, 25.0)


@pytest.mark.parametrize(
    ("name", "codec"), [("bframes.mp4", "libx264"), ("keyframes.mkv", "libx264rgb")]
)
def test_random_access_equals_sequential_decode(tmp_path: Path, name: str, codec: str) -> None:
    write_clip(tmp_path / name, moving_square(30), codec=codec, gop=5)
    sequential = read_all(tmp_path / name)
    order = [29, 3, 4, 17, 0, 12, 11, 10, 28, 29, 1, 25, 6]  # back, on, far forward, repeats
    with open_frames(tmp_path / name) as frames:
        for index in order:
            assert torch.equal(frames.frame(index), sequential[index]), index
        # Iterating after jumps starts again from frame 0.
        assert all(torch.equal(rgb, sequential[i]) for i, rgb in frames)


def test_a_jump_decodes_from_the_nearest_keyframe_not_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_clip(tmp_path / "clip.mp4", moving_square(40), codec="libx264", gop=5)
    decoded = 0
    decode_one = _FileReader._decode_one

    def counting(self: _FileReader, index: int) -> Any:
        nonlocal decoded
        decoded += 1
        return decode_one(self, index)

    monkeypatch.setattr(_FileReader, "_decode_one", counting)
    with open_frames(tmp_path / "clip.mp4") as frames:
        for index in (37, 21, 3):
            decoded = 0
            frames.frame(index)
            assert decoded <= 5 + 3, (index, decoded)  # one GOP, plus the decoder's delay
        decoded = 0
        frames.frame(4)  # right after frame 3: decoded on, no seek
        assert decoded == 1


def test_raw_stream_without_timestamps_is_decoded_again_from_the_start(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    write_clip(buffer, moving_square(12), codec="libx264", format="h264")
    (tmp_path / "clip.h264").write_bytes(buffer.getvalue())
    sequential = read_all(tmp_path / "clip.h264")
    assert len(sequential) == 12
    with open_frames(tmp_path / "clip.h264") as frames:
        for index in (9, 2, 11, 0, 5):
            assert torch.equal(frames.frame(index), sequential[index])


def test_rotated_video_comes_out_as_displayed(tmp_path: Path) -> None:
    # A phone's portrait video: stored landscape, with a display matrix turning it a quarter
    # turn clockwise (rotation -90, as ffprobe and PyAV report it).
    stored = moving_square(3)
    write_clip(tmp_path / "portrait.mkv", stored, rotation=-90)
    with open_frames(tmp_path / "portrait.mkv") as frames:
        assert frames.size == (WIDTH, HEIGHT)
        for (_, rgb), frame in zip(frames, stored, strict=True):
            assert torch.equal(rgb, chw(np.rot90(frame, k=-1)))


def test_frame_outside_the_video_names_frame_and_valid_range(tmp_path: Path) -> None:
    write_clip(tmp_path / "clip.mkv", moving_square(5))
    with open_frames(tmp_path / "clip.mkv") as frames:
        with pytest.raises(InputError, match=r"frame: 5 is not a frame.*valid frames: 0\.\.4"):
            frames.frame(5)
        with pytest.raises(InputError, match=r"frame: -1 .*0\.\.4"):
            frames.frame(-1)
        with pytest.raises(InputError, match=r"frame: expected a frame index"):
            frames.frame(1.0)  # type: ignore[arg-type]
        assert torch.equal(frames.frame(4), chw(moving_square(5)[4]))


def test_size_change_mid_stream_names_frame_and_sizes(tmp_path: Path) -> None:
    # Two raw H.264 streams back to back: the decoder switches size at frame 6.
    first, second = io.BytesIO(), io.BytesIO()
    write_clip(first, moving_square(6), codec="libx264", format="h264")
    write_clip(second, moving_square(6, 32, 40), codec="libx264", format="h264")
    (tmp_path / "resized.h264").write_bytes(first.getvalue() + second.getvalue())
    with open_frames(tmp_path / "resized.h264") as frames:
        iterator = iter(frames)
        assert [index for index, _ in itertools.islice(iterator, 6)] == list(range(6))
        with pytest.raises(InputError, match=r"frame 6 is 32x40 \(HxW\).* are 48x64"):
            next(iterator)


def test_video_with_no_frames(tmp_path: Path) -> None:
    import av

    # A video stream with no packet, beside an audio stream that has some.
    with av.open(os.fspath(tmp_path / "silent.mkv"), "w") as container:
        video = container.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "bgr0"
        audio = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        samples.sample_rate, samples.pts = 8000, 0
        container.mux(audio.encode(samples))
        container.mux(audio.encode(None))
    with pytest.raises(InputError, match=r"source: the video '.*silent\.mkv' has no frames"):
        open_frames(tmp_path / "silent.mkv")


def test_file_without_a_video_stream(tmp_path: Path) -> None:
    import av

    with av.open(os.fspath(tmp_path / "sound.wav"), "w") as container:
        audio = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        samples.sample_rate, samples.pts = 8000, 0
        container.mux(audio.encode(samples))
    with pytest.raises(InputError, match=r"source: '.*sound\.wav' holds no video stream"):
        open_frames(tmp_path / "sound.wav")


@pytest.mark.parametrize(
    "content", [os.urandom(4096), b"", b"not a video\n" * 100], ids=["random", "empty", "text"]
)
def test_unreadable_file_names_the_path(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.mp4").write_bytes(content)
    with pytest.raises(InputError, match=r"source: could not read '.*broken\.mp4' as a video"):
        open_frames(tmp_path / "broken.mp4")


def test_truncated_mp4_without_its_index_fails_to_open(tmp_path: Path) -> None:
    # PyAV's MP4 muxer writes the index (moov) at the end: half a file has none.
    write_clip(tmp_path / "clip.mp4", moving_square(12))
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"could not read '.*half\.mp4' as a video"):
        open_frames(tmp_path / "half.mp4")


def test_truncated_matroska_yields_the_frames_before_the_cut(tmp_path: Path) -> None:
    expected = moving_square(12)
    write_clip(tmp_path / "clip.mkv", expected, codec="ffv1")
    data = (tmp_path / "clip.mkv").read_bytes()
    (tmp_path / "half.mkv").write_bytes(data[: len(data) // 2])
    with open_frames(tmp_path / "half.mkv") as frames:
        decoded = [rgb for _, rgb in frames]
        assert 0 < len(decoded) < 12
        assert frames.count == len(decoded)
        for rgb, frame in zip(decoded, expected, strict=False):
            assert torch.equal(rgb, chw(frame))
        with pytest.raises(InputError, match=rf"valid frames: 0\.\.{len(decoded) - 1}"):
            frames.frame(len(decoded))


def test_memory_stays_at_a_few_frames_for_a_long_clip(tmp_path: Path) -> None:
    height, width, count = 96, 128, 200
    frame_bytes = height * width * 3
    write_clip(tmp_path / "long.mkv", moving_square(count, height, width), gop=25)
    gc.collect()
    tracemalloc.start()  # numpy's pixel buffers are traced; FFmpeg's own are not
    try:
        alive: list[weakref.ref[torch.Tensor]] = []
        most_alive = 0
        with open_frames(tmp_path / "long.mkv") as frames:
            for _, rgb in frames:
                alive.append(weakref.ref(rgb))
                most_alive = max(most_alive, sum(ref() is not None for ref in alive))
            assert frames.count == count
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert most_alive <= 2  # the frame in hand and, at most, the one before it
    assert peak < 10 * frame_bytes, peak / frame_bytes  # a preloaded clip would be 200 frames


def test_missing_pyav_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 16)
    monkeypatch.setitem(sys.modules, "av", None)  # import av raises ImportError
    with pytest.raises(BackendUnavailableError, match=r"pip install 'sam3lib\[video\]'"):
        open_frames(tmp_path / "clip.mp4")


def test_missing_path() -> None:
    with pytest.raises(InputError, match=r"source: no such file or directory: 'nowhere\.mp4'"):
        open_frames("nowhere.mp4")


# Directories, sequences, iterators


def test_directory_frames_come_in_natural_order(tmp_path: Path) -> None:
    expected = moving_square(12)
    for index in (11, 0, 5, 10, 1, 2, 3, 4, 6, 7, 8, 9):  # written out of order
        Image.fromarray(expected[index]).save(tmp_path / f"frame_{index + 1}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "._frame_1.png").write_bytes(b"macOS metadata, not an image")
    (tmp_path / "masks").mkdir()
    Image.fromarray(expected[0]).save(tmp_path / "masks" / "frame_0.png")
    with open_frames(tmp_path) as frames:
        assert (frames.count, frames.fps, frames.size) == (12, None, None)
        decoded = list(frames)
        assert frames.size == (HEIGHT, WIDTH)
        assert torch.equal(frames.frame(7), chw(expected[7]))
    assert [index for index, _ in decoded] == list(range(12))
    assert all(
        torch.equal(rgb, chw(frame)) for (_, rgb), frame in zip(decoded, expected, strict=True)
    )


def test_natural_key_orders_digit_runs_by_value() -> None:
    names = ["frame_10.jpg", "frame_2.jpg", "frame_1.jpg", "a.jpg", "frame_02.jpg", "frame.jpg"]
    assert sorted(names, key=natural_key) == [
        "a.jpg", "frame.jpg", "frame_1.jpg", "frame_02.jpg", "frame_2.jpg", "frame_10.jpg",
    ]  # fmt: skip


def test_directory_without_frames(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(InputError, match=r"source: the directory '.*' holds no frames"):
        open_frames(tmp_path)


def test_list_of_mixed_images(tmp_path: Path) -> None:
    expected = moving_square(4)
    Image.fromarray(expected[0]).save(tmp_path / "first.png")
    images = [
        tmp_path / "first.png",
        Image.fromarray(expected[1]),
        expected[2],
        chw(expected[3]),
    ]
    with open_frames(images) as frames:
        assert frames.count == 4
        assert torch.equal(frames.frame(2), chw(expected[2]))
        assert all(torch.equal(rgb, chw(expected[i])) for i, rgb in frames)


@pytest.mark.parametrize("layout", ["THWC array", "TCHW tensor"])
def test_stacked_frames(layout: str) -> None:
    expected = np.stack(moving_square(3))
    stack: Any = (
        expected if layout == "THWC array" else torch.from_numpy(expected).permute(0, 3, 1, 2)
    )
    decoded = read_all(stack)
    assert all(torch.equal(rgb, chw(frame)) for rgb, frame in zip(decoded, expected, strict=True))


def test_one_image_is_not_a_video() -> None:
    with pytest.raises(InputError, match=r"pass one image as \[image\]"):
        open_frames(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    with pytest.raises(InputError, match="got Image"):
        open_frames(Image.new("RGB", (4, 4)))  # type: ignore[arg-type]


@pytest.mark.parametrize("source", [[], (), iter([])], ids=["list", "tuple", "iterator"])
def test_zero_frames(source: Any) -> None:
    with pytest.raises(InputError, match=r"source: .*(empty|no frames)"):
        read_all(source)


def test_size_change_in_a_list_names_frame_and_sizes() -> None:
    images = [*moving_square(3), np.zeros((HEIGHT + 1, WIDTH, 3), np.uint8)]
    with pytest.raises(InputError, match=r"frame 3 is 49x64 \(HxW\) but .* are 48x64"):
        read_all(images)


def test_bad_image_in_a_list_names_its_frame() -> None:
    with pytest.raises(InputError, match=r"source frame 1: boolean arrays are not images"):
        read_all([moving_square(1)[0], np.zeros((4, 4), bool)])


def test_endless_generator_is_pulled_one_frame_at_a_time() -> None:
    pulled = 0

    def camera() -> Iterator[npt.NDArray[Any]]:
        nonlocal pulled
        for frame in itertools.cycle(moving_square(4)):
            pulled += 1
            yield frame

    frames = open_frames(camera())
    assert (frames.count, frames.fps, frames.size) == (None, None, None)
    assert pulled == 0  # opening reads nothing
    taken = list(itertools.islice(frames, 10))
    assert [index for index, _ in taken] == list(range(10))
    assert pulled == 10
    assert frames.size == (HEIGHT, WIDTH)
    with pytest.raises(InputError, match=r"frame: an iterator of images is read once"):
        frames.frame(0)


def test_iterator_source_is_read_once() -> None:
    frames = open_frames(iter(moving_square(3)))
    assert len(list(frames)) == 3
    assert frames.count == 3
    with pytest.raises(InputError, match=r"read once, in order; frame 0 was asked for"):
        list(frames)


def test_closed_frames_refuse_reads() -> None:
    with open_frames(moving_square(2)) as frames:
        frames.frame(1)
    with pytest.raises(InputError, match="closed"):
        frames.frame(0)


@pytest.mark.parametrize("source", [b"clip.mp4", 42], ids=["bytes", "int"])
def test_unsupported_source_types(source: Any) -> None:
    with pytest.raises(InputError, match=r"source: expected a video file, a directory"):
        open_frames(source)
