"""Argument checks shared by the mask formats."""

from __future__ import annotations

from typing import Any

import numpy as np

from sam3lib.errors import InputError


def check_mask(mask: Any, argument: str = "mask") -> None:
    """Raises :class:`InputError` unless ``mask`` is a 2-D numpy bool array."""
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.ndim != 2:
        hint = ""
        if isinstance(mask, np.ndarray) and mask.ndim == 2:
            hint = "; convert 0/1 masks with mask.astype(bool)"
        raise InputError(
            f"{argument}: expected a (H, W) numpy bool array, got {describe(mask)}{hint}"
        )


def describe(value: object) -> str:
    """A short description of a value for error messages: dtype and shape, or its type."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
