"""Our PyTorch implementation of SAM 3: the image detector, the interactive head and the
tracker's video memory (run frame by frame by :mod:`sam3lib.video.tracker_step`)."""

from sam3lib.model.config import (
    DecoderConfig,
    FusionEncoderConfig,
    GeometryConfig,
    MaskHeadConfig,
    MemoryAttentionConfig,
    MemoryEncoderConfig,
    Sam3Config,
    TextConfig,
    TrackerConfig,
    VideoConfig,
    VisionConfig,
)
from sam3lib.model.interactive_decoder import select_masks
from sam3lib.model.memory_attention import MemoryAttention
from sam3lib.model.memory_encoder import MemoryEncoder
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
    "MemoryAttention",
    "MemoryAttentionConfig",
    "MemoryEncoder",
    "MemoryEncoderConfig",
    "Sam3Config",
    "Sam3Model",
    "Sam3Outputs",
    "TextConfig",
    "TextFeatures",
    "TrackerConfig",
    "VideoConfig",
    "VisionConfig",
    "select_masks",
]
