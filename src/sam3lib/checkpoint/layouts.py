"""Recognise a checkpoint's layout and convert its state dict to ours, and ours to the hub's.

Our layout is transformers' ``Sam3Model`` state dict, plus, when the checkpoint has the
interactive head, ``Sam3VideoModel``'s ``tracker_model.*`` (video memory included) and
``tracker_neck.*`` tensors. Three layouts are read:

* ``OURS``: what ``Sam3Model.save_pretrained`` (transformers') writes, and what
  :mod:`sam3lib.checkpoint.convert` writes for a detector-only model;
* ``HF_VIDEO``: the hub's ``facebook/sam3`` ``model.safetensors``, a ``Sam3VideoModel``: our
  detector keys under ``detector_model.``, the tracker under our names, a second copy of the
  prompt encoder's position matrix, and one tensor no path uses (:data:`HF_VIDEO_IGNORED`);
* ``META``: Meta's ``sam3.pt`` (see :mod:`sam3lib.checkpoint.meta_layout`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

from sam3lib.checkpoint._keys import IgnoredKeys, describe_keys, is_ignored
from sam3lib.checkpoint.meta_layout import (
    META_PREFIX,
    UNUSED_NO_MEMORY_PE_REASON,
    meta_to_ours,
)
from sam3lib.errors import CheckpointKeyError

HF_VIDEO_PREFIX = "detector_model."
# Our names for the interactive head's tensors (transformers' Sam3VideoModel names).
TRACKER_PREFIXES = ("tracker_model.", "tracker_neck.")
# transformers 5's Sam3VideoModel.save_pretrained writes the tracker under this doubled prefix
# (its sam3_tracker rename, ``tracker_model.`` stripped on load, is reverted on save).
_DOUBLED_TRACKER_PREFIX = "tracker_model.tracker_model."

# transformers keeps Meta's one random-Fourier matrix twice: for the image grid and in the
# prompt encoder. We keep the prompt encoder's.
HF_SHARED_IMAGE_PE = "tracker_model.shared_image_embedding.positional_embedding"
PROMPT_ENCODER_PE = "tracker_model.prompt_encoder.shared_embedding.positional_embedding"

HF_VIDEO_IGNORED: tuple[IgnoredKeys, ...] = (
    IgnoredKeys(r"tracker_model\.no_memory_positional_encoding", UNUSED_NO_MEMORY_PE_REASON),
)


class Layout(enum.Enum):
    OURS = "ours"
    HF_VIDEO = "hf_video"
    META = "meta"


def detect_layout(keys: Iterable[str]) -> Layout:
    """The layout a state dict's keys are in (``OURS`` unless a known prefix says otherwise).

    Example:
        >>> detect_layout(["detector_model.text_projection.weight"])
        <Layout.HF_VIDEO: 'hf_video'>
    """
    keys = list(keys)
    if any(key.startswith(META_PREFIX) for key in keys):
        return Layout.META
    if any(key.startswith(HF_VIDEO_PREFIX) for key in keys):
        return Layout.HF_VIDEO
    return Layout.OURS


def to_our_layout(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Convert a state dict in any known layout to ours, dropping only allow-listed tensors.

    Tensors are not copied except where Meta's layout needs a transpose or a stack. Whether
    the keys are exactly the model's is checked by the loader, which knows the model.

    Raises:
        CheckpointKeyError: if a key is neither convertible nor on an allow-list, or the hub
            layout's two copies of the prompt encoder's position matrix differ.
        NotASam3CheckpointError: if a Meta-layout dict holds no detector tensor.
    """
    layout = detect_layout(state_dict)
    if layout is Layout.META:
        return meta_to_ours(state_dict)
    if layout is Layout.HF_VIDEO:
        return _from_hf_video(state_dict)
    return dict(state_dict)


def to_hf_video_layout(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Our layout as the hub's ``Sam3VideoModel`` file has it (the inverse of
    :func:`to_our_layout` on that layout, the unused tensor aside): detector keys under
    ``detector_model.``, the tracker as it is, and transformers' second position matrix.

    Example:
        >>> pe = torch.randn(2, 4)
        >>> sorted(to_hf_video_layout({"text_projection.bias": pe[0], PROMPT_ENCODER_PE: pe}))
        ['detector_model.text_projection.bias', \
'tracker_model.prompt_encoder.shared_embedding.positional_embedding', \
'tracker_model.shared_image_embedding.positional_embedding']
    """
    converted = {
        key if key.startswith(TRACKER_PREFIXES) else HF_VIDEO_PREFIX + key: tensor
        for key, tensor in state_dict.items()
    }
    if PROMPT_ENCODER_PE in state_dict:
        # A copy, not the same tensor: safetensors refuses to write shared storage.
        converted[HF_SHARED_IMAGE_PE] = state_dict[PROMPT_ENCODER_PE].clone()
    return converted


def _from_hf_video(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    converted: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, tensor in state_dict.items():
        if key.startswith(HF_VIDEO_PREFIX):
            name = key.removeprefix(HF_VIDEO_PREFIX)
        elif key.startswith(TRACKER_PREFIXES):
            name = key.replace(_DOUBLED_TRACKER_PREFIX, "tracker_model.", 1)
            if is_ignored(name, HF_VIDEO_IGNORED):
                continue
        else:
            unknown.append(key)
            continue
        if name in converted:
            raise CheckpointKeyError(f"two tensors of the video checkpoint map to {name}")
        converted[name] = tensor
    if unknown:
        raise CheckpointKeyError(
            f"{len(unknown)} tensors of the video checkpoint are neither detector tensors "
            f"({HF_VIDEO_PREFIX}*) nor tracker tensors ({', '.join(TRACKER_PREFIXES)}):\n"
            f"{describe_keys(unknown)}"
        )
    return _merge_position_matrices(converted)


def _merge_position_matrices(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keep one of transformers' two copies of the prompt encoder's random-Fourier matrix."""
    shared = state_dict.pop(HF_SHARED_IMAGE_PE, None)
    if shared is None:
        return state_dict
    own = state_dict.setdefault(PROMPT_ENCODER_PE, shared)
    if own is not shared and not _same_values(own, shared):
        raise CheckpointKeyError(
            f"{HF_SHARED_IMAGE_PE} and {PROMPT_ENCODER_PE} differ (shapes "
            f"{tuple(shared.shape)} and {tuple(own.shape)}): Meta's tracker uses one matrix "
            "for clicks and for the image grid, so the checkpoint must hold the same values "
            "in both (a freshly initialised transformers Sam3VideoModel does not)"
        )
    return state_dict


def _same_values(a: Tensor, b: Tensor) -> bool:
    """Equal shapes and values; storage-less ``meta`` tensors compare by shape alone."""
    if a.shape != b.shape:
        return False
    return a.is_meta or b.is_meta or torch.equal(a, b.to(a.dtype))
