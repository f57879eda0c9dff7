"""``sam3lib click`` and ``sam3lib everything``: files equal to ``Segmenter.predict`` and
``Segmenter.generate``, exit statuses and messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from sam3lib import Segmenter
from sam3lib.app.downloads import label_map
from sam3lib.cli import main
from sam3lib.formats import decode_rle


@pytest.fixture()
def model_args(tiny_interactive_checkpoint_dir: Path) -> list[str]:
    """The tiny checkpoint with the interactive head, which ``interactive_segmenter`` loads."""
    return ["--model", str(tiny_interactive_checkpoint_dir)]


@pytest.fixture()
def photo_file(photo: npt.NDArray[np.uint8], tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    return path


def _masks(report: dict[str, object]) -> npt.NDArray[np.bool_]:
    [image] = report["images"]  # type: ignore[index]
    [result] = image["results"]
    return np.array([decode_rle(instance["segmentation"]) for instance in result["instances"]])


def test_click_writes_the_best_candidate_of_one_click(
    model_args: list[str],
    interactive_segmenter: Segmenter,
    photo_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    overlay, masks, report = tmp_path / "o.png", tmp_path / "m.png", tmp_path / "r.json"
    argv = ["click", str(photo_file), "--point", "80,60", *model_args]
    assert main([*argv, "--out", str(overlay), "--masks", str(masks), "--json", str(report)]) == 0

    want = interactive_segmenter.predict(photo_file, points=[[80, 60]], multimask=True).best_only()
    data = json.loads(report.read_text())
    assert data["model"] == model_args[1]
    assert data["images"][0]["prompt"] == {
        "points": [[80.0, 60.0]],
        "point_labels": [1],
        "multimask": True,
    }
    [result] = data["images"][0]["results"]
    assert result["label"] == "object" and result["best"] == 0
    assert [i["score"] for i in result["instances"]] == pytest.approx(want.scores.tolist())
    np.testing.assert_array_equal(_masks(data), want.masks)
    with Image.open(masks) as picture:
        np.testing.assert_array_equal(np.asarray(picture), label_map([want]))
    with Image.open(overlay) as picture:
        assert picture.size == (250, 190)
    assert "object: 1 instance(s)" in capsys.readouterr().out


def test_click_with_clicks_and_a_box_is_one_object_of_one_mask(
    model_args: list[str], interactive_segmenter: Segmenter, photo_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    argv = ["click", str(photo_file), "--point", "80,60", "--negative-point", "200,150"]
    argv += ["--box", "30,20,140,110", "--all-candidates", "--json", str(report)]
    assert main([*argv, *model_args]) == 0
    want = interactive_segmenter.predict(
        photo_file,
        points=[[80, 60], [200, 150]],
        point_labels=[1, 0],
        box=[30, 20, 140, 110],
        multimask=False,
    )
    np.testing.assert_array_equal(_masks(json.loads(report.read_text())), want.masks)


def test_click_all_candidates_and_several_boxes(
    model_args: list[str], interactive_segmenter: Segmenter, photo_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    argv = ["click", str(photo_file), "--point", "80,60", "--all-candidates", *model_args]
    assert main([*argv, "--json", str(report)]) == 0
    want = interactive_segmenter.predict(photo_file, points=[[80, 60]])
    np.testing.assert_array_equal(_masks(json.loads(report.read_text())), want.masks)

    boxes = [[10, 10, 120, 100], [150, 80, 240, 180]]
    argv = ["click", str(photo_file), "--box", "10,10,120,100", "--box", "150,80,240,180"]
    assert main([*argv, *model_args, "--json", str(report)]) == 0
    want = interactive_segmenter.predict(photo_file, boxes=boxes, multimask=False)
    assert len(want) == 2
    np.testing.assert_array_equal(_masks(json.loads(report.read_text())), want.masks)


def test_click_refuses_bad_prompts_with_a_message(
    model_args: list[str], photo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["click", str(photo_file)]) == 2
    assert "give at least one --point" in capsys.readouterr().err
    argv = ["click", str(photo_file), "--box", "1,1,20,20", "--box", "30,30,60,60"]
    assert main([*argv, "--point", "5,5"]) == 2
    assert "clicks belong to one object" in capsys.readouterr().err
    assert main(["click", str(photo_file), "--point", "900,10", *model_args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: points:") and "outside the 250x190 image" in err
    with pytest.raises(SystemExit):
        main(["click", str(photo_file), "--point", "1,2,3"])
    assert "expected X,Y" in capsys.readouterr().err


def test_everything_writes_what_generate_finds(
    model_args: list[str],
    interactive_segmenter: Segmenter,
    photo_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, masks, report = tmp_path / "all.png", tmp_path / "masks.png", tmp_path / "r.json"
    options = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0"]
    argv = ["everything", str(photo_file), *options, *model_args]
    assert main([*argv, "--out", str(out), "--masks", str(masks), "--json", str(report)]) == 0

    want = interactive_segmenter.generate(
        photo_file, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0
    )
    assert len(want) > 0
    data = json.loads(report.read_text())
    [result] = data["images"][0]["results"]
    assert [i["score"] for i in result["instances"]] == pytest.approx(want.scores.tolist())
    np.testing.assert_array_equal(_masks(data), want.masks)
    with Image.open(masks) as picture:
        np.testing.assert_array_equal(np.asarray(picture), label_map([want]))
    with Image.open(out) as picture:
        assert picture.size == (250, 190)
    assert f"object: {len(want)} instance(s)" in capsys.readouterr().out


def test_everything_refuses_bad_options_before_loading(
    photo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["everything", str(photo_file), "--points-per-side", "0"]
    assert main([*argv, "--model", str(tmp_path / "no such model")]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: points_per_side:")  # not: the model cannot be found


def test_a_detector_only_checkpoint_is_refused_in_one_line(
    tiny_checkpoint_dir: Path, photo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["click", "--point", "10,10"], ["everything", "--points-per-side", "2"]):
        argv = [command[0], str(photo_file), *command[1:], "--model", str(tiny_checkpoint_dir)]
        assert main(argv) == 1
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: ") and "no interactive (tracker) head" in line
