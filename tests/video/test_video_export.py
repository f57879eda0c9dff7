"""Tracked frames out: YouTube-VIS JSON read back by pycocotools, MOTChallenge lines, and a
video whose objects keep their colours; a killed job keeps finished MOT frames and no JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import av  # the 'video' extra, part of dev: a missing one fails
import numpy as np
import numpy.typing as npt
import pytest
import torch
from pycocotools import mask as coco_mask

from sam3lib.errors import InputError
from sam3lib.video.export import AnnotatedVideoWriter, MotWriter, YouTubeVisWriter
from sam3lib.video.result import TrackedFrame
from sam3lib.visualize import draw_tracked, object_color

HEIGHT, WIDTH = 48, 64
Rect = tuple[int, int, int, int]  # top, left, height, width


def tracked(
    index: int,
    rects: dict[int, Rect],
    scores: dict[int, float] | None = None,
    size: tuple[int, int] = (HEIGHT, WIDTH),
) -> TrackedFrame:
    """A frame whose objects are the given rectangles, boxes drawn tight around them."""
    ids = sorted(rects)
    masks = np.zeros((len(ids), *size), dtype=bool)
    boxes = np.zeros((len(ids), 4), dtype=np.float32)
    for row, object_id in enumerate(ids):
        top, left, height, width = rects[object_id]
        masks[row, top : top + height, left : left + width] = True
        boxes[row] = (left, top, left + width, top + height)
    return TrackedFrame(
        index=index,
        object_ids=np.array(ids, dtype=np.int64),
        masks=masks,
        boxes=boxes,
        scores=np.array([(scores or {}).get(i, 0.5) for i in ids], dtype=np.float32),
        image_size=size,
    )


def with_mask(frame: TrackedFrame, row: int, mask: npt.NDArray[np.bool_]) -> TrackedFrame:
    """``frame`` with object ``row``'s mask replaced (and its box fitted to it)."""
    masks = frame.masks.copy()
    masks[row] = mask
    boxes = frame.boxes.copy()
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    boxes[row] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1) if rows.size else 0
    return TrackedFrame(
        index=frame.index,
        object_ids=frame.object_ids,
        masks=masks,
        boxes=boxes,
        scores=frame.scores,
        image_size=frame.image_size,
    )


def a_clip() -> list[TrackedFrame]:
    """Five frames: object 0 on every frame, object 4 from frame 2 on, an irregular mask for
    object 0 on frame 3."""
    frames = [
        tracked(
            index,
            {0: (4 + index, 6 + 2 * index, 10, 12), **({4: (20, 30, 8, 5)} if index >= 2 else {})},
            {0: 0.9 - 0.1 * index, 4: 0.75},
        )
        for index in range(5)
    ]
    blob = np.random.default_rng(0).random((HEIGHT, WIDTH)) > 0.7
    frames[3] = with_mask(frames[3], 0, blob)
    return frames


# YouTube-VIS ----------------------------------------------------------------------------------


