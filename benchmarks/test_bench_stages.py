"""pytest-benchmark: each stage of sam3lib, and transformers' end to end, on the same weights.

Tiny random weights by default, so ``python -m pytest benchmarks/`` takes seconds; the
published sizes with ``SAM3LIB_BENCH_SIZE=full`` (minutes on a CPU, ~8 GB of memory):

    python -m pytest benchmarks/ --benchmark-group-by=group
    SAM3LIB_BENCH_SIZE=full python -m pytest benchmarks/ --benchmark-min-rounds=1

Not collected by the CI command (``testpaths = ["tests"]``). ``sam3lib bench`` measures the
same stages with ratios, load time, peak memory and the roofline in one report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from sam3lib import Segmenter
from sam3lib.bench.isolated import synthetic_image
from sam3lib.bench.runners import (
    OursRunner,
    TransformersRunner,
    Workload,
    threshold_keeping,
    workloads,
)
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config
from sam3lib.postprocess.pipeline import PostprocessOptions, instances

SIZE = os.environ.get("SAM3LIB_BENCH_SIZE", "tiny")
PROMPTS = ["red car", "person", "dog", "bicycle", "tree", "bus", "window", "sign", "sky", "road"]
Benchmark = Any  # pytest-benchmark's fixture


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if SIZE not in ("tiny", "full"):
        pytest.fail(f"SAM3LIB_BENCH_SIZE must be tiny or full, not {SIZE!r}")
    config = Sam3Config.sam3() if SIZE == "full" else Sam3Config.tiny()
    return write_checkpoint(config, random_state_dict(config), tmp_path_factory.mktemp("bench"))


@pytest.fixture(scope="module")
def ours(checkpoint: Path) -> OursRunner:
    return OursRunner.load(checkpoint, "eager", "fp32", "cpu")


@pytest.fixture(scope="module")
def theirs(checkpoint: Path, ours: OursRunner) -> TransformersRunner:
    pytest.importorskip("transformers", reason="pip install 'transformers>=5' to compare")
    return TransformersRunner.load(checkpoint, ours.segmenter.tokenizer, "fp32", "cpu")


@pytest.fixture(scope="module")
def image() -> Any:
    return synthetic_image(1008, 1008)


@pytest.fixture(scope="module")
def cases(image: Any) -> dict[str, Workload]:
    return workloads(image, PROMPTS, 4)


@pytest.fixture(scope="module")
def threshold(ours: OursRunner, image: Any) -> float:
    return threshold_keeping(ours.segmenter, image, PROMPTS[0], 10)


def once(benchmark: Benchmark, fn: Callable[[], Any]) -> Any:
    """Full-size runs take seconds each: a fixed small number of rounds, one warm-up."""
    if SIZE == "full":
        return benchmark.pedantic(fn, rounds=2, iterations=1, warmup_rounds=1)
    return benchmark(fn)


@pytest.mark.benchmark(group="stages")
def test_encode_image(benchmark: Benchmark, ours: OursRunner, image: Any) -> None:
    segmenter: Segmenter = ours.segmenter
    once(benchmark, lambda: segmenter.encode_image(image))


@pytest.mark.benchmark(group="stages")
def test_encode_text(benchmark: Benchmark, ours: OursRunner) -> None:
    segmenter = ours.segmenter
    tokens = segmenter.tokenizer.encode(PROMPTS[0])
    once(benchmark, lambda: segmenter.backend.encode_text(tokens.ids, tokens.attention_mask))


@pytest.mark.benchmark(group="stages")
@pytest.mark.parametrize("prompts", [1, 10])
def test_decode(benchmark: Benchmark, ours: OursRunner, image: Any, prompts: int) -> None:
    segmenter = ours.segmenter
    features = segmenter.encode_image(image).features
    tokens = segmenter.tokenizer.encode(PROMPTS[:prompts])
    text = segmenter.backend.encode_text(tokens.ids, tokens.attention_mask)
    once(benchmark, lambda: segmenter.backend.decode(features, text))


@pytest.mark.benchmark(group="stages")
def test_postprocess_ten_masks(
    benchmark: Benchmark, ours: OursRunner, image: Any, threshold: float
) -> None:
    segmenter = ours.segmenter
    features = segmenter.encode_image(image).features
    tokens = segmenter.tokenizer.encode(PROMPTS[0])
    text = segmenter.backend.encode_text(tokens.ids, tokens.attention_mask)
    outputs = segmenter.backend.decode(features, text)
    options = PostprocessOptions.check(threshold, 0.5, None, None, None, "meta")
    with torch.inference_mode():
        masks = once(benchmark, lambda: instances(outputs, 0, image.shape[:2], options))[0]
    assert len(masks) > 0


@pytest.mark.benchmark(group="end to end")
@pytest.mark.parametrize("case", ["1x1", "1x10", "4x1"])
@pytest.mark.parametrize("runner", ["ours", "theirs"])
def test_end_to_end(
    benchmark: Benchmark,
    request: pytest.FixtureRequest,
    cases: dict[str, Workload],
    threshold: float,
    case: str,
    runner: str,
) -> None:
    """sam3lib (``ours``) and transformers (``theirs``) on the same weights and workload."""
    implementation: OursRunner | TransformersRunner = request.getfixturevalue(runner)
    once(benchmark, lambda: implementation.run(cases[case], threshold))
