"""``sam3lib.label``: a folder of images and some prompts in, a dataset out — resumable.

The run's state lives in ``OUT/run/``: the manifest (:mod:`.manifest`) and the committed
shards (:mod:`.shards`). Running the same call again skips every image already committed and
assembles the dataset again (:mod:`.assemble`); after a crash, that is how it resumes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from sam3lib.backends.base import Precision
from sam3lib.checkpoint.loader import checkpoint_config
from sam3lib.checkpoint.resolve import ResolvedCheckpoint, resolve_checkpoint
from sam3lib.errors import InputError
from sam3lib.labelling.assemble import assemble
from sam3lib.labelling.loading import DEFAULT_MAX_PIXELS
from sam3lib.labelling.manifest import RunManifest, open_manifest, weights_digest
from sam3lib.labelling.settings import (
    DatasetFormat,
    LabelSettings,
    MaskEncoding,
    ModelSpec,
    RunOptions,
)
from sam3lib.labelling.shards import ShardStore
from sam3lib.labelling.sources import SourceItem, SourceLike, describe_source, iter_source
from sam3lib.labelling.summary import LabelSummary, RunTally
from sam3lib.labelling.writers.yolo import yolo_collisions
from sam3lib.translation import translate
from sam3lib.translation.query import english_queries

__all__ = ["Engine", "label"]

Engine = Literal["local", "ray"]
_RUN_DIRECTORY = "run"


def label(
    source: SourceLike,
    prompts: str | Sequence[str],
    out: str | os.PathLike[str],
    *,
    model: str | os.PathLike[str] = "facebook/sam3",
    format: DatasetFormat = "coco",
    mask_encoding: MaskEncoding = "rle",
    engine: Engine = "local",
    backend: str | None = None,
    precision: Precision = "fp32",
    device: str = "cpu",
    resolution: int | None = None,
    threshold: float = 0.5,
    mask_threshold: float = 0.5,
    top_k: int | None = None,
    nms_iou: float | None = None,
    refine: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    overlays: bool = False,
    instance_maps: bool = False,
    batch_size: int = 1,
    workers: int = 2,
    shard_size: int = 64,
    torch_threads: int | None = None,
    retry_failed: bool = False,
    progress: bool | None = None,
    ray_address: str | None = None,
    ray_actors: int = 2,
    ray_gpus_per_actor: float = 0.0,
) -> LabelSummary:
    """Label every image of ``source`` with ``prompts`` into a dataset in ``out``.

    Results are committed in shards as they come; calling again with the same arguments
    skips what is done (after a crash too) and rewrites the dataset files. A bad image never
    stops the run: it is listed in ``out/errors.jsonl`` with the reason.

    Args:
        source: a directory (searched recursively), a glob (``"photos/**/*.jpg"``), a text
            file of paths (relative to the file), an image file, or an iterable of paths and
            images.
        prompts: the text prompts; each is a category (ids from 1 in this order). Prompts
            that are not English are translated with :func:`sam3lib.translate` (Chinese); the
            dataset's categories keep the prompts as written and record the English query.
        out: the dataset directory (created; reused to resume).
        model: hub repo id, checkpoint directory, weights file or exported-graph directory.
        format: ``"coco"`` → ``annotations.json``; ``"yolo"`` → ``labels/``, ``images/``,
            ``data.yaml``; ``"jsonl"`` → ``results.jsonl`` (everything, timings included).
        mask_encoding: COCO masks as ``"rle"`` or ``"polygons"``.
        engine: ``"local"`` (this process) or ``"ray"`` (Ray Data, extra ``ray``).
        backend, precision, device, resolution: as for :meth:`Segmenter.from_pretrained`.
        threshold, mask_threshold, top_k, nms_iou, refine: as for :meth:`Segmenter.segment`.
        max_pixels: larger images are recorded as failed rather than decoded.
        overlays: also write ``overlays/<image>.png``.
        instance_maps: also write ``instance_maps/<image>.png`` (pixel = instance number).
        batch_size: images encoded together (worth it on a GPU; 1 on a CPU).
        workers: threads decoding images ahead of the model.
        shard_size: images per commit: at most this many are redone after a crash.
        torch_threads: torch's CPU threads during the run, restored after (None: as they
            are); 1 helps where decoding large photos dominates on few cores.
        retry_failed: label again the images earlier runs recorded as failed.
        progress: show a progress bar; by default only on a terminal.
        ray_address: a Ray cluster to join (``"auto"``, ``"ray://head:10001"``); by default a
            local Ray instance is started.
        ray_actors: Segmenter actors on Ray (one model each).
        ray_gpus_per_actor: GPUs per actor (1: one actor per GPU; 0: CPU actors).

    Returns:
        A :class:`~sam3lib.labelling.LabelSummary`; its ``exit_status`` is 3 when some images
        failed.

    Raises:
        InputError: a bad argument or source (the message names it).
        RunMismatchError: ``out`` holds a run made with other settings.
        CheckpointError: the model cannot be loaded.

    Example:
        >>> summary = sam3lib.label("photos/", ["car", "person"], "dataset/")  # doctest: +SKIP
        >>> print(summary)  # doctest: +SKIP
    """
    started = time.perf_counter()
    settings = LabelSettings(
        prompts=(prompts,) if isinstance(prompts, str) else tuple(prompts),
        format=format,
        mask_encoding=mask_encoding,
        threshold=threshold,
        mask_threshold=mask_threshold,
        top_k=top_k,
        nms_iou=nms_iou,
        refine=refine,
        max_pixels=max_pixels,
        overlays=overlays,
        instance_maps=instance_maps,
    )
    options = RunOptions(
        batch_size=batch_size,
        workers=workers,
        shard_size=shard_size,
        torch_threads=torch_threads,
        retry_failed=retry_failed,
        progress=progress,
    )
    spec = ModelSpec(os.fspath(model), backend, precision, device, resolution)
    if engine not in ("local", "ray"):
        raise InputError(f"engine: expected 'local' or 'ray', got {engine!r}")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"out: '{out_dir}' is a file; give a directory for the dataset")
    # A missing source is refused before anything is written; a dataset written inside the
    # source directory is never read as part of it.
    items = iter_source(source, exclude=out_dir)
    # Prompts the translator cannot read (or a missing 'zh' extra) stop the run before it
    # starts, rather than failing every image.
    english_queries(settings.prompts, translate)
    ray_options = None
    if engine == "ray":
        from sam3lib.labelling.ray_engine import RayOptions

        ray_options = RayOptions(ray_address, ray_actors, ray_gpus_per_actor, device=device)
    listed = list(items) if _sized(source) else None  # known length: a total and an ETA
    if listed is not None and settings.format == "yolo":
        _check_yolo_names(listed)
    resolved = resolve_checkpoint(spec.source)
    if spec.resolution is not None:  # a size the model cannot run stops the run here
        checkpoint_config(resolved, spec.resolution)
    with _run_lock(out_dir):
        store = _open_run(out_dir, settings, spec, resolved, describe_source(source), options)
        done = store.done_keys(failed=not options.retry_failed)
        work, total, done_before = _pending(listed, items, done)
        tally = RunTally()
        with _progress_bar(options.progress, total, done_before) as advance:
            if ray_options is None:
                _run_local(work, spec, settings, options, out_dir, store, tally, advance)
            else:
                from sam3lib.labelling.ray_engine import run_ray

                run_ray(work, spec, settings, options, ray_options, out_dir, store, tally, advance)
        # The dataset follows the source as it is now (files added, renamed or removed since
        # an earlier run): what a fresh run would write.
        order = None if listed is None else {item.key: item.index for item in listed}
        assembled = assemble(out_dir, store, settings, order)
    return LabelSummary(
        out=out_dir,
        files=tuple(assembled.files),
        images=assembled.images,
        failed=assembled.failed,
        instances=assembled.instances,
        processed=tally.processed,
        seconds=time.perf_counter() - started,
        stage_seconds=dict(tally.stage_seconds),
    )


@contextmanager
def _run_lock(out: Path) -> Iterator[None]:
    """One run at a time per dataset directory: two would number their shards alike."""
    lock_path = out / _RUN_DIRECTORY / "lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise InputError(
            f"out: another run is writing '{out}'; wait for it to finish, or use another --out"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _check_yolo_names(items: list[SourceItem]) -> None:
    collisions = yolo_collisions(item.file_name for item in items)
    if collisions:
        shown = "; ".join(collisions[:5]) + ("; ..." if len(collisions) > 5 else "")
        raise InputError(
            f"source: {len(collisions)} group(s) of images would share one YOLO label file "
            f"(YOLO trainers find labels by file name without extension): {shown}. Rename "
            "them, or use --format coco"
        )


def _open_run(
    out: Path,
    settings: LabelSettings,
    spec: ModelSpec,
    resolved: ResolvedCheckpoint,
    source: str,
    options: RunOptions,
) -> ShardStore:
    """Check or write the run's manifest and open its shards."""
    manifest = RunManifest(settings, spec, weights_digest(_weight_files(resolved)), source)
    run_dir = out / _RUN_DIRECTORY
    open_manifest(run_dir / "manifest.json", manifest)
    return ShardStore(
        run_dir / "shards", shard_size=options.shard_size, commit_seconds=options.commit_seconds
    )


