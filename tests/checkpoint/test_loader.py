"""Loading our model from each layout, strictly, without copies; and the loader's typed errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from checkpoint_factory import (
    SHARED_IMAGE_PE,
    TINY_DETECTOR_CONFIG,
    hf_video_state_dict,
    meta_checkpoint,
    meta_device_tensors,
    populate_hub_cache,
    save_pt,
    save_safetensors,
    tiny_transformers_video_config,
    truncate,
    write_hub_checkpoint,
)
from torch import Tensor

from sam3lib.checkpoint import check_state_dict, config_to_transformers_dict, load_sam3_model
from sam3lib.errors import (
    CheckpointKeyError,
    CorruptCheckpointError,
    InteractiveUnavailableError,
    NotASam3CheckpointError,
)
from sam3lib.model import Sam3Config, Sam3Model
from sam3lib.model.video_memory import is_video_memory_key


def _checkpoint_dir(
    directory: Path, state_dict: dict[str, Any], config_json: Path, weights: str
) -> Path:
    """A directory with config.json and weights named ``weights`` (.safetensors or .pt)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config_json, directory / "config.json")
    if weights.endswith(".safetensors"):
        save_safetensors(directory / weights, state_dict)
    else:
        save_pt(directory / weights, state_dict)
    return directory


@pytest.fixture
def meta_dir(tmp_path: Path, tiny_state_dict: dict[str, Tensor], tiny_config_json: Path) -> Path:
    """config.json beside a sam3.pt in Meta's layout, wrapped in "model": the tiny detector's
    weights (no interactive head) and a few video-memory tensors."""
    meta = meta_checkpoint(tiny_state_dict)
    return _checkpoint_dir(tmp_path / "meta", meta, tiny_config_json, "sam3.pt")


@pytest.fixture
def meta_dir_with_tracker(tmp_path: Path, tiny_state_dict_with_tracker: dict[str, Tensor]) -> Path:
    """As ``meta_dir``, with the interactive head, beside the config.json of both heads."""
    config_json = tmp_path / "sam3_video_config.json"
    config_json.write_text(json.dumps(config_to_transformers_dict(Sam3Config.tiny())))
    meta = meta_checkpoint(tiny_state_dict_with_tracker)
    return _checkpoint_dir(tmp_path / "meta_with_tracker", meta, config_json, "sam3.pt")


@pytest.fixture
def hub_dir(tmp_path: Path, tiny_state_dict_with_tracker: dict[str, Tensor]) -> Path:
    """The same weights as ``meta_dir_with_tracker`` in the hub's facebook/sam3 layout."""
    return write_hub_checkpoint(tmp_path / "hub", tiny_state_dict_with_tracker)


def _assert_loaded(model: Sam3Model, expected: dict[str, Tensor]) -> None:
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(loaded[key], tensor), key
    assert not any(t.is_meta for t in model.parameters())
    assert not model.training


def test_loads_a_transformers_save_pretrained_directory(
    tiny_hf_checkpoint: Path, tiny_state_dict: dict[str, Tensor]
) -> None:
    model, resolved = load_sam3_model(tiny_hf_checkpoint)
    assert model.config == TINY_DETECTOR_CONFIG  # transformers' Sam3Model has no tracker
    assert resolved.weights_path == tiny_hf_checkpoint / "model.safetensors"
    _assert_loaded(model, tiny_state_dict)


def test_from_pretrained_is_load_sam3_model_without_the_paths(
    tiny_hf_checkpoint: Path, tiny_state_dict: dict[str, Tensor]
) -> None:
    _assert_loaded(Sam3Model.from_pretrained(tiny_hf_checkpoint), tiny_state_dict)


def test_loads_the_hub_video_layout_with_the_interactive_head(
    hub_dir: Path, tiny_state_dict_with_tracker: dict[str, Tensor]
) -> None:
    model = Sam3Model.from_pretrained(hub_dir)
    assert model.config == Sam3Config.tiny()
    assert model.has_interactive_head
    _assert_loaded(model, tiny_state_dict_with_tracker)


def test_loads_metas_layout_from_a_pt_file(
    meta_dir_with_tracker: Path, tiny_state_dict_with_tracker: dict[str, Tensor]
) -> None:
    model = Sam3Model.from_pretrained(meta_dir_with_tracker)
    assert model.config == Sam3Config.tiny()
    _assert_loaded(model, tiny_state_dict_with_tracker)


