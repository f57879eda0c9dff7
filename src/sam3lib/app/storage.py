"""Where ``sam3lib app`` keeps files: one private folder per run, the only folder it serves.

Gradio answers ``/gradio_api/file=<path>`` for any file under its upload folder and under
``./.gradio/cached_examples`` (relative to the working directory). The upload folder is
``$GRADIO_TEMP_DIR`` or ``/tmp/gradio``, shared by every Gradio app of the machine: left
alone, the demo would hand out files other apps wrote there (anyone's uploads and outputs),
and they ours. So the command points both at a new folder of its own, readable by its user
only and deleted when the demo stops; uploads, Gradio's copies and the mask downloads all
live there.

Gradio reads these variables (some when it is imported), so this is the command's business:
an application embedding :func:`~sam3lib.app.ui.build_app` chooses its own folders.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

DOWNLOADS = "downloads"
_EXAMPLES = "examples"


@contextmanager
def private_gradio_folder() -> Iterator[Path]:
    """A new folder (mode 0700) that Gradio uses for every file it stores and serves.

    It is made inside ``$GRADIO_TEMP_DIR`` if that is set (the user chose that disk), else in
    the system's temporary directory. Enter it before gradio is imported: until exit,
    ``GRADIO_TEMP_DIR`` and ``GRADIO_EXAMPLES_CACHE`` point into it; then they are restored
    and the folder is deleted.

    Yields:
        The folder; write downloads under ``folder / DOWNLOADS``.

    Example:
        >>> with private_gradio_folder() as folder:  # doctest: +SKIP
        ...     build_app(seg, downloads_dir=folder / DOWNLOADS).launch()
    """
    parent = os.environ.get("GRADIO_TEMP_DIR")
    with tempfile.TemporaryDirectory(prefix="sam3lib-app-", dir=parent) as name:
        folder = Path(name)
        variables = {"GRADIO_TEMP_DIR": name, "GRADIO_EXAMPLES_CACHE": str(folder / _EXAMPLES)}
        with _environment(variables):
            yield folder


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
