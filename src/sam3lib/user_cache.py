"""Where sam3lib keeps what it computes once per machine: exports, engines, parsed dictionaries.

One root for every cache, ``$SAM3LIB_CACHE``, else ``~/.cache/sam3lib``; each user of it takes
a sub-directory (``onnx``, ``tensorrt``, ``translation``).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENVIRONMENT_VARIABLE = "SAM3LIB_CACHE"


def default_cache_root() -> Path:
    """``$SAM3LIB_CACHE``, else ``~/.cache/sam3lib`` (read at call time, never created here).

    Example:
        >>> default_cache_root().name  # doctest: +SKIP
        'sam3lib'
    """
    configured = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "sam3lib"
