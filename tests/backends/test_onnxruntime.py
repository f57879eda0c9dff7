"""The onnxruntime backend runs the exported graphs with the numbers of the eager model."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers.interactive_inputs import random_object_prompts
from sam3lib import InteractiveResult, SegmentationResult, Segmenter
from sam3lib.backends import create_backend
from sam3lib.backends.onnx_runtime import OnnxRuntimeBackend
from sam3lib.checkpoint import resolve_checkpoint
from sam3lib.errors import (
    BackendUnavailableError,
    CheckpointError,
    InputError,
    InteractiveUnavailableError,
)
from sam3lib.export import ExportManifest
from sam3lib.model import InteractiveFeatures, Sam3Model

TOLERANCE = 1e-4  # the bound on every raw output, absolute


@pytest.fixture(scope="module")
def ort_backend(tiny_export_dir: Path) -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend(tiny_export_dir, ExportManifest.load(tiny_export_dir))


def _assert_close(got: tuple[torch.Tensor, ...], want: tuple[torch.Tensor, ...]) -> None:
    for have, expected in zip(got, want, strict=True):
        assert have.shape == expected.shape
        assert have.dtype == torch.float32 or have.dtype == expected.dtype
        difference = (have.float() - expected.float()).abs().max().item()
        assert difference <= TOLERANCE, difference


def _prompts(model: Sam3Model, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` different prompts of different lengths (SOT, words, EOT, padding)."""
    generator = torch.Generator().manual_seed(count)
    ids = torch.zeros(count, model.config.text.context_length, dtype=torch.int64)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for row in range(count):
        words = torch.randint(300, 40000, (1 + row % 5,), generator=generator)
        tokens = torch.cat((torch.tensor([49406]), words, torch.tensor([49407])))
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = True
    return ids, mask


@pytest.mark.parametrize("prompt_count", [1, 6])  # 6 > max_prompts (4): chunked calls
@pytest.mark.parametrize("boxes", ["none", "positive", "mixed"])
def test_raw_outputs_match_eager(
    ort_backend: OnnxRuntimeBackend,
    model: Sam3Model,
    pixels: torch.Tensor,
    prompt_count: int,
    boxes: str,
) -> None:
    ids, mask = _prompts(model, prompt_count)
    box_prompt = {}
    if boxes != "none":
        box_prompt["boxes_cxcywh"] = torch.tensor([[[0.3, 0.4, 0.2, 0.3], [0.7, 0.6, 0.3, 0.2]]])
        box_prompt["box_labels"] = torch.tensor([[1, 1 if boxes == "positive" else 0]])
    with torch.no_grad():
        image, text = model.encode_image(pixels), model.encode_text(ids, mask)
        expected = model.decode(image, text, **box_prompt)
    got_image, got_text = ort_backend.encode_image(pixels), ort_backend.encode_text(ids, mask)
    _assert_close(tuple(got_image), tuple(image))
    _assert_close(tuple(got_text), tuple(text))
    _assert_close(tuple(ort_backend.decode(got_image, got_text, **box_prompt)), tuple(expected))


def test_image_batches_are_chunked_and_decoded_per_image(
    ort_backend: OnnxRuntimeBackend, model: Sam3Model, pixels: torch.Tensor
) -> None:
    two = torch.cat((pixels, pixels.flip(-1)))  # the graph's batch is 1
    ids, mask = _prompts(model, 2)
    with torch.no_grad():
        image = model.encode_image(two)
        expected = model.decode(image, model.encode_text(ids, mask))
    got_image = ort_backend.encode_image(two)
    _assert_close(tuple(got_image), tuple(image))
    _assert_close(
        tuple(ort_backend.decode(got_image, ort_backend.encode_text(ids, mask))), tuple(expected)
    )


