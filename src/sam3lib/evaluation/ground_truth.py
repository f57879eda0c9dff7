"""Ground truth as *queries*: one (image, noun phrase) pair each, evaluated on its own.

SAM 3 answers one phrase at a time, and SA-Co, its benchmark, is laid out that way: each
"image" entry of an SA-Co file is an (image, phrase) pair with ``text_input`` and
``is_instance_exhaustive``; several files of the same entries are several annotators (Gold's
oracle setting). COCO instance files are turned into the same layout: every image × every
category is a query (the categories an image lacks are negatives, which image-level metrics
need), its phrase the category name or a mapping's prompt. Everything downstream (cgF1, AP,
mIoU) reads :class:`GroundTruth.datasets`, COCO dicts in the SA-Co layout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from sam3lib.errors import InputError

__all__ = ["GroundTruth", "Query", "load_ground_truth"]

GroundTruthKind = Literal["coco", "saco"]
_SACO_CATEGORY = {"id": 1, "name": "object"}


@dataclass(frozen=True)
class Query:
    """One (image, phrase) pair.

    Attributes:
        id: the query's image id in :attr:`GroundTruth.datasets` (and in predictions).
        image_id: the image's id in the ground-truth file (COCO), or the entry's (SA-Co).
        file_name: the image file, relative to the images directory.
        phrase: the prompt the model is given.
        category_id: the COCO category (1 for SA-Co, whose phrases are the categories).
        exhaustive: every instance is annotated (queries that are not are not evaluated).
    """

    id: int
    image_id: int
    file_name: str
    phrase: str
    category_id: int
    exhaustive: bool = True


@dataclass(frozen=True)
class GroundTruth:
    """Ground truth read from one or more files.

    Attributes:
        kind: ``"coco"`` (instance annotations) or ``"saco"`` (SA-Co phrase entries).
        queries: every query of the first file, in its order.
        datasets: one COCO dict per file, in the SA-Co layout: ``images`` are the queries
            (``id``, ``file_name``, ``height``, ``width``, ``text_input``,
            ``is_instance_exhaustive``), ``annotations`` point at them.
        categories: the COCO categories (a single "object" category for SA-Co).
        sources: the files read.
    """

    kind: GroundTruthKind
    queries: tuple[Query, ...]
    datasets: tuple[dict[str, Any], ...]
    categories: tuple[dict[str, Any], ...]
    sources: tuple[str, ...]

    @property
    def phrases(self) -> list[str]:
        """Distinct phrases, in first-seen order."""
        return list(dict.fromkeys(query.phrase for query in self.queries))

    def query_id(self, image_id: int, category_id: int) -> int | None:
        """The query of COCO image ``image_id`` and ``category_id`` (None if there is none)."""
        return self._by_image_and_category.get((image_id, category_id))

    @cached_property
    def query_ids(self) -> frozenset[int]:
        """The ids of every query."""
        return frozenset(query.id for query in self.queries)

    @cached_property
    def _by_image_and_category(self) -> dict[tuple[int, int], int]:
        return {(query.image_id, query.category_id): query.id for query in self.queries}


def load_ground_truth(
    paths: Sequence[str | os.PathLike[str]], prompts: Mapping[str, str] | None = None
) -> GroundTruth:
    """Read ground-truth files: COCO instances or SA-Co (told apart by ``text_input``).

    Args:
        paths: one file; several for SA-Co's oracle setting (the same entries, annotated by
            different people; each query is scored against the annotator it agrees with most).
        prompts: COCO only: category name → the phrase to prompt with (default: the name).

    Raises:
        InputError: a file is missing or not JSON, lacks images/annotations, mixes layouts,
            or several COCO files are given.

    Example:
        >>> truth = load_ground_truth(["instances_val.json"])  # doctest: +SKIP
        >>> truth.kind, len(truth.queries)  # doctest: +SKIP
        ('coco', 400)
    """
    if not paths:
        raise InputError("ground_truth: give at least one annotations file")
    raw = [_read(Path(path)) for path in paths]
    kinds = {_kind(data, str(path)) for data, path in zip(raw, paths, strict=True)}
    if len(kinds) > 1:
        raise InputError("ground_truth: the files mix COCO and SA-Co layouts")
    kind = kinds.pop()
    sources = tuple(str(path) for path in paths)
    if kind == "coco":
        if len(raw) > 1:
            raise InputError(
                "ground_truth: several files are SA-Co's oracle setting; COCO ground truth is "
                "one file"
            )
        return _from_coco(raw[0], prompts or {}, sources)
    if prompts:
        raise InputError("prompts: SA-Co entries carry their own phrases (text_input)")
    return _from_saco(raw, sources)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"ground_truth: no such file: '{path}'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"ground_truth: could not read '{path}' as JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise InputError(f"ground_truth: '{path}' has no 'images' list; not a COCO file")
    if not isinstance(data.get("annotations", []), list):
        raise InputError(f"ground_truth: '{path}': 'annotations' must be a list")
    return data


def _kind(data: Mapping[str, Any], path: str) -> GroundTruthKind:
    images = data["images"]
    with_text = sum(1 for image in images if isinstance(image, dict) and "text_input" in image)
    if with_text and with_text != len(images):
        raise InputError(f"ground_truth: '{path}': some images have 'text_input', some not")
    return "saco" if with_text else "coco"


def _from_coco(
    data: dict[str, Any], prompts: Mapping[str, str], sources: tuple[str, ...]
) -> GroundTruth:
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        raise InputError(f"ground_truth: '{sources[0]}' has no categories: the prompts")
    names = {category["id"]: str(category["name"]) for category in categories}
    unknown = sorted(set(prompts) - set(names.values()))
    if unknown:
        raise InputError(f"prompts: no category named {', '.join(map(repr, unknown))}")
    queries: list[Query] = []
    entries: list[dict[str, Any]] = []
    query_of: dict[tuple[int, int], int] = {}
    for image in data["images"]:
        _check_image(image, sources[0])
        for category in categories:
            query = Query(
                id=len(queries) + 1,
                image_id=image["id"],
                file_name=str(image.get("file_name", "")),
                phrase=prompts.get(names[category["id"]], names[category["id"]]),
                category_id=category["id"],
            )
            queries.append(query)
            query_of[(image["id"], category["id"])] = query.id
            entries.append(_entry(query, image))
    annotations = []
    for number, annotation in enumerate(data.get("annotations", []), start=1):
        key = (annotation.get("image_id"), annotation.get("category_id"))
        if key not in query_of:
            raise InputError(
                f"ground_truth: annotation {annotation.get('id', number)} refers to image "
                f"{key[0]!r} and category {key[1]!r}, which the file does not list"
            )
        annotations.append({**annotation, "id": number, "image_id": query_of[key]})
    dataset = {"images": entries, "annotations": annotations, "categories": categories}
    return GroundTruth("coco", tuple(queries), (dataset,), tuple(categories), sources)


def _from_saco(raw: list[dict[str, Any]], sources: tuple[str, ...]) -> GroundTruth:
    datasets = []
    first_ids: list[int] | None = None
    queries: list[Query] = []
    for data, source in zip(raw, sources, strict=True):
        entries = []
        for image in data["images"]:
            _check_image(image, source)
            query = Query(
                id=image["id"],
                image_id=image["id"],
                file_name=str(image.get("file_name", "")),
                phrase=str(image["text_input"]),
                category_id=1,
                exhaustive=bool(image.get("is_instance_exhaustive", True)),
            )
            entries.append(_entry(query, image))
            if first_ids is None:
                queries.append(query)
        ids = [entry["id"] for entry in entries]
        if first_ids is None:
            first_ids = ids
        elif sorted(ids) != sorted(first_ids):
            raise InputError(
                f"ground_truth: '{source}' does not hold the same entries as '{sources[0]}' "
                "(the oracle setting compares annotators of the same image-phrase pairs)"
            )
        annotations = [
            {**annotation, "category_id": 1} for annotation in data.get("annotations", [])
        ]
        datasets.append(
            {"images": entries, "annotations": annotations, "categories": [_SACO_CATEGORY]}
        )
    return GroundTruth("saco", tuple(queries), tuple(datasets), (_SACO_CATEGORY,), sources)


def _check_image(image: object, source: str) -> None:
    if not isinstance(image, dict) or not isinstance(image.get("id"), int):
        raise InputError(f"ground_truth: '{source}': an image entry without an integer 'id'")
    for field in ("height", "width"):
        if not isinstance(image.get(field), int) or image[field] < 1:
            raise InputError(
                f"ground_truth: '{source}': image {image['id']} has no positive '{field}'"
            )


def _entry(query: Query, image: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": query.id,
        "file_name": query.file_name,
        "height": image["height"],
        "width": image["width"],
        "text_input": query.phrase,
        "is_instance_exhaustive": query.exhaustive,
    }
