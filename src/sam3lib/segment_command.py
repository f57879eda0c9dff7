"""``sam3lib segment``: segment images from the command line, save overlays, masks and JSON.

Also what every image command (``segment``, ``click``, ``everything``) shares: the model
options, the output files (:class:`Outputs`), coordinate parsing and error reporting.

Example:
    sam3lib segment street.jpg --prompt "red car" --prompt bicycle --out cars.png --json cars.json
    sam3lib segment street.jpg --prompt 红色的汽车   # translated: the model reads "red car"
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from sam3lib.backends import BACKEND_MODULES, PRECISIONS
from sam3lib.errors import Sam3Error
from sam3lib.result import SegmentationResult
from sam3lib.translation import Translator, translate

if TYPE_CHECKING:
    from sam3lib.segmenter import Segmenter
    from sam3lib.tiling import TiledSegmentationResult

#: What an image command writes: results with full-size masks, or tiled ones (crops).
AnyResult = Union[SegmentationResult, "TiledSegmentationResult"]

DEFAULT_MODEL = "facebook/sam3"
_SCORES_LISTED = 10  # a summary line lists at most this many scores


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam3lib segment",
        description="Find every instance of the prompted concepts in each image: text "
        "prompts and/or exemplar boxes ('find everything like the object in this box'). To "
        "segment the one object inside a box, or under a click, use `sam3lib click`.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.add_argument(
        "--prompt",
        action="append",
        default=[],
        metavar="TEXT",
        help="repeat for several; Chinese is translated to English (see --no-translate)",
    )
    parser.add_argument(
        "--box",
        action="append",
        default=[],
        type=parse_box,
        metavar="X0,Y0,X1,Y1",
        help="positive exemplar box in pixels: find every object like this one (repeatable)",
    )
    parser.add_argument(
        "--negative-box",
        action="append",
        default=[],
        type=parse_box,
        metavar="X0,Y0,X1,Y1",
        help="negative exemplar box in pixels: not like this one (repeatable)",
    )
    parser.add_argument("--threshold", type=float, default=0.5, help="score threshold")
    parser.add_argument("--mask-threshold", type=float, default=0.5)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--refine", type=int, default=0, metavar="LEVEL", help="0 (off) to 5")
    parser.add_argument(
        "--tiles",
        type=parse_tiles,
        default=None,
        metavar="PIXELS|auto",
        help="segment in overlapping tiles of this many pixels (for images much larger than "
        "the model input: aerial, slides); 'auto' tiles at the model's input size when the "
        "image is over twice it",
    )
    parser.add_argument(
        "--tile-overlap",
        type=int,
        default=None,
        metavar="PIXELS",
        help="pixels neighbouring tiles share (default 128); objects cut by a border are "
        "merged there",
    )
    add_translation_argument(parser)
    add_model_arguments(parser)
    add_output_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.prompt and not args.box and not args.negative_box:
        print("error: give at least one --prompt or --box", file=sys.stderr)
        return 2
    if args.tile_overlap is not None and not isinstance(args.tiles, int):
        print("error: --tile-overlap needs --tiles PIXELS", file=sys.stderr)
        return 2
    return run_reporting_errors(_run, args)


def _run(args: argparse.Namespace) -> int:
    segmenter = load_segmenter(args, translator=chosen_translator(args))
    boxes = args.box + args.negative_box
    options: dict[str, Any] = {
        "boxes": boxes or None,
        "box_labels": [1] * len(args.box) + [0] * len(args.negative_box) if boxes else None,
        "threshold": args.threshold,
        "mask_threshold": args.mask_threshold,
        "top_k": args.top_k,
        "refine": args.refine or None,
    }
    if args.tiles is not None:
        options["tiles"] = _tile_options(args)
    prompts: list[str] | None = args.prompt or None
    outputs = Outputs(args, several=len(args.images) > 1)
    for path in args.images:
        results = segmenter.segment(path, prompts, **options)
        outputs.add(path, results if isinstance(results, list) else [results])
    outputs.finish()
    return 0


def parse_tiles(text: str) -> int | str:
    """``--tiles``: ``"auto"`` or a tile size in pixels (an argparse ``type``)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a tile size in pixels or 'auto', got {text!r}"
        ) from None


def _tile_options(args: argparse.Namespace) -> Any:
    from sam3lib.tiling import TileOptions

    if args.tiles == "auto":
        return "auto"
    if args.tile_overlap is None:
        return TileOptions(size=args.tiles)
    return TileOptions(size=args.tiles, overlap=args.tile_overlap)


