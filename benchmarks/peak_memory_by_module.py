"""Where a fresh process's peak memory comes from: RSS by model part for load + one result.

Loads a checkpoint into a Segmenter (eager fp32, CPU), segments one 1008² picture with one
prompt, and prints for each model part the process's peak RSS while it ran (the kernel's peak
counter is reset before each part) and its RSS after, split into anonymous memory (tensors,
the heap) and file-backed memory (the memory-mapped weights, libraries). Linux only.

    python benchmarks/peak_memory_by_module.py --model DIR   # a hub-layout checkpoint
    python benchmarks/peak_memory_by_module.py               # writes full-size random weights first
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from sam3lib import Segmenter
from sam3lib.backends.eager import TorchBackend
from sam3lib.bench.isolated import synthetic_image
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config

GIB = 2**30


def status_bytes(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def watch(parts: dict[str, nn.Module]) -> list[tuple[str, int, int, int, int]]:
    rows: list[tuple[str, int, int, int, int]] = []

    def after(name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            rows.append(
                (name, *(status_bytes(k) for k in ("VmHWM", "VmRSS", "RssAnon", "RssFile")))
            )

        return hook

    for name, module in parts.items():
        module.register_forward_pre_hook(lambda *_: reset_peak())
        module.register_forward_hook(after(name))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="hub-layout checkpoint directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = args.model
        if checkpoint is None:
            config = Sam3Config.sam3()
            checkpoint = write_checkpoint(config, random_state_dict(config), Path(scratch))
        reset_peak()
        segmenter = Segmenter.from_pretrained(checkpoint)
        print(f"loaded: peak {status_bytes('VmHWM') / GIB:.3f} GiB")
        backend = segmenter.backend
        assert isinstance(backend, TorchBackend)
        model = backend.model
        vision = model.vision_encoder
        rows = watch(
            {
                "ViT (32 layers)": vision.backbone,
                "FPN neck": vision.neck,
                "text encoder": model.text_encoder,
                "geometry encoder": model.geometry_encoder,
                "fusion encoder": model.detr_encoder,
                "DETR decoder": model.detr_decoder,
                "mask head": model.mask_decoder,
            }
        )
        segmenter.segment(synthetic_image(1008, 1008), "red car")
        tail = status_bytes("VmHWM")  # since the mask head began: it and post-processing
        print(f"{'part':18s} {'peak':>9s} {'after':>9s} {'anon':>9s} {'file':>9s}  (GiB)")
        for name, peak, rss, anon, file in rows:
            print(
                f"{name:18s} {peak / GIB:9.3f} {rss / GIB:9.3f} {anon / GIB:9.3f} {file / GIB:9.3f}"
            )
        print(f"mask head and post-processing: peak {tail / GIB:.3f} GiB")
        print(f"highest: {max(tail, *(row[1] for row in rows)) / GIB:.3f} GiB")


if __name__ == "__main__":
    main()
