"""torchvision.transforms.v2.functional stand-in: to_image only."""

from __future__ import annotations

import numpy as np
import torch


def to_image(inpt) -> torch.Tensor:
    """numpy HWC (or HW) / PIL image / tensor -> CHW tensor, as torchvision's to_image (plain
    tensor instead of a tv_tensors.Image subclass)."""
    if isinstance(inpt, np.ndarray):
        arr = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)
    if isinstance(inpt, torch.Tensor):
        return inpt.unsqueeze(0) if inpt.ndim == 2 else inpt
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None
    if Image is not None and isinstance(inpt, Image.Image):
        return to_image(np.asarray(inpt))
    raise NotImplementedError(f"torchvision stand-in: to_image({type(inpt).__name__})")
