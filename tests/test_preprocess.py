"""Tests of sam3lib.preprocess.

Expected values come from torch / PIL primitives written here or from hand-made images whose
answer is known; none is produced by the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from sam3lib.errors import InputError
from sam3lib.preprocess import normalize, preprocess, resize_uint8, to_rgb_uint8


def _photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """HWC uint8 with smooth gradients, hard edges and sensor-like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 127.5 + 127.5 * np.sin(x / 37.0 + y / 53.0)
    green = 255.0 * x / (width - 1)
    blue = np.where((x // 41 + y // 29) % 2 == 0, 30.0, 225.0)
    rgb = np.stack([red, green, blue], axis=-1) + rng.normal(0.0, 12.0, (height, width, 3))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _reference_pixels(hwc: np.ndarray, size: int) -> torch.Tensor:
    """Meta's pipeline on the CPU: torchvision's uint8 Resize, ToDtype(scale=True), Normalize."""
    batch = torch.from_numpy(hwc).permute(2, 0, 1).unsqueeze(0).contiguous()
    resized = F.interpolate(
        batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    assert resized.dtype == torch.uint8
    scaled = resized.to(torch.float32) * (1.0 / 255)
    mean = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)
    std = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)
    return (scaled - mean) / std


def _chw(hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)))


# --- 1. parity with the reference pipeline ------------------------------------------------------


@pytest.mark.parametrize("image_size", [1008, 168])
def test_preprocess_matches_reference_pipeline_exactly(image_size: int) -> None:
    hwc = _photo_like(333, 517)

    prepared = preprocess(hwc, image_size)

    assert prepared.original_size == (333, 517)
    assert prepared.pixels.dtype == torch.float32
    assert prepared.pixels.shape == (1, 3, image_size, image_size)
    assert torch.equal(prepared.pixels, _reference_pixels(hwc, image_size))


def test_preprocess_puts_pixels_on_the_requested_device() -> None:
    prepared = preprocess(_photo_like(20, 30), 14, device=torch.device("cpu"))
    assert prepared.pixels.device == torch.device("cpu")
    assert prepared.pixels.is_contiguous()


def test_normalize_maps_uint8_range_to_minus_one_one() -> None:
    values = torch.arange(256, dtype=torch.uint8)
    normalized = normalize(values)
    exact = (values.to(torch.float64) / 255 - 0.5) / 0.5
    assert normalized.dtype == torch.float32
    assert normalized[0].item() == -1.0
    assert normalized[255].item() == 1.0
    # float32 rounding plus torchvision's multiply-by-1/255: within two ulps (2 ** -22) of exact.
    torch.testing.assert_close(normalized.double(), exact, rtol=0, atol=2.0**-22)


def test_resize_is_antialiased_average_on_two_to_one_downscale() -> None:
    rgb = torch.tensor([[0, 100], [200, 44]], dtype=torch.uint8).expand(3, 2, 2)
    assert resize_uint8(rgb, 1).flatten().tolist() == [86, 86, 86]


def test_resize_keeps_constant_images_constant_and_same_size_identical() -> None:
    constant = torch.tensor([7, 130, 255], dtype=torch.uint8).view(3, 1, 1).expand(3, 45, 71)
    for size in (8, 45, 200):
        out = resize_uint8(constant.contiguous(), size)
        assert torch.equal(out, constant[:, :1, :1].expand(3, size, size))
    square = _chw(_photo_like(40, 40))
    assert torch.equal(resize_uint8(square, 40), square)


# --- 2. independent check against PIL -----------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(997, 1333), (333, 517)])
def test_resize_within_one_uint8_step_of_pil_bilinear(height: int, width: int) -> None:
    hwc = _photo_like(height, width, seed=1)
    pil = np.asarray(Image.fromarray(hwc).resize((1008, 1008), Image.Resampling.BILINEAR))

    ours = resize_uint8(_chw(hwc), 1008).permute(1, 2, 0).numpy()

    difference = np.abs(ours.astype(np.int16) - pil.astype(np.int16))
    assert difference.max() <= 1
    assert np.count_nonzero(difference) / difference.size < 0.005


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resize_off_cpu_within_one_uint8_step_of_cpu() -> None:
    rgb = _chw(_photo_like(333, 517))
    on_cpu = resize_uint8(rgb, 1008)
    on_gpu = resize_uint8(rgb.cuda(), 1008).cpu()
    assert on_gpu.dtype == torch.uint8
    assert (on_gpu.int() - on_cpu.int()).abs().max() <= 1


