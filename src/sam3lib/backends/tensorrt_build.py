"""Building TensorRT engines from the exported graphs: keys, profiles, precision, progress.

Every function takes the ``tensorrt`` module as an argument (imported by the caller only when
the backend is chosen), so this module imports without TensorRT and its logic is testable
against stand-ins.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from sam3lib.backends.base import Precision
from sam3lib.backends.engine_cache import EngineCacheWarning, EngineKey, ProfileEntry
from sam3lib.errors import BackendUnavailableError, CheckpointError
from sam3lib.export.manifest import (
    OBJECTS_AXIS,
    POINTS_AXIS,
    PROMPTS_AXIS,
    ExportManifest,
    GraphManifest,
    TensorSpec,
)
from sam3lib.model.config import VisionConfig
from sam3lib.version import __version__

OPT_PROMPTS = 4  # the prompt count TensorRT tunes kernels for (any 1..max_prompts runs)
# The interactive decoder is tuned for one object with a click or box and the padding point
# (Meta's predictor appends one): the common interactive call.
OPT_OBJECTS = 1
OPT_POINTS = 3
# Layers that only move or re-type values: a RoPE table stays a RoPE table through them.
_LAYOUT_LAYER_TYPES = (
    "SHUFFLE",
    "SLICE",
    "CAST",
    "IDENTITY",
    "CONCATENATION",
    "GATHER",
    "SQUEEZE",
    "UNSQUEEZE",
)


# --- keys and profiles ---------------------------------------------------------------------


def engine_key(
    manifest: ExportManifest,
    graph: str,
    precision: Precision,
    *,
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
) -> EngineKey:
    """The cache key of ``graph``'s engine (see :class:`EngineKey`)."""
    return EngineKey(
        weights_sha256=manifest.weights_sha256,
        graph=graph,
        precision=precision,
        profile=shape_profile(manifest.graphs[graph].inputs, axis_ranges(manifest)),
        tensorrt_version=tensorrt_version,
        gpu_name=gpu_name,
        compute_capability=(int(compute_capability[0]), int(compute_capability[1])),
        sam3lib_version=__version__,
        build_options=(
            ("export_opset", str(manifest.opset)),
            ("export_precision", manifest.precision),
            ("exported_by", manifest.sam3lib_version),
            # The input size (`sam3lib export --resolution`): the image-side shapes in the
            # profile follow it already; named here too, so that no graph of an export at one
            # size (the text encoder's shapes do not change) is ever served one at another.
            ("image_size", str(manifest.image_size)),
            # A graph whose inputs stay but whose outputs change (the image encoder's did when
            # it took on the detector's image-side work) must not reuse an old engine.
            ("outputs", ",".join(spec.name for spec in manifest.graphs[graph].outputs)),
        ),
    )


#: (min, opt, max) of one symbolic axis.
AxisRange = tuple[int, int, int]


def axis_ranges(manifest: ExportManifest) -> dict[str, AxisRange]:
    """(min, opt, max) of each symbolic axis of ``manifest``'s graphs: prompts 1..max_prompts;
    objects 1..max_objects and points 0..max_points (0: a mask-only prompt, an empty tensor,
    which TensorRT supports) when the export has the interactive graphs."""
    ranges = {PROMPTS_AXIS: (1, min(OPT_PROMPTS, manifest.max_prompts), manifest.max_prompts)}
    if manifest.max_objects is not None:
        most = manifest.max_objects
        ranges[OBJECTS_AXIS] = (1, min(OPT_OBJECTS, most), most)
    if manifest.max_points is not None:
        most = manifest.max_points
        ranges[POINTS_AXIS] = (0, min(OPT_POINTS, most), most)
    return ranges


def shape_profile(
    inputs: Sequence[TensorSpec], ranges: Mapping[str, AxisRange]
) -> tuple[ProfileEntry, ...]:
    """(name, min, opt, max) shapes of every input, each symbolic axis over its range.

    Example:
        >>> labels = TensorSpec("point_labels", "int64", ("objects", "points"))
        >>> shape_profile([labels], {"objects": (1, 1, 32), "points": (0, 3, 16)})
        (('point_labels', (1, 0), (1, 3), (32, 16)),)
    """
    low, opt, high = ({axis: bounds[i] for axis, bounds in ranges.items()} for i in range(3))
    return tuple(
        (spec.name, spec.concrete_shape(low), spec.concrete_shape(opt), spec.concrete_shape(high))
        for spec in inputs
    )


