"""``sam3lib track`` end to end on the tiny tracking checkpoint: the files it writes for a text
prompt, click flags and a prompts file, and one-line errors with their exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import av  # the 'video' extra, part of dev: a missing one fails
import pytest
from pycocotools import mask as coco_mask

from helpers.clips import random_clip
from sam3lib.cli import main
from sam3lib.video.writer import VideoWriter

NUM_FRAMES, HEIGHT, WIDTH = 8, 48, 64


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=10, size=(HEIGHT, WIDTH)) as writer:
        for frame in random_clip(NUM_FRAMES, (HEIGHT, WIDTH)):
            writer.write(frame.permute(1, 2, 0).numpy())
    return path


@pytest.fixture()
def model_args(video_checkpoint_dir: Path) -> list[str]:
    return ["--model", str(video_checkpoint_dir), "--no-progress"]


def _mot_rows(path: Path) -> list[list[str]]:
    rows = [line.split(",") for line in path.read_text().splitlines()]
    for row in rows:
        assert len(row) == 10 and row[7:] == ["-1", "-1", "-1"]
        assert 1 <= int(row[0]) <= NUM_FRAMES and int(row[1]) >= 1
        left, top, width, height, score = map(float, row[2:7])
        assert left >= 1 and top >= 1 and width > 0 and height > 0 and 0 <= score <= 1
    return rows


def _decoded_frames(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as container:
        return [(frame.height, frame.width) for frame in container.decode(video=0)]


# pycocotools' decode still passes copy=False to np.array (NumPy 2 warns); harmless here.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.mask")
def test_a_text_prompt_writes_the_video_json_and_mot_lines(
    clip: Path, model_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video, report, mot = tmp_path / "out.mp4", tmp_path / "out.json", tmp_path / "out.txt"
    argv = ["track", str(clip), "--prompt", "person", *model_args]
    # Random weights score low: thresholds of 0 make every detection an object.
    argv += ["--score-threshold", "0", "--new-object-threshold", "0", "--max-objects", "1"]
    assert main([*argv, "--out", str(video), "--json", str(report), "--mot", str(mot)]) == 0

    document = json.loads(report.read_text())
    [entry] = document["videos"]
    assert (entry["length"], entry["height"], entry["width"]) == (NUM_FRAMES, HEIGHT, WIDTH)
    [annotation] = document["annotations"]  # --max-objects 1
    segmentations = [rle for rle in annotation["segmentations"] if rle is not None]
    assert segmentations
    for rle in segmentations:
        assert coco_mask.decode(rle).shape == (HEIGHT, WIDTH)
    rows = _mot_rows(mot)
    assert len(rows) == len(segmentations)
    assert {int(row[1]) for row in rows} == {annotation["object_id"] + 1}
    assert _decoded_frames(video) == [(HEIGHT, WIDTH)] * NUM_FRAMES
    out = capsys.readouterr().out
    assert f"{NUM_FRAMES} frame(s), 1 object(s) [{annotation['object_id']}]" in out
    assert f"wrote {video}, {report}, {mot}" in out


def test_click_flags_track_each_object_from_the_clicked_frame(
    clip: Path, model_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mot = tmp_path / "clicks.txt"
    argv = ["track", str(clip), "--frame", "3", "--mot", str(mot), *model_args]
    argv += ["--point", "20,20", "--negative-point", "1:40,30"]  # no "ID:": object 1
    argv += ["--box", "4:30,10,60,40", "--point", "4:45,25"]  # the click refines the box
    assert main(argv) == 0

    rows = _mot_rows(mot)
    # Forward from frame 3, then back to 0: every frame, objects 1 and 4 (MOT ids + 1).
    assert {int(row[0]) for row in rows} <= set(range(1, NUM_FRAMES + 1))
    assert {int(row[1]) for row in rows} <= {2, 5}
    assert int(rows[0][0]) == 4  # frame 3 is tracked first
    assert f"{NUM_FRAMES} frame(s), 2 object(s) [1, 4]" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.mask")
def test_a_prompts_file_and_flags_add_up(
    clip: Path, model_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts, report = tmp_path / "prompts.json", tmp_path / "clicks.json"
    objects = {
        "0": {"points": [[20, 20], [40, 30]], "labels": [1, 0]},
        "5": {"box": [30, 10, 60, 40]},
    }
    prompts.write_text(json.dumps(objects))
    argv = ["track", str(clip), "--prompts-file", str(prompts), "--point", "7:10,40"]
    assert main([*argv, "--json", str(report), *model_args]) == 0

    document = json.loads(report.read_text())
    assert document["videos"][0]["length"] == NUM_FRAMES
    annotations = document["annotations"]
    assert {a["object_id"] for a in annotations} <= {0, 5, 7}
    rles = [rle for a in annotations for rle in a["segmentations"] if rle is not None]
    assert rles and coco_mask.decode(rles[0]).shape == (HEIGHT, WIDTH)
    assert f"{NUM_FRAMES} frame(s), 3 object(s) [0, 5, 7]" in capsys.readouterr().out


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()  # one line, no traceback
    return line


@pytest.mark.parametrize(
    ("flags", "status", "message"),
    [
        (["--prompt", "person"], 2, "give at least one output: --out, --json or --mot"),
        (["--json", "o.json"], 2, "give --prompt, or clicks"),
        (["--prompt", "person", "--point", "1,1", "--json", "o.json"], 2, "not both"),
        (["--point", "1,1", "--score-threshold", "0", "--json", "o.json"], 2, "need --prompt"),
        (["--point", "2:5,5", "--box", "2:0,0,9,9", "--box", "2:1,1,8,8", "--mot", "o.txt"], 1,
         "--box: object 2 already has a box"),
        (["--point", "1:5,5", "--frame", str(NUM_FRAMES), "--mot", "o.txt"], 1,
         f"frame: {NUM_FRAMES} is not a frame of the video"),
        (["--point", "1:500,5", "--mot", "o.txt"], 1, "error: point"),
    ],
)  # fmt: skip
def test_bad_combinations_fail_with_one_line(
    clip: Path,
    model_args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    status: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["track", str(clip), *flags, *model_args]) == status
    line = _error_line(capsys)
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "o.txt").exists()


def test_an_unknown_video_fails_before_loading_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.mp4"
    argv = ["track", str(missing), "--prompt", "person", "--json", "o.json"]
    assert main([*argv, "--model", str(tmp_path / "no model")]) == 2
    assert _error_line(capsys) == f"error: VIDEO: no such file or directory: '{missing}'"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--point", "1:410", "expected ID:X,Y"),
        ("--point", "one:4,5", "expected ID:X,Y"),
        ("--negative-point", "-1:4,5", "expected ID:X,Y"),
        ("--box", "1:0,0,9", "expected ID:X0,Y0,X1,Y1"),
        ("--frame", "-1", "expected a frame index"),
        ("--score-threshold", "1.5", "expected a number in [0, 1]"),
    ],
)
def test_malformed_flags_are_usage_errors(
    clip: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["track", str(clip), f"{flag}={value}", "--json", "o.json"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"one": {"points": [[5, 5]]}}', "object ids are ints >= 0, got 'one'"),
        ('{"1.5": {"box": [0, 0, 9, 9]}}', "object ids are ints >= 0, got '1.5'"),
        ("[[5, 5]]", "expected an object keyed by object id"),
        ('{"1": {"points": [[5, 5]], "labels": [2]}}', "labels: expected one 0 or 1 per point"),
        ('{"1": {"points": [5, 5]}}', "points: expected 2 numbers"),
        ('{"1": {"box": [0, 0, 9]}}', "box: expected 4 numbers"),
        ('{"1": {"point": [[5, 5]]}}', "unknown key 'point'"),
        ('{"1": {}}', "give points and/or a box"),
        ("{not json", "not JSON"),
    ],
)
def test_a_bad_prompts_file_fails_before_loading_the_model(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    prompts = tmp_path / "prompts.json"
    prompts.write_text(content)
    argv = ["track", str(clip), "--prompts-file", str(prompts), "--json", str(tmp_path / "o.json")]
    assert main([*argv, "--model", str(tmp_path / "no model")]) == 1
    line = _error_line(capsys)
    assert line.startswith(f"error: --prompts-file {prompts}: ") and message in line


def test_a_missing_prompts_file_names_the_flag(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "nowhere.json"
    argv = ["track", str(clip), "--prompts-file", str(prompts), "--mot", "o.txt"]
    assert main(argv) == 1
    assert _error_line(capsys).startswith(f"error: --prompts-file {prompts}: cannot read it")