# --- 3. every input type gives the same pixels --------------------------------------------------

_HWC = _photo_like(37, 53, seed=2)


def _as_png(tmp_path: Path) -> str:
    path = tmp_path / "image.png"
    Image.fromarray(_HWC).save(path)
    return str(path)


_MAKERS: dict[str, Callable[[Path], Any]] = {
    "path str": _as_png,
    "path object": lambda tmp_path: Path(_as_png(tmp_path)),
    "PIL RGB": lambda _: Image.fromarray(_HWC),
    "numpy uint8 HWC": lambda _: _HWC,
    "numpy float32 HWC": lambda _: _HWC.astype(np.float32) / 255,
    "numpy float64 HWC": lambda _: _HWC.astype(np.float64) / 255,
    "numpy non-contiguous": lambda _: np.asfortranarray(_HWC),
    "torch uint8 CHW": lambda _: _chw(_HWC),
    "torch float32 CHW": lambda _: _chw(_HWC).float() / 255,
    "torch float16 CHW": lambda _: (_chw(_HWC).float() / 255).half(),
    "torch float requiring grad": lambda _: (_chw(_HWC).float() / 255).requires_grad_(),
}


@pytest.mark.parametrize("kind", list(_MAKERS))
def test_every_input_type_gives_the_same_pixels(kind: str, tmp_path: Path) -> None:
    image = _MAKERS[kind](tmp_path)

    rgb = to_rgb_uint8(image)

    assert rgb.dtype == torch.uint8
    assert rgb.device == torch.device("cpu")
    assert torch.equal(rgb, _chw(_HWC))
    assert torch.equal(preprocess(image, 28).pixels, _reference_pixels(_HWC, 28))


def test_result_does_not_share_memory_with_the_input() -> None:
    tensor = _chw(_HWC)
    rgb = to_rgb_uint8(tensor)
    rgb.zero_()
    assert torch.equal(tensor, _chw(_HWC))


_GRAY = np.array([[0, 17, 255], [128, 64, 3]], dtype=np.uint8)


@pytest.mark.parametrize(
    "image",
    [
        Image.fromarray(_GRAY, mode="L"),
        Image.fromarray(_GRAY, mode="L").convert("LA"),
        _GRAY,
        _GRAY[:, :, None],
        torch.from_numpy(_GRAY),
        torch.from_numpy(_GRAY)[None],
    ],
    ids=["PIL L", "PIL LA", "numpy HW", "numpy HW1", "torch HW", "torch 1HW"],
)
def test_grayscale_becomes_three_equal_channels(image: Any) -> None:
    rgb = to_rgb_uint8(image)
    assert rgb.shape == (3, 2, 3)
    for channel in rgb:
        assert channel.tolist() == _GRAY.tolist()


_RGBA = np.array(
    [[[10, 20, 30, 0], [40, 50, 60, 255]], [[70, 80, 90, 128], [1, 2, 3, 4]]], dtype=np.uint8
)


@pytest.mark.parametrize(
    "image",
    [Image.fromarray(_RGBA, mode="RGBA"), _RGBA, _chw(_RGBA)],
    ids=["PIL RGBA", "numpy HWC4", "torch 4HW"],
)
def test_alpha_is_dropped_not_composited(image: Any) -> None:
    assert to_rgb_uint8(image).permute(1, 2, 0).tolist() == _RGBA[:, :, :3].tolist()


def test_palette_image_becomes_its_rgb_colours() -> None:
    palette_image = Image.new("P", (2, 2))
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    palette_image.putdata([0, 1, 2, 3])  # row-major: (0,0) (0,1) (1,0) (1,1)

    rgb = to_rgb_uint8(palette_image).permute(1, 2, 0).tolist()

    assert rgb == [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]]


def test_cmyk_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (3, 1))
    cmyk.putdata([(0, 0, 0, 0), (0, 0, 0, 255), (255, 0, 0, 0)])
    rgb = to_rgb_uint8(cmyk)[:, 0, :].T.tolist()
    assert rgb == [[255, 255, 255], [0, 0, 0], [0, 255, 255]]


# 16-bit values and their documented 8-bit result, the high byte (x >> 8).
_SIXTEEN = np.array([[0, 255, 256, 65535], [200 * 257, 128 * 256 + 255, 32767, 32768]], np.uint16)
_SIXTEEN_AS_8 = [[0, 0, 1, 255], [200, 128, 127, 128]]