# --- shared by the image commands ----------------------------------------------------------


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--backend``, ``--precision``, ``--device``, ``--resolution``: what
    :func:`load_segmenter` reads."""
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub repo id, directory or file")
    parser.add_argument("--backend", choices=sorted(BACKEND_MODULES), default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--resolution",
        type=int,
        default=None,
        metavar="PIXELS",
        help="model input size, a multiple of 336 (default: the checkpoint's, 1008): smaller "
        "is faster, larger sees smaller objects (onnxruntime/tensorrt: export at that size "
        "with sam3lib export --resolution)",
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out``, ``--masks``, ``--json``: the files :class:`Outputs` writes."""
    parser.add_argument(
        "--out", type=Path, help="overlay image (a directory when there are several images)"
    )
    parser.add_argument(
        "--masks",
        type=Path,
        help="mask label map PNG: pixel = instance number (1, 2, ... in JSON order; later "
        "over earlier), 0 background; 16-bit from 256 instances (a directory when there are "
        "several images)",
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON (COCO RLE masks)")


def add_translation_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-translate``: what :func:`chosen_translator` reads."""
    parser.add_argument(
        "--no-translate",
        action="store_true",
        help="send prompts to the model exactly as typed; by default a prompt in Chinese is "
        "translated to an English query offline (needs the 'zh' extra)",
    )


def chosen_translator(args: argparse.Namespace) -> Translator | None:
    """The translator :func:`add_translation_argument` asked for: None with
    ``--no-translate``, else :func:`sam3lib.translate`."""
    return None if args.no_translate else translate


def load_segmenter(
    args: argparse.Namespace, *, translator: Translator | None = translate
) -> Segmenter:
    """The Segmenter :func:`add_model_arguments` describes, with ``translator``."""
    from sam3lib.segmenter import Segmenter  # torch is imported only when there is work

    return Segmenter.from_pretrained(
        args.model,
        device=args.device,
        backend=args.backend,
        precision=args.precision,
        translator=translator,
        resolution=args.resolution,
    )


def run_reporting_errors(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``run(args)``, with a sam3lib error printed as one ``error: ...`` line and exit status 1."""
    try:
        return run(args)
    except Sam3Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


class Outputs:
    """Writes what :func:`add_output_arguments` asked for, image by image, and a summary.

    Args:
        args: the parsed arguments (``out``, ``masks``, ``json``, ``model``).
        several: more than one image: ``--out`` and ``--masks`` are directories, holding
            ``<image stem>.png`` each.
        show_labels: draw "label score" tags on the overlay (too many for automatic masks).
    """

    def __init__(
        self, args: argparse.Namespace, *, several: bool, show_labels: bool = True
    ) -> None:
        self.overlay: Path | None = args.out
        self.masks: Path | None = args.masks
        self.json: Path | None = args.json
        self.model: str = args.model
        self.several = several
        self.show_labels = show_labels
        self.entries: list[dict[str, Any]] = []
        for directory in (self.overlay, self.masks):
            if directory is not None and several:
                directory.mkdir(parents=True, exist_ok=True)

    def add(self, image: Path, results: Sequence[AnyResult], **fields: Any) -> None:
        """Print a summary of ``image``'s results and write its overlay and masks; ``fields``
        join its JSON entry (e.g. the prompt)."""
        from sam3lib.app.downloads import save_label_map  # numpy and Pillow only, no gradio
        from sam3lib.visualize import draw_overlay

        print_summary(image, results)
        if self.overlay is not None or self.masks is not None:
            # Pictures are full size anyway: tiled results' crops become full-size masks.
            dense = [_full_size(result) for result in results]
            if self.overlay is not None:
                overlay = draw_overlay(image, dense, show_labels=self.show_labels)
                overlay.save(self._target(self.overlay, image))
            if self.masks is not None:
                save_label_map(dense, self._target(self.masks, image))
        self.entries.append(
            {"image": str(image), **fields, "results": [r.to_dict() for r in results]}
        )

    def finish(self) -> None:
        """Write the JSON report of every image added."""
        if self.json is not None:
            report = {"model": self.model, "images": self.entries}
            # Prompts stay readable (红色的汽车, not \u7ea2...) in a UTF-8 file.
            self.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), "utf-8")

    def _target(self, path: Path, image: Path) -> Path:
        return path / f"{image.stem}.png" if self.several else path


def _full_size(result: AnyResult) -> SegmentationResult:
    if isinstance(result, SegmentationResult):
        return result
    return result.to_segmentation_result()


def print_summary(path: Path, results: Sequence[AnyResult]) -> None:
    """``path``, then a line per result: its label (``prompt → query`` when the prompt was
    translated), how many instances and their scores."""
    print(path)
    for result in results:
        shown = ", ".join(f"{score:.2f}" for score in result.scores[:_SCORES_LISTED])
        more = ", …" if len(result) > _SCORES_LISTED else ""
        asked = result.label
        if result.query is not None and result.query != result.prompt:
            asked = f"{result.label} → {result.query}"
        print(f"  {asked}: {len(result)} instance(s)" + (f" [{shown}{more}]" if shown else ""))


def parse_box(text: str) -> list[float]:
    """``"X0,Y0,X1,Y1"`` as four numbers (an argparse ``type``)."""
    return _numbers(text, 4, "X0,Y0,X1,Y1")


def parse_point(text: str) -> list[float]:
    """``"X,Y"`` as two numbers (an argparse ``type``)."""
    return _numbers(text, 2, "X,Y")


def _numbers(text: str, count: int, shape: str) -> list[float]:
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"expected {shape} ({count} numbers), got {text!r}")
    return values
