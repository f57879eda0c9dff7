"""The same weights in the hub's layout and in Meta's sam3.pt give identical interactive
outputs (key lists of both full-size layouts: tests/checkpoint/test_layouts.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from checkpoint.checkpoint_factory import meta_checkpoint, save_pt
from helpers.transformers_tracker_reference import our_state_dict
from sam3lib import Segmenter


@pytest.fixture(scope="module")
def meta_layout_dir(
    tiny_interactive_checkpoint_dir: Path,
    transformers_reference: Any,
    tracker_reference: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The interactive checkpoint's weights as Meta's sam3.pt (``tracker.*``, ``sam2_convs``),
    beside the same config.json and tokenizer files."""
    directory = tmp_path_factory.mktemp("tiny_interactive_meta")
    for file in tiny_interactive_checkpoint_dir.iterdir():
        if file.suffix != ".safetensors":
            shutil.copyfile(file, directory / file.name)
    weights = our_state_dict(transformers_reference, tracker_reference)
    save_pt(directory / "sam3.pt", meta_checkpoint(weights))
    return directory


@pytest.fixture(scope="module")
def meta_segmenter(meta_layout_dir: Path) -> Segmenter:
    return Segmenter.from_pretrained(meta_layout_dir)


@pytest.mark.parametrize(
    "prompt",
    [
        {"points": [[120, 70], [30, 150]], "point_labels": [1, 0]},
        {"box": [40, 30, 150, 120], "multimask": False},
        {"boxes": [[40, 30, 150, 120], [0, 0, 250, 190]]},
    ],
    ids=["clicks", "box", "boxes"],
)
def test_hub_and_meta_layouts_predict_identically(
    prompt: dict[str, Any],
    interactive_segmenter: Segmenter,
    meta_segmenter: Segmenter,
    photo: npt.NDArray[np.uint8],
) -> None:
    hub = interactive_segmenter.predict(photo, **prompt)
    meta = meta_segmenter.predict(photo, **prompt)
    assert np.array_equal(hub.logits, meta.logits)
    assert np.array_equal(hub.scores, meta.scores)
    assert np.array_equal(hub.object_scores, meta.object_scores)
    assert np.array_equal(hub.masks, meta.masks)
