"""The Ray engine: the same labeller on a Ray Data actor pool, locally or on a cluster.

The driver turns the pending image paths into a dataset (``ray.data.from_items``) and maps it
with :class:`RayLabeller` actors — ``__init__`` loads the Segmenter once per actor,
``__call__`` decodes and labels one batch with the local engine's
:class:`~.labeller.BatchLabeller` and returns the records as JSON text. The records stream
back to the driver, which commits them to the same shard store as the local engine; so a
killed Ray run resumes like a local one, and the dataset files are assembled the same way.

Images are read by the actors, from the paths the driver saw: on a cluster, the source must be
on storage every node mounts at the same path. The dataset files are written by the driver;
overlays and instance maps (when asked for) by the actors, so ``--out`` must then be shared
too. Each actor decodes its batch in two threads; ``workers`` and ``torch_threads`` apply to
the local engine only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.labelling.labeller import BatchLabeller
from sam3lib.labelling.loading import load_image
from sam3lib.labelling.settings import LabelSettings, ModelSpec, RunOptions
from sam3lib.labelling.shards import ShardStore
from sam3lib.labelling.sources import SourceItem
from sam3lib.labelling.summary import RunTally

__all__ = ["RayLabeller", "RayOptions", "run_ray"]

_EXTRA_HINT = "engine='ray' needs the 'ray' extra: pip install 'sam3lib[ray]'"


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray engine runs.

    Attributes:
        address: a Ray cluster to join (``"auto"``, ``"ray://head:10001"``); None starts a
            local Ray instance for the run and shuts it down after.
        actors: Segmenter actors (one model each).
        gpus_per_actor: GPUs Ray gives each actor: 0 runs the model on the CPU, 1 is one
            actor per GPU, 0.5 puts two actors on a GPU.
        device: the run's device (``"cuda"`` needs ``gpus_per_actor`` > 0).
    """

    address: str | None = None
    actors: int = 2
    gpus_per_actor: float = 0.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.device.startswith("cuda") and not self.gpus_per_actor > 0:
            raise InputError(
                "ray_gpus_per_actor: the model should run on the GPU (device 'cuda') but the "
                "actors get no GPU from Ray; give e.g. --ray-gpus-per-actor 1"
            )
        if not isinstance(self.actors, int) or isinstance(self.actors, bool) or self.actors < 1:
            raise InputError(
                f"ray_actors: expected a positive number of actors, got {self.actors!r}"
            )
        if not self.gpus_per_actor >= 0:
            raise InputError(f"ray_gpus_per_actor: expected 0 or more, got {self.gpus_per_actor!r}")


class RayLabeller:
    """A Ray Data actor: one Segmenter, batches of image paths in, records (JSON text) out.

    Args:
        model: :class:`~.settings.ModelSpec` fields.
        settings: :class:`~.settings.LabelSettings` fields.
        out: the dataset directory (for overlays and instance maps, on shared storage).
        gpu: whether Ray gave this actor a GPU (then the model runs on it).
    """

    def __init__(self, model: dict[str, Any], settings: dict[str, Any], out: str, gpu: bool):
        spec = ModelSpec(**model)
        self.settings = LabelSettings(**{**settings, "prompts": tuple(settings["prompts"])})
        segmenter = spec.load(device="cuda" if gpu else None)
        self.labeller = BatchLabeller(segmenter, self.settings, Path(out))
        self.image_size = segmenter.backend.config.vision.image_size
        # Decode the batch's images in threads while others wait on the GIL-free decoders.
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sam3lib-load")

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        items = [
            SourceItem(int(index), str(key), str(name), Path(path))
            for index, key, name, path in zip(
                batch["index"], batch["key"], batch["file_name"], batch["path"], strict=True
            )
        ]
        loaded = list(
            self.pool.map(
                lambda item: load_image(
                    item,
                    self.image_size,
                    max_pixels=self.settings.max_pixels,
                    keep_rgb=self.settings.keeps_pixels,
                ),
                items,
            )
        )
        records = self.labeller(loaded)
        return {"record": [json.dumps(record, ensure_ascii=False) for record in records]}


def run_ray(
    items: Iterable[SourceItem],
    spec: ModelSpec,
    settings: LabelSettings,
    options: RunOptions,
    ray_options: RayOptions,
    out: Path,
    store: ShardStore,
    tally: RunTally,
    advance: Callable[[int], None],
) -> None:
    """Label ``items`` on Ray into ``store`` (see the module docstring)."""
    try:
        import ray
    except ModuleNotFoundError as error:
        raise BackendUnavailableError(f"{_EXTRA_HINT} ({error})") from None
    rows = [_row(item) for item in items]
    if not rows:
        return
    started_here = not ray.is_initialized()
    if started_here:
        _start_ray(ray, ray_options.address, ray_options.actors)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours counts images; Ray's would interleave
        dataset = ray.data.from_items(rows).map_batches(
            RayLabeller,
            fn_constructor_kwargs={
                "model": asdict(spec),
                "settings": settings.to_json(),
                "out": str(out.resolve()),
                "gpu": ray_options.gpus_per_actor > 0,
            },
            batch_size=options.batch_size,
            compute=ray.data.ActorPoolStrategy(size=ray_options.actors),
            num_cpus=1,
            num_gpus=ray_options.gpus_per_actor,
        )
        for row in dataset.iter_rows():
            record = json.loads(row["record"])
            store.add(record)
            tally.add(record)
            advance(1)
        store.commit()
    finally:
        if started_here:
            ray.shutdown()


def _row(item: SourceItem) -> dict[str, Any]:
    if item.path is None:
        raise InputError(
            "source: engine='ray' reads images from files on every node; give paths, not "
            "in-memory images (or use engine='local')"
        )
    return {
        "index": item.index,
        "key": item.key,
        "file_name": item.file_name,
        "path": str(item.path.resolve()),
    }


def _start_ray(ray: Any, address: str | None, actors: int) -> None:
    if address is not None:
        ray.init(address=address, log_to_driver=False)
        return
    # A local instance: one logical CPU per actor plus one for Ray Data's own tasks, however
    # few cores the machine has (each actor's torch then shares the real cores).
    ray.init(
        num_cpus=max(actors + 1, os.cpu_count() or 1),
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
