"""The per-batch step both engines run: loaded images in, one record per image out.

:class:`BatchLabeller` encodes a batch of images in one call of the backend, then decodes all
prompts of each image together through :meth:`Segmenter.segment` on its
:class:`~sam3lib.embedding.ImageEmbedding`, so each image's instances are exactly what
``Segmenter.segment(image, prompts)`` returns (same preprocessing, same post-processing),
and turns them into records. The local engine calls it in-process; on Ray, each actor holds
one (``__init__`` loads the model once, ``__call__`` maps a batch).
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from sam3lib.embedding import ImageEmbedding, encode_resized
from sam3lib.errors import Sam3Error
from sam3lib.labelling.atomic import write_atomic
from sam3lib.labelling.loading import LoadedImage, LoadFailure
from sam3lib.labelling.records import (
    Record,
    dataset_path,
    error_record,
    image_record,
    picture_path,
)
from sam3lib.labelling.settings import LabelSettings
from sam3lib.result import SegmentationResult
from sam3lib.segmenter import Segmenter

__all__ = ["BatchLabeller"]


class BatchLabeller:
    """Labels batches of loaded images with one Segmenter.

    Args:
        segmenter: the model (its translator turns non-English prompts into queries).
        settings: prompts and thresholds.
        out: the dataset directory, for overlays, instance maps and in-memory images.
    """

    def __init__(self, segmenter: Segmenter, settings: LabelSettings, out: Path) -> None:
        self.segmenter = segmenter
        self.settings = settings
        self.out = out

    def __call__(self, batch: Sequence[LoadedImage | LoadFailure]) -> list[Record]:
        """One record per entry of ``batch``, in its order."""
        loaded = [entry for entry in batch if isinstance(entry, LoadedImage)]
        records: dict[int, Record] = {}
        for entry in batch:
            if isinstance(entry, LoadFailure):
                records[entry.item.index] = error_record(entry.item, entry.reason)
        if loaded:
            embeddings = encode_resized(
                self.segmenter.backend,
                [image.resized for image in loaded],
                [image.original_size for image in loaded],
                [{"load": image.seconds} for image in loaded],
            )
            for image, embedding in zip(loaded, embeddings, strict=True):
                records[image.item.index] = self._label(image, embedding)
        return [records[entry.item.index] for entry in batch]

    def _label(self, image: LoadedImage, embedding: ImageEmbedding) -> Record:
        try:
            results = self.segmenter.segment(
                embedding, list(self.settings.prompts), **self.settings.segment_options()
            )
        except Sam3Error as error:  # e.g. a prompt the translator cannot read: record, go on
            return error_record(image.item, str(error))
        started = time.perf_counter()
        record = image_record(
            image.item,
            image.original_size,
            results,
            polygons=self.settings.needs_polygons,
            timings=dict(results[0].timings),
        )
        self._write_pictures(image, results)
        record["timings"]["export"] = round(time.perf_counter() - started, 6)
        return record

    def _write_pictures(self, image: LoadedImage, results: list[SegmentationResult]) -> None:
        name = picture_path(image.item.file_name)
        if self.settings.overlays and image.rgb is not None:
            from sam3lib.visualize import draw_overlay

            overlay = draw_overlay(image.rgb, results)
            write_atomic(self.out / "overlays" / name, _png_bytes(overlay))
        if self.settings.instance_maps:
            from sam3lib.app.downloads import label_map  # numpy and Pillow only

            labels = label_map(results)
            picture = Image.fromarray(
                labels.astype("uint8") if labels.max(initial=0) < 256 else labels
            )
            write_atomic(self.out / "instance_maps" / name, _png_bytes(picture))
        if self.settings.format == "yolo" and image.item.path is None and image.rgb is not None:
            # An in-memory image has no file for the dataset's images/ tree to link to.
            picture = Image.fromarray(image.rgb.permute(1, 2, 0).numpy())
            write_atomic(
                self.out / "images" / dataset_path(image.item.file_name), _png_bytes(picture)
            )


def _png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
