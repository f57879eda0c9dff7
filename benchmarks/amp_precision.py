"""AMP precision: accuracy, weight memory and speed of the backends against eager fp32.

Runs eager fp32 (the reference), amp bf16 and amp bf16 with ``cast_weights`` (plus eager TF32
and the fp16 variants when CUDA is present) on the same random weights (transformers' init, as
in ``full_size_parity.py``) and a picture with regions and edges, for a text prompt and a text
+ exemplar-box prompt. Reports, against fp32: max/mean |score difference| with score =
σ(query logit)·σ(presence logit), per-query IoU of the thresholded low-resolution masks
(mask_logits > 0), max |box difference|; and the bytes of the parameters, the seconds per
stage, and what casting the image features back to fp32 costs.

    python benchmarks/amp_precision.py                 # tiny model, seconds
    python benchmarks/amp_precision.py --size full     # published sizes; minutes, ~10 GB on CPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.pictures import regions_picture
from helpers.transformers_reference import build_tiny_reference
from sam3lib.backends.amp import DTYPES, AmpBackend, cast_to_low_precision
from sam3lib.backends.eager import EagerBackend, TorchBackend, as_float32
from sam3lib.model import Sam3Config, Sam3Model, Sam3Outputs

Variant = tuple[str, torch.dtype, Callable[[Sam3Model], TorchBackend]]


def random_weights(size: str, seed: int) -> tuple[Sam3Config, dict[str, torch.Tensor]]:
    """Our config and a transformers-initialised state dict (the layouts coincide)."""
    if size == "tiny":
        return Sam3Config.tiny(), build_tiny_reference(seed).state_dict()
    from transformers import Sam3Config as ReferenceConfig
    from transformers import Sam3Model as ReferenceModel

    torch.manual_seed(seed)
    config = ReferenceConfig()
    config.vision_config.backbone_config.layer_norm_eps = 1e-5
    return Sam3Config.sam3(), ReferenceModel(config).eval().state_dict()


def fresh_model(
    config: Sam3Config, state: dict[str, torch.Tensor], device: torch.device, cast: torch.dtype
) -> Sam3Model:
    """A model sharing ``state``'s fp32 tensors; ``cast`` happens on the CPU, like ``create``."""
    with torch.device("meta"):
        model = Sam3Model(config)
    model.load_state_dict(state, strict=True, assign=True)
    if cast != torch.float32:
        cast_to_low_precision(model, cast)
    return model.to(device).eval()


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[Any, float]:
    """The result of ``fn`` and its median seconds over ``repeats`` runs after one warm-up."""
    result, seconds = fn(), []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - start)
    return result, statistics.median(seconds)


def scores(outputs: Sam3Outputs) -> torch.Tensor:
    return outputs.query_logits.sigmoid() * outputs.presence_logit.sigmoid()[:, None]


def compare(got: Sam3Outputs, want: Sam3Outputs) -> str:
    score = (scores(got) - scores(want)).abs()
    a, b = got.mask_logits > 0, want.mask_logits > 0
    iou = (a & b).sum((-2, -1)) / (a | b).sum((-2, -1)).clamp(min=1)
    worst_area = b.flatten(0, 1)[iou.argmin()].float().mean()  # of the worst query's fp32 mask
    box = (got.boxes_xyxy - want.boxes_xyxy).abs().max()
    logit = (got.mask_logits - want.mask_logits).abs().mean() / want.mask_logits.abs().mean()
    return (
        f"{score.max():>10.2e}{score.mean():>10.2e}{iou.min():>9.4f}{worst_area:>8.3f}"
        f"{iou.mean():>9.4f}{logit:>10.2e}{box:>10.2e}"
    )


