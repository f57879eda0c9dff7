"""Exports at another input size (``sam3lib export --resolution``, ``export_onnx(resolution=)``):
graphs traced at that size, the size recorded in the manifest and read back, onnxruntime running
at it with eager's numbers; cached exports kept apart per size; the graph-running backends
refusing a size their graphs were not exported at, with the command that exports them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.pictures import regions_picture
from sam3lib import Segmenter
from sam3lib.backends import create_backend
from sam3lib.backends.eager import EagerBackend
from sam3lib.backends.onnx_runtime import OnnxRuntimeBackend
from sam3lib.checkpoint import ResolvedCheckpoint, load_resolved_model, resolve_checkpoint
from sam3lib.checkpoint.transformers_config import config_to_transformers_dict
from sam3lib.errors import CheckpointError, InputError
from sam3lib.export import (
    ExportManifest,
    GraphManifest,
    GraphOptions,
    export_onnx,
    onnx_export,
    weights_sha256,
)
from sam3lib.export.command import main as export_command
from sam3lib.export.graphs import GraphSignature
from sam3lib.export.prepare import prepare_export
from sam3lib.model import Sam3Outputs

SIZE = 252  # tiny's own is 168: 3 × 3 windows of 6 tokens, the position grid tiled 3 times
TOLERANCE = 1e-4  # as tests/backends/test_onnxruntime.py: every raw output, absolute


@pytest.fixture
def untraced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int | str, ...]]]:
    """``export_onnx`` with tracing replaced by an empty file per graph (the manifest is the
    real one); returns each graph's name and first input shape, in export order."""
    traced: list[tuple[str, tuple[int | str, ...]]] = []

    def write_empty(
        name: str, signature: GraphSignature, out: Path, opset: int, options: GraphOptions
    ) -> GraphManifest:
        traced.append((name, signature.inputs[0].shape))
        (out / f"{name}.onnx").write_bytes(b"")
        return GraphManifest(f"{name}.onnx", signature.inputs, signature.outputs)

    monkeypatch.setattr(onnx_export, "_export_graph", write_empty)
    return traced


