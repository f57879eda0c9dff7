"""The Segmenter: SAM 3's image modes behind one object.

Concept segmentation (text and exemplar boxes -> every matching instance) is orchestrated
here: it prepares inputs (:mod:`sam3lib.preprocess`, :mod:`sam3lib.translation` for prompts
not in English, :mod:`sam3lib.tokenizer`, :mod:`sam3lib.prompts`), runs a
:class:`~sam3lib.backends.Backend` and turns raw outputs into
:class:`~sam3lib.result.SegmentationResult` with :mod:`sam3lib.postprocess`. Interactive
segmentation (clicks, boxes -> one object) and automatic masks live in
:mod:`sam3lib.interactive`; the Segmenter only checks their arguments and hands over. It knows
nothing about precisions or engines.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, overload

import torch
from tqdm.auto import tqdm

from sam3lib.backends import Backend, Precision, check_precision, create_backend, default_backend
from sam3lib.checkpoint.resolve import resolve_checkpoint
from sam3lib.embedding import ImageEmbedding
from sam3lib.errors import CheckpointError, InputError
from sam3lib.interactive.generator import GeneratedMasks, generate_masks
from sam3lib.interactive.mask_generation import MaskGenerationOptions
from sam3lib.interactive.predictor import DEFAULT_MAX_HOLE_AREA, InteractivePredictor
from sam3lib.interactive.prompts import PointsLike, check_interactive_prompt
from sam3lib.interactive.result import InteractiveResult
from sam3lib.postprocess import (
    MaskOrder,
)
from sam3lib.postprocess.pipeline import PostprocessOptions, Refine, instances
from sam3lib.preprocess import ImageLike, preprocess, to_rgb_uint8
from sam3lib.prompts import (
    BOX_ONLY_TEXT,
    BoxesLike,
    Exemplars,
    check_exemplar_boxes,
    check_exemplars,
    check_text_prompts,
)
from sam3lib.result import SegmentationResult
from sam3lib.text_cache import TextFeatureCache
from sam3lib.tiling import TiledSegmentationResult, Tiles
from sam3lib.tiling.interactive import WindowedInteractiveResult, predict_in_window
from sam3lib.tiling.options import TilingAdvice, resolve_tiles, tiling_advice
from sam3lib.tiling.segment import TiledPrompts, segment_tiles
from sam3lib.tiling.source import TileSource
from sam3lib.tokenizer import Sam3Tokenizer
from sam3lib.translation import (
    Translator,
    check_translator,
    english_queries,
    needs_translation,
    translate,
)
from sam3lib.video.frames import FrameSource
from sam3lib.video.session import ClickPrompts, VideoTracking, start_tracking
from sam3lib.video.tracking_config import TrackingConfig


class Segmenter:
    """Finds every instance of a concept ("red car") in an image.

    Args:
        backend: the engine that runs the model (see :mod:`sam3lib.backends`).
        tokenizer: the checkpoint's tokenizer.
        text_cache_size: how many distinct prompts keep their text features (0: none).
        translator: turns a prompt that is not ASCII into the English query the model reads
            (SAM 3 knows English noun phrases only): :func:`sam3lib.translate` (offline
            Chinese, the ``zh`` extra) by default, any function ``str -> str`` (an LLM, a
            glossary), or ``None`` to send every prompt as typed. ASCII prompts never reach
            it. Kept as :attr:`translator`.

    A Segmenter can be shared by many threads: it holds no per-call state, and its text
    cache is locked.

    Example:
        >>> seg = Segmenter.from_pretrained("facebook/sam3")  # doctest: +SKIP
        >>> result = seg.segment("street.jpg", "red car")  # doctest: +SKIP
        >>> result.masks.shape, result.scores  # doctest: +SKIP
        ((3, 720, 1280), array([0.93, 0.88, 0.61], dtype=float32))
    """

    def __init__(
        self,
        backend: Backend,
        tokenizer: Sam3Tokenizer,
        *,
        text_cache_size: int = 256,
        translator: Translator | None = translate,
    ) -> None:
        if not isinstance(backend, Backend):
            raise InputError(
                f"backend: expected a sam3lib Backend (see sam3lib.backends), got "
                f"{type(backend).__name__}"
            )
        if not isinstance(tokenizer, Sam3Tokenizer):
            raise InputError(f"tokenizer: expected a Sam3Tokenizer, got {type(tokenizer).__name__}")
        text = backend.config.text
        if tokenizer.vocab_size > text.vocab_size:
            # Else an id past the embedding table would fail deep inside the text encoder.
            raise InputError(
                f"the tokenizer has {tokenizer.vocab_size} ids but the model's text encoder "
                f"embeds {text.vocab_size}: pass the tokenizer saved with these weights"
            )
        self.backend = backend
        self.tokenizer = tokenizer
        self.text_cache = TextFeatureCache(text_cache_size)
        self.interactive = InteractivePredictor(backend)
        self.translator = check_translator(translator)

    @classmethod
    def from_pretrained(
        cls,
        source: str | os.PathLike[str] = "facebook/sam3",
        *,
        device: str | torch.device = "cpu",
        backend: str | None = None,
        precision: Precision = "fp32",
        tokenizer: str | os.PathLike[str] | Sam3Tokenizer | None = None,
        revision: str | None = None,
        token: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        text_cache_size: int = 256,
        translator: Translator | None = translate,
        resolution: int | None = None,
        **backend_options: Any,
    ) -> Segmenter:
        """Load a checkpoint and build the backend that runs it.

        Args:
            source: a hub repo id (``"facebook/sam3"``), a checkpoint directory or a weights
                file.
            device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
            backend: ``"eager"``, ``"amp"``, ``"onnxruntime"`` or ``"tensorrt"`` (see
                :mod:`sam3lib.backends`); by default eager for fp32 and amp otherwise.
            precision: ``"fp32"``, ``"fp16"`` or ``"bf16"``.
            tokenizer: a directory holding tokenizer files, or a tokenizer; by default the
                checkpoint's own (a bare weights file has none: pass one).
            revision, token, cache_dir: for the Hugging Face Hub.
            text_cache_size: prompts whose text features are kept.
            translator: prompt (not ASCII) → English query; :func:`sam3lib.translate` by
                default, ``None`` for none (see the class).
            resolution: run at this input size instead of the checkpoint's (1008 for SAM 3):
                a multiple of 336; smaller runs faster and sees less detail, larger sees
                smaller objects (see :meth:`Sam3Config.at_resolution`). Exported graphs run
                at their export's size only (``sam3lib export --resolution``).
            **backend_options: passed to the backend (e.g. ``cast_weights=True`` for amp,
                ``compile=True`` for eager and amp).

        Raises:
            InputError: unknown backend, precision or device, or a bad option.
            CheckpointError: the checkpoint or its tokenizer cannot be found or read.

        Example:
            >>> seg = Segmenter.from_pretrained("facebook/sam3", device="cuda",
            ...                                 precision="bf16")  # doctest: +SKIP
        """
        checked_precision = check_precision(precision)
        name = default_backend(checked_precision) if backend is None else backend
        resolved = resolve_checkpoint(source, revision=revision, token=token, cache_dir=cache_dir)
        text_tokenizer = _load_tokenizer(tokenizer, resolved.tokenizer_files, str(source))
        if resolution is not None:
            backend_options["resolution"] = resolution
        engine = create_backend(
            name, resolved, device=device, precision=checked_precision, **backend_options
        )
        return cls(engine, text_tokenizer, text_cache_size=text_cache_size, translator=translator)

    @property
    def device(self) -> torch.device:
        return self.backend.device

    def encode_image(self, image: ImageLike) -> ImageEmbedding:
        """Encode an image once, for any number of :meth:`segment` calls.

        Example:
            >>> emb = seg.encode_image("street.jpg")  # doctest: +SKIP
            >>> cars, bikes = seg.segment(emb, ["car", "bicycle"])  # doctest: +SKIP
        """
        timings: dict[str, float] = {}
        with self._timed(timings, "preprocess"):
            prepared = preprocess(image, self.backend.config.vision.image_size, self.device)
        with self._timed(timings, "encode_image"), torch.inference_mode():
            features = self.backend.encode_image(prepared.pixels)
        return ImageEmbedding(features, prepared.original_size, timings, self.backend)

    # A str is also a Sequence[str]: overload order picks the single-result signature for it.
    @overload
    def segment(  # type: ignore[overload-overlap]
        self,
        image: ImageLike | ImageEmbedding,
        prompt: str | None = None,
        *,
        boxes: BoxesLike | None = None,
        box_labels: Sequence[int] | None = None,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        top_k: int | None = None,
        nms_iou: float | None = None,
        refine: Refine = None,
        mask_order: MaskOrder = "meta",
        tiles: None = None,
    ) -> SegmentationResult: ...

    @overload
    def segment(
        self,
        image: ImageLike | ImageEmbedding,
        prompt: Sequence[str],
        *,
        boxes: BoxesLike | None = None,
        box_labels: Sequence[int] | None = None,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        top_k: int | None = None,
        nms_iou: float | None = None,
        refine: Refine = None,
        mask_order: MaskOrder = "meta",
        tiles: None = None,
    ) -> list[SegmentationResult]: ...

    @overload
    def segment(  # type: ignore[overload-overlap]
        self,
        image: ImageLike,
        prompt: str | None = None,
        *,
        boxes: BoxesLike | None = None,
        box_labels: Sequence[int] | None = None,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        top_k: int | None = None,
        nms_iou: float | None = None,
        refine: Refine = None,
        mask_order: MaskOrder = "meta",
        tiles: Tiles,
    ) -> TiledSegmentationResult: ...

    @overload
    def segment(
        self,
        image: ImageLike,
        prompt: Sequence[str],
        *,
        boxes: BoxesLike | None = None,
        box_labels: Sequence[int] | None = None,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        top_k: int | None = None,
        nms_iou: float | None = None,
        refine: Refine = None,
        mask_order: MaskOrder = "meta",
        tiles: Tiles,
    ) -> list[TiledSegmentationResult]: ...

    def segment(
        self,
        image: ImageLike | ImageEmbedding,
        prompt: str | Sequence[str] | None = None,
        *,
        boxes: BoxesLike | None = None,
        box_labels: Sequence[int] | None = None,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        top_k: int | None = None,
        nms_iou: float | None = None,
        refine: Refine = None,
        mask_order: MaskOrder = "meta",
        tiles: Tiles | None = None,
    ) -> (
        SegmentationResult
        | list[SegmentationResult]
        | TiledSegmentationResult
        | list[TiledSegmentationResult]
    ):
        """Find every instance of the prompted concept(s).

        Args:
            image: a path, PIL image, numpy array, torch tensor, or an :class:`ImageEmbedding`
                from :meth:`encode_image` (then the image encoder does not run again).
            prompt: a text prompt, or a list of prompts decoded together in one batched pass.
                May be omitted when ``boxes`` are given. A prompt that is not ASCII goes
                through :attr:`translator` first (``红色的汽车`` → ``red car``); the result
                keeps the prompt as given and the English in ``query``.
            boxes: exemplar boxes, (M, 4) xyxy in pixels of the image; shared by all prompts.
            box_labels: 1 (positive, default) or 0 (negative) per box.
            threshold: keep instances whose score σ(query)·σ(presence) is above it.
            mask_threshold: a pixel belongs to a mask where σ(mask logit) is above it.
            top_k: keep at most this many instances per prompt (highest scores).
            nms_iou: if set, drop masks overlapping a better one with IoU above it (off by
                default, as in the reference).
            refine: mask clean-up: a :class:`~sam3lib.postprocess.MaskRefinement`, a level
                0-5 (``MaskRefinement.from_level``), or any function of (N, H, W) bool masks.
            mask_order: ``"meta"`` upsamples logits then applies σ (the reference's order);
                ``"transformers"`` applies σ first, as transformers' post-processing does.
            tiles: for images much larger than the model input: a
                :class:`~sam3lib.tiling.TileOptions` (tile size and overlap in pixels of the
                image, batch of tiles), or ``"auto"`` (tiles of the model's input size when
                the image is over twice that, else one tile). Each tile is segmented as an
                image; objects cut by tile borders or seen in two tiles are merged; exemplar
                ``boxes`` go to the tiles that contain them wholly; ``top_k`` applies after
                merging. Not with an :class:`ImageEmbedding` (tiles are cut from pixels).

        Returns:
            One :class:`SegmentationResult` for a single prompt (or boxes only), a list of
            them, in order, for a list of prompts. With ``tiles``, a
            :class:`~sam3lib.tiling.TiledSegmentationResult` (masks held as crops) in their
            place.

        Raises:
            InputError: any argument is unacceptable (the message names it), or the
                translator failed on a prompt or returned no text.
            BackendUnavailableError: a Chinese prompt with the default translator and
                without the ``zh`` extra.

        Example:
            >>> result = seg.segment("street.jpg", "red car", threshold=0.4)  # doctest: +SKIP
            >>> result.overlay("street.jpg").save("cars.png")  # doctest: +SKIP
            >>> seg.segment("street.jpg", "红色的汽车").query  # doctest: +SKIP
            'red car'
        """
        prompts = check_text_prompts(prompt, allow_none=boxes is not None)
        options = PostprocessOptions.check(
            threshold, mask_threshold, top_k, nms_iou, refine, mask_order
        )
        single = prompt is None or isinstance(prompt, str)
        # Before the image: a prompt the translator refuses costs no image encoding.
        queries, translate_timings = self._english_queries(prompts)
        if tiles is not None:
            if isinstance(image, ImageEmbedding):
                raise InputError(
                    "tiles: tiled segmentation cuts tiles from the image's pixels; pass the "
                    "image, not an ImageEmbedding"
                )
            tiled = self._segment_tiled(
                image, prompts, queries, boxes, box_labels, options, tiles, translate_timings
            )
            return tiled[0] if single else tiled
        embedding = self._embedding(image)
        self._advise_tiling(embedding.original_size)
        exemplars = check_exemplars(boxes, box_labels, embedding.original_size)
        results = self._segment_embedding(
            embedding, prompts, queries, exemplars, options, translate_timings
        )
        return results[0] if single else results

    @overload
    def predict(
        self,
        image: ImageLike | ImageEmbedding,
        *,
        points: PointsLike | None = None,
        point_labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
        boxes: BoxesLike | None = None,
        mask_input: Any = None,
        multimask: bool = True,
        max_hole_area: int = DEFAULT_MAX_HOLE_AREA,
        tiles: None = None,
    ) -> InteractiveResult: ...

    @overload
    def predict(
        self,
        image: ImageLike,
        *,
        points: PointsLike | None = None,
        point_labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
        boxes: BoxesLike | None = None,
        mask_input: Any = None,
        multimask: bool = True,
        max_hole_area: int = DEFAULT_MAX_HOLE_AREA,
        tiles: Tiles,
    ) -> WindowedInteractiveResult: ...

    def predict(
        self,
        image: ImageLike | ImageEmbedding,
        *,
        points: PointsLike | None = None,
        point_labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
        boxes: BoxesLike | None = None,
        mask_input: Any = None,
        multimask: bool = True,
        max_hole_area: int = DEFAULT_MAX_HOLE_AREA,
        tiles: Tiles | None = None,
    ) -> InteractiveResult | WindowedInteractiveResult:
        """Segment one object from clicks and/or a box, or several objects from boxes.

        This is SAM 3's interactive head (SAM-2 style), not the concept detector: a box here
        means "this object", whereas the ``boxes`` of :meth:`segment` are exemplars ("find
        everything like this").

        Args:
            image: a path, PIL image, array, tensor or an :class:`ImageEmbedding` (encode once
                with :meth:`encode_image`, then click as often as you like: each click costs
                only the small decoder).
            points: (P, 2) xy clicks in pixels of the image; must lie inside it (refused, not
                clipped).
            point_labels: (P,) 1 for "this is the object", 0 for "this is not"; default all 1.
            box: [x0, y0, x1, y1] in pixels around the object.
            boxes: (N, 4) boxes, one object each, decoded in one batch (not with ``box`` or
                ``points``).
            mask_input: the ``logits[best]`` of an earlier result for the same object (a
                (288, 288) array for SAM 3), to refine it with more clicks.
            multimask: return three candidate masks (the right choice for one ambiguous
                click); False returns one mask (better for boxes and several clicks). With
                ``boxes``, each object's best candidate is returned.
            max_hole_area: fill background holes up to this many low-resolution pixels, as
                Meta's predictor does (0: off).
            tiles: for an image much larger than the model input: a
                :class:`~sam3lib.tiling.TileOptions` or ``"auto"``; only a ``tiles.size``
                window centred on the box (else the first click) is encoded, every click and
                box must lie in it, and the answer is a
                :class:`~sam3lib.tiling.WindowedInteractiveResult` (masks as crops of the
                image). Refining with ``mask_input`` works as long as the first click or
                the box stays the same.

        Returns:
            An :class:`~sam3lib.interactive.InteractiveResult`: masks at the image's size,
            scores = predicted IoU, ``best``, and the low-resolution ``logits`` to refine with.

        Raises:
            InputError: a prompt argument is unacceptable (the message names it).
            InteractiveUnavailableError: the checkpoint has no interactive head.

        Example:
            >>> emb = seg.encode_image("photo.jpg")  # doctest: +SKIP
            >>> res = seg.predict(emb, points=[[410, 220]], point_labels=[1])  # doctest: +SKIP
            >>> res = seg.predict(emb, points=[[410, 220], [380, 260]], point_labels=[1, 0],
            ...                   mask_input=res.logits[res.best])  # doctest: +SKIP
        """
        predictor = self.interactive
        predictor.tracker  # noqa: B018  # no head: fail before encoding the image
        if not isinstance(multimask, bool):
            raise InputError(f"multimask: expected True or False, got {multimask!r}")
        if tiles is not None:
            if isinstance(image, ImageEmbedding):
                raise InputError(
                    "tiles: a window of the image is encoded; pass the image, not an ImageEmbedding"
                )
            return predict_in_window(
                self.predict,
                image,
                tiles,
                model_size=self.backend.config.vision.image_size,
                mask_size=predictor.mask_size,
                points=points,
                point_labels=point_labels,
                box=box,
                boxes=boxes,
                mask_input=mask_input,
                multimask=multimask,
                max_hole_area=max_hole_area,
            )
        embedding = self._embedding(image)
        vision = self.backend.config.vision
        prompts = check_interactive_prompt(
            points=points,
            point_labels=point_labels,
            box=box,
            boxes=boxes,
            mask_input=mask_input,
            image_size=embedding.original_size,
            model_size=vision.image_size,
            mask_size=predictor.mask_size,
        )
        return predictor.predict(
            embedding, prompts, multimask=multimask, max_hole_area=max_hole_area
        )

    def generate(
        self,
        image: ImageLike,
        options: MaskGenerationOptions | None = None,
        *,
        progress: bool | None = None,
        **option_values: Any,
    ) -> GeneratedMasks:
        """Automatic masks: every object the interactive head finds from a grid of clicks
        (segment-anything's automatic mask generator; see
        :mod:`sam3lib.interactive.generator` for each step).

        Args:
            image: a path, PIL image, array or tensor (crops are cut from its pixels, so an
                :class:`ImageEmbedding` is not accepted).
            options: a :class:`~sam3lib.interactive.MaskGenerationOptions`, or give its
                fields as keywords (``points_per_side=32``, ``pred_iou_thresh=0.88``, ...).
            progress: show a progress bar; by default only on a terminal.

        Returns:
            :class:`~sam3lib.interactive.GeneratedMasks`, largest mask first; ``scores`` are
            predicted IoUs.

        Raises:
            InputError: a bad image or option (the message names it).
            InteractiveUnavailableError: the checkpoint has no interactive head.

        Example:
            >>> everything = seg.generate("photo.jpg", points_per_side=32)  # doctest: +SKIP
            >>> everything.overlay("photo.jpg").save("everything.png")  # doctest: +SKIP
        """
        self.interactive.tracker  # noqa: B018  # no head: fail before any work
        if isinstance(image, ImageEmbedding):
            raise InputError(
                "image: generate needs the image itself (it encodes crops of it), not an "
                "ImageEmbedding"
            )
        if options is None:
            try:
                options = MaskGenerationOptions(**option_values)
            except TypeError as error:
                raise InputError(f"generate: {error}") from None
        elif option_values:
            raise InputError("generate: pass options= or option keywords, not both")
        elif not isinstance(options, MaskGenerationOptions):
            raise InputError(
                f"options: expected a MaskGenerationOptions, got {type(options).__name__}"
            )
        rgb = to_rgb_uint8(image).permute(1, 2, 0).numpy()
        return generate_masks(self.interactive, self.encode_image, rgb, options, progress=progress)

    def track(
        self,
        video: FrameSource,
        prompt: str | None = None,
        *,
        points: ClickPrompts | None = None,
        boxes: ClickPrompts | None = None,
        masks: ClickPrompts | None = None,
        frame: int = 0,
        config: TrackingConfig | None = None,
        offload_state: bool = False,
    ) -> VideoTracking:
        """Track objects through a video: every instance of a text prompt, or the objects
        you click (box, mask) on one frame.

        Nothing runs until you iterate the answer: frames are decoded, tracked and yielded
        one at a time (see :class:`~sam3lib.video.VideoTracking`, :doc:`video`).

        Args:
            video: a video file (the ``video`` extra), a folder of frames, a list of images,
                or an iterator of images (a camera: read once, forward).
            prompt: a noun phrase ("person"): every instance found on any frame is tracked
                with a stable id.
            points: per object id, ``(points, labels)`` clicks on ``frame`` in video pixels
                (``{1: ([[410, 220]], [1])}``); labels 1 object, 0 background.
            boxes: per object id, ``[x0, y0, x1, y1]`` on ``frame``.
            masks: per object id, an (H, W) mask on ``frame``.
            frame: the frame the clicks, boxes and masks are on.
            config: the thresholds of text tracking and the memory selection of both
                (Meta's defaults, :class:`~sam3lib.video.TrackingConfig`).
            offload_state: keep the objects' memories on the CPU while the model runs on a
                GPU (less GPU memory, a copy per frame and object).

        Raises:
            InputError: a bad argument (the message names it), an unreadable video.
            InteractiveUnavailableError: the checkpoint cannot track (no tracker memory).

        Example:
            >>> for frame in seg.track("clip.mp4", "person"):  # doctest: +SKIP
            ...     frame.index, frame.object_ids, frame.masks.shape
        """
        text = None
        if prompt is not None:
            prompts = check_text_prompts(prompt, allow_none=False)
            if prompts is None or len(prompts) != 1:
                raise InputError("prompt: a video is tracked for one text prompt at a time")
            queries, _ = self._english_queries(prompts)
            with torch.inference_mode():
                text = self.text_cache.features(
                    self.tokenizer.encode(queries or prompts), self._encode_text
                )
        return start_tracking(
            self.backend,
            video,
            text,
            prompt=prompt,
            points=points,
            boxes=boxes,
            masks=masks,
            frame=frame,
            config=config,
            offload_state=offload_state,
        )

    def segment_batch(
        self,
        images: Iterable[ImageLike],
        prompt: str | Sequence[str] | None = None,
        *,
        progress: bool | None = None,
        **options: Any,
    ) -> list[Any]:
        """:meth:`segment` each image in turn with the same prompt(s) and options.

        Args:
            images: paths, PIL images, arrays or tensors.
            prompt, **options: as for :meth:`segment`.
            progress: show a progress bar; by default only when more than one image and
                stderr is a terminal.

        Returns:
            Per image, what :meth:`segment` returns for it.

        Example:
            >>> results = seg.segment_batch(sorted(Path("photos").glob("*.jpg")), "cat")
            ... # doctest: +SKIP
        """
        items = list(images)
        # tqdm's disable=None: shown on a terminal only.
        hidden = (None if len(items) > 1 else True) if progress is None else not progress
        bar = tqdm(items, desc="segmenting", unit="image", disable=hidden)
        return [self.segment(item, prompt, **options) for item in bar]

    # --- internals -------------------------------------------------------------------------

    def _embedding(self, image: ImageLike | ImageEmbedding) -> ImageEmbedding:
        if not isinstance(image, ImageEmbedding):
            return self.encode_image(image)
        if image.backend is not self.backend:
            raise InputError(
                "image: this ImageEmbedding was computed by another Segmenter; encode the "
                "image with this one"
            )
        return image

    def _english_queries(
        self, prompts: list[str] | None
    ) -> tuple[list[str] | None, dict[str, float]]:
        """The queries the model reads for ``prompts``, and a ``translate`` timing when the
        translator ran."""
        if prompts is None:
            return None, {}
        if not any(needs_translation(prompt, self.translator) for prompt in prompts):
            return prompts, {}
        timings: dict[str, float] = {}
        with self._timed(timings, "translate"):
            queries = english_queries(prompts, self.translator)
        return queries, timings

    def _segment_embedding(
        self,
        embedding: ImageEmbedding,
        prompts: list[str] | None,
        queries: list[str] | None,
        exemplars: Exemplars | None,
        options: PostprocessOptions,
        translate_timings: Mapping[str, float],
    ) -> list[SegmentationResult]:
        timings = {**embedding.timings, **translate_timings}
        texts = queries if queries is not None else [BOX_ONLY_TEXT]
        with torch.inference_mode():
            with self._timed(timings, "encode_text"):
                tokens = self.tokenizer.encode(texts)
                text = self.text_cache.features(tokens, self._encode_text)
            with self._timed(timings, "decode"):
                boxes = exemplars.to(self.device) if exemplars is not None else None
                outputs = self.backend.decode(
                    embedding.features,
                    text,
                    None if boxes is None else boxes.boxes_cxcywh,
                    None if boxes is None else boxes.labels,
                )
            results = []
            # Boxes only: one result, with neither a prompt nor a query.
            asked: list[tuple[str | None, str | None]] = (
                list(zip(prompts, texts, strict=True)) if prompts is not None else [(None, None)]
            )
            for index, (text_prompt, query) in enumerate(asked):
                stage_timings = dict(timings)
                with self._timed(stage_timings, "postprocess"):
                    masks, boxes_px, scores = instances(
                        outputs, index, embedding.original_size, options
                    )
                results.append(
                    SegmentationResult(
                        masks=masks.cpu().numpy(),
                        boxes=boxes_px.cpu().numpy(),
                        scores=scores.cpu().numpy(),
                        prompt=text_prompt,
                        image_size=embedding.original_size,
                        timings=stage_timings,
                        query=query,
                    )
                )
        return results

    def _segment_tiled(
        self,
        image: ImageLike,
        prompts: list[str] | None,
        queries: list[str] | None,
        boxes: BoxesLike | None,
        box_labels: Sequence[int] | None,
        options: PostprocessOptions,
        tiles: object,
        translate_timings: Mapping[str, float],
    ) -> list[TiledSegmentationResult]:
        source = TileSource(image)
        tile_options = resolve_tiles(tiles, source.size, self.backend.config.vision.image_size)
        checked_boxes = check_exemplar_boxes(boxes, box_labels, source.size)
        asked: list[tuple[str | None, str | None]] = (
            list(zip(prompts, queries or prompts, strict=True))
            if prompts is not None
            else [(None, None)]
        )
        per_tile = replace(options, top_k=None)  # the best k are chosen after merging

        def decode(embedding: ImageEmbedding, exemplars: Exemplars | None) -> list[Any]:
            return self._segment_embedding(embedding, prompts, queries, exemplars, per_tile, {})

        results = segment_tiles(
            source,
            tile_options,
            TiledPrompts(
                asked=asked,
                boxes=None if checked_boxes is None else checked_boxes[0],
                box_labels=None if checked_boxes is None else checked_boxes[1],
                top_k=options.top_k,
            ),
            self.backend,
            decode,
        )
        if not translate_timings:
            return results
        return [
            replace(result, timings={**result.timings, **translate_timings}) for result in results
        ]

    def _advise_tiling(self, image_size: tuple[int, int]) -> None:
        advice = tiling_advice(image_size, self.backend.config.vision.image_size)
        if advice is not None:
            warnings.warn(advice, TilingAdvice, stacklevel=3)

    def _encode_text(self, ids: torch.Tensor, mask: torch.Tensor) -> Any:
        return self.backend.encode_text(ids.to(self.device), mask.to(self.device))

    @contextmanager
    def _timed(self, timings: dict[str, float], stage: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self._synchronize()
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started

    def _synchronize(self) -> None:
        # GPU work is asynchronous: without this, a stage's time would land in the next one.
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _load_tokenizer(
    tokenizer: str | os.PathLike[str] | Sam3Tokenizer | None,
    tokenizer_files: Any,
    source: str,
) -> Sam3Tokenizer:
    if isinstance(tokenizer, Sam3Tokenizer):
        return tokenizer
    if tokenizer is not None:
        return Sam3Tokenizer.from_directory(Path(tokenizer))
    if not tokenizer_files:
        raise CheckpointError(
            f"{source} has no tokenizer files (tokenizer.json, or vocab.json + merges.txt); "
            "pass tokenizer=<directory with them> (e.g. a download of facebook/sam3)"
        )
    return Sam3Tokenizer.from_directory(next(iter(tokenizer_files.values())).parent)
