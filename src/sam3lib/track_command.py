"""``sam3lib track``: track objects through a video from the command line.

Objects come from a text prompt (every instance of a concept, :class:`TextTracker`) or from
clicks and boxes on one frame (the objects you point at, :class:`ClickTracker`), given as
flags or in a JSON file. The tracked video is saved as an annotated H.264 video, YouTube-VIS
JSON and/or MOTChallenge lines (:meth:`VideoTracking.save`).

Click syntax (coordinates are video pixels, x right, y down; ``ID:`` may be left out for
object 1; object ids are ints >= 0 of your choosing)::

    --point ID:X,Y                 a click on object ID (repeatable)
    --negative-point ID:X,Y        a click on what is NOT object ID (repeatable)
    --box ID:X0,Y0,X1,Y1           a box around object ID (one per object)

``--prompts-file`` holds the same as JSON, keyed by object id (a string, as JSON keys are)::

    {"1": {"points": [[410, 220], [300, 200]], "labels": [1, 0]},
     "2": {"box": [100, 80, 420, 300]}}

``points`` is a list of [x, y]; ``labels`` (optional, default all 1) says 1 on the object, 0
not on it; ``box`` is [x0, y0, x1, y1]; an object needs points and/or a box. Flags add to the
file's objects. Every click and box is on ``--frame``.

Example:
    sam3lib track street.mp4 --prompt person --out people.mp4 --json people.json
    sam3lib track street.mp4 --point 1:410,220 --box 2:100,80,420,300 --frame 40 --mot out.txt
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sam3lib.errors import InputError
from sam3lib.segment_command import (
    add_model_arguments,
    add_translation_argument,
    chosen_translator,
    load_segmenter,
    run_reporting_errors,
)

if TYPE_CHECKING:  # torch is imported only when there is work
    from sam3lib.segmenter import Segmenter
    from sam3lib.video.session import VideoTracking
    from sam3lib.video.tracking_config import TrackingConfig

DEFAULT_OBJECT_ID = 1  # the object of a click or box given without "ID:"

DESCRIPTION = """\
Track objects through a video (a file, or a folder of frames): every instance of a
concept (--prompt), or the objects you click on or box on one frame (--point,
--negative-point, --box, --prompts-file, all on --frame). Writes an annotated video
(--out), YouTube-VIS JSON with COCO RLE masks (--json) and/or MOTChallenge box lines
(--mot); give at least one. Coordinates are video pixels (x right, y down).
"""
EPILOG = """\
click syntax (ID: an object id, an int >= 0; left out, object 1):
  --point ID:X,Y            a click on object ID (repeatable)
  --negative-point ID:X,Y   a click on what is NOT object ID (repeatable)
  --box ID:X0,Y0,X1,Y1      a box around object ID (one per object; clicks refine it)

--prompts-file FILE.json, keyed by object id; "labels" (1 on the object, 0 not) default to 1:
  {"1": {"points": [[410, 220], [300, 200]], "labels": [1, 0]},
   "2": {"box": [100, 80, 420, 300]}}
flags add to the file's objects.

examples:
  sam3lib track street.mp4 --prompt person --out people.mp4 --json people.json
  sam3lib track street.mp4 --prompt car --score-threshold 0.3 --mot cars.txt
  sam3lib track dog.mp4 --point 410,220 --negative-point 300,200 --out dog.mp4
  sam3lib track match.mp4 --frame 40 --point 1:410,220 --box 2:100,80,420,300 --json ids.json
  sam3lib track frames/ --prompts-file clicks.json --frame 12 --out tracked.mp4
"""


@dataclass
class ObjectPrompt:
    """One object's clicks and box on the prompted frame."""

    points: list[list[float]] = field(default_factory=list)  # (P, 2) xy pixels
    labels: list[int] = field(default_factory=list)  # (P,) 1 object, 0 background
    box: list[float] | None = None  # x0, y0, x1, y1 pixels


