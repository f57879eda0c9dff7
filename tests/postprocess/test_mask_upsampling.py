"""Tests of sam3lib.postprocess.upsample_masks.

The expected masks come from ``F.interpolate`` calls written out here, in each reference's
order, or from a case small enough to compute by hand.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sam3lib.errors import InputError
from sam3lib.postprocess import upsample_masks


def _random_logits(count: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, height, width, generator=generator) * 4


def _meta_reference(logits: torch.Tensor, size: tuple[int, int], threshold: float) -> torch.Tensor:
    """Meta's order, one mask per batch element: interpolate logits, sigmoid, threshold."""
    resized = F.interpolate(
        logits.float().unsqueeze(1), size=size, mode="bilinear", align_corners=False
    )
    return resized.squeeze(1).sigmoid() > threshold


def _transformers_reference(
    masks: torch.Tensor, target_size: tuple[int, int], mask_threshold: float
) -> torch.Tensor:
    """transformers' post_process_instance_segmentation on the kept masks, as written there."""
    return (
        F.interpolate(
            masks.sigmoid().unsqueeze(0), size=target_size, mode="bilinear", align_corners=False
        ).squeeze(0)
        > mask_threshold
    )


@pytest.mark.parametrize("size", [(37, 29), (8, 8), (5, 100)])
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_meta_order_matches_interpolating_the_logits(
    size: tuple[int, int], threshold: float
) -> None:
    logits = _random_logits(5, 12, 17)

    masks = upsample_masks(logits, size, mask_threshold=threshold)

    assert masks.dtype == torch.bool and masks.shape == (5, *size)
    assert torch.equal(masks, _meta_reference(logits, size, threshold))


def test_meta_order_interpolates_half_precision_logits_in_float32() -> None:
    logits = _random_logits(3, 9, 9).to(torch.float16)

    masks = upsample_masks(logits, (31, 23))

    assert torch.equal(masks, _meta_reference(logits.float(), (31, 23), 0.5))


@pytest.mark.parametrize("size", [(37, 29), (64, 64)])
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.9])
def test_transformers_order_is_bit_equal_to_transformers(
    size: tuple[int, int], threshold: float
) -> None:
    logits = _random_logits(6, 16, 16, seed=1)

    masks = upsample_masks(logits, size, mask_threshold=threshold, order="transformers")

    assert torch.equal(masks, _transformers_reference(logits, size, threshold))


def test_the_two_orders_put_an_asymmetric_edge_in_different_places() -> None:
    # Two logits, -10 and 1, stretched from 2 to 8 columns. Output column i samples the input at
    # t = clamp((i + 0.5) / 4 - 0.5, 0, 1): 0, 0, 1/8, 3/8, 5/8, 7/8, 1, 1.
    # Meta: -10 + 11 t > 0 needs t > 0.909, so only the last two columns.
    # transformers: σ(-10) + (σ(1) - σ(-10)) t > 0.5 needs t > 0.684, so t = 7/8 joins them.
    logits = torch.tensor([[[-10.0, 1.0]]])

    meta = upsample_masks(logits, (1, 8), order="meta")
    transformers = upsample_masks(logits, (1, 8), order="transformers")

    assert meta.int().tolist() == [[[0, 0, 0, 0, 0, 0, 1, 1]]]
    assert transformers.int().tolist() == [[[0, 0, 0, 0, 0, 1, 1, 1]]]


def test_the_two_orders_differ_on_random_logits() -> None:
    logits = _random_logits(4, 24, 24, seed=2)

    meta = upsample_masks(logits, (96, 96), order="meta")
    transformers = upsample_masks(logits, (96, 96), order="transformers")

    assert (meta != transformers).any()


@pytest.mark.parametrize("order", ["meta", "transformers"])
@pytest.mark.parametrize("max_chunk_pixels", [1, 20 * 30 * 2 + 1, 20 * 30 * 3])
def test_chunking_changes_no_pixel(order: str, max_chunk_pixels: int) -> None:
    logits = _random_logits(7, 11, 13, seed=3)

    one_shot = upsample_masks(logits, (20, 30), order=order)  # type: ignore[arg-type]
    chunked = upsample_masks(
        logits,
        (20, 30),
        order=order,  # type: ignore[arg-type]
        max_chunk_pixels=max_chunk_pixels,
    )

    assert torch.equal(chunked, one_shot)


def test_no_masks_give_an_empty_bool_tensor_of_the_output_size() -> None:
    masks = upsample_masks(torch.zeros(0, 12, 12), (40, 50))

    assert masks.shape == (0, 40, 50) and masks.dtype == torch.bool


@pytest.mark.parametrize("order", ["meta", "transformers"])
def test_mask_threshold_is_a_strict_probability_threshold(order: str) -> None:
    logits = torch.zeros(1, 4, 4)  # probability exactly 0.5 everywhere

    at_half = upsample_masks(logits, (6, 6), mask_threshold=0.5, order=order)  # type: ignore[arg-type]
    below_half = upsample_masks(logits, (6, 6), mask_threshold=0.49, order=order)  # type: ignore[arg-type]

    assert not at_half.any()
    assert below_half.all()


def test_upsampling_keeps_the_input_unchanged_and_works_on_its_device(
    device: torch.device,
) -> None:
    logits = _random_logits(2, 8, 8).to(device)
    before = logits.clone()

    masks = upsample_masks(logits, (16, 12))

    assert masks.device == device
    assert torch.equal(logits, before)
    assert torch.equal(masks.cpu(), _meta_reference(before.cpu(), (16, 12), 0.5))


@pytest.mark.parametrize(
    ("mask_logits", "argument"),
    [
        (torch.zeros(3, 4, dtype=torch.float32), "mask_logits"),
        (torch.zeros(1, 3, 4, dtype=torch.int64), "mask_logits"),
        (torch.zeros(1, 0, 4), "mask_logits"),
        (torch.zeros(1, 3, 4, dtype=torch.bool), "mask_logits"),
    ],
)
def test_upsampling_rejects_bad_logits(mask_logits: torch.Tensor, argument: str) -> None:
    with pytest.raises(InputError, match=rf"^{argument}:"):
        upsample_masks(mask_logits, (8, 8))


@pytest.mark.parametrize("size", [(0, 5), (5,), 5, (2.0, 3), (True, 3), (4, -1)])
def test_upsampling_rejects_a_bad_size(size: object) -> None:
    with pytest.raises(InputError, match=r"^size:"):
        upsample_masks(torch.zeros(1, 2, 2), size)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("mask_threshold", 1.5),
        ("mask_threshold", -0.1),
        ("order", "hf"),
        ("max_chunk_pixels", 0),
        ("max_chunk_pixels", 2.5),
    ],
)
def test_upsampling_rejects_bad_options(keyword: str, value: object) -> None:
    with pytest.raises(InputError, match=rf"^{keyword}:"):
        upsample_masks(torch.zeros(1, 2, 2), (4, 4), **{keyword: value})  # type: ignore[arg-type]
