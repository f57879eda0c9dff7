"""Our vectorised ROI-align against a float64 loop written from torchvision's algorithm."""

from __future__ import annotations

import pytest
import torch

from helpers.reference_roi_align import reference_roi_align
from sam3lib.model.roi_align import roi_align


@pytest.mark.parametrize("size", [7, 3])
def test_roi_align_matches_loop_reference(size: int) -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 5, 12, 10, generator=generator)
    boxes = torch.tensor(
        [
            [
                [0.0, 0.0, 10.0, 12.0],
                [2.3, 3.1, 7.9, 5.2],
                [4.0, 4.0, 4.4, 4.3],
            ],  # whole, odd, < 1 px
            [[9.0, 11.0, 10.0, 12.0], [-0.8, -0.5, 3.0, 2.0], [1.5, 0.2, 9.7, 11.9]],  # edges
        ]
    )
    ours = roi_align(features, boxes, size)
    expected = reference_roi_align(features, boxes, size)
    assert ours.shape == (2, 3, 5, size, size)
    torch.testing.assert_close(ours.double(), expected, atol=1e-5, rtol=0)


def test_roi_align_is_not_plain_averaging() -> None:
    """A box smaller than a bin samples once per bin: values must follow the bilinear ramp."""
    ramp = torch.arange(8.0).repeat(8, 1)[None, None]  # value = x coordinate
    pooled = roi_align(ramp, torch.tensor([[[1.0, 1.0, 3.0, 3.0]]]), 2)
    # bins of 1 px, one sample at each bin centre: x = 1.5 and 2.5.
    torch.testing.assert_close(pooled[0, 0, 0], torch.tensor([[1.5, 2.5], [1.5, 2.5]]))


def test_roi_align_handles_no_boxes() -> None:
    pooled = roi_align(torch.randn(1, 4, 6, 6), torch.zeros(1, 0, 4), 7)
    assert pooled.shape == (1, 0, 4, 7, 7)
