"""write_outputs: frames in any order, the video written in display order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.clips import random_clip
from sam3lib import InputError, TrackedFrame
from sam3lib.video.frames import open_frames, require_av
from sam3lib.video.outputs import write_outputs
from sam3lib.visualize import object_color

SIZE = (48, 64)


def frame_with_square(index: int) -> TrackedFrame:
    """Object 3 as a square whose left edge moves 4 px per frame."""
    masks = np.zeros((1, *SIZE), dtype=bool)
    masks[0, 10:30, 4 * index : 4 * index + 16] = True
    box = [4.0 * index, 10.0, 4.0 * index + 16, 30.0]
    return TrackedFrame(
        index=index,
        object_ids=np.array([3]),
        masks=masks,
        boxes=np.array([box], dtype=np.float32),
        scores=np.array([0.9], dtype=np.float32),
        image_size=SIZE,
    )


def test_frames_out_of_order_make_a_video_in_order(tmp_path: Path) -> None:
    clip = [frame * 0 + 128 for frame in random_clip(6, size=SIZE)]
    order = [3, 4, 5, 1, 0]  # frame 2 is never tracked: written without overlay
    written = write_outputs(
        (frame_with_square(i) for i in order),
        open_frames(clip),
        video=tmp_path / "out.mp4",
        json=tmp_path / "out.json",
        mot=tmp_path / "out.txt",
        category="square",
    )
    assert written.frames == 5 and written.object_ids == (3,)
    av = require_av()
    with av.open(str(tmp_path / "out.mp4")) as container:
        decoded = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    assert len(decoded) == 6
    colour = np.array(object_color(3))
    for index, image in enumerate(decoded):
        inside = image[26, 4 * index + 8]  # below the id tag, inside the edge
        if index == 2:
            assert np.abs(inside - 128).max() <= 8  # untracked: the plain grey frame
        else:
            # the square of *this* frame is tinted towards the object's colour
            assert np.abs(inside - 128).max() > 20
            assert np.sign(inside - 128).tolist() == np.sign(colour - 128).tolist()
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["categories"][0]["name"] == "square"
    assert len((tmp_path / "out.txt").read_text().splitlines()) == 5


def test_a_stream_cannot_be_drawn(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="video: drawing the annotated video re-reads"):
        write_outputs([], open_frames(iter(random_clip(2))), video=tmp_path / "out.mp4")
