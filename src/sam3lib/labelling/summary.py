"""What a run did: counted as records arrive (:class:`RunTally`), reported at the end
(:class:`LabelSummary`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sam3lib.labelling.records import Record, is_error

__all__ = ["LabelSummary", "RunTally"]

# Stages in the order they happen, for the report.
STAGES = ("load", "encode_image", "encode_text", "decode", "postprocess", "export", "write")


@dataclass
class RunTally:
    """Counts of the images this run processed, and the seconds each stage took in total."""

    processed: int = 0
    failed: int = 0
    stage_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, record: Record) -> None:
        self.processed += 1
        if is_error(record):
            self.failed += 1
            return
        for stage, seconds in record["timings"].items():
            self.stage_seconds[stage] += seconds


@dataclass(frozen=True)
class LabelSummary:
    """The outcome of :func:`sam3lib.label`.

    Attributes:
        out: the dataset directory.
        files: the dataset files written (annotations, labels, errors file).
        images: images labelled, in this run and the runs it resumed.
        failed: images that could not be labelled (listed in ``errors.jsonl``).
        instances: instances found per prompt, over the whole dataset.
        processed: images this run processed (the rest came from earlier runs).
        seconds: this run's wall-clock time.
        stage_seconds: this run's seconds per stage, summed over images (stages overlap:
            images load while the model runs).
    """

    out: Path
    files: tuple[Path, ...]
    images: int
    failed: int
    instances: dict[str, int]
    processed: int
    seconds: float
    stage_seconds: dict[str, float]

    @property
    def images_per_second(self) -> float:
        """This run's throughput."""
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_status(self) -> int:
        """0 when every image was labelled, 3 when some failed (``sam3lib label``'s status)."""
        return 3 if self.failed else 0

    def __str__(self) -> str:
        lines = [
            f"dataset: {self.images} image(s) labelled in {self.out}",
            "instances: " + (", ".join(f"{p}: {n}" for p, n in self.instances.items()) or "none"),
        ]
        if self.failed:
            lines.append(f"FAILED: {self.failed} image(s), listed in {self.out / 'errors.jsonl'}")
        earlier = self.images + self.failed - self.processed
        lines.append(
            f"this run: {self.processed} image(s) in {self.seconds:.1f} s "
            f"({self.images_per_second:.2f} images/s)"
            + (f"; {earlier} done by earlier runs" if earlier > 0 else "")
        )
        stages = [
            f"{stage} {self.stage_seconds[stage]:.1f} s"
            for stage in STAGES
            if stage in self.stage_seconds
        ]
        if stages:
            lines.append("time per stage (summed over images): " + ", ".join(stages))
        return "\n".join(lines)
