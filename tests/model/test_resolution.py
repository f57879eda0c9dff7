"""Other input sizes (``resolution=``): the same weights at 252 and 336 px give what
transformers gives at those sizes; sizes that cannot run are typed errors naming the argument."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers.transformers_reference import PAD_BOX_LABEL, paired_outputs, tiny_transformers_config
from sam3lib import InputError, Segmenter
from sam3lib.checkpoint import load_resolved_model, resolve_checkpoint
from sam3lib.model import Sam3Config

TOLERANCE = 1e-5


def _reference_at(reference: Any, size: int) -> Any:
    """transformers' tiny model built for ``size`` px, with the reference's weights."""
    from transformers import Sam3Model as TransformersSam3

    config = tiny_transformers_config()
    backbone = config.vision_config.backbone_config
    backbone.image_size = size
    grid = size // backbone.patch_size
    config.vision_config.backbone_feature_sizes = [[4 * grid] * 2, [2 * grid] * 2, [grid] * 2]
    model = TransformersSam3(config).eval()
    model.load_state_dict(reference.state_dict())
    return model


@pytest.mark.parametrize("size", [252, 336])
@torch.no_grad()
def test_other_sizes_match_transformers(
    size: int, transformers_reference: Any, tiny_hf_checkpoint: Path
) -> None:
    ours = load_resolved_model(resolve_checkpoint(tiny_hf_checkpoint), resolution=size)
    assert ours.config.vision.image_size == size
    reference = _reference_at(transformers_reference, size)
    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(size))
    ids = torch.full((1, 32), 49407)
    ids[0, :4] = torch.tensor([49406, 320, 1615, 49407])
    mask = torch.arange(32)[None] < 4
    expected = reference(
        pixel_values=pixels,
        input_ids=ids,
        attention_mask=mask.long(),
        input_boxes=torch.tensor([[[0.4, 0.5, 0.3, 0.2], [0, 0, 0, 0]]]),
        input_boxes_labels=torch.tensor([[1, PAD_BOX_LABEL]]),
    )
    actual = ours(
        pixels,
        ids,
        mask,
        boxes_cxcywh=torch.tensor([[[0.4, 0.5, 0.3, 0.2]]]),
        box_labels=torch.tensor([[1]]),
    )
    for name, (want, got) in paired_outputs(expected, actual).items():
        assert got.shape == want.shape, name
        torch.testing.assert_close(got, want, atol=TOLERANCE, rtol=0, msg=name)
    assert actual.mask_logits.shape[-1] == 4 * size // 14  # mask size follows the grid


def test_a_segmenter_at_another_size_answers_at_the_image_size(tiny_checkpoint_dir: Path) -> None:
    segmenter = Segmenter.from_pretrained(tiny_checkpoint_dir, resolution=252)
    assert segmenter.backend.config.vision.image_size == 252
    image = np.random.default_rng(0).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    result = segmenter.segment(image, "cat", threshold=0.0)
    assert result.masks.shape[1:] == (70, 90) and len(result) > 0


@pytest.mark.parametrize(
    ("resolution", "message"),
    [
        (170, r"170 does not run: .* multiple of 84; the nearest are 168 and 252"),
        (0, "multiple of 84"),
        (42, "multiple of 84"),
        ("big", "got 'big'"),
        (True, "got True"),
    ],
)
def test_sizes_that_cannot_run_name_the_argument(
    resolution: object, message: str, tiny_checkpoint_dir: Path
) -> None:
    with pytest.raises(InputError, match=f"resolution: .*{message}"):
        Segmenter.from_pretrained(tiny_checkpoint_dir, resolution=resolution)  # type: ignore[arg-type]


def test_sam3_runs_in_multiples_of_336() -> None:
    config = Sam3Config.sam3()
    assert config.resolution_step == 336
    assert [config.at_resolution(size).vision.grid_size for size in (672, 1008, 1344)] == [
        48,
        72,
        96,
    ]
    with pytest.raises(InputError, match="the nearest are 672 and 1008"):
        config.at_resolution(840)


def test_exported_graphs_refuse_another_size(tiny_export_dir: Path) -> None:
    with pytest.raises(InputError, match="resolution"):
        Segmenter.from_pretrained(tiny_export_dir, backend="onnxruntime", resolution=252)


def test_the_commands_take_a_resolution(tiny_checkpoint_dir: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    from sam3lib.labelling.command import main as label_main
    from sam3lib.segment_command import main as segment_main

    image = tmp_path / "pictures" / "a.png"
    image.parent.mkdir()
    Image.fromarray(np.full((40, 60, 3), 120, np.uint8)).save(image)
    model = ["--model", str(tiny_checkpoint_dir)]
    assert segment_main([str(image), "--prompt", "cat", *model, "--resolution", "252"]) == 0
    assert segment_main([str(image), "--prompt", "cat", *model, "--resolution", "170"]) == 1
    assert "resolution: 170 does not run" in capsys.readouterr().err
    out = tmp_path / "dataset"
    assert label_main([str(image.parent), "--prompt", "cat", "--out", str(out), *model,
                       "--resolution", "170", "--no-progress"]) == 1  # fmt: skip
    assert not (out / "run").exists()  # refused before anything was written
    assert label_main([str(image.parent), "--prompt", "cat", "--out", str(out), *model,
                       "--resolution", "252", "--no-progress"]) == 0  # fmt: skip
    manifest = json.loads((out / "run" / "manifest.json").read_text())
    assert manifest["resolution"] == 252