# pycocotools' decode still passes copy=False to np.array (NumPy 2 warns); harmless here.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.mask")
def test_youtube_vis_json_decodes_back_to_the_masks_written(tmp_path: Path) -> None:
    frames = a_clip()
    path = tmp_path / "out" / "tracks.json"
    with YouTubeVisWriter(path, video_name="dog_run", category="dog", fps=25) as writer:
        for frame in reversed(frames):  # reverse tracking yields the last frame first
            writer.write(frame)
    document = json.loads(path.read_text())
    assert document["videos"] == [
        {
            "id": 1,
            "name": "dog_run",
            "width": WIDTH,
            "height": HEIGHT,
            "length": 5,
            "file_names": [f"dog_run/{index:05d}.jpg" for index in range(5)],
            "fps": 25.0,
        }
    ]
    assert document["categories"] == [{"id": 1, "name": "dog", "supercategory": "dog"}]
    annotations = document["annotations"]
    assert [(a["id"], a["object_id"], a["video_id"], a["category_id"]) for a in annotations] == [
        (1, 0, 1, 1),
        (5, 4, 1, 1),
    ]
    for annotation in annotations:
        object_id = annotation["object_id"]
        for key in ("segmentations", "bboxes", "areas", "scores"):
            assert len(annotation[key]) == 5
        for frame in frames:
            expected = frame.mask_of(object_id)
            rle = annotation["segmentations"][frame.index]
            if expected is None:
                assert rle is None and annotation["bboxes"][frame.index] is None
                assert annotation["areas"][frame.index] is None
                continue
            np.testing.assert_array_equal(coco_mask.decode(rle).astype(bool), expected)
            assert rle["size"] == [HEIGHT, WIDTH]
            assert annotation["areas"][frame.index] == int(coco_mask.area(rle)) > 0
            np.testing.assert_allclose(annotation["bboxes"][frame.index], coco_mask.toBbox(rle))
            row = int(np.flatnonzero(frame.object_ids == object_id)[0])
            assert annotation["scores"][frame.index] == pytest.approx(float(frame.scores[row]))
    assert annotations[0]["score"] == pytest.approx(np.mean([0.9, 0.8, 0.7, 0.6, 0.5]))
    assert annotations[1]["score"] == pytest.approx(0.75)
    assert sorted(p.name for p in path.parent.iterdir()) == ["tracks.json"]


def test_frames_never_written_and_empty_masks_are_none(tmp_path: Path) -> None:
    path = tmp_path / "tracks.json"
    empty = with_mask(tracked(3, {2: (0, 0, 4, 4)}), 0, np.zeros((HEIGHT, WIDTH), dtype=bool))
    with YouTubeVisWriter(path, video_name="v") as writer:
        writer.write(tracked(1, {2: (0, 0, 4, 4)}))
        writer.write(empty)
    document = json.loads(path.read_text())
    assert document["videos"][0]["length"] == 4
    assert "fps" not in document["videos"][0]
    assert document["categories"][0]["name"] == "object"
    (annotation,) = document["annotations"]
    assert [rle is None for rle in annotation["segmentations"]] == [True, False, True, True]
    assert annotation["areas"] == [None, 16, None, None]


def test_an_error_in_the_block_leaves_no_json(tmp_path: Path) -> None:
    path = tmp_path / "tracks.json"
    path.write_text("the previous run")
    with pytest.raises(RuntimeError), YouTubeVisWriter(path, video_name="v") as writer:
        writer.write(tracked(0, {0: (0, 0, 4, 4)}))
        raise RuntimeError("tracking failed")
    assert path.read_text() == "the previous run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracks.json"]
    with pytest.raises(InputError, match=r"frame: the writer of .* is closed"):
        writer.write(tracked(1, {0: (0, 0, 4, 4)}))


