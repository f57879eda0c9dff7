"""The TensorRT backend: engines that match eager, and clear errors where TensorRT cannot run.

The engine tests need ``tensorrt`` and a CUDA GPU and skip otherwise, saying which is missing
(``pytest -ra`` prints the reason). Argument checks, cache keys, profiles and the fp32 pinning
of the network run everywhere, the last on a stand-in for TensorRT's network classes.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from helpers.interactive_inputs import random_object_prompts
from helpers.outputs import detection_scores, mask_iou
from sam3lib.backends import create_backend
from sam3lib.backends import tensorrt as trt_backend
from sam3lib.backends.eager import EagerBackend
from sam3lib.backends.tensorrt import TensorRTBackend, check_builder_precision
from sam3lib.backends.tensorrt_build import (
    axis_ranges,
    engine_key,
    pin_fp32_layers,
    rope_table_shapes,
    set_precision,
    shape_profile,
)
from sam3lib.checkpoint import ResolvedCheckpoint, load_resolved_model, resolve_checkpoint
from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.export import ExportManifest
from sam3lib.model import InteractiveOutputs, Sam3Config, Sam3Model, Sam3Outputs

FP32_TOLERANCE = 1e-3  # every raw output, absolute and relative
# fp16 rounds to 11 significant bits (unit roundoff 4.9e-4). Through the tiny model's layers the
# logits drift by ~1e-3 relative, and sigmoid (slope <= 1/4) shrinks that on probabilities, so
# scores and presence land well inside 1e-2, the bound the amp tests use for bf16 (8x coarser).
# A LayerNorm or softmax left to overflow in fp16 gives inf/NaN, caught by the finiteness check.
LOW_PRECISION = {"fp16": (1e-2, 0.98), "bf16": (2e-2, 0.95)}  # (score atol, min mask IoU)


# --- what runs without TensorRT ------------------------------------------------------------


def test_missing_tensorrt_names_the_extra_and_the_gpu(
    resolved: ResolvedCheckpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` now fails everywhere
    with pytest.raises(BackendUnavailableError, match=r'sam3lib\[tensorrt\]"') as error:
        trt_backend.create(resolved, device=torch.device("cuda"), precision="fp16")
    assert "CUDA GPU" in str(error.value)


def test_a_cpu_device_is_a_clear_input_error(resolved: ResolvedCheckpoint) -> None:
    with pytest.raises(InputError, match=r"CUDA GPUs only.*device='cuda'"):
        create_backend("tensorrt", resolved, device="cpu", precision="fp16")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"tf32": True}, "does not take the option"),
        ({"workspace_gb": 0}, "workspace_gb"),
        ({"workspace_gb": "8"}, "workspace_gb"),
        ({"progress": "yes"}, "progress"),
        ({"engine_dir": 3}, "engine_dir"),
    ],
)
def test_bad_options_are_input_errors(
    resolved: ResolvedCheckpoint, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(InputError, match=named):
        trt_backend.create(resolved, device=torch.device("cuda"), precision="fp32", **options)


def test_old_tensorrt_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", SimpleNamespace(__version__="8.6.1"))
    with pytest.raises(BackendUnavailableError, match=r"TensorRT 10.*8\.6\.1"):
        trt_backend.import_tensorrt()


def test_tensorrt_without_precision_flags_builds_fp32_only() -> None:
    strongly_typed_only = SimpleNamespace(__version__="11.0.0", BuilderFlag=SimpleNamespace())
    check_builder_precision(strongly_typed_only, "fp32")
    with pytest.raises(BackendUnavailableError, match=r"strongly typed.*precision='fp32'"):
        check_builder_precision(strongly_typed_only, "fp16")


def _profile(manifest: ExportManifest, graph: str) -> dict[str, tuple[tuple[int, ...], ...]]:
    entries = shape_profile(manifest.graphs[graph].inputs, axis_ranges(manifest))
    return {name: (low, opt, high) for name, low, opt, high in entries}


def test_profile_spans_one_to_max_prompts_and_fixes_everything_else(
    tiny_export_dir: Path,
) -> None:
    manifest = ExportManifest.load(tiny_export_dir)  # max_prompts 4, max_boxes 3
    decoder = _profile(manifest, "decoder")
    low, opt, high = decoder["text_features"]
    assert (low[0], opt[0], high[0]) == (1, 4, 4) and low[1:] == opt[1:] == high[1:]
    assert decoder["box_mask"] == ((1, 3), (4, 3), (4, 3))
    assert len(set(decoder["fpn_x1"])) == 1  # the image features do not vary
    image = _profile(manifest, "image_encoder")
    assert image == {"pixels": ((1, 3, manifest.image_size, manifest.image_size),) * 3}
    wide = dataclasses.replace(manifest, max_prompts=16)
    assert _profile(wide, "text_encoder")["token_ids"][1][0] == 4  # opt


def test_interactive_profiles_span_objects_and_points_zero_included(
    tiny_export_dir: Path,
) -> None:
    """Objects 1..max_objects (tuned for 1), points 0..max_points (tuned for 3): a mask-only
    prompt has no points; the image's features are fixed at batch 1."""
    manifest = ExportManifest.load(tiny_export_dir)  # max_objects 2, max_points 6
    decoder = _profile(manifest, "interactive_decoder")
    assert decoder["point_coords"] == ((1, 0, 2), (1, 3, 2), (2, 6, 2))
    assert decoder["point_labels"] == ((1, 0), (1, 3), (2, 6))
    assert decoder["has_mask_input"] == ((1,), (1,), (2,))
    assert decoder["mask_input"] == ((1, 1, 48, 48), (1, 1, 48, 48), (2, 1, 48, 48))
    assert len(set(decoder["image_embedding"])) == 1
    encoder = _profile(manifest, "interactive_encoder")
    assert encoder == {"backbone": ((1, 32, 12, 12),) * 3}
    target = {"tensorrt_version": "10.7.0", "gpu_name": "GPU A", "compute_capability": (8, 9)}
    keys = {engine_key(manifest, name, "fp16", **target).digest() for name in manifest.graphs}
    assert len(keys) == 5