def rope_table_shapes(vision: VisionConfig) -> tuple[tuple[int, int], ...]:
    """Shapes of the RoPE cos/sin tables (tokens, head_dim): windowed and global attention.

    The exporter folds the tables (built from constants in ``model/rope.py``) into
    initializers, which TensorRT turns into constant layers of exactly these shapes.
    """
    return tuple(
        sorted({(vision.window_size**2, vision.head_dim), (vision.grid_size**2, vision.head_dim)})
    )


# --- building ------------------------------------------------------------------------------


def build_engine(
    trt: Any,
    onnx_path: Path,
    *,
    precision: Precision,
    profile: Sequence[ProfileEntry],
    rope_shapes: Collection[tuple[int, ...]],
    timing_cache: bytes | None,
    workspace_gb: float | None,
    progress: bool,
    description: str,
) -> tuple[bytes, bytes]:
    """Build one serialized engine from an ONNX file; return it and the updated timing cache.

    Raises:
        CheckpointError: TensorRT cannot parse the graph.
        BackendUnavailableError: TensorRT parsed it but could not build an engine.
    """
    logger = trt_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch: the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    # The exporter writes GroupNorm as InstanceNormalization: have TensorRT's normalisation
    # layer run it (a layer we can pin to fp32), not the InstanceNormalization plugin.
    parser.set_flag(trt.OnnxParserFlag.NATIVE_INSTANCENORM)
    # From the file, not from bytes: the parser then finds external weights beside it.
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise CheckpointError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if workspace_gb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * 2**30))
    set_precision(trt, config, network, precision, rope_shapes)
    _add_profile(builder, config, network, profile)
    timing = _timing_cache(config, timing_cache)
    config.set_timing_cache(timing, False)  # False: refuse a cache from another device
    monitor = _progress_monitor(trt, description) if progress else None
    if monitor is not None:
        config.progress_monitor = monitor
    try:
        serialized = builder.build_serialized_network(network, config)
    finally:
        if monitor is not None:
            monitor.close()
    if serialized is None:
        raise BackendUnavailableError(
            f"TensorRT could not build an engine from {onnx_path} in {precision} (see its log)"
        )
    return bytes(serialized), bytes(timing.serialize())


def set_precision(
    trt: Any,
    config: Any,
    network: Any,
    precision: Precision,
    rope_shapes: Collection[tuple[int, ...]],
) -> Counter[str]:
    """Set the builder's precision flags; in fp16/bf16 pin the fp32 layers. Returns how many
    layers were pinned, by kind."""
    if precision == "fp32":
        if hasattr(trt.BuilderFlag, "TF32"):
            config.clear_flag(trt.BuilderFlag.TF32)  # on by default in TensorRT
        return Counter()
    config.set_flag(trt.BuilderFlag.FP16 if precision == "fp16" else trt.BuilderFlag.BF16)
    config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    return pin_fp32_layers(trt, network, rope_shapes)


def pin_fp32_layers(
    trt: Any, network: Any, rope_shapes: Collection[tuple[int, ...]]
) -> Counter[str]:
    """Make normalisation, softmax and RoPE layers compute and output float32.

    Normalisation and softmax layers are found by type. RoPE has no layer type of its own; it
    is found by what it computes: ``x * cos + rotate(x) * sin`` (``model/rope.py``), where the
    tables are constants of a shape only RoPE tables have (``rope_shapes``: (tokens,
    head_dim)). So: a table is the output of a constant layer of such a shape (size-1 axes
    ignored) or of a cos/sin layer (tables computed in the graph, and the decoder's sine
    encodings), followed through layout-only layers (reshape, slice, cast...); RoPE layers are
    the products with a table and the sums of two such products. This needs no layer names,
    which the ONNX exporter does not derive from our module paths. Layers are visited in
    network order, which the ONNX parser makes topological.
    """
    kinds = trt.LayerType
    layout = {getattr(kinds, name) for name in _LAYOUT_LAYER_TYPES if hasattr(kinds, name)}
    tables: set[str] = set()  # names of tensors holding (a view of) a RoPE table
    products: set[str] = set()  # outputs of x * table
    pinned: Counter[str] = Counter()
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        inputs = {
            tensor.name
            for tensor in (layer.get_input(i) for i in range(layer.num_inputs))
            if tensor is not None
        }
        output = layer.get_output(0).name  # every TensorRT layer has an output 0
        kind = None
        if layer.type == kinds.NORMALIZATION:
            kind = "normalization"
        elif layer.type == kinds.SOFTMAX:
            kind = "softmax"
        elif layer.type == kinds.CONSTANT:
            shape = tuple(int(d) for d in layer.get_output(0).shape if d != 1)
            if shape in rope_shapes:
                tables.add(output)
        elif layer.type == kinds.UNARY:
            layer.__class__ = trt.IUnaryLayer  # the subclass's attributes (pybind returns ILayer)
            if layer.op in (trt.UnaryOperation.COS, trt.UnaryOperation.SIN):
                tables.add(output)
                kind = "rope"
        elif layer.type in layout:
            if inputs & tables:
                tables.add(output)
        elif layer.type == kinds.ELEMENTWISE:
            layer.__class__ = trt.IElementWiseLayer
            if layer.op == trt.ElementWiseOperation.PROD and inputs & tables:
                products.add(output)
                kind = "rope"
            elif layer.op == trt.ElementWiseOperation.SUM and inputs and inputs <= products:
                kind = "rope"
        if kind is not None:
            _pin_fp32(trt, layer)
            pinned[kind] += 1
    return pinned


