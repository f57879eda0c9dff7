"""Argument checks shared by the post-processing functions; each raises InputError naming it."""

from __future__ import annotations

import math

import torch

from sam3lib.errors import InputError


def check_masks(masks: object, argument: str = "masks") -> torch.Tensor:
    """Accepts an (N, H, W) bool tensor with H, W > 0 (N may be 0)."""
    if not isinstance(masks, torch.Tensor) or masks.dtype != torch.bool or masks.ndim != 3:
        raise InputError(f"{argument}: expected an (N, H, W) bool tensor, got {describe(masks)}")
    if masks.shape[1] == 0 or masks.shape[2] == 0:
        raise InputError(f"{argument}: H and W must be positive, got {tuple(masks.shape)}")
    return masks


def check_float_tensor(values: object, argument: str, ndim: int, layout: str) -> torch.Tensor:
    """Accepts a floating-point tensor with ``ndim`` dimensions (``layout`` is for messages)."""
    if (
        not isinstance(values, torch.Tensor)
        or not values.is_floating_point()
        or values.ndim != ndim
    ):
        raise InputError(f"{argument}: expected a {layout} float tensor, got {describe(values)}")
    return values


def check_unit_interval(value: object, argument: str) -> float:
    """Accepts a real number in [0, 1] (a probability or an IoU)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0.0 <= value <= 1.0
    ):
        raise InputError(f"{argument}: expected a number in [0, 1], got {value!r}")
    return float(value)


def check_int(value: object, argument: str, minimum: int) -> int:
    """Accepts an int (not a bool) that is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a non-negative int" if minimum == 0 else f"an int >= {minimum}"
        raise InputError(f"{argument}: expected {kind}, got {value!r}")
    return value


def check_size(size: object, argument: str = "size") -> tuple[int, int]:
    """Accepts a (height, width) pair of positive ints."""
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or any(isinstance(side, bool) or not isinstance(side, int) or side < 1 for side in size)
    ):
        raise InputError(f"{argument}: expected (height, width) positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def describe(value: object) -> str:
    """A short description of ``value`` for error messages."""
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__
