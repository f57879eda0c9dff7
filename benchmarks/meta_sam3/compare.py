"""sam3lib against Meta's own ``sam3`` package (0.1.4): same weights, same input, one process.

Meta's package needs CUDA and torchvision as shipped; ``meta_env.py`` and the torchvision
stand-in in ``shim/`` make its image model build and run on a CPU-only torch (every patch is
listed in ``meta_env.py``). The script converts a sam3lib checkpoint to Meta's layout
(``ours_to_meta``), builds Meta's model with Meta's builder, checks that both preprocess the
picture to the same pixels, then alternates full runs of the two libraries — Meta's
``Sam3Processor`` (``set_image``, text, ``_forward_grounding``) and sam3lib's ``Segmenter`` —
and prints the median stage times, the peak RSS of the process and the max difference of every
raw output. Not part of CI (Meta's package is not a dependency).

    pip install --target .meta-sam3 --no-deps sam3==0.1.4 timm==1.0.31 ftfy==6.3.1 wcwidth \\
        iopath==0.1.10 portalocker einops==0.8.2 psutil triton
    PYTHONPATH=.meta-sam3:benchmarks/meta_sam3/shim:benchmarks/meta_sam3 \\
        python benchmarks/meta_sam3/compare.py --model DIR     # a hub-layout checkpoint
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import meta_env
import torch
from torch import Tensor

warnings.filterwarnings("ignore", message="CUDA is not available")
meta_env.prepare()  # before sam3 is imported

from sam3.model.sam3_image_processor import Sam3Processor  # noqa: E402
from torchvision.transforms import v2  # noqa: E402  (the stand-in)

from sam3lib import Segmenter  # noqa: E402
from sam3lib.bench.isolated import synthetic_image  # noqa: E402
from sam3lib.checkpoint import ours_to_meta  # noqa: E402
from sam3lib.preprocess import preprocess  # noqa: E402

PROMPT = "red car"
SIZE = 1008


def vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def max_difference(name: str, meta: Tensor, ours: Tensor) -> None:
    difference = (meta.float() - ours.float()).abs().max().item()
    scale = ours.abs().max().item()
    print(f"  {name:24s} max |Meta - sam3lib| {difference:.2e}   max |sam3lib| {scale:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="hub-layout checkpoint directory")
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each, after one warm-up")
    args = parser.parse_args()
    image = synthetic_image(SIZE, SIZE)

    # No text cache: each run encodes its prompt, as Meta's does.
    segmenter = Segmenter.from_pretrained(args.model, text_cache_size=0)
    ours = segmenter.backend.model  # type: ignore[attr-defined]
    converted = ours_to_meta(ours.state_dict())
    model = meta_env.build_meta_image_model(args.model)
    loaded = model.load_state_dict(
        {k.removeprefix("detector."): v for k, v in converted.items()}, strict=False
    )
    del converted
    print(f"Meta's model: {len(loaded.unexpected_keys)} unexpected keys; missing (its own RoPE")
    print(f"  buffers and point-prompt layers): {len(loaded.missing_keys)}")
    print("patches:", *meta_env.PATCHES, sep="\n  ")

    processor = Sam3Processor(model, resolution=SIZE, device="cpu", confidence_threshold=0.5)
    meta_pixels = processor.transform(v2.functional.to_image(image)).unsqueeze(0)
    assert torch.equal(meta_pixels, preprocess(image, SIZE).pixels), "preprocessing differs"

    captured: dict[str, Any] = {}
    grounding = model.forward_grounding

    def forward_grounding(*a: Any, **k: Any) -> Any:
        captured["out"] = grounding(*a, **k)
        return captured["out"]

    model.forward_grounding = forward_grounding

    def run_meta() -> dict[str, float]:
        times, started = {}, time.perf_counter()
        state = processor.set_image(image)
        times["image (preprocess + encode)"] = time.perf_counter() - started
        with torch.inference_mode():  # set_text_prompt's body, split to time its two steps
            step = time.perf_counter()
            state["backbone_out"].update(model.backbone.forward_text([PROMPT], device="cpu"))
            times["text"] = time.perf_counter() - step
            step = time.perf_counter()
            state["geometric_prompt"] = model._get_dummy_prompt()
            captured["state"] = processor._forward_grounding(state)
            times["decode + postprocess"] = time.perf_counter() - step
        times["total"] = time.perf_counter() - started
        return times

    def run_ours() -> dict[str, float]:
        started = time.perf_counter()
        timings = segmenter.segment(image, PROMPT).timings
        total = time.perf_counter() - started
        return {
            "image (preprocess + encode)": timings["preprocess"] + timings["encode_image"],
            "text": timings["encode_text"],
            "decode + postprocess": timings["decode"] + timings["postprocess"],
            "total": total,
        }

    Path("/proc/self/clear_refs").write_text("5")  # peak RSS from here: both models resident
    run_meta(), run_ours()  # warm-up
    runs: dict[str, list[dict[str, float]]] = {"Meta sam3": [], "sam3lib": []}
    for _ in range(args.runs):
        runs["Meta sam3"].append(run_meta())
        runs["sam3lib"].append(run_ours())
    print(f"\nmedian of {args.runs} alternating warm runs (s); 1008² image, prompt {PROMPT!r}")
    print(f"{'stage':28s} {'Meta sam3':>10s} {'sam3lib':>10s} {'ratio':>7s}")
    for stage in runs["sam3lib"][0]:
        meta, mine = (statistics.median(r[stage] for r in runs[name]) for name in runs)
        print(f"{stage:28s} {meta:10.2f} {mine:10.2f} {mine / meta:7.2f}")
    print(f"peak RSS of the process, both models resident: {vm_kib('VmHWM') / 2**20:.2f} GiB")

    tokens = segmenter.tokenizer.encode([PROMPT])
    with torch.inference_mode():
        image_features = ours.encode_image(meta_pixels)
        text = ours.encode_text(tokens.ids, tokens.attention_mask)
        reference = ours.decode(image_features, text)
    out, state = captured["out"], captured["state"]
    print("\nraw outputs, same pixels and token ids:")
    max_difference(
        "image features (x1)", state["backbone_out"]["vision_features"], image_features.fpn_x1
    )
    max_difference(
        "text features", state["backbone_out"]["language_features"].transpose(0, 1), text.features
    )
    max_difference("mask logits", out["pred_masks"], reference.mask_logits)
    max_difference("boxes xyxy", out["pred_boxes_xyxy"], reference.boxes_xyxy)
    max_difference("query logits", out["pred_logits"].squeeze(-1), reference.query_logits)
    max_difference(
        "presence logit", out["presence_logit_dec"].reshape(-1), reference.presence_logit
    )
    max_difference("semantic logits", out["semantic_seg"], reference.semantic_logits)


if __name__ == "__main__":
    main()
