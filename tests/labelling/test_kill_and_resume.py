"""kill -9 at three points of a real ``sam3lib label`` process, then a re-run: the dataset is
byte-identical to an uninterrupted run's, every image committed once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from labelling.conftest import PROMPTS, THRESHOLD, write_bad_files, write_pictures
from sam3lib import label
from sam3lib.labelling.atomic import CRASH_VARIABLE

SHARD_SIZE = 2


def _command(listing: Path, out: Path, model: Path) -> list[str]:
    prompts = [argument for prompt in PROMPTS for argument in ("--prompt", prompt)]
    return [
        sys.executable, "-m", "sam3lib", "label", str(listing), *prompts,
        "--out", str(out), "--model", str(model), "--threshold", str(THRESHOLD),
        "--shard-size", str(SHARD_SIZE), "--workers", "1", "--no-progress",
    ]  # fmt: skip


def _shards(out: Path) -> list[Path]:
    return sorted((out / "run" / "shards").glob("shard-*.jsonl"))


def test_killed_three_times_then_resumed_equals_an_uninterrupted_run(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    write_pictures(images, 11)
    write_bad_files(images / "bad")
    names = [*sorted(path.name for path in images.glob("p*")), "bad/zero.png"]
    listing = images / "list.txt"
    listing.write_text("\n".join(names) + "\n")
    baseline = label(
        listing, PROMPTS, tmp_path / "baseline", model=tiny_checkpoint_dir, threshold=THRESHOLD,
        shard_size=SHARD_SIZE, progress=False,
    )  # fmt: skip
    assert (baseline.images, baseline.failed) == (11, 1)
    out = tmp_path / "out"
    command = _command(listing, out, tiny_checkpoint_dir)

    # 1. Mid-shard: p007 is a named pipe, so reading it blocks; p000-p006 are labelled, three
    #    shards committed and p006 waits in the buffer when the process is killed.
    blocked = images / "p007.png"
    kept = tmp_path / "p007.png"
    shutil.move(blocked, kept)
    os.mkfifo(blocked)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(_shards(out)) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # p006 into the buffer
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, stderr.decode()
    assert len(_shards(out)) == 3
    blocked.unlink()
    shutil.move(kept, blocked)

    # 2. Mid-write: killed with half of the fifth shard on disk, in its temporary file.
    crashed = subprocess.run(command, env={**os.environ, CRASH_VARIABLE: "shard-000004.jsonl"})
    assert crashed.returncode == -signal.SIGKILL
    assert list((out / "run" / "shards").glob(".shard-000004.jsonl.*.part"))
    assert len(_shards(out)) == 4

    # 3. During the final assembly: killed writing annotations.json.
    crashed = subprocess.run(command, env={**os.environ, CRASH_VARIABLE: "annotations.json"})
    assert crashed.returncode == -signal.SIGKILL
    assert not (out / "annotations.json").exists()
    assert list(out.glob(".annotations.json.*.part"))

    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 3, finished.stderr  # one bad file: status 3
    assert "FAILED: 1 image(s)" in finished.stdout
    for name in ("annotations.json", "errors.jsonl"):
        assert (out / name).read_bytes() == (tmp_path / "baseline" / name).read_bytes()
    committed = [
        json.loads(line)["key"] for shard in _shards(out) for line in shard.read_text().splitlines()
    ]
    assert sorted(committed) == sorted(names)  # every image once: nothing lost, nothing twice
    assert not list(out.rglob(".*.part"))