def test_graphs_are_traced_at_the_resolution_and_the_manifest_reads_it_back(
    tiny_interactive_checkpoint_dir: Path,
    tmp_path: Path,
    untraced: list[tuple[str, tuple[int | str, ...]]],
) -> None:
    model = load_resolved_model(resolve_checkpoint(tiny_interactive_checkpoint_dir))
    written = export_onnx(model, tmp_path, GraphOptions(1, 1, 1), resolution=SIZE, progress=False)

    grid, config = SIZE // 14, model.config
    assert config.tracker is not None
    assert dict(untraced) == {
        "image_encoder": (1, 3, SIZE, SIZE),
        "text_encoder": ("prompts", config.text.context_length),
        "decoder": (1, config.d_model, 4 * grid, 4 * grid),  # pixel_x4: the finest FPN level
        "interactive_encoder": (1, config.vision.hidden_size, grid, grid),  # the trunk output
        "interactive_decoder": (1, config.tracker.hidden_size // 8, 4 * grid, 4 * grid),
    }
    assert config.vision.image_size == 168  # the model given is left as it was
    stored = json.loads((tmp_path / "manifest.json").read_text())
    assert stored["config"]["vision"]["image_size"] == SIZE
    read = ExportManifest.load(tmp_path)
    assert read == written and read.image_size == SIZE
    assert read.config == config.at_resolution(SIZE)
    assert read.weights_sha256 == weights_sha256(model)  # the same weights, another size


def test_a_size_the_model_cannot_run_is_refused_before_anything_is_written(
    tiny_checkpoint_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = load_resolved_model(resolve_checkpoint(tiny_checkpoint_dir))
    with pytest.raises(InputError, match=r"resolution: 170 does not run.* 168 and 252"):
        export_onnx(model, tmp_path / "api", resolution=170)
    assert export_command([str(tiny_checkpoint_dir), str(tmp_path / "cli"), "--resolution", "170"])
    assert "sam3lib export: error: resolution: 170 does not run" in capsys.readouterr().err
    assert not (tmp_path / "api").exists() and not (tmp_path / "cli").exists()


def test_a_manifest_whose_config_and_graphs_disagree_on_the_size_is_refused(
    tiny_export_dir: Path, tmp_path: Path
) -> None:
    data = json.loads((tiny_export_dir / "manifest.json").read_text())
    data["config"]["vision"]["image_size"] = SIZE  # the graphs take 168
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=f"takes 168 px images, the config says {SIZE}"):
        ExportManifest.load(tmp_path)


@pytest.mark.parametrize(
    ("resolution", "message"),
    [
        (SIZE, rf"exported at 168 px.* `sam3lib export CHECKPOINT OUT_DIR --resolution {SIZE}`"),
        (170, "170 does not run"),
    ],
)
def test_an_export_refuses_another_size_and_says_how_to_export_it(
    tiny_export_dir: Path, resolution: int, message: str
) -> None:
    with pytest.raises(InputError, match=f"resolution: .*{message}"):
        Segmenter.from_pretrained(tiny_export_dir, backend="onnxruntime", resolution=resolution)


def test_an_export_at_the_size_asked_for_loads(tiny_export_dir: Path) -> None:
    backend = create_backend("onnxruntime", resolve_checkpoint(tiny_export_dir), resolution=168)
    assert isinstance(backend, OnnxRuntimeBackend) and backend.config.vision.image_size == 168


def test_weights_are_not_exported_at_another_size_by_a_backend(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    resolved = resolve_checkpoint(tiny_checkpoint_dir)
    hint = f"is exported at 168 px.*--resolution {SIZE}` and load OUT_DIR"
    with pytest.raises(InputError, match=hint):
        create_backend("onnxruntime", resolved, cache_dir=tmp_path, resolution=SIZE)
    assert not any(tmp_path.iterdir())  # refused before exporting anything


def _checkpoint_at(source: Path, size: int, directory: Path) -> Path:
    """``source``'s files with a ``config.json`` that gives ``size`` as the input size."""
    shutil.copytree(source, directory)
    config = load_resolved_model(resolve_checkpoint(source)).config.at_resolution(size)
    (directory / "config.json").write_text(json.dumps(config_to_transformers_dict(config)))
    return directory


def test_cached_exports_of_the_same_weights_are_kept_per_input_size(
    tiny_checkpoint_dir: Path,
    tmp_path: Path,
    untraced: list[tuple[str, tuple[int | str, ...]]],
) -> None:
    own = resolve_checkpoint(tiny_checkpoint_dir)
    larger = resolve_checkpoint(_checkpoint_at(tiny_checkpoint_dir, SIZE, tmp_path / "larger"))
    cache = tmp_path / "cache"

    def prepare(resolved: ResolvedCheckpoint) -> tuple[Path, ExportManifest]:
        return prepare_export(resolved, cache_dir=cache, progress=False)

    first, at_168 = prepare(own)
    second, at_larger = prepare(larger)
    assert prepare(own) == (first, at_168)  # found in the cache, not exported again
    images = [shape for name, shape in untraced if name == "image_encoder"]
    assert images == [(1, 3, 168, 168), (1, 3, SIZE, SIZE)]
    assert (at_168.image_size, at_larger.image_size) == (168, SIZE)
    assert at_168.weights_sha256 == at_larger.weights_sha256
    assert "-r168-" in first.name and f"-r{SIZE}-" in second.name


# Tracing the three graphs of the tiny detector takes 30-35 s on this project's two shared
# cores, over the fast suite's budget for one test: the export at another size is checked here,
# and the fast tests above check what is recorded, refused and cached without tracing.
@pytest.mark.slow
def test_onnxruntime_runs_an_export_at_another_size_with_the_eager_numbers(
    tiny_checkpoint_dir: Path, tmp_path: Path, photo: np.ndarray
) -> None:
    out = tmp_path / "export"
    sizes = ["--max-prompts", "1", "--max-boxes", "1", "--jobs", "2", "--quiet"]
    argv = [str(tiny_checkpoint_dir), str(out), "--resolution", str(SIZE), *sizes]
    assert export_command(argv) == 0
    manifest = ExportManifest.load(out)
    assert manifest.image_size == SIZE

    ort = OnnxRuntimeBackend(out, manifest)
    eager = EagerBackend(
        load_resolved_model(resolve_checkpoint(tiny_checkpoint_dir), resolution=SIZE)
    )
    pixels = regions_picture(SIZE)
    ids = torch.zeros(2, 32, dtype=torch.int64)
    ids[0, :4], ids[1, :3] = (
        torch.tensor([49406, 320, 1615, 49407]),
        torch.tensor([49406, 736, 49407]),
    )
    mask = ids != 0
    box = {
        "boxes_cxcywh": torch.tensor([[[0.4, 0.5, 0.3, 0.2]]]),
        "box_labels": torch.tensor([[1]]),
    }
    with torch.no_grad():
        want = eager.decode(eager.encode_image(pixels), eager.encode_text(ids, mask), **box)
    got = ort.decode(ort.encode_image(pixels), ort.encode_text(ids, mask), **box)
    for name, have, expected in zip(Sam3Outputs._fields, got, want, strict=True):
        assert have.shape == expected.shape, name
        difference = (have - expected).abs().max().item()
        assert difference <= TOLERANCE, (name, difference)
    assert got.mask_logits.shape[-1] == 4 * SIZE // 14

    # Through the Segmenter: images resized to the export's size, as eager's at that size.
    exported = Segmenter.from_pretrained(out, backend="onnxruntime")
    reference = Segmenter.from_pretrained(tiny_checkpoint_dir, resolution=SIZE)
    for segmenter in (exported, reference):
        assert segmenter.backend.config.vision.image_size == SIZE
    result = exported.segment(photo, "cat", threshold=0.05)
    expected_result = reference.segment(photo, "cat", threshold=0.05)
    assert len(result) == len(expected_result) > 0
    np.testing.assert_allclose(result.scores, expected_result.scores, atol=TOLERANCE)
    np.testing.assert_allclose(result.boxes, expected_result.boxes, atol=1e-2)  # pixels
