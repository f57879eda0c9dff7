"""Eager against ``torch.compile`` for each entry point, in one process, alternating.

Builds the model with random weights, compiles ``encode_image``, ``encode_text`` and ``decode``
through the backends' ``compile`` option, and prints per entry point: the first compiled call
(compiling included), the medians of eager and compiled warm calls, their ratio and the largest
difference between their outputs.

    python benchmarks/compile_speed.py                      # full size, CPU: ~5 min on 2 cores
    python benchmarks/compile_speed.py --device cuda --precision bf16 --repeats 20
    python benchmarks/compile_speed.py --size tiny          # seconds
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import torch

from sam3lib.backends.amp import AmpBackend
from sam3lib.backends.eager import EagerBackend, TorchBackend
from sam3lib.bench.weights import random_state_dict
from sam3lib.model import Sam3Config, Sam3Model


def build(config: Sam3Config, device: str, precision: str, compile_mode: bool) -> TorchBackend:
    model = Sam3Model(config)
    model.load_state_dict(random_state_dict(config, seed=0))
    model.to(device)
    if precision == "fp32":
        return EagerBackend(model, compile=compile_mode)
    return AmpBackend(model, precision=precision, compile=compile_mode)  # type: ignore[arg-type]


def timed(
    call: Callable[[], Sequence[torch.Tensor]], device: str
) -> tuple[float, list[torch.Tensor]]:
    started = time.perf_counter()
    outputs = list(call())
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started, outputs


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32")
    parser.add_argument(
        "--repeats", type=_positive, default=2, help="warm calls of each, alternating"
    )
    args = parser.parse_args()
    config = Sam3Config.sam3() if args.size == "full" else Sam3Config.tiny()
    eager = build(config, args.device, args.precision, compile_mode=False)
    compiled = build(config, args.device, args.precision, compile_mode=True)
    size = config.vision.image_size
    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    pixels = pixels.to(args.device)
    ids = torch.zeros(1, config.text.context_length, dtype=torch.long, device=args.device)
    ids[0, :4] = torch.tensor([49406, 736, 1615, 49407])
    mask = ids != 0
    image, text = eager.encode_image(pixels), eager.encode_text(ids, mask)

    def calls(backend: TorchBackend) -> dict[str, Callable[[], Sequence[torch.Tensor]]]:
        return {
            "encode_image": lambda: backend.encode_image(pixels),
            "encode_text": lambda: backend.encode_text(ids, mask),
            "decode": lambda: backend.decode(image, text),
        }

    print(f"{args.size} size, {args.precision} on {args.device}, torch {torch.__version__}")
    print("entry point   | first compiled call | eager | compiled | compiled/eager | max |diff|")
    for name in ("encode_image", "encode_text", "decode"):
        run_eager, run_compiled = calls(eager)[name], calls(compiled)[name]
        first, _ = timed(run_compiled, args.device)
        timed(run_eager, args.device)  # warm-up
        eager_s, compiled_s = [], []
        for _ in range(args.repeats):
            seconds, want = timed(run_eager, args.device)
            eager_s.append(seconds)
            seconds, got = timed(run_compiled, args.device)
            compiled_s.append(seconds)
        difference = max(
            (a.float() - b.float()).abs().max().item() for a, b in zip(want, got, strict=True)
        )
        e, c = statistics.median(eager_s), statistics.median(compiled_s)
        print(
            f"{name:13} | {first:17.3f} s | {e:.4f} s | {c:.4f} s | {c / e:14.2f} | "
            f"{difference:.1e}"
        )


if __name__ == "__main__":
    main()
