"""The answer to one prompt on one image: instance masks, boxes and scores, with exports.

:class:`SegmentationResult` holds plain numpy arrays at the image's original size, so it can
be inspected, filtered with numpy and handed to other tools without touching torch. Exports:
COCO RLE (:meth:`~SegmentationResult.to_coco_rle`), COCO polygons
(:meth:`~SegmentationResult.to_polygons`), a JSON-ready dict
(:meth:`~SegmentationResult.to_dict`) and a drawn overlay (:meth:`~SegmentationResult.overlay`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from sam3lib.errors import InputError
from sam3lib.formats import encode_rle, mask_to_polygons

if TYPE_CHECKING:
    from PIL import Image

    from sam3lib.preprocess import ImageLike

__all__ = ["MaskFormat", "SegmentationResult"]

MaskFormat = Literal["rle", "polygons", "none"]
_MASK_FORMATS: tuple[MaskFormat, ...] = ("rle", "polygons", "none")
_EXEMPLAR_LABEL = "exemplar"


@dataclass(frozen=True, eq=False, repr=False)
class SegmentationResult:
    """Every instance of one prompt found in one image, at the image's original size.

    Attributes:
        masks: (N, H, W) bool, one mask per instance.
        boxes: (N, 4) float32, xyxy in pixels of the original image.
        scores: (N,) float32 detection scores σ(query logit)·σ(presence logit), highest first
            as the segmenter returns them (not enforced, so callers may reorder or filter).
        prompt: the text prompt as the user wrote it; ``None`` for prompts made of exemplar
            boxes only.
        image_size: (H, W) of the original image.
        timings: seconds spent per stage, e.g. ``{"encode_image": 0.8, "decode": 0.1}``;
            stored as a read-only copy.
        query: the English text the model read for ``prompt``: the prompt itself when it is
            English, its translation otherwise (``红色的汽车`` → ``red car``, see
            :func:`sam3lib.translate`); ``None`` without a text prompt, or when whoever made
            the result did not record it.

    Raises:
        InputError: the arrays disagree on N, have the wrong dtype or shape, or the masks are
            not ``image_size``.

    Example:
        >>> import numpy as np
        >>> masks = np.zeros((1, 4, 6), dtype=bool)
        >>> masks[0, 1:3, 2:5] = True
        >>> result = SegmentationResult(
        ...     masks=masks,
        ...     boxes=np.array([[2, 1, 5, 3]], dtype=np.float32),
        ...     scores=np.array([0.9], dtype=np.float32),
        ...     prompt="cat",
        ...     image_size=(4, 6),
        ... )
        >>> result
        SegmentationResult(prompt='cat', instances=1, image_size=(4, 6))
        >>> result.areas.tolist(), result.to_coco_rle()[0]["counts"]
        ([6], '9220003')
    """

    masks: npt.NDArray[np.bool_]
    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    prompt: str | None
    image_size: tuple[int, int]
    timings: Mapping[str, float] = field(default_factory=dict)
    query: str | None = None

    def __post_init__(self) -> None:
        height, width = check_image_size(self.image_size)
        # frozen: normalise through object.__setattr__, once, at construction.
        object.__setattr__(self, "image_size", (height, width))
        object.__setattr__(self, "timings", MappingProxyType(check_timings(self.timings)))
        if self.prompt is not None and not isinstance(self.prompt, str):
            raise InputError(f"prompt: expected a str or None, got {type(self.prompt).__name__}")
        if self.query is not None and not isinstance(self.query, str):
            raise InputError(f"query: expected a str or None, got {type(self.query).__name__}")
        if self.query is not None and self.prompt is None:
            raise InputError("query: a result without a text prompt has no query; pass None")
        check_array(self.masks, "masks", np.bool_, "(N, H, W) bool", ndim=3)
        count = self.masks.shape[0]
        if self.masks.shape[1:] != (height, width):
            raise InputError(
                f"masks: shape {self.masks.shape} does not match image_size {(height, width)}; "
                "expected (N, H, W) at the original image size"
            )
        check_boxes_and_scores(self.boxes, self.scores, count)

    @classmethod
    def empty(
        cls,
        prompt: str | None,
        image_size: tuple[int, int],
        timings: Mapping[str, float] | None = None,
        *,
        query: str | None = None,
    ) -> SegmentationResult:
        """A result with no instances, for prompts that matched nothing.

        Args:
            prompt: the text prompt, or ``None`` for exemplar-only prompts.
            image_size: (H, W) of the original image.
            timings: seconds per stage; none by default.
            query: the English query the model read for ``prompt``.

        Returns:
            A result with N = 0.

        Example:
            >>> len(SegmentationResult.empty("dog", (480, 640)))
            0
        """
        height, width = check_image_size(image_size)
        return cls(
            masks=np.zeros((0, height, width), dtype=np.bool_),
            boxes=np.zeros((0, 4), dtype=np.float32),
            scores=np.zeros(0, dtype=np.float32),
            prompt=prompt,
            image_size=(height, width),
            timings={} if timings is None else timings,
            query=query,
        )

    @property
    def label(self) -> str:
        """The prompt, or ``"exemplar"`` when the prompt was exemplar boxes only."""
        return _EXEMPLAR_LABEL if self.prompt is None else self.prompt

    @property
    def areas(self) -> npt.NDArray[np.int64]:
        """(N,) int64: pixels in each mask."""
        return self.masks.sum(axis=(1, 2), dtype=np.int64)

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def __repr__(self) -> str:
        return (
            f"SegmentationResult(prompt={self.prompt!r}, instances={len(self)}, "
            f"image_size={self.image_size})"
        )

    def to_coco_rle(self) -> list[dict[str, Any]]:
        """Each mask as a compressed COCO RLE, byte-identical to ``pycocotools.mask.encode``.

        Returns:
            One ``{"size": [H, W], "counts": str}`` per instance; ``counts`` is the compressed
            string as ``str``, ready for JSON (pycocotools accepts it back as is).

        Example:
            >>> SegmentationResult.empty("cat", (4, 6)).to_coco_rle()
            []
        """
        return [encode_rle(mask) for mask in self.masks]

    def to_polygons(self) -> list[list[list[float]]]:
        """Each mask as COCO polygons, traced exactly along pixel edges.

        Returns:
            Per instance, a list of flat ``[x0, y0, x1, y1, ...]`` polygons in pixel-edge
            coordinates (pixel (r, c) spans (c, r)-(c+1, r+1)), one per 8-connected part;
            holes are kept through zero-width cuts, see :mod:`sam3lib.formats.polygons`.

        Example:
            >>> SegmentationResult.empty("cat", (4, 6)).to_polygons()
            []
        """
        return [mask_to_polygons(mask) for mask in self.masks]

    def to_dict(self, mask_format: MaskFormat = "rle") -> dict[str, Any]:
        """Everything in the result as plain Python values, ready for ``json.dumps``.

        Args:
            mask_format: ``"rle"`` (compressed COCO RLE), ``"polygons"`` (COCO polygons) or
                ``"none"`` (no ``"segmentation"`` key, for boxes and scores only).

        Returns:
            ``{"prompt", "query", "label", "image_size": [H, W], "timings", "instances":
            [{"label", "score", "box": [x0, y0, x1, y1], "area", "segmentation"}, ...]}``
            (``prompt``: the user's words, ``query``: the English the model read). Scores
            and boxes are the float32 values widened to Python floats.

        Raises:
            InputError: unknown ``mask_format``.

        Example:
            >>> SegmentationResult.empty(None, (4, 6)).to_dict()["label"]
            'exemplar'
        """
        return result_dict(self, mask_format)

    def overlay(
        self,
        image: ImageLike,
        *,
        alpha: float = 0.45,
        edge_width: int = 2,
        show_labels: bool = True,
    ) -> Image.Image:
        """Draws this result over ``image``; see :func:`sam3lib.visualize.draw_overlay`.

        Example:
            >>> import numpy as np
            >>> result = SegmentationResult.empty("cat", (4, 6))
            >>> result.overlay(np.zeros((4, 6, 3), dtype=np.uint8)).size
            (6, 4)
        """
        # Imported here: visualize depends on this module, not the other way round.
        from sam3lib.visualize import draw_overlay

        return draw_overlay(
            image, [self], alpha=alpha, edge_width=edge_width, show_labels=show_labels
        )


def result_dict(result: Any, mask_format: object) -> dict[str, Any]:
    """The ``to_dict`` payload of any result with ``prompt``, ``query``, ``label``,
    ``image_size``, ``timings``, ``scores``, ``boxes``, ``areas``, ``to_coco_rle()`` and
    ``to_polygons()`` (a :class:`SegmentationResult`, a tiled result)."""
    if mask_format not in _MASK_FORMATS:
        raise InputError(
            f"mask_format: expected one of {', '.join(map(repr, _MASK_FORMATS))}, "
            f"got {mask_format!r}"
        )
    segmentations: list[Any] | None = None
    if mask_format == "rle":
        segmentations = result.to_coco_rle()
    elif mask_format == "polygons":
        segmentations = result.to_polygons()
    instances: list[dict[str, Any]] = []
    for index, (score, box, area) in enumerate(
        zip(result.scores.tolist(), result.boxes.tolist(), result.areas.tolist(), strict=True)
    ):
        instance: dict[str, Any] = {"label": result.label, "score": score, "box": box, "area": area}
        if segmentations is not None:
            instance["segmentation"] = segmentations[index]
        instances.append(instance)
    return {
        "prompt": result.prompt,
        "query": result.query,
        "label": result.label,
        "image_size": list(result.image_size),
        "timings": dict(result.timings),
        "instances": instances,
    }


def check_boxes_and_scores(boxes: npt.NDArray[Any], scores: npt.NDArray[Any], count: int) -> None:
    """Raises InputError unless ``boxes`` is (count, 4) and ``scores`` (count,), float32."""
    check_array(boxes, "boxes", np.float32, "(N, 4) float32", ndim=2)
    if boxes.shape != (count, 4):
        raise InputError(f"boxes: expected shape ({count}, 4), got {boxes.shape}")
    check_array(scores, "scores", np.float32, "(N,) float32", ndim=1)
    if scores.shape != (count,):
        raise InputError(f"scores: expected shape ({count},), got {scores.shape}")


def check_image_size(image_size: object) -> tuple[int, int]:
    if (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(_is_int(side) and side > 0 for side in image_size)
    ):
        return int(image_size[0]), int(image_size[1])
    raise InputError(f"image_size: expected (height, width) positive ints, got {image_size!r}")


def check_timings(timings: object) -> dict[str, float]:
    if not isinstance(timings, Mapping):
        raise InputError(f"timings: expected a mapping of str to seconds, got {timings!r}")
    checked: dict[str, float] = {}
    for stage, seconds in timings.items():
        if not isinstance(stage, str) or not _is_real(seconds) or not math.isfinite(seconds):
            raise InputError(
                f"timings: expected str keys and finite seconds, got {stage!r}: {seconds!r}"
            )
        checked[stage] = float(seconds)
    return checked


def check_array(value: object, argument: str, dtype: type, expected: str, *, ndim: int) -> None:
    if not isinstance(value, np.ndarray):
        raise InputError(
            f"{argument}: expected a {expected} numpy array, got {type(value).__name__}"
        )
    if value.dtype != dtype or value.ndim != ndim:
        raise InputError(
            f"{argument}: expected a {expected} numpy array, got {value.dtype} of shape "
            f"{value.shape}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
