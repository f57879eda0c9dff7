"""torchvision.ops.misc stand-in: FrozenBatchNorm2d, imported at module level by timm (its
norm-layer tables and freeze utilities). SAM 3 never builds one, so constructing it raises."""

from torch import nn


class FrozenBatchNorm2d(nn.Module):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("torchvision stand-in: FrozenBatchNorm2d is not provided")
