"""The Backend protocol over exported graphs, whatever engine runs them.

The exported graphs have fixed shapes except the number of prompts (see
:mod:`sam3lib.export.manifest`): an image batch of ``manifest.batch``, at most
``manifest.max_prompts`` prompts per call and exactly ``manifest.max_boxes`` exemplar boxes.
:class:`ExportedGraphBackend` maps the protocol's free-form calls onto them - chunking images
and prompts, padding boxes with masked entries, broadcasting one image over many prompts - so
an engine (onnxruntime, TensorRT) only has to run one graph on concrete inputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from sam3lib.backends.base import Precision, check_prompt_chunk
from sam3lib.errors import InputError, InteractiveUnavailableError
from sam3lib.export.manifest import ExportManifest
from sam3lib.model.config import Sam3Config
from sam3lib.model.outputs import (
    ImageFeatures,
    InteractiveFeatures,
    InteractiveOutputs,
    Sam3Outputs,
    TextFeatures,
)
from sam3lib.model.sam3 import common_batch

# The image features the decoder graph takes: all but the trunk output (``backbone``).
DECODER_IMAGE_INPUTS = frozenset(ImageFeatures._fields) - {"backbone"}


class ExportedGraphBackend(ABC):
    """Runs the three graphs of an export directory; subclasses supply :meth:`run_graph`.

    Args:
        manifest: the export's manifest (its graphs, sizes and configuration).
        precision: what the engine computes in.
        device: where inputs arrive and outputs are returned.
        prompt_chunk: most prompts per decoder call (and never more than ``max_prompts``); by
            default 1 on the CPU, where a batch of prompts only adds memory traffic (as for
            the torch backends), and ``max_prompts`` elsewhere.
    """

    name: str

    def __init__(
        self,
        manifest: ExportManifest,
        precision: Precision,
        device: torch.device,
        prompt_chunk: int | None = None,
    ) -> None:
        self.manifest = manifest
        self.precision = precision
        self.device = device
        self.config: Sam3Config = manifest.config
        chunk = check_prompt_chunk(prompt_chunk, device)
        self.prompt_chunk = (
            manifest.max_prompts if chunk is None else min(chunk, manifest.max_prompts)
        )

    @abstractmethod
    def run_graph(self, graph: str, inputs: Mapping[str, Tensor]) -> list[Tensor]:
        """Run ``graph`` on inputs shaped and typed as the manifest says (the prompts axis at
        most ``max_prompts``), on :attr:`device`; return its outputs in manifest order, float32,
        on :attr:`device`. Must be safe to call from several threads at once."""

    # --- the Backend protocol ------------------------------------------------------------

    def encode_image(self, pixels: Tensor) -> ImageFeatures:
        """(B, 3, S, S) float32 pixels -> image features; any B (run in graph-sized batches)."""
        size, batch = self.manifest.image_size, self.manifest.batch
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (3, size, size):
            raise InputError(
                f"pixels must have shape (B, 3, {size}, {size}), got {tuple(pixels.shape)}"
            )
        pixels = pixels.to(self.device, torch.float32)
        chunks = []
        for start in range(0, pixels.shape[0], batch):
            chunk = pixels[start : start + batch]
            used = chunk.shape[0]
            if used < batch:  # the graph's batch is fixed: pad with zero images, drop after
                chunk = torch.cat((chunk, chunk.new_zeros(batch - used, *chunk.shape[1:])))
            outputs = self.run_graph("image_encoder", {"pixels": chunk.contiguous()})
            chunks.append([t[:used] for t in outputs])
        return ImageFeatures(*(torch.cat(parts) for parts in zip(*chunks, strict=True)))

    def encode_text(self, token_ids: Tensor, attention_mask: Tensor) -> TextFeatures:
        """(N, L) int64 token ids and (N, L) bool mask -> prompt features; any N."""
        length = self.manifest.context_length
        if token_ids.ndim != 2 or token_ids.shape != attention_mask.shape:
            raise InputError(
                "token_ids and attention_mask must both be (N, L); got "
                f"{tuple(token_ids.shape)} and {tuple(attention_mask.shape)}"
            )
        if token_ids.shape[1] != length:
            raise InputError(
                f"token_ids has {token_ids.shape[1]} tokens; exported graphs take exactly "
                f"{length} (tokenize with sam3lib.tokenizer)"
            )
        mask = attention_mask.to(self.device, torch.bool)
        ids = token_ids.to(self.device, torch.int64)
        features = self._over_prompts(
            ids.shape[0],
            lambda part: self.run_graph(
                "text_encoder",
                {"token_ids": ids[part].contiguous(), "attention_mask": mask[part].contiguous()},
            ),
        )
        return TextFeatures(features[0], mask)

    def decode(
        self,
        image: ImageFeatures,
        text: TextFeatures,
        boxes_cxcywh: Tensor | None = None,
        box_labels: Tensor | None = None,
        box_mask: Tensor | None = None,
    ) -> Sam3Outputs:
        """Raw detector outputs, float32; batches broadcast as in ``Sam3Model.decode``."""
        batch = common_batch(image.batch_size, text.features.shape[0], boxes_cxcywh)
        boxes, labels, mask = self._padded_boxes(batch, boxes_cxcywh, box_labels, box_mask)
        text_features = text.features.to(self.device, torch.float32).expand(batch, -1, -1)
        text_mask = text.mask.to(self.device, torch.bool).expand(batch, -1)
        if image.batch_size == 1:
            return self._decode_one_image(image, text_features, text_mask, boxes, labels, mask)
        # The decoder graph takes one image: decode each image with its own prompt row.
        per_image = [
            self._decode_one_image(
                ImageFeatures(*(t[i : i + 1] for t in image)),
                text_features[i : i + 1],
                text_mask[i : i + 1],
                boxes[i : i + 1],
                labels[i : i + 1],
                mask[i : i + 1],
            )
            for i in range(batch)
        ]
        return Sam3Outputs(*(torch.cat(parts) for parts in zip(*per_image, strict=True)))

    def encode_interactive(self, backbone: Tensor) -> InteractiveFeatures:
        raise InteractiveUnavailableError(
            "these exported graphs hold the concept detector only: clicks and boxes of one "
            "object need the interactive graphs, which this export does not have"
        )

    def decode_interactive(
        self,
        features: InteractiveFeatures,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> InteractiveOutputs:
        return self.encode_interactive(features.embedding)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device}, precision={self.precision!r})"

    # --- internals -----------------------------------------------------------------------

    def _decode_one_image(
        self,
        image: ImageFeatures,
        text_features: Tensor,
        text_mask: Tensor,
        boxes: Tensor,
        labels: Tensor,
        mask: Tensor,
    ) -> Sam3Outputs:
        image_inputs = {
            name: t.to(self.device, torch.float32).contiguous()
            for name, t in zip(ImageFeatures._fields, image, strict=True)
            if name in DECODER_IMAGE_INPUTS
        }

        def run(part: slice) -> list[Tensor]:
            return self.run_graph(
                "decoder",
                {
                    **image_inputs,
                    "text_features": text_features[part].contiguous(),
                    "text_mask": text_mask[part].contiguous(),
                    "boxes_cxcywh": boxes[part].contiguous(),
                    "box_labels": labels[part].contiguous(),
                    "box_mask": mask[part].contiguous(),
                },
            )

        return Sam3Outputs(*self._over_prompts(text_features.shape[0], run, self.prompt_chunk))

    def _over_prompts(
        self, count: int, run: Callable[[slice], Sequence[Tensor]], step: int | None = None
    ) -> list[Tensor]:
        """Run ``run`` on slices of ``step`` prompts (default ``max_prompts``); concatenate."""
        step = step or self.manifest.max_prompts
        parts = [run(slice(start, start + step)) for start in range(0, count, step)]
        return [torch.cat(outputs) for outputs in zip(*parts, strict=True)]

    def _padded_boxes(
        self,
        batch: int,
        boxes_cxcywh: Tensor | None,
        box_labels: Tensor | None,
        box_mask: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Boxes, labels and validity mask at (batch, max_boxes), padding masked out."""
        slots = self.manifest.max_boxes
        boxes = torch.zeros(batch, slots, 4, device=self.device)
        labels = torch.zeros(batch, slots, dtype=torch.int64, device=self.device)
        mask = torch.zeros(batch, slots, dtype=torch.bool, device=self.device)
        if boxes_cxcywh is None:
            return boxes, labels, mask
        count = boxes_cxcywh.shape[1]
        if count > slots:
            raise InputError(
                f"{count} exemplar boxes given; these graphs were exported for at most {slots} "
                "(export again with a larger --max-boxes)"
            )
        shape = boxes_cxcywh.shape[:2]
        boxes[:, :count] = boxes_cxcywh.to(self.device, torch.float32)
        labels[:, :count] = (
            1 if box_labels is None else box_labels.to(self.device, torch.int64).expand(shape)
        )
        mask[:, :count] = True if box_mask is None else box_mask.to(self.device).expand(shape)
        return boxes, labels, mask
