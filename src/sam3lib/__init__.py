"""sam3lib: a fast, typed runtime for Meta's SAM 3: concept and interactive segmentation of
images, and tracking through videos."""

from sam3lib.embedding import ImageEmbedding
from sam3lib.errors import (
    BackendUnavailableError,
    CheckpointError,
    CheckpointKeyError,
    ConfigError,
    CorruptCheckpointError,
    HubAccessError,
    InputError,
    InteractiveUnavailableError,
    NotASam3CheckpointError,
    Sam3Error,
)
from sam3lib.evaluation import EvaluationReport, evaluate
from sam3lib.interactive import GeneratedMasks, InteractiveResult, MaskGenerationOptions
from sam3lib.labelling import LabelSummary, RunMismatchError, label
from sam3lib.model import Sam3Config, Sam3Model
from sam3lib.result import SegmentationResult
from sam3lib.segmenter import Segmenter
from sam3lib.translation import translate
from sam3lib.version import __version__
from sam3lib.video import TrackedFrame, TrackingConfig, VideoTracking

__all__ = [
    "BackendUnavailableError",
    "CheckpointError",
    "CheckpointKeyError",
    "ConfigError",
    "CorruptCheckpointError",
    "EvaluationReport",
    "GeneratedMasks",
    "HubAccessError",
    "ImageEmbedding",
    "InputError",
    "InteractiveResult",
    "InteractiveUnavailableError",
    "LabelSummary",
    "MaskGenerationOptions",
    "NotASam3CheckpointError",
    "RunMismatchError",
    "Sam3Config",
    "Sam3Error",
    "Sam3Model",
    "SegmentationResult",
    "Segmenter",
    "TrackedFrame",
    "TrackingConfig",
    "VideoTracking",
    "__version__",
    "evaluate",
    "label",
    "translate",
]
