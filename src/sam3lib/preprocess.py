"""Image preprocessing: any image-like input → the (1, 3, S, S) float32 tensor SAM 3 expects.

The pipeline follows Meta's reference (torchvision transforms v2):

1. decode / convert to RGB uint8, (3, H, W);
2. stretch to S × S (no letterbox) with antialiased bilinear interpolation **on uint8**;
3. scale to [0, 1] by multiplying with 1/255, then normalise with mean = std = 0.5 → [-1, 1].

Accepted inputs, each a single image:

- a path (``str`` or ``os.PathLike``) to an image file PIL can read;
- a ``PIL.Image.Image`` in any mode: alpha is dropped, palette and grayscale images become RGB,
  16-bit modes ("I;16*", "I") keep their high byte (see below);
- a numpy array, HW or HWC with 1, 3 or 4 channels (a 4th channel is alpha and is dropped);
- a torch tensor, HW or CHW with 1, 3 or 4 channels, on any device.

Arrays and tensors may be uint8 (0-255), uint16 (0-65535) or floating point in [0, 1].
Conversions to 8 bit:

- float → ``round(x * 255)`` (round half to even);
- 16 bit → ``x >> 8``, the high byte, as torchvision's ``ToDtype(torch.uint8, scale=True)`` does
  in the reference pipeline: 65535 → 255, and an 8-bit value v stored as ``v * 257`` gives back v.

Files and PIL images with an EXIF orientation tag (photos from phones and cameras) are turned
upright first, so the pixels - and every mask computed from them - are the image as viewers
display it. (The reference pipelines use the pixels as stored; a rotated photo then gives masks
that do not line up with what the user sees.) Arrays and tensors carry no EXIF and are used as
they are.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from sam3lib.errors import InputError

__all__ = [
    "IMAGE_DECODE_ERRORS",
    "ImageLike",
    "PreprocessedImage",
    "check_image_shape",
    "normalize",
    "preprocess",
    "resize_uint8",
    "to_rgb_uint8",
]

ImageLike: TypeAlias = str | os.PathLike[str] | Image.Image | npt.NDArray[Any] | torch.Tensor

_ACCEPTED = (
    "a file path, a PIL image, a numpy array (HW or HWC) or a torch tensor (HW or CHW) with "
    "1, 3 or 4 channels and uint8, uint16 or float values in [0, 1]"
)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# What Pillow's plugins raise on damaged, truncated or oversized image data: Image.open
# itself treats SyntaxError, IndexError, TypeError and struct.error from a plugin as "not this
# format"; decoding raises those and more (a QOI file cut inside its header: IndexError).
# Shared with the server's upload decoding (sam3lib.server.images), so the two cannot drift.
IMAGE_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)


@dataclass(frozen=True)
class PreprocessedImage:
    """One image ready for the SAM 3 image encoder.

    Attributes:
        pixels: (1, 3, S, S) float32 in [-1, 1], on the requested device.
        original_size: (height, width) of the input in pixels, to map outputs back.
    """

    pixels: torch.Tensor
    original_size: tuple[int, int]


def preprocess(
    image: ImageLike, image_size: int, device: torch.device | str = "cpu"
) -> PreprocessedImage:
    """Turns one image into the normalised square tensor SAM 3's encoder takes.

    Decoding and the resize run on the CPU, so the pixels are the same on every device (the
    uint8 resize kernel exists only on the CPU); only the (3, S, S) uint8 result is moved to
    ``device`` and normalised there.

    Args:
        image: a path, PIL image, numpy array or torch tensor (see the module docstring).
        image_size: side S of the square model input (1008 for SAM 3).
        device: where ``pixels`` should live.

    Returns:
        The (1, 3, S, S) float32 pixels and the original (height, width).

    Raises:
        InputError: the image, ``image_size`` or ``device`` is not acceptable.

    Example:
        >>> import numpy as np
        >>> image = np.zeros((480, 640, 3), dtype=np.uint8)
        >>> prepared = preprocess(image, image_size=1008)
        >>> tuple(prepared.pixels.shape), prepared.original_size
        ((1, 3, 1008, 1008), (480, 640))
        >>> float(prepared.pixels.min())
        -1.0
    """
    _check_size(image_size, "image_size")
    target = _as_device(device)
    rgb = to_rgb_uint8(image)
    resized = resize_uint8(rgb, image_size)
    pixels = normalize(resized.to(target)).unsqueeze(0)
    return PreprocessedImage(pixels=pixels, original_size=(rgb.shape[1], rgb.shape[2]))


def to_rgb_uint8(image: ImageLike, *, argument: str = "image") -> torch.Tensor:
    """Converts an image-like input to a new (3, H, W) uint8 RGB tensor on the CPU.

    Args:
        image: a path, PIL image, numpy array or torch tensor (see the module docstring).
        argument: the parameter name used in error messages.

    Returns:
        (3, H, W) uint8, contiguous, never sharing memory with ``image``.

    Raises:
        InputError: unknown type, wrong shape or dtype, empty image, values out of range,
            or a path that does not exist or does not hold an image.

    Example:
        >>> from PIL import Image, ImageOps
        >>> to_rgb_uint8(Image.new("L", (4, 2), color=7)).shape
        torch.Size([3, 2, 4])
    """
    if isinstance(image, (str, os.PathLike)):
        return _read_image_file(Path(image), argument)
    if isinstance(image, Image.Image):
        return _from_pil(image, argument)
    if isinstance(image, np.ndarray):
        # A subclass (np.matrix, masked arrays) as the plain array of its values.
        return _from_hwc_array(np.asarray(image), argument, "numpy array")
    if isinstance(image, torch.Tensor):
        return _from_chw_tensor(image, argument)
    raise InputError(f"{argument}: expected {_ACCEPTED}; got {type(image).__name__}")


def resize_uint8(rgb: torch.Tensor, size: int) -> torch.Tensor:
    """Stretches a (3, H, W) uint8 image to (3, size, size) with antialiased bilinear filtering.

    On the CPU this is torch's native uint8 kernel, the one torchvision's ``Resize`` uses in
    the reference pipeline. Other devices have no uint8 kernel, so there the image is
    interpolated in float32 and rounded back, as torchvision does; the two agree to within
    one uint8 step.

    Args:
        rgb: (3, H, W) uint8.
        size: side of the square output.

    Returns:
        (3, size, size) uint8 on the device of ``rgb``.

    Example:
        >>> resize_uint8(torch.zeros(3, 20, 30, dtype=torch.uint8), 8).shape
        torch.Size([3, 8, 8])
    """
    if not isinstance(rgb, torch.Tensor) or rgb.dtype != torch.uint8 or rgb.ndim != 3:
        raise InputError(f"rgb: expected a (3, H, W) uint8 tensor, got {_describe(rgb)}")
    if rgb.shape[0] != 3 or rgb.numel() == 0:
        raise InputError(f"rgb: expected a non-empty (3, H, W) tensor, got {tuple(rgb.shape)}")
    _check_size(size, "size")
    batch = rgb.unsqueeze(0)
    if rgb.device.type == "cpu":
        resized = F.interpolate(
            batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    else:
        # No uint8 antialias kernel off the CPU: float32, then round and clamp back.
        resized_float = F.interpolate(
            batch.to(torch.float32),
            size=(size, size),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )
        resized = resized_float.round_().clamp_(0, 255).to(torch.uint8)
    return resized.squeeze(0)


def normalize(rgb_uint8: torch.Tensor) -> torch.Tensor:
    """Maps uint8 pixels to float32 in [-1, 1]: ``(x * (1/255) - 0.5) / 0.5``.

    The scale is a multiplication by 1/255, as in torchvision's ``ToDtype(scale=True)``, not a
    division by 255: the two differ by one float32 ulp on some values, and multiplying keeps
    the result bit-identical to the reference pipeline.

    Args:
        rgb_uint8: uint8 tensor of any shape, on any device.

    Returns:
        float32 tensor of the same shape and device.

    Example:
        >>> normalize(torch.tensor([0, 255], dtype=torch.uint8)).tolist()
        [-1.0, 1.0]
    """
    if not isinstance(rgb_uint8, torch.Tensor) or rgb_uint8.dtype != torch.uint8:
        raise InputError(f"rgb_uint8: expected a uint8 tensor, got {_describe(rgb_uint8)}")
    scaled = rgb_uint8.to(torch.float32).mul_(1.0 / 255)
    return scaled.sub_(0.5).div_(0.5)


def _read_image_file(path: Path, argument: str) -> torch.Tensor:
    try:
        exists = path.exists()
    except (OSError, ValueError) as error:  # a name too long, a NUL byte
        raise InputError(f"{argument}: not a usable file path: '{path}' ({error})") from error
    if not exists:
        raise InputError(f"{argument}: file not found: '{path}'")
    try:
        with Image.open(path) as opened:
            opened.load()
            return _from_pil(opened, argument)
    except InputError:
        raise
    except IMAGE_DECODE_ERRORS as error:  # not an image, a directory, damaged or truncated data
        raise InputError(f"{argument}: could not read '{path}' as an image ({error})") from error


def _from_pil(image: Image.Image, argument: str) -> torch.Tensor:
    try:
        image.load()  # a lazily opened image decodes here
        image = ImageOps.exif_transpose(image)  # a no-op without an orientation tag
    except IMAGE_DECODE_ERRORS as error:
        raise InputError(
            f"{argument}: the PIL image could not be decoded ({error}); is the file damaged?"
        ) from error
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise InputError(
                f"{argument}: a PIL image in mode {image.mode!r} is read as 16-bit and must "
                f"hold values in [0, 65535], got [{values.min()}, {values.max()}]"
            )
        return _from_hwc_array(values.astype(np.uint16), argument, f"PIL {image.mode} image")
    if image.mode == "F":
        return _from_hwc_array(np.asarray(image), argument, "PIL F image")
    try:
        rgb = image.convert("RGB")
    except ValueError as error:
        raise InputError(f"{argument}: cannot convert PIL mode {image.mode!r} to RGB") from error
    return _from_hwc_array(np.asarray(rgb), argument, "PIL image")


def _from_chw_tensor(tensor: torch.Tensor, argument: str) -> torch.Tensor:
    if tensor.is_nested or tensor.layout != torch.strided or tensor.is_quantized:
        kind = "nested" if tensor.is_nested else "quantized" if tensor.is_quantized else "sparse"
        raise InputError(
            f"{argument}: expected a dense torch tensor, got a {kind} one; convert it with "
            ".to_dense() or .dequantize() first"
        )
    if tensor.is_meta:
        raise InputError(f"{argument}: a tensor on the meta device holds no pixels")
    check_image_shape(
        tuple(tensor.shape), channels_first=True, argument=argument, kind="torch tensor"
    )
    if tensor.is_floating_point() and tensor.dtype not in (torch.float32, torch.float64):
        tensor = tensor.float()  # numpy has no bfloat16 or float8; float16 widens exactly
    chw = tensor.detach().cpu().resolve_conj().resolve_neg()
    if chw.ndim == 2:
        chw = chw.unsqueeze(0)
    try:
        hwc = chw.permute(1, 2, 0).numpy()
    except TypeError as error:  # a dtype numpy lacks, e.g. complex32
        raise InputError(
            f"{argument}: pixel dtype {tensor.dtype} is not accepted; expected uint8, uint16 "
            "or float in [0, 1]"
        ) from error
    return _hwc_to_rgb_uint8(hwc, argument)


def _from_hwc_array(array: npt.NDArray[np.generic], argument: str, kind: str) -> torch.Tensor:
    check_image_shape(array.shape, channels_first=False, argument=argument, kind=kind)
    return _hwc_to_rgb_uint8(array[:, :, None] if array.ndim == 2 else array, argument)


def check_image_shape(
    shape: tuple[int, ...], *, channels_first: bool, argument: str, kind: str
) -> None:
    """Raises InputError unless ``shape`` is one HW, HWC (or CHW) image with 1, 3 or 4
    channels and pixels; ``kind`` names the input in the message ("numpy array")."""
    layout = "CHW" if channels_first else "HWC"
    if len(shape) not in (2, 3):
        raise InputError(f"{argument}: a {kind} must be HW or {layout} (one image), got {shape}")
    if len(shape) == 2:
        channels, height, width = 1, shape[0], shape[1]
    elif channels_first:
        channels, height, width = shape
    else:
        height, width, channels = shape
    if channels not in (1, 3, 4):
        hint = ""
        if not channels_first and shape[0] in (1, 3, 4):
            hint = "; numpy arrays are read as HWC, transpose CHW data with .transpose(1, 2, 0)"
        elif channels_first and shape[-1] in (1, 3, 4):
            hint = "; torch tensors are read as CHW, permute HWC data with .permute(2, 0, 1)"
        raise InputError(
            f"{argument}: a {kind} in {layout} layout must have 1, 3 or 4 channels, "
            f"got shape {shape}{hint}"
        )
    if height == 0 or width == 0:
        raise InputError(f"{argument}: the image is empty (shape {shape})")


def _hwc_to_rgb_uint8(hwc: npt.NDArray[np.generic], argument: str) -> torch.Tensor:
    hwc_uint8 = _to_uint8(hwc, argument)
    if hwc_uint8.shape[2] == 1:
        hwc_uint8 = np.repeat(hwc_uint8, 3, axis=2)
    chw = np.array(hwc_uint8[:, :, :3].transpose(2, 0, 1), order="C")  # always a fresh copy
    return torch.from_numpy(chw)


def _to_uint8(values: npt.NDArray[np.generic], argument: str) -> npt.NDArray[np.uint8]:
    if not values.dtype.isnative:  # e.g. big-endian data read from a file: same values
        values = values.astype(values.dtype.newbyteorder("="))
    if values.dtype == np.uint8:
        return values.astype(np.uint8, copy=False)
    if values.dtype == np.uint16:
        return (values.astype(np.uint16, copy=False) >> 8).astype(np.uint8)
    if values.dtype.kind == "f":
        wide: npt.NDArray[np.floating[Any]] = values.astype(
            np.promote_types(values.dtype, np.float32)
        )
        if not np.isfinite(wide).all():
            raise InputError(f"{argument}: the image contains NaN or infinite values")
        low, high = float(wide.min()), float(wide.max())
        if low < 0.0 or high > 1.0:
            raise InputError(
                f"{argument}: float pixels must lie in [0, 1], got values in [{low:g}, {high:g}]; "
                "pass 0-255 data as uint8"
            )
        rounded: npt.NDArray[np.floating[Any]] = np.rint(wide * 255)
        return rounded.astype(np.uint8)
    if values.dtype == np.bool_:
        raise InputError(
            f"{argument}: boolean arrays are not images (a mask?); convert to uint8 first"
        )
    raise InputError(
        f"{argument}: pixel dtype {values.dtype} is not accepted; expected uint8, uint16 "
        "or float in [0, 1]"
    )


def _check_size(size: int, argument: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"{argument}: expected a positive int, got {size!r}")


def _as_device(device: torch.device | str) -> torch.device:
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InputError(f"device: not a torch device: {device!r}") from error
    try:
        torch.empty(0, device=target)
    except (RuntimeError, AssertionError) as error:  # torch asserts on a CUDA-less build
        raise InputError(
            f"device: {device!r} is not available on this machine ({error}); use 'cpu' or "
            "one of the devices torch sees"
        ) from error
    return target


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__