def _sized(source: SourceLike) -> bool:
    """Paths (listed cheaply) and sequences have a length known before the run: the progress
    bar then shows a total and an ETA. Other iterables are streamed."""
    return isinstance(source, (str, os.PathLike, Sequence))


def _pending(
    listed: list[SourceItem] | None, items: Iterator[SourceItem], done: set[str]
) -> tuple[list[SourceItem] | Iterator[SourceItem], int | None, int]:
    """The items not done yet, the number of items (None: unknown) and how many are done."""
    if listed is None:
        return (item for item in items if item.key not in done), None, 0
    work = [item for item in listed if item.key not in done]
    return work, len(listed), len(listed) - len(work)


def _run_local(
    items: Iterable[SourceItem],
    spec: ModelSpec,
    settings: LabelSettings,
    options: RunOptions,
    out: Path,
    store: ShardStore,
    tally: RunTally,
    advance: Callable[[int], None],
) -> None:
    if isinstance(items, list) and not items:
        return  # all done by earlier runs: no model to load, only the files to assemble
    from sam3lib.labelling.labeller import BatchLabeller
    from sam3lib.labelling.local_engine import run_local

    labeller = BatchLabeller(spec.load(), settings, out)
    run_local(items, labeller, store, options, tally, advance)


def _weight_files(resolved: ResolvedCheckpoint) -> list[Path]:
    if resolved.weights_path is not None:
        return [resolved.weights_path]
    assert resolved.export_dir is not None
    # The graphs and their manifest; not the engine caches a backend may add beside them.
    graphs = (path for path in resolved.export_dir.iterdir() if path.suffix in (".onnx", ".data"))
    return [resolved.export_dir / "manifest.json", *sorted(graphs)]


@contextmanager
def _progress_bar(
    enabled: bool | None, total: int | None, initial: int
) -> Iterator[Callable[[int], None]]:
    """A bar over all images (those done by earlier runs count as done), with images/s and
    an ETA; ``enabled=None``: shown on a terminal only (tqdm's ``disable=None``)."""
    bar = tqdm(
        total=total,
        initial=initial,
        desc="labelling",
        unit="image",
        disable=None if enabled is None else not enabled,
        smoothing=0.05,
    )
    with bar:
        yield bar.update
