"""``export_onnx`` writes valid graphs and a manifest that describes them truthfully."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from sam3lib.checkpoint import load_resolved_model, resolve_checkpoint
from sam3lib.errors import CheckpointError, InputError
from sam3lib.export import ExportManifest, GraphOptions, export_onnx, onnx_export, weights_sha256
from sam3lib.export.command import main as export_command
from sam3lib.export.graphs import graph_signatures
from sam3lib.export.manifest import GRAPH_NAMES, INTERACTIVE_GRAPH_NAMES
from sam3lib.model import Sam3Model
from sam3lib.version import __version__

_ONNX_DTYPES = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.BOOL: "bool",
}


@pytest.fixture(scope="module")
def manifest(tiny_export_dir: Path) -> ExportManifest:
    return ExportManifest.load(tiny_export_dir)


def _declared(values: list[onnx.ValueInfoProto]) -> list[tuple[str, str, tuple[int | str, ...]]]:
    """(name, dtype, shape) of graph inputs or outputs as the ONNX file declares them."""
    return [
        (
            value.name,
            _ONNX_DTYPES[value.type.tensor_type.elem_type],
            tuple(d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim),
        )
        for value in values
    ]


def test_manifest_records_what_was_exported(
    manifest: ExportManifest, tiny_interactive_checkpoint_dir: Path
) -> None:
    model = load_resolved_model(resolve_checkpoint(tiny_interactive_checkpoint_dir))
    assert (manifest.batch, manifest.max_prompts, manifest.max_boxes) == (1, 4, 3)
    assert (manifest.max_objects, manifest.max_points) == (2, 6)
    assert manifest.opset >= 17 and manifest.precision == "fp32"
    assert manifest.sam3lib_version == __version__
    assert manifest.config == model.config
    assert manifest.weights_sha256 == weights_sha256(model)
    assert set(manifest.tokenizer_files) == {"vocab.json", "merges.txt"}


@pytest.mark.parametrize("graph", [*GRAPH_NAMES, *INTERACTIVE_GRAPH_NAMES])
def test_each_graph_passes_the_checker_and_matches_its_manifest_entry(
    tiny_export_dir: Path, manifest: ExportManifest, graph: str
) -> None:
    entry = manifest.graphs[graph]
    path = tiny_export_dir / entry.file
    onnx.checker.check_model(str(path), full_check=True)  # with shape inference
    proto = onnx.load(str(path))
    opsets = {o.domain: o.version for o in proto.opset_import}
    assert opsets[""] == manifest.opset
    assert _declared(list(proto.graph.input)) == [(t.name, t.dtype, t.shape) for t in entry.inputs]
    outputs = [(t.name, t.dtype, t.shape) for t in entry.outputs]
    assert _declared(list(proto.graph.output)) == outputs
    assert entry.external_data is None  # the tiny model is far below 2 GB


def _layer_norms(*modules: nn.Module) -> int:
    return sum(isinstance(m, nn.LayerNorm) for module in modules for m in module.modules())


def test_layer_norm_is_one_op(tiny_export_dir: Path, tiny_checkpoint_dir: Path) -> None:
    model = load_resolved_model(resolve_checkpoint(tiny_checkpoint_dir))
    # Encoding an image also runs the fusion encoder's first self-attention (one norm).
    first_fusion_norm = model.detr_encoder.layers[0].layer_norm1
    for graph, parts in (
        ("image_encoder", (model.vision_encoder, first_fusion_norm)),
        ("text_encoder", (model.text_encoder,)),
    ):
        ops = [n.op_type for n in onnx.load(str(tiny_export_dir / f"{graph}.onnx")).graph.node]
        assert ops.count("LayerNormalization") == _layer_norms(*parts)
        assert "ReduceMean" not in ops  # no LayerNorm decomposed into mean/variance ops


def test_rope_is_real_valued(tiny_export_dir: Path) -> None:
    proto = onnx.load(str(tiny_export_dir / "image_encoder.onnx"))
    complex_types = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}
    values = [*proto.graph.value_info, *proto.graph.input, *proto.graph.output]
    assert all(v.type.tensor_type.elem_type not in complex_types for v in values)
    assert all(i.data_type not in complex_types for i in proto.graph.initializer)


def test_large_graphs_keep_their_weights_in_external_data(
    tiny_checkpoint_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 2 GB rule, exercised with a threshold the tiny image encoder passes."""
    import onnxruntime

    model = load_resolved_model(resolve_checkpoint(tiny_checkpoint_dir))
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_THRESHOLD", 1024)
    signature = graph_signatures(model, GraphOptions())["image_encoder"]
    entry = onnx_export._export_graph("image_encoder", signature, tmp_path, 18, GraphOptions())
    assert entry.external_data == "image_encoder.onnx.data"
    proto = onnx.load(str(tmp_path / entry.file), load_external_data=False)
    external = [i for i in proto.graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL]
    assert external  # the large weights moved out (onnx keeps tiny constants inline)
    assert (tmp_path / entry.external_data).stat().st_size >= sum(
        int(next(e.value for e in i.external_data if e.key == "length")) for i in external
    )
    pixels = torch.randn(1, 3, 168, 168)
    session = onnxruntime.InferenceSession(str(tmp_path / entry.file))
    (pixel_x4, *_) = session.run(None, {"pixels": pixels.numpy()})
    with torch.no_grad():
        expected = model.encode_image(pixels).pixel_x4
    assert (torch.from_numpy(pixel_x4) - expected).abs().max() < 1e-4


