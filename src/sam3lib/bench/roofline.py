"""The machine's measured matrix-multiply rate: the roofline the image encoder is held to.

The ViT is almost all large matrix products, so the best rate ``torch.matmul`` reaches on
large square matrices, in the benchmark's precision and device, bounds what the encoder can
achieve; its achieved GFLOP/s divided by this rate is the fraction of the roofline.
"""

from __future__ import annotations

import time

import torch


def gemm_gflops(
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    *,
    size: int = 4096,
    tries: int = 5,
) -> float:
    """Best GFLOP/s of ``size``×``size`` @ ``size``×``size`` over ``tries`` timed runs.

    The best rather than the median: the question is what the machine can do, and a run that
    was disturbed says nothing about that. One untimed run warms up the library first.

    Example:
        >>> gemm_gflops(size=64, tries=1) > 0
        True
    """
    device = torch.device(device)
    generator = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    flops = 2 * size**3
    best = float("inf")
    for attempt in range(tries + 1):
        _synchronize(device)
        started = time.perf_counter()
        torch.matmul(a, b, out=out)
        _synchronize(device)
        if attempt:  # the first run is the warm-up
            best = min(best, time.perf_counter() - started)
    return flops / best / 1e9


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
