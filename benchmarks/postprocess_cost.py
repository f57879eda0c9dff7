"""Cost of the post-processing stage at full size: raw SAM 3 outputs -> instances at the image.

Synthetic raw outputs shaped like SAM 3's (200 queries, 288² mask logits, object-like masks)
are turned into masks at a photo's size by ``sam3lib.postprocess.instances``, the composition
``Segmenter.segment`` runs. Prints the median time of a few runs per case.

    python benchmarks/postprocess_cost.py [--height 1080 --width 1920 --repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from sam3lib.model import Sam3Outputs
from sam3lib.postprocess import PostprocessOptions, instances

QUERIES, GRID = 200, 288


def synthetic_outputs(kept: int) -> Sam3Outputs:
    """Object-like raw outputs: each query's mask logits are a noisy ellipse filling its box.

    Boxes are 5-30 % of the image side; the first ``kept`` queries score 0.9, the rest 0.1.
    """
    generator = torch.Generator().manual_seed(0)
    centres = torch.rand(QUERIES, 2, generator=generator) * 0.6 + 0.2
    halves = torch.rand(QUERIES, 2, generator=generator) * 0.125 + 0.025
    axis = (torch.arange(GRID) + 0.5) / GRID
    dx = (axis[None, None, :] - centres[:, 0, None, None]) / halves[:, 0, None, None]
    dy = (axis[None, :, None] - centres[:, 1, None, None]) / halves[:, 1, None, None]
    coarse = torch.randn(1, QUERIES, GRID // 16, GRID // 16, generator=generator)
    noise = F.interpolate(coarse, size=(GRID, GRID), mode="bilinear")[0]
    logits = (6 * (1 - dx**2 - dy**2) + 2 * noise).clamp(min=-10)[None]
    query_logits = torch.full((1, QUERIES), -2.2)
    query_logits[0, :kept] = 2.2
    boxes = torch.cat([centres - halves, centres + halves], dim=-1)[None]
    return Sam3Outputs(logits, boxes, query_logits, torch.tensor([10.0]), logits[:, :1])


def median_seconds(
    outputs: Sam3Outputs, size: tuple[int, int], options: PostprocessOptions, repeats: int
) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        instances(outputs, 0, size, options)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    size = (args.height, args.width)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, image {size}")
    print(f"{'kept':>5} {'order':>13} {'refine':>6} {'seconds':>8}")
    for kept in (10, 50, 200):
        outputs = synthetic_outputs(kept)
        for order, refine in (("meta", None), ("transformers", None), ("meta", 2)):
            options = PostprocessOptions.check(0.5, 0.5, None, None, refine, order)
            seconds = median_seconds(outputs, size, options, args.repeats)
            print(f"{kept:>5} {order:>13} {refine or 0:>6} {seconds:>8.3f}")


if __name__ == "__main__":
    main()