def _sixteen_bit_png(tmp_path: Path) -> str:
    path = tmp_path / "sixteen.png"
    Image.fromarray(_SIXTEEN).save(path)
    return str(path)


@pytest.mark.parametrize(
    "make",
    [
        lambda _: Image.fromarray(_SIXTEEN),
        lambda _: Image.frombytes("I;16B", (4, 2), _SIXTEEN.astype(">u2").tobytes()),
        lambda _: Image.fromarray(_SIXTEEN.astype(np.int32), mode="I"),
        _sixteen_bit_png,
        lambda _: _SIXTEEN,
        lambda _: torch.from_numpy(_SIXTEEN.astype(np.int32)).to(torch.uint16),
    ],
    ids=["PIL I;16", "PIL I;16B", "PIL I", "16-bit PNG", "numpy uint16", "torch uint16"],
)
def test_sixteen_bit_keeps_the_high_byte(make: Callable[[Path], Any], tmp_path: Path) -> None:
    rgb = to_rgb_uint8(make(tmp_path))
    for channel in rgb:
        assert channel.tolist() == _SIXTEEN_AS_8


@pytest.mark.parametrize("to_input", [lambda a: a, torch.from_numpy], ids=["numpy", "torch"])
def test_float_pixels_are_rounded(to_input: Callable[[np.ndarray], Any]) -> None:
    values = np.array([[0.0, 0.5, 1.0, 0.25, 0.998, 1 / 510]], dtype=np.float32)
    rgb = to_rgb_uint8(to_input(values))
    # round(x * 255): 127.5 -> 128 (half to even), 63.75 -> 64, 254.49 -> 254, 0.5 -> 0.
    assert rgb[0].tolist() == [[0, 128, 255, 64, 254, 0]]


def test_pil_float_mode_is_read_as_zero_to_one() -> None:
    image = Image.fromarray(np.array([[0.0, 0.5], [1.0, 0.2]], dtype=np.float32), mode="F")
    assert to_rgb_uint8(image)[0].tolist() == [[0, 128], [255, 51]]


# --- 4. errors ----------------------------------------------------------------------------------


def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    return path


def _truncated_png(tmp_path: Path) -> Path:
    path = tmp_path / "truncated.png"
    Image.fromarray(_HWC).save(path)
    path.write_bytes(path.read_bytes()[:200])
    return path


_BAD_INPUTS: dict[str, Callable[[Path], Any]] = {
    "int": lambda _: 42,
    "bytes": lambda _: b"\x89PNG",
    "list": lambda _: [[0, 1], [2, 3]],
    "None": lambda _: None,
    "numpy 1-D": lambda _: np.zeros(12, np.uint8),
    "numpy batch": lambda _: np.zeros((1, 4, 4, 3), np.uint8),
    "numpy 2 channels": lambda _: np.zeros((4, 4, 2), np.uint8),
    "numpy CHW": lambda _: np.zeros((3, 4, 5), np.uint8),
    "torch batch": lambda _: torch.zeros(1, 3, 4, 4, dtype=torch.uint8),
    "torch HWC": lambda _: torch.zeros(8, 5, 3, dtype=torch.uint8),
    "torch 0-D": lambda _: torch.tensor(1.0),
    "numpy empty": lambda _: np.zeros((0, 5, 3), np.uint8),
    "torch empty": lambda _: torch.zeros(3, 4, 0),
    "PIL empty": lambda _: Image.new("RGB", (0, 0)),
    "numpy NaN": lambda _: np.full((2, 2, 3), np.nan, np.float32),
    "torch inf": lambda _: torch.full((3, 2, 2), float("inf")),
    "float above 1": lambda _: np.full((2, 2, 3), 1.5, np.float32),
    "float below 0": lambda _: torch.full((3, 2, 2), -0.1),
    "float 0-255": lambda _: _HWC.astype(np.float32),
    "numpy bool": lambda _: np.ones((2, 2), bool),
    "torch bool": lambda _: torch.ones(3, 2, 2, dtype=torch.bool),
    "numpy int64": lambda _: np.zeros((2, 2, 3), np.int64),
    "torch int16": lambda _: torch.zeros(3, 2, 2, dtype=torch.int16),
    "PIL I out of range": lambda _: Image.fromarray(np.full((2, 2), 70000, np.int32), mode="I"),
    "missing path": lambda tmp_path: tmp_path / "missing.jpg",
    "missing path str": lambda tmp_path: str(tmp_path / "missing.jpg"),
    "not an image": _text_file,
    "truncated image": _truncated_png,
    "directory": lambda tmp_path: tmp_path,
}


