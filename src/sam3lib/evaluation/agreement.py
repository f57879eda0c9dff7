"""Agreement between two ways of running the model, without labels: does ``amp:bf16`` find
what ``eager:fp32`` finds on my images, and how much faster and smaller is it?

:func:`compare_variants` runs each variant over the images (:mod:`.variants`: one after the
other, timed per stage, peak memory of each), then matches the two variants' instances of
every (image, prompt) query one-to-one by mask IoU (:mod:`.matching`) into an
:class:`AgreementReport`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam3lib.errors import InputError
from sam3lib.evaluation.matching import AgreementTally, match_instances
from sam3lib.evaluation.report import format_number, json_safe
from sam3lib.evaluation.variants import Variant, VariantRun, read_results, run_variant
from sam3lib.labelling.sources import SourceLike, describe_source, iter_source

__all__ = ["AgreementReport", "compare_variants"]

_MIB = 2**20


@dataclass(frozen=True)
class AgreementReport:
    """Two variants run over the same images and prompts, compared.

    Attributes:
        reference, candidate: what each variant's pass measured (latency per stage, peak
            memory, instances found).
        agreement: :meth:`AgreementTally.summary`'s numbers (matched, missed, extra, mask IoU,
            score and box differences, queries whose instance count differs, per prompt).
        settings: the images, prompts, model, device, score threshold and ``match_iou``.
    """

    reference: VariantRun
    candidate: VariantRun
    agreement: dict[str, Any]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: ``settings``, ``reference``, ``candidate``, ``agreement``; NaN
        written as null."""
        return json_safe(
            {
                "settings": self.settings,
                "reference": self.reference.to_dict(),
                "candidate": self.candidate.to_dict(),
                "agreement": self.agreement,
            }
        )

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    def to_markdown(self) -> str:
        """Speed and memory per variant, then the agreement numbers, as Markdown tables."""
        settings, found = self.settings, self.agreement
        lines = [
            f"# Agreement: {self.candidate.variant} against {self.reference.variant}",
            "",
            f"Model `{settings['model']}` on {settings['device']}; {settings['images']} images "
            f"× {len(settings['prompts'])} prompts = {found['queries']} queries; instances "
            f"scoring above {settings['threshold']}, matched one-to-one at mask IoU ≥ "
            f"{settings['match_iou']}.",
            "",
            "## Speed and memory",
            "",
            "Seconds per image, median (mean). Peak memory of the process during each pass "
            "(one after the other, in one process), and its growth above the resident size "
            "at the variant's start.",
            "",
        ]
        runs = [("reference", self.reference), ("candidate", self.candidate)]
        stages = list(dict.fromkeys(n for _, run in runs for n in run.stage_names()))
        lines += [
            "| variant | load | " + " | ".join(stages) + " | peak RSS | RSS growth | peak CUDA |",
            "| --- |" + " --- |" * (len(stages) + 4),
        ]
        for role, run in runs:
            latency = run.latency()
            cells = [_seconds(latency["median"].get(n), latency["mean"].get(n)) for n in stages]
            lines.append(
                f"| {run.variant} ({role}) | {run.load_s:.2f} s | {' | '.join(cells)} | "
                f"{_mib(run.peak_rss_bytes)} | {_mib(run.peak_rss_bytes - run.rss_start_bytes)} | "
                f"{_mib(run.peak_cuda_bytes)} |"
            )
        iou, scores, boxes = found["mask_iou"], found["score_abs_diff"], found["box_abs_diff_px"]
        lines += [
            "",
            "## Agreement",
            "",
            "| | value |",
            "| --- | --- |",
            f"| reference instances | {found['reference_instances']} |",
            f"| candidate instances | {found['candidate_instances']} |",
            f"| matched | {found['matched']} |",
            f"| missed (reference only) | {found['missed']} |",
            f"| extra (candidate only) | {found['extra']} |",
            f"| mask IoU mean / median / min | {format_number(iou['mean'])} / "
            f"{format_number(iou['median'])} / {format_number(iou['min'])} |",
            f"| \\|Δscore\\| mean / max | {_small(scores['mean'])} / {_small(scores['max'])} |",
            f"| \\|Δbox\\| px mean / max | {_small(boxes['mean'])} / {_small(boxes['max'])} |",
            f"| queries whose instance count differs | {found['count_differs']} of "
            f"{found['queries']} |",
            "",
            "## Per prompt",
            "",
            "| prompt | matched | missed | extra | mean mask IoU |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {prompt} | {counts['matched']} | {counts['missed']} | {counts['extra']} | "
            f"{format_number(counts['mask_iou_mean'])} |"
            for prompt, counts in found["per_prompt"].items()
        ]
        return "\n".join(lines) + "\n"

    def write_markdown(self, path: str | Path) -> None:
        Path(path).write_text(self.to_markdown(), encoding="utf-8")


