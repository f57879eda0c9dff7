"""The SAM 3 image model, exposed as composable entry points.

The detector: ``encode_image`` runs once per image, ``encode_text`` once per prompt, and
``decode`` once per (image, prompt) pair; ``forward`` is their composition. The interactive
head (when the checkpoint has it): ``encode_interactive`` once per image, on the trunk output
``encode_image`` kept, and ``decode_interactive`` once per batch of clicks/boxes. Shapes are
static for a given batch and no Python branch depends on tensor values, so each entry point
exports as one graph.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from sam3lib.errors import InputError, InteractiveUnavailableError
from sam3lib.model.config import Sam3Config, VisionConfig
from sam3lib.model.decoder import DetrDecoder
from sam3lib.model.fusion_encoder import FusionEncoder
from sam3lib.model.geometry_encoder import GeometryEncoder
from sam3lib.model.interactive import InteractiveHead
from sam3lib.model.layers import box_cxcywh_to_xyxy, sine_position_grid
from sam3lib.model.mask_head import MaskDecoder
from sam3lib.model.neck import FPNNeck
from sam3lib.model.outputs import (
    ImageFeatures,
    InteractiveFeatures,
    InteractiveOutputs,
    Sam3Outputs,
    TextFeatures,
)
from sam3lib.model.scoring import DotProductScoring
from sam3lib.model.text_encoder import TextEncoder
from sam3lib.model.vit import ViTBackbone

if TYPE_CHECKING:  # annotations only: no runtime dependency, no import cycle
    from typing_extensions import Unpack

    from sam3lib.checkpoint.loader import LoadOptions


class VisionEncoder(nn.Module):
    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.backbone = ViTBackbone(config)
        self.neck = FPNNeck(config.hidden_size, config.fpn_size, config.fpn_scale_factors)
        self.fpn_size = config.fpn_size

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """(B, 3, S, S) -> FPN levels x4, x2, x1, the sine position encoding of x1, and the
        trunk's (B, C_vit, G, G) output the levels were made from."""
        backbone_map = self.backbone(pixels)
        fpn_x4, fpn_x2, fpn_x1 = self.neck(backbone_map)
        height, width = fpn_x1.shape[-2:]
        pos = sine_position_grid(height, width, self.fpn_size // 2, fpn_x1.device)
        pos = pos.to(fpn_x1.dtype).expand(fpn_x1.shape[0], -1, -1, -1)
        return fpn_x4, fpn_x2, fpn_x1, pos, backbone_map


class Sam3Model(nn.Module):
    """SAM 3 image detector ("promptable concept segmentation").

    Example:
        >>> model = Sam3Model(Sam3Config.tiny())  # weights: see sam3lib.checkpoint
        >>> image = model.encode_image(torch.zeros(1, 3, 168, 168))
        >>> ids = torch.tensor([[49406, 320, 49407]])
        >>> text = model.encode_text(ids, torch.ones(1, 3, dtype=torch.bool))
        >>> out = model.decode(image, text)
        >>> out.mask_logits.shape
        torch.Size([1, 10, 48, 48])
    """

    def __init__(self, config: Sam3Config) -> None:
        super().__init__()
        self.config = config
        self.vision_encoder = VisionEncoder(config.vision)
        self.text_encoder = TextEncoder(config.text)
        self.text_projection = nn.Linear(config.text.hidden_size, config.d_model)
        self.geometry_encoder = GeometryEncoder(config.geometry)
        self.detr_encoder = FusionEncoder(config.fusion)
        self.detr_decoder = DetrDecoder(config.decoder)
        self.mask_decoder = MaskDecoder(config.mask_head)
        self.dot_product_scoring = DotProductScoring(config.decoder)
        if config.tracker is not None:
            vision, tracker = config.vision, config.tracker
            self.tracker_neck = FPNNeck(
                vision.hidden_size, tracker.hidden_size, tracker.fpn_scale_factors
            )
            self.tracker_model = InteractiveHead(
                tracker, vision.image_size, vision.grid_size, config.video
            )

    @property
    def has_interactive_head(self) -> bool:
        """Whether the checkpoint had the interactive (tracker) head's weights."""
        return self.config.tracker is not None

    @classmethod
    def from_pretrained(
        cls, source: str | os.PathLike[str], **options: Unpack[LoadOptions]
    ) -> Sam3Model:
        """Load weights from a hub repo id, a checkpoint directory or a weights file.

        Options are those of :func:`sam3lib.checkpoint.load_sam3_model` (revision, token,
        cache_dir, device, dtype), which also returns the checkpoint's tokenizer files.

        Example:
            >>> model = Sam3Model.from_pretrained("facebook/sam3")  # doctest: +SKIP
        """
        from sam3lib.checkpoint.loader import load_sam3_model  # the loader imports this module

        return load_sam3_model(source, **options)[0]

    def encode_image(self, pixels: Tensor) -> ImageFeatures:
        """(B, 3, S, S) normalised pixels (see ``sam3lib.preprocess``) -> image features."""
        size = self.config.vision.image_size
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (3, size, size):
            raise InputError(
                f"pixels must have shape (B, 3, {size}, {size}), got {tuple(pixels.shape)}"
            )
        fpn_x4, fpn_x2, fpn_x1, pos_x1, backbone_map = self.vision_encoder(pixels)
        pixel_x2, pixel_x4 = self.mask_decoder.pixel_decoder.project_levels([fpn_x2, fpn_x4])
        attended_x1 = self.detr_encoder.attend_image(_tokens(fpn_x1), _tokens(pos_x1))
        return ImageFeatures(pixel_x4, pixel_x2, fpn_x1, pos_x1, attended_x1, backbone_map)

    def encode_interactive(self, backbone_map: Tensor) -> InteractiveFeatures:
        """(B, C_vit, G, G) trunk output (``ImageFeatures.backbone``) -> the interactive head's
        per-image features: the tracker neck, run only for images that get clicks or boxes.

        Raises:
            InteractiveUnavailableError: the checkpoint has no interactive head.
        """
        head = self._interactive_head()
        return head.encode(self.tracker_neck(backbone_map))

    def decode_interactive(
        self,
        features: InteractiveFeatures,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> InteractiveOutputs:
        """Masks for B prompts of one object each; see :meth:`InteractiveHead.forward`.

        Example:
            >>> model = Sam3Model(Sam3Config.tiny())  # weights: see sam3lib.checkpoint
            >>> image = model.encode_image(torch.zeros(1, 3, 168, 168))
            >>> features = model.encode_interactive(image.backbone)
            >>> clicks = torch.tensor([[[80.0, 60.0], [0.0, 0.0]]])
            >>> labels = torch.tensor([[1, -1]])  # a click, then Meta's padding point
            >>> out = model.decode_interactive(
            ...     features, clicks, labels, torch.zeros(1, 1, 48, 48), torch.tensor([False])
            ... )
            >>> out.mask_logits.shape, out.iou_scores.shape
            (torch.Size([1, 4, 48, 48]), torch.Size([1, 4]))
        """
        return self._interactive_head()(
            features, point_coords, point_labels, mask_input, has_mask_input
        )

    def _interactive_head(self) -> InteractiveHead:
        if self.config.tracker is None:
            raise InteractiveUnavailableError(
                "this checkpoint has no interactive (tracker) head: it was saved with the "
                "detector only, so it segments text and exemplar-box concepts but not clicks "
                "or boxes of one object; load a full SAM 3 checkpoint (e.g. facebook/sam3 or "
                "Meta's sam3.pt)"
            )
        head: InteractiveHead = self.tracker_model
        return head

    def encode_text(self, token_ids: Tensor, attention_mask: Tensor) -> TextFeatures:
        """(N, L) token ids and (N, L) mask (True on real tokens) -> prompt features."""
        if token_ids.ndim != 2 or token_ids.shape != attention_mask.shape:
            raise InputError(
                "token_ids and attention_mask must both be (N, L); got "
                f"{tuple(token_ids.shape)} and {tuple(attention_mask.shape)}"
            )
        if token_ids.shape[1] > self.config.text.context_length:
            raise InputError(
                f"token_ids has {token_ids.shape[1]} tokens; the context is "
                f"{self.config.text.context_length} (tokenize with sam3lib.tokenizer)"
            )
        states = self.text_encoder(token_ids)
        return TextFeatures(self.text_projection(states), attention_mask.to(torch.bool))

    def decode(
        self,
        image: ImageFeatures,
        text: TextFeatures,
        boxes_cxcywh: Tensor | None = None,
        box_labels: Tensor | None = None,
        box_mask: Tensor | None = None,
    ) -> Sam3Outputs:
        """Detect and segment the prompted concept.

        Batches broadcast: image features, text features and boxes may each have batch 1 or
        B; one encoded image is shared by B prompts without being recomputed.

        Args:
            image: from :meth:`encode_image`.
            text: from :meth:`encode_text`.
            boxes_cxcywh: (B, M, 4) exemplar boxes, normalised centre/size; None for none.
            box_labels: (B, M) 1 for positive, 0 for negative exemplars (default: all 1).
            box_mask: (B, M) bool, False marks padding boxes (default: all True).
        """
        batch = common_batch(image.batch_size, text.features.shape[0], boxes_cxcywh)
        device, dtype = image.fpn_x1.device, image.fpn_x1.dtype
        if boxes_cxcywh is None:
            boxes_cxcywh = torch.zeros(batch, 0, 4, device=device, dtype=dtype)
        num_boxes = boxes_cxcywh.shape[1]
        if box_labels is None:
            box_labels = torch.ones(boxes_cxcywh.shape[:2], device=device, dtype=torch.long)
        if box_mask is None:
            box_mask = torch.ones(boxes_cxcywh.shape[:2], device=device, dtype=torch.bool)
        return self.decode_prompts(
            image,
            TextFeatures(text.features.expand(batch, -1, -1), text.mask.expand(batch, -1)),
            boxes_cxcywh.expand(batch, num_boxes, 4),
            box_labels.expand(batch, num_boxes),
            box_mask.expand(batch, num_boxes),
        )

    def decode_prompts(
        self,
        image: ImageFeatures,
        text: TextFeatures,
        boxes_cxcywh: Tensor,
        box_labels: Tensor,
        box_mask: Tensor,
    ) -> Sam3Outputs:
        """:meth:`decode` once its inputs are checked and broadcast: the exportable core.

        Text and boxes share one batch B (the prompts); image features have batch 1 or B.
        Nothing here turns a size into a Python number, so B stays symbolic on export.
        """
        batch = text.features.shape[0]
        grid = image.fpn_x1.expand(batch, -1, -1, -1)
        grid_pos = image.pos_x1.expand(batch, -1, -1, -1)
        grid_hw = (int(grid.shape[-2]), int(grid.shape[-1]))
        geometry, geometry_mask = self.geometry_encoder(
            boxes_cxcywh, box_labels, box_mask, grid, grid_pos
        )
        prompt = torch.cat((text.features, geometry), dim=1)
        prompt_mask = torch.cat((text.mask, geometry_mask), dim=1)

        tokens_pos = _tokens(grid_pos)
        attended = image.attended_x1.expand(batch, -1, -1)
        fused = self.detr_encoder(attended, tokens_pos, prompt, prompt_mask)
        queries, boxes, presence = self.detr_decoder(
            fused, tokens_pos, grid_hw, prompt, prompt_mask
        )
        query_logits = self.dot_product_scoring(queries, prompt, prompt_mask)
        mask_logits, semantic_logits = self.mask_decoder(
            queries, fused, grid_hw, [image.pixel_x2, image.pixel_x4], prompt, prompt_mask
        )
        return Sam3Outputs(
            mask_logits=mask_logits,
            boxes_xyxy=box_cxcywh_to_xyxy(boxes),
            query_logits=query_logits,
            presence_logit=presence,
            semantic_logits=semantic_logits,
        )

    def forward(
        self,
        pixels: Tensor,
        token_ids: Tensor,
        attention_mask: Tensor,
        boxes_cxcywh: Tensor | None = None,
        box_labels: Tensor | None = None,
        box_mask: Tensor | None = None,
    ) -> Sam3Outputs:
        """``decode(encode_image(pixels), encode_text(token_ids, attention_mask), boxes...)``."""
        return self.decode(
            self.encode_image(pixels),
            self.encode_text(token_ids, attention_mask),
            boxes_cxcywh,
            box_labels,
            box_mask,
        )


def _tokens(grid: Tensor) -> Tensor:
    """(B, C, h, w) map -> (B, h*w, C) tokens, row-major."""
    return grid.flatten(2).transpose(1, 2)


def common_batch(image_batch: int, text_batch: int, boxes: Tensor | None) -> int:
    """The batch all inputs broadcast to; each part must have batch 1 or that batch."""
    sizes = {"image": image_batch, "text": text_batch}
    if boxes is not None:
        if boxes.ndim != 3 or boxes.shape[-1] != 4:
            raise InputError(f"boxes_cxcywh must be (B, M, 4), got {tuple(boxes.shape)}")
        sizes["boxes"] = int(boxes.shape[0])
    batch = max(sizes.values())
    mismatched = {name: n for name, n in sizes.items() if n not in (1, batch)}
    if mismatched:
        raise InputError(f"batch sizes must be 1 or {batch}; got {sizes}")
    return batch
