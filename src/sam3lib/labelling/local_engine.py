"""The local engine: one process, images decoded by a thread pool ahead of the model.

source items → :func:`~.loading.prefetch_images` (``workers`` threads, ``prefetch`` images
ahead) → batches of ``batch_size`` → :class:`~.labeller.BatchLabeller` (one encode per batch,
all prompts decoded per image) → :class:`~.shards.ShardStore` (committed every
``shard_size`` images). Memory holds the prefetched images, one batch and one shard's
records: it does not grow with the dataset.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

from sam3lib.labelling.labeller import BatchLabeller
from sam3lib.labelling.loading import prefetch_images
from sam3lib.labelling.settings import RunOptions
from sam3lib.labelling.shards import ShardStore
from sam3lib.labelling.sources import SourceItem
from sam3lib.labelling.summary import RunTally

__all__ = ["run_local"]

T = TypeVar("T")


def run_local(
    items: Iterable[SourceItem],
    labeller: BatchLabeller,
    store: ShardStore,
    options: RunOptions,
    tally: RunTally,
    on_progress: Callable[[int], None],
) -> None:
    """Label every item into ``store``; ``on_progress(n)`` after each batch of n images."""
    settings = labeller.settings
    stream = prefetch_images(
        items,
        labeller.segmenter.backend.config.vision.image_size,
        workers=options.workers,
        prefetch=max(options.prefetch, options.batch_size),
        max_pixels=settings.max_pixels,
        keep_rgb=settings.keeps_pixels,
    )
    with torch_threads(options.torch_threads):
        for batch in _batches(stream, options.batch_size):
            records = labeller(batch)
            started = time.perf_counter()
            for record in records:
                store.add(record)
                tally.add(record)
            tally.stage_seconds["write"] += time.perf_counter() - started
            on_progress(len(batch))
        store.commit()


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's CPU thread count set to ``count`` inside, and put back after (None: unchanged).

    Threads started inside (the decoding pool) take the count too: torch keeps it per thread
    under OpenMP, new threads starting from the last value set.
    """
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _batches(values: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
