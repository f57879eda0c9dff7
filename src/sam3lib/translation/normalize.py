"""Cleaning a Chinese prompt before segmentation: width, punctuation, emoji, traditional script.

Pure functions over strings; the traditional→simplified table comes from the caller (it is
built from CC-CEDICT in :mod:`sam3lib.translation.dictionary`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from sam3lib.translation.detect import is_cjk_char


def clean(text: str) -> str:
    """Fold full-width forms to ASCII (NFKC) and turn punctuation, symbols and emoji into spaces.

    Letters, digits and CJK ideographs survive; anything else (，。！？、「」, emoji, control
    characters, kana) separates words instead of reaching the dictionary.

    Example:
        >>> clean("红色的汽车！🚗 ＣＡＲ")
        '红色的汽车 CAR'
    """
    folded = unicodedata.normalize("NFKC", text)
    kept = [char if _is_word_char(char) else " " for char in folded]
    return " ".join("".join(kept).split())


def to_simplified(text: str, traditional_to_simplified: Mapping[str, str]) -> str:
    """Map each traditional character to its simplified form, one character at a time.

    Example:
        >>> to_simplified("紅色的汽車", {"紅": "红", "車": "车"})
        '红色的汽车'
    """
    return "".join(traditional_to_simplified.get(char, char) for char in text)


def _is_word_char(char: str) -> bool:
    if is_cjk_char(char):
        return True
    return char.isascii() and (char.isalnum() or char in "-'")