def test_engine_keys_differ_by_graph_precision_and_gpu(tiny_export_dir: Path) -> None:
    manifest = ExportManifest.load(tiny_export_dir)
    target = {"tensorrt_version": "10.7.0", "gpu_name": "GPU A", "compute_capability": (8, 9)}
    key = engine_key(manifest, "decoder", "fp16", **target)
    assert key.weights_sha256 == manifest.weights_sha256
    assert ("export_opset", str(manifest.opset)) in key.build_options
    others = [
        engine_key(manifest, "text_encoder", "fp16", **target),
        engine_key(manifest, "decoder", "fp32", **target),
        engine_key(manifest, "decoder", "fp16", **{**target, "gpu_name": "GPU B"}),
        engine_key(manifest, "decoder", "fp16", **{**target, "compute_capability": (9, 0)}),
    ]
    assert len({key.digest(), *(other.digest() for other in others)}) == 5
    assert engine_key(manifest, "decoder", "fp16", **target) == key


def test_engine_key_changes_with_the_graphs_outputs(tiny_export_dir: Path) -> None:
    """Same inputs, other outputs (an export from an older graph layout): another engine."""
    manifest = ExportManifest.load(tiny_export_dir)
    target = {"tensorrt_version": "10.7.0", "gpu_name": "GPU A", "compute_capability": (8, 9)}
    image = manifest.graphs["image_encoder"]
    older = dataclasses.replace(
        manifest,
        graphs={
            **manifest.graphs,
            "image_encoder": dataclasses.replace(image, outputs=image.outputs[:4]),
        },
    )
    new_key = engine_key(manifest, "image_encoder", "fp32", **target)
    old_key = engine_key(older, "image_encoder", "fp32", **target)
    assert new_key.profile == old_key.profile
    assert new_key.digest() != old_key.digest()


