"""Our PyTorch implementation of the SAM 3 image detector."""

from sam3lib.model.config import (
    DecoderConfig,
    FusionEncoderConfig,
    GeometryConfig,
    MaskHeadConfig,
    Sam3Config,
    TextConfig,
    TrackerConfig,
    VisionConfig,
)
from sam3lib.model.interactive_decoder import select_masks
from sam3lib.model.outputs import (
    ImageFeatures,
    InteractiveFeatures,
    InteractiveOutputs,
    Sam3Outputs,
    TextFeatures,
)
from sam3lib.model.sam3 import Sam3Model

__all__ = [
    "DecoderConfig",
    "FusionEncoderConfig",
    "GeometryConfig",
    "ImageFeatures",
    "InteractiveFeatures",
    "InteractiveOutputs",
    "MaskHeadConfig",
    "Sam3Config",
    "Sam3Model",
    "Sam3Outputs",
    "TextConfig",
    "TextFeatures",
    "TrackerConfig",
    "VisionConfig",
    "select_masks",
]
