"""eager fp32 against amp bf16 at full size on CPU: ``sam3lib eval``'s agreement mode.

Not part of CI (minutes). Writes the published SAM 3 architecture with random weights (no
checkpoint can be downloaded here) and a few generated pictures, then runs

    sam3lib eval --reference eager:fp32 --candidate amp:bf16 --images PICTURES --prompt cat \\
        --prompt "red car" --model CHECKPOINT --threshold THRESHOLD --markdown ... --json ...

and prints the Markdown report. Random weights score every query near the same value, so the
threshold is set low enough that instances are kept and compared.

    python benchmarks/agreement_full_size.py --images 3 --out agreement_full_size
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.cli import main as sam3lib_main
from sam3lib.model import Sam3Config


def write_pictures(directory: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rows, cols = np.mgrid[:480, :640]
        centre = rng.integers(100, 380, size=2)
        disc = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < 80**2
        pixels = rng.integers(0, 90, (480, 640, 3)) + 150 * disc[..., None]
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(directory / f"{index}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=Path("agreement_full_size"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agreement_full_size_"))
    config = Sam3Config.sam3()
    checkpoint = write_checkpoint(config, random_state_dict(config), work / "sam3-random")
    write_pictures(work / "pictures", args.images)
    args.out.mkdir(parents=True, exist_ok=True)
    status = sam3lib_main(
        [
            "eval",
            "--reference",
            "eager:fp32",
            "--candidate",
            "amp:bf16",
            "--images",
            str(work / "pictures"),
            "--prompt",
            "cat",
            "--prompt",
            "red car",
            "--model",
            str(checkpoint),
            "--threshold",
            str(args.threshold),
            "--json",
            str(args.out / "agreement.json"),
            "--markdown",
            str(args.out / "agreement.md"),
        ]
    )
    print((args.out / "agreement.md").read_text())
    return status


if __name__ == "__main__":
    raise SystemExit(main())
