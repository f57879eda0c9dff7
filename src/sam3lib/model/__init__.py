"""Our PyTorch implementation of the SAM 3 image detector."""

from sam3lib.model.config import (
    DecoderConfig,
    FusionEncoderConfig,
    GeometryConfig,
    MaskHeadConfig,
    Sam3Config,
    TextConfig,
    VisionConfig,
)
from sam3lib.model.outputs import ImageFeatures, Sam3Outputs, TextFeatures
from sam3lib.model.sam3 import Sam3Model

__all__ = [
    "DecoderConfig",
    "FusionEncoderConfig",
    "GeometryConfig",
    "ImageFeatures",
    "MaskHeadConfig",
    "Sam3Config",
    "Sam3Model",
    "Sam3Outputs",
    "TextConfig",
    "TextFeatures",
    "VisionConfig",
]
