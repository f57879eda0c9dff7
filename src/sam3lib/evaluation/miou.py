"""Mean IoU, defined: per query, the union of its predicted masks against the union of its
ground-truth masks.

For each evaluated query (one image × one phrase): P = the union of the predicted masks with
score ≥ ``score_threshold``, G = the union of the ground-truth masks (crowd regions included:
they are pixels of the phrase too). IoU = |P ∩ G| / |P ∪ G|. Queries where both P and G are
empty (nothing there, nothing found) carry no information and are left out. mIoU is the mean
over the rest, every query weighing the same; :attr:`MeanIoU.per_phrase` gives the mean per
phrase. A phrase absent from an image but predicted scores 0 there; one present but missed
scores 0 as well.

This is a semantic-segmentation view (which pixels are "red car"), blind to how the pixels
are split into instances; instance quality is what AP and cgF1 measure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MeanIoU", "mean_iou"]


@dataclass(frozen=True)
class MeanIoU:
    """Attributes:
    miou: the mean (NaN when no query has a prediction or a ground truth).
    per_phrase: mean IoU per phrase over its scored queries.
    ious: the IoU of every scored query, by query id.
    skipped_empty: queries with neither prediction nor ground truth.
    """

    miou: float
    per_phrase: dict[str, float]
    ious: dict[int, float]
    skipped_empty: int


def mean_iou(
    dataset: dict[str, Any],
    predictions: Sequence[dict[str, Any]],
    query_ids: Sequence[int],
    score_threshold: float = 0.5,
) -> MeanIoU:
    """mIoU of ``predictions`` (with masks) over ``query_ids`` of ``dataset`` (query layout).

    Example:
        >>> from pycocotools import mask as coco_mask
        >>> square = np.zeros((4, 4), dtype=np.uint8, order="F")
        >>> square[:2, :2] = 1
        >>> rle = coco_mask.encode(square)
        >>> rle["counts"] = rle["counts"].decode()
        >>> data = {"images": [{"id": 1, "height": 4, "width": 4, "text_input": "cat"}],
        ...         "annotations": [{"image_id": 1, "segmentation": rle, "iscrowd": 0}]}
        >>> half = np.zeros((4, 4), dtype=np.uint8, order="F")
        >>> half[:2, :1] = 1
        >>> found = coco_mask.encode(half)
        >>> mean_iou(data, [{"image_id": 1, "score": 0.9, "segmentation": found}], [1]).miou
        0.5
    """
    from pycocotools import mask as coco_mask

    images = {image["id"]: image for image in dataset["images"]}
    truth: dict[int, list[Any]] = defaultdict(list)
    for annotation in dataset.get("annotations", []):
        truth[annotation["image_id"]].append(annotation["segmentation"])
    found: dict[int, list[Any]] = defaultdict(list)
    for prediction in predictions:
        if prediction["score"] >= score_threshold:
            found[prediction["image_id"]].append(prediction["segmentation"])
    ious: dict[int, float] = {}
    by_phrase: dict[str, list[float]] = defaultdict(list)
    skipped = 0
    for query_id in query_ids:
        image = images[query_id]
        height, width = image["height"], image["width"]
        ground = _union(coco_mask, truth[query_id], height, width)
        predicted = _union(coco_mask, found[query_id], height, width)
        union = float(coco_mask.area(coco_mask.merge([ground, predicted], intersect=False)))
        if union == 0:
            skipped += 1
            continue
        common = float(coco_mask.area(coco_mask.merge([ground, predicted], intersect=True)))
        ious[query_id] = common / union
        by_phrase[str(image.get("text_input", ""))].append(common / union)
    per_phrase = {phrase: float(np.mean(values)) for phrase, values in by_phrase.items()}
    miou = float(np.mean(list(ious.values()))) if ious else float("nan")
    return MeanIoU(miou=miou, per_phrase=per_phrase, ious=ious, skipped_empty=skipped)


def _union(coco_mask: Any, segmentations: list[Any], height: int, width: int) -> Any:
    """One compressed RLE: the union of COCO segmentations (RLE, polygons) of an image."""
    rles = []
    for segmentation in segmentations:
        if isinstance(segmentation, list):  # polygons
            rles += coco_mask.frPyObjects(segmentation, height, width)
        elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
            rles.append(coco_mask.frPyObjects(segmentation, height, width))
        else:
            counts = segmentation["counts"]
            rles.append(
                {
                    "size": segmentation["size"],
                    "counts": counts.encode() if isinstance(counts, str) else counts,
                }
            )
    if not rles:
        empty = np.zeros((height, width), dtype=np.uint8, order="F")
        return coco_mask.encode(empty)
    return coco_mask.merge(rles, intersect=False)