def test_loads_what_transformers_video_model_saves(tmp_path: Path) -> None:
    """``Sam3VideoModel.save_pretrained``: its config.json, its ``tracker_model.tracker_model.``
    keys, the video memory and both position matrices (made equal, as in the published file)."""
    torch.manual_seed(0)
    reference = transformers.Sam3VideoModel(tiny_transformers_video_config()).eval()
    tracker = reference.tracker_model
    with torch.no_grad():
        tracker.shared_image_embedding.positional_embedding.copy_(
            tracker.prompt_encoder.shared_embedding.positional_embedding
        )
    reference.save_pretrained(tmp_path)
    model = Sam3Model.from_pretrained(tmp_path)
    assert model.config == Sam3Config.tiny()
    theirs = reference.state_dict()
    for key, tensor in model.state_dict().items():
        name = (
            key if key.startswith(("tracker_model.", "tracker_neck.")) else f"detector_model.{key}"
        )
        assert torch.equal(tensor, theirs[name]), key


def test_hub_and_meta_layouts_of_the_same_weights_load_identically(
    hub_dir: Path, meta_dir_with_tracker: Path
) -> None:
    """Meta's layout written by the inverse mapping (fused qkv, split point embeddings, the
    tracker neck under sam2_convs) and the hub's layout (duplicate position matrix)."""
    from_hub = Sam3Model.from_pretrained(hub_dir).state_dict()
    from_meta = Sam3Model.from_pretrained(meta_dir_with_tracker).state_dict()
    assert from_hub.keys() == from_meta.keys()
    assert any(key.startswith("tracker_model.") for key in from_hub)
    for key, tensor in from_hub.items():
        assert torch.equal(from_meta[key], tensor), key


@pytest.mark.parametrize("layout", ["transformers", "meta"])
def test_a_detector_only_checkpoint_loads_without_the_interactive_head(
    layout: str, tiny_hf_checkpoint: Path, meta_dir: Path, tiny_state_dict: dict[str, Tensor]
) -> None:
    model = Sam3Model.from_pretrained(tiny_hf_checkpoint if layout == "transformers" else meta_dir)
    _assert_loaded(model, tiny_state_dict)
    assert model.config.tracker is None and not model.has_interactive_head
    with pytest.raises(InteractiveUnavailableError, match="no interactive"):
        model.encode_interactive(torch.zeros(1, 32, 12, 12))


@pytest.mark.parametrize("layout", ["hub", "meta"])
def test_a_tracker_checkpoint_without_video_memory_loads_without_it(
    layout: str, tmp_path: Path, tiny_state_dict_with_tracker: dict[str, Tensor]
) -> None:
    """An image-only export of the interactive head: no video-memory tensor. The config.json
    still describes the video memory; the loader drops it as it drops a missing tracker."""
    image_only = {
        k: v for k, v in tiny_state_dict_with_tracker.items() if not is_video_memory_key(k)
    }
    assert len(image_only) < len(tiny_state_dict_with_tracker)
    if layout == "hub":
        directory = write_hub_checkpoint(tmp_path / "hub", image_only)
    else:
        config_json = tmp_path / "config.json"
        config_json.write_text(json.dumps(config_to_transformers_dict(Sam3Config.tiny())))
        directory = _checkpoint_dir(
            tmp_path / "meta", meta_checkpoint(image_only), config_json, "sam3.pt"
        )
    model = Sam3Model.from_pretrained(directory)
    assert model.config == replace(Sam3Config.tiny(), video=None)
    _assert_loaded(model, image_only)
    features = model.encode_interactive(model.encode_image(torch.zeros(1, 3, 168, 168)).backbone)
    clicks, labels = torch.tensor([[[80.0, 60.0]]]), torch.tensor([[1]])
    out = model.decode_interactive(
        features, clicks, labels, torch.zeros(1, 1, 48, 48), torch.tensor([False])
    )
    assert out.mask_logits.shape == (1, 4, 48, 48)


def test_the_video_memory_loads_from_both_layouts(
    hub_dir: Path, meta_dir_with_tracker: Path, tiny_state_dict_with_tracker: dict[str, Tensor]
) -> None:
    video_memory = {k: v for k, v in tiny_state_dict_with_tracker.items() if is_video_memory_key(k)}
    assert len(video_memory) > 20
    for directory in (hub_dir, meta_dir_with_tracker):
        loaded = Sam3Model.from_pretrained(directory).state_dict()
        for key, tensor in video_memory.items():
            assert torch.equal(loaded[key], tensor), key


