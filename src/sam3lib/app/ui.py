"""The Gradio page, three tabs. Concepts: inputs and controls on the left, the annotated answer
on the right. Click an object: :mod:`sam3lib.app.click_tab`. Video: :mod:`sam3lib.app.video_tab`.

Built by :func:`build_app` around models it is given; the callbacks only move values between
components and :func:`~sam3lib.app.display.segment_for_display`.
"""

# No `from __future__ import annotations` here: gradio finds the `gr.SelectData` parameter of
# a callback through its annotation, which must therefore be the class, not a string.

import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sam3lib.app.click_tab import add_click_tab
from sam3lib.app.display import segment_for_display
from sam3lib.app.inputs import box_from_corners
from sam3lib.app.models import AUTO, ModelPool
from sam3lib.app.presentation import Instance, instance_at, instance_details
from sam3lib.app.samples import sample_image, sample_names
from sam3lib.app.video_tab import add_video_tab
from sam3lib.errors import Sam3Error
from sam3lib.segmenter import Segmenter

if TYPE_CHECKING:
    import gradio as gr

TITLE = "sam3lib · SAM 3 segmentation"
_INTRO = (
    "Drop an image (or pick a sample), type what to find — several things separated by "
    "commas — and press **Segment**. Optionally give exemplar boxes: type `x0,y0,x1,y1` or "
    "click two opposite corners on the image. Click an instance in the answer to see it."
)


def build_app(
    segmenter: Segmenter, *, source: str | None = None, downloads_dir: Path | None = None
) -> "gr.Blocks":
    """The demo page around ``segmenter``.

    Args:
        segmenter: the model the page starts with, shared by every visitor.
        source: its checkpoint; when given, the page also offers the other precisions (and
            backends) this machine runs, each loaded from ``source`` when first picked.
        downloads_dir: where mask downloads are written; a new temporary directory by default.

    Returns:
        The Gradio Blocks; call ``.queue().launch()`` on it.

    Example:
        >>> demo = build_app(Segmenter.from_pretrained("facebook/sam3"),
        ...                  source="facebook/sam3")  # doctest: +SKIP
        >>> demo.queue().launch(server_port=7860)  # doctest: +SKIP
    """
    import gradio as gr

    pool = ModelPool(segmenter, source=source)
    downloads = downloads_dir or Path(tempfile.mkdtemp(prefix="sam3lib-app-"))

    def segment(
        image: Any,
        prompts_text: str,
        boxes_text: str,
        threshold: float,
        refine: float,
        precision: str,
        backend: str,
    ) -> tuple[Any, ...]:
        if image is None:
            raise gr.Error("Upload an image or pick a sample first.")
        try:
            shown = segment_for_display(
                pool.get(backend, precision),
                image,
                prompts_text,
                boxes_text,
                threshold=threshold,
                refine=int(refine),
                directory=downloads / uuid.uuid4().hex,
            )
        except Sam3Error as error:
            raise gr.Error(str(error)) from None
        titles = [instance.title for instance in shown.instances]
        return (
            shown.overlay,
            shown.legend,
            gr.Dropdown(choices=titles, value=None),
            "",
            shown.timings,
            [str(path) for path in shown.downloads],
            shown.results,
            shown.instances,
        )

    def show_instance(title: str | None, instances: list[Instance]) -> str:
        chosen = [instance for instance in instances if instance.title == title]
        return instance_details(chosen[0]) if chosen else ""

    def pick_on_overlay(results: list[Any], instances: list[Instance], event: gr.SelectData) -> Any:
        x, y = (int(value) for value in event.index)
        number = instance_at(results, x, y)
        return instances[number - 1].title if number is not None else None

    def add_corner(
        boxes_text: str, corner: tuple[float, float] | None, event: gr.SelectData
    ) -> tuple[str, tuple[float, float] | None]:
        x, y = (float(value) for value in event.index)
        if corner is None:
            return boxes_text, (x, y)
        box = box_from_corners(corner, (x, y))
        return (f"{boxes_text.strip()}; {box}" if boxes_text.strip() else box), None

    def concept_tab() -> None:
        results_state = gr.State([])
        instances_state = gr.State([])
        corner_state = gr.State(None)
        with gr.Row():
            with gr.Column():
                image = gr.Image(
                    type="numpy", label="Image", sources=["upload", "clipboard"], elem_id="image"
                )
                sample = gr.Dropdown(
                    choices=sample_names(), value=None, label="…or a sample", elem_id="sample"
                )
                prompts = gr.Textbox(
                    label="Prompts (comma-separated; Chinese is translated to English)",
                    placeholder="red car, bicycle, 红色的汽车",
                    elem_id="prompts",
                )
                boxes = gr.Textbox(
                    label="Exemplar boxes (optional): x0,y0,x1,y1; … or click two corners",
                    placeholder="10,20,110,140",
                    elem_id="boxes",
                )
                threshold = gr.Slider(
                    0.0, 1.0, value=0.5, step=0.01, label="Detection threshold", elem_id="threshold"
                )
                refine = gr.Slider(
                    0, 5, value=0, step=1, label="Mask refinement (0: off)", elem_id="refine"
                )
                with gr.Row():
                    precision = gr.Radio(
                        pool.precisions,
                        value=segmenter.backend.precision,
                        label="Precision",
                        elem_id="precision",
                    )
                    backend = gr.Dropdown(
                        pool.backends, value=AUTO, label="Backend", elem_id="backend"
                    )
                run = gr.Button("Segment", variant="primary", elem_id="segment")
            with gr.Column():
                overlay = gr.Image(
                    type="pil", format="png", label="Answer", interactive=False, elem_id="overlay"
                )
                legend = gr.HTML(elem_id="legend")
                instance = gr.Dropdown(
                    choices=[], label="Instance", interactive=True, elem_id="instance"
                )
                details = gr.Markdown(elem_id="details")
                timings = gr.Markdown(elem_id="timings")
                files = gr.File(
                    label="Masks: PNG label map (pixel = instance #), COCO RLE JSON",
                    file_count="multiple",
                    interactive=False,
                    elem_id="downloads",
                )

        sample.change(lambda name: None if name is None else sample_image(name), sample, image)
        image.select(add_corner, [boxes, corner_state], [boxes, corner_state])
        run.click(
            segment,
            [image, prompts, boxes, threshold, refine, precision, backend],
            [overlay, legend, instance, details, timings, files, results_state, instances_state],
        )
        prompts.submit(
            segment,
            [image, prompts, boxes, threshold, refine, precision, backend],
            [overlay, legend, instance, details, timings, files, results_state, instances_state],
        )
        instance.change(show_instance, [instance, instances_state], details)
        overlay.select(pick_on_overlay, [results_state, instances_state], instance)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}")
        with gr.Tabs():
            with gr.Tab("Concepts: text and exemplars", elem_id="concept-tab"):
                gr.Markdown(_INTRO)
                concept_tab()
            with gr.Tab("Click an object", elem_id="click-tab"):
                add_click_tab(pool, downloads)
            with gr.Tab("Video", elem_id="video-tab"):
                add_video_tab(pool, downloads)
    return demo
