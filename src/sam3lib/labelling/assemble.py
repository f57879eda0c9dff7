"""The final step: the committed shards become the dataset files, in source order.

Each output file is written atomically from the shards alone, so a run killed while
assembling simply assembles again on the next run, to the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from sam3lib.labelling.atomic import remove_partial_files
from sam3lib.labelling.records import Record, is_error
from sam3lib.labelling.settings import LabelSettings
from sam3lib.labelling.shards import ShardStore
from sam3lib.labelling.writers import write_coco, write_errors, write_jsonl, write_yolo

__all__ = ["Assembled", "assemble"]

ERRORS_NAME = "errors.jsonl"


class Assembled:
    """What the dataset holds: labelled images, failures, instances per prompt, its files."""

    def __init__(self, images: int, failed: int, instances: dict[str, int], files: list[Path]):
        self.images = images
        self.failed = failed
        self.instances = instances
        self.files = files


def assemble(
    out: Path, store: ShardStore, settings: LabelSettings, order: dict[str, int] | None = None
) -> Assembled:
    """Write ``settings.format``'s files and ``errors.jsonl`` into ``out``, the images in
    ``order`` (key → position in the source; see :meth:`ShardStore.records`)."""
    remove_partial_files(out)

    def records() -> Iterator[Record]:
        return store.records(order)

    prompts = settings.prompts
    images = 0
    per_category: Counter[int] = Counter()
    queries: list[str | None] = [None] * len(prompts)
    for record in records():
        if is_error(record):
            continue
        images += 1
        per_category.update(instance["category"] for instance in record["instances"])
        queries = [query or known for query, known in zip(record["queries"], queries, strict=True)]
    files: list[Path] = []
    if settings.format == "coco":
        path = out / "annotations.json"
        write_coco(path, records, prompts, queries, settings.mask_encoding)
        files.append(path)
    elif settings.format == "yolo":
        write_yolo(out, records(), prompts)
        files += [out / "data.yaml", out / "labels"]
    else:
        path = out / "results.jsonl"
        write_jsonl(path, records(), prompts)
        files.append(path)
    failed = write_errors(out / ERRORS_NAME, records())
    files.append(out / ERRORS_NAME)
    instances = {prompt: per_category[number] for number, prompt in enumerate(prompts, 1)}
    return Assembled(images, failed, instances, files)