def test_no_frame_written_saves_no_json(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match="no frame was written"),
        YouTubeVisWriter(tmp_path / "tracks.json", video_name="v"),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"video_name": ""}, "video_name: expected a non-empty str"),
        ({"video_name": "v", "category": ""}, "category: expected a non-empty str"),
        ({"video_name": "v", "fps": 0}, "fps: expected a positive number"),
        ({"video_name": "v", "fps": float("inf")}, "fps: expected a positive number"),
    ],
)
def test_youtube_vis_rejects_bad_arguments(
    tmp_path: Path, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        YouTubeVisWriter(tmp_path / "tracks.json", **arguments)


@pytest.mark.parametrize("kind", ["json", "mot"])
def test_writers_reject_bad_paths_and_frames(tmp_path: Path, kind: str) -> None:
    def open_writer(path: Any) -> YouTubeVisWriter | MotWriter:
        return YouTubeVisWriter(path, video_name="v") if kind == "json" else MotWriter(path)

    with pytest.raises(InputError, match=r"path: .* is a directory"):
        open_writer(tmp_path)
    with pytest.raises(InputError, match="path: expected a file path"):
        open_writer(3)
    writer = open_writer(tmp_path / "out")
    writer.write(tracked(0, {0: (0, 0, 4, 4)}))
    with pytest.raises(InputError, match="frame: frame 0 was already written"):
        writer.write(tracked(0, {0: (0, 0, 4, 4)}))
    with pytest.raises(InputError, match=r"frame: frame 1 is \(24, 32\) \(H, W\) but earlier"):
        writer.write(tracked(1, {0: (0, 0, 4, 4)}, size=(24, 32)))
    with pytest.raises(InputError, match="frame: expected a TrackedFrame, got ndarray"):
        writer.write(np.zeros((HEIGHT, WIDTH), dtype=bool))  # type: ignore[arg-type]
    writer.write(tracked(1, {0: (0, 0, 4, 4)}))  # refused frames were not counted as written
    assert writer.frames_written == 2
    writer.close()


# MOTChallenge ---------------------------------------------------------------------------------


def read_mot(path: Path) -> npt.NDArray[np.float64]:
    return np.loadtxt(path, delimiter=",", ndmin=2)


def test_mot_lines_are_one_based_frames_ids_and_corners(tmp_path: Path) -> None:
    frames = a_clip()
    path = tmp_path / "MOT-01.txt"
    with MotWriter(path) as writer:
        for frame in reversed(frames):
            writer.write(frame)
    rows = read_mot(path)
    assert rows.shape == (8, 10)
    np.testing.assert_array_equal(rows[:, 7:], -1)  # no world coordinates
    for frame in frames:
        lines = rows[rows[:, 0] == frame.index + 1]
        assert sorted(lines[:, 1].astype(int)) == [int(i) + 1 for i in frame.object_ids]
        for line in lines:
            row = int(np.flatnonzero(frame.object_ids == line[1] - 1)[0])
            left, top, right, bottom = frame.boxes[row]
            np.testing.assert_allclose(line[2:6], [left + 1, top + 1, right - left, bottom - top])
            assert line[6] == pytest.approx(float(frame.scores[row]), abs=1e-6)
    # Written last frame first: the file keeps that order.
    assert rows[0, 0] == 5 and rows[-1, 0] == 1
    assert path.read_text().splitlines()[-1] == "1,1,7,5,12,10,0.9,-1,-1,-1"


def test_mot_skips_objects_with_empty_masks(tmp_path: Path) -> None:
    frame = with_mask(tracked(0, {0: (0, 0, 4, 4), 1: (8, 8, 4, 4)}), 0, np.zeros((48, 64), bool))
    path = tmp_path / "MOT-01.txt"
    with MotWriter(path) as writer:
        writer.write(frame)
    assert path.read_text() == "1,2,9,9,4,4,0.5,-1,-1,-1\n"


def test_each_mot_frame_is_in_the_file_when_write_returns(tmp_path: Path) -> None:
    path = tmp_path / "MOT-01.txt"
    writer = MotWriter(path)
    for index, frame in enumerate(a_clip()):
        writer.write(frame)
        assert set(read_mot(path)[:, 0].astype(int)) == set(range(1, index + 2))
    writer.close()


def test_a_killed_job_keeps_its_finished_mot_frames_and_leaves_no_json(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from sam3lib.video.export import MotWriter, YouTubeVisWriter
        from sam3lib.video.result import TrackedFrame
        mot = MotWriter({os.fspath(tmp_path / "MOT-01.txt")!r})
        vis = YouTubeVisWriter({os.fspath(tmp_path / "tracks.json")!r}, video_name="v")
        with mot, vis:
            for index in range(3):
                masks = np.zeros((2, 8, 8), dtype=bool)
                masks[:, index : index + 2, 1:4] = True
                frame = TrackedFrame(
                    index=index,
                    object_ids=np.array([0, 1]),
                    masks=masks,
                    boxes=np.array([[1, index, 4, index + 2]] * 2, dtype=np.float32),
                    scores=np.array([0.5, 0.5], dtype=np.float32),
                    image_size=(8, 8),
                )
                mot.write(frame)
                vis.write(frame)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MOT-01.txt"]
    rows = read_mot(tmp_path / "MOT-01.txt")
    assert rows[:, :2].astype(int).tolist() == [[1, 1], [1, 2], [2, 1], [2, 2], [3, 1], [3, 2]]
    np.testing.assert_array_equal(rows[:, 3], [1, 1, 2, 2, 3, 3])  # bb_top, 1-based


# Annotated video ------------------------------------------------------------------------------

GRAY = 128
# Ids other than 0 and 1: the colours come from the ids, not from the objects' positions.
LEFT_ID, RIGHT_ID = 6, 7
LEFT, RIGHT = (24, 4, 20, 24), (24, 36, 20, 24)  # top, left, height, width


def decoded_frames(path: Path) -> list[npt.NDArray[np.uint8]]:
    with av.open(os.fspath(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def interior_color(picture: npt.NDArray[np.uint8], rect: Rect) -> npt.NDArray[np.float64]:
    """Mean colour well inside the rectangle: past the drawn edge and the blur of H.264's half
    resolution colour."""
    top, left, height, width = rect
    margin = 5
    inside = picture[top + margin : top + height - margin, left + margin : left + width - margin]
    return inside.reshape(-1, 3).mean(axis=0)


def test_each_object_keeps_its_colour_on_every_frame(tmp_path: Path) -> None:
    background = torch.full((3, HEIGHT, WIDTH), GRAY, dtype=torch.uint8)
    frames = [
        tracked(0, {LEFT_ID: LEFT, RIGHT_ID: RIGHT}),
        tracked(1, {LEFT_ID: LEFT, RIGHT_ID: RIGHT}),
        tracked(2, {RIGHT_ID: RIGHT}),  # the left object is gone
        tracked(3, {LEFT_ID: LEFT, RIGHT_ID: RIGHT}),
    ]
    path = tmp_path / "tracked.mp4"
    with AnnotatedVideoWriter(path, fps=10, size=(HEIGHT, WIDTH)) as writer:
        for frame in frames:
            writer.write(background, frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracked.mp4"]
    decoded = decoded_frames(path)
    assert len(decoded) == 4

    def blend(object_id: int) -> npt.NDArray[np.float64]:
        return 0.55 * GRAY + 0.45 * np.array(object_color(object_id), dtype=np.float64)

    assert np.abs(blend(LEFT_ID) - blend(RIGHT_ID)).max() > 40  # far apart colours
    for frame, picture in zip(frames, decoded, strict=True):
        np.testing.assert_allclose(interior_color(picture, RIGHT), blend(RIGHT_ID), atol=6)
        if LEFT_ID in frame.object_ids:
            np.testing.assert_allclose(interior_color(picture, LEFT), blend(LEFT_ID), atol=6)
        else:
            np.testing.assert_allclose(interior_color(picture, LEFT), GRAY, atol=6)
        # The whole picture, tags and edges included, is what draw_tracked drew (the tags' small
        # text loses most to H.264: about 6 levels; a neighbouring frame's drawing is 20 off).
        drawn = np.asarray(draw_tracked(background, frame.masks, frame.object_ids, frame.boxes))
        assert np.abs(picture.astype(float) - drawn).mean() < 9
    # The right object's colour does not move when the left one leaves.
    right = [interior_color(picture, RIGHT) for picture in decoded]
    assert np.abs(right[2] - right[1]).max() < 3


def test_the_annotated_video_rejects_a_frame_of_another_size(tmp_path: Path) -> None:
    path = tmp_path / "tracked.mp4"
    with (
        pytest.raises(InputError, match=r"frame: frame 0 is \(24, 32\) \(H, W\) but the writer"),
        AnnotatedVideoWriter(path, fps=10, size=(HEIGHT, WIDTH)) as writer,
    ):
        writer.write(np.zeros((24, 32, 3), np.uint8), tracked(0, {}, size=(24, 32)))
    assert list(tmp_path.iterdir()) == []  # the error discarded the half-written video
