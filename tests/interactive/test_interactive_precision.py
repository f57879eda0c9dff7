"""The interactive head under AMP: bf16 on the CPU stays close to fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch.nn.functional as F
from torch import from_numpy

from sam3lib import Segmenter


@pytest.mark.parametrize("cast_weights", [False, True], ids=["autocast", "bf16 weights"])
def test_bf16_predict_stays_close_to_fp32(
    cast_weights: bool,
    interactive_segmenter: Segmenter,
    tiny_interactive_checkpoint_dir: Path,
    photo: npt.NDArray[np.uint8],
) -> None:
    amp = Segmenter.from_pretrained(
        tiny_interactive_checkpoint_dir, backend="amp", precision="bf16", cast_weights=cast_weights
    )
    for prompt in (
        {"points": [[120, 70], [30, 150]], "point_labels": [1, 0]},
        {"box": [40, 30, 150, 120]},
    ):
        full = interactive_segmenter.predict(photo, max_hole_area=0, **prompt)
        low = amp.predict(photo, max_hole_area=0, **prompt)
        assert low.logits.dtype == np.float32  # backends hand back fp32 whatever they compute in
        assert np.abs(full.logits - low.logits).max() < 0.25
        assert np.abs(full.scores - low.scores).max() < 0.01
        # Pixels the fp32 logits decide clearly are decided the same way in bf16.
        resized = F.interpolate(
            from_numpy(full.logits)[:, None], size=photo.shape[:2], mode="bilinear"
        )[:, 0]
        clear = resized.abs().numpy() > 0.5
        assert np.array_equal(low.masks[clear], full.masks[clear])
