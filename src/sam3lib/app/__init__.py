"""``sam3lib app``: the web demo (Gradio), installed with the ``app`` extra.

Drop an image, type "red car", see every red car outlined; or click an object and see its
mask; or drop a video and see every "person" tracked. A thin layer over the library:
segmentation is :meth:`Segmenter.segment` and :meth:`Segmenter.predict`, tracking
:meth:`Segmenter.track`, drawing is :func:`sam3lib.visualize.draw_overlay`, exports are
:class:`~sam3lib.SegmentationResult`'s.

- :mod:`~sam3lib.app.inputs`: what users type (prompts, boxes), parsed;
- :mod:`~sam3lib.app.display`: one request, from inputs to what the page shows;
- :mod:`~sam3lib.app.clicks`: the click mode: clicks kept, one click's answer, drawn;
- :mod:`~sam3lib.app.presentation`: legend, instance details, timings;
- :mod:`~sam3lib.app.downloads`: masks as a PNG label map and COCO RLE JSON;
- :mod:`~sam3lib.app.models`: the shared models, one per backend and precision;
- :mod:`~sam3lib.app.samples`: sample pictures, drawn procedurally;
- :mod:`~sam3lib.app.storage`: the private folder the command gives Gradio;
- :mod:`~sam3lib.app.ui`: the Gradio page (``build_app``), its click tab in
  :mod:`~sam3lib.app.click_tab`, its video tab in :mod:`~sam3lib.app.video_tab`;
  :mod:`~sam3lib.app.command`.

Only :mod:`~sam3lib.app.ui`, the tabs and the command import gradio, and
``import sam3lib`` imports none of this.
"""
