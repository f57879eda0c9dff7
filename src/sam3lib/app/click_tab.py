"""The page's click tab: click an object on the picture, see its mask on the same picture.

Built inside :func:`~sam3lib.app.ui.build_app`'s Blocks; the callbacks only move values
between components and :mod:`sam3lib.app.clicks`.

Gradio reports a click on an image (its ``select`` event) with the pixel clicked, but not a
drag nor the keys held, so what a click adds is chosen with a radio button: a point on the
object, a point on the background, or a corner of a box (two clicks, opposite corners). The
answer is drawn on the picture itself, so the next click lands where the mask is seen.

Each visitor's picture is encoded once, on upload, and its embedding kept in the session
(``gr.State``) for :data:`EMBEDDING_TTL_S` after the last click; a click after that, or with
another precision, encodes the picture again.
"""

# No `from __future__ import annotations`: gradio reads the `gr.SelectData` annotation of a
# callback, which must be the class itself.

import uuid
from pathlib import Path
from typing import Any

from sam3lib.app.clicks import (
    CLICK_MODES,
    OBJECT,
    ClickPrompt,
    click_for_display,
    draw_clicks,
    encode_picture,
)
from sam3lib.app.models import AUTO, ModelPool
from sam3lib.app.samples import sample_image, sample_names
from sam3lib.embedding import ImageEmbedding
from sam3lib.errors import Sam3Error
from sam3lib.segmenter import Segmenter

#: Seconds a visitor's image embedding is kept after their last click (at full size, fp32, one
#: takes about 160 MB): a later click encodes the picture again. Gradio keeps a closed
#: page's state for an hour whatever this says.
EMBEDDING_TTL_S = 900

CLICK_INTRO = (
    "Upload a picture (or pick a sample) and **click an object**: its mask appears. Click "
    "more to refine it — on the object to add, on the background (pick *background* below) "
    "to remove — or pick *box* and click two opposite corners around the object. This is "
    "SAM 3's interactive head: one object, where you click. The picture is encoded once, on "
    "upload; each click runs only the small decoder."
)
NO_HEAD = (
    "**This checkpoint has no interactive head** (it was saved with the detector only): "
    "clicks cannot be segmented. Load a full SAM 3 checkpoint, e.g. `facebook/sam3`."
)


def add_click_tab(pool: ModelPool, downloads: Path) -> None:
    """The click tab's components and callbacks, inside the caller's ``gr.Tab``.

    Example:
        >>> with gr.Blocks() as demo, gr.Tab("Click"):  # doctest: +SKIP
        ...     add_click_tab(ModelPool(seg), Path("downloads"))
    """
    import gradio as gr

    def model(backend: str, precision: str) -> Segmenter:
        try:
            return pool.get(backend, precision)
        except Sam3Error as error:
            raise gr.Error(str(error)) from None

    def encoded(segmenter: Segmenter, picture: Any) -> ImageEmbedding:
        try:
            return encode_picture(segmenter, picture)
        except Sam3Error as error:
            raise gr.Error(str(error)) from None

    def load(picture: Any, precision: str, backend: str) -> tuple[Any, ...]:
        """A new picture: encode it now, so that the first click is quick."""
        if picture is None:
            return None, None, ClickPrompt(), "", "", []
        embedding = encoded(model(backend, precision), picture)
        return picture, embedding, ClickPrompt(), "Now click the object.", "", []

    def show(
        picture: Any,
        embedding: ImageEmbedding | None,
        prompt: ClickPrompt,
        precision: str,
        backend: str,
    ) -> tuple[Any, ...]:
        if picture is None:
            raise gr.Error("Upload an image or pick a sample first.")
        segmenter = model(backend, precision)
        if embedding is None or embedding.backend is not segmenter.backend:
            embedding = encoded(segmenter, picture)  # another precision, or the state expired
        try:
            shown = click_for_display(
                segmenter, embedding, picture, prompt, directory=downloads / uuid.uuid4().hex
            )
        except Sam3Error as error:
            raise gr.Error(str(error)) from None
        files = [str(path) for path in shown.downloads]
        return embedding, shown.prompt, shown.picture, shown.details, shown.timings, files

    def click(
        picture: Any,
        embedding: ImageEmbedding | None,
        prompt: ClickPrompt,
        mode: str,
        precision: str,
        backend: str,
        event: gr.SelectData,
    ) -> tuple[Any, ...]:
        x, y = (float(value) for value in event.index)
        return show(picture, embedding, prompt.with_click(x, y, mode), precision, backend)

    def undo(
        picture: Any,
        embedding: ImageEmbedding | None,
        prompt: ClickPrompt,
        precision: str,
        backend: str,
    ) -> tuple[Any, ...]:
        return show(picture, embedding, prompt.without_last(), precision, backend)

    def clear(picture: Any) -> tuple[Any, ...]:
        shown = None if picture is None else draw_clicks(picture, None, ClickPrompt())
        return ClickPrompt(), shown, "", "", []

    if pool.first.backend.config.tracker is None:
        gr.Markdown(NO_HEAD, elem_id="click-unavailable")
    gr.Markdown(CLICK_INTRO)
    picture_state = gr.State(None)
    embedding_state = gr.State(None, time_to_live=EMBEDDING_TTL_S)
    prompt_state = gr.State(ClickPrompt())
    with gr.Row():
        with gr.Column(scale=3):
            image = gr.Image(
                type="numpy",
                format="png",
                label="Click the object",
                sources=["upload", "clipboard"],
                elem_id="click-image",
            )
        with gr.Column(scale=2):
            sample = gr.Dropdown(
                choices=sample_names(), value=None, label="…or a sample", elem_id="click-sample"
            )
            mode = gr.Radio(
                list(CLICK_MODES), value=OBJECT, label="A click adds", elem_id="click-mode"
            )
            with gr.Row():
                undo_button = gr.Button("Undo last click", elem_id="click-undo")
                clear_button = gr.Button("Clear clicks", elem_id="click-clear")
            with gr.Row():
                precision = gr.Radio(
                    pool.precisions,
                    value=pool.first.backend.precision,
                    label="Precision",
                    elem_id="click-precision",
                )
                backend = gr.Dropdown(
                    pool.backends, value=AUTO, label="Backend", elem_id="click-backend"
                )
            details = gr.Markdown(elem_id="click-details")
            timings = gr.Markdown(elem_id="click-timings")
            files = gr.File(
                label="Mask: PNG (1 = object), COCO RLE JSON",
                file_count="multiple",
                interactive=False,
                elem_id="click-downloads",
            )

    shown = [embedding_state, prompt_state, image, details, timings, files]
    loaded = [picture_state, embedding_state, prompt_state, details, timings, files]
    image.upload(load, [image, precision, backend], loaded)
    sample.change(lambda name: None if name is None else sample_image(name), sample, image).then(
        load, [image, precision, backend], loaded
    )
    image.clear(lambda: (None, None, ClickPrompt(), "", "", []), None, loaded)
    image.select(
        click, [picture_state, embedding_state, prompt_state, mode, precision, backend], shown
    )
    undo_button.click(
        undo, [picture_state, embedding_state, prompt_state, precision, backend], shown
    )
    clear_button.click(clear, picture_state, [prompt_state, image, details, timings, files])