def test_engine_keys_differ_by_the_exports_input_size(tiny_export_dir: Path) -> None:
    """Exports of the same weights at 168 and 252 px (``sam3lib export --resolution``) never
    share an engine, the text encoder's included, whose input shapes are the same at both."""
    manifest = ExportManifest.load(tiny_export_dir)
    larger = dataclasses.replace(manifest, config=manifest.config.at_resolution(252))
    target = {"tensorrt_version": "10.7.0", "gpu_name": "GPU A", "compute_capability": (8, 9)}
    for graph in manifest.graphs:
        key = engine_key(manifest, graph, "fp16", **target)
        other = engine_key(larger, graph, "fp16", **target)
        assert ("image_size", "168") in key.build_options
        assert key.digest() != other.digest(), graph
    text = engine_key(manifest, "text_encoder", "fp16", **target)
    assert text.profile == engine_key(larger, "text_encoder", "fp16", **target).profile


def test_rope_tables_are_exported_as_constants_of_the_shapes_we_pin(
    tiny_export_dir: Path,
) -> None:
    """`pin_fp32_layers` finds RoPE by its tables' shapes: check the exporter keeps them so."""
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
    manifest = ExportManifest.load(tiny_export_dir)
    shapes = rope_table_shapes(manifest.config.vision)
    graph = onnx.load(str(tiny_export_dir / manifest.graphs["image_encoder"].file)).graph
    constants = [tuple(init.dims) for init in graph.initializer]
    for shape in shapes:
        assert constants.count(shape) == 2, shape  # one cos and one sin table
    consumers = [
        node.op_type
        for node in graph.node
        for name in node.input
        if name in {i.name for i in graph.initializer if tuple(i.dims) in shapes}
    ]
    assert set(consumers) == {"Mul"}  # applied by products, as the pinning expects


# A stand-in for the parts of TensorRT's network API that pin_fp32_layers reads.
FakeTrt = SimpleNamespace(
    LayerType=enum.Enum("LayerType", "NORMALIZATION SOFTMAX CONSTANT UNARY ELEMENTWISE SHUFFLE"),
    UnaryOperation=enum.Enum("UnaryOperation", "COS SIN NEG EXP"),
    ElementWiseOperation=enum.Enum("ElementWiseOperation", "SUM PROD"),
    BuilderFlag=enum.Enum("BuilderFlag", "FP16 BF16 TF32 OBEY_PRECISION_CONSTRAINTS"),
    float32="float32",
    float16="float16",
    bfloat16="bfloat16",
)


class FakeTensor(SimpleNamespace):
    name: str
    shape: tuple[int, ...]
    dtype: str


class FakeLayer:
    """A layer as pybind hands it out: ``op`` appears only once cast to its subclass."""

    def __init__(
        self,
        name: str,
        kind: str,
        inputs: list[str],
        shape: tuple[int, ...],
        op: enum.Enum | None = None,
    ) -> None:
        self.name, self.type, self._op = name, FakeTrt.LayerType[kind], op
        self._inputs = [FakeTensor(name=i, shape=(), dtype="float32") for i in inputs]
        self._output = FakeTensor(name=name, shape=shape, dtype="float32")
        self.num_inputs, self.num_outputs = len(inputs), 1
        self.precision: str | None = None
        self.output_types: dict[int, str] = {}

    def get_input(self, index: int) -> FakeTensor:
        return self._inputs[index]

    def get_output(self, index: int) -> FakeTensor:
        return self._output

    def set_output_type(self, index: int, dtype: str) -> None:
        self.output_types[index] = dtype


class FakeOpLayer(FakeLayer):
    @property
    def op(self) -> enum.Enum | None:
        return self._op


FakeTrt.IUnaryLayer = FakeTrt.IElementWiseLayer = FakeOpLayer


