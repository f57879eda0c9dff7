"""Loading our model from each layout, strictly, without copies; and the loader's typed errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from checkpoint_factory import (
    hf_video_state_dict,
    meta_checkpoint,
    meta_device_tensors,
    populate_hub_cache,
    save_pt,
    save_safetensors,
    truncate,
)
from torch import Tensor

from sam3lib.checkpoint import check_state_dict, load_sam3_model
from sam3lib.errors import CheckpointKeyError, CorruptCheckpointError, NotASam3CheckpointError
from sam3lib.model import Sam3Config, Sam3Model


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
    """config.json beside a sam3.pt in Meta's layout, wrapped in "model", with tracker tensors."""
    meta = meta_checkpoint(tiny_state_dict)
    return _checkpoint_dir(tmp_path / "meta", meta, tiny_config_json, "sam3.pt")


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
    assert model.config == Sam3Config.tiny()
    assert resolved.weights_path == tiny_hf_checkpoint / "model.safetensors"
    _assert_loaded(model, tiny_state_dict)


def test_from_pretrained_is_load_sam3_model_without_the_paths(
    tiny_hf_checkpoint: Path, tiny_state_dict: dict[str, Tensor]
) -> None:
    _assert_loaded(Sam3Model.from_pretrained(tiny_hf_checkpoint), tiny_state_dict)


def test_loads_the_hub_video_layout(
    tmp_path: Path, tiny_state_dict: dict[str, Tensor], tiny_config_json: Path
) -> None:
    video = hf_video_state_dict(tiny_state_dict)
    directory = _checkpoint_dir(tmp_path, video, tiny_config_json, "model.safetensors")
    _assert_loaded(Sam3Model.from_pretrained(directory), tiny_state_dict)


def test_loads_metas_layout_from_a_pt_file(
    meta_dir: Path, tiny_state_dict: dict[str, Tensor]
) -> None:
    _assert_loaded(Sam3Model.from_pretrained(meta_dir), tiny_state_dict)


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


def test_split_attention_weights_stay_views_of_the_mapped_file(meta_dir: Path) -> None:
    attention = Sam3Model.from_pretrained(meta_dir).vision_encoder.backbone.layers[0].attention
    storages = {
        projection.weight.untyped_storage().data_ptr()
        for projection in (attention.q_proj, attention.k_proj, attention.v_proj)
    }
    assert len(storages) == 1  # q, k and v still share Meta's fused tensor: nothing was copied


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


@torch.no_grad()
def test_metas_layout_and_transformers_layout_give_identical_outputs(
    meta_dir: Path, tiny_hf_checkpoint: Path
) -> None:
    """The same tiny weights written in both layouts (Meta's by the inverse mapping, fused qkv
    and in_proj included) run to bit-identical outputs, text and box prompts alike."""
    from_transformers = Sam3Model.from_pretrained(tiny_hf_checkpoint)
    from_meta = Sam3Model.from_pretrained(meta_dir)
    generator = torch.Generator().manual_seed(3)
    pixels = torch.randn(2, 3, 168, 168, generator=generator)
    ids = torch.randint(300, 40000, (2, 32), generator=generator)
    mask = torch.arange(32).expand(2, 32) < torch.tensor([[4], [7]])
    boxes = torch.tensor([[[0.4, 0.5, 0.3, 0.2]], [[0.6, 0.4, 0.2, 0.5]]])
    labels = torch.tensor([[1], [0]])
    expected = from_transformers(pixels, ids, mask, boxes, labels)
    actual = from_meta(pixels, ids, mask, boxes, labels)
    for name, want, got in zip(expected._fields, expected, actual, strict=True):
        assert torch.equal(want, got), name
    assert expected.query_logits.abs().max() > 0.01  # the check compares real signal
