"""Full-size interactive head: parity with transformers' ``Sam3TrackerModel`` and what it costs.

Not part of CI (7.5 minutes on a quiet 2-core machine, 12.6 on a busy one; figures in
docs/benchmarks.md and docs/parity.md). The published architecture
(``Sam3Config.sam3()``: 1008 px, 32-layer ViT, tracker width 256) with random weights:

- transformers' ``Sam3TrackerModel`` is built at full size, and its tracker neck and head are
  redrawn (linear and convolution weights N(0, 1/fan-in), so activations keep their scale;
  transformers' own 0.02 init gives mask logits of ~1e-2, where any difference looks small)
  and the other parameters (LayerNorms, biases, ``no_memory_embedding``, tokens) perturbed by
  N(0, 0.1²), so that each of them matters. Our model gets the same tensors through the
  mapping of the parity tests (``tests/helpers/transformers_tracker_reference.py``); its
  detector gets ``sam3lib.bench.weights`` random weights.
- The ViT runs once (``Segmenter.encode_image`` on a 1280×720 picture): its trunk output feeds
  our tracker neck (``encode_interactive``) and transformers' (its ``vision_encoder.neck``,
  ``conv_s0``/``conv_s1`` and ``no_memory_embedding`` on the x1 level, as Meta does; its own
  pixel path forgets the latter). transformers' decoder then runs on those features with
  ``image_embeddings=``; transformers' ViT is never run.
- Parity: the max |difference| of the three feature maps, and of the chosen mask logits, IoU
  scores and object-score logits for six prompts (coordinates in the 1008 frame).
- Cost: ``encode_interactive`` (median of 3), the decoder per click (``decode_interactive`` +
  ``select_masks``, median of ``--repeats``), a batch of 8 boxes, ``Segmenter.predict`` on the
  encoded 1280×720 image (its own ``timings``: decoder, and post-processing = hole filling,
  resize to 1280×720, boxes), one decode of a batch of 64 clicks, and ``Segmenter.generate``
  with the default options and with both quality filters off (it encodes the picture again
  itself; the encode is reported separately). If 32×32 points would take over 10 minutes
  (estimated from the batch's decode), 16×16 runs instead and the time after the encode is
  extrapolated ×4, which the report says.

    python benchmarks/interactive_full_size.py --threads 2 --json interactive.json
    python benchmarks/interactive_full_size.py --skip-generate      # parity and clicks only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.transformers_tracker_reference import tracker_state_dict_in_our_layout
from sam3lib import Segmenter
from sam3lib.backends.eager import EagerBackend
from sam3lib.bench.machine import describe_machine
from sam3lib.bench.weights import random_state_dict, write_byte_vocabulary
from sam3lib.interactive import MaskGenerationOptions
from sam3lib.interactive.prompts import ObjectPrompts, check_interactive_prompt, clicks_prompt
from sam3lib.model import InteractiveFeatures, Sam3Config, Sam3Model, select_masks
from sam3lib.tokenizer import Sam3Tokenizer
from soak_segment import picture

CONFIG = Sam3Config.sam3()
FRAME = CONFIG.vision.image_size  # 1008: the prompts below are in pixels of this frame
MASK_SIZE = 4 * CONFIG.vision.grid_size  # 288
IMAGE_HW = (720, 1280)
GENERATE_LIMIT_S = 600.0
POINTS_PER_BATCH = 64
NOISE = 0.1
# transformers' name of the shared trunk, which it never runs here.
REFERENCE_BACKBONE = "vision_encoder.backbone."

# Prompts in pixels of the 1008 × 1008 frame: (prompt keywords of check_interactive_prompt,
# multimask). "mask input" also gets the best logits of "one click".
CASES: dict[str, tuple[dict[str, Any], bool]] = {
    "one click": ({"points": [[500.0, 400.0]], "point_labels": [1]}, True),
    "clicks + negative": (
        {"points": [[500.0, 400.0], [120.5, 860.25], [800.0, 90.0]], "point_labels": [1, 0, 1]},
        False,
    ),
    "box": ({"box": [200.0, 150.0, 700.0, 640.0]}, False),
    "box + click": ({"box": [200.0, 150.0, 700.0, 640.0], "points": [[450.0, 400.0]]}, True),
    "mask input": (
        {"points": [[500.0, 400.0], [300.0, 800.0]], "point_labels": [1, 0]},
        False,
    ),
    "8 boxes": (
        {
            "boxes": [
                [40.0 + 110 * i, 30.0 + 90 * i, 300.0 + 80 * i, 260.0 + 85 * i] for i in range(8)
            ]
        },
        False,
    ),
}


def build_reference(seed: int) -> Any:
    """transformers' full-size ``Sam3TrackerModel`` (eager attention), its neck and head redrawn
    and perturbed as the module docstring says; ``shared_image_embedding`` a copy of the
    prompt encoder's Gaussian matrix, as in the published checkpoint."""
    from transformers import Sam3TrackerConfig, Sam3TrackerModel

    config = Sam3TrackerConfig()
    config._attn_implementation = "eager"  # the plain matmul/softmax reference
    torch.manual_seed(seed)
    model: Any = Sam3TrackerModel(config)
    model.eval()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module_name, module in model.named_modules():
            if module_name.startswith(REFERENCE_BACKBONE.rstrip(".")):
                continue
            for name, parameter in module.named_parameters(recurse=False):
                noise = torch.randn(parameter.shape, generator=generator)
                if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d) and (
                    name == "weight"
                ):
                    fan_in = math.prod(parameter.shape[1:])
                    if isinstance(module, nn.ConvTranspose2d):  # (in, out, k, k), stride = k
                        fan_in = parameter.shape[0]
                    parameter.copy_(noise / math.sqrt(fan_in))
                else:
                    parameter.add_(noise * NOISE)
        model.shared_image_embedding.positional_embedding.copy_(
            model.prompt_encoder.shared_embedding.positional_embedding
        )
    return model


