"""``sam3lib bench``: per-stage latency, peak memory, load time and roofline, next to transformers.

No checkpoint is needed: random weights of the full size have the real cost. A checkpoint
(``--model``) is used when given. Both implementations run the same weights on the same image
and prompts in one process, alternating run by run, and each is loaded once more in a fresh
process for load time and peak memory.

Example:
    sam3lib bench --size tiny --repeats 3
    sam3lib bench --json bench.json --markdown docs/benchmarks.md    # full size: minutes on CPU
    sam3lib bench --backend eager --resolution 672 --json bench-672.json   # another input size
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from sam3lib.backends import (
    BACKEND_MODULES,
    PRECISIONS,
    Precision,
    available_backends,
    resolve_device,
)
from sam3lib.bench.flops import image_encoder_flops
from sam3lib.bench.isolated import measure_in_subprocess, synthetic_image
from sam3lib.bench.machine import describe_machine
from sam3lib.bench.report import format_markdown, format_table, variant_report
from sam3lib.bench.roofline import gemm_gflops
from sam3lib.bench.runners import (
    Measurement,
    OursRunner,
    Runner,
    TransformersRunner,
    threshold_keeping,
    workloads,
)
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.errors import Sam3Error
from sam3lib.model import Sam3Config

# What each backend runs; the torch ones can also run under torch.compile.
BACKEND_PRECISIONS: dict[str, tuple[Precision, ...]] = {
    "eager": ("fp32",),
    "amp": ("fp16", "bf16"),
    "onnxruntime": ("fp32",),
    "tensorrt": ("fp32", "fp16", "bf16"),
}
COMPILABLE = ("eager", "amp")
PROMPTS = (
    "red car", "person", "dog", "bicycle", "traffic light",
    "tree", "window", "bus", "street sign", "backpack",
)  # fmt: skip
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Variant:
    """One backend × precision, under ``torch.compile`` or not."""

    backend: str
    precision: Precision
    compiled: bool = False

    @property
    def label(self) -> str:
        """The backend's name, ``+compile`` when compiled: the report's backend column."""
        return self.backend + "+compile" * self.compiled

    @property
    def options(self) -> dict[str, Any]:
        """Backend options that make this variant."""
        return {"compile": True} if self.compiled else {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam3lib bench",
        description="Time each stage of SAM 3 per backend and precision, next to transformers.",
    )
    parser.add_argument("--model", type=Path, help="checkpoint directory or file (default: random)")
    parser.add_argument("--size", choices=("full", "tiny"), default="full", help="random weights")
    parser.add_argument(
        "--backend",
        action="append",
        choices=sorted(BACKEND_MODULES),
        help="repeatable (default: every one installed that runs on the device)",
    )
    parser.add_argument(
        "--precision", action="append", choices=PRECISIONS, help="repeatable (default: all here)"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time eager/amp under torch.compile (compiling takes minutes at full size)",
    )
    parser.add_argument("--repeats", type=_positive, help="timed runs per case (default 3; full 1)")
    parser.add_argument(
        "--warmup",
        type=_non_negative,
        default=1,
        help="untimed 1x1 runs first (a compiled variant also runs every case once before)",
    )
    parser.add_argument("--prompts", type=_at_least_two, default=10, help="prompts of case 1xN")
    parser.add_argument(
        "--images", type=_non_negative, default=4, help="images of case Mx1 (0 or 1: no such case)"
    )
    parser.add_argument(
        "--image-size",
        type=_size,
        default=(1008, 1008),
        metavar="HxW",
        help="the test picture's size, resized to the model's input size (--resolution)",
    )
    parser.add_argument(
        "--resolution",
        type=int,
        metavar="PIXELS",
        help="model input size, a multiple of 336 (84 for --size tiny); default the model's "
        "own (1008; tiny 168). Both implementations run at it",
    )
    parser.add_argument("--kept", type=_positive, default=10, help="masks kept per prompt")
    parser.add_argument("--compare", choices=("transformers", "none"), default="transformers")
    parser.add_argument(
        "--no-isolated", action="store_true", help="skip load time and peak memory (subprocesses)"
    )
    parser.add_argument("--json", type=Path, help="write the report as JSON")
    parser.add_argument("--markdown", type=Path, help="write the report as a Markdown page")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        device = str(resolve_device(args.device))
        plan = variants(args.backend, args.precision, device, compiled=args.compile)
        model_config(args)  # a --resolution the model cannot run: refused before any work
    except Sam3Error as error:
        parser.error(str(error))  # exits with status 2
    if args.compare == "transformers" and not _has_transformers():
        print(
            "transformers is not installed: no comparison column "
            "(pip install 'transformers>=5'; or pass --compare none)",
            file=sys.stderr,
        )
        args.compare = "none"
    repeats = args.repeats or (1 if args.size == "full" and args.model is None else 3)
    command = shlex.join(["sam3lib", "bench", *(sys.argv[2:] if argv is None else argv)])
    try:
        with tempfile.TemporaryDirectory(prefix="sam3lib-bench-") as scratch:
            report = run(args, plan, device, repeats, Path(scratch), command)
    except Sam3Error as error:
        print(f"sam3lib bench: {error}", file=sys.stderr)
        return 1
    print(format_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(format_markdown(report), encoding="utf-8")
    return 0


def variants(
    backends: Sequence[str] | None,
    precisions: Sequence[str] | None,
    device: str,
    *,
    compiled: bool = False,
) -> list[Variant]:
    """Backend × precision pairs to run: those asked for, or every one this device has.

    By default, every backend installed that runs on ``device`` (see
    :func:`sam3lib.backends.available_backends`), each in every precision it runs; fp16 is left
    out on CPU (slow there, and not what anyone would deploy). ``compiled`` adds each eager/amp
    pair again under ``torch.compile``, right after it.

    Raises:
        Sam3Error: a backend asked for is not installed or does not run on ``device``, the
            backends and precisions asked for have no pair in common, or ``compiled`` with
            no torch backend.
    """
    usable = [
        name
        for name in available_backends(device)
        # A CPU-only onnxruntime is "installed" but has no provider for a GPU.
        if name != "onnxruntime" or onnxruntime_runs_on(device)
    ]
    missing = [name for name in backends or () if name not in usable]
    if missing:
        raise Sam3Error(
            f"backend {', '.join(missing)} cannot run on {device} here (installed and runnable: "
            f"{', '.join(usable)}); see docs/backends.md for what each needs"
        )
    names = [name for name in BACKEND_PRECISIONS if name in (backends or usable)]
    on_cpu = device == "cpu"
    wanted = precisions or [p for p in PRECISIONS if not (on_cpu and p == "fp16")]
    found: list[Variant] = []
    for name in names:
        for precision in BACKEND_PRECISIONS[name]:
            if precision in wanted:
                found.append(Variant(name, precision))
                if compiled and name in COMPILABLE:
                    found.append(Variant(name, precision, compiled=True))
    if not found:
        runs = "; ".join(f"{n} runs {', '.join(BACKEND_PRECISIONS[n])}" for n in names)
        raise Sam3Error(f"no backend asked for runs the precision(s) asked for: {runs}")
    if compiled and not any(v.compiled for v in found):
        raise Sam3Error(f"--compile applies to the {' and '.join(COMPILABLE)} backends only")
    return found


def run(
    args: argparse.Namespace,
    plan: list[Variant],
    device: str,
    repeats: int,
    scratch: Path,
    command: str,
) -> dict[str, Any]:
    """Everything ``sam3lib bench`` measures, as a JSON-ready report."""
    checkpoint, config, model_name = _checkpoint(args, scratch)
    image = synthetic_image(args.image_size[0], args.image_size[1], seed=args.seed)
    cases = workloads(image, _prompts(args.prompts), args.images)
    impls = ["sam3lib"] + (["transformers"] if args.compare == "transformers" else [])
    flops = image_encoder_flops(config)
    report: dict[str, Any] = {
        "command": command,
        "machine": describe_machine(),
        "model": model_name,
        "resolution": config.vision.image_size,
        "image_hw": list(args.image_size),
        "encoder_flops": flops.to_dict(),
        "variants": [],
    }
    # Each new input shape compiles again: a compiled variant runs every case once, untimed,
    # before its warm-up (ours only: the reference is not compiled).
    compile_runs = {v: len(cases) - 1 if v.compiled else 0 for v in plan}
    total = sum(
        compile_runs[v]
        + len(impls) * (args.warmup + len(cases) * repeats)
        + 2 * len(impls) * (not args.no_isolated)
        for v in plan
    )
    with tqdm(total=total, desc="bench", unit="run", file=sys.stderr) as bar:
        for variant in plan:
            label = f"{variant.label} {variant.precision}"
            bar.set_postfix_str(f"{label}: loading")
            ours = OursRunner.load(
                checkpoint, variant.backend, variant.precision, device, **variant.options
            )
            runners: list[Runner] = [ours]
            if "transformers" in impls:
                tokenizer = ours.segmenter.tokenizer
                runners.append(
                    TransformersRunner.load(checkpoint, tokenizer, variant.precision, device)
                )
            first = cases["1x1"]
            threshold = threshold_keeping(ours.segmenter, image, first.prompts[0], args.kept)
            if variant.compiled:
                for workload in list(cases.values())[1:]:  # 1x1 is compiled by threshold_keeping
                    bar.set_postfix_str(f"{label}: compiling for {workload.name}")
                    ours.run(workload, threshold)
                    bar.update()
            for _ in range(args.warmup):
                for runner in runners:
                    bar.set_postfix_str(f"{label}: warm-up, {runner.name}")
                    runner.run(first, threshold)
                    bar.update()
            timed: dict[str, dict[str, list[Measurement]]] = {}
            for key, workload in cases.items():
                timed[key] = {runner.name: [] for runner in runners}
                for _ in range(repeats):
                    for runner in runners:  # alternating, so drifts hit both alike
                        bar.set_postfix_str(f"{label}: {workload.name}, {runner.name}")
                        timed[key][runner.name].append(runner.run(workload, threshold))
                        bar.update()
            del runners, ours
            gemm = gemm_gflops(DTYPES[variant.precision], device)
            isolated = {}
            if not args.no_isolated:
                for impl in impls:
                    bar.set_postfix_str(f"{label}: load and memory, {impl} (fresh process)")
                    isolated[impl] = measure_in_subprocess(
                        impl,
                        checkpoint,
                        backend=variant.backend,
                        backend_options=variant.options,
                        precision=variant.precision,
                        device=device,
                        image_hw=args.image_size,
                        prompt=first.prompts[0],
                        threshold=threshold,
                    )
                    bar.update(2)
            report["variants"].append(
                variant_report(
                    backend=variant.label,
                    precision=variant.precision,
                    device=device,
                    gemm_gflops=gemm,
                    # transformers encodes the image without the detector's share
                    encoder_flops={
                        "sam3lib": flops.total,
                        "transformers": flops.total - flops.detector_prep,
                    },
                    cases=timed,
                    case_names={key: workload.name for key, workload in cases.items()},
                    isolated=isolated,
                )
            )
    return report


def onnxruntime_runs_on(device: str) -> bool:
    """Whether onnxruntime (installed) has a provider for ``device``; imported only if asked."""
    from sam3lib.backends.onnx_runtime import runs_on

    return runs_on(torch.device(device))


def model_config(args: argparse.Namespace) -> Sam3Config:
    """The configuration benchmarked: ``--model``'s (else the random ``--size``'s), at
    ``--resolution`` when given.

    Raises:
        InputError: the model cannot run at ``--resolution`` (the message names the nearest
            sizes that do).
        CheckpointError: ``--model`` cannot be found or read.
    """
    from sam3lib.checkpoint import resolve_checkpoint
    from sam3lib.checkpoint.loader import checkpoint_config

    if args.model is None:
        config = Sam3Config.sam3() if args.size == "full" else Sam3Config.tiny()
        return config if args.resolution is None else config.at_resolution(args.resolution)
    return checkpoint_config(resolve_checkpoint(args.model), args.resolution)


def _checkpoint(args: argparse.Namespace, scratch: Path) -> tuple[Path, Sam3Config, str]:
    """A hub-layout directory (``model.safetensors`` + ``config.json`` + vocabulary) to load.

    Random weights are written there; a given checkpoint is used as it is when it already has
    that layout and runs at the size asked for, else loaded and written in it (transformers
    reads only that layout). ``config.json`` holds the input size (``--resolution``), so both
    implementations, the fresh processes and an onnxruntime export all run at it.
    """
    from sam3lib.checkpoint import load_resolved_model, resolve_checkpoint
    from sam3lib.checkpoint.loader import checkpoint_config

    if args.model is None:
        config = model_config(args)
        state = random_state_dict(config, args.seed)
        name = f"{args.size} size, random weights"
        return write_checkpoint(config, state, scratch), config, name
    resolved = resolve_checkpoint(args.model)
    if resolved.weights_path is None:
        raise Sam3Error(f"{args.model} holds ONNX graphs; bench needs weights")
    model = load_resolved_model(resolved, resolution=args.resolution)
    if (
        resolved.weights_path.suffix == ".safetensors"
        and resolved.config_path is not None
        and resolved.tokenizer_files
        and checkpoint_config(resolved).vision.image_size == model.config.vision.image_size
    ):
        return resolved.weights_path.parent, model.config, str(args.model)
    directory = write_checkpoint(model.config, model.state_dict(), scratch)
    for name, path in resolved.tokenizer_files.items():  # the real tokenizer, if there is one
        (directory / name).write_bytes(path.read_bytes())
    return directory, model.config, str(args.model)


def _prompts(count: int) -> list[str]:
    return [
        PROMPTS[i % len(PROMPTS)] + (f" {i // len(PROMPTS)}" * (i >= len(PROMPTS)))
        for i in range(count)
    ]


def _has_transformers() -> bool:
    import importlib.util

    return importlib.util.find_spec("transformers") is not None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {text}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 720x1280, got {text!r}") from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return height, width