@dataclass(frozen=True)
class _Click:
    """A parsed ``ID:numbers`` flag value."""

    object_id: int
    numbers: list[float]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam3lib track",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("video", type=Path, metavar="VIDEO", help="a video file or frames folder")
    prompts = parser.add_argument_group("prompts (a text prompt, or clicks and boxes)")
    prompts.add_argument("--prompt", metavar="TEXT", help="track every instance of this concept")
    prompts.add_argument(
        "--point",
        action="append",
        default=[],
        type=parse_point_click,
        metavar="ID:X,Y",
        help="a click on object ID (repeatable)",
    )
    prompts.add_argument(
        "--negative-point",
        action="append",
        default=[],
        type=parse_point_click,
        metavar="ID:X,Y",
        help="a click on what is NOT object ID (repeatable)",
    )
    prompts.add_argument(
        "--box",
        action="append",
        default=[],
        type=parse_box_click,
        metavar="ID:X0,Y0,X1,Y1",
        help="a box around object ID (one per object)",
    )
    prompts.add_argument(
        "--prompts-file",
        type=Path,
        metavar="FILE.json",
        help="clicks and boxes per object id (schema below)",
    )
    prompts.add_argument(
        "--frame",
        type=_int_at_least(0, "a frame index"),
        default=0,
        metavar="N",
        help="the frame (0-based) the clicks and boxes are on (default %(default)s); tracking "
        "runs forward from it, then back to frame 0",
    )
    outputs = parser.add_argument_group("outputs (at least one)")
    outputs.add_argument("--out", type=Path, metavar="VIDEO.mp4", help="annotated video")
    outputs.add_argument(
        "--json", type=Path, metavar="FILE.json", help="YouTube-VIS JSON, COCO RLE masks"
    )
    outputs.add_argument("--mot", type=Path, metavar="FILE.txt", help="MOTChallenge box lines")
    outputs.add_argument("--no-progress", action="store_true", help="no progress bar")
    thresholds = parser.add_argument_group("text tracking thresholds (--prompt only)")
    thresholds.add_argument(
        "--score-threshold",
        type=_unit_interval,
        default=None,
        metavar="X",
        help="detections scoring above this are tracked (default 0.5)",
    )
    thresholds.add_argument(
        "--new-object-threshold",
        type=_unit_interval,
        default=None,
        metavar="X",
        help="a detection overlapping no tracked object starts a new one when it scores at "
        "least this (default 0.7)",
    )
    thresholds.add_argument(
        "--max-objects",
        type=_int_at_least(1, "a number of objects"),
        default=None,
        metavar="N",
        help="track at most this many objects (default: no limit)",
    )
    add_translation_argument(parser)
    add_model_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``sam3lib track``; returns the exit status (2: bad arguments, 1: refused input)."""
    args = build_parser().parse_args(argv)
    problem = _usage_problem(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return run_reporting_errors(_run, args)


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of flags, before anything is loaded."""
    clicks = args.point or args.negative_point or args.box or args.prompts_file
    if args.prompt is None and not clicks:
        return "give --prompt, or clicks: --point, --negative-point, --box or --prompts-file"
    if args.prompt is not None and clicks:
        return "--prompt tracks a concept; clicks and boxes track the objects they are on: not both"
    thresholds = (args.score_threshold, args.new_object_threshold, args.max_objects)
    if args.prompt is None and any(value is not None for value in thresholds):
        return "--score-threshold, --new-object-threshold and --max-objects need --prompt"
    if args.frame and args.prompt is not None:
        return "--frame: the frame of clicks and boxes; a --prompt is tracked from frame 0"
    if args.out is None and args.json is None and args.mot is None:
        return "give at least one output: --out, --json or --mot"
    if not args.video.exists():
        return f"VIDEO: no such file or directory: '{args.video}'"
    return None


def _run(args: argparse.Namespace) -> int:
    objects = object_prompts(args)  # read before the model loads: a bad file fails fast
    segmenter = load_segmenter(args, translator=chosen_translator(args))
    if args.prompt is not None:
        tracking = segmenter.track(args.video, args.prompt, config=_tracking_config(args))
    else:
        tracking = _track_clicks(segmenter, args.video, objects, args.frame)
    with tracking:
        written = tracking.save(
            video=args.out, json=args.json, mot=args.mot, progress=not args.no_progress
        )
    files = ", ".join(str(path) for path in (args.out, args.json, args.mot) if path is not None)
    shown = ", ".join(map(str, written.object_ids)) or "none"
    print(f"{args.video}: {written.frames} frame(s), {len(written.object_ids)} object(s) [{shown}]")
    print(f"  wrote {files}")
    return 0


def _tracking_config(args: argparse.Namespace) -> TrackingConfig:
    from sam3lib.video.tracking_config import TrackingConfig

    chosen = {
        "detection_score_threshold": args.score_threshold,
        "new_object_score": args.new_object_threshold,
        "max_objects": args.max_objects,
    }
    return TrackingConfig(**{name: value for name, value in chosen.items() if value is not None})


def _track_clicks(
    segmenter: Segmenter, video: Path, objects: dict[int, ObjectPrompt], frame: int
) -> VideoTracking:
    """Starts click tracking: each object's box, refined by its clicks."""
    boxes = {i: o.box for i, o in objects.items() if o.box is not None}
    clicks = {i: (o.points, o.labels) for i, o in objects.items() if o.points}
    return segmenter.track(video, points=clicks or None, boxes=boxes or None, frame=frame)


