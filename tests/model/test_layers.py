"""Building blocks whose fast forms must equal their plain definitions."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sam3lib.model.layers import add_residual, pointwise_conv
from sam3lib.model.mask_head import add_conv_of_upsampled, group_norm_
from sam3lib.model.rope import apply_rope, axial_rope_tables
from sam3lib.model.vit import add_windows, partition_windows


def _rotate_pairs_by_definition(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Pair k = channels (2k, 2k+1) of each token, rotated by angle (token, k), one at a time."""
    out = torch.empty_like(x, dtype=torch.float64)
    for token in range(x.shape[-2]):
        for k in range(x.shape[-1] // 2):
            a, b = x[..., token, 2 * k].double(), x[..., token, 2 * k + 1].double()
            theta = float(angles[token, k])
            out[..., token, 2 * k] = a * math.cos(theta) - b * math.sin(theta)
            out[..., token, 2 * k + 1] = a * math.sin(theta) + b * math.cos(theta)
    return out


@pytest.mark.parametrize("compiling", [False, True], ids=["complex", "real"])
def test_rope_rotates_each_pair_by_its_angle(
    monkeypatch: pytest.MonkeyPatch, compiling: bool
) -> None:
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: compiling)
    cos, sin = axial_rope_tables(4, 8, 100.0, 0.5, torch.device("cpu"))
    angles = torch.atan2(sin[:, ::2].double(), cos[:, ::2].double())
    x = torch.randn(2, 3, 16, 8)
    expected = _rotate_pairs_by_definition(x, angles)
    assert (apply_rope(x, cos, sin).double() - expected).abs().max() < 1e-5


def test_rope_on_a_head_view_keeps_dtype() -> None:
    """Heads split from a projection are a strided view; bf16 in, bf16 out (computed in fp32)."""
    cos, sin = axial_rope_tables(2, 8, 100.0, 1.0, torch.device("cpu"))
    projected = torch.randn(1, 4, 2 * 8)  # (B, tokens, heads * head_dim)
    heads = projected.view(1, 4, 2, 8).transpose(1, 2)
    rotated = apply_rope(heads.bfloat16(), cos, sin)
    assert rotated.dtype == torch.bfloat16
    reference = apply_rope(heads.contiguous(), cos, sin)
    assert (rotated.float() - reference).abs().max() < 0.05


@pytest.mark.parametrize("bias", [True, False])
def test_pointwise_conv_equals_the_convolution(bias: bool) -> None:
    conv = nn.Conv2d(6, 5, kernel_size=1, bias=bias)
    x = torch.randn(3, 6, 7, 9)
    with torch.no_grad():
        assert (pointwise_conv(x, conv) - conv(x)).abs().max() < 1e-5


def test_add_residual_writes_in_place_when_precision_allows() -> None:
    update, residual = torch.randn(4, 8), torch.randn(4, 8)
    expected = residual + update
    out = add_residual(update, residual)
    assert out.data_ptr() == update.data_ptr()
    assert torch.equal(out, expected)


def test_add_residual_keeps_the_fp32_stream_when_the_update_is_bf16() -> None:
    update, residual = torch.randn(4, 8).bfloat16(), torch.randn(4, 8)
    out = add_residual(update, residual)
    assert out.dtype == torch.float32
    assert torch.equal(out, residual + update.float())


def test_add_windows_adds_each_window_back_where_it_came_from() -> None:
    window = 3
    x, y = torch.randn(2, 6, 9, 4), torch.randn(2, 6, 9, 4)
    windows = partition_windows(y, window)
    assert windows.shape == (2 * 2 * 3, window, window, 4)
    # Window n of image b covers rows r*window.. and columns c*window.., row-major.
    expected = x.clone()
    for b in range(2):
        for r in range(2):
            for c in range(3):
                n = b * 6 + r * 3 + c
                rows = slice(r * window, (r + 1) * window)
                cols = slice(c * window, (c + 1) * window)
                expected[b, rows, cols] += windows[n]
    assert torch.equal(add_windows(x, windows), expected)
    assert torch.equal(expected, x + y)  # and the partition was a true partition


def test_conv_of_upsampled_map_equals_the_convolution_of_the_upsampled_map() -> None:
    x, weight = torch.randn(2, 4, 5, 6), torch.randn(3, 4, 3, 3)
    projected = torch.randn(1, 3, 10, 12)  # batch 1: one image's level, shared by 2 prompts
    upsampled = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
    expected = projected + torch.nn.functional.conv2d(upsampled, weight, padding=1)
    out = add_conv_of_upsampled(projected, x, weight)
    assert out.shape == (2, 3, 10, 12) and out.dtype == torch.float32
    assert (out - expected).abs().max() < 1e-5
    with pytest.raises(ValueError, match="level"):
        add_conv_of_upsampled(torch.randn(1, 3, 9, 12), x, weight)


def test_group_norm_in_place_equals_group_norm() -> None:
    norm = nn.GroupNorm(2, 6, eps=1e-5)
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
        x = torch.randn(3, 6, 4, 5) * 3 + 1
        expected = norm(x)
        out = group_norm_(x, norm)
    assert out.data_ptr() == x.data_ptr()
    assert (out - expected).abs().max() < 1e-5