def build_ours(reference: Any, seed: int) -> Sam3Model:
    """Our full-size model: random detector weights, the reference's tracker neck and head."""
    state = random_state_dict(dataclasses.replace(CONFIG, tracker=None), seed)
    state.update(tracker_state_dict_in_our_layout(reference))
    with torch.device("meta"):
        model = Sam3Model(CONFIG)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def reference_features(reference: Any, trunk: Tensor) -> list[Tensor]:
    """transformers' tracker features of a trunk output, with Meta's ``no_memory_embedding``:
    [s0 (1, 32, 288, 288), s1 (1, 64, 144, 144), x1 (1, 256, 72, 72)]."""
    levels = reference.vision_encoder.neck(trunk)[0]
    decoder = reference.mask_decoder
    x1 = levels[2] + reference.no_memory_embedding.view(1, -1, 1, 1)
    return [decoder.conv_s0(levels[0]), decoder.conv_s1(levels[1]), x1]


def our_prompt(prompt: dict[str, Any], mask_input: np.ndarray | None) -> ObjectPrompts:
    """A case's prompt encoded as ``Segmenter.predict`` encodes it (Meta's order: box
    corners, clicks, one padding point), for an image the size of the frame."""
    return check_interactive_prompt(
        points=prompt.get("points"),
        point_labels=prompt.get("point_labels"),
        box=prompt.get("box"),
        boxes=prompt.get("boxes"),
        mask_input=mask_input,
        image_size=(FRAME, FRAME),
        model_size=FRAME,
        mask_size=MASK_SIZE,
    )


def reference_prompt(prompt: dict[str, Any], mask_input: np.ndarray | None) -> dict[str, Tensor]:
    """The same prompt in transformers' inputs (it adds the padding point itself)."""
    inputs: dict[str, Tensor] = {}
    if "points" in prompt:
        inputs["input_points"] = torch.tensor(prompt["points"])[None, None]
        labels = prompt.get("point_labels", [1] * len(prompt["points"]))
        inputs["input_labels"] = torch.tensor(labels)[None, None]
    boxes = prompt.get("boxes", [prompt["box"]] if "box" in prompt else None)
    if boxes is not None:
        inputs["input_boxes"] = torch.tensor(boxes)[None]
    if mask_input is not None:
        inputs["input_masks"] = torch.from_numpy(mask_input)[None, None]
    return inputs


