"""Building blocks shared by several model parts: attention, MLPs, sine encodings, box maths,
and the fp32 islands of the precision policy."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, L, C) -> (B, heads, L, C / heads)."""
    batch, length, width = x.shape
    return x.view(batch, length, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, heads, L, D) -> (B, L, heads * D)."""
    batch, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_dim)


def key_padding_mask(valid: Tensor) -> Tensor:
    """(B, L) bool "token is real" -> (B, 1, 1, L) boolean SDPA mask (True = may attend)."""
    return valid[:, None, None, :]


class Attention(nn.Module):
    """Multi-head attention with separate q/k/v/o projections (the 256-wide detector parts).

    ``attn_mask`` is either a boolean (True = may attend) or an additive float mask that
    broadcasts to (B, heads, Lq, Lk). Keys and values may come in at another width
    (``kv_size``), projected to ``hidden_size``.
    """

    def __init__(self, hidden_size: int, num_heads: int, kv_size: int | None = None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(hidden_size, hidden_size)
        self.k_proj = nn.Linear(kv_size or hidden_size, hidden_size)
        self.v_proj = nn.Linear(kv_size or hidden_size, hidden_size)
        self.o_proj = nn.Linear(hidden_size, hidden_size)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None
    ) -> Tensor:
        q = split_heads(self.q_proj(query), self.num_heads)
        k = split_heads(self.k_proj(key), self.num_heads)
        v = split_heads(self.v_proj(value), self.num_heads)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        # Masked CPU attention returns (B, L, heads, D)-strided memory, the decomposition ONNX
        # export traces returns it contiguous; one explicit copy keeps both shapes viewable.
        out = out.clone(memory_format=torch.contiguous_format)
        return self.o_proj(merge_heads(out))


# In place: the hidden state is the largest tensor of a block (98 MB per ViT layer at full
# size) and a fresh one costs a page fault per 4 KiB on CPU, more than the activation itself.
_ACTIVATIONS_IN_PLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu_,
    "gelu": torch.ops.aten.gelu_,
}


class FeedForward(nn.Module):
    """Transformer FFN ``fc2(act(fc1(x)))`` (inference only: the activation runs in place)."""

    def __init__(self, hidden_size: int, intermediate_size: int, activation: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, intermediate_size)
        self.fc2 = nn.Linear(intermediate_size, hidden_size)
        self.activation = _ACTIVATIONS_IN_PLACE[activation]

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.activation(self.fc1(x)))


def add_residual(update: Tensor, residual: Tensor) -> Tensor:
    """``residual + update``, written into ``update`` (a fresh tensor the caller owns) to spare
    a large allocation, unless that would round the sum to ``update``'s lower precision (under
    autocast a bf16 branch output meets the fp32 residual stream)."""
    if torch.promote_types(update.dtype, residual.dtype) == update.dtype:
        return update.add_(residual)
    return residual + update


def pointwise_conv(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """``conv(x)`` for a 1×1 convolution, computed as one batched matmul.

    On CPU, oneDNN reorders large NCHW maps into blocked layouts for 1×1 convolutions, which
    costs more than the product (256→256 channels at 288²: 156 ms as a conv, 94 ms as a matmul).
    """
    batch, _, height, width = x.shape
    weight = conv.weight.flatten(1)[None].expand(batch, -1, -1)
    bias = conv.bias
    flat = x.flatten(2)
    out = torch.bmm(weight, flat) if bias is None else torch.baddbmm(bias[:, None], weight, flat)
    return out.view(batch, -1, height, width)


class MLP(nn.Module):
    """ReLU MLP of two or three linear layers (``layer1``..``layer3``), as the heads use."""

    def __init__(
        self, input_size: int, hidden_size: int, output_size: int, num_layers: int
    ) -> None:
        super().__init__()
        if num_layers not in (2, 3):
            raise ValueError(f"MLP supports 2 or 3 layers, got {num_layers}")
        self.layer1 = nn.Linear(input_size, hidden_size)
        if num_layers == 3:
            self.layer2 = nn.Linear(hidden_size, hidden_size)
            self.layer3 = nn.Linear(hidden_size, output_size)
        else:
            self.layer2 = nn.Linear(hidden_size, output_size)
        self.num_layers = num_layers

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.layer1(x))
        if self.num_layers == 2:
            return self.layer2(x)
        return self.layer3(F.relu(self.layer2(x)))


def sine_encode(values: Tensor, num_features: int, temperature: float = 10000.0) -> Tensor:
    """DETR sine encoding of scalars already scaled to radians-ish range.

    ``values`` (...,) -> (..., num_features) with sin on even and cos on odd features,
    interleaved, frequency ``temperature ** (2 * (i // 2) / num_features)``.
    """
    index = torch.arange(num_features, device=values.device, dtype=torch.float32)
    dim_t = temperature ** (2 * torch.div(index, 2, rounding_mode="floor") / num_features)
    phase = values.float()[..., None] / dim_t
    return torch.stack((phase[..., 0::2].sin(), phase[..., 1::2].cos()), dim=-1).flatten(-2)


def sine_position_grid(height: int, width: int, num_features: int, device: torch.device) -> Tensor:
    """Normalised 2-D sine position encoding of a feature map: (1, 2 * num_features, H, W).

    Rows and columns are numbered from 1, divided by their count and scaled by 2π; the y
    encoding comes first in the channel dimension.
    """
    eps = 1e-6  # the reference normalises by (count + eps)
    ys = torch.arange(1, height + 1, device=device, dtype=torch.float32) / (height + eps)
    xs = torch.arange(1, width + 1, device=device, dtype=torch.float32) / (width + eps)
    pos_y = sine_encode(ys * 2 * math.pi, num_features)  # (H, F)
    pos_x = sine_encode(xs * 2 * math.pi, num_features)  # (W, F)
    grid = torch.cat(
        (
            pos_y[:, None, :].expand(height, width, num_features),
            pos_x[None, :, :].expand(height, width, num_features),
        ),
        dim=-1,
    )
    return grid.permute(2, 0, 1)[None]


def box_cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def inverse_sigmoid(x: Tensor, eps: float) -> Tensor:
    """Logit of ``x`` clamped away from 0 and 1 by ``eps`` (box refinement stays finite)."""
    x = x.clamp(0, 1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


@contextmanager
def full_precision(like: Tensor) -> Iterator[Callable[[Tensor], Tensor]]:
    """Compute the enclosed block in float32 even inside an autocast region: an "fp32 island".

    Inside an autocast region, autocast is switched off for ``like``'s device type and the
    context yields ``Tensor.float``, to apply to the block's floating inputs; the module that
    owns the block keeps its parameters float32 by naming them in ``FP32_SUBMODULES`` (see
    :func:`fp32_modules`). Outside autocast it yields the identity and changes nothing: fp32
    results, exported graphs and models cast wholesale to one dtype are untouched.

    Example:
        >>> head = nn.Linear(4, 1)
        >>> x = torch.ones(2, 4)
        >>> with torch.autocast("cpu", dtype=torch.bfloat16):
        ...     with full_precision(x) as fp32:
        ...         logit = head(fp32(x))
        >>> logit.dtype
        torch.float32
    """
    device = like.device.type
    if not (torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)):
        yield _unchanged
        return
    with torch.autocast(device, enabled=False):
        yield Tensor.float


def _unchanged(x: Tensor) -> Tensor:
    return x


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` that computes and returns float32 under autocast, on every device.

    CUDA autocast already runs norms in fp32; CPU autocast leaves them in their input's dtype,
    which would round every residual stream behind a norm to bf16.
    """

    def forward(self, x: Tensor) -> Tensor:
        with full_precision(x) as fp32:
            return super().forward(fp32(x))


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` that computes and returns float32 under autocast (see ``LayerNorm``)."""

    def forward(self, x: Tensor) -> Tensor:
        with full_precision(x) as fp32:
            return super().forward(fp32(x))


def fp32_modules(model: nn.Module) -> Iterator[nn.Module]:
    """The modules whose parameters must stay float32 when the weights are cast to fp16/bf16.

    Norm layers (tiny, and they compute in fp32), and the fp32 islands: each module names those
    among its submodules in a class attribute ``FP32_SUBMODULES``.
    """
    for module in model.modules():
        if isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
            yield module
        for name in getattr(module, "FP32_SUBMODULES", ()):
            yield module.get_submodule(name)
