"""What the image encoder's kernels achieve on this machine, and the encode time they imply.

The ViT is matrix products of a few shapes plus attention. This times each shape with the
kernel PyTorch runs it with (``F.linear`` for projections and MLP, fused CPU
``scaled_dot_product_attention`` for windowed and global attention), next to the 4096²
``torch.matmul`` probe ``sam3lib bench`` uses as its roofline, and adds up the floor: the
encoder's FLOPs at the rates its own kernels reach, before any norm, activation or copy.

    python benchmarks/encoder_kernels.py            # full-size shapes, fp32, ~1 min
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from sam3lib.bench.roofline import gemm_gflops
from sam3lib.model import Sam3Config


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    vision = Sam3Config.sam3().vision
    tokens, width, hidden = vision.grid_size**2, vision.hidden_size, vision.intermediate_size
    heads, window = vision.num_heads, vision.window_size
    windows = tokens // window**2
    global_layers = len(vision.global_attention_layers)
    windowed_layers = vision.num_layers - global_layers
    generator = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    x, h = randn(tokens, width), randn(tokens, hidden)
    w_proj, w_up, w_down = randn(width, width), randn(hidden, width), randn(width, hidden)
    b_width, b_hidden = randn(width), randn(hidden)
    shapes = {  # name: (run, FLOPs per call, calls per image)
        "q/k/v/o projection": (
            lambda: F.linear(x, w_proj, b_width),
            2 * tokens * width * width,
            4 * vision.num_layers,
        ),
        "MLP up": (
            lambda: F.linear(x, w_up, b_hidden),
            2 * tokens * width * hidden,
            vision.num_layers,
        ),
        "MLP down": (
            lambda: F.linear(h, w_down, b_width),
            2 * tokens * hidden * width,
            vision.num_layers,
        ),
    }
    head_dim = width // heads
    wq, wk, wv = (randn(windows, heads, window**2, head_dim) for _ in range(3))
    gq, gk, gv = (randn(1, heads, tokens, head_dim) for _ in range(3))
    shapes["windowed attention"] = (
        lambda: F.scaled_dot_product_attention(wq, wk, wv),
        2 * 2 * tokens * window**2 * width,
        windowed_layers,
    )
    shapes["global attention"] = (
        lambda: F.scaled_dot_product_attention(gq, gk, gv),
        2 * 2 * tokens * tokens * width,
        global_layers,
    )
    probe = gemm_gflops(torch.float32, "cpu")
    print(f"4096² matmul probe (best of 5): {probe:.0f} GFLOP/s")
    print(f"{'kernel':22s} {'GFLOP/s':>8s} {'of probe':>9s} {'s / image':>10s}")
    floor = 0.0
    with torch.inference_mode():
        for name, (run, flops, calls) in shapes.items():
            seconds = median_seconds(run, args.repeats)
            floor += seconds * calls
            rate = flops / seconds / 1e9
            print(f"{name:22s} {rate:8.0f} {rate / probe:9.2f} {seconds * calls:10.2f}")
    print(f"ViT floor at these kernels' rates: {floor:.1f} s (norms, GELU, RoPE, copies excluded)")


if __name__ == "__main__":
    main()
