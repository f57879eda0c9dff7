"""Our Segmenter and transformers' ``Sam3Model`` behind one interface, timed per stage.

A :class:`Workload` says what to segment: images (as arrays) and prompts. Each runner turns
it into masks at the images' sizes and returns the seconds spent in each stage —
``preprocess``, ``encode_image``, ``encode_text``, ``decode``, ``postprocess`` — plus the
wall-clock ``total`` and the number of masks kept (which should agree between runners: they
run the same weights with the same threshold).

Several prompts on one image are decoded as one batch by both runners (ours through
``Segmenter.segment(embedding, prompts)``, transformers' by expanding the vision embeddings to
the prompt batch); several images go through ``Segmenter.segment_batch`` (one at a time) and
through one batched forward for transformers, each library's own way of doing it.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import torch

from sam3lib.backends import Precision
from sam3lib.model.roi_align import roi_align
from sam3lib.preprocess import preprocess
from sam3lib.segmenter import Segmenter
from sam3lib.tokenizer import Sam3Tokenizer

PAD_BOX_LABEL = -10  # transformers' label of a padding box
STAGES = ("preprocess", "encode_image", "encode_text", "decode", "postprocess")
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Workload:
    """Images (H, W, 3) uint8 and prompts: every prompt is asked of every image."""

    name: str
    images: tuple[Image, ...]
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class Measurement:
    """Seconds per stage (``STAGES`` plus ``total``) and the number of masks kept."""

    seconds: dict[str, float]
    kept: int


class Runner(Protocol):
    """One implementation, loaded and ready; ``run`` must leave no state behind."""

    name: str

    def run(self, workload: Workload, threshold: float) -> Measurement: ...


class Stopwatch:
    """Adds up seconds per stage; synchronises CUDA so work lands in its own stage."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.seconds[name] += time.perf_counter() - started


class OursRunner:
    """The :class:`~sam3lib.Segmenter`, its own per-stage timings summed over the workload.

    The text cache is off (``text_cache_size=0`` when built by :meth:`load`), so that every run
    pays for encoding its prompts, as a first request would.
    """

    name = "sam3lib"

    def __init__(self, segmenter: Segmenter) -> None:
        self.segmenter = segmenter

    @classmethod
    def load(
        cls, checkpoint: Path, backend: str, precision: Precision, device: str, **options: Any
    ) -> OursRunner:
        """``options`` go to the backend (``compile=True``, ...)."""
        segmenter = Segmenter.from_pretrained(
            checkpoint,
            backend=backend,
            precision=precision,
            device=device,
            text_cache_size=0,
            **options,
        )
        return cls(segmenter)

    def run(self, workload: Workload, threshold: float) -> Measurement:
        seconds = dict.fromkeys(STAGES, 0.0)
        kept = 0
        started = time.perf_counter()
        per_image = self.segmenter.segment_batch(
            workload.images, list(workload.prompts), threshold=threshold, progress=False
        )
        total = time.perf_counter() - started
        for results in per_image:
            # Stages shared by the prompts of one image are in every result; post-processing
            # is each result's own.
            for stage in STAGES[:-1]:
                seconds[stage] += results[0].timings[stage]
            seconds["postprocess"] += sum(r.timings["postprocess"] for r in results)
            kept += sum(len(r) for r in results)
        return Measurement({**seconds, "total": total}, kept)


class TransformersRunner:
    """transformers' ``Sam3Model`` and ``Sam3ImageProcessor`` post-processing.

    transformers' image processor resizes with torchvision, which has no build for this
    torch, so images are prepared with :func:`sam3lib.preprocess.preprocess` (the same
    resize and normalisation as Meta's and transformers' pipelines): the ``preprocess`` stage
    is ours in both columns. Token ids come from the same tokenizer as ours.
    """

    name = "transformers"

    def __init__(self, model: Any, tokenizer: Sam3Tokenizer, precision: Precision) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.precision = precision
        self.device = next(model.parameters()).device
        self.image_size = int(model.config.vision_config.backbone_config.image_size)
        self.postprocessor = transformers_postprocessor()
        install_roi_align_stand_in()
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        self._vision_output: Any = Sam3VisionEncoderOutput

    @classmethod
    def load(
        cls, checkpoint: Path, tokenizer: Sam3Tokenizer, precision: Precision, device: str
    ) -> TransformersRunner:
        from transformers import Sam3Model

        model: Any = Sam3Model.from_pretrained(checkpoint)
        return cls(model.to(device), tokenizer, precision)

    def _numerics(self) -> AbstractContextManager[object]:
        """fp32 as is; fp16/bf16 under autocast with fp32 weights, like our ``amp`` backend."""
        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def run(self, workload: Workload, threshold: float) -> Measurement:
        watch = Stopwatch(self.device)
        started = time.perf_counter()
        images, prompts = workload.images, list(workload.prompts)
        # One batch of (image, prompt) pairs: images × prompts, image-major.
        pairs = len(images) * len(prompts)
        with torch.inference_mode(), self._numerics():
            with watch.stage("preprocess"):
                pixels = torch.cat(
                    [preprocess(image, self.image_size, self.device).pixels for image in images]
                )
            with watch.stage("encode_image"):
                vision = self.model.get_vision_features(pixel_values=pixels)
            with watch.stage("encode_text"):
                tokens = self.tokenizer.encode(prompts)
                ids = tokens.ids.repeat(len(images), 1).to(self.device)
                mask = tokens.attention_mask.repeat(len(images), 1).long().to(self.device)
                text = self.model.get_text_features(input_ids=ids, attention_mask=mask)
            with watch.stage("decode"):
                outputs = self.model(
                    vision_embeds=self._per_pair(vision, len(prompts)),
                    text_embeds=text,
                    attention_mask=mask,
                    # Meta's text-only path, which ours follows: one padding box, so the
                    # geometry encoder still adds its CLS token to the prompt.
                    input_boxes=torch.zeros(pairs, 1, 4, device=self.device),
                    input_boxes_labels=torch.full((pairs, 1), PAD_BOX_LABEL, device=self.device),
                )
            with watch.stage("postprocess"):
                sizes = [image.shape[:2] for image in images for _ in prompts]
                results = self.postprocessor.post_process_instance_segmentation(
                    outputs, threshold=threshold, mask_threshold=0.5, target_sizes=sizes
                )
                masks = [r["masks"].cpu().numpy() for r in results]
        total = time.perf_counter() - started
        assert len(masks) == pairs
        return Measurement({**watch.seconds, "total": total}, sum(len(m) for m in masks))

    def _per_pair(self, vision: Any, prompts: int) -> Any:
        """The vision embeddings repeated for each prompt of an image (decode takes pairs)."""
        if prompts == 1:
            return vision
        fields = ("fpn_hidden_states", "fpn_position_encoding")
        return self._vision_output(
            last_hidden_state=None,
            **{name: tuple(_repeat_each(t, prompts) for t in vision[name]) for name in fields},
        )


