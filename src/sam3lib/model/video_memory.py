"""The video tracker's memory parts, built in one place and owned by the interactive head.

Meta's tracker step needs, besides the :class:`~sam3lib.model.memory_encoder.MemoryEncoder`
and the :class:`~sam3lib.model.memory_attention.MemoryAttention`, a few small tensors
(``SAM3_TRACKER_FACTS.md`` §3):

* ``mask_downsample``: Conv 1→1, 4×4 stride 4; a mask prompt (16·G px) → the decoder's mask
  input (4·G px) when a frame's object pointer is computed from a mask;
* ``object_pointer_proj``: 3-layer MLP, the decoder's output token → the object pointer;
* ``temporal_positional_encoding_projection_layer``: Linear C → memory channels, the pointers'
  1-D sine encoding of their frame distance;
* ``memory_temporal_positional_encoding``: (num_memories, 1, 1, memory channels), added to a
  memory's position encoding by its slot (1 frame back … 6 back, conditioning frame);
* ``no_object_pointer``: (1, C), the pointer of a frame whose object is absent;
* ``occlusion_spatial_embedding_parameter``: (1, memory channels), added to such a frame's memory.

Their names are transformers' (``Sam3TrackerVideoModel``; ``tracker_model.*`` in the hub
checkpoint), so the interactive head registers them as its own attributes. They are loaded
from both checkpoint layouts and checked for key and shape parity with transformers and Meta;
:mod:`sam3lib.video.tracker_step` runs them. The only tracker tensor no path uses,
transformers' ``no_memory_positional_encoding`` (Meta's ``no_mem_pos_enc``), is left out.
"""

from __future__ import annotations

import torch
from torch import nn

from sam3lib.model.config import VideoConfig
from sam3lib.model.memory_attention import MemoryAttention
from sam3lib.model.memory_encoder import MemoryEncoder
from sam3lib.model.two_way_transformer import FeedForward

# The names video_memory_parts gives its parts, for code that must tell video-memory tensors
# apart without building the model (the loader).
VIDEO_MEMORY_PARTS = (
    "memory_encoder",
    "memory_attention",
    "mask_downsample",
    "object_pointer_proj",
    "temporal_positional_encoding_projection_layer",
    "memory_temporal_positional_encoding",
    "no_object_pointer",
    "occlusion_spatial_embedding_parameter",
)


def is_video_memory_key(key: str) -> bool:
    """Whether a key of our layout is a video-memory tensor (``tracker_model.<part>...``).

    Example:
        >>> is_video_memory_key("tracker_model.memory_encoder.projection.weight")
        True
        >>> is_video_memory_key("tracker_model.no_memory_embedding")
        False
    """
    head, _, rest = key.partition(".")
    return head == "tracker_model" and rest.split(".", 1)[0] in VIDEO_MEMORY_PARTS


def video_memory_parts(
    config: VideoConfig, tracker_width: int
) -> dict[str, nn.Module | nn.Parameter]:
    """The video-memory modules and parameters, under the names the tracker head gives them.

    ``tracker_width``: the decoder's token width, which the object-pointer parts take (as
    transformers does; 256 for SAM 3). Parameters are uninitialised (``torch.empty``): the
    model is built to be loaded. The keys are :data:`VIDEO_MEMORY_PARTS`.

    Example:
        >>> parts = video_memory_parts(VideoConfig(), tracker_width=256)
        >>> parts["memory_temporal_positional_encoding"].shape
        torch.Size([7, 1, 1, 64])
    """
    width, channels = tracker_width, config.memory_channels
    return {
        "memory_encoder": MemoryEncoder(config.memory_encoder),
        "memory_attention": MemoryAttention(config.memory_attention),
        "mask_downsample": nn.Conv2d(1, 1, kernel_size=4, stride=4),
        "object_pointer_proj": FeedForward(width, width, width, num_layers=3),
        "temporal_positional_encoding_projection_layer": nn.Linear(width, channels),
        "memory_temporal_positional_encoding": nn.Parameter(
            torch.empty(config.num_memories, 1, 1, channels)
        ),
        "no_object_pointer": nn.Parameter(torch.empty(1, width)),
        "occlusion_spatial_embedding_parameter": nn.Parameter(torch.empty(1, channels)),
    }
