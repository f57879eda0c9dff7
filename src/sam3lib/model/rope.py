"""2-D axial rotary position embedding, as float32 cos/sin tables and a pairwise rotation.

Each head's channels form interleaved pairs; the first half of the pairs rotates with the
token's column, the second half with its row. Tables are built in float32 on every call
(they are tiny next to the attention they feed), so the model keeps no buffers, exports as
plain ops, and stays accurate when the surrounding matmuls run in fp16/bf16.
"""

from __future__ import annotations

import torch
from torch import Tensor


def axial_rope_tables(
    grid_size: int, head_dim: int, theta: float, position_scale: float, device: torch.device
) -> tuple[Tensor, Tensor]:
    """cos and sin tables of shape (grid_size², head_dim), float32, tokens in row-major order.

    ``position_scale`` maps token indices to positions: 1 inside a window, and
    ``window / grid`` for global attention so both share one frequency range.
    """
    axis_dim = head_dim // 2  # channels rotated by one axis
    inv_freq = 1.0 / (
        theta ** (torch.arange(0, axis_dim, 2, device=device, dtype=torch.float32) / axis_dim)
    )
    index = torch.arange(grid_size, device=device, dtype=torch.float32)
    rows, cols = torch.meshgrid(index, index, indexing="ij")
    x = cols.flatten() * position_scale
    y = rows.flatten() * position_scale
    angles = torch.cat((x[:, None] * inv_freq, y[:, None] * inv_freq), dim=-1)
    angles = angles.repeat_interleave(2, dim=-1)  # one angle per channel of each pair
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate channel pairs (x0, x1) -> (x0 cos - x1 sin, x1 cos + x0 sin), in float32.

    Eagerly the pairs are complex numbers and the rotation one complex product, a single pass
    over ``x`` (≈8× faster on CPU than the real form's five). Export graphs carry no complex
    tensors and inductor generates no code for them, so when exported or compiled the same
    product is spelled out in real arithmetic (which inductor fuses into one pass).
    """
    x32 = x.float()
    if torch.compiler.is_compiling():
        pairs = x32.reshape(*x32.shape[:-1], -1, 2)
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return (x32 * cos + rotated * sin).to(x.dtype)
    rotation = torch.complex(cos[:, ::2], sin[:, ::2])  # both channels of a pair share an angle
    pairs = torch.view_as_complex(x32.view(*x32.shape[:-1], -1, 2))
    return torch.view_as_real(pairs * rotation).flatten(-2).to(x.dtype)
