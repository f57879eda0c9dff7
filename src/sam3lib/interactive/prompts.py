"""Checking and encoding interactive prompts: clicks, a box or boxes, an earlier mask.

Everything a user passes is checked here, with an :class:`~sam3lib.errors.InputError` naming
the argument, before any tensor reaches the model. Coordinates are pixels of the original
image, x right and y down; points and box corners must lie inside the image, edges included
(0 ≤ x ≤ W, 0 ≤ y ≤ H): a point outside is refused, not clipped, since a click outside the
picture is a caller's bug that clipping would hide.

The encoded prompt follows Meta's predictor: per object, the box corners (labels 2, 3) first,
then the clicks, then one padding point (label -1); coordinates scaled to the model's S×S
input frame (x·S/W, y·S/H).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from sam3lib.errors import InputError

__all__ = [
    "ObjectPrompts",
    "PointsLike",
    "as_float_array",
    "check_interactive_prompt",
    "clicks_prompt",
]

PointsLike = Sequence[Sequence[float]] | npt.NDArray[np.generic]

POSITIVE, NEGATIVE = 1, 0
BOX_TOP_LEFT, BOX_BOTTOM_RIGHT, PADDING = 2, 3, -1


@dataclass(frozen=True)
class ObjectPrompts:
    """N objects' prompts, encoded for the model (N = 1 unless ``boxes`` were given).

    Attributes:
        point_coords: (N, P, 2) float32 xy in pixels of the S×S model frame.
        point_labels: (N, P) int64.
        mask_input: (N, 1, 4G, 4G) float32 mask logits (zeros where absent).
        has_mask_input: (N,) bool.
        one_per_object: the prompt listed objects (``boxes``): the answer is one mask per
            object, even for a list of one, rather than one object's candidates.
    """

    point_coords: torch.Tensor
    point_labels: torch.Tensor
    mask_input: torch.Tensor
    has_mask_input: torch.Tensor
    one_per_object: bool = False

    @property
    def num_objects(self) -> int:
        return int(self.point_labels.shape[0])

    def to(self, device: torch.device) -> ObjectPrompts:
        return self._map(lambda t: t.to(device))

    def rows(self, part: slice) -> ObjectPrompts:
        """The prompts of objects ``part`` (for decoding in batches)."""
        return self._map(lambda t: t[part])

    def _map(self, change: Callable[[torch.Tensor], torch.Tensor]) -> ObjectPrompts:
        return ObjectPrompts(
            change(self.point_coords),
            change(self.point_labels),
            change(self.mask_input),
            change(self.has_mask_input),
            self.one_per_object,
        )


def check_interactive_prompt(
    *,
    points: object,
    point_labels: object,
    box: object,
    boxes: object,
    mask_input: object,
    image_size: tuple[int, int],
    model_size: int,
    mask_size: int,
) -> ObjectPrompts:
    """Check a :meth:`Segmenter.predict` prompt and encode it for the model.

    Args:
        points: (P, 2) xy clicks in image pixels, or None.
        point_labels: (P,) 1 (positive) or 0 (negative); None means all positive.
        box: one xyxy box in image pixels, or None.
        boxes: (N, 4) xyxy boxes, one object each, or None; not with ``box`` or ``points``.
        mask_input: low-resolution logits of an earlier prediction of the same object(s):
            (m, m), (1, m, m) or, with ``boxes``, (N, m, m) / (N, 1, m, m); m = ``mask_size``.
        image_size: (H, W) of the original image.
        model_size: side S of the model's input frame.
        mask_size: side of the low-resolution masks (4G).

    Raises:
        InputError: naming the argument at fault.
    """
    if box is not None and boxes is not None:
        raise InputError("box and boxes: give one box (one object) or boxes (several), not both")
    if boxes is not None and points is not None:
        raise InputError(
            "points with boxes: clicks belong to one object; predict each box with box= and "
            "its points, or give the boxes alone"
        )
    if points is None and point_labels is not None:
        raise InputError("point_labels given without points")
    if points is None and box is None and boxes is None and mask_input is None:
        raise InputError("empty prompt: give points, a box, boxes or a mask_input")
    height, width = image_size
    coords_parts: list[npt.NDArray[np.float64]] = []
    label_parts: list[npt.NDArray[np.int64]] = []

    if boxes is not None:
        box_array = _boxes(boxes, "boxes", image_size)
    elif box is not None:
        box_array = _boxes([box] if _is_flat_box(box) else box, "box", image_size)
        if box_array.shape[0] != 1:
            raise InputError(f"box: expected one box [x0, y0, x1, y1], got {box_array.shape[0]}")
    else:
        box_array = None
    num_objects = 1 if box_array is None else box_array.shape[0]
    if box_array is not None:
        coords_parts.append(box_array.reshape(num_objects, 2, 2))
        label_parts.append(np.tile([BOX_TOP_LEFT, BOX_BOTTOM_RIGHT], (num_objects, 1)))

    if points is not None:
        clicks = _points(points, image_size)
        labels = _labels(point_labels, clicks.shape[0])
        coords_parts.append(clicks[None])
        label_parts.append(labels[None])

    if coords_parts:  # Meta appends a padding point to every point prompt
        coords_parts.append(np.zeros((num_objects, 1, 2)))
        label_parts.append(np.full((num_objects, 1), PADDING))
        coords = np.concatenate(coords_parts, axis=1)
        labels_all = np.concatenate(label_parts, axis=1)
    else:  # a mask alone: no sparse prompt at all, as in Meta's predictor
        coords = np.zeros((num_objects, 0, 2))
        labels_all = np.zeros((num_objects, 0), dtype=np.int64)

    scale = np.array([model_size / width, model_size / height])
    masks, has_mask = _mask_input(mask_input, num_objects, mask_size)
    return ObjectPrompts(
        point_coords=torch.from_numpy((coords * scale).astype(np.float32)),
        point_labels=torch.from_numpy(labels_all.astype(np.int64)),
        mask_input=masks,
        has_mask_input=has_mask,
        one_per_object=boxes is not None,
    )


def clicks_prompt(
    points_px: torch.Tensor, image_size: tuple[int, int], model_size: int, mask_size: int
) -> ObjectPrompts:
    """One object per click: each a single positive point plus Meta's padding point.

    Args:
        points_px: (N, 2) xy in pixels of an image of ``image_size`` (H, W); not checked
            (the automatic mask generator makes them).
    """
    height, width = image_size
    count = points_px.shape[0]
    scale = torch.tensor([model_size / width, model_size / height], dtype=torch.float64)
    clicks = (points_px.to(torch.float64) * scale).to(torch.float32).unsqueeze(1)
    coords = torch.cat((clicks, torch.zeros(count, 1, 2)), dim=1)
    labels = torch.tensor([POSITIVE, PADDING]).expand(count, 2).contiguous()
    masks, has_mask = _mask_input(None, count, mask_size)
    return ObjectPrompts(coords, labels, masks, has_mask, one_per_object=True)


def _is_flat_box(box: object) -> bool:
    array = as_float_array(box, "box")
    return array.ndim == 1


def as_float_array(value: object, argument: str) -> npt.NDArray[np.float64]:
    """``value`` (nested sequences, numpy, torch on any device) as finite float64 numbers."""
    if isinstance(value, (str, bytes)):
        raise InputError(f"{argument}: expected numbers, got a {type(value).__name__}")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{argument}: expected an array of numbers ({error})") from None
    if not np.isfinite(array).all():
        raise InputError(f"{argument}: contains NaN or infinite values")
    return array


def _points(points: object, image_size: tuple[int, int]) -> npt.NDArray[np.float64]:
    array = as_float_array(points, "points")
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise InputError(
            f"points: expected (P, 2) xy pixel coordinates with P >= 1, e.g. [[410, 220]]; "
            f"got shape {array.shape}"
        )
    _check_inside(array, "points", image_size)
    return array


def _boxes(boxes: object, argument: str, image_size: tuple[int, int]) -> npt.NDArray[np.float64]:
    array = as_float_array(boxes, argument)
    if array.ndim != 2 or array.shape[1] != 4 or array.shape[0] == 0:
        raise InputError(
            f"{argument}: expected xyxy pixel boxes [[x0, y0, x1, y1], ...], at least one; "
            f"got shape {array.shape}"
        )
    flat = array.reshape(-1, 2, 2)
    _check_inside(flat.reshape(-1, 2), argument, image_size)
    empty = np.flatnonzero((array[:, 2] <= array[:, 0]) | (array[:, 3] <= array[:, 1]))
    if empty.size:
        raise InputError(
            f"{argument}: box {int(empty[0])} {array[empty[0]].tolist()} has no area; "
            "boxes are [x0, y0, x1, y1] with x1 > x0 and y1 > y0"
        )
    return array


def _check_inside(xy: npt.NDArray[np.float64], argument: str, image_size: tuple[int, int]) -> None:
    height, width = image_size
    outside = np.flatnonzero(
        (xy[:, 0] < 0) | (xy[:, 0] > width) | (xy[:, 1] < 0) | (xy[:, 1] > height)
    )
    if outside.size:
        first = xy[outside[0]].tolist()
        raise InputError(
            f"{argument}: {outside.size} coordinate pair(s) outside the {width}x{height} image "
            f"(first: {first}); coordinates are pixels, 0 <= x <= {width}, 0 <= y <= {height} "
            "(refused, not clipped)"
        )


def _labels(point_labels: object, count: int) -> npt.NDArray[np.int64]:
    if point_labels is None:
        return np.full(count, POSITIVE, dtype=np.int64)
    array = as_float_array(point_labels, "point_labels")
    if array.ndim != 1 or array.shape[0] != count:
        raise InputError(
            f"point_labels: expected one label per point ({count}), got shape {array.shape}"
        )
    if not np.isin(array, (POSITIVE, NEGATIVE)).all():
        bad = array[~np.isin(array, (POSITIVE, NEGATIVE))][0]
        raise InputError(
            f"point_labels: expected 1 (positive) or 0 (negative) per point, got {bad:g}"
        )
    return array.astype(np.int64)


def _mask_input(
    mask_input: object, num_objects: int, mask_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    if mask_input is None:
        return (
            torch.zeros(num_objects, 1, mask_size, mask_size),
            torch.zeros(num_objects, dtype=torch.bool),
        )
    array = as_float_array(mask_input, "mask_input")
    shape = array.shape
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    expected_objects = {1, num_objects}
    if (
        array.ndim != 3
        or array.shape[1:] != (mask_size, mask_size)
        or (array.shape[0] not in expected_objects)
    ):
        objects = "" if num_objects == 1 else f" or ({num_objects}, {mask_size}, {mask_size})"
        raise InputError(
            f"mask_input: expected the low-resolution logits of an earlier prediction, "
            f"({mask_size}, {mask_size}){objects} (e.g. result.logits[result.best]); got shape "
            f"{shape}"
        )
    masks = torch.from_numpy(array.astype(np.float32)).unsqueeze(1)
    masks = masks.expand(num_objects, -1, -1, -1).contiguous()
    return masks, torch.ones(num_objects, dtype=torch.bool)
