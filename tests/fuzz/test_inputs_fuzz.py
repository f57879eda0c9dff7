"""Any image handed to ``preprocess`` ends in a result or an InputError, never another error.

Arrays of every dtype, shape and memory layout, tensors of every dtype and layout, PIL images
of every mode (random pixels, odd EXIF orientations, truncated files) and damaged image files.
Accepted images must also come out right: (1, 3, S, S) float32 in [-1, 1] and the input's
(height, width).
"""

from __future__ import annotations

import io
import random
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from fuzz.budget import examples
from sam3lib.errors import InputError
from sam3lib.preprocess import preprocess

IMAGE_SIZE = 8

# Exotic inputs come with deprecation and "experimental" warnings; the errors are what count.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _quietly(make: Any, *arguments: Any) -> Any:
    """``make(*arguments)`` with its warnings silenced (matrix, quantized, nested tensors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make(*arguments)


def _preprocess_or_input_error(image: Any, **options: Any) -> tuple[int, int] | None:
    """The original size when ``image`` is accepted (checking the pixels), None on InputError."""
    try:
        prepared = preprocess(image, IMAGE_SIZE, **options)
    except InputError:
        return None
    pixels = prepared.pixels
    assert pixels.dtype == torch.float32 and pixels.shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert torch.isfinite(pixels).all() and pixels.min() >= -1 and pixels.max() <= 1
    height, width = prepared.original_size
    assert height >= 1 and width >= 1
    return prepared.original_size


# --- numpy arrays ------------------------------------------------------------------------------

DTYPES = st.one_of(
    hnp.scalar_dtypes(),
    hnp.byte_string_dtypes(max_len=2),
    hnp.unicode_string_dtypes(max_len=2),
    hnp.array_dtypes(max_size=2),
    st.sampled_from([np.dtype(object), np.dtype(">u2"), np.dtype(">f4"), np.dtype("<u2")]),
)
SHAPES = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5),
    st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)),
)


def _relayout(array: npt.NDArray[Any], layout: str) -> npt.NDArray[Any]:
    """The same values, in another memory layout."""
    if layout == "fortran":
        return np.asfortranarray(array)
    if layout == "reversed" and array.ndim:
        flipped = np.ascontiguousarray(array[::-1])
        return flipped[::-1]
    if layout == "strided" and array.ndim:
        wide = np.zeros((array.shape[0] * 2, *array.shape[1:]), dtype=array.dtype)
        wide[::2] = array
        return wide[::2]
    if layout == "readonly":
        array = array.copy()
        array.flags.writeable = False
    return array


LAYOUTS = st.sampled_from(["C", "fortran", "reversed", "strided", "readonly"])


@st.composite
def any_arrays(draw: st.DrawFn) -> npt.NDArray[Any]:
    dtype = draw(DTYPES)
    shape = draw(SHAPES)
    array = draw(hnp.arrays(dtype, shape))
    return _relayout(array, draw(LAYOUTS))


@st.composite
def image_arrays(draw: st.DrawFn) -> npt.NDArray[Any]:
    """Arrays that look like images: uint8, uint16 or float, HW or HWC with 1 to 5 channels."""
    dtype = draw(st.sampled_from(["u1", "u2", ">u2", "f2", "f4", ">f4", "f8"]))
    shape = draw(
        st.tuples(st.integers(1, 6), st.integers(1, 6))
        | st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 5))
    )
    unit = st.floats(0, 1, width=16 if dtype == "f2" else 32)
    elements = unit if dtype.endswith(("f2", "f4", "f8")) else None
    array = draw(hnp.arrays(np.dtype(dtype), shape, elements=elements))
    return _relayout(array, draw(LAYOUTS))


@examples(200)
@given(any_arrays() | image_arrays())
@example(_quietly(np.matrix, np.zeros((4, 5), dtype=np.uint8)))  # a subclass: ValueError
@example(np.zeros((4, 5, 3), dtype=">u2"))  # big-endian uint16: refused as "not uint16"
@example(np.ma.masked_array(np.zeros((4, 5), dtype=np.uint8)))
def test_any_numpy_array_gives_pixels_or_an_input_error(array: npt.NDArray[Any]) -> None:
    size = _preprocess_or_input_error(array)

    if size is not None:
        assert size == array.shape[:2]


@examples(60)
@given(image_arrays())
@example(np.zeros((4, 5, 3), dtype=">u2"))  # big-endian uint16 was refused as "not uint16"
def test_image_like_arrays_are_accepted(array: npt.NDArray[Any]) -> None:
    channels = 1 if array.ndim == 2 else array.shape[2]
    size = _preprocess_or_input_error(array)

    assert (size is not None) == (channels in (1, 3, 4))


# --- torch tensors -----------------------------------------------------------------------------

TORCH_DTYPES = [
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint16,
    torch.uint32,
    torch.uint64,
    torch.bool,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.complex64,
    torch.complex32,
    torch.float8_e4m3fn,
    torch.float8_e5m2,
]


def _as_tensor(array: npt.NDArray[Any], dtype: torch.dtype) -> torch.Tensor:
    """``array``'s values (cast, clipped where the type cannot hold them) as a ``dtype`` tensor."""
    values = torch.from_numpy(np.asarray(np.nan_to_num(array.astype(np.float64), nan=0.5)))
    if not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool):
        info = torch.iinfo(dtype)
        values = values.clamp(max(info.min, -(2**52)), min(info.max, 2**52)).round()
    return values.to(dtype)


