"""Load time and peak memory, each implementation in a fresh process.

Peaks of two models in one process would mix, and a process that already imported torch and
touched the weights would load faster than a user's would. So the parent writes nothing but a
checkpoint directory, warms the page cache by reading it, and starts
``python -m sam3lib.bench.isolated``, which imports, loads, segments once and prints one JSON
line: seconds to start and import (from the launch), to load (``from_pretrained`` until
ready), to the first result, and the peak memory (process peak RSS;
``torch.cuda.max_memory_allocated`` on a GPU).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sam3lib.errors import Sam3Error

IMPLEMENTATIONS = ("sam3lib", "transformers")


def synthetic_image(height: int, width: int, seed: int = 0) -> Any:
    """An (H, W, 3) uint8 picture: smooth colour ramps plus noise (deterministic)."""
    import numpy as np

    rows, cols = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    ramps = np.stack(
        [rows * 255 // max(height, 1), cols * 255 // max(width, 1), (rows + cols) % 256]
    )
    image = ramps.transpose(1, 2, 0) + rng.integers(0, 40, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    Linux's ``VmHWM`` rather than ``getrusage``'s ``ru_maxrss``: a child started by fork +
    exec inherits its parent's ``ru_maxrss``, so the benchmark's own peak would show up as
    the child's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    # Elsewhere ru_maxrss is the fallback (bytes on macOS, KiB on the BSDs).
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def warm_page_cache(directory: Path) -> None:
    """Read every file of ``directory`` once, so that loading measures a warm cache."""
    for path in sorted(directory.iterdir()):
        if path.is_file():
            with path.open("rb") as file:
                while file.read(1 << 24):
                    pass


def measure_in_subprocess(
    implementation: str,
    checkpoint: Path,
    *,
    backend: str,
    precision: str,
    device: str,
    image_hw: tuple[int, int],
    prompt: str,
    threshold: float,
    backend_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run :func:`main` in a new interpreter and return what it measured.

    ``backend_options`` (JSON-able) go to our backend; the first result then includes what
    they cost on first use (compiling, for ``compile=True``).

    Raises:
        Sam3Error: the subprocess failed (its stderr is in the message).
    """
    warm_page_cache(checkpoint)
    launched_at = time.time()
    command = [
        sys.executable,
        "-m",
        "sam3lib.bench.isolated",
        implementation,
        str(checkpoint),
        f"--backend={backend}",
        f"--backend-options={json.dumps(dict(backend_options or {}))}",
        f"--precision={precision}",
        f"--device={device}",
        f"--image-hw={image_hw[0]}x{image_hw[1]}",
        f"--prompt={prompt}",
        f"--threshold={threshold!r}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Sam3Error(f"{implementation} measurement failed:\n{done.stderr[-4000:]}")
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # From the launch: the interpreter's start and every import, as a user's script pays them.
    measured["import_s"] = measured.pop("imported_at") - launched_at
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam3lib.bench.isolated")
    parser.add_argument("implementation", choices=IMPLEMENTATIONS)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--backend", default="eager")
    parser.add_argument("--backend-options", type=json.loads, default={}, help="a JSON object")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--image-hw", default="1008x1008")
    parser.add_argument("--prompt", default="red car")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    height, width = (int(n) for n in args.image_hw.split("x"))

    import torch

    from sam3lib.bench.runners import OursRunner, TransformersRunner, Workload
    from sam3lib.tokenizer import Sam3Tokenizer

    runner: OursRunner | TransformersRunner
    if args.implementation == "transformers":
        import transformers  # noqa: F401  (its import is part of its start-up cost)
    imported_at, imported = time.time(), time.perf_counter()
    if args.implementation == "sam3lib":
        runner = OursRunner.load(
            args.checkpoint, args.backend, args.precision, args.device, **args.backend_options
        )
    else:
        tokenizer = Sam3Tokenizer.from_directory(args.checkpoint)
        runner = TransformersRunner.load(args.checkpoint, tokenizer, args.precision, args.device)
    loaded = time.perf_counter()
    workload = Workload("1 image, 1 prompt", (synthetic_image(height, width),), (args.prompt,))
    runner.run(workload, args.threshold)
    finished = time.perf_counter()

    device = torch.device(args.device)
    measured: dict[str, Any] = {
        "imported_at": imported_at,
        "load_s": loaded - imported,
        "first_result_s": finished - imported,
        "peak_rss_bytes": peak_rss_bytes(),
    }
    if isinstance(runner, OursRunner):  # which backend ran, with its options
        measured["backend"] = repr(runner.segmenter.backend)
    if device.type == "cuda":
        measured["peak_cuda_bytes"] = torch.cuda.max_memory_allocated(device)
    print(json.dumps(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