def test_differing_copies_of_the_position_matrix_are_refused(
    hub_dir: Path, tiny_state_dict_with_tracker: dict[str, Tensor]
) -> None:
    """What a freshly initialised transformers Sam3VideoModel saves: two different matrices."""
    tensors = hf_video_state_dict(tiny_state_dict_with_tracker)
    tensors[SHARED_IMAGE_PE] = torch.randn(tensors[SHARED_IMAGE_PE].shape)
    save_safetensors(hub_dir / "model.safetensors", tensors)
    with pytest.raises(CheckpointKeyError, match="must hold the same values"):
        Sam3Model.from_pretrained(hub_dir)


def test_loads_from_the_hub_cache(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tiny_hf_checkpoint: Path,
    tiny_state_dict: dict[str, Tensor],
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    files = {name: tiny_hf_checkpoint / name for name in ("config.json", "model.safetensors")}
    populate_hub_cache(tmp_path, "acme/tiny-sam3", files)
    model, resolved = load_sam3_model("acme/tiny-sam3", cache_dir=tmp_path)
    assert resolved.source == "acme/tiny-sam3"
    _assert_loaded(model, tiny_state_dict)


@pytest.mark.parametrize("layout", ["meta", "hub", "transformers"])
def test_every_loaded_tensor_owns_aligned_memory(
    layout: str, meta_dir_with_tracker: Path, hub_dir: Path, tiny_hf_checkpoint: Path
) -> None:
    """No weight is a view into another tensor (Meta's fused qkv) or a file: GEMM kernels take
    other paths, rounding differently, for operands at unaligned addresses."""
    directories = {
        "meta": meta_dir_with_tracker,
        "hub": hub_dir,
        "transformers": tiny_hf_checkpoint,
    }
    model = Sam3Model.from_pretrained(directories[layout])
    storages = set()
    for name, tensor in model.state_dict().items():
        assert tensor.is_contiguous() and tensor.storage_offset() == 0, name
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size(), name
        assert tensor.data_ptr() % 64 == 0, name
        storages.add(tensor.untyped_storage().data_ptr())
    assert len(storages) == len(model.state_dict())


def test_casts_floating_point_weights_to_the_requested_dtype(
    tiny_hf_checkpoint: Path, tiny_state_dict: dict[str, Tensor]
) -> None:
    model = Sam3Model.from_pretrained(tiny_hf_checkpoint, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    expected = {k: v.to(torch.bfloat16) for k, v in tiny_state_dict.items()}
    _assert_loaded(model, expected)


def test_a_bare_weights_file_gets_the_published_configuration(tiny_hf_checkpoint: Path) -> None:
    # The tiny weights cannot fill the full-size model: the error shows which model was built.
    shapes = r"detr_decoder\.box_head\.layer1\.bias: model \(256,\), checkpoint \(32,\)"
    with pytest.raises(CheckpointKeyError, match=shapes):
        Sam3Model.from_pretrained(tiny_hf_checkpoint / "model.safetensors")


# --- strictness -------------------------------------------------------------------------------


def test_a_missing_tensor_is_named(
    tmp_path: Path, tiny_state_dict: dict[str, Tensor], tiny_config_json: Path
) -> None:
    incomplete = dict(tiny_state_dict)
    del incomplete["detr_decoder.presence_token.weight"]
    directory = _checkpoint_dir(tmp_path, incomplete, tiny_config_json, "model.safetensors")
    with pytest.raises(CheckpointKeyError, match=r"1 missing:\n  detr_decoder\.presence_token"):
        Sam3Model.from_pretrained(directory)


def test_unexpected_tensors_are_listed_with_a_count(
    tmp_path: Path, tiny_state_dict: dict[str, Tensor], tiny_config_json: Path
) -> None:
    extra = {f"extra_head.layers.{i:02d}.weight": torch.zeros(1) for i in range(25)}
    directory = _checkpoint_dir(
        tmp_path, {**tiny_state_dict, **extra}, tiny_config_json, "model.safetensors"
    )
    with pytest.raises(CheckpointKeyError) as caught:
        Sam3Model.from_pretrained(directory)
    message = str(caught.value)
    assert "25 unexpected" in message
    assert "extra_head.layers.00.weight" in message and "extra_head.layers.19.weight" in message
    assert "extra_head.layers.20.weight" not in message
    assert "... and 5 more" in message


def test_a_misshapen_tensor_is_shown_with_both_shapes(
    tmp_path: Path, tiny_state_dict: dict[str, Tensor], tiny_config_json: Path
) -> None:
    wrong = {**tiny_state_dict, "text_projection.weight": torch.zeros(32, 33)}
    directory = _checkpoint_dir(tmp_path, wrong, tiny_config_json, "model.safetensors")
    with pytest.raises(
        CheckpointKeyError,
        match=r"text_projection\.weight: model \(32, 32\), checkpoint \(32, 33\)",
    ):
        Sam3Model.from_pretrained(directory)


def test_weights_of_another_model_are_not_sam3(tmp_path: Path, tiny_config_json: Path) -> None:
    other = {f"encoder.layer.{i}.dense.weight": torch.zeros(4, 4) for i in range(3)}
    directory = _checkpoint_dir(tmp_path, other, tiny_config_json, "model.safetensors")
    with pytest.raises(NotASam3CheckpointError, match=r"encoder\.layer\.0\.dense\.weight"):
        Sam3Model.from_pretrained(directory)


def test_a_pickle_with_unrelated_keys_is_not_sam3(tmp_path: Path) -> None:
    path = save_pt(tmp_path / "sam3.pt", {"model": {"fc.weight": torch.zeros(2, 2)}})
    with pytest.raises(NotASam3CheckpointError):
        Sam3Model.from_pretrained(path)


def test_a_truncated_checkpoint_is_corrupt(tmp_path: Path, tiny_hf_checkpoint: Path) -> None:
    directory = tmp_path / "ckpt"
    shutil.copytree(tiny_hf_checkpoint, directory)
    truncate(directory / "model.safetensors", keep_fraction=0.9)
    with pytest.raises(CorruptCheckpointError):
        Sam3Model.from_pretrained(directory)


def test_a_truncated_meta_checkpoint_is_corrupt(
    tmp_path: Path, tiny_state_dict: dict[str, Tensor]
) -> None:
    path = truncate(save_pt(tmp_path / "sam3.pt", meta_checkpoint(tiny_state_dict)), 0.9)
    with pytest.raises(CorruptCheckpointError):
        Sam3Model.from_pretrained(path)


def test_full_size_weights_for_a_tiny_config_get_the_detailed_report(
    hf_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    with torch.device("meta"):
        expected = {k: v.shape for k, v in Sam3Model(Sam3Config.tiny()).state_dict().items()}
    with pytest.raises(CheckpointKeyError, match=r"1106 unexpected") as caught:
        check_state_dict(meta_device_tensors(hf_key_shapes), expected, source="sam3.safetensors")
    assert "with the wrong shape" in str(caught.value)


_COMPARE_LAYOUTS = """
import sys
import torch
from sam3lib.model import Sam3Model

with torch.no_grad():
    from_transformers = Sam3Model.from_pretrained(sys.argv[1])
    from_meta = Sam3Model.from_pretrained(sys.argv[2])
    generator = torch.Generator().manual_seed(3)
    pixels = torch.randn(2, 3, 168, 168, generator=generator)
    ids = torch.randint(300, 40000, (2, 32), generator=generator)
    mask = torch.arange(32).expand(2, 32) < torch.tensor([[4], [7]])
    boxes = torch.tensor([[[0.4, 0.5, 0.3, 0.2]], [[0.6, 0.4, 0.2, 0.5]]])
    labels = torch.tensor([[1], [0]])
    expected = from_transformers(pixels, ids, mask, boxes, labels)
    actual = from_meta(pixels, ids, mask, boxes, labels)
assert expected.query_logits.abs().max() > 0.01  # the check compares real signal
differ = [n for n, a, b in zip(expected._fields, expected, actual) if not torch.equal(a, b)]
print("differ:", ",".join(differ))
"""


# MKL picks its kernels by CPU: on AMD (AVX2) it took a path whose results depend on operand
# alignment, and presence_logit differed in the last bits between the layouts while Intel's
# AVX-512 path agreed. MKL_ENABLE_INSTRUCTIONS=AVX selects such a path on any x86 CPU, so the
# check runs on this machine's own kernels and on that one (in a fresh process: MKL reads the
# variable once).
@pytest.mark.parametrize("mkl_instructions", [None, "AVX"])
def test_metas_layout_and_transformers_layout_give_identical_outputs(
    mkl_instructions: str | None, meta_dir: Path, tiny_hf_checkpoint: Path
) -> None:
    """The same tiny weights written in both layouts (Meta's by the inverse mapping, fused qkv
    and in_proj included) run to bit-identical outputs, text and box prompts alike."""
    env = dict(os.environ)
    env.pop("MKL_ENABLE_INSTRUCTIONS", None)
    if mkl_instructions is not None:
        env["MKL_ENABLE_INSTRUCTIONS"] = mkl_instructions
    run = subprocess.run(
        [sys.executable, "-c", _COMPARE_LAYOUTS, str(tiny_hf_checkpoint), str(meta_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "differ: \n" in run.stdout, run.stdout
