"""Frames out: H.264 videos written frame by frame and read back; odd sizes padded; the file
appears under its name only when complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import av  # the 'video' extra, part of dev: a missing one fails
import numpy as np
import numpy.typing as npt
import pytest
import torch
from PIL import Image

from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.video import writer as writer_module
from sam3lib.video.frames import open_frames
from sam3lib.video.writer import VideoWriter

HEIGHT, WIDTH = 48, 64


def blocks(count: int, height: int = HEIGHT, width: int = WIDTH) -> list[npt.NDArray[Any]]:
    """(H, W, 3) uint8 frames of flat colour blocks (what lossy codecs keep well), a block
    moving right by 8 pixels a frame so frames can be told apart."""
    frames = []
    for index in range(count):
        frame = np.full((height, width, 3), (40, 90, 160), dtype=np.uint8)
        left = (index * 8) % (width - 16)
        frame[16:32, left : left + 16] = (230, 210, 40)
        frames.append(frame)
    return frames


def mean_error(decoded: torch.Tensor, frame: npt.NDArray[Any]) -> float:
    expected = torch.from_numpy(frame).permute(2, 0, 1).float()
    return float((decoded.float() - expected).abs().mean())


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_round_trip_gives_back_every_frame(tmp_path: Path) -> None:
    frames = blocks(10)
    path = tmp_path / "out" / "clip.mp4"  # a missing parent is created
    with VideoWriter(path, fps=25, size=(HEIGHT, WIDTH)) as writer:
        for frame in frames:
            writer.write(frame)
    assert (writer.codec, writer.frames_written, writer.encoded_size) == (
        "libx264",
        10,
        (HEIGHT, WIDTH),
    )
    assert leftovers(path.parent) == ["clip.mp4"]
    with open_frames(path) as video:
        assert (video.size, video.count, video.fps) == ((HEIGHT, WIDTH), 10, 25.0)
        decoded = [rgb for _, rgb in video]
    assert len(decoded) == 10
    # Lossy (CRF 20, colour at half resolution): flat blocks come back within a few levels,
    # and each frame is closer to its own source than to its neighbours.
    for index, rgb in enumerate(decoded):
        assert mean_error(rgb, frames[index]) < 3.0
        if index:
            assert mean_error(rgb, frames[index - 1]) > mean_error(rgb, frames[index]) + 5


def test_file_is_h264_yuv420p_bt709_with_its_index_first(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=Fraction(30000, 1001), size=(HEIGHT, WIDTH)) as writer:
        for frame in blocks(3):
            writer.write(frame)
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == Fraction(30000, 1001)
        frame = next(container.decode(stream))
        assert (frame.colorspace, frame.color_range) == (1, 1)  # BT.709, limited range
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: plays while loading


def test_odd_size_is_padded_with_a_copy_of_the_last_row_and_column(tmp_path: Path) -> None:
    frame = blocks(1, 47, 63)[0]
    frame[-1, :] = (250, 20, 20)  # a red last row and a green last column
    frame[:, -1] = (20, 250, 20)
    path = tmp_path / "odd.mkv"
    with VideoWriter(path, fps=10, size=(47, 63)) as writer:
        writer.write(frame)
        writer.write(frame)
    assert writer.encoded_size == (48, 64)
    with open_frames(path) as video:
        decoded = video.frame(1)
    assert decoded.shape == (3, 48, 64)
    padded = np.pad(frame, ((0, 1), (0, 1), (0, 0)), mode="edge")
    assert mean_error(decoded, padded) < 3.0


def test_pil_images_and_tensors_are_frames_too(tmp_path: Path) -> None:
    frames = blocks(2)
    path = tmp_path / "clip.mkv"
    with VideoWriter(path, fps=25, size=(HEIGHT, WIDTH)) as writer:
        writer.write(Image.fromarray(frames[0]))
        writer.write(torch.from_numpy(frames[1]).permute(2, 0, 1))
    with open_frames(path) as video:
        decoded = [rgb for _, rgb in video]
    assert [mean_error(rgb, frame) < 3.0 for rgb, frame in zip(decoded, frames, strict=True)] == [
        True,
        True,
    ]


def test_mpeg4_when_ffmpeg_lacks_libx264(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "_CODECS", ("no-such-encoder", "mpeg4"))
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=25, size=(HEIGHT, WIDTH)) as writer:
        for frame in blocks(4):
            writer.write(frame)
    assert writer.codec == "mpeg4"
    with open_frames(path) as video:
        decoded = [rgb for _, rgb in video]
    assert len(decoded) == 4
    assert all(mean_error(rgb, frame) < 6.0 for rgb, frame in zip(decoded, blocks(4), strict=True))


def test_frame_of_another_size_names_frame_and_sizes(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    too_narrow = r"frame 1 is 48x62 \(HxW\) but the writer's size is 48x64"
    with (
        pytest.raises(InputError, match=too_narrow),
        VideoWriter(path, fps=25, size=(HEIGHT, WIDTH)) as writer,
    ):
        writer.write(blocks(1)[0])
        writer.write(blocks(1, HEIGHT, WIDTH - 2)[0])
    assert leftovers(tmp_path) == []


def test_an_exception_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"the previous video")
    with (
        pytest.raises(RuntimeError, match="tracking failed"),
        VideoWriter(path, fps=25, size=(HEIGHT, WIDTH)) as writer,
    ):
        for frame in blocks(5):
            writer.write(frame)
        raise RuntimeError("tracking failed")
    assert leftovers(tmp_path) == ["clip.mp4"]
    assert path.read_bytes() == b"the previous video"
    with pytest.raises(InputError, match="closed"):
        writer.write(blocks(1)[0])


def test_success_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mkv"
    path.write_bytes(b"old")
    with VideoWriter(path, fps=25, size=(HEIGHT, WIDTH)) as writer:
        writer.write(blocks(1)[0])
    with open_frames(path) as video:
        assert len(list(video)) == 1
    assert leftovers(tmp_path) == ["clip.mkv"]


def test_a_killed_writer_leaves_no_file_under_the_final_name(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from sam3lib.video.writer import VideoWriter
        writer = VideoWriter({os.fspath(tmp_path / "clip.mp4")!r}, fps=25, size=(48, 64))
        for index in range(30):
            writer.write(np.full((48, 64, 3), index, dtype=np.uint8))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    names = leftovers(tmp_path)
    assert "clip.mp4" not in names
    assert len(names) == 1 and names[0].startswith(".clip.mp4.") and ".part" in names[0]


def test_no_frames_written_saves_nothing(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match=r"no frame was written, so '.*clip\.mp4' was not saved"),
        VideoWriter(tmp_path / "clip.mp4", fps=25, size=(HEIGHT, WIDTH)),
    ):
        pass
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("fps", "size", "message"),
    [
        (0, (HEIGHT, WIDTH), "fps: expected a positive number"),
        (float("nan"), (HEIGHT, WIDTH), "fps: expected a positive number"),
        (True, (HEIGHT, WIDTH), "fps: expected a positive number"),
        ("25", (HEIGHT, WIDTH), "fps: expected a positive number"),
        (25, (HEIGHT,), r"size: expected \(height, width\)"),
        (25, (HEIGHT, 0), "size: expected two positive ints"),
        (25, (HEIGHT, 6.5), "size: expected two positive ints"),
    ],
)
def test_bad_fps_or_size(tmp_path: Path, fps: Any, size: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        VideoWriter(tmp_path / "clip.mp4", fps=fps, size=size)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [("clip.xyz", "could not write a video at"), ("clip.webm", "cannot hold libx264 video")],
)
def test_suffix_without_an_h264_container(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(InputError, match=rf"path: .*{message}"):
        VideoWriter(tmp_path / name, fps=25, size=(HEIGHT, WIDTH))
    assert leftovers(tmp_path) == []


def test_missing_pyav_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'sam3lib\[video\]'"):
        VideoWriter(tmp_path / "clip.mp4", fps=25, size=(HEIGHT, WIDTH))
