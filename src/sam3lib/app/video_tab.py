"""The page's video tab: upload a clip, type what to track, see every instance followed
through the first frames with a stable id.

:func:`track_for_display` does one request without gradio (``Segmenter.track`` on the first
``max_frames`` frames, the annotated video and the YouTube-VIS JSON written as it goes);
:func:`track_video` is the tab's callback around it (library errors become ``gr.Error``), and
:func:`add_video_tab` lays the tab out inside :func:`~sam3lib.app.ui.build_app`'s Blocks.

Nothing is preloaded: the clip is decoded one frame at a time for the tracker, and opened a
second time to draw the annotated video, so memory does not grow with ``max_frames``. The
frames cap bounds the time instead: on a CPU a frame takes seconds at full size, and a request
holds the page's queue (``--concurrency``) until it is done.
"""

# No `from __future__ import annotations`: gradio finds the `gr.Progress` parameter of a
# callback by its default value, and reads the other annotations as they are.

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from sam3lib.app.inputs import parse_prompts
from sam3lib.app.models import AUTO, ModelPool, model_title
from sam3lib.backends import ENGINE_REQUIREMENTS
from sam3lib.errors import InputError, InteractiveUnavailableError, Sam3Error
from sam3lib.segmenter import Segmenter
from sam3lib.video.frame_encoder import FrameEncoder
from sam3lib.video.frames import VideoFrames, open_frames
from sam3lib.video.outputs import write_outputs
from sam3lib.video.result import TrackedFrame
from sam3lib.video.tracking_config import TrackingConfig

__all__ = [
    "DEFAULT_MAX_FRAMES",
    "TRACKED_VIDEO_NAME",
    "TRACKS_JSON_NAME",
    "VideoDisplay",
    "add_video_tab",
    "track_for_display",
    "track_video",
    "tracking_backends",
    "tracking_unavailable",
    "video_summary",
]

#: Frames tracked when the visitor does not say: a few seconds of video, minutes on a CPU.
DEFAULT_MAX_FRAMES = 150
TRACKED_VIDEO_NAME = "tracked.mp4"
TRACKS_JSON_NAME = "tracks_youtube_vis.json"

VIDEO_INTRO = (
    "Upload a short video, type **one** thing to track (`person`, `car`; Chinese is "
    "translated to English) and press **Track**: every instance found is followed through "
    "the video with a stable id, drawn in its own colour. Only the first *Max frames* frames "
    "are tracked — on a CPU each frame takes seconds — and the page waits for the whole clip; "
    "frames are decoded one at a time, so a longer cap costs time, not memory. The progress "
    "bar starts after 15 frames: SAM 3 confirms a new object before reporting its frames."
)

#: ``(frames done, frames in all or None)``, called after each tracked frame.
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class VideoDisplay:
    """Everything the tab shows for one request.

    Attributes:
        video: the annotated video (H.264 MP4).
        tracks: the YouTube-VIS JSON (per-frame COCO RLE masks, boxes, scores per object).
        frames: frames tracked.
        object_frames: per object id shown, the number of frames it is on (ids increasing).
        summary: frames, objects and seconds per frame, as Markdown.
    """

    video: Path
    tracks: Path
    frames: int
    object_frames: dict[int, int]
    summary: str


def tracking_unavailable(segmenter: Segmenter) -> str | None:
    """Why ``segmenter``'s checkpoint cannot track a video (the library's message), or None.

    Example:
        >>> tracking_unavailable(Segmenter.from_pretrained("facebook/sam3"))  # doctest: +SKIP
    """
    try:
        FrameEncoder(segmenter.backend)
    except InteractiveUnavailableError as error:
        return str(error)
    except InputError:
        return None  # an exported engine: the tab's own backends run the checkpoint in PyTorch
    return None


def tracking_backends(backends: Sequence[str]) -> list[str]:
    """The backends of ``backends`` that can track: the optional exported engines cannot (the
    tracker's memory runs in PyTorch).

    Example:
        >>> tracking_backends(["auto", "amp", "eager", "onnxruntime"])
        ['auto', 'amp', 'eager']
    """
    return [name for name in backends if name not in ENGINE_REQUIREMENTS]


