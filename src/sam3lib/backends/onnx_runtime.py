"""ONNX Runtime: the exported graphs run without PyTorch in the hot loop.

The CPU execution provider by default; on ``device="cuda"`` the CUDA provider, when the
installed ``onnxruntime`` has it (the ``onnxruntime-gpu`` package). The graphs are float32, so
this backend runs ``precision="fp32"``; TensorRT is the route to fp16/bf16 engines.

Example:
    >>> seg = Segmenter.from_pretrained("sam3-onnx", backend="onnxruntime")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sam3lib.backends.base import Precision, check_options, check_prompt_chunk
from sam3lib.backends.exported import ExportedGraphBackend
from sam3lib.checkpoint.resolve import ResolvedCheckpoint
from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.export.manifest import ExportManifest
from sam3lib.export.prepare import EXPORT_OPTIONS

OPTIONS = (*EXPORT_OPTIONS, "threads", "prompt_chunk")


class OnnxRuntimeBackend(ExportedGraphBackend):
    """One ``InferenceSession`` per graph of an export directory.

    ``InferenceSession.run`` may be called from several threads at once, and no state is kept
    between calls, so one backend serves many threads.

    Args:
        directory: the export directory (``manifest.json`` and the graphs).
        manifest: its manifest.
        device: CPU, or a CUDA device when onnxruntime has the CUDA provider.
        threads: intra-op threads per session (default: onnxruntime's, one per core).
        prompt_chunk: most prompts per decoder call (see :class:`ExportedGraphBackend`).
    """

    name = "onnxruntime"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        manifest: ExportManifest,
        *,
        device: torch.device | None = None,
        threads: int | None = None,
        prompt_chunk: int | None = None,
    ) -> None:
        device = torch.device("cpu") if device is None else device
        super().__init__(manifest, "fp32", device, prompt_chunk)
        ort = _import_onnxruntime()
        providers = _providers(ort, device)
        session_options = ort.SessionOptions()
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            session_options.intra_op_num_threads = threads
        self.providers = providers
        self._sessions = {
            name: ort.InferenceSession(
                str(Path(directory) / graph.file), session_options, providers=providers
            )
            for name, graph in manifest.graphs.items()
        }

    def run_graph(self, graph: str, inputs: Mapping[str, Tensor]) -> list[Tensor]:
        feeds = {name: tensor.detach().cpu().numpy() for name, tensor in inputs.items()}
        outputs: Sequence[np.ndarray] = self._sessions[graph].run(None, feeds)
        return [
            torch.from_numpy(np.asarray(out, dtype=np.float32)).to(self.device) for out in outputs
        ]

    def __repr__(self) -> str:
        return (
            f"OnnxRuntimeBackend(device={self.device}, providers={self.providers}, "
            f"prompt_chunk={self.prompt_chunk})"
        )


def create(
    checkpoint: ResolvedCheckpoint, *, device: torch.device, precision: Precision, **options: Any
) -> OnnxRuntimeBackend:
    """The registry's entry point (see :func:`sam3lib.backends.create_backend`).

    Options: ``onnx_dir`` (an export directory to run), ``cache_dir`` (where graphs exported
    from a weights checkpoint are kept), ``batch``/``max_prompts``/``max_boxes`` (sizes of such
    an export), ``threads``, ``prompt_chunk``, ``progress``, ``resolution`` (accepted only as
    the export's own input size: graphs at another are made by ``sam3lib export --resolution``).
    """
    check_options("onnxruntime", options, OPTIONS)
    if precision != "fp32":
        raise InputError(
            f"precision: backend 'onnxruntime' runs the fp32 graphs; got {precision!r} "
            "(use backend='tensorrt' or 'amp' for fp16/bf16)"
        )
    threads = options.get("threads")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise InputError(f"threads: expected a positive integer or None, got {threads!r}")
    prompt_chunk = check_prompt_chunk(options.get("prompt_chunk"), device)
    _providers(_import_onnxruntime(), device)  # fail before a long export, not after
    from sam3lib.export.prepare import prepare_export_for_backend

    directory, manifest = prepare_export_for_backend(checkpoint, options)
    return OnnxRuntimeBackend(
        directory, manifest, device=device, threads=threads, prompt_chunk=prompt_chunk
    )


def runs_on(device: torch.device) -> bool:
    """Whether the installed onnxruntime has an execution provider for ``device`` (a CPU-only
    build has none for CUDA)."""
    try:
        _providers(_import_onnxruntime(), device)
    except BackendUnavailableError:
        return False
    return True


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise BackendUnavailableError(
            "backend 'onnxruntime' needs the onnx extra: pip install \"sam3lib[onnx]\""
        ) from err
    return onnxruntime


def _providers(ort: Any, device: torch.device) -> list[Any]:
    """Execution providers for ``device``; the CPU provider last, as onnxruntime wants."""
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        return [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
    raise BackendUnavailableError(
        f"backend 'onnxruntime' cannot run on {device}: this onnxruntime has "
        f"{', '.join(ort.get_available_providers())} (install onnxruntime-gpu for CUDA, or "
        "use device='cpu')"
    )
