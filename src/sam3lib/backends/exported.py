"""The Backend protocol over exported graphs, whatever engine runs them.

The exported graphs have fixed shapes except their symbolic axes (see
:mod:`sam3lib.export.manifest`): an image batch of ``manifest.batch``, at most
``manifest.max_prompts`` prompts per call and exactly ``manifest.max_boxes`` exemplar boxes;
the interactive graphs take one image per call, at most ``manifest.max_objects`` objects and
0..``manifest.max_points`` points per object. :class:`ExportedGraphBackend` maps the
protocol's free-form calls onto them - chunking images, prompts and objects, padding boxes with
masked entries, broadcasting one image over many prompts - so an engine (onnxruntime,
TensorRT) only has to run one graph on concrete inputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from sam3lib.backends.base import Precision, check_prompt_chunk
from sam3lib.errors import InputError, InteractiveUnavailableError
from sam3lib.export.graphs import INTERACTIVE_FEATURE_NAMES
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
        features = self._in_chunks(
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
        """(B, C_vit, G, G) trunk output -> the interactive head's features; one image per
        graph call."""
        self._require_interactive()
        expected = tuple(self.manifest.graphs["interactive_encoder"].inputs[0].shape[1:])
        if backbone.ndim != 4 or tuple(backbone.shape[1:]) != expected:
            raise InputError(
                f"backbone must have shape (B, {', '.join(map(str, expected))}), got "
                f"{tuple(backbone.shape)}"
            )
        backbone = backbone.to(self.device, torch.float32)
        per_image = [
            self.run_graph("interactive_encoder", {"backbone": backbone[i : i + 1].contiguous()})
            for i in range(backbone.shape[0])
        ]
        return InteractiveFeatures(*(torch.cat(parts) for parts in zip(*per_image, strict=True)))

    def decode_interactive(
        self,
        features: InteractiveFeatures,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> InteractiveOutputs:
        """Raw interactive-head outputs for B objects, float32; arguments as in
        ``Sam3Model.decode_interactive`` (features of batch 1, or B: one image per object).
        Objects run ``max_objects`` at a time; P = 0 points (a mask alone) is a valid call."""
        self._require_interactive()
        objects, points = int(point_labels.shape[0]), int(point_labels.shape[-1])
        most = self.manifest.max_points
        if most is not None and points > most:
            raise InputError(
                f"{points} points per object given; these graphs were exported for at most "
                f"{most} (export again with a larger --max-points)"
            )
        prompts = {
            "point_coords": point_coords.to(self.device, torch.float32),
            "point_labels": point_labels.to(self.device, torch.int64),
            "mask_input": mask_input.to(self.device, torch.float32),
            "has_mask_input": has_mask_input.to(self.device, torch.bool),
        }
        images = features.embedding.shape[0]
        if images == 1:
            return self._decode_objects(features, prompts)
        if images != objects:
            raise InputError(
                f"interactive features of {images} images for {objects} objects: give one "
                "image, or one per object"
            )
        per_object = [
            self._decode_objects(
                InteractiveFeatures(*(t[i : i + 1] for t in features)),
                {name: t[i : i + 1] for name, t in prompts.items()},
            )
            for i in range(objects)
        ]
        return InteractiveOutputs(*(torch.cat(parts) for parts in zip(*per_object, strict=True)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device}, precision={self.precision!r})"

    # --- internals -----------------------------------------------------------------------

    def _require_interactive(self) -> None:
        if not self.manifest.has_interactive:
            raise InteractiveUnavailableError(
                "this export has the concept detector's graphs only (written by sam3lib "
                f"{self.manifest.sam3lib_version}, before the interactive graphs were exported, "
                "or from a checkpoint without the interactive head): clicks and boxes of one "
                "object need them; export again from a full SAM 3 checkpoint with "
                "`sam3lib export CHECKPOINT OUT_DIR`"
            )

    def _decode_objects(
        self, features: InteractiveFeatures, prompts: Mapping[str, Tensor]
    ) -> InteractiveOutputs:
        """One image's features (batch 1) against every object of ``prompts``, in chunks of
        ``max_objects``."""
        image_inputs = {
            name: t.to(self.device, torch.float32).contiguous()
            for name, t in zip(INTERACTIVE_FEATURE_NAMES, features, strict=True)
        }

        def run(part: slice) -> list[Tensor]:
            rows = {name: t[part].contiguous() for name, t in prompts.items()}
            return self.run_graph("interactive_decoder", {**image_inputs, **rows})

        count = int(prompts["point_labels"].shape[0])
        return InteractiveOutputs(*self._in_chunks(count, run, self.manifest.max_objects))

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

        return Sam3Outputs(*self._in_chunks(text_features.shape[0], run, self.prompt_chunk))

    def _in_chunks(
        self, count: int, run: Callable[[slice], Sequence[Tensor]], step: int | None = None
    ) -> list[Tensor]:
        """Run ``run`` on slices of ``step`` rows (default ``max_prompts``); concatenate."""
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