@st.composite
def any_tensors(draw: st.DrawFn) -> torch.Tensor:
    shape = draw(SHAPES)
    array = draw(hnp.arrays(np.float64, shape, elements=st.floats(-2, 300) | st.just(np.nan)))
    tensor = _as_tensor(array, draw(st.sampled_from(TORCH_DTYPES)))
    view = draw(
        st.sampled_from(
            ["plain", "transposed", "strided", "expanded", "grad", "sparse", "meta", "conj", "neg"]
        )
    )
    if view == "transposed" and tensor.ndim >= 2:
        tensor = tensor.transpose(-1, -2).contiguous().transpose(-1, -2)
    elif view == "strided" and tensor.ndim:
        tensor = torch.repeat_interleave(tensor, 2, dim=0)[::2]
    elif view == "expanded" and tensor.ndim and tensor.shape[0] == 1:
        tensor = tensor.expand(3, *tensor.shape[1:])
    elif view == "grad" and tensor.is_floating_point():
        tensor = tensor.float().requires_grad_()
    elif view == "sparse":  # the layout is what counts; not every dtype has sparse kernels
        tensor = tensor.to(torch.float32).to_sparse()
    elif view == "meta":
        tensor = tensor.to("meta")
    elif view == "conj" and tensor.is_complex():
        tensor = tensor.conj()
    elif view == "neg" and tensor.is_complex():
        tensor = torch._neg_view(tensor)
    return tensor


@examples(200)
@given(any_tensors())
@example(torch.zeros((3, 4, 5), dtype=torch.float8_e4m3fn))  # TypeError from .numpy()
@example(torch.zeros((3, 4, 5)).to_sparse())  # TypeError: sparse layout
@example(torch.zeros((3, 4, 5), device="meta"))  # NotImplementedError: no data
# Quantized (TypeError) and nested (RuntimeError) tensors:
@example(_quietly(torch.quantize_per_tensor, torch.zeros(3, 4, 5), 0.1, 0, torch.quint8))
@example(_quietly(torch.nested.nested_tensor, [torch.zeros(4, 5), torch.zeros(4, 5)]))
def test_any_tensor_gives_pixels_or_an_input_error(tensor: torch.Tensor) -> None:
    size = _preprocess_or_input_error(tensor)

    if size is not None:
        assert size == tuple(tensor.shape[-2:])


# --- PIL images -------------------------------------------------------------------------------

PIL_MODES = [*Image.MODES, "BGR;15", "BGR;16", "BGR;24"]


@st.composite
def pil_images(draw: st.DrawFn) -> Image.Image:
    """A PIL image of any mode with random raw pixel bytes (NaN floats, negative ints...)."""
    mode = draw(st.sampled_from(PIL_MODES))
    size = (draw(st.integers(0, 6)), draw(st.integers(0, 6)))
    try:
        blank = Image.new(mode, size)
    except (ValueError, OSError):  # a mode this Pillow cannot create
        return Image.new("RGB", size)
    raw = draw(st.binary(min_size=len(blank.tobytes()), max_size=len(blank.tobytes())))
    image = Image.frombytes(mode, size, raw) if raw else blank
    if mode == "P" or mode == "PA":
        image.putpalette(draw(st.binary(min_size=3, max_size=768)))
    orientation = draw(
        st.none() | st.integers(-2, 10) | st.sampled_from([2**40, "6", 6.5, (6,), b"\x06"])
    )
    if orientation is not None:
        image.getexif()[0x0112] = orientation
    return image


