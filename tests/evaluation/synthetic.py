"""Generated COCO ground truth and predictions with answers known by construction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

CATEGORIES = [{"id": 1, "name": "cat"}, {"id": 3, "name": "red car"}]


def rle(mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in encoded["size"]], "counts": encoded["counts"].decode()}


def box_mask(height: int, width: int, box: tuple[int, int, int, int]) -> npt.NDArray[np.bool_]:
    """A mask filling the xyxy pixel box."""
    mask = np.zeros((height, width), dtype=bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def annotation(
    mask: npt.NDArray[np.bool_], image_id: int, category_id: int, **extra: Any
) -> dict[str, Any]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    bbox = [
        float(cols[0]),
        float(rows[0]),
        float(cols[-1] + 1 - cols[0]),
        float(rows[-1] + 1 - rows[0]),
    ]
    return {
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": rle(mask),
        "bbox": bbox,
        "area": float(mask.sum()),
        "iscrowd": 0,
        **extra,
    }


def random_coco(seed: int, images: int = 6) -> dict[str, Any]:
    """Images of 40-80 px with 0-3 rectangles of each category."""
    rng = np.random.default_rng(seed)
    dataset: dict[str, Any] = {"images": [], "annotations": [], "categories": CATEGORIES}
    for image_id in range(1, images + 1):
        height, width = (int(v) for v in rng.integers(40, 80, size=2))
        dataset["images"].append(
            {
                "id": image_id * 10,
                "file_name": f"img_{image_id}.png",
                "height": height,
                "width": width,
            }
        )
        for category in CATEGORIES:
            for _ in range(int(rng.integers(0, 4))):
                x0, y0 = int(rng.integers(0, width - 10)), int(rng.integers(0, height - 10))
                x1, y1 = x0 + int(rng.integers(4, 11)), y0 + int(rng.integers(4, 11))
                dataset["annotations"].append(
                    annotation(
                        box_mask(height, width, (x0, y0, x1, y1)), image_id * 10, category["id"]
                    )
                )
    for number, entry in enumerate(dataset["annotations"], start=1):
        entry["id"] = number
    return dataset


def perfect_predictions(dataset: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ground-truth instance, found exactly, with score 0.9."""
    return [
        {
            "image_id": entry["image_id"],
            "category_id": entry["category_id"],
            "segmentation": entry["segmentation"],
            "bbox": entry["bbox"],
            "score": 0.9,
        }
        for entry in dataset["annotations"]
    ]


def noisy_predictions(dataset: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Shifted copies of the ground truth, some missed, plus random false positives."""
    rng = np.random.default_rng(seed)
    sizes = {image["id"]: (image["height"], image["width"]) for image in dataset["images"]}
    found = []
    for entry in dataset["annotations"]:
        if rng.random() < 0.2:
            continue
        height, width = sizes[entry["image_id"]]
        x, y, w, h = (int(v) for v in entry["bbox"])
        dx, dy = (int(v) for v in rng.integers(-3, 4, size=2))
        box = (max(0, x + dx), max(0, y + dy), min(width, x + w + dx), min(height, y + h + dy))
        mask = box_mask(height, width, box)
        if mask.any():
            found.append(
                {
                    **annotation(mask, entry["image_id"], entry["category_id"]),
                    "score": float(rng.random()),
                }
            )
    for image in dataset["images"]:
        for category in CATEGORIES:
            if rng.random() < 0.5:
                height, width = image["height"], image["width"]
                x0, y0 = int(rng.integers(0, width - 8)), int(rng.integers(0, height - 8))
                mask = box_mask(height, width, (x0, y0, x0 + 7, y0 + 7))
                found.append(
                    {**annotation(mask, image["id"], category["id"]), "score": float(rng.random())}
                )
    for entry in found:
        for key in ("area", "iscrowd"):
            entry.pop(key)
    return found


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path
