"""SAM 3's interactive head on images: a click, a box or a mask in, one object's masks out.

Its parts carry transformers' ``Sam3TrackerModel`` names (``tracker_model.*`` in the hub
checkpoint); the neck that feeds it is ``Sam3Model.tracker_neck``. Semantics are Meta's: the
coarsest neck level gets ``no_memory_embedding`` added (what an image without video memory
sees; transformers' ``Sam3TrackerModel`` pixel path forgets it). With a video config the head
also owns the video memory's parts (:mod:`sam3lib.model.video_memory`), under transformers'
``Sam3TrackerVideoModel`` names; :mod:`sam3lib.video.tracker_step` runs them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sam3lib.model.config import TrackerConfig, VideoConfig
from sam3lib.model.interactive_decoder import InteractiveMaskDecoder
from sam3lib.model.outputs import InteractiveFeatures, InteractiveOutputs
from sam3lib.model.prompt_encoder import PromptEncoder
from sam3lib.model.video_memory import video_memory_parts


class InteractiveHead(nn.Module):
    """Prompt encoder + mask decoder + the "no memory" embedding of the image path, and the
    video memory's parts when ``video`` is given."""

    def __init__(
        self,
        config: TrackerConfig,
        image_size: int,
        grid_size: int,
        video: VideoConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.prompt_encoder = PromptEncoder(config, image_size, grid_size)
        self.mask_decoder = InteractiveMaskDecoder(config)
        self.no_memory_embedding = nn.Parameter(torch.empty(1, 1, config.hidden_size))
        self.video_config = video  # None: an image-only head, no video-memory parts
        if video is not None:
            for name, part in video_memory_parts(video, config.hidden_size).items():
                setattr(self, name, part)  # registered as our own: transformers' flat names

    def encode(self, neck_levels: list[Tensor]) -> InteractiveFeatures:
        """Tracker-neck levels x4, x2, x1 (finest first) -> the per-image features."""
        level_x4, level_x2, level_x1 = neck_levels
        return InteractiveFeatures(
            high_res_x4=self.mask_decoder.conv_s0(level_x4),
            high_res_x2=self.mask_decoder.conv_s1(level_x2),
            embedding=level_x1 + self.no_memory_embedding.view(1, -1, 1, 1),
        )

    def forward(
        self,
        features: InteractiveFeatures,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> InteractiveOutputs:
        """Decode B prompts, one object each, against one image (features of batch 1 or B).

        Args:
            features: from :meth:`encode`.
            point_coords: (B, P, 2) xy in pixels of the model's S×S input frame: box corners
                (labels 2, 3), clicks (1, 0) and padding points (-1), in any order.
            point_labels: (B, P) int64.
            mask_input: (B, 1, 4G, 4G) mask logits of an earlier prediction (any values where
                ``has_mask_input`` is False).
            has_mask_input: (B,) bool.
        """
        outputs, _ = self.decode_with_tokens(
            features, point_coords, point_labels, mask_input, has_mask_input
        )
        return outputs

    def decode_with_tokens(
        self,
        features: InteractiveFeatures,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> tuple[InteractiveOutputs, Tensor]:
        """:meth:`forward` and the decoder's four mask tokens (B, 4, C), from which video
        tracking makes object pointers (exported graphs run :meth:`forward` only)."""
        encoder = self.prompt_encoder
        sparse = encoder.embed_points(point_coords, point_labels)
        dense = encoder.embed_mask(mask_input, has_mask_input)
        mask_logits, iou_scores, object_score_logits, tokens = self.mask_decoder.decode_with_tokens(
            features.embedding,
            encoder.dense_positions().to(features.embedding.dtype),
            sparse,
            dense,
            features.high_res_x4,
            features.high_res_x2,
        )
        return InteractiveOutputs(mask_logits, iou_scores, object_score_logits), tokens
