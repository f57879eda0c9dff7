"""Full-size ONNX export and onnxruntime parity, on random weights.

Exports the published-size model (transformers' random init, as in ``amp_precision.py``) to
the three graphs, runs them with the onnxruntime backend (CPU execution provider) and eager
fp32 on the same picture and prompts, and prints the max |difference| of every raw output,
the export time and sizes, and the seconds of each stage (one warm-up call, then the median of
``--repeats``).

    python benchmarks/onnx_full_size.py                     # published sizes: ~10 min, ~14 GB
    python benchmarks/onnx_full_size.py --size tiny         # seconds
    python benchmarks/onnx_full_size.py --out DIR           # DIR with a manifest: reuse it
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from amp_precision import fresh_model, random_weights
from helpers.pictures import regions_picture
from sam3lib.backends.onnx_runtime import OnnxRuntimeBackend
from sam3lib.export import ExportManifest, GraphOptions, export_onnx, weights_sha256
from sam3lib.model import ImageFeatures

# "a red car": SOT, three words, EOT, zero padding (the tokenizer's output).
TOKENS = [49406, 320, 736, 1615, 49407]


def timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    """``fn()``'s result and median seconds over ``repeats`` calls after one warm-up."""
    result = fn()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return result, statistics.median(seconds) if seconds else float("nan")


def max_differences(names: tuple[str, ...], got: Any, want: Any) -> dict[str, float]:
    return {
        name: float((have.float() - expected.float()).abs().max())
        for name, have, expected in zip(names, got, want, strict=True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--out", type=Path, help="export directory (default: a temporary one)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    config, state = random_weights(args.size, seed=0)
    model = fresh_model(config, state, torch.device("cpu"), torch.float32)
    out = args.out or Path(tempfile.mkdtemp(prefix="sam3lib-onnx-"))
    options = GraphOptions(batch=1, max_prompts=4, max_boxes=2)
    if (out / "manifest.json").is_file():  # timings again without a 3-minute export
        manifest = ExportManifest.load(out)
        if manifest.weights_sha256 != weights_sha256(model):
            raise SystemExit(f"{out} holds an export of other weights; remove it")
        print(f"reusing the export in {out}")
    else:
        started = time.perf_counter()
        manifest = export_onnx(model, out, options)
        print(f"export: {time.perf_counter() - started:.0f} s into {out}")
    for graph in manifest.graphs.values():
        sizes = ", ".join(
            f"{name} {(out / name).stat().st_size / 2**20:.0f} MiB" for name in graph.files()
        )
        print(f"  {sizes}")

    started = time.perf_counter()
    ort = OnnxRuntimeBackend(out, manifest)
    print(f"onnxruntime sessions: {time.perf_counter() - started:.0f} s")

    pixels = regions_picture(config.vision.image_size)
    ids = torch.zeros(2, config.text.context_length, dtype=torch.int64)
    ids[0, : len(TOKENS)] = torch.tensor(TOKENS)
    ids[1, :3] = torch.tensor([49406, 2368, 49407])  # "cat"
    mask = ids != 0
    box = torch.tensor([[[0.36, 0.42, 0.42, 0.42]]])  # normalised cxcywh, one positive

    rows = []
    for label, runner in (("eager", model), ("onnxruntime", ort)):
        image, t_image = timed(lambda r=runner: r.encode_image(pixels), args.repeats)
        text, t_text = timed(lambda r=runner: r.encode_text(ids, mask), args.repeats)
        plain, t_decode = timed(lambda r=runner, i=image, t=text: r.decode(i, t), args.repeats)
        boxed = runner.decode(image, text, box)
        rows.append((label, image, text, plain, boxed, (t_image, t_text, t_decode)))

    (_, *want, eager_t), (_, *got, ort_t) = rows
    names = ImageFeatures._fields
    report = max_differences(names, got[0], want[0])
    report["text_features"] = float((got[1].features - want[1].features).abs().max())
    outputs = ("mask_logits", "boxes_xyxy", "query_logits", "presence_logit", "semantic_logits")
    report.update({f"{k} (text)": v for k, v in max_differences(outputs, got[2], want[2]).items()})
    report.update(
        {f"{k} (text+box)": v for k, v in max_differences(outputs, got[3], want[3]).items()}
    )
    print("\nmax |onnxruntime - eager| per output")
    for name, value in report.items():
        print(f"  {name:28s} {value:.2e}")
    print("\nseconds (median)      image encoder  text (2 prompts)  decode (2 prompts)")
    for label, times in (("eager fp32", eager_t), ("onnxruntime cpu", ort_t)):
        print(f"  {label:18s} {times[0]:14.2f} {times[1]:17.3f} {times[2]:19.3f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak RSS (export + both engines in one process): {peak:.1f} GiB")


if __name__ == "__main__":
    main()
