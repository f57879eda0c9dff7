"""What a user may ask for, checked and turned into model inputs.

Text prompts become a list of strings; exemplar boxes (xyxy pixels of the original image)
become SAM 3's normalised centre/size boxes with 0/1 labels. Every problem is an
:class:`~sam3lib.errors.InputError` that names the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import torch

from sam3lib.errors import InputError

#: Exemplar boxes as the user gives them: (M, 4) xyxy pixels, as nested sequences, numpy or torch.
BoxesLike: TypeAlias = Sequence[Sequence[float]] | npt.NDArray[Any] | torch.Tensor

#: Meta's reference feeds this text when a prompt has exemplar boxes only.
BOX_ONLY_TEXT = "visual"


@dataclass(frozen=True)
class Exemplars:
    """Exemplar boxes ready for ``decode``: each tensor has a leading batch dimension of 1.

    Attributes:
        boxes_cxcywh: (1, M, 4) float32, centre/size normalised by the image's width/height.
        labels: (1, M) int64, 1 positive, 0 negative.
    """

    boxes_cxcywh: torch.Tensor
    labels: torch.Tensor

    def to(self, device: torch.device) -> Exemplars:
        return Exemplars(self.boxes_cxcywh.to(device), self.labels.to(device))


def check_text_prompts(prompt: object, *, allow_none: bool) -> list[str] | None:
    """One prompt or a sequence of prompts -> a non-empty list of non-blank strings.

    Example:
        >>> check_text_prompts("red car", allow_none=False)
        ['red car']
    """
    if prompt is None:
        if allow_none:
            return None
        raise InputError("prompt: give a text prompt (e.g. 'red car') or exemplar boxes")
    if isinstance(prompt, str):
        prompts: list[object] = [prompt]
    elif isinstance(prompt, Sequence) and not isinstance(prompt, bytes):
        prompts = list(prompt)
        if not prompts:
            raise InputError("prompt: the list of prompts is empty")
    else:
        raise InputError(f"prompt: expected a string or a list of strings, got {_kind(prompt)}")
    for index, text in enumerate(prompts):
        if not isinstance(text, str):
            raise InputError(f"prompt[{index}]: expected a string, got {_kind(text)}")
        if not text.strip():
            raise InputError(f"prompt[{index}]: the prompt is empty")
        if not _is_unicode(text):
            raise InputError(
                f"prompt[{index}]: holds a lone surrogate, which is not text; decode the prompt "
                "from its bytes with errors='replace'"
            )
    return [str(text) for text in prompts]


def check_exemplars(
    boxes: BoxesLike | None, box_labels: Sequence[int] | None, image_size: tuple[int, int]
) -> Exemplars | None:
    """Validate exemplar boxes in pixels of an image of ``image_size`` = (H, W).

    A box partly outside the image is clipped to it; a box with x1 <= x0 or y1 <= y0, or one
    wholly outside the image, is an error. Labels default to 1 (positive).

    Example:
        >>> ex = check_exemplars([[10, 20, 30, 60]], None, image_size=(100, 200))
        >>> ex.boxes_cxcywh.double().round(decimals=3).tolist(), ex.labels.tolist()
        ([[[0.1, 0.4, 0.1, 0.4]]], [[1]])
    """
    checked = check_exemplar_boxes(boxes, box_labels, image_size)
    return None if checked is None else exemplars(*checked, image_size)


def check_exemplar_boxes(
    boxes: BoxesLike | None, box_labels: Sequence[int] | None, image_size: tuple[int, int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None:
    """What :func:`check_exemplars` checks, as pixels: (M, 4) xyxy clipped to the image and
    (M,) labels; ``None`` without boxes.

    Example:
        >>> check_exemplar_boxes([[-5, 20, 30, 60]], [0], image_size=(100, 200))
        (array([[ 0., 20., 30., 60.]]), array([0]))
    """
    if boxes is None:
        if box_labels is not None:
            raise InputError("box_labels: given without boxes")
        return None
    xyxy = _boxes_array(boxes)
    height, width = image_size
    for index, (x0, y0, x1, y1) in enumerate(xyxy.tolist()):
        if x1 <= x0 or y1 <= y0:
            raise InputError(
                f"boxes[{index}]: expected x0 < x1 and y0 < y1 (xyxy pixels), got "
                f"{[x0, y0, x1, y1]}"
            )
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            raise InputError(
                f"boxes[{index}]: {[x0, y0, x1, y1]} lies wholly outside the {width}x{height} image"
            )
    clipped = np.clip(xyxy, 0.0, [width, height, width, height])
    return clipped, _labels_array(box_labels, len(xyxy))


def exemplars(
    boxes_xyxy: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], image_size: tuple[int, int]
) -> Exemplars:
    """Checked pixel boxes inside an image of ``image_size`` (H, W) -> the model's inputs."""
    height, width = image_size
    scale = np.array([width, height], dtype=np.float64)
    centre = (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:]) / 2 / scale
    size = (boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]) / scale
    cxcywh = np.concatenate([centre, size], axis=1)
    return Exemplars(
        boxes_cxcywh=torch.from_numpy(cxcywh).to(torch.float32).unsqueeze(0),
        labels=torch.from_numpy(labels).unsqueeze(0),
    )


def _boxes_array(boxes: BoxesLike) -> npt.NDArray[np.float64]:
    try:
        if isinstance(boxes, torch.Tensor):
            boxes = boxes.detach().cpu().to(torch.float64).numpy()
        xyxy = np.asarray(boxes, dtype=np.float64)
    # Ints beyond float64 overflow; sparse, meta and other unusual tensors refuse conversion.
    except (TypeError, ValueError, OverflowError, RuntimeError, NotImplementedError) as error:
        raise InputError(
            f"boxes: expected (M, 4) numbers [x0, y0, x1, y1] in pixels, got {_kind(boxes)}"
        ) from error
    if xyxy.ndim == 1 and xyxy.shape[0] == 4:
        xyxy = xyxy[None]  # one box given flat
    if xyxy.ndim != 2 or xyxy.shape[1] != 4 or xyxy.shape[0] == 0:
        raise InputError(
            f"boxes: expected (M, 4) boxes [x0, y0, x1, y1] in pixels, M >= 1; got shape "
            f"{xyxy.shape}"
        )
    if not np.isfinite(xyxy).all():
        raise InputError("boxes: coordinates must be finite (no NaN or inf)")
    return xyxy


def _labels_array(box_labels: Sequence[int] | None, count: int) -> npt.NDArray[np.int64]:
    if box_labels is None:
        return np.ones(count, dtype=np.int64)
    try:
        if isinstance(box_labels, torch.Tensor):
            box_labels = box_labels.detach().cpu().tolist()
        values = list(np.asarray(box_labels, dtype=object).reshape(-1))
    except (TypeError, ValueError, RuntimeError, NotImplementedError) as error:  # ragged lists
        raise InputError(
            f"box_labels: expected {count} labels, 1 (positive) or 0 (negative); got "
            f"{_kind(box_labels)}"
        ) from error
    if len(values) != count:
        raise InputError(f"box_labels: expected {count} labels (one per box), got {len(values)}")
    for index, value in enumerate(values):
        number = value.item() if isinstance(value, np.generic) else value
        if isinstance(number, float) and math.isfinite(number) and number.is_integer():
            number = int(number)
        if not isinstance(number, (int, bool)) or number not in (0, 1):
            raise InputError(
                f"box_labels[{index}]: expected 1 (positive) or 0 (negative), got {value!r}"
            )
    return np.asarray([int(v) for v in values], dtype=np.int64)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: object) -> str:
    return type(value).__name__
