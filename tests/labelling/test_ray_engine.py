"""--engine ray on a real local Ray instance (2 CPU actors): the same dataset as the local
engine, byte for byte."""

from __future__ import annotations

from pathlib import Path

from labelling.conftest import PROMPTS, THRESHOLD, write_bad_files, write_pictures
from sam3lib import label


def test_ray_engine_writes_what_the_local_engine_writes(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "pictures"
    write_pictures(source, 12, seed=3)
    bad = write_bad_files(source)
    common = {
        "model": tiny_checkpoint_dir,
        "threshold": THRESHOLD,
        "max_pixels": 100_000,
        "shard_size": 4,
        "progress": False,
    }
    local = label(source, PROMPTS, tmp_path / "local", **common)
    ray = label(source, PROMPTS, tmp_path / "ray", engine="ray", ray_actors=2, **common)
    assert (ray.images, ray.failed) == (local.images, local.failed) == (12, len(bad))
    assert ray.instances == local.instances
    for name in ("annotations.json", "errors.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