def decode(
    model: Sam3Model, features: InteractiveFeatures, prompts: ObjectPrompts, multimask: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Our decoder plus Meta's candidate choice: (N, K, m, m), (N, K), (N, 1)."""
    tracker = model.config.tracker
    assert tracker is not None
    outputs = model.decode_interactive(
        features,
        prompts.point_coords,
        prompts.point_labels,
        prompts.mask_input,
        prompts.has_mask_input,
    )
    logits, scores = select_masks(outputs.mask_logits, outputs.iou_scores, multimask, tracker)
    return logits, scores, outputs.object_score_logits


def difference(name: str, case: str, ours: Tensor, theirs: Tensor) -> dict[str, Any]:
    if ours.shape != theirs.shape:
        raise AssertionError(f"{case} {name}: shapes {tuple(ours.shape)} != {tuple(theirs.shape)}")
    return {
        "case": case,
        "output": name,
        "max_abs_diff": float((ours - theirs).abs().max()),
        "max_abs_reference": float(theirs.abs().max()),
    }


def parity(
    model: Sam3Model, reference: Any, features: InteractiveFeatures, theirs: list[Tensor]
) -> list[dict[str, Any]]:
    rows = [
        difference(name, "features", ours, reference_map)
        for name, ours, reference_map in zip(
            InteractiveFeatures._fields, features, theirs, strict=True
        )
    ]
    best_logits: np.ndarray | None = None
    for case, (prompt, multimask) in CASES.items():
        mask_input = best_logits if case == "mask input" else None
        logits, scores, objects = decode(model, features, our_prompt(prompt, mask_input), multimask)
        if case == "one click":  # what a caller passes back: the best candidate, clamped ±32
            best_logits = logits[0, int(scores[0].argmax())].clamp(-32, 32).numpy()
        expected = reference(
            image_embeddings=theirs,
            multimask_output=multimask,
            **reference_prompt(prompt, mask_input),
        )
        rows += [
            difference("mask logits", case, logits, expected.pred_masks[0]),
            difference("IoU scores", case, scores, expected.iou_scores[0]),
            difference("object score logit", case, objects, expected.object_score_logits[0]),
        ]
    return rows


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``repeats`` calls after ``warmup`` untimed ones, in inference mode
    (as the backends run the model)."""
    seconds = []
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def costs(
    model: Sam3Model,
    segmenter: Segmenter,
    embedding: Any,
    features: InteractiveFeatures,
    repeats: int,
) -> dict[str, float]:
    trunk = embedding.features.backbone
    click = our_prompt(CASES["one click"][0], None)
    boxes = our_prompt(CASES["8 boxes"][0], None)
    timings = {
        "preprocess_s": embedding.timings["preprocess"],
        "encode_image_s": embedding.timings["encode_image"],
        "encode_interactive_s": median_seconds(lambda: model.encode_interactive(trunk), 3, 0),
        "decode_click_s": median_seconds(lambda: decode(model, features, click, True), repeats),
        "decode_8_boxes_s": median_seconds(
            lambda: decode(model, features, boxes, False), max(3, repeats // 3)
        ),
    }
    height, width = IMAGE_HW
    point = [[0.4 * width, 0.45 * height]]
    segmenter.predict(embedding, points=point)  # computes and keeps the head's features
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = segmenter.predict(embedding, points=point)
        runs.append((result.timings, time.perf_counter() - started))
    timings["predict_decode_s"] = statistics.median(t["decode_interactive"] for t, _ in runs)
    timings["predict_postprocess_s"] = statistics.median(t["postprocess"] for t, _ in runs)
    timings["predict_total_s"] = statistics.median(total for _, total in runs)
    return timings


def generate_cost(
    model: Sam3Model,
    segmenter: Segmenter,
    image: np.ndarray,
    features: InteractiveFeatures,
    encode_s: float,
    points_per_side: int,
) -> dict[str, Any]:
    """``generate`` at ``points_per_side``, or at 16 (the part after the encode extrapolated)
    if one decode of a batch says it would take more than ``GENERATE_LIMIT_S``; once with the
    default options and once with both quality filters off, so that every candidate is
    resized, scored and NMS'd (random weights predict IoUs of about 0.5, which the default
    0.88 drops before any of that). ``encode_s`` is the separately measured encode:
    ``generate`` encodes the picture itself."""
    height, width = IMAGE_HW
    points = torch.rand(POINTS_PER_BATCH, 2, generator=torch.Generator().manual_seed(0))
    clicks = clicks_prompt(points * torch.tensor([width, height]), IMAGE_HW, FRAME, MASK_SIZE)
    batch_s = median_seconds(lambda: decode(model, features, clicks, True), 1, 0)
    estimate = encode_s + -(-(points_per_side**2) // POINTS_PER_BATCH) * batch_s
    side = points_per_side if estimate <= GENERATE_LIMIT_S else 16
    runs = {}
    default = MaskGenerationOptions(points_per_side=side, points_per_batch=POINTS_PER_BATCH)
    unfiltered = dataclasses.replace(default, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    for filters, options in (("default", default), ("off", unfiltered)):
        started = time.perf_counter()
        masks = segmenter.generate(image, options, progress=False)
        total = time.perf_counter() - started
        after_encode = total - encode_s
        runs[filters] = {
            "generate_s": total,
            "after_encode_s": after_encode,
            "extrapolated_s": (
                encode_s + after_encode * points_per_side**2 / side**2
                if side != points_per_side
                else None
            ),
            "masks": len(masks),
        }
        del masks
    return {
        "points_per_side_requested": points_per_side,
        "points_per_side_run": side,
        "points_per_batch": POINTS_PER_BATCH,
        "decode_batch_s": batch_s,
        "estimate_s": estimate,
        "encode_s": encode_s,
        "runs": runs,
    }


def markdown(
    rows: list[dict[str, Any]], timings: dict[str, float], generated: dict[str, Any] | None
) -> str:
    lines = ["| case | output | max \\|diff\\| | max \\|reference\\| |", "|---|---|---:|---:|"]
    lines += [
        f"| {r['case']} | {r['output']} | {r['max_abs_diff']:.3e} | {r['max_abs_reference']:.3e} |"
        for r in rows
    ]
    lines += ["", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {name.removesuffix('_s')} | {value:.3f} |" for name, value in timings.items()]
    if generated is None:
        return "\n".join(lines)
    side, run = generated["points_per_side_requested"], generated["points_per_side_run"]
    lines.append(
        f"| decode of a batch of {POINTS_PER_BATCH} clicks | {generated['decode_batch_s']:.3f} |"
    )
    for filters, figures in generated["runs"].items():
        name = f"generate {run}×{run}, quality filters {filters}"
        lines.append(f"| {name} (incl. its encode) | {figures['generate_s']:.1f} |")
        lines.append(f"| {name}, minus the encode | {figures['after_encode_s']:.1f} |")
        if figures["extrapolated_s"] is not None:
            lines.append(
                f"| generate {side}×{side}, quality filters {filters}, extrapolated "
                f"from {run}×{run} | {figures['extrapolated_s']:.1f} |"
            )
        lines.append(f"| masks, quality filters {filters} | {figures['masks']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=15, help="timed decoder runs (>= 10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    started, load_before = time.perf_counter(), os.getloadavg()

    reference = build_reference(args.seed)
    model = build_ours(reference, args.seed)
    with tempfile.TemporaryDirectory() as vocabulary:
        write_byte_vocabulary(Path(vocabulary))
        tokenizer = Sam3Tokenizer.from_directory(Path(vocabulary))
    segmenter = Segmenter(EagerBackend(model), tokenizer)
    print(f"built both models in {time.perf_counter() - started:.0f} s", flush=True)

    image = picture(np.random.default_rng(args.seed), *IMAGE_HW)
    embedding = segmenter.encode_image(image)  # the one ViT pass both heads share
    trunk = embedding.features.backbone
    features = model.encode_interactive(trunk)
    theirs = reference_features(reference, trunk)
    rows = parity(model, reference, features, theirs)
    del reference, theirs  # ~2 GB, not needed for the timings
    print(f"parity done at {time.perf_counter() - started:.0f} s", flush=True)

    timings = costs(model, segmenter, embedding, features, args.repeats)
    generated = None
    if not args.skip_generate:
        encode_s = embedding.timings["preprocess"] + embedding.timings["encode_image"]
        generated = generate_cost(model, segmenter, image, features, encode_s, args.points_per_side)
    table = markdown(rows, timings, generated)
    print(table)
    total, load_after = time.perf_counter() - started, os.getloadavg()
    # Other processes on the machine show here: the timings are only as quiet as it was.
    print(f"total {total:.0f} s; load average (1, 5, 15 min) {load_before} -> {load_after}")
    if args.json:
        report = {
            "command": " ".join(sys.argv),
            "machine": describe_machine(),
            "seed": args.seed,
            "image_hw": IMAGE_HW,
            "parity": rows,
            "timings": timings,
            "generate": generated,
            "total_s": total,
            "load_average_before": load_before,
            "load_average_after": load_after,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
