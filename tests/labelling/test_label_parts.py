"""The labelling pipeline's parts alone: shards, the weights digest, dataset paths, settings."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from sam3lib import InputError
from sam3lib.labelling.atomic import write_atomic
from sam3lib.labelling.manifest import weights_digest
from sam3lib.labelling.records import dataset_path
from sam3lib.labelling.settings import LabelSettings, RunOptions
from sam3lib.labelling.shards import ShardStore


def test_records_come_back_in_source_order_once_whatever_the_commit_order(tmp_path) -> None:
    store = ShardStore(tmp_path, shard_size=2)
    for index in (5, 1, 4, 0, 3):  # as Ray delivers them
        store.add({"index": index, "key": f"k{index}", "payload": "x" * index})
    store.commit()
    again = ShardStore(tmp_path, shard_size=2)  # a resumed run numbers its shards after these
    again.add({"index": 2, "key": "k2"})
    again.add({"index": 0, "key": "k0", "payload": "retried"})
    again.commit()
    records = list(again.records())
    assert [r["key"] for r in records] == ["k0", "k1", "k2", "k3", "k4", "k5"]
    assert records[0]["payload"] == "retried"  # the latest commit of a key wins
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"shard-{n:06d}.jsonl" for n in range(4)]


def test_failed_keys_can_be_left_out_of_the_done_ones(tmp_path) -> None:
    store = ShardStore(tmp_path)
    store.add({"index": 0, "key": "good", "height": 1, "instances": []})
    store.add({"index": 1, "key": "bad", "file_name": "bad", "error": "truncated"})
    store.commit()
    assert store.done_keys() == {"good", "bad"}
    assert store.done_keys(failed=False) == {"good"}


def test_a_damaged_shard_is_named(tmp_path) -> None:
    (tmp_path / "shard-000000.jsonl").write_text(json.dumps({"index": 0, "key": "a"})[:-3])
    with pytest.raises(InputError, match=r"shard-000000\.jsonl' is damaged"):
        ShardStore(tmp_path).done_keys()


def test_crash_leftovers_are_removed_and_never_read(tmp_path) -> None:
    write_atomic(tmp_path / "shard-000000.jsonl", json.dumps({"index": 0, "key": "a"}) + "\n")
    (tmp_path / ".shard-000001.jsonl.x1y2.part").write_text('{"index": 1, "key": "b"}\n')
    store = ShardStore(tmp_path)
    assert store.done_keys() == {"a"}
    assert [p.name for p in tmp_path.iterdir()] == ["shard-000000.jsonl"]


def test_weights_digest_is_the_files_sha256_and_follows_changes(tmp_path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"abc" * 1000)
    cache = tmp_path / "cache"
    first = weights_digest([weights], cache)
    assert first == hashlib.sha256(b"abc" * 1000).hexdigest()
    assert weights_digest([weights], cache) == first  # read back from the cache
    weights.write_bytes(b"abd" * 1000)
    os.utime(weights, ns=(1, 1))
    assert weights_digest([weights], cache) == hashlib.sha256(b"abd" * 1000).hexdigest()


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [("a/b.jpg", "a/b.jpg"), ("/data/x.png", "data/x.png"), ("../up/y.jpg", "__/up/y.jpg")],
)
def test_dataset_paths_stay_inside_the_dataset(file_name: str, expected: str) -> None:
    assert dataset_path(file_name).as_posix() == expected


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"prompts": ()}, "at least one text prompt"),
        ({"prompts": ("cat", " cat ")}, "each prompt must be given once"),
        ({"prompts": ("cat", "")}, "a prompt is empty"),
        ({"prompts": ("cat",), "format": "voc"}, "format: expected one of coco, yolo, jsonl"),
        ({"prompts": ("cat",), "refine": 9}, "refine: expected a level from 0"),
        ({"prompts": ("cat",), "max_pixels": 0}, "max_pixels: expected a positive integer"),
    ],
)
def test_bad_settings_name_their_argument(settings: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        LabelSettings(**settings)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"workers": -1}, "workers"),
        ({"shard_size": 1.5}, "shard_size"),
    ],
)
def test_bad_run_options_name_their_argument(options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        RunOptions(**options)