def variants(device: torch.device) -> list[Variant]:
    """(label, weight dtype, backend factory); fp16 and TF32 only where CUDA runs them."""
    found: list[Variant] = [
        ("eager fp32", torch.float32, EagerBackend),
    ]
    if device.type == "cuda":
        found.append(("eager tf32", torch.float32, lambda m: EagerBackend(m, tf32=True)))
    for precision in ("bf16", "fp16") if device.type == "cuda" else ("bf16",):
        dtype = DTYPES[precision]
        found += [
            (f"amp {precision}", torch.float32, lambda m, p=precision: AmpBackend(m, precision=p)),
            (
                f"amp {precision} cast_weights",
                dtype,
                lambda m, p=precision: AmpBackend(m, precision=p, cast_weights=True),
            ),
        ]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, help="timed runs per stage (default 5 tiny, 1 full)")
    args = parser.parse_args()
    device = torch.device(args.device)
    repeats = args.repeats or (5 if args.size == "tiny" else 1)

    start = time.perf_counter()
    config, state = random_weights(args.size, args.seed)
    print(f"{args.size} model, random weights built in {time.perf_counter() - start:.0f} s")
    pixels = regions_picture(config.vision.image_size).to(device)
    ids = torch.tensor([[49406, 320, 736, 1615, 49407] + [0] * 27], device=device)
    mask = torch.arange(32, device=device)[None] < 5
    boxes = {
        "boxes_cxcywh": torch.tensor([[[0.36, 0.42, 0.42, 0.42], [0.73, 0.45, 0.33, 0.54]]]),
        "box_labels": torch.tensor([[1, 0]]),
    }
    boxes = {name: tensor.to(device) for name, tensor in boxes.items()}

    reference: dict[str, Sam3Outputs] = {}
    rows, timings, casts = [], [], []
    for label, weight_dtype, make in variants(device):
        backend = make(fresh_model(config, state, device, weight_dtype))
        weight_bytes = sum(p.numel() * p.element_size() for p in backend.model.parameters())
        image, t_image = timed(partial(backend.encode_image, pixels), device, repeats)
        text, t_text = timed(partial(backend.encode_text, ids, mask), device, repeats)
        outputs, t_decode = {}, {}
        for case, extra in (("text", {}), ("text+boxes", boxes)):
            decode = partial(backend.decode, image, text, **extra)
            outputs[case], t_decode[case] = timed(decode, device, repeats)
        reference = reference or outputs
        for case, got in outputs.items():
            rows.append(f"{label:<26}{case:<12}{compare(got, reference[case])}")
        timings.append(
            f"{label:<26}{weight_bytes / 2**20:>12.1f}{t_image:>10.3f}{t_text:>10.3f}"
            f"{t_decode['text']:>10.3f}{t_decode['text+boxes']:>10.3f}"
        )
        if isinstance(backend, AmpBackend):
            casts.append(f"{label:<26}{feature_cast(backend, pixels, repeats)}")
        del backend

    print(f"\naccuracy vs eager fp32 ({device})")
    print(f"{'':<40}{'|Δscore|':<20}{'mask IoU, area of the worst':<28}{'mask':<10}{'|Δbox|'}")
    print(
        f"{'variant':<26}{'prompt':<12}{'max':>10}{'mean':>10}{'min':>9}{'area':>8}{'mean':>9}"
        f"{'rel |Δ|':>10}{'max':>10}"
    )
    print("\n".join(rows))
    for case, outputs in reference.items():
        logits = outputs.mask_logits.abs()
        print(
            f"fp32 mask logits, {case}: median |logit| {logits.median():.3f}, "
            f"{(logits < 0.1).float().mean():.1%} of them within ±0.1"
        )
    print(f"\nweights and seconds per stage (median of {repeats}, after a warm-up)")
    print(
        f"{'variant':<26}{'weights MiB':>12}{'image':>10}{'text':>10}{'decode':>10}{'+boxes':>10}"
    )
    print("\n".join(timings))
    print("\nimage features: low-precision size, fp32 size, seconds to cast to fp32")
    print("\n".join(casts))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


def feature_cast(backend: AmpBackend, pixels: torch.Tensor, repeats: int) -> str:
    """What the protocol's float32 features cost over the autocast output."""
    with torch.inference_mode(), torch.autocast(backend.device.type, dtype=backend.dtype):
        raw = backend.model.encode_image(pixels)
    cast, seconds = timed(lambda: as_float32(raw), backend.device, repeats)
    low, full = (sum(t.numel() * t.element_size() for t in f) / 2**20 for f in (raw, cast))
    return f"{low:>9.1f} MiB{full:>9.1f} MiB{seconds:>10.4f} s"


if __name__ == "__main__":
    main()