def track_for_display(
    segmenter: Segmenter,
    video: str | Path,
    prompt_text: str,
    *,
    max_frames: int,
    directory: Path,
    progress: ProgressCallback | None = None,
    config: TrackingConfig | None = None,
) -> VideoDisplay:
    """Track every instance of one text prompt through the first ``max_frames`` frames of
    ``video``; write the annotated video and the YouTube-VIS JSON into ``directory``.

    Args:
        segmenter: the model; a prompt not in English goes through its translator.
        video: a video file (anything FFmpeg reads).
        prompt_text: one prompt (``"person"``, ``"红色的汽车"``).
        max_frames: frames to track from the start, at least 1.
        directory: where the outputs go (created).
        progress: called after each tracked frame.
        config: text tracking's thresholds (Meta's defaults; the page offers no other).

    Raises:
        InputError: no prompt or several, ``max_frames`` below 1, an unreadable video.
        InteractiveUnavailableError: the checkpoint cannot track.

    Example:
        >>> shown = track_for_display(seg, "clip.mp4", "person", max_frames=150,
        ...                           directory=Path("out"))  # doctest: +SKIP
        >>> shown.frames, shown.object_frames  # doctest: +SKIP
        (150, {0: 150, 3: 41})
    """
    prompt = _one_prompt(prompt_text)
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise InputError(f"max frames: expected a whole number of frames >= 1, got {max_frames!r}")
    tracked_video, tracks = directory / TRACKED_VIDEO_NAME, directory / TRACKS_JSON_NAME
    started = time.perf_counter()
    # Two readers of one file, each in order: the tracker reads ahead while the annotated
    # video is drawn up to 15 frames behind (text tracking's hot start), which one shared
    # reader would serve by seeking back and decoding forward again for every frame.
    with open_frames(video) as drawn, open_frames(video) as read:
        total = None if read.count is None else min(read.count, max_frames)
        first = islice((rgb for _, rgb in read), max_frames)
        with segmenter.track(first, prompt, config=config) as tracking:
            on_frames: Counter[int] = Counter()
            frames = _tallied(tracking, on_frames, total, progress)
            written = write_outputs(
                frames,
                drawn,
                video=tracked_video,
                json=tracks,
                name=Path(video).stem,
                category=prompt,
            )
        longer = _longer(read, written.frames)
    seconds = time.perf_counter() - started
    object_frames = {object_id: on_frames[object_id] for object_id in written.object_ids}
    summary = video_summary(written.frames, longer, object_frames, seconds, model_title(segmenter))
    return VideoDisplay(tracked_video, tracks, written.frames, object_frames, summary)


def video_summary(
    frames: int,
    longer: bool | None,
    object_frames: dict[int, int],
    seconds: float,
    model: str,
) -> str:
    """What was tracked, as Markdown: frames, objects with their ids, seconds per frame.

    Args:
        frames: frames tracked.
        longer: whether the video has more frames than were tracked (None: not known).
        object_frames: per object id, the frames it is on.
        seconds: wall time of the whole request.
        model: :func:`~sam3lib.app.models.model_title`.

    Example:
        >>> print(video_summary(10, False, {0: 10, 2: 4}, 5.0, "fp32 · eager · cpu · 1008 px"))
        - **10 frames** tracked (the whole video)
        - **2 objects**: id 0 (on 10 frames), id 2 (on 4 frames)
        - 0.50 s per frame, 5.0 s in all · fp32 · eager · cpu · 1008 px
    """
    if longer is None:
        extent = "the video may be longer: raise *Max frames* for more"
    elif longer:
        extent = f"the first {frames}: raise *Max frames* for more"
    else:
        extent = "the whole video"
    if object_frames:
        ids = ", ".join(f"id {i} (on {count} frames)" for i, count in object_frames.items())
        objects = f"**{_count(len(object_frames), 'object')}**: {ids}"
    else:
        objects = "**no object** found: try another prompt"
    return (
        f"- **{_count(frames, 'frame')}** tracked ({extent})\n"
        f"- {objects}\n"
        f"- {seconds / max(frames, 1):.2f} s per frame, {seconds:.1f} s in all · {model}"
    )