def _pin_fp32(trt: Any, layer: Any) -> None:
    layer.precision = trt.float32
    for i in range(layer.num_outputs):
        if layer.get_output(i).dtype in (trt.float32, trt.float16, trt.bfloat16):
            layer.set_output_type(i, trt.float32)


def _add_profile(builder: Any, config: Any, network: Any, profile: Sequence[ProfileEntry]) -> None:
    """One optimisation profile over the network's dynamic inputs (none: no profile)."""
    shapes = {name: (low, opt, high) for name, low, opt, high in profile}
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    dynamic = [tensor for tensor in inputs if -1 in tuple(tensor.shape)]
    if not dynamic:
        return
    optimisation_profile = builder.create_optimization_profile()
    for tensor in dynamic:
        optimisation_profile.set_shape(tensor.name, *shapes[tensor.name])
    config.add_optimization_profile(optimisation_profile)


def _timing_cache(config: Any, data: bytes | None) -> Any:
    """A timing cache from ``data``; an empty one, with a warning, if TensorRT refuses it."""
    if data:
        try:
            cache = config.create_timing_cache(data)
        except Exception as error:  # TensorRT's own exception types are not public
            cache, reason = None, str(error)
        else:
            reason = "TensorRT refused it"
        if cache is not None:
            return cache
        warnings.warn(
            f"ignoring the saved TensorRT timing cache ({reason}); kernels are timed afresh",
            EngineCacheWarning,
            stacklevel=3,
        )
    return config.create_timing_cache(b"")


def deserialize_engine(runtime: Any, data: bytes, graph: GraphManifest) -> Any:
    """The engine in ``data``, checked to have ``graph``'s tensors; ValueError if not."""
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        raise ValueError("TensorRT cannot deserialize it (another TensorRT version or GPU?)")
    names = {engine.get_tensor_name(i) for i in range(engine.num_io_tensors)}
    expected = {spec.name for spec in (*graph.inputs, *graph.outputs)}
    if names != expected:
        raise ValueError(f"its tensors {sorted(names)} are not the graph's {sorted(expected)}")
    return engine


def torch_dtype(trt: Any, dtype: Any) -> torch.dtype:
    """The torch dtype of a TensorRT ``DataType``."""
    table = {
        trt.float32: torch.float32,
        trt.float16: torch.float16,
        trt.bfloat16: torch.bfloat16,
        trt.int32: torch.int32,
        trt.int64: torch.int64,
        trt.int8: torch.int8,
        trt.uint8: torch.uint8,
        trt.bool: torch.bool,
    }
    if dtype not in table:
        raise BackendUnavailableError(f"engine tensor type {dtype} has no torch equivalent")
    return table[dtype]


@functools.cache
def trt_logger(trt: Any) -> Any:
    """One logger per process, as TensorRT expects; warnings and errors only."""
    return trt.Logger(trt.Logger.WARNING)


def _progress_monitor(trt: Any, description: str) -> Any:
    """A TensorRT progress monitor drawing one tqdm bar per build phase, nested phases below
    their parent. The class is made here because its base class lives in ``tensorrt``."""

    class TqdmProgressMonitor(trt.IProgressMonitor):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._lock = threading.Lock()  # TensorRT reports from several threads
            self._bars: dict[str, Any] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            with self._lock:
                depth = len(self._bars)
                self._bars[phase_name] = tqdm(
                    total=num_steps,
                    desc=phase_name if depth else f"{description}: {phase_name}",
                    position=depth,
                    leave=depth == 0,
                    unit="step",
                )

        def step_complete(self, phase_name: str, step: int) -> bool:
            with self._lock:
                bar = self._bars.get(phase_name)
                if bar is not None:
                    bar.update(step + 1 - bar.n)
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            with self._lock:
                bar = self._bars.pop(phase_name, None)
                if bar is not None:
                    bar.close()

        def close(self) -> None:
            with self._lock:
                for bar in self._bars.values():
                    bar.close()
                self._bars.clear()

    return TqdmProgressMonitor()
