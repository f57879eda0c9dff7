"""Find, or make once, the exported graphs a graph-running backend needs for a checkpoint.

A checkpoint directory written by ``sam3lib export`` is used as it is. For a weights checkpoint
the graphs are exported into a cache directory named after the weights' hash, the build
options and the input size (a checkpoint's ``config.json`` may give another than 1008), so
that the (slow) export happens once per weights and sizes. The export is written to a
temporary directory and renamed into place, so a crash or a concurrent process never leaves a
half-written entry that looks complete.

An export's input size is fixed, so a backend's ``resolution`` option only confirms it: another
size is refused with the ``sam3lib export --resolution`` command that makes graphs for it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from sam3lib.backends.base import check_flag
from sam3lib.checkpoint.loader import checkpoint_config, load_resolved_model
from sam3lib.checkpoint.resolve import ResolvedCheckpoint
from sam3lib.errors import CheckpointError, InputError
from sam3lib.export.graphs import GraphOptions
from sam3lib.export.manifest import ExportManifest
from sam3lib.export.onnx_export import check_graph_options, export_onnx
from sam3lib.export.weights import weights_sha256
from sam3lib.model.config import Sam3Config
from sam3lib.user_cache import default_cache_root
from sam3lib.version import __version__

_SIZES = tuple(f.name for f in fields(GraphOptions))  # batch, max_prompts, ... max_points
#: Backend options that choose or size the export a graph-running backend runs.
EXPORT_OPTIONS = ("onnx_dir", "cache_dir", *_SIZES, "progress", "resolution")


def prepare_export(
    checkpoint: ResolvedCheckpoint,
    *,
    onnx_dir: str | os.PathLike[str] | None = None,
    options: GraphOptions | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    resolution: int | None = None,
) -> tuple[Path, ExportManifest]:
    """The export directory to run for ``checkpoint``, and its manifest.

    In order: ``onnx_dir`` if given; the checkpoint directory if it is an export; else the
    graphs exported from the checkpoint's weights into ``cache_dir`` (default:
    ``default_cache_root() / "onnx"``), reused when already there.

    ``resolution``: the input size the caller expects; it must be the export's (for weights:
    the checkpoint's own), since graphs keep the size they were exported at.

    Raises:
        InputError: ``resolution`` is not the export's input size (the message gives the
            ``sam3lib export --resolution`` command for it), or not one the model runs.
        CheckpointError: an export directory that is incomplete or unreadable, or weights
            that cannot be loaded.
        BackendUnavailableError: exporting is needed and the onnx extra is not installed.

    Example:
        >>> resolved = resolve_checkpoint("facebook/sam3")  # doctest: +SKIP
        >>> directory, manifest = prepare_export(resolved)  # doctest: +SKIP
    """
    existing = onnx_dir if onnx_dir is not None else checkpoint.export_dir
    if existing is not None:
        manifest = ExportManifest.load(existing)
        _check_sizes(options, manifest, existing)
        _check_resolution(resolution, manifest.config, f"{existing} was exported")
        return Path(existing), manifest
    sizes = check_graph_options(options or GraphOptions())
    config = checkpoint_config(checkpoint)
    _check_resolution(resolution, config, f"{checkpoint.source} is exported")
    model = load_resolved_model(checkpoint)
    digest = weights_sha256(model)
    size = model.config.vision.image_size
    root = Path(cache_dir) if cache_dir is not None else default_cache_root() / "onnx"
    name = (
        f"{digest[:16]}-b{sizes.batch}-p{sizes.max_prompts}-m{sizes.max_boxes}"
        f"-o{sizes.max_objects}-n{sizes.max_points}-r{size}-v{__version__}"
    )
    target = root / name
    if target.is_dir():
        try:
            manifest = ExportManifest.load(target)
        except CheckpointError:
            shutil.rmtree(target, ignore_errors=True)  # damaged by hand: export it again
        else:
            if manifest.weights_sha256 == digest and manifest.image_size == size:
                return target, manifest
            shutil.rmtree(target, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        export_onnx(
            model, staging, sizes, tokenizer_files=checkpoint.tokenizer_files, progress=progress
        )
        try:
            staging.rename(target)
        except OSError:
            if not (target / "manifest.json").is_file():  # not a concurrent exporter's win
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, ExportManifest.load(target)


def prepare_export_for_backend(
    checkpoint: ResolvedCheckpoint, options: Mapping[str, Any]
) -> tuple[Path, ExportManifest]:
    """:func:`prepare_export` driven by a backend's :data:`EXPORT_OPTIONS` (others ignored).

    Raises:
        InputError: ``progress`` is not a bool, a size is not a positive integer, or
            ``resolution`` is not the export's input size.
    """
    sizes = {k: options[k] for k in _SIZES if k in options}
    return prepare_export(
        checkpoint,
        onnx_dir=options.get("onnx_dir"),
        options=GraphOptions(**sizes) if sizes else None,
        cache_dir=options.get("cache_dir"),
        progress=check_flag("progress", options.get("progress", True)),
        resolution=options.get("resolution"),
    )


def _check_resolution(resolution: int | None, config: Sam3Config, exported: str) -> None:
    """``resolution`` must be ``config``'s input size (the one the graphs are, or will be,
    exported at): other sizes need graphs of their own, made by ``sam3lib export``."""
    if resolution is None:
        return
    wanted = config.at_resolution(resolution).vision.image_size  # a size the model runs
    size = config.vision.image_size
    if wanted != size:
        raise InputError(
            f"resolution: {exported} at {size} px, and exported graphs keep the input size "
            f"they were exported at; for {wanted} px export them at that size with "
            f"`sam3lib export CHECKPOINT OUT_DIR --resolution {wanted}` and load OUT_DIR "
            "(or use backend='eager' or 'amp', which run any size)"
        )


def _check_sizes(
    options: GraphOptions | None, manifest: ExportManifest, directory: str | os.PathLike[str]
) -> None:
    """Sizes asked for must be those an existing export was built with (they are baked in);
    the interactive sizes count only where the export has the interactive graphs."""
    if options is None:
        return
    built = GraphOptions(
        manifest.batch,
        manifest.max_prompts,
        manifest.max_boxes,
        manifest.max_objects or options.max_objects,  # None: no interactive graphs
        manifest.max_points or options.max_points,
    )
    if options != built:
        raise InputError(
            f"{directory} was exported with {built}; sizes cannot change after export "
            "(leave them out, or export again with `sam3lib export`)"
        )