def compare_variants(
    images: SourceLike,
    prompts: Sequence[str],
    reference: Variant | str,
    candidate: Variant | str,
    *,
    model: str | os.PathLike[str] = "facebook/sam3",
    device: str = "cpu",
    threshold: float = 0.5,
    match_iou: float = 0.5,
    warmup: bool = True,
    progress: bool | None = None,
) -> AgreementReport:
    """Run two variants of the model over the same images and prompts and compare them.

    The candidate runs first, then the reference (a variant its backend refuses, or an engine
    that is missing, fails before the other has spent its time); each is loaded, run over
    every image and freed before the next, so each one's peak memory is its own. Results wait
    on disk (a temporary directory, masks bit-packed) and are compared one image at a time.

    Args:
        images: a directory (searched recursively), a glob, a list file or paths, as
            :func:`sam3lib.labelling.sources.iter_source` reads them.
        prompts: asked of every image.
        reference, candidate: ``Variant`` or ``"backend:precision[:resolution]"``.
        model: hub repo id, checkpoint directory or weights file, for both.
        device: for both.
        threshold: instances scoring above it are compared.
        match_iou: two instances pair from this mask IoU.
        warmup: segment the first image once before timing each variant.
        progress: a progress bar per variant; by default on a terminal only.

    Raises:
        InputError: a bad variant text (naming ``reference`` or ``candidate``), no images,
            no prompts, an image that cannot be read, or a variant that does not load with
            these options (the message names which).

    Example:
        >>> report = compare_variants("photos/", ["cat"], "eager:fp32", "amp:bf16",
        ...                           device="cuda")  # doctest: +SKIP
        >>> report.agreement["mask_iou"]["mean"], report.agreement["missed"]  # doctest: +SKIP
        (0.998, 0)
    """
    variants = {
        "reference": _variant(reference, "reference"),
        "candidate": _variant(candidate, "candidate"),
    }
    prompt_list = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompt_list or not all(isinstance(p, str) and p.strip() for p in prompt_list):
        raise InputError("prompts: give at least one non-empty text prompt")
    if not 0.0 < match_iou <= 1.0:
        raise InputError(f"match_iou: expected a fraction in (0, 1], got {match_iou!r}")
    items = list(iter_source(images))
    if not items:
        raise InputError(f"images: no image files in {describe_source(images)}")
    runs: dict[str, VariantRun] = {}
    tally = AgreementTally()
    with tempfile.TemporaryDirectory(prefix="sam3lib-agreement-") as temporary:
        for role in ("candidate", "reference"):
            store = Path(temporary, role)
            store.mkdir()
            try:
                runs[role] = run_variant(
                    variants[role],
                    items,
                    prompt_list,
                    store,
                    model=model,
                    device=device,
                    threshold=threshold,
                    warmup=warmup,
                    progress=progress,
                )
            except InputError as error:
                raise InputError(f"{role} {variants[role]}: {error}") from None
        for item in items:
            name = f"{item.index:06d}.npz"
            found = zip(
                read_results(Path(temporary, "reference", name)),
                read_results(Path(temporary, "candidate", name)),
                prompt_list,
                strict=True,
            )
            for by_reference, by_candidate, prompt in found:
                match = match_instances(
                    by_reference.masks,
                    by_reference.scores,
                    by_candidate.masks,
                    by_candidate.scores,
                    reference_boxes=by_reference.boxes,
                    candidate_boxes=by_candidate.boxes,
                    match_iou=match_iou,
                )
                tally.add(prompt, match)
    settings = {
        "images": len(items),
        "source": describe_source(images),
        "prompts": prompt_list,
        "model": os.fspath(model),
        "device": device,
        "threshold": threshold,
        "match_iou": match_iou,
    }
    return AgreementReport(runs["reference"], runs["candidate"], tally.summary(), settings)


def _variant(value: Variant | str, role: str) -> Variant:
    if isinstance(value, Variant):
        return value
    if not isinstance(value, str):
        raise InputError(f"{role}: expected 'backend:precision[:resolution]' or a Variant")
    return Variant.parse(value, role)


def _seconds(median: float | None, mean: float | None) -> str:
    if median is None or mean is None:
        return "–"
    return f"{_short(median)} ({_short(mean)})"


def _short(seconds: float) -> str:
    """Seconds with three significant digits: 27.4, 0.142, 0.00312."""
    return f"{seconds:.3g}"


def _small(value: float) -> str:
    """A difference that may be tiny: 0, 2.6e-04, 1.25."""
    if math.isnan(value):
        return "–"
    if value == 0 or value >= 0.01:
        return f"{value:.3g}"
    return f"{value:.1e}"


def _mib(size: int | None) -> str:
    return "–" if size is None else f"{size / _MIB:.0f} MiB"