def _rows_per_call(
    backend: OnnxRuntimeBackend, name: str, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """From now on, the rows of input ``name`` in each of ``backend``'s graph calls."""
    seen: list[int] = []
    run_graph = backend.run_graph

    def counting(graph: str, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        seen.append(int(inputs[name].shape[0]))
        return run_graph(graph, inputs)

    monkeypatch.setattr(backend, "run_graph", counting)
    return seen


@pytest.mark.parametrize(("prompt_chunk", "calls"), [(None, [1] * 6), (2, [2, 2, 2]), (9, [4, 2])])
def test_decoder_calls_take_at_most_prompt_chunk_prompts(
    tiny_export_dir: Path,
    ort_backend: OnnxRuntimeBackend,
    model: Sam3Model,
    pixels: torch.Tensor,
    monkeypatch: pytest.MonkeyPatch,
    prompt_chunk: int | None,
    calls: list[int],
) -> None:
    """On the CPU one prompt per decoder call by default; never more than ``max_prompts`` (4)."""
    backend = OnnxRuntimeBackend(
        tiny_export_dir, ExportManifest.load(tiny_export_dir), prompt_chunk=prompt_chunk
    )
    ids, mask = _prompts(model, 6)
    with torch.no_grad():
        expected = model.decode(model.encode_image(pixels), model.encode_text(ids, mask))
    image, text = ort_backend.encode_image(pixels), ort_backend.encode_text(ids, mask)
    seen = _rows_per_call(backend, "text_features", monkeypatch)
    _assert_close(tuple(backend.decode(image, text)), tuple(expected))
    assert seen == calls


def test_too_many_boxes_is_an_input_error(
    ort_backend: OnnxRuntimeBackend, model: Sam3Model, pixels: torch.Tensor
) -> None:
    image = ort_backend.encode_image(pixels)
    text = ort_backend.encode_text(*_prompts(model, 1))
    with pytest.raises(InputError, match="max-boxes"):
        ort_backend.decode(image, text, torch.full((1, 4, 4), 0.3))  # exported for 3


@pytest.fixture(scope="module")
def ort_segmenter(tiny_export_dir: Path) -> Segmenter:
    return Segmenter.from_pretrained(tiny_export_dir, backend="onnxruntime")


@pytest.fixture(scope="module")
def segmenters(tiny_checkpoint_dir: Path, ort_segmenter: Segmenter) -> tuple[Segmenter, Segmenter]:
    """Eager on the detector-only checkpoint, onnxruntime on the export: same detector weights."""
    return Segmenter.from_pretrained(tiny_checkpoint_dir), ort_segmenter


@pytest.mark.parametrize(
    "prompt, boxes",
    [
        ("cat", None),
        ("red car", [[20, 30, 120, 110]]),
        (["cat", "dog", "a red car", "tree", "sky"], None),
        (None, [[20, 30, 120, 110], [130, 40, 240, 180]]),
    ],
)
def test_segmenter_masks_are_identical_off_the_threshold(
    segmenters: tuple[Segmenter, Segmenter],
    photo: np.ndarray,
    prompt: str | list[str] | None,
    boxes: list[list[int]] | None,
) -> None:
    """Same instances and scores; masks equal bit for bit, except pixels whose eager
    probability lies within 1e-4 of the mask threshold (logits agree to 1e-4, so such a pixel
    may fall either side; with random weights logits crowd 0, and ~0.1 % of pixels do)."""
    eager, ort = segmenters
    band = 1e-4
    # A low score threshold keeps many instances of the random-weight model.
    options = {"boxes": boxes, "threshold": 0.05}
    want = eager.segment(photo, prompt, **options)
    loose = eager.segment(photo, prompt, mask_threshold=0.5 - band, **options)
    strict = eager.segment(photo, prompt, mask_threshold=0.5 + band, **options)
    got = ort.segment(photo, prompt, **options)
    kept = 0
    for expected, wide, narrow, result in zip(
        *map(_as_list, (want, loose, strict, got)), strict=True
    ):
        np.testing.assert_allclose(result.scores, expected.scores, atol=TOLERANCE)
        np.testing.assert_allclose(result.boxes, expected.boxes, atol=1e-2)  # pixels
        settled = wide.masks == narrow.masks
        assert settled.mean() > 0.99  # random weights: logits crowd 0, yet few are this close
        assert np.array_equal(result.masks[settled], expected.masks[settled])
        assert not (result.masks & ~wide.masks).any() and not (narrow.masks & ~result.masks).any()
        kept += len(result)
    assert kept > 0  # the comparison covered real masks


def _as_list(results: SegmentationResult | list[SegmentationResult]) -> list[SegmentationResult]:
    return results if isinstance(results, list) else [results]


def test_weights_checkpoint_is_exported_once_into_the_cache(
    tiny_interactive_checkpoint_dir: Path,
    tiny_export_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The export itself is the session's `sam3lib export` of these same weights with these
    # sizes (tiny_export_dir, checked in tests/export): copying its files in stands for tracing
    # the graphs a second time, a minute of CPU, while the cache logic under test runs as is.
    exports: list[Path] = []

    def copy_of_the_session_export(
        model: object, out_dir: Path, *args: object, **kw: object
    ) -> None:
        exports.append(out_dir)
        shutil.copytree(tiny_export_dir, out_dir, dirs_exist_ok=True)

    monkeypatch.setattr("sam3lib.export.prepare.export_onnx", copy_of_the_session_export)
    resolved = resolve_checkpoint(tiny_interactive_checkpoint_dir)  # tiny_export_dir's weights
    sizes = {"max_prompts": 4, "max_boxes": 3, "max_objects": 2, "max_points": 6}  # and sizes
    options = {"cache_dir": tmp_path, **sizes, "progress": False}
    first = create_backend("onnxruntime", resolved, **options)
    assert isinstance(first, OnnxRuntimeBackend)
    entries = [p for p in tmp_path.iterdir()]
    assert len(exports) == 1 and len(entries) == 1 and (entries[0] / "manifest.json").is_file()
    assert entries[0].name.startswith(first.manifest.weights_sha256[:16])
    assert "-p4-m3-o2-n6-" in entries[0].name  # every size in the name

    second = create_backend("onnxruntime", resolved, **options)
    assert len(exports) == 1  # found in the cache, not exported again
    assert second.manifest == first.manifest


def test_sizes_of_an_existing_export_cannot_change(tiny_export_dir: Path) -> None:
    with pytest.raises(InputError, match="exported with"):
        create_backend("onnxruntime", resolve_checkpoint(tiny_export_dir), max_boxes=8)


def test_export_directory_has_no_weights_for_eager(tiny_export_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="onnxruntime"):
        Segmenter.from_pretrained(tiny_export_dir)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"precision": "bf16"}, "fp32 graphs"),
        ({"threads": 0}, "threads"),
        ({"prompt_chunk": 0}, "prompt_chunk"),
        ({"tf32": True}, "does not take"),
    ],
)
def test_bad_options_are_input_errors(
    tiny_export_dir: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        create_backend("onnxruntime", resolve_checkpoint(tiny_export_dir), **options)  # type: ignore[arg-type]


def test_missing_onnxruntime_names_the_extra(
    tiny_export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(BackendUnavailableError, match=r"sam3lib\[onnx\]"):
        create_backend("onnxruntime", resolve_checkpoint(tiny_export_dir))


# --- the interactive head: clicks, boxes and masks of one object -------------------------


PREDICT_CASES = {
    "one point": {"points": [[120.0, 70.0]]},
    "points with a negative": {
        "points": [[120.0, 70.0], [30.5, 150.25], [200.0, 20.0]],
        "point_labels": [1, 0, 1],
        "multimask": False,
    },
    "box": {"box": [40.0, 30.0, 150.0, 120.0], "multimask": False},
    "box and points": {"box": [40.0, 30.0, 150.0, 120.0], "points": [[90.0, 80.0], [60, 40]]},
    "batch of boxes": {  # 3 objects > max_objects (2): two decoder calls
        "boxes": [[40.0, 30.0, 150.0, 120.0], [0.0, 0.0, 250.0, 190.0], [100, 100, 130, 180]],
        "multimask": False,
    },
}


def _assert_same_prediction(got: InteractiveResult, want: InteractiveResult) -> None:
    """Logits, predicted IoU and object scores within the tolerance."""
    assert got.logits.shape == want.logits.shape
    for field in ("logits", "scores", "object_scores"):
        difference = np.abs(getattr(got, field) - getattr(want, field)).max()
        assert difference <= TOLERANCE, (field, difference)


@pytest.mark.parametrize("case", list(PREDICT_CASES))
def test_predict_matches_eager(
    interactive_segmenter: Segmenter,
    ort_segmenter: Segmenter,
    photo: np.ndarray,
    case: str,
) -> None:
    prompt: dict[str, Any] = {"max_hole_area": 0, **PREDICT_CASES[case]}  # raw logits
    want = interactive_segmenter.predict(photo, **prompt)
    got = ort_segmenter.predict(photo, **prompt)
    _assert_same_prediction(got, want)


@pytest.mark.parametrize("with_points", [True, False], ids=["mask and points", "mask alone"])
def test_predict_with_a_mask_input_matches_eager(
    interactive_segmenter: Segmenter,
    ort_segmenter: Segmenter,
    photo: np.ndarray,
    with_points: bool,
) -> None:
    """Alone, the mask is a prompt with no points at all (P = 0), as in Meta's predictor."""
    first = interactive_segmenter.predict(photo, points=[[120.0, 70.0]])
    prompt: dict[str, Any] = {"mask_input": first.logits[first.best], "multimask": False}
    if with_points:
        prompt.update(points=[[120.0, 70.0], [60.0, 150.0]], point_labels=[1, 0])
    want = interactive_segmenter.predict(photo, max_hole_area=0, **prompt)
    got = ort_segmenter.predict(photo, max_hole_area=0, **prompt)
    _assert_same_prediction(got, want)


@pytest.mark.parametrize(("objects", "calls"), [(1, [1]), (2, [2]), (5, [2, 2, 1])])
def test_raw_interactive_outputs_match_eager_in_chunks_of_max_objects(
    ort_backend: OnnxRuntimeBackend,
    interactive_model: Sam3Model,
    eager_features: InteractiveFeatures,
    pixels: torch.Tensor,
    monkeypatch: pytest.MonkeyPatch,
    objects: int,
    calls: list[int],
) -> None:
    backend = ort_backend
    with torch.no_grad():
        expected = interactive_model.decode_interactive(
            eager_features, **random_object_prompts(objects, 3)
        )
    got_features = backend.encode_interactive(backend.encode_image(pixels).backbone)
    _assert_close(tuple(got_features), tuple(eager_features))
    seen = _rows_per_call(backend, "point_labels", monkeypatch)
    got = backend.decode_interactive(got_features, **random_object_prompts(objects, 3))
    _assert_close(tuple(got), tuple(expected))
    assert seen == calls  # max_objects is 2


@pytest.fixture(scope="module")
def eager_features(interactive_model: Sam3Model, pixels: torch.Tensor) -> InteractiveFeatures:
    with torch.no_grad():
        return interactive_model.encode_interactive(interactive_model.encode_image(pixels).backbone)


def test_one_session_serves_two_and_six_points(
    ort_backend: OnnxRuntimeBackend,
    interactive_model: Sam3Model,
    eager_features: InteractiveFeatures,
) -> None:
    backend, features = ort_backend, eager_features
    session = backend._sessions["interactive_decoder"]
    for points in (2, 6):  # max_points is 6
        inputs = random_object_prompts(1, points)
        with torch.no_grad():
            expected = interactive_model.decode_interactive(features, **inputs)
        _assert_close(tuple(backend.decode_interactive(features, **inputs)), tuple(expected))
    assert backend._sessions["interactive_decoder"] is session


def test_more_points_than_exported_is_an_input_error(
    ort_backend: OnnxRuntimeBackend, eager_features: InteractiveFeatures
) -> None:
    with pytest.raises(InputError, match="--max-points"):
        ort_backend.decode_interactive(eager_features, **random_object_prompts(1, 7))


def _rewrite_manifest(source: Path, target: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the export ``source`` in ``target`` whose manifest ``edit`` changed."""
    shutil.copytree(source, target)
    data = json.loads((target / "manifest.json").read_text())
    edit(data)
    (target / "manifest.json").write_text(json.dumps(data))
    return target


def _as_format_2(data: dict[str, Any]) -> None:
    """What sam3lib wrote before the interactive graphs: no such graphs, sizes or tracker."""
    data["format"] = 2
    for name in ("interactive_encoder", "interactive_decoder"):
        del data["graphs"][name]
    del data["max_objects"], data["max_points"], data["config"]["tracker"]


def test_an_export_from_before_the_interactive_graphs_segments_but_says_to_export_again(
    tiny_export_dir: Path, tmp_path: Path, photo: np.ndarray
) -> None:
    old = _rewrite_manifest(tiny_export_dir, tmp_path / "old", _as_format_2)
    segmenter = Segmenter.from_pretrained(old, backend="onnxruntime")
    assert isinstance(segmenter.segment(photo, "cat", threshold=0.0), SegmentationResult)
    with pytest.raises(InteractiveUnavailableError, match="export again"):
        segmenter.predict(photo, points=[[120.0, 70.0]])


def test_an_export_of_a_detector_only_checkpoint_refuses_clicks(
    tiny_export_dir: Path, tmp_path: Path, photo: np.ndarray
) -> None:
    def detector_only(data: dict[str, Any]) -> None:
        for name in ("interactive_encoder", "interactive_decoder"):
            del data["graphs"][name]
        del data["max_objects"], data["max_points"]
        data["config"]["tracker"] = None

    directory = _rewrite_manifest(tiny_export_dir, tmp_path / "detector", detector_only)
    segmenter = Segmenter.from_pretrained(directory, backend="onnxruntime")
    with pytest.raises(InteractiveUnavailableError):
        segmenter.predict(photo, box=[40.0, 30.0, 150.0, 120.0])
    with pytest.raises(InteractiveUnavailableError, match="export again"):
        segmenter.backend.encode_interactive(torch.zeros(1, 32, 12, 12))
