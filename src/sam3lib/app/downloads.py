"""The demo's downloads: masks as a PNG label map and as COCO RLE JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from sam3lib.errors import InputError
from sam3lib.result import SegmentationResult

LABEL_MAP_NAME = "masks.png"
RLE_NAME = "masks_coco_rle.json"


def label_map(results: Sequence[SegmentationResult]) -> npt.NDArray[np.uint16]:
    """(H, W): 0 for background, n where instance n (1-based, as in the legend) is on top.

    Raises:
        InputError: no results, or results of different image sizes.

    Example:
        >>> label_map([SegmentationResult.empty("cat", (2, 3))]).tolist()
        [[0, 0, 0], [0, 0, 0]]
    """
    if not results or len({result.image_size for result in results}) != 1:
        raise InputError("results: expected one or more results of the same image")
    labels = np.zeros(results[0].image_size, dtype=np.uint16)
    number = 0
    for result in results:
        for mask in result.masks:
            number += 1
            labels[mask] = number  # later instances over earlier ones, as in the overlay
    return labels


def save_label_map(results: Sequence[SegmentationResult], path: Path) -> None:
    """Write :func:`label_map` as a grey PNG: 8-bit below 256 instances, 16-bit from 256.

    Raises:
        InputError: as :func:`label_map`.

    Example:
        >>> save_label_map([result], Path("masks.png"))  # doctest: +SKIP
    """
    labels = label_map(results)
    # A uint8 array becomes an 8-bit grey PNG, a uint16 one a 16-bit grey PNG.
    Image.fromarray(labels.astype(np.uint8) if labels.max(initial=0) < 256 else labels).save(path)


def write_downloads(results: Sequence[SegmentationResult], directory: Path) -> list[Path]:
    """Write ``masks.png`` and ``masks_coco_rle.json`` into ``directory``.

    ``masks.png`` is a label map (:func:`save_label_map`). The JSON holds
    :meth:`SegmentationResult.to_dict` per prompt, masks as COCO RLE.

    Returns:
        The two paths.

    Example:
        >>> write_downloads([result], Path("out"))  # doctest: +SKIP
        [PosixPath('out/masks.png'), PosixPath('out/masks_coco_rle.json')]
    """
    directory.mkdir(parents=True, exist_ok=True)
    png, rle = directory / LABEL_MAP_NAME, directory / RLE_NAME
    save_label_map(results, png)
    report = {
        "image_size": list(results[0].image_size),
        "results": [result.to_dict("rle") for result in results],
    }
    rle.write_text(json.dumps(report, ensure_ascii=False), "utf-8")  # prompts stay readable
    return [png, rle]
