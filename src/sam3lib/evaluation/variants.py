"""The variants an agreement run compares (``backend:precision[:resolution]``), each run over
the images on its own, timed per stage, its peak memory measured, its results kept on disk.

One variant runs at a time, in this process, so the process's peak resident set size (reset
before each load, Linux's ``/proc/self/clear_refs``) and CUDA's peak allocation belong to that
variant's pass. The RSS peak includes what was resident before the load (Python, torch, the
images' list); the growth above it is the variant's own, except that libraries first touched
by the first pass (kernels, the tokenizer) count there. ``sam3lib bench`` measures a variant
alone in a fresh process. Results go to a directory, one compressed file per image (masks
bit-packed), so that comparing two variants over many images never holds more than one image's
masks.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from sam3lib.backends import (
    BACKEND_MODULES,
    PRECISIONS,
    Precision,
    check_precision,
    resolve_device,
)
from sam3lib.backends.heap import release_freed_heap
from sam3lib.bench.isolated import peak_rss_bytes
from sam3lib.bench.runners import STAGES
from sam3lib.errors import InputError
from sam3lib.labelling.sources import SourceItem
from sam3lib.result import SegmentationResult

if TYPE_CHECKING:
    from sam3lib.segmenter import Segmenter

__all__ = ["StoredResult", "Variant", "VariantRun", "read_results", "run_variant"]


class StoredResult(NamedTuple):
    """One prompt's instances on one image, read back from a variant's store."""

    masks: npt.NDArray[np.bool_]  #: (N, H, W), at the image's size
    boxes: npt.NDArray[np.float32]  #: (N, 4) xyxy in pixels
    scores: npt.NDArray[np.float32]  #: (N,)


@dataclass(frozen=True)
class Variant:
    """One way of running the model: a backend, a precision and an input size.

    Attributes:
        backend: a name of :data:`sam3lib.backends.BACKEND_MODULES` (``"eager"``, ``"amp"``...).
        precision: ``"fp32"``, ``"fp16"`` or ``"bf16"``.
        resolution: the model's input size in pixels, or None for the checkpoint's own.

    Example:
        >>> Variant.parse("amp:bf16:672")
        Variant(backend='amp', precision='bf16', resolution=672)
        >>> str(Variant("eager", "fp32"))
        'eager:fp32'
    """

    backend: str
    precision: Precision
    resolution: int | None = None

    @classmethod
    def parse(cls, text: str, argument: str = "variant") -> Variant:
        """``"backend:precision[:resolution]"`` as a Variant.

        Raises:
            InputError: not of that form, an unknown backend or precision, or a resolution
                that is not a positive whole number; the message starts with ``argument``.
        """
        parts = text.strip().split(":")
        if len(parts) not in (2, 3):
            raise InputError(
                f"{argument}: expected BACKEND:PRECISION[:RESOLUTION], e.g. eager:fp32 or "
                f"amp:bf16:672; got {text!r}"
            )
        backend, precision = parts[0], parts[1]
        if backend not in BACKEND_MODULES:
            raise InputError(
                f"{argument}: unknown backend {backend!r} in {text!r}; expected one of "
                f"{', '.join(sorted(BACKEND_MODULES))}"
            )
        if precision not in PRECISIONS:
            raise InputError(
                f"{argument}: unknown precision {precision!r} in {text!r}; expected one of "
                f"{', '.join(PRECISIONS)}"
            )
        resolution = None
        if len(parts) == 3:
            if not parts[2].isdigit() or int(parts[2]) < 1:
                raise InputError(
                    f"{argument}: the resolution must be a positive whole number of pixels; "
                    f"got {parts[2]!r} in {text!r}"
                )
            resolution = int(parts[2])
        return cls(backend, check_precision(precision), resolution)

    def __str__(self) -> str:
        size = "" if self.resolution is None else f":{self.resolution}"
        return f"{self.backend}:{self.precision}{size}"

    def load(self, model: str | os.PathLike[str], device: str) -> Segmenter:
        """The Segmenter for this variant; its text cache is off, so that every image pays
        for encoding its prompts and ``encode_text`` is timed on each."""
        from sam3lib.segmenter import Segmenter  # torch and the model only when there is work

        return Segmenter.from_pretrained(
            model,
            backend=self.backend,
            precision=self.precision,
            resolution=self.resolution,
            device=device,
            text_cache_size=0,
        )


@dataclass
class VariantRun:
    """What one variant's pass over the images measured.

    Attributes:
        variant: the variant.
        load_s: seconds to load it (``Segmenter.from_pretrained``).
        seconds: per image, seconds per stage (the Segmenter's ``timings``: stages shared by
            the prompts counted once, ``postprocess`` summed over them) and ``total``, the
            wall-clock time of the image's ``segment`` call.
        instances: instances found, over every image and prompt.
        rss_start_bytes: the process's resident set size when the variant started loading.
        peak_rss_bytes: the process's peak resident set size during the pass (includes
            ``rss_start_bytes``); ``peak_rss_reset`` says whether the peak could be reset
            before the pass (Linux), else it is the process's peak since it started.
        peak_cuda_bytes: ``torch.cuda.max_memory_allocated`` during the pass; None on CPU.
    """

    variant: Variant
    load_s: float = 0.0
    seconds: list[dict[str, float]] = field(default_factory=list)
    instances: int = 0
    rss_start_bytes: int = 0
    peak_rss_bytes: int = 0
    peak_rss_reset: bool = False
    peak_cuda_bytes: int | None = None

    def stage_names(self) -> list[str]:
        """The stages timed, in pipeline order, then any other (``translate``), ``total``."""
        seen = {name for per_image in self.seconds for name in per_image}
        others = sorted(seen - {*STAGES, "total"})
        return [name for name in STAGES if name in seen] + others + ["total"]

    def latency(self) -> dict[str, dict[str, float]]:
        """Seconds per image, ``{"median": {stage: s}, "mean": {stage: s}}``; a stage missing
        from an image counts as 0 there."""
        names = self.stage_names() if self.seconds else []
        columns = {name: [per_image.get(name, 0.0) for per_image in self.seconds] for name in names}
        return {
            "median": {name: statistics.median(values) for name, values in columns.items()},
            "mean": {name: statistics.fmean(values) for name, values in columns.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": str(self.variant),
            "backend": self.variant.backend,
            "precision": self.variant.precision,
            "resolution": self.variant.resolution,
            "load_s": self.load_s,
            "latency_s": self.latency(),
            "instances": self.instances,
            "rss_start_bytes": self.rss_start_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
            "peak_rss_growth_bytes": self.peak_rss_bytes - self.rss_start_bytes,
            "peak_rss_reset": self.peak_rss_reset,
            "peak_cuda_bytes": self.peak_cuda_bytes,
        }


def run_variant(
    variant: Variant,
    items: Sequence[SourceItem],
    prompts: Sequence[str],
    store: Path,
    *,
    model: str | os.PathLike[str],
    device: str = "cpu",
    threshold: float = 0.5,
    warmup: bool = True,
    progress: bool | None = None,
) -> VariantRun:
    """Load ``variant``, segment every item with every prompt, write the results to ``store``
    (see :func:`read_results`) and free the model.

    With ``warmup``, the first image is segmented once before the timed pass (one-off costs:
    kernel selection, lazy initialisation), its results dropped.

    Raises:
        InputError, CheckpointError, BackendUnavailableError: the variant does not load, or
            an image cannot be read.
    """
    import torch
    from tqdm import tqdm

    resolved = resolve_device(device)  # a missing GPU is an InputError, not torch's
    on_cuda = resolved.type == "cuda"
    gc.collect()
    release_freed_heap()
    run = VariantRun(variant, peak_rss_reset=reset_peak_rss())
    run.rss_start_bytes = peak_rss_bytes()
    if on_cuda:
        torch.cuda.reset_peak_memory_stats(resolved)
    started = time.perf_counter()
    segmenter = variant.load(model, device)
    run.load_s = time.perf_counter() - started
    if warmup and items:
        segmenter.segment(items[0].image, list(prompts), threshold=threshold)
    hidden = (None if len(items) > 1 else True) if progress is None else not progress
    for item in tqdm(items, desc=str(variant), unit="image", disable=hidden):
        started = time.perf_counter()
        results = segmenter.segment(item.image, list(prompts), threshold=threshold)
        total = time.perf_counter() - started
        run.seconds.append({**image_seconds(results), "total": total})
        run.instances += sum(len(result) for result in results)
        _write_results(store / f"{item.index:06d}.npz", results)
    run.peak_rss_bytes = peak_rss_bytes()
    if on_cuda:
        run.peak_cuda_bytes = int(torch.cuda.max_memory_allocated(resolved))
    del segmenter
    gc.collect()
    release_freed_heap()  # else the next variant's pass starts on this one's freed heap
    if on_cuda:
        torch.cuda.empty_cache()
    return run


def image_seconds(results: Sequence[SegmentationResult]) -> dict[str, float]:
    """Seconds per stage of one image's ``segment`` call with several prompts: the stages the
    prompts share are in every result's timings, counted once; ``postprocess`` is each
    result's own, summed."""
    seconds = {name: value for name, value in results[0].timings.items() if name != "postprocess"}
    seconds["postprocess"] = sum(result.timings.get("postprocess", 0.0) for result in results)
    return seconds


def read_results(path: Path) -> list[StoredResult]:
    """The results of each prompt, in order, as :func:`run_variant` wrote them for one
    image."""
    with np.load(path) as stored:
        width = int(stored["image_size"][1])
        return [
            StoredResult(
                masks=np.unpackbits(stored[f"masks_{index}"], axis=-1, count=width).astype(bool),
                boxes=stored[f"boxes_{index}"],
                scores=stored[f"scores_{index}"],
            )
            for index in range(int(stored["prompts"]))
        ]


def _write_results(path: Path, results: Sequence[SegmentationResult]) -> None:
    arrays: dict[str, Any] = {
        "image_size": np.array(results[0].image_size),
        "prompts": np.array(len(results)),
    }
    for index, result in enumerate(results):
        arrays[f"masks_{index}"] = np.packbits(result.masks, axis=-1)
        arrays[f"boxes_{index}"] = result.boxes
        arrays[f"scores_{index}"] = result.scores
    np.savez_compressed(path, **arrays)


def reset_peak_rss() -> bool:
    """Reset this process's peak resident set size to its current size (Linux 4.0+);
    False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
