"""Video: frames in, tracked objects out.

:meth:`sam3lib.Segmenter.track` returns a :class:`VideoTracking`; iterating it yields a
:class:`TrackedFrame` per frame. Text tracking (detector + tracker, Meta's per-frame control)
is :mod:`sam3lib.video.text_tracking`, click tracking :mod:`sam3lib.video.click_tracking`,
their thresholds :class:`TrackingConfig`; frames come from :func:`open_frames`, outputs go
through :mod:`sam3lib.video.export`.
"""

from sam3lib.video.export import AnnotatedVideoWriter, MotWriter, YouTubeVisWriter
from sam3lib.video.frames import VideoFrames, open_frames
from sam3lib.video.result import TrackedFrame
from sam3lib.video.session import VideoTracking
from sam3lib.video.tracking_config import TrackingConfig

__all__ = [
    "AnnotatedVideoWriter",
    "MotWriter",
    "TrackedFrame",
    "TrackingConfig",
    "VideoFrames",
    "VideoTracking",
    "YouTubeVisWriter",
    "open_frames",
]
