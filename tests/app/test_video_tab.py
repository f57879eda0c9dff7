"""The demo's video tab without a browser: the first frames tracked as ``Segmenter.track``
tracks them, the annotated video and the YouTube-VIS JSON written where the page serves
files, the summary; bad requests and a checkpoint that cannot track refused with the library's
message."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest

from helpers.clips import random_clip
from sam3lib import InputError, InteractiveUnavailableError, Segmenter, TrackingConfig
from sam3lib.app.models import ModelPool
from sam3lib.app.video_tab import (
    TRACKED_VIDEO_NAME,
    TRACKS_JSON_NAME,
    track_for_display,
    track_video,
    tracking_unavailable,
)
from sam3lib.video.frames import open_frames
from sam3lib.video.writer import VideoWriter

NUM_FRAMES, HEIGHT, WIDTH = 10, 60, 80
# The tiny random detector scores near 0.5: thresholds of 0 make its detections objects.
FINDS_OBJECTS = TrackingConfig(
    detection_score_threshold=0.0,
    new_object_score=0.0,
    max_objects=2,
    hotstart_frames=4,
    hotstart_unmatched_frames=2,
    hotstart_duplicate_frames=2,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "street walk.mp4"
    with VideoWriter(path, fps=25, size=(HEIGHT, WIDTH)) as writer:
        for frame in random_clip(NUM_FRAMES, (HEIGHT, WIDTH)):
            writer.write(frame)
    return path


def test_the_first_frames_are_tracked_as_segmenter_track_tracks_them(
    video_segmenter: Segmenter, clip: Path, tmp_path: Path
) -> None:
    reported: list[tuple[int, int | None]] = []
    shown = track_for_display(
        video_segmenter,
        clip,
        " person ",
        max_frames=7,
        directory=tmp_path,
        progress=lambda done, total: reported.append((done, total)),
        config=FINDS_OBJECTS,
    )

    assert reported == [(done, 7) for done in range(1, 8)]
    with open_frames(clip) as frames:
        first = [rgb for index, rgb in frames if index < 7]
    want = list(video_segmenter.track(first, "person", config=FINDS_OBJECTS))
    on_frames: dict[int, int] = {}
    for frame in want:
        for object_id in frame.object_ids.tolist():
            on_frames[object_id] = on_frames.get(object_id, 0) + 1
    assert on_frames, "no object was tracked: the test has no teeth"
    assert shown.frames == 7 and shown.object_frames == dict(sorted(on_frames.items()))

    assert (
        shown.video == tmp_path / TRACKED_VIDEO_NAME and shown.tracks == tmp_path / TRACKS_JSON_NAME
    )
    with open_frames(shown.video) as drawn:
        assert drawn.count == 7 and drawn.size == (HEIGHT, WIDTH) and drawn.fps == 25
    document = json.loads(shown.tracks.read_text(encoding="utf-8"))
    [video] = document["videos"]
    assert (video["name"], video["length"], video["height"], video["width"]) == (
        "street walk",
        7,
        HEIGHT,
        WIDTH,
    )
    assert document["categories"][0]["name"] == "person"
    for annotation in document["annotations"]:
        assert len(annotation["segmentations"]) == 7
        present = [rle for rle in annotation["segmentations"] if rle is not None]
        assert len(present) == on_frames[annotation["object_id"]]

    assert "**7 frames** tracked (the first 7: raise *Max frames* for more)" in shown.summary
    ids = ", ".join(f"id {i} (on {n} frames)" for i, n in sorted(on_frames.items()))
    assert f"**{len(on_frames)} object" in shown.summary and ids in shown.summary
    assert "s per frame" in shown.summary and "fp32 · eager · cpu" in shown.summary


def test_a_cap_past_the_end_tracks_the_whole_video(
    video_segmenter: Segmenter, clip: Path, tmp_path: Path
) -> None:
    shown = track_for_display(video_segmenter, clip, "person", max_frames=150, directory=tmp_path)
    assert shown.frames == NUM_FRAMES
    assert f"**{NUM_FRAMES} frames** tracked (the whole video)" in shown.summary
    document = json.loads(shown.tracks.read_text(encoding="utf-8"))
    assert document["videos"][0]["length"] == NUM_FRAMES


def test_the_track_button_writes_into_the_downloads_folder(
    video_segmenter: Segmenter, clip: Path, tmp_path: Path
) -> None:
    steps: list[tuple[tuple[int, int | None], str, str]] = []

    def progress(step: tuple[int, int | None], desc: str, unit: str) -> None:
        steps.append((step, desc, unit))

    video, files, summary = track_video(
        ModelPool(video_segmenter), tmp_path, str(clip), "person", 3, "fp32", "auto", progress
    )

    [tracks] = files
    assert Path(video).name == TRACKED_VIDEO_NAME and Path(tracks).name == TRACKS_JSON_NAME
    assert Path(video).parent == Path(tracks).parent and Path(video).parent.parent == tmp_path
    assert json.loads(Path(tracks).read_text(encoding="utf-8"))["videos"][0]["length"] == 3
    assert steps == [((done, 3), "Tracking", "frames") for done in (1, 2, 3)]
    assert "**3 frames** tracked" in summary


@pytest.mark.parametrize(
    ("video", "prompt", "max_frames", "message"),
    [
        (None, "person", 5, "Upload a video first"),
        ("clip", "  ", 5, "prompt: type what to track"),
        ("clip", "person, 狗", 5, r"one text prompt at a time, got 2 \(person, 狗\)"),
        ("clip", "person", 0, "max frames: expected a whole number of frames >= 1, got 0"),
        ("clip", "person", None, "Give Max frames"),
        ("not a video", "person", 5, "source: could not read"),
    ],
)
def test_bad_requests_show_the_reason(
    video_segmenter: Segmenter,
    clip: Path,
    tmp_path: Path,
    video: str | None,
    prompt: str,
    max_frames: int | None,
    message: str,
) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 50)
    path = {"clip": str(clip), "not a video": str(garbage), None: None}[video]
    pool = ModelPool(video_segmenter)
    with pytest.raises(gr.Error, match=message):
        track_video(pool, tmp_path / "downloads", path, prompt, max_frames, "fp32", "auto")


def test_a_checkpoint_that_cannot_track_is_refused_and_its_tab_says_why(
    segmenter: Segmenter, video_segmenter: Segmenter, clip: Path, tmp_path: Path
) -> None:
    assert tracking_unavailable(video_segmenter) is None
    reason = tracking_unavailable(segmenter)  # the detector-only tiny checkpoint
    assert reason is not None and "cannot track" in reason
    with pytest.raises(InteractiveUnavailableError, match="cannot track"):
        track_for_display(segmenter, clip, "person", max_frames=2, directory=tmp_path)
    with pytest.raises(gr.Error, match="cannot track"):
        track_video(ModelPool(segmenter), tmp_path, str(clip), "person", 2, "fp32", "auto")

    from sam3lib.app.ui import build_app

    blocks = build_app(segmenter, downloads_dir=tmp_path).blocks.values()
    track_button = next(block for block in blocks if block.elem_id == "video-track")
    assert track_button.interactive is False
    assert any(block.elem_id == "video-unavailable" for block in blocks)


def test_a_tracking_checkpoint_gets_the_tab_ready(
    video_segmenter: Segmenter, tmp_path: Path
) -> None:
    from sam3lib.app.ui import build_app

    blocks = list(build_app(video_segmenter, downloads_dir=tmp_path).blocks.values())
    element_ids = {block.elem_id for block in blocks}
    assert {"video-tab", "video-input", "video-prompt", "video-max-frames"} <= element_ids
    assert {"video-output", "video-summary", "video-downloads"} <= element_ids
    assert "video-unavailable" not in element_ids
    track_button = next(block for block in blocks if block.elem_id == "video-track")
    assert track_button.interactive is not False


def test_max_frames_must_be_a_whole_number(
    video_segmenter: Segmenter, clip: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="max frames"):
        track_for_display(video_segmenter, clip, "person", max_frames=True, directory=tmp_path)
