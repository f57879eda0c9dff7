"""Build a SAM 3 model from a checkpoint, with no random init and no second copy of the weights.

The model is built on the ``meta`` device (parameters without storage), the checkpoint is read,
converted to our layout, checked strictly against the model's keys and shapes, and its tensors
become the model's parameters (``load_state_dict(assign=True)``). Every parameter ends up an
owned, contiguous, 64-byte-aligned tensor: the same weights then run through the same kernels
whichever layout they came from (see :mod:`sam3lib.checkpoint.files`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import TypedDict

import torch
from torch import Tensor, nn

from sam3lib.checkpoint._keys import describe_keys
from sam3lib.checkpoint.files import read_state_dict
from sam3lib.checkpoint.layouts import TRACKER_PREFIXES, to_our_layout
from sam3lib.checkpoint.resolve import ResolvedCheckpoint, resolve_checkpoint
from sam3lib.checkpoint.transformers_config import read_transformers_config
from sam3lib.errors import CheckpointError, CheckpointKeyError, NotASam3CheckpointError
from sam3lib.model import Sam3Config, Sam3Model
from sam3lib.model.video_memory import is_video_memory_key


class LoadOptions(TypedDict, total=False):
    """Keyword options of :func:`load_sam3_model`, for APIs that pass them through."""

    revision: str | None
    token: str | None
    cache_dir: str | os.PathLike[str] | None
    device: str | torch.device
    dtype: torch.dtype


def load_sam3_model(
    source: str | os.PathLike[str],
    *,
    revision: str | None = None,
    token: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Sam3Model, ResolvedCheckpoint]:
    """Load SAM 3 from a hub repo id, a checkpoint directory or a weights file.

    The configuration comes from the checkpoint's ``config.json``; without one (a bare
    ``sam3.pt`` or ``.safetensors`` file) the published SAM 3 configuration is used.

    Args:
        source: ``"facebook/sam3"``, a directory, or a ``.safetensors``/``.pt``/``.pth`` file.
        revision, token, cache_dir: passed to the Hugging Face Hub for a repo id.
        device: where the parameters go.
        dtype: floating-point parameters are cast to it.

    Returns:
        The model in eval mode, and the checkpoint's local files (tokenizer files included).

    Raises:
        CheckpointError: or a subclass, if the checkpoint cannot be found, read or matched.
        ConfigError: if ``config.json`` is not a SAM 3 configuration.

    Example:
        >>> model, files = load_sam3_model("facebook/sam3", device="cuda")  # doctest: +SKIP
        >>> files.tokenizer_files["tokenizer.json"]  # doctest: +SKIP
    """
    resolved = resolve_checkpoint(source, revision=revision, token=token, cache_dir=cache_dir)
    return load_resolved_model(resolved, device=device, dtype=dtype), resolved


def load_resolved_model(
    resolved: ResolvedCheckpoint,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    resolution: int | None = None,
) -> Sam3Model:
    """Build the model of a checkpoint whose files are already local (see ``resolve_checkpoint``).

    ``resolution``: run the model at this input size instead of the checkpoint's own (see
    :meth:`Sam3Config.at_resolution`); checked before the weights are read.

    Example:
        >>> resolved = resolve_checkpoint("checkpoints/sam3")  # doctest: +SKIP
        >>> model = load_resolved_model(resolved, device="cuda")  # doctest: +SKIP
    """
    if resolved.weights_path is None:
        raise CheckpointError(
            f"{resolved.source} holds exported ONNX graphs, not weights: run it with "
            "backend='onnxruntime' or backend='tensorrt', or load the original checkpoint"
        )
    config = checkpoint_config(resolved, resolution)
    state_dict = to_our_layout(read_state_dict(resolved.weights_path))
    config = config_for_weights(config, state_dict)
    with torch.device("meta"):
        model = Sam3Model(config)
    assign_weights(model, state_dict, source=str(resolved.weights_path), device=device, dtype=dtype)
    return model.eval()


def checkpoint_config(resolved: ResolvedCheckpoint, resolution: int | None = None) -> Sam3Config:
    """The configuration of a checkpoint (its ``config.json``, else the published SAM 3's), at
    ``resolution`` when given (see :meth:`Sam3Config.at_resolution`).

    Raises:
        ConfigError: ``config.json`` is not a SAM 3 configuration.
        InputError: ``resolution`` does not run with this model.
    """
    config = (
        Sam3Config.sam3()
        if resolved.config_path is None
        else read_transformers_config(resolved.config_path)
    )
    return config if resolution is None else config.at_resolution(resolution)


def config_for_weights(config: Sam3Config, state_dict: Mapping[str, Tensor]) -> Sam3Config:
    """``config`` without the interactive head when the weights (our layout) have none, and
    without the video memory when they have no video-memory tensor.

    A detector-only checkpoint (transformers' ``Sam3Model``) still segments concepts; clicks
    and single-object boxes then raise :class:`sam3lib.errors.InteractiveUnavailableError`.
    A tracker without video memory (an image-only export of the interactive head) still
    answers clicks and boxes on images.
    """
    if not any(key.startswith(TRACKER_PREFIXES) for key in state_dict):
        return replace(config, tracker=None, video=None)
    if not any(is_video_memory_key(key) for key in state_dict):
        return replace(config, video=None)
    return config


def load_weights(
    model: nn.Module,
    weights_path: Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> None:
    """Make a checkpoint's tensors the parameters of ``model`` (best built on ``meta``).

    Any layout of :mod:`sam3lib.checkpoint.layouts` is accepted; the model's state dict keys
    define what must be there.

    Raises:
        CheckpointKeyError: on missing, unexpected or misshapen tensors (all listed).
        NotASam3CheckpointError, CorruptCheckpointError: see :func:`read_state_dict`.
    """
    state_dict = to_our_layout(read_state_dict(weights_path))
    assign_weights(model, state_dict, source=str(weights_path), device=device, dtype=dtype)


def assign_weights(
    model: nn.Module,
    state_dict: dict[str, Tensor],
    *,
    source: str,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> None:
    """Make ``state_dict`` (our layout; emptied on the way) the parameters of ``model``.

    Raises:
        CheckpointKeyError: on missing, unexpected or misshapen tensors (all listed).
    """
    expected = {key: value.shape for key, value in model.state_dict().items()}
    check_state_dict(state_dict, expected, source=source)
    # Popped one by one, so that a fused tensor split into views (Meta's qkv) is freed as soon
    # as its last view has its own copy: the peak stays near one copy of the weights.
    placed = {key: _owned(state_dict.pop(key), device, dtype) for key in list(state_dict)}
    model.load_state_dict(placed, strict=True, assign=True)
    on_meta = [
        name
        for name, tensor in chain(model.named_parameters(), model.named_buffers())
        if tensor.is_meta
    ]
    if on_meta:
        # Only non-persistent buffers can be left: the model must create them without storage
        # or recompute them, since no checkpoint holds them.
        raise RuntimeError(
            f"{type(model).__name__} still has tensors on the meta device after loading:\n"
            f"{describe_keys(on_meta)}"
        )


def check_state_dict(
    state_dict: Mapping[str, Tensor], expected: Mapping[str, torch.Size], *, source: str
) -> None:
    """Raise unless ``state_dict`` has exactly the ``expected`` keys, with the expected shapes.

    Raises:
        NotASam3CheckpointError: if few of the tensors have names the model knows.
        CheckpointKeyError: listing the missing, unexpected and misshapen tensors.
    """
    present = expected.keys() & state_dict.keys()
    # Judged on the smaller key set, so SAM 3 weights of another size (a config.json that does
    # not match them) still get the detailed report below.
    if not present or 2 * len(present) < min(len(expected), len(state_dict)):
        raise NotASam3CheckpointError(
            f"{source} does not hold SAM 3 weights: only {len(present)} of its "
            f"{len(state_dict)} tensors have names the model knows. Its keys include:\n"
            f"{describe_keys(state_dict)}"
        )
    missing = expected.keys() - state_dict.keys()
    unexpected = state_dict.keys() - expected.keys()
    misshapen = [
        f"{key}: model {tuple(expected[key])}, checkpoint {tuple(state_dict[key].shape)}"
        for key in present
        if state_dict[key].shape != expected[key]
    ]
    problems = [
        f"{len(keys)} {what}:\n{describe_keys(keys)}"
        for what, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("with the wrong shape (is config.json the one saved with these weights?)", misshapen),
        )
        if keys
    ]
    if problems:
        raise CheckpointKeyError(f"{source} does not match the model:\n" + "\n".join(problems))


# PyTorch's CPU allocator aligns every allocation to 64 bytes (a cache line, an AVX-512 vector).
_ALIGNMENT = 64


def _owned(tensor: Tensor, device: str | torch.device, dtype: torch.dtype) -> Tensor:
    """``tensor`` on ``device`` (floating point cast to ``dtype``) in a storage of its own.

    Views into another tensor (split q/k/v, a sliced position table, a transpose) and
    misaligned data are copied into a fresh allocation; a tensor that already owns aligned
    memory of the right device and dtype is kept as it is, without a copy.
    """
    target = torch.device(device)
    wanted = dtype if tensor.is_floating_point() else tensor.dtype
    owns_aligned_memory = (
        tensor.device == target
        and tensor.dtype == wanted
        and tensor.is_contiguous()
        and tensor.storage_offset() == 0
        and tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
        and tensor.data_ptr() % _ALIGNMENT == 0
    )
    if owns_aligned_memory:
        return tensor
    return torch.empty(tensor.shape, dtype=wanted, device=target).copy_(tensor)
