"""torchvision.transforms.v2 stand-in: the four transforms sam3's Sam3Processor composes.

Plain-torch equivalents of torchvision's tensor code paths:
- ToDtype(dtype, scale=True): uint8 -> float multiplies by 1/255; float -> uint8 is
  (x * (256 - 1e-3)) truncated, as torchvision's _convert_dtype_to_dtype; same dtype: no-op.
- Resize(size): torch.nn.functional.interpolate(bilinear, antialias=True, align_corners=False)
  run directly on uint8 on the CPU (the kernel torchvision itself dispatches to); float
  tensors likewise, in float.
- Normalize(mean, std): (x - mean) / std per channel.
- Compose: applies in order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import functional  # noqa: F401


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToDtype:
    def __init__(self, dtype, scale=False):
        if not isinstance(dtype, torch.dtype):
            raise NotImplementedError("torchvision stand-in: ToDtype takes one torch.dtype")
        self.dtype, self.scale = dtype, scale

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == self.dtype:
            return x
        if not self.scale:
            return x.to(self.dtype)
        if x.dtype == torch.uint8 and self.dtype.is_floating_point:
            return x.to(self.dtype).mul_(1.0 / 255)
        if x.dtype.is_floating_point and self.dtype == torch.uint8:
            return x.mul(255.0 + 1.0 - 1e-3).to(torch.uint8)  # torchvision's formula
        raise NotImplementedError(f"torchvision stand-in: ToDtype {x.dtype} -> {self.dtype}")


class Resize:
    def __init__(self, size, antialias=True):
        if not (isinstance(size, (tuple, list)) and len(size) == 2):
            raise NotImplementedError("torchvision stand-in: Resize takes an (h, w) size")
        self.size, self.antialias = tuple(int(s) for s in size), antialias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == self.size:
            return x
        if x.dtype == torch.uint8 and x.device.type != "cpu":
            raise NotImplementedError("torchvision stand-in: uint8 Resize on CPU only")
        batched = x.reshape(-1, *x.shape[-3:])
        out = F.interpolate(
            batched,
            size=self.size,
            mode="bilinear",
            antialias=self.antialias,
            align_corners=False,
        )
        return out.reshape(*x.shape[:-2], *self.size)


class Normalize:
    def __init__(self, mean, std, inplace=False):
        self.mean, self.std = list(mean), list(std)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        return (x - mean) / std
