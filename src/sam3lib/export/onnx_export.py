"""Export a :class:`~sam3lib.model.Sam3Model` to ONNX graphs and a manifest.

Three graphs for the concept detector, and two more for the interactive head when the model
has it (see :mod:`sam3lib.export.graphs`).

``torch.onnx.export`` (the torch.export-based exporter) traces each graph of
:mod:`sam3lib.export.graphs`; LayerNorm becomes one ``LayerNormalization`` op (opset >= 17),
RoPE is already real-valued in the model, and a graph whose weights near protobuf's 2 GiB
limit (the full-size image encoder: 1.8 GB) keeps them in an external-data file beside it.
Every graph is checked with ``onnx.checker``.

Example:
    >>> from sam3lib import Sam3Model
    >>> model = Sam3Model.from_pretrained("facebook/sam3")  # doctest: +SKIP
    >>> manifest = export_onnx(model, "sam3-onnx", GraphOptions(max_boxes=8))  # doctest: +SKIP
    >>> small = export_onnx(model, "sam3-onnx-672", resolution=672)  # doctest: +SKIP
    >>> small.image_size  # doctest: +SKIP
    672
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.export import Dim
from tqdm.auto import tqdm

from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.export.graphs import GraphOptions, GraphSignature, graph_signatures
from sam3lib.export.manifest import (
    OBJECTS_AXIS,
    POINTS_AXIS,
    PROMPTS_AXIS,
    ExportManifest,
    GraphManifest,
)
from sam3lib.export.weights import weights_sha256
from sam3lib.model import Sam3Config, Sam3Model
from sam3lib.version import __version__

MIN_OPSET = 17  # the first opset with LayerNormalization
DEFAULT_OPSET = 18
# protobuf cannot serialise a message over 2 GiB; torch's exporter already moves weights out
# above 1.5 GiB (headroom for the graph itself), and so do we, to record it in the manifest.
EXTERNAL_DATA_THRESHOLD = 3 * 2**29


def export_onnx(
    model: Sam3Model,
    out_dir: str | os.PathLike[str],
    options: GraphOptions | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    tokenizer_files: Mapping[str, Path] | None = None,
    progress: bool = True,
    jobs: int = 1,
    resolution: int | None = None,
) -> ExportManifest:
    """Write ``image_encoder.onnx``, ``text_encoder.onnx``, ``decoder.onnx`` (and, when the
    model has the interactive head, ``interactive_encoder.onnx`` and
    ``interactive_decoder.onnx``), ``manifest.json`` and copies of ``tokenizer_files`` into
    ``out_dir``.

    Args:
        model: a float32 model on the CPU (its weights are what gets exported).
        out_dir: created if missing; existing graph files are overwritten.
        options: batch, most prompts per call, exemplar boxes per prompt, most objects and
            points per interactive-decoder call.
        opset: ONNX opset, at least 17.
        tokenizer_files: files (by name) to copy beside the graphs, so that the directory
            alone can be loaded with ``Segmenter.from_pretrained(out_dir, backend=...)``.
        progress: show a progress bar over the graphs.
        jobs: graphs traced at once, each in a process of its own holding a copy of the
            model (tracing is single-threaded Python: on a multi-core machine 2 roughly
            halves the time; memory grows with each copy, 3.4 GB at full size).
        resolution: the input size the graphs take, instead of the model's own (see
            :meth:`Sam3Config.at_resolution`; the same weights). An export's size is fixed: the
            manifest's ``config`` records it and the backends preprocess images to it.

    Raises:
        InputError: bad options, a ``resolution`` the model cannot run, or a model that is
            not float32 on the CPU.
        BackendUnavailableError: ``onnx``/``onnxscript`` are not installed.
    """
    options = check_graph_options(options or GraphOptions())
    _check_exportable(model, opset)
    if resolution is not None:
        config = model.config.at_resolution(resolution)
        model = model if config == model.config else _model_of(config, model.state_dict())
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs: expected a positive integer, got {jobs!r}")
    _require_exporter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    signatures = graph_signatures(model, options)
    with tqdm(total=len(signatures), desc="ONNX export", unit="graph", disable=not progress) as bar:
        if jobs == 1:
            graphs = {}
            for name, signature in signatures.items():
                bar.set_postfix_str(name)
                graphs[name] = _export_graph(name, signature, out, opset, options)
                bar.update()
        else:
            graphs = _export_in_processes(model, list(signatures), out, opset, options, jobs, bar)
    copied = []
    for filename, source in (tokenizer_files or {}).items():
        shutil.copyfile(source, out / filename)
        copied.append(filename)
    manifest = ExportManifest(
        sam3lib_version=__version__,
        opset=opset,
        precision="fp32",
        batch=options.batch,
        max_prompts=options.max_prompts,
        max_boxes=options.max_boxes,
        weights_sha256=weights_sha256(model),
        config=model.config,
        graphs=graphs,
        tokenizer_files=tuple(sorted(copied)),
        max_objects=options.max_objects if model.has_interactive_head else None,
        max_points=options.max_points if model.has_interactive_head else None,
    )
    manifest.save(out)
    return manifest


def check_graph_options(options: GraphOptions) -> GraphOptions:
    """``options`` if every size is a positive int, else an :class:`InputError` naming it."""
    for name in ("batch", "max_prompts", "max_boxes", "max_objects", "max_points"):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name}: expected a positive integer, got {value!r}")
    return options


def _check_exportable(model: Sam3Model, opset: int) -> None:
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise InputError(f"opset: expected an integer >= {MIN_OPSET}, got {opset!r}")
    placement = {(p.dtype, p.device.type) for p in model.parameters()}
    if placement != {(torch.float32, "cpu")}:
        found = ", ".join(sorted(f"{d} on {t}" for d, t in placement))
        raise InputError(
            f"export needs a float32 model on the CPU; this one has {found} "
            "(load it with Sam3Model.from_pretrained(..., device='cpu'))"
        )


def _require_exporter() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise BackendUnavailableError(
            f'ONNX export needs the onnx extra ({err.name} is missing): pip install "sam3lib[onnx]"'
        ) from err


def _export_in_processes(
    model: Sam3Model,
    names: list[str],
    out: Path,
    opset: int,
    options: GraphOptions,
    jobs: int,
    bar: tqdm,
) -> dict[str, GraphManifest]:
    """Each graph traced in a worker process; "spawn" so that no thread state of this process
    is copied into the workers."""
    context = multiprocessing.get_context("spawn")
    weights = model.state_dict()  # the module itself holds unpicklable parts; its tensors do not
    with ProcessPoolExecutor(min(jobs, len(names)), mp_context=context) as pool:
        futures = {
            pool.submit(_export_graph_of, model.config, weights, name, out, opset, options): name
            for name in names
        }
        for future in as_completed(futures):
            bar.set_postfix_str(futures[future])
            bar.update()
        return {name: future.result() for future, name in futures.items()}


def _export_graph_of(
    config: Sam3Config,
    weights: dict[str, torch.Tensor],
    name: str,
    out: Path,
    opset: int,
    options: GraphOptions,
) -> GraphManifest:
    """A worker's job: one graph of the model with these weights. One thread: the workers
    share the cores."""
    torch.set_num_threads(1)
    signature = graph_signatures(_model_of(config, weights), options)[name]
    return _export_graph(name, signature, out, opset, options)


def _model_of(config: Sam3Config, weights: dict[str, torch.Tensor]) -> Sam3Model:
    """A model of ``config`` holding ``weights`` (shared, not copied), in eval mode."""
    with torch.device("meta"):
        model = Sam3Model(config)
    model.load_state_dict(weights, strict=True, assign=True)
    return model.eval()


def _export_graph(
    name: str, signature: GraphSignature, out: Path, opset: int, options: GraphOptions
) -> GraphManifest:
    axes = _symbolic_axes(options)
    sizes = {axis: example for axis, (example, _) in axes.items()}
    dynamic_shapes = tuple(
        {
            position: dim
            for position, size in enumerate(spec.shape)
            if isinstance(size, str) and (dim := axes[size][1]) is not None
        }
        or None
        for spec in signature.inputs
    )
    with torch.inference_mode(False), torch.no_grad(), _quiet_exporter():
        program = torch.onnx.export(
            signature.module,
            signature.example_inputs(sizes),
            dynamo=True,
            opset_version=opset,
            input_names=[spec.name for spec in signature.inputs],
            output_names=[spec.name for spec in signature.outputs],
            dynamic_shapes=dynamic_shapes,
            verbose=False,
        )
    assert program is not None  # the dynamo exporter always returns its program
    weight_bytes = sum(
        value.const_value.nbytes
        for value in program.model.graph.initializers.values()
        if value.const_value is not None
    )
    path = out / f"{name}.onnx"
    data_name = f"{path.name}.data"
    (out / data_name).unlink(missing_ok=True)
    program.save(str(path), external_data=weight_bytes > EXTERNAL_DATA_THRESHOLD)
    external = (out / data_name).is_file()  # what was written, whoever decided it
    _check_graph(path)
    return GraphManifest(
        file=path.name,
        inputs=signature.inputs,
        outputs=signature.outputs,
        external_data=data_name if external else None,
    )


def _symbolic_axes(options: GraphOptions) -> dict[str, tuple[int, Dim | None]]:
    """Per symbolic axis: the size to trace with, and its ``Dim`` (None: fixed at that size).

    torch.export specialises example sizes 0 and 1, so an axis is traced at 2 or more (3 for
    points, unlike any other size) and declared from its minimum to its maximum; an axis whose
    maximum is 1 stays fixed at 1. Points may be 0: a mask-only prompt has no sparse token, and
    the graph computes that case as the model does (checked in the tests).
    """

    def from_one(axis: str, most: int) -> tuple[int, Dim | None]:
        return (1, None) if most == 1 else (2, Dim(axis, min=1, max=most))

    return {
        PROMPTS_AXIS: from_one(PROMPTS_AXIS, options.max_prompts),
        OBJECTS_AXIS: from_one(OBJECTS_AXIS, options.max_objects),
        POINTS_AXIS: (3, Dim(POINTS_AXIS, min=0, max=max(options.max_points, 3))),
    }


def _check_graph(path: Path) -> None:
    import onnx

    # By path: the checker then also reads external data and allows models over 2 GB.
    onnx.checker.check_model(str(path), full_check=False)


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress prints and warnings; sam3lib shows its own progress."""
    loggers = [
        logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnx_ir")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
