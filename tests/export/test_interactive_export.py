"""The interactive head's two graphs: listed in the manifest, declared as it says, and one
decoder session serving any number of objects and of points, 0 points included."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import onnx
import onnxruntime
import pytest
import torch
from torch import nn

from helpers.interactive_inputs import random_object_prompts
from sam3lib.checkpoint import load_resolved_model, resolve_checkpoint
from sam3lib.export import ExportManifest, GraphOptions
from sam3lib.export.graphs import INTERACTIVE_FEATURE_NAMES, graph_signatures
from sam3lib.export.manifest import GRAPH_NAMES, INTERACTIVE_GRAPH_NAMES
from sam3lib.model import InteractiveFeatures, Sam3Config, Sam3Model

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def manifest(tiny_export_dir: Path) -> ExportManifest:
    return ExportManifest.load(tiny_export_dir)


@pytest.fixture(scope="module")
def interactive_model(tiny_interactive_checkpoint_dir: Path) -> Sam3Model:
    """The eager model of the weights ``tiny_export_dir`` was exported from."""
    return load_resolved_model(resolve_checkpoint(tiny_interactive_checkpoint_dir))


@pytest.fixture(scope="module")
def features(interactive_model: Sam3Model) -> InteractiveFeatures:
    """The head's features of one random image, from the eager model."""
    size = interactive_model.config.vision.image_size
    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return interactive_model.encode_interactive(interactive_model.encode_image(pixels).backbone)


def test_manifest_lists_the_interactive_graphs_and_their_sizes(
    manifest: ExportManifest, tiny_export_dir: Path
) -> None:
    assert manifest.has_interactive
    assert list(manifest.graphs) == [*GRAPH_NAMES, *INTERACTIVE_GRAPH_NAMES]
    saved = json.loads((tiny_export_dir / "manifest.json").read_text())
    assert saved["format"] == 3 and (saved["max_objects"], saved["max_points"]) == (2, 6)
    encoder, decoder = (manifest.graphs[name] for name in INTERACTIVE_GRAPH_NAMES)
    assert [spec.name for spec in encoder.inputs] == ["backbone"]
    assert encoder.outputs == decoder.inputs[:3]  # the features flow from one to the other
    assert [spec.name for spec in encoder.outputs] == list(INTERACTIVE_FEATURE_NAMES)
    shapes = {spec.name: spec.shape for spec in (*decoder.inputs, *decoder.outputs)}
    assert shapes["point_coords"] == ("objects", "points", 2)
    assert shapes["point_labels"] == ("objects", "points")
    assert shapes["has_mask_input"] == ("objects",)
    assert shapes["mask_logits"] == ("objects", 4, 48, 48)
    assert shapes["image_embedding"] == (1, 32, 12, 12)


def test_a_manifest_without_the_interactive_graphs_leaves_their_sizes_out(
    manifest: ExportManifest,
) -> None:
    detector = {name: manifest.graphs[name] for name in GRAPH_NAMES}
    detector_only = replace(manifest, graphs=detector, max_objects=None, max_points=None)
    data = detector_only.to_dict()
    assert set(data["graphs"]) == set(GRAPH_NAMES)
    assert "max_objects" not in data and "max_points" not in data
    again = ExportManifest.from_dict(json.loads(json.dumps(data)))
    assert again == detector_only and not again.has_interactive


def test_a_model_without_the_head_has_only_the_detector_graphs() -> None:
    with torch.device("meta"):
        detector_only = Sam3Model(replace(Sam3Config.tiny(), tracker=None))
    assert list(graph_signatures(detector_only, GraphOptions())) == list(GRAPH_NAMES)


def _session(directory: Path, manifest: ExportManifest, graph: str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(directory / manifest.graphs[graph].file))


def test_the_encoder_graph_matches_eager(
    tiny_export_dir: Path, manifest: ExportManifest, interactive_model: Sam3Model
) -> None:
    size = interactive_model.config.vision.image_size
    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        backbone = interactive_model.encode_image(pixels).backbone
        expected = interactive_model.encode_interactive(backbone)
    session = _session(tiny_export_dir, manifest, "interactive_encoder")
    got = session.run(None, {"backbone": backbone.numpy()})
    for have, want in zip(got, expected, strict=True):
        assert (torch.from_numpy(have) - want).abs().max() <= TOLERANCE


@pytest.mark.parametrize(
    ("objects", "points"), [(1, 2), (1, 3), (1, 5), (1, 6), (3, 2), (2, 0), (1, 0)]
)
def test_one_decoder_session_takes_any_number_of_objects_and_points(
    tiny_export_dir: Path,
    manifest: ExportManifest,
    interactive_model: Sam3Model,
    features: InteractiveFeatures,
    objects: int,
    points: int,
) -> None:
    """Traced with 2 objects and 3 points; 0 points is a mask-only prompt (no sparse token)."""
    session = _session(tiny_export_dir, manifest, "interactive_decoder")
    prompts = random_object_prompts(objects, points)
    with torch.no_grad():
        expected = interactive_model.decode_interactive(features, **prompts)
    feeds = {name: t.numpy() for name, t in zip(INTERACTIVE_FEATURE_NAMES, features, strict=True)}
    got = session.run(None, {**feeds, **{name: t.numpy() for name, t in prompts.items()}})
    for have, want in zip(got, expected, strict=True):
        assert have.shape == tuple(want.shape)
        assert (torch.from_numpy(have) - want).abs().max() <= TOLERANCE


def test_layer_norm_is_one_op_in_the_interactive_graphs(
    tiny_export_dir: Path, manifest: ExportManifest, interactive_model: Sam3Model
) -> None:
    head = interactive_model.tracker_model
    parts = (head.prompt_encoder, head.mask_decoder)
    norms = sum(isinstance(m, nn.LayerNorm) for part in parts for m in part.modules())
    graph = tiny_export_dir / manifest.graphs["interactive_decoder"].file
    ops = [node.op_type for node in onnx.load(str(graph)).graph.node]
    assert ops.count("LayerNormalization") == norms
    assert "ReduceMean" not in ops
