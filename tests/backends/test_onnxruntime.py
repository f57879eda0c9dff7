"""The onnxruntime backend runs the exported graphs with the numbers of the eager model."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sam3lib import SegmentationResult, Segmenter
from sam3lib.backends import create_backend
from sam3lib.backends.onnx_runtime import OnnxRuntimeBackend
from sam3lib.checkpoint import ResolvedCheckpoint, resolve_checkpoint
from sam3lib.errors import BackendUnavailableError, CheckpointError, InputError
from sam3lib.export import ExportManifest
from sam3lib.model import Sam3Model

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
    seen: list[int] = []
    run_graph = backend.run_graph

    def counting(graph: str, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        seen.append(int(inputs["text_features"].shape[0]))
        return run_graph(graph, inputs)

    monkeypatch.setattr(backend, "run_graph", counting)
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
def segmenters(tiny_checkpoint_dir: Path, tiny_export_dir: Path) -> tuple[Segmenter, Segmenter]:
    eager = Segmenter.from_pretrained(tiny_checkpoint_dir)
    ort = Segmenter.from_pretrained(tiny_export_dir, backend="onnxruntime")
    return eager, ort


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
    resolved: ResolvedCheckpoint,
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
    sizes = {"max_prompts": 4, "max_boxes": 3}  # tiny_export_dir's
    options = {"cache_dir": tmp_path, **sizes, "progress": False}
    first = create_backend("onnxruntime", resolved, **options)
    assert isinstance(first, OnnxRuntimeBackend)
    entries = [p for p in tmp_path.iterdir()]
    assert len(exports) == 1 and len(entries) == 1 and (entries[0] / "manifest.json").is_file()
    assert entries[0].name.startswith(first.manifest.weights_sha256[:16])

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