def track_video(
    pool: ModelPool,
    downloads: Path,
    video: str | None,
    prompt_text: str,
    max_frames: float | None,
    precision: str,
    backend: str,
    progress: Any = None,
) -> tuple[str, list[str], str]:
    """The **Track** button: :func:`track_for_display` with the chosen model, in a new folder
    under ``downloads``; a bad request raises ``gr.Error`` with the library's message.

    Args:
        progress: a ``gr.Progress`` (or None), fed ``(frames done, frames in all)``.

    Returns:
        The annotated video's path, ``[the JSON's path]``, the summary.

    Example:
        >>> track_video(pool, Path("downloads"), "clip.mp4", "person", 150, "fp32",
        ...             "auto")  # doctest: +SKIP
    """
    import gradio as gr

    if not video:
        raise gr.Error("Upload a video first.")
    if max_frames is None:
        raise gr.Error("Give Max frames: how many frames to track from the start.")

    def report(done: int, total: int | None) -> None:
        if progress is not None:
            progress((done, total), desc="Tracking", unit="frames")

    try:
        shown = track_for_display(
            pool.get(backend, precision),
            video,
            prompt_text,
            max_frames=int(max_frames),
            directory=downloads / uuid.uuid4().hex,
            progress=report,
        )
    except Sam3Error as error:
        raise gr.Error(str(error)) from None
    return str(shown.video), [str(shown.tracks)], shown.summary


def add_video_tab(pool: ModelPool, downloads: Path) -> None:
    """The video tab's components and callback, inside the caller's ``gr.Tab``. A checkpoint
    that cannot track gets the tab with the reason and its **Track** button disabled.

    Example:
        >>> with gr.Blocks() as demo, gr.Tab("Video"):  # doctest: +SKIP
        ...     add_video_tab(ModelPool(seg), Path("downloads"))
    """
    import gradio as gr

    def track(
        video: str | None,
        prompt_text: str,
        max_frames: float | None,
        precision: str,
        backend: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - gradio's way to ask for one
    ) -> tuple[str, list[str], str]:
        return track_video(
            pool, downloads, video, prompt_text, max_frames, precision, backend, progress
        )

    unavailable = tracking_unavailable(pool.first)
    if unavailable is not None:
        gr.Markdown(
            f"**This checkpoint cannot track videos**: {unavailable}", elem_id="video-unavailable"
        )
    gr.Markdown(VIDEO_INTRO)
    with gr.Row():
        with gr.Column():
            video = gr.Video(label="Video", sources=["upload"], elem_id="video-input")
            prompt = gr.Textbox(
                label="What to track (one prompt; Chinese is translated to English)",
                placeholder="person, 红色的汽车",
                elem_id="video-prompt",
            )
            max_frames = gr.Number(
                value=DEFAULT_MAX_FRAMES,
                minimum=1,
                precision=0,
                label="Max frames (tracked from the start; each takes seconds on a CPU)",
                elem_id="video-max-frames",
            )
            with gr.Row():
                precision = gr.Radio(
                    pool.precisions,
                    value=pool.first.backend.precision,
                    label="Precision",
                    elem_id="video-precision",
                )
                backend = gr.Dropdown(
                    tracking_backends(pool.backends),
                    value=AUTO,
                    label="Backend",
                    elem_id="video-backend",
                )
            run = gr.Button(
                "Track", variant="primary", interactive=unavailable is None, elem_id="video-track"
            )
        with gr.Column():
            tracked = gr.Video(label="Tracked", interactive=False, elem_id="video-output")
            summary = gr.Markdown(elem_id="video-summary")
            files = gr.File(
                label="Tracks: YouTube-VIS JSON (per-frame COCO RLE masks, boxes, scores)",
                file_count="multiple",
                interactive=False,
                elem_id="video-downloads",
            )

    inputs = [video, prompt, max_frames, precision, backend]
    run.click(track, inputs, [tracked, files, summary])
    if unavailable is None:
        prompt.submit(track, inputs, [tracked, files, summary])


def _one_prompt(text: str) -> str:
    prompts = parse_prompts(text or "")
    if not prompts:
        raise InputError("prompt: type what to track, e.g. 'person'")
    if len(prompts) > 1:
        raise InputError(
            f"prompt: a video is tracked for one text prompt at a time, got {len(prompts)} "
            f"({', '.join(prompts)}); track them one after the other"
        )
    return prompts[0]


def _tallied(
    tracked: Iterable[TrackedFrame],
    on_frames: Counter[int],
    total: int | None,
    progress: ProgressCallback | None,
) -> Iterator[TrackedFrame]:
    """``tracked``'s frames, counting the frames each object is on and reporting progress."""
    for done, frame in enumerate(tracked, start=1):
        on_frames.update(frame.object_ids.tolist())
        if progress is not None:
            progress(done, total)
        yield frame


def _longer(read: VideoFrames, tracked: int) -> bool | None:
    """Whether the video has frames past the ``tracked`` first ones (None: its header does not
    say, and it was not read to the end)."""
    if read.count is not None:
        return read.count > tracked
    return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