@pytest.mark.parametrize(
    "options, message",
    [
        (GraphOptions(max_boxes=0), "max_boxes"),
        (GraphOptions(max_prompts=-1), "max_prompts"),
        (GraphOptions(batch=True), "batch"),  # type: ignore[arg-type]
    ],
)
def test_bad_sizes_are_input_errors(
    options: GraphOptions, message: str, tmp_path: Path, tiny_checkpoint_dir: Path
) -> None:
    model = load_resolved_model(resolve_checkpoint(tiny_checkpoint_dir))
    with pytest.raises(InputError, match=message):
        export_onnx(model, tmp_path, options)


def test_old_opsets_and_low_precision_models_are_refused(
    tmp_path: Path, tiny_checkpoint_dir: Path
) -> None:
    model: Sam3Model = load_resolved_model(resolve_checkpoint(tiny_checkpoint_dir))
    with pytest.raises(InputError, match="opset"):
        export_onnx(model, tmp_path, opset=16)
    for jobs in (0, True, 1.5):
        with pytest.raises(InputError, match="jobs"):
            export_onnx(model, tmp_path, jobs=jobs)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="float32"):
        export_onnx(model.to(torch.bfloat16), tmp_path)
    assert not any(tmp_path.iterdir())  # refused before writing anything


def test_manifest_problems_are_checkpoint_errors(tiny_export_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="sam3lib export"):
        ExportManifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a sam3lib export manifest"):
        ExportManifest.load(tmp_path)
    data = json.loads((tiny_export_dir / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"lacks image_encoder\.onnx"):
        ExportManifest.load(tmp_path)  # the graphs are elsewhere
    data["format"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="format"):
        ExportManifest.load(tmp_path)


def test_command_exports_with_the_sizes_asked_for(
    tiny_export_dir: Path, manifest: ExportManifest
) -> None:
    # tiny_export_dir is written by `sam3lib export ... --max-prompts 4 --max-boxes 3
    # --max-objects 2 --max-points 6`.
    assert (manifest.batch, manifest.max_prompts, manifest.max_boxes) == (1, 4, 3)
    assert (manifest.max_objects, manifest.max_points) == (2, 6)
    boxes = {spec.name: spec for spec in manifest.graphs["decoder"].inputs}["boxes_cxcywh"]
    assert boxes.shape == ("prompts", 3, 4)
    assert {"vocab.json", "merges.txt"} <= {p.name for p in tiny_export_dir.iterdir()}


def test_command_reports_errors_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export_command([str(tmp_path / "missing"), str(tmp_path / "out")]) == 1
    assert "sam3lib export: error:" in capsys.readouterr().err
