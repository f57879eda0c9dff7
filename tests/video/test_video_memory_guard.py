"""Streaming tracking keeps memory bounded: a short guard.

``benchmarks/video_memory.py`` is the long version (300 frames, the issue's 5 % bound); this
runs it for 40 frames per mode, text and click, each in its own process (so the peak resident
set size is that run's alone), both at once on one thread each. Two checks:

* deterministic: no object's memory bank ever holds more frames than the trackers keep,
  whatever the stream's length, and the window is reached (else the check proves nothing);
* the peak RSS after frame 40 within 2 % of the peak at frame 20.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sam3lib.video.click_tracking import MEMORY_REACH as CLICK_REACH
from sam3lib.video.memory_bank import MAX_CONDITIONING_FRAMES
from sam3lib.video.text_tracking import MEMORY_REACH as TEXT_REACH

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "video_memory.py"
FRAMES, EVERY = 40, 20
# Measured on a busy 2-core machine (2-3 objects, 180x320 or 360x640 frames), the peak grew
# 0.1-0.5 % from frame 20 to 60 (text 1.0039-1.0053, click 1.0014-1.0034, 4 runs each): the
# banks filling up (text by frame ~20, click by frame 34), 1-2 MiB of ~355. Keeping each
# frame's encoded features (0.5 MiB a frame) gave 1.058, keeping only its tracker features
# (0.1 MiB) 1.012: the bound catches the first with a 4x margin over the noise; the bank
# check is the precise guard for what the trackers keep. Over 40 frames (20 after the base)
# the first leak adds 10 MiB, a ratio of ~1.028: still caught.
MAX_PEAK_RATIO = 1.02


def start_run(mode: str, report: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, str(BENCHMARK), "--mode", mode, "--frames", str(FRAMES),
        "--every", str(EVERY), "--objects", "2", "--threads", "1", "--json", str(report),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux")
def test_a_stream_keeps_its_memory_banks_and_peak_rss_bounded(tmp_path: Path) -> None:
    runs = {mode: start_run(mode, tmp_path / f"{mode}.json") for mode in ("text", "click")}
    reports: dict[str, dict[str, Any]] = {}
    for mode, run in runs.items():
        output, _ = run.communicate(timeout=120)
        assert run.returncode in (0, 1), f"{mode} run failed:\n{output}"
        reports[mode] = json.loads((tmp_path / f"{mode}.json").read_text())

    # Tracked frames within 16 of an anchor (17 frames a side), and with memory selection the
    # 15 nearest beyond that which pass it: 32 a side at most, whatever the stream's length.
    side = (TEXT_REACH + 1) + (TEXT_REACH - 1)
    text = reports["text"]["largest_bank_ever"]
    # Text: one side (before the current frame), the latest 4 conditioning frames (re-
    # conditioning every 4th frame puts at most 4 within the last 16); window full by frame 17.
    assert text["conditioning"] <= MAX_CONDITIONING_FRAMES
    # re-conditioned frames are conditioning frames: the window holds both kinds
    assert text["tracked"] + text["conditioning"] >= TEXT_REACH
    assert text["tracked"] <= side
    click = reports["click"]["largest_bank_ever"]
    # Click: one prompted frame (0); a stream only goes forward, so only the window before
    # the current frame (a file also keeps the one after a prompted frame, for a pass back
    # from it). A stream keeps only the current logits.
    assert click["conditioning"] == 1
    assert CLICK_REACH <= click["tracked"] <= side
    assert click["logits"] == 1

    for mode, report in reports.items():
        assert report["frames"] == FRAMES
        assert report["rows"][-1]["objects_tracked"] == 2
        curve = ", ".join(f"{row['frame']}: {row['peak_rss_mib']} MiB" for row in report["rows"])
        assert report["peak_ratio"] <= MAX_PEAK_RATIO, f"{mode} peak RSS grew: {curve}"
