"""``sam3lib segment --tiles``: the command writes what the tiled API returns."""

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
from sam3lib.tiling import TileOptions


@pytest.fixture()
def photo_file(photo: npt.NDArray[np.uint8], tmp_path: Path) -> Path:
    path = tmp_path / "aerial.png"
    Image.fromarray(photo).save(path)
    return path


def test_tiles_option_writes_the_tiled_answer(
    tiny_checkpoint_dir: Path, photo_file: Path, tmp_path: Path
) -> None:
    report, labels, overlay = tmp_path / "out.json", tmp_path / "m.png", tmp_path / "o.png"
    argv = ["segment", str(photo_file), "--prompt", "cat", "--threshold", "0.0"]
    argv += ["--model", str(tiny_checkpoint_dir), "--tiles", "120", "--tile-overlap", "30"]
    argv += ["--json", str(report), "--masks", str(labels), "--out", str(overlay)]
    assert main(argv) == 0
    segmenter = Segmenter.from_pretrained(tiny_checkpoint_dir)
    expected = segmenter.segment(
        photo_file, "cat", threshold=0.0, tiles=TileOptions(size=120, overlap=30)
    )
    (written,) = json.loads(report.read_text())["images"][0]["results"]
    assert written["tiles"] == expected.tiles == 6  # 190 x 250 px in 120 px tiles: 2 x 3
    assert written["instances"] == expected.to_dict()["instances"]
    with Image.open(labels) as picture:
        np.testing.assert_array_equal(
            np.asarray(picture), label_map([expected.to_segmentation_result()])
        )
    with Image.open(overlay) as picture:
        assert picture.size == (250, 190)


def test_tile_overlap_needs_a_tile_size(
    tiny_checkpoint_dir: Path, photo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["segment", str(photo_file), "--prompt", "cat", "--model", str(tiny_checkpoint_dir)]
    assert main([*argv, "--tile-overlap", "30"]) == 2
    assert "--tile-overlap needs --tiles PIXELS" in capsys.readouterr().err
    assert main([*argv, "--tiles", "100", "--tile-overlap", "100"]) == 1
    assert "tiles.overlap: 100 px is not smaller than tiles.size" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--tiles", "big"])
    assert "expected a tile size in pixels or 'auto'" in capsys.readouterr().err
