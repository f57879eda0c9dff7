"""What a labelling run computes (recorded in its manifest) and how it runs (free to change).

:class:`LabelSettings` holds everything that changes the dataset: a run resumed with other
settings would mix two datasets, so :mod:`.manifest` refuses it. :class:`RunOptions` holds
everything that only changes speed (workers, batch size, shard size), which a resumed run may
change freely.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from PIL import Image

from sam3lib.backends.base import Precision
from sam3lib.errors import InputError
from sam3lib.labelling.loading import DEFAULT_MAX_PIXELS
from sam3lib.labelling.sources import SourceItem

if TYPE_CHECKING:
    from sam3lib.segmenter import Segmenter
from sam3lib.postprocess.pipeline import PostprocessOptions

__all__ = ["DatasetFormat", "LabelSettings", "MaskEncoding", "ModelSpec", "RunOptions"]

DatasetFormat = Literal["coco", "yolo", "jsonl"]
MaskEncoding = Literal["rle", "polygons"]
FORMATS: tuple[str, ...] = get_args(DatasetFormat)
MASK_ENCODINGS: tuple[str, ...] = get_args(MaskEncoding)


@dataclass(frozen=True)
class ModelSpec:
    """How to load the model: enough for a Ray actor on another machine to load the same one.

    Attributes:
        source: hub repo id, checkpoint directory, weights file or exported-graph directory.
        backend: ``"eager"``, ``"amp"``, ``"onnxruntime"``, ``"tensorrt"``; None: the default
            for the precision.
        precision: ``"fp32"``, ``"fp16"`` or ``"bf16"``.
        device: where the model runs (``"cpu"``, ``"cuda"``); a Ray actor on a GPU uses the
            GPU Ray gives it.
        resolution: the model's input size, None for the checkpoint's (see
            :meth:`Segmenter.from_pretrained`).
    """

    source: str
    backend: str | None = None
    precision: Precision = "fp32"
    device: str = "cpu"
    resolution: int | None = None

    def load(self, *, device: str | None = None) -> Segmenter:
        """The Segmenter this spec describes (on ``device`` instead, when given)."""
        from sam3lib.segmenter import Segmenter

        return Segmenter.from_pretrained(
            self.source,
            backend=self.backend,
            precision=self.precision,
            device=device or self.device,
            resolution=self.resolution,
        )


@dataclass(frozen=True)
class LabelSettings:
    """Everything that decides the dataset a run writes.

    Attributes:
        prompts: the text prompts, one category each, in order (category ids 1, 2, ...).
        format: ``"coco"`` (``annotations.json``), ``"yolo"`` (``labels/``, ``data.yaml``) or
            ``"jsonl"`` (``results.jsonl``, one line per image with everything).
        mask_encoding: COCO segmentations as ``"rle"`` or ``"polygons"``.
        threshold, mask_threshold, top_k, nms_iou: as for :meth:`Segmenter.segment`.
        refine: mask clean-up level 0-5 (0: off), as for :meth:`Segmenter.segment`.
        max_pixels: images with more pixels are recorded as failed instead of decoded.
        overlays: also write ``overlays/<image>.png`` with the instances drawn.
        instance_maps: also write ``instance_maps/<image>.png`` (pixel = instance number).
    """

    prompts: tuple[str, ...]
    format: DatasetFormat = "coco"
    mask_encoding: MaskEncoding = "rle"
    threshold: float = 0.5
    mask_threshold: float = 0.5
    top_k: int | None = None
    nms_iou: float | None = None
    refine: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    overlays: bool = False
    instance_maps: bool = False

    def __post_init__(self) -> None:
        prompts = self.prompts
        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise InputError("prompts: expected a list of text prompts")
        if not prompts:
            raise InputError("prompts: give at least one text prompt (one category each)")
        cleaned = tuple(prompt.strip() for prompt in prompts)
        if any(not prompt for prompt in cleaned):
            raise InputError("prompts: a prompt is empty")
        if len(set(cleaned)) != len(cleaned):
            raise InputError(f"prompts: each prompt must be given once, got {list(cleaned)}")
        object.__setattr__(self, "prompts", cleaned)
        _check_choice("format", self.format, FORMATS)
        _check_choice("mask_encoding", self.mask_encoding, MASK_ENCODINGS)
        if not isinstance(self.refine, int) or not 0 <= self.refine <= 5:
            raise InputError(f"refine: expected a level from 0 (off) to 5, got {self.refine!r}")
        # The Segmenter's own checks: a bad threshold must stop the run before it starts, not
        # fail every image (and leave a manifest that the corrected run would not match).
        PostprocessOptions.check(
            self.threshold, self.mask_threshold, self.top_k, self.nms_iou, None, "meta"
        )
        if not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise InputError(f"max_pixels: expected a positive integer, got {self.max_pixels!r}")
        # Pillow refuses to decode past twice its MAX_IMAGE_PIXELS (a "decompression bomb").
        pillow_limit = None if Image.MAX_IMAGE_PIXELS is None else 2 * Image.MAX_IMAGE_PIXELS
        if pillow_limit is not None and self.max_pixels > pillow_limit:
            raise InputError(
                f"max_pixels: {self.max_pixels} is over Pillow's own limit of {pillow_limit} "
                "pixels (twice PIL.Image.MAX_IMAGE_PIXELS), past which it refuses to decode; "
                "raise PIL.Image.MAX_IMAGE_PIXELS first if you trust your images"
            )

    @property
    def needs_polygons(self) -> bool:
        """YOLO labels and COCO polygon segmentations are made of polygons."""
        return self.format == "yolo" or (self.format == "coco" and self.mask_encoding == "polygons")

    def keeps_pixels(self, item: SourceItem) -> bool:
        """Whether ``item``'s full-size pixels are needed after the model: to draw its overlay,
        or to save it into a YOLO dataset's ``images/`` when it has no file."""
        return self.overlays or (self.format == "yolo" and item.path is None)

    def segment_options(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`Segmenter.segment` for these settings."""
        return {
            "threshold": self.threshold,
            "mask_threshold": self.mask_threshold,
            "top_k": self.top_k,
            "nms_iou": self.nms_iou,
            "refine": self.refine or None,
        }

    def to_json(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["prompts"] = list(self.prompts)
        return values


@dataclass(frozen=True)
class RunOptions:
    """How a run is executed; none of it changes the dataset.

    Attributes:
        batch_size: images encoded together (helps on a GPU; 1 is best on a CPU).
        workers: threads decoding images ahead of the model (0: in the model's thread).
        prefetch: decoded images waiting at most (bounds memory).
        shard_size: images per committed shard; at most this many are redone after a crash.
        commit_seconds: also commit a shard after this long, so slow runs lose little.
        progress: show a progress bar (None: only on a terminal).
        torch_threads: torch's CPU threads during the run (restored after); None leaves them
            as they are. Where decoding dominates (large photos, a small model, few cores),
            1 leaves the cores to the decoding threads: on 2 cores, 4000×3000 JPEGs on the
            tiny model went from 1.3× to 1.9× a plain loop (docs/datasets.md). A large model
            wants them all (the default).
        retry_failed: on a resumed run, label again the images an earlier run recorded as
            failed (a network share that was down); by default they stay failed.
    """

    batch_size: int = 1
    workers: int = 2
    prefetch: int = 8
    shard_size: int = 64
    commit_seconds: float = 60.0
    progress: bool | None = None
    torch_threads: int | None = None
    retry_failed: bool = False

    def __post_init__(self) -> None:
        for name in ("batch_size", "shard_size", "prefetch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name}: expected a positive integer, got {value!r}")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise InputError(f"workers: expected 0 or more threads, got {self.workers!r}")
        if self.torch_threads is not None and (
            not isinstance(self.torch_threads, int) or self.torch_threads < 1
        ):
            raise InputError(
                f"torch_threads: expected a positive integer, got {self.torch_threads!r}"
            )
        if not self.commit_seconds > 0:
            raise InputError(
                f"commit_seconds: expected a positive number, got {self.commit_seconds}"
            )


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{name}: expected one of {', '.join(choices)}; got {value!r}")