# --- prompts ---------------------------------------------------------------------------


def object_prompts(args: argparse.Namespace) -> dict[int, ObjectPrompt]:
    """Every object's clicks and box: the ``--prompts-file``'s, then the flags'.

    Raises:
        InputError: the file is unreadable or off the schema, or an object gets two boxes.
    """
    objects = {} if args.prompts_file is None else read_prompts_file(args.prompts_file)
    for clicks, label in ((args.point, 1), (args.negative_point, 0)):
        for click in clicks:
            prompt = objects.setdefault(click.object_id, ObjectPrompt())
            prompt.points.append(click.numbers)
            prompt.labels.append(label)
    for click in args.box:
        prompt = objects.setdefault(click.object_id, ObjectPrompt())
        if prompt.box is not None:
            raise InputError(f"--box: object {click.object_id} already has a box")
        prompt.box = click.numbers
    return objects


def read_prompts_file(path: Path) -> dict[int, ObjectPrompt]:
    """The objects of a ``--prompts-file`` (schema in the module docstring).

    Raises:
        InputError: the file is missing, not JSON, or off the schema (the message says where).
    """
    where = f"--prompts-file {path}"
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as error:
        raise InputError(f"{where}: cannot read it ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{where}: not JSON ({error})") from None
    if not isinstance(data, dict) or not data:
        raise InputError(
            f'{where}: expected an object keyed by object id, e.g. {{"1": {{"points": '
            "[[410, 220]]}}"
        )
    return {
        _file_object_id(key, where): _file_object(value, f"{where}: object {key}")
        for key, value in data.items()
    }


def _file_object_id(key: str, where: str) -> int:
    try:
        object_id = int(key)
    except ValueError:
        object_id = -1
    if object_id < 0 or str(object_id) != key.strip():
        raise InputError(f"{where}: object ids are ints >= 0, got {key!r}")
    return object_id


def _file_object(value: object, where: str) -> ObjectPrompt:
    if not isinstance(value, dict):
        raise InputError(f'{where}: expected {{"points": ..., "labels": ..., "box": ...}}')
    unknown = sorted(set(value) - {"points", "labels", "box"})
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (points, labels, box)")
    points = [_numbers(p, 2, f"{where}: points") for p in _list(value.get("points", []), where)]
    labels = value.get("labels", [1] * len(points))
    if (
        not isinstance(labels, list)
        or len(labels) != len(points)
        or any(label not in (0, 1) or isinstance(label, bool) for label in labels)
    ):
        raise InputError(f"{where}: labels: expected one 0 or 1 per point, got {labels!r}")
    box = value.get("box")
    if not points and box is None:
        raise InputError(f"{where}: give points and/or a box")
    return ObjectPrompt(
        points=points,
        labels=[int(label) for label in labels],
        box=None if box is None else _numbers(box, 4, f"{where}: box"),
    )


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{where}: points: expected a list of [x, y], got {value!r}")
    return value


def _numbers(value: object, count: int, where: str) -> list[float]:
    if (
        not isinstance(value, list)
        or len(value) != count
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        )
    ):
        raise InputError(f"{where}: expected {count} numbers, got {value!r}")
    return [float(v) for v in value]


def parse_point_click(text: str) -> _Click:
    """``"ID:X,Y"`` or ``"X,Y"`` (object 1), an argparse ``type``."""
    return _parse_click(text, 2, "ID:X,Y")


def parse_box_click(text: str) -> _Click:
    """``"ID:X0,Y0,X1,Y1"`` or ``"X0,Y0,X1,Y1"`` (object 1), an argparse ``type``."""
    return _parse_click(text, 4, "ID:X0,Y0,X1,Y1")


def _parse_click(text: str, count: int, shape: str) -> _Click:
    head, colon, tail = text.partition(":")
    numbers_text = tail if colon else head
    try:
        object_id = int(head) if colon else DEFAULT_OBJECT_ID
        numbers = [float(part) for part in numbers_text.split(",")]
    except ValueError:
        object_id, numbers = -1, []
    if object_id < 0 or len(numbers) != count or not all(map(math.isfinite, numbers)):
        raise argparse.ArgumentTypeError(
            f"expected {shape} (an object id >= 0, then {count} numbers), got {text!r}"
        )
    return _Click(object_id, numbers)


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse ``type``: an int >= ``minimum`` (``what`` names it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} (an int >= {minimum}), got {text!r}")
        return value

    return parse


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value