@examples(200)
@given(pil_images())
def test_any_pil_image_gives_pixels_or_an_input_error(image: Image.Image) -> None:
    width, height = image.size
    size = _preprocess_or_input_error(image)

    if size is not None:  # a quarter turn (EXIF 5 to 8) swaps the sides
        assert size in ((height, width), (width, height))


# --- image files, whole, truncated or damaged ---------------------------------------------------

FORMATS = ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM", "TGA", "ICO", "PCX", "SGI", "QOI"]


def _encoded(mode: str, size: tuple[int, int], seed: int, file_format: str) -> bytes | None:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    try:
        image.save(buffer, file_format)
    except (OSError, ValueError, KeyError):  # the format cannot hold this mode here
        return None
    return buffer.getvalue()


@st.composite
def damaged_files(draw: st.DrawFn) -> bytes:
    """An image file, then cut short, with bytes overwritten, or both."""
    file_format = draw(st.sampled_from(FORMATS))
    mode = draw(st.sampled_from(["RGB", "L", "RGBA", "P", "1", "I;16", "CMYK"]))
    size = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    data = _encoded(mode, size, draw(st.integers(0, 99)), file_format)
    if data is None:
        data = _encoded("RGB", size, 0, "PNG")
    assert data is not None
    damage = draw(st.sampled_from(["none", "truncate", "overwrite", "both"]))
    if damage in ("overwrite", "both"):
        rng = random.Random(draw(st.integers(0, 2**32)))
        edits = draw(st.integers(1, 8))
        changed = bytearray(data)
        for _ in range(edits):
            changed[rng.randrange(len(changed))] = rng.randrange(256)
        data = bytes(changed)
    if damage in ("truncate", "both"):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@examples(250)
@given(damaged_files())
def test_any_image_file_gives_pixels_or_an_input_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "image"
        path.write_bytes(data)
        from_file = _preprocess_or_input_error(path)
        from_name = _preprocess_or_input_error(str(path))
    assert from_file == from_name
    try:
        opened = Image.open(io.BytesIO(data))  # lazy: the pixels are decoded by preprocess
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return  # not openable at all: the caller's business, not preprocess's
    _preprocess_or_input_error(opened)


def _qoi_cut_inside_its_header() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3), "red").save(buffer, "QOI")
    return buffer.getvalue()[:13]


def _bmp_claiming_a_huge_size() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "BMP")
    header = bytearray(buffer.getvalue())
    header[18:26] = (60000).to_bytes(4, "little") * 2  # 60000 x 60000 = 3.6 G pixels
    return bytes(header)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # Found by the property above (long run): Pillow's QOI decoder raised IndexError.
        (_qoi_cut_inside_its_header(), "could not"),
        # Pillow's DecompressionBombError is no OSError; it escaped the file reader.
        (_bmp_claiming_a_huge_size(), "decompression bomb"),
    ],
    ids=["truncated QOI", "decompression bomb"],
)
def test_damaged_files_found_by_fuzzing_are_input_errors(
    data: bytes, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "image"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        preprocess(path, IMAGE_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            return
    with pytest.raises(InputError, match=message):
        preprocess(opened, IMAGE_SIZE)


@pytest.mark.parametrize("name", ["a" * 5000, "x/" * 3000, "nul\x00byte", ""])
def test_unusable_paths_are_input_errors(name: str) -> None:
    with pytest.raises(InputError, match="image"):
        preprocess(name, IMAGE_SIZE)


# --- devices ----------------------------------------------------------------------------------


@examples(40)
@given(
    st.sampled_from(["cpu", "cuda", "cuda:7", "mps", "xpu", "meta", "tpu", "cuda:-1", ""])
    | st.text(max_size=8)
    | st.integers(-2, 3)
    | st.none()
)
def test_any_device_gives_pixels_there_or_an_input_error(device: Any) -> None:
    image = np.zeros((4, 5, 3), dtype=np.uint8)
    try:
        prepared = preprocess(image, IMAGE_SIZE, device=device)
    except InputError:
        return
    assert prepared.pixels.device == torch.device(device)
