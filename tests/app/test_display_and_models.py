"""One demo request end to end without a browser, the downloads, and the model choices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch
from PIL import Image

from conftest import THRESHOLD
from sam3lib import InputError, Segmenter
from sam3lib.app.display import segment_for_display
from sam3lib.app.downloads import label_map
from sam3lib.app.models import ModelPool, machine_precisions, model_title
from sam3lib.formats import decode_rle
from sam3lib.visualize import draw_overlay


def test_a_request_shows_what_the_segmenter_finds(
    segmenter: Segmenter, street: npt.NDArray[np.uint8], tmp_path: Path
) -> None:
    shown = segment_for_display(
        segmenter,
        street,
        "car, wheel",
        "20,140,150,240",
        threshold=THRESHOLD,
        refine=1,
        directory=tmp_path,
    )
    want = segmenter.segment(
        street, ["car", "wheel"], boxes=[[20, 140, 150, 240]], threshold=THRESHOLD, refine=1
    )
    assert len(shown.results) == 2
    for got, expected in zip(shown.results, want, strict=True):
        np.testing.assert_array_equal(got.masks, expected.masks)
        np.testing.assert_allclose(got.scores, expected.scores, atol=1e-6)
    assert len(shown.instances) == sum(len(result) for result in want) > 0
    assert shown.legend.count('class="legend-item"') == len(shown.instances)
    np.testing.assert_array_equal(np.asarray(shown.overlay), np.asarray(draw_overlay(street, want)))
    assert "decode" in shown.timings and "total" in shown.timings

    png, rle = shown.downloads
    with Image.open(png) as picture:
        np.testing.assert_array_equal(np.asarray(picture), label_map(want))
    report = json.loads(rle.read_text())
    assert report["image_size"] == [320, 480]
    masks = [decode_rle(i["segmentation"]) for r in report["results"] for i in r["instances"]]
    np.testing.assert_array_equal(np.array(masks), np.concatenate([r.masks for r in want]))


def test_exemplar_boxes_alone_are_enough(
    segmenter: Segmenter, street: npt.NDArray[np.uint8], tmp_path: Path
) -> None:
    shown = segment_for_display(
        segmenter, street, " ", "20,140,150,240", threshold=THRESHOLD, refine=0, directory=tmp_path
    )
    assert [result.label for result in shown.results] == ["exemplar"]


def test_nothing_to_look_for_is_an_input_error(
    segmenter: Segmenter, street: npt.NDArray[np.uint8], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="type a prompt"):
        segment_for_display(
            segmenter, street, ", ", "", threshold=0.5, refine=0, directory=tmp_path
        )
    with pytest.raises(InputError, match="box 1"):
        segment_for_display(
            segmenter, street, "car", "1,2", threshold=0.5, refine=0, directory=tmp_path
        )


def test_label_map_puts_later_instances_on_top(segmenter: Segmenter) -> None:
    many = segmenter.segment(np.zeros((40, 50, 3), np.uint8), ["a", "b"], threshold=0.0)
    labels = label_map(many)
    count = sum(len(result) for result in many)
    assert labels.max() <= count
    last = many[-1].masks[-1] if len(many[-1]) else many[0].masks[-1]
    assert (labels[last] == count).all()
    with pytest.raises(InputError):
        label_map([])


def test_cpu_offers_fp32_and_bf16_and_the_registered_backends() -> None:
    assert machine_precisions(torch.device("cpu")) == ["fp32", "bf16"]
    assert machine_precisions(torch.device("cuda")) == ["fp32", "fp16", "bf16"]


def test_the_pool_loads_each_choice_once(segmenter: Segmenter, tiny_checkpoint_dir: Path) -> None:
    loads: list[tuple[str, str]] = []

    def load(
        source: str, *, precision: str, device: torch.device, backend: str, resolution: int
    ) -> Segmenter:
        loads.append((backend, precision))
        assert resolution == 168  # the first model's, the checkpoint's own
        return Segmenter.from_pretrained(
            source, precision=precision, device=device, backend=backend, resolution=resolution
        )

    pool = ModelPool(segmenter, source=str(tiny_checkpoint_dir), load=load)
    assert pool.get("auto", "fp32") is segmenter
    assert pool.get("eager", "fp32") is segmenter
    bf16 = pool.get("auto", "bf16")
    assert (bf16.backend.name, bf16.backend.precision) == ("amp", "bf16")
    assert pool.get("amp", "bf16") is bf16
    assert loads == [("amp", "bf16")]
    with pytest.raises(InputError, match="fp16"):
        pool.get("auto", "fp16")  # not offered on a CPU
    with pytest.raises(InputError, match="runs fp32 only"):
        pool.get("eager", "bf16")  # offered, refused by the backend with its reason


def test_every_model_of_the_pool_runs_at_the_first_ones_input_size(
    tiny_checkpoint_dir: Path,
) -> None:
    first = Segmenter.from_pretrained(tiny_checkpoint_dir, resolution=252)
    pool = ModelPool(first, source=str(tiny_checkpoint_dir))
    bf16 = pool.get("auto", "bf16")
    assert (bf16.backend.name, bf16.backend.config.vision.image_size) == ("amp", 252)
    assert model_title(bf16) == "bf16 · amp · cpu · 252 px"


def test_without_a_source_only_the_given_model_is_offered(segmenter: Segmenter) -> None:
    pool = ModelPool(segmenter)
    assert (pool.precisions, pool.backends) == (["fp32"], ["auto"])
    with pytest.raises(InputError):
        pool.get("auto", "bf16")


def test_sam3lib_imports_without_the_extras() -> None:
    code = (
        "import sys, sam3lib, sam3lib.cli\n"
        "from sam3lib import Segmenter\n"
        "loaded = {'gradio', 'fastapi', 'uvicorn', 'starlette'} & set(sys.modules)\n"
        "assert not loaded, loaded"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_app_build_needs_no_browser(segmenter: Segmenter, tmp_path: Path) -> None:
    from sam3lib.app.ui import build_app

    demo = build_app(segmenter, downloads_dir=tmp_path)
    element_ids = {block.elem_id for block in demo.blocks.values()}
    assert {
        "image",
        "prompts",
        "threshold",
        "refine",
        "segment",
        "overlay",
        "legend",
    } <= element_ids
    assert {"precision", "backend", "instance", "details", "timings", "downloads"} <= element_ids