@pytest.mark.parametrize("kind", list(_BAD_INPUTS))
def test_bad_images_raise_input_error_naming_the_argument(kind: str, tmp_path: Path) -> None:
    bad = _BAD_INPUTS[kind](tmp_path)
    with pytest.raises(InputError, match=r"^image: "):
        to_rgb_uint8(bad)
    with pytest.raises(InputError, match=r"^image: "):
        preprocess(bad, 28)
    with pytest.raises(InputError, match=r"^exemplar: "):
        to_rgb_uint8(bad, argument="exemplar")


def test_unknown_type_error_says_what_is_accepted() -> None:
    not_an_image: Any = 42
    with pytest.raises(InputError) as caught:
        to_rgb_uint8(not_an_image)
    message = str(caught.value)
    for accepted in ("path", "PIL", "numpy", "torch", "uint8", "[0, 1]"):
        assert accepted in message


def test_shape_errors_hint_at_the_expected_layout() -> None:
    with pytest.raises(InputError, match=r"transpose\(1, 2, 0\)"):
        to_rgb_uint8(np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(InputError, match=r"permute\(2, 0, 1\)"):
        to_rgb_uint8(torch.zeros(8, 5, 3, dtype=torch.uint8))


@pytest.mark.parametrize("image_size", [0, -8, 1.5, True, "1008"])
def test_bad_image_size_raises(image_size: Any) -> None:
    with pytest.raises(InputError, match=r"^image_size: "):
        preprocess(_HWC, image_size)


def test_bad_device_raises() -> None:
    with pytest.raises(InputError, match=r"^device: "):
        preprocess(_HWC, 28, device="no-such-device")


@pytest.mark.parametrize(
    "rgb",
    [
        torch.zeros(3, 4, 4),
        torch.zeros(1, 3, 4, 4, dtype=torch.uint8),
        torch.zeros(4, 4, 4, dtype=torch.uint8),
        torch.zeros(3, 0, 4, dtype=torch.uint8),
        np.zeros((3, 4, 4), np.uint8),
    ],
    ids=["float", "batched", "4 channels", "empty", "numpy"],
)
def test_resize_rejects_anything_but_rgb_uint8(rgb: Any) -> None:
    with pytest.raises(InputError, match=r"^rgb: "):
        resize_uint8(rgb, 8)


def test_resize_rejects_bad_size() -> None:
    with pytest.raises(InputError, match=r"^size: "):
        resize_uint8(torch.zeros(3, 4, 4, dtype=torch.uint8), 0)


@pytest.mark.parametrize("values", [torch.zeros(3, 2, 2), np.zeros((3, 2, 2), np.uint8)])
def test_normalize_rejects_anything_but_uint8_tensors(values: Any) -> None:
    with pytest.raises(InputError, match=r"^rgb_uint8: "):
        normalize(values)


# --- EXIF orientation -------------------------------------------------------------------------

ORIENTATION_TAG = 0x0112
ROTATED_90_CW = 6  # EXIF: the stored pixels must be turned 90° clockwise for display


def _stored_pixels() -> np.ndarray:
    return np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10


def _with_orientation(pixels: np.ndarray, orientation: int) -> Image.Image:
    image = Image.fromarray(pixels)
    image.getexif()[ORIENTATION_TAG] = orientation
    return image


def test_exif_rotated_pil_image_is_turned_upright() -> None:
    stored = _stored_pixels()
    rgb = to_rgb_uint8(_with_orientation(stored, ROTATED_90_CW))
    # Turning 90° clockwise: row r of the display is column r of the stored image, bottom up.
    upright = np.rot90(stored, k=-1)
    assert rgb.shape == (3, 3, 2)
    np.testing.assert_array_equal(rgb.permute(1, 2, 0).numpy(), upright)


def test_exif_rotated_file_is_turned_upright(tmp_path: Path) -> None:
    stored = _stored_pixels()
    image = _with_orientation(stored, ROTATED_90_CW)
    path = tmp_path / "rotated.png"
    image.save(path, exif=image.getexif())
    rgb = to_rgb_uint8(path)
    np.testing.assert_array_equal(rgb.permute(1, 2, 0).numpy(), np.rot90(stored, k=-1))


def test_image_without_orientation_is_used_as_stored() -> None:
    stored = _stored_pixels()
    rgb = to_rgb_uint8(_with_orientation(stored, 1))
    np.testing.assert_array_equal(rgb.permute(1, 2, 0).numpy(), stored)
