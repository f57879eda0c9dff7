"""Recognise a checkpoint's layout and convert its state dict to ours.

Our layout is transformers' ``Sam3Model`` state dict. Three layouts are read:

* ``OURS``: what ``Sam3Model.save_pretrained`` (transformers' or ours, via
  :mod:`sam3lib.checkpoint.convert`) writes;
* ``HF_VIDEO``: the hub's ``facebook/sam3`` ``model.safetensors``, a ``Sam3VideoModel``: our keys
  under ``detector_model.``, plus the tracker (:data:`HF_VIDEO_IGNORED`);
* ``META``: Meta's ``sam3.pt`` (see :mod:`sam3lib.checkpoint.meta_layout`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from torch import Tensor

from sam3lib.checkpoint._keys import IgnoredKeys, describe_keys, is_ignored
from sam3lib.checkpoint.meta_layout import META_PREFIX, meta_to_ours
from sam3lib.errors import CheckpointKeyError

HF_VIDEO_PREFIX = "detector_model."

HF_VIDEO_IGNORED: tuple[IgnoredKeys, ...] = (
    IgnoredKeys(r"tracker_model\..+", "the video tracker"),
    IgnoredKeys(r"tracker_neck\..+", "the video tracker's FPN neck"),
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

    Tensors are not copied except where Meta's layout needs a transpose. Whether the keys are
    exactly the model's is checked by the loader, which knows the model.

    Raises:
        CheckpointKeyError: if a key is neither convertible nor on an allow-list.
        NotASam3CheckpointError: if a Meta-layout dict holds no detector tensor.
    """
    layout = detect_layout(state_dict)
    if layout is Layout.META:
        return meta_to_ours(state_dict)
    if layout is Layout.HF_VIDEO:
        return _strip_video_prefix(state_dict)
    return dict(state_dict)


def _strip_video_prefix(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    converted: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, tensor in state_dict.items():
        if key.startswith(HF_VIDEO_PREFIX):
            converted[key.removeprefix(HF_VIDEO_PREFIX)] = tensor
        elif not is_ignored(key, HF_VIDEO_IGNORED):
            unknown.append(key)
    if unknown:
        raise CheckpointKeyError(
            f"{len(unknown)} tensors of the video checkpoint are neither detector tensors "
            f"({HF_VIDEO_PREFIX}*) nor on the list of ignored ones:\n{describe_keys(unknown)}"
        )
    return converted