def _rope_network() -> SimpleNamespace:
    """One attention block of the image encoder as TensorRT sees it (tables 36 x 16)."""
    unary, eltwise = FakeTrt.UnaryOperation, FakeTrt.ElementWiseOperation
    layers = [
        FakeLayer("norm", "NORMALIZATION", ["x"], (1, 36, 32)),
        FakeLayer("cos", "CONSTANT", [], (36, 16)),
        FakeLayer("cos_4d", "SHUFFLE", ["cos"], (1, 1, 36, 16)),
        FakeLayer("q_cos", "ELEMENTWISE", ["norm", "cos_4d"], (1, 2, 36, 16), eltwise.PROD),
        FakeLayer("q_neg", "UNARY", ["norm"], (1, 2, 36, 16), unary.NEG),
        FakeLayer("sin", "CONSTANT", [], (1, 36, 16)),
        FakeLayer("q_sin", "ELEMENTWISE", ["q_neg", "sin"], (1, 2, 36, 16), eltwise.PROD),
        FakeLayer("q_rope", "ELEMENTWISE", ["q_cos", "q_sin"], (1, 2, 36, 16), eltwise.SUM),
        FakeLayer("scale", "CONSTANT", [], (16, 16)),
        FakeLayer("scaled", "ELEMENTWISE", ["q_rope", "scale"], (1, 2, 36, 16), eltwise.PROD),
        FakeLayer("residual", "ELEMENTWISE", ["scaled", "q_rope"], (1, 2, 36, 16), eltwise.SUM),
        FakeLayer("attention", "SOFTMAX", ["residual"], (1, 2, 36, 36)),
        FakeLayer("sine", "UNARY", ["attention"], (1, 2, 36, 36), unary.COS),
        FakeLayer("gate", "UNARY", ["attention"], (1, 2, 36, 36), unary.EXP),
    ]
    return SimpleNamespace(num_layers=len(layers), get_layer=layers.__getitem__, layers=layers)


def test_norm_softmax_and_rope_layers_are_pinned_to_fp32() -> None:
    network = _rope_network()
    pinned = pin_fp32_layers(FakeTrt, network, rope_shapes={(36, 16)})
    assert pinned == {"normalization": 1, "softmax": 1, "rope": 4}
    fp32 = {layer.name for layer in network.layers if layer.precision == "float32"}
    assert fp32 == {"norm", "q_cos", "q_sin", "q_rope", "attention", "sine"}
    for layer in network.layers:
        assert layer.output_types == ({0: "float32"} if layer.name in fp32 else {})


def test_without_rope_shapes_only_types_decide() -> None:
    network = _rope_network()
    pinned = pin_fp32_layers(FakeTrt, network, rope_shapes=())
    assert pinned == {"normalization": 1, "softmax": 1, "rope": 1}  # the in-graph cos


class FakeConfig:
    def __init__(self) -> None:
        self.flags = {FakeTrt.BuilderFlag.TF32}  # TensorRT's default

    def set_flag(self, flag: enum.Enum) -> None:
        self.flags.add(flag)

    def clear_flag(self, flag: enum.Enum) -> None:
        self.flags.discard(flag)


@pytest.mark.parametrize(
    ("precision", "flags", "pinned"),
    [
        ("fp32", set(), 0),
        ("fp16", {"FP16", "TF32", "OBEY_PRECISION_CONSTRAINTS"}, 6),
        ("bf16", {"BF16", "TF32", "OBEY_PRECISION_CONSTRAINTS"}, 6),
    ],
)
def test_precision_flags(precision: Any, flags: set[str], pinned: int) -> None:
    config = FakeConfig()
    counts = set_precision(FakeTrt, config, _rope_network(), precision, {(36, 16)})
    assert {flag.name for flag in config.flags} == flags
    assert sum(counts.values()) == pinned


# --- engines: need TensorRT and a CUDA GPU -------------------------------------------------


@pytest.fixture(scope="module")
def cuda() -> torch.device:
    pytest.importorskip(
        "tensorrt", reason='TensorRT is not installed (pip install "sam3lib[tensorrt]")'
    )
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU: TensorRT engines run on NVIDIA GPUs only")
    return torch.device("cuda")