def _repeat_each(tensor: torch.Tensor, times: int) -> torch.Tensor:
    """(B, ...) -> (B * times, ...), each row ``times`` times in a row (no copy per row)."""
    batch = tensor.shape[0]
    expanded = tensor[:, None].expand(batch, times, *tensor.shape[1:])
    return expanded.reshape(batch * times, *tensor.shape[1:])


def install_roi_align_stand_in() -> None:
    """Give transformers' box path the ``torchvision.ops.roi_align`` it calls.

    torchvision has no build for this torch. The text-only path pools one padding box per
    prompt, a negligible cost, so our own ROI-align (equal to torchvision's) stands in.
    """
    import transformers.models.sam3.modeling_sam3 as modeling

    def roi_align_per_batch(
        features: torch.Tensor, boxes: Sequence[torch.Tensor], output_size: int
    ) -> torch.Tensor:
        # torchvision takes one (M, 4) tensor per image and returns (B * M, C, S, S). Under
        # autocast transformers hands it fp16, which CPU autocast's stack rejects: float32.
        with torch.autocast(features.device.type, enabled=False):
            stacked = torch.stack([b.float() for b in boxes])
            pooled = roi_align(features.float(), stacked, output_size).flatten(0, 1)
        return pooled.to(features.dtype)

    ops = types.SimpleNamespace(roi_align=roi_align_per_batch)
    modeling.torchvision = types.SimpleNamespace(ops=ops)  # type: ignore[attr-defined]


def transformers_postprocessor() -> Any:
    """transformers' ``Sam3ImageProcessor``, imported without torchvision.

    Its module imports ``torchvision.ops.boxes.batched_nms`` at the top (for methods the
    benchmark does not call); a stand-in module is present only while it is imported.
    """
    import transformers  # noqa: F401  (its availability checks must run before the stand-in)

    names = ("torchvision", "torchvision.ops", "torchvision.ops.boxes")
    saved = {name: sys.modules.get(name) for name in names}
    boxes = types.ModuleType(names[2])
    boxes.batched_nms = None  # type: ignore[attr-defined]
    sys.modules.update({names[0]: types.ModuleType(names[0]), names[1]: types.ModuleType(names[1])})
    sys.modules[names[2]] = boxes
    try:
        from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return Sam3ImageProcessor.__new__(Sam3ImageProcessor)  # post-processing needs no config


def threshold_keeping(segmenter: Segmenter, image: Image, prompt: str, kept: int) -> float:
    """A score threshold that keeps ``kept`` masks for (``image``, ``prompt``).

    Random weights give arbitrary scores, so a fixed threshold could keep none or all 200
    queries; post-processing cost depends on how many masks are kept at the original size.
    The threshold lies half-way between the kept-th and the next score.
    """
    embedding = segmenter.encode_image(image)
    tokens = segmenter.tokenizer.encode(prompt)
    with torch.inference_mode():
        text = segmenter.backend.encode_text(
            tokens.ids.to(segmenter.device), tokens.attention_mask.to(segmenter.device)
        )
        outputs = segmenter.backend.decode(embedding.features, text)
    scores = (outputs.query_logits.sigmoid() * outputs.presence_logit.sigmoid()[:, None])[0]
    ordered = scores.sort(descending=True).values
    kept = max(1, min(kept, len(ordered) - 1))
    return float(ordered[kept - 1] + ordered[kept]) / 2


def workloads(image: Image, prompts: Sequence[str], images: int) -> dict[str, Workload]:
    """The benchmark cases: 1 image × 1 prompt, 1 × N prompts, M images × 1 prompt.

    ``images`` below 2 leaves the last case out (it is also the longest).
    """
    cases = {
        "1x1": Workload("1 image, 1 prompt", (image,), (prompts[0],)),
        f"1x{len(prompts)}": Workload(f"1 image, {len(prompts)} prompts", (image,), tuple(prompts)),
    }
    if images >= 2:
        cases[f"{images}x1"] = Workload(
            f"{images} images, 1 prompt", (image,) * images, (prompts[0],)
        )
    return cases
