"""Decode cost of N prompts on one encoded image, by ``prompt_chunk`` (prompts per pass).

Full-size detector with random weights and random image features (decode cost does not depend
on their values; the ViT is never run), eager fp32. Prints seconds per chunk size, one warm-up
decode first. Why the CPU default is 1: see docs/benchmarks.md.

    python benchmarks/decode_prompt_chunks.py                     # 8 prompts; chunks 8, 2, 1
    python benchmarks/decode_prompt_chunks.py --prompts 10 --chunks 10 1
"""

from __future__ import annotations

import argparse
import time

import torch

from sam3lib.backends.eager import EagerBackend
from sam3lib.model import ImageFeatures, Sam3Config, Sam3Model, TextFeatures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--chunks", type=int, nargs="+", default=[8, 2, 1])
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    args = parser.parse_args()
    torch.manual_seed(0)
    config = Sam3Config.sam3() if args.size == "full" else Sam3Config.tiny()
    model = Sam3Model(config).eval()
    for param in model.parameters():  # some parameters are left uninitialised by design
        torch.nn.init.normal_(param, std=0.02)
    width, grid = config.d_model, config.vision.grid_size
    with torch.inference_mode():  # the image-side parts of the decoder, from random FPN levels
        pixel_x2, pixel_x4 = model.mask_decoder.pixel_decoder.project_levels(
            [torch.randn(1, width, 2 * grid, 2 * grid), torch.randn(1, width, 4 * grid, 4 * grid)]
        )
        fpn_x1, pos_x1 = torch.randn(1, width, grid, grid), torch.randn(1, width, grid, grid)
        tokens = fpn_x1.flatten(2).transpose(1, 2)
        attended = model.detr_encoder.attend_image(tokens, pos_x1.flatten(2).transpose(1, 2))
    image = ImageFeatures(pixel_x4, pixel_x2, fpn_x1, pos_x1, attended)
    length = config.text.context_length
    text = TextFeatures(
        torch.randn(args.prompts, length, width),
        torch.arange(length)[None].expand(args.prompts, -1) < 5,
    )
    for chunk in args.chunks:
        backend = EagerBackend(model, prompt_chunk=chunk)
        backend.decode(image, TextFeatures(text.features[:1], text.mask[:1]))  # warm-up
        started = time.perf_counter()
        backend.decode(image, text)
        seconds = time.perf_counter() - started
        print(f"prompt_chunk={chunk}: {seconds:.2f} s for {args.prompts} prompts")


if __name__ == "__main__":
    main()