@pytest.fixture(scope="module")
def engines(
    cuda: torch.device, tiny_export_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], TensorRTBackend]:
    """Backends by precision, built once per module into one engine cache."""
    engine_dir = tmp_path_factory.mktemp("engines")
    manifest = ExportManifest.load(tiny_export_dir)
    built: dict[str, TensorRTBackend] = {}

    def get(precision: Any) -> TensorRTBackend:
        if precision == "bf16" and torch.cuda.get_device_capability(cuda) < (8, 0):
            pytest.skip("bf16 needs an Ampere or newer GPU")
        if precision not in built:
            built[precision] = TensorRTBackend(
                tiny_export_dir,
                manifest,
                precision=precision,
                device=cuda,
                engine_dir=engine_dir,
                progress=False,
            )
        return built[precision]

    return get


@pytest.fixture(scope="module")
def eager_cuda(cuda: torch.device, resolved: ResolvedCheckpoint) -> EagerBackend:
    return EagerBackend(load_resolved_model(resolved, device=cuda))


def _prompts(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` prompts of different lengths: SOT, words, EOT, padding."""
    length = Sam3Config.tiny().text.context_length
    ids = torch.zeros(count, length, dtype=torch.int64)
    for row in range(count):
        words = torch.arange(320 + row, 320 + row + 1 + row % 4)
        ids[row, : len(words) + 2] = torch.cat(
            (torch.tensor([49406]), words, torch.tensor([49407]))
        )
    return ids, ids != 0


def _run(backend: Any, pixels: torch.Tensor, count: int, **boxes: torch.Tensor) -> Sam3Outputs:
    ids, mask = _prompts(count)
    device = backend.device
    boxes = {name: tensor.to(device) for name, tensor in boxes.items()}
    image = backend.encode_image(pixels.to(device))
    return backend.decode(image, backend.encode_text(ids.to(device), mask.to(device)), **boxes)


@pytest.mark.parametrize("count", [1, 6])  # 6 > max_prompts (4): chunked over the profile
@pytest.mark.parametrize("with_boxes", [False, True], ids=["text", "text+boxes"])
def test_fp32_engine_matches_eager(
    engines: Callable[[str], TensorRTBackend],
    eager_cuda: EagerBackend,
    pixels: torch.Tensor,
    box_prompt: dict[str, torch.Tensor],
    count: int,
    with_boxes: bool,
) -> None:
    boxes = box_prompt if with_boxes else {}
    got = _run(engines("fp32"), pixels, count, **boxes)
    want = _run(eager_cuda, pixels, count, **boxes)
    for name, have, expected in zip(Sam3Outputs._fields, got, want, strict=True):
        assert have.dtype == torch.float32, name
        torch.testing.assert_close(
            have, expected, atol=FP32_TOLERANCE, rtol=FP32_TOLERANCE, msg=name
        )


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("with_boxes", [False, True], ids=["text", "text+boxes"])
def test_low_precision_engine_scores_match_eager(
    engines: Callable[[str], TensorRTBackend],
    eager_cuda: EagerBackend,
    pixels: torch.Tensor,
    box_prompt: dict[str, torch.Tensor],
    precision: str,
    with_boxes: bool,
) -> None:
    score_tolerance, min_iou = LOW_PRECISION[precision]
    boxes = box_prompt if with_boxes else {}
    got = _run(engines(precision), pixels, 3, **boxes)
    want = _run(eager_cuda, pixels, 3, **boxes)
    for tensor in got:
        assert tensor.dtype == torch.float32 and torch.isfinite(tensor).all()
    torch.testing.assert_close(
        detection_scores(got), detection_scores(want), atol=score_tolerance, rtol=0
    )
    torch.testing.assert_close(
        got.presence_logit.sigmoid(), want.presence_logit.sigmoid(), atol=score_tolerance, rtol=0
    )
    assert mask_iou(got.mask_logits, want.mask_logits).min() >= min_iou


def _run_interactive(backend: Any, pixels: torch.Tensor, objects: int, points: int) -> Any:
    image = backend.encode_image(pixels.to(backend.device))
    features = backend.encode_interactive(image.backbone)
    prompts = random_object_prompts(objects, points)
    on_device = {name: tensor.to(backend.device) for name, tensor in prompts.items()}
    return backend.decode_interactive(features, **on_device)


@pytest.fixture(scope="module")
def eager_interactive_cuda(cuda: torch.device, interactive_model: Sam3Model) -> EagerBackend:
    return EagerBackend(copy.deepcopy(interactive_model).to(cuda))


# (objects, points): one click and its padding point; a mask alone (0 points, empty inputs);
# more objects than one engine call takes (chunked); the most points the profile allows.
INTERACTIVE_SHAPES = [(1, 2), (1, 0), (3, 3), (1, 6)]


@pytest.mark.parametrize(("objects", "points"), INTERACTIVE_SHAPES)
def test_fp32_interactive_engines_match_eager(
    engines: Callable[[str], TensorRTBackend],
    eager_interactive_cuda: EagerBackend,
    pixels: torch.Tensor,
    objects: int,
    points: int,
) -> None:
    got = _run_interactive(engines("fp32"), pixels, objects, points)
    want = _run_interactive(eager_interactive_cuda, pixels, objects, points)
    for name, have, expected in zip(InteractiveOutputs._fields, got, want, strict=True):
        assert have.dtype == torch.float32, name
        torch.testing.assert_close(
            have, expected, atol=FP32_TOLERANCE, rtol=FP32_TOLERANCE, msg=name
        )


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_low_precision_interactive_engines_match_eager(
    engines: Callable[[str], TensorRTBackend],
    eager_interactive_cuda: EagerBackend,
    pixels: torch.Tensor,
    precision: str,
) -> None:
    score_tolerance, min_iou = LOW_PRECISION[precision]
    got = _run_interactive(engines(precision), pixels, 3, 3)
    want = _run_interactive(eager_interactive_cuda, pixels, 3, 3)
    for tensor in got:
        assert tensor.dtype == torch.float32 and torch.isfinite(tensor).all()
    torch.testing.assert_close(got.iou_scores, want.iou_scores, atol=score_tolerance, rtol=0)
    torch.testing.assert_close(
        got.object_score_logits.sigmoid(),
        want.object_score_logits.sigmoid(),
        atol=score_tolerance,
        rtol=0,
    )
    assert mask_iou(got.mask_logits, want.mask_logits).min() >= min_iou


def test_cached_engines_load_without_building(
    cuda: torch.device, tiny_export_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = ExportManifest.load(tiny_export_dir)
    options: dict[str, Any] = {"precision": "fp32", "device": cuda, "progress": False}
    TensorRTBackend(tiny_export_dir, manifest, engine_dir=tmp_path, **options)
    assert len(list(tmp_path.glob("*.engine"))) == len(manifest.graphs)
    assert len(list(tmp_path.glob("timing-*.cache"))) == 1

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(trt_backend, "build_engine", no_build)
    again = TensorRTBackend(tiny_export_dir, manifest, engine_dir=tmp_path, **options)
    assert (
        again.encode_image(
            torch.zeros(1, 3, manifest.image_size, manifest.image_size, device=cuda)
        ).fpn_x1.dtype
        == torch.float32
    )


def test_threads_share_a_backend(
    engines: Callable[[str], TensorRTBackend], pixels: torch.Tensor
) -> None:
    backend = engines("fp32")
    expected = _run(backend, pixels, 2)
    results: list[Sam3Outputs] = []

    def worker() -> None:
        stream = torch.cuda.Stream()  # each thread on its own stream, as servers do
        with torch.cuda.stream(stream):
            outputs = _run(backend, pixels, 2)
        stream.synchronize()
        results.append(outputs)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for outputs in results:
        for have, want in zip(outputs, expected, strict=True):
            torch.testing.assert_close(have, want, atol=0, rtol=0)


def test_create_backend_runs_an_export_directory(
    cuda: torch.device, tiny_export_dir: Path, tmp_path: Path
) -> None:
    backend = create_backend(
        "tensorrt",
        resolve_checkpoint(tiny_export_dir),
        device="cuda",
        precision="fp16",
        engine_dir=tmp_path,
        progress=False,
    )
    assert isinstance(backend, TensorRTBackend)
    assert (backend.name, backend.precision, backend.device.type) == ("tensorrt", "fp16", "cuda")
