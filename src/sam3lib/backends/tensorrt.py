"""TensorRT: engines built from the exported ONNX graphs, cached per GPU and TensorRT version.

Each graph of the export (:mod:`sam3lib.export`) becomes one engine, built with the TensorRT
10 Python API in ``precision`` and kept in an :class:`~sam3lib.backends.engine_cache.EngineCache`
(default ``~/.cache/sam3lib/tensorrt``), so the minutes-long build happens once per weights,
shapes, precision, TensorRT version and GPU model. Text prompts are run-time inputs of the
text-encoder and decoder engines: nothing about a prompt is baked into an engine.

Precision policy (the names of the other backends):

- ``fp32``: IEEE float32; TF32 is switched off, as in ``backend="eager"``.
- ``fp16`` / ``bf16``: TensorRT may run any layer in the low type, except normalisation
  (LayerNorm, GroupNorm), softmax and RoPE, which are pinned to fp32 with
  ``OBEY_PRECISION_CONSTRAINTS``: in fp16 a LayerNorm's variance and a softmax's exponentials
  overflow (65504 is fp16's largest value), and rotating queries and keys by the RoPE tables in
  fp16 blurs the positions attention tells apart. bf16 does not overflow, but the same layers
  stay fp32 there, like the fp32 islands of ``backend="amp"``.

Optimisation profile: the "prompts" axis of the text encoder and decoder ranges over
1..``max_prompts`` (tuned for ``min(4, max_prompts)``); the interactive decoder's "objects"
axis over 1..``max_objects`` (tuned for 1) and its "points" axis over 0..``max_points`` (tuned
for 3; 0 points, a mask-only prompt, binds empty tensors). Every other size, the exemplar-box
slots included, is fixed by the export.

Example:
    >>> from sam3lib import Segmenter
    >>> seg = Segmenter.from_pretrained(  # doctest: +SKIP
    ...     "facebook/sam3", backend="tensorrt", device="cuda", precision="fp16"
    ... )
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from sam3lib.backends.base import Precision, check_flag, check_options
from sam3lib.backends.engine_cache import EngineCache
from sam3lib.backends.exported import ExportedGraphBackend
from sam3lib.backends.tensorrt_build import (
    build_engine,
    deserialize_engine,
    engine_key,
    rope_table_shapes,
    torch_dtype,
    trt_logger,
)
from sam3lib.checkpoint.resolve import ResolvedCheckpoint
from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.export.manifest import ExportManifest, GraphManifest
from sam3lib.export.prepare import EXPORT_OPTIONS, prepare_export_for_backend

OPTIONS = (*EXPORT_OPTIONS, "engine_dir", "workspace_gb")
INSTALL_HINT = 'pip install "sam3lib[tensorrt]"'


class TensorRTBackend(ExportedGraphBackend):
    """The graphs of an export directory as TensorRT engines on one CUDA device.

    Engines are loaded from the cache, or built (with a progress bar) and cached.

    Args:
        directory: the export directory (``manifest.json`` and the ONNX graphs).
        manifest: its manifest.
        precision: ``"fp32"``, ``"fp16"`` or ``"bf16"`` (see the module docstring).
        device: a CUDA device.
        engine_dir: the engine cache (default ``$SAM3LIB_CACHE/tensorrt`` or
            ``~/.cache/sam3lib/tensorrt``).
        workspace_gb: cap on the GPU scratch memory TensorRT may use while building (default:
            TensorRT's, the whole device).
        progress: show build progress.

    Raises:
        BackendUnavailableError: TensorRT is missing or cannot build this precision.
        InputError: not a CUDA device, or bf16 on a GPU without it.
        CheckpointError: TensorRT cannot parse a graph.

    Example:
        >>> directory = Path("sam3-onnx")  # written by `sam3lib export`  # doctest: +SKIP
        >>> backend = TensorRTBackend(  # doctest: +SKIP
        ...     directory, ExportManifest.load(directory), precision="fp16",
        ...     device=torch.device("cuda"),
        ... )
    """

    name = "tensorrt"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        manifest: ExportManifest,
        *,
        precision: Precision,
        device: torch.device,
        engine_dir: str | os.PathLike[str] | None = None,
        workspace_gb: float | None = None,
        progress: bool = True,
    ) -> None:
        check_cuda_precision(precision, device)
        super().__init__(manifest, precision, device)
        trt = import_tensorrt()
        check_builder_precision(trt, precision)
        self.cache = EngineCache(engine_dir)
        self._directory = Path(directory)
        self._workspace_gb = workspace_gb
        self._progress = progress
        with torch.cuda.device(device):
            # Engines must not outlive the runtime that deserialised them.
            self._runtime = trt.Runtime(trt_logger(trt))
            self._engines = {
                name: self._engine(trt, name, graph) for name, graph in manifest.graphs.items()
            }

    def run_graph(self, graph: str, inputs: Mapping[str, Tensor]) -> list[Tensor]:
        return self._engines[graph].run(inputs)

    def _engine(self, trt: Any, graph_name: str, graph: GraphManifest) -> _EngineRunner:
        key = engine_key(
            self.manifest,
            graph_name,
            self.precision,
            tensorrt_version=trt.__version__,
            gpu_name=torch.cuda.get_device_name(self.device),
            compute_capability=torch.cuda.get_device_capability(self.device),
        )
        rope_shapes = rope_table_shapes(self.config.vision) if graph_name == "image_encoder" else ()

        def build() -> bytes:
            engine, timing = build_engine(
                trt,
                self._directory / graph.file,
                precision=self.precision,
                profile=key.profile,
                rope_shapes=rope_shapes,
                timing_cache=self.cache.load_timing_cache(key),
                workspace_gb=self._workspace_gb,
                progress=self._progress,
                description=f"TensorRT {graph_name} ({self.precision})",
            )
            self.cache.save_timing_cache(key, timing)
            return engine

        engine = self.cache.load_or_build(
            key, build, lambda data: deserialize_engine(self._runtime, data, graph)
        )
        return _EngineRunner(trt, engine, graph, self.device)

    def __repr__(self) -> str:
        return (
            f"TensorRTBackend(device={self.device}, precision={self.precision!r}, "
            f"engines={str(self.cache.root)!r})"
        )


class _EngineRunner:
    """One engine and its one execution context.

    Thread safety: a context holds one inference's shapes, tensor addresses and activation
    memory, so it serves one inference at a time. A call holds a lock only while it sets
    shapes and addresses and enqueues (enqueueing does not wait for the GPU), and first makes
    its CUDA stream wait, on the GPU, for the previous inference's event, so inferences from
    threads on different streams never share the activation memory at once. One context per
    thread would let them overlap instead, at one activation memory per thread (gigabytes for
    the image encoder) for little gain: a single inference already fills the GPU.
    """

    def __init__(self, trt: Any, engine: Any, graph: GraphManifest, device: torch.device):
        self.engine = engine
        self.device = device
        self.context = engine.create_execution_context()
        if self.context is None:
            raise BackendUnavailableError(
                f"TensorRT could not create an execution context on {device} (out of GPU memory?)"
            )
        self.input_names = [spec.name for spec in graph.inputs]
        self.output_names = [spec.name for spec in graph.outputs]
        self.dtypes = {
            name: torch_dtype(trt, engine.get_tensor_dtype(name))
            for name in (*self.input_names, *self.output_names)
        }
        self._lock = threading.Lock()
        self._done: torch.cuda.Event | None = None

    def run(self, inputs: Mapping[str, Tensor]) -> list[Tensor]:
        context = self.context
        with torch.cuda.device(self.device), self._lock:
            stream = torch.cuda.current_stream()
            if self._done is not None:
                stream.wait_event(self._done)
            # Kept referenced until enqueued; the caching allocator orders any reuse of their
            # memory after this stream's work, so they may be freed when we return.
            feeds = [
                inputs[n].to(self.device, self.dtypes[n]).contiguous() for n in self.input_names
            ]
            # TensorRT wants a valid address even for an empty tensor (a mask-only prompt has
            # 0 points), and torch gives those none: each gets a one-element stand-in.
            addresses = [
                tensor if tensor.numel() else torch.empty(1, dtype=tensor.dtype, device=self.device)
                for tensor in feeds
            ]
            for name, tensor, memory in zip(self.input_names, feeds, addresses, strict=True):
                if not context.set_input_shape(name, tuple(tensor.shape)):
                    raise InputError(
                        f"{name}: shape {tuple(tensor.shape)} is outside the engine's profile"
                    )
                context.set_tensor_address(name, memory.data_ptr())
            outputs = []
            for name in self.output_names:
                shape = tuple(context.get_tensor_shape(name))
                output = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
                context.set_tensor_address(name, output.data_ptr())
                outputs.append(output)
            if not context.execute_async_v3(stream.cuda_stream):
                raise RuntimeError("TensorRT failed to enqueue the inference (see its log)")
            done = torch.cuda.Event()  # type: ignore[no-untyped-call]
            done.record(stream)
            self._done = done
        return [output.float() for output in outputs]


def create(
    checkpoint: ResolvedCheckpoint, *, device: torch.device, precision: Precision, **options: Any
) -> TensorRTBackend:
    """The registry's entry point (see :func:`sam3lib.backends.create_backend`).

    Options: ``onnx_dir`` (an export directory to run), ``cache_dir`` (where graphs exported
    from a weights checkpoint are kept), ``engine_dir`` (the engine cache),
    ``batch``/``max_prompts``/``max_boxes`` (sizes of such an export), ``workspace_gb``,
    ``progress``, ``resolution`` (only the export's own input size, see
    :func:`~sam3lib.export.prepare.prepare_export`). Everything that can be checked is checked
    before the (slow) export and build.
    """
    check_options("tensorrt", options, OPTIONS)
    progress = check_flag("progress", options.get("progress", True))
    workspace_gb = _check_workspace(options.get("workspace_gb"))
    engine_dir = options.get("engine_dir")
    if engine_dir is not None and not isinstance(engine_dir, (str, os.PathLike)):
        raise InputError(f"engine_dir: expected a directory path, got {engine_dir!r}")
    check_cuda_precision(precision, device)
    check_builder_precision(import_tensorrt(), precision)
    directory, manifest = prepare_export_for_backend(checkpoint, options)
    return TensorRTBackend(
        directory,
        manifest,
        precision=precision,
        device=device,
        engine_dir=engine_dir,
        workspace_gb=workspace_gb,
        progress=progress,
    )


# --- checks --------------------------------------------------------------------------------


def import_tensorrt() -> Any:
    """The ``tensorrt`` module, or a :class:`BackendUnavailableError` naming the extra."""
    try:
        import tensorrt
    except ImportError as err:
        raise BackendUnavailableError(
            f"backend 'tensorrt' needs NVIDIA TensorRT and a CUDA GPU: {INSTALL_HINT}"
        ) from err
    major = int(str(tensorrt.__version__).split(".")[0])
    if major < 10:
        raise BackendUnavailableError(
            f"backend 'tensorrt' needs TensorRT 10 or later; found {tensorrt.__version__}: "
            f"{INSTALL_HINT}"
        )
    return tensorrt


def check_cuda_precision(precision: Precision, device: torch.device) -> None:
    """Raise an :class:`InputError` unless ``device`` is CUDA and can run ``precision``."""
    if device.type != "cuda":
        raise InputError(
            f"device: backend 'tensorrt' runs on CUDA GPUs only; got {device} "
            "(use device='cuda', or backend='eager'/'onnxruntime' on the CPU)"
        )
    if precision == "bf16" and torch.cuda.get_device_capability(device) < (8, 0):
        raise InputError(
            f"precision: bf16 needs an Ampere or newer GPU; {torch.cuda.get_device_name(device)} "
            "is older (use precision='fp16')"
        )


def check_builder_precision(trt: Any, precision: Precision) -> None:
    """TensorRT 11 dropped the fp16/bf16 builder flags (networks are strongly typed there), so
    it cannot lower our fp32 graphs by itself."""
    if precision != "fp32" and not hasattr(trt.BuilderFlag, "FP16"):
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} builds strongly typed networks only, so it cannot make "
            f"{precision} engines from the fp32 graphs: use precision='fp32', or TensorRT 10 "
            '(pip install "tensorrt>=10,<11")'
        )


def _check_workspace(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InputError(f"workspace_gb: expected a positive number of GiB, got {value!r}")
    return float(value)
