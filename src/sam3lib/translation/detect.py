"""Which script a prompt is written in: the one test that decides whether to translate.

Only text holding CJK ideographs is translated; everything else (English, other Latin-script
text, digits) goes to the model exactly as typed, so an English prompt is never altered.
"""

from __future__ import annotations

# CJK Unified Ideographs, Extension A and the Compatibility block: the characters jieba and
# CC-CEDICT know. Kana and Hangul are left out on purpose: Japanese and Korean are not handled.
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


def is_cjk_char(char: str) -> bool:
    """True if ``char`` (one character) is a CJK ideograph.

    Example:
        >>> is_cjk_char("狗"), is_cjk_char("d")
        (True, False)
    """
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def has_cjk(text: str) -> bool:
    """True if ``text`` holds at least one CJK ideograph (Chinese, or Chinese mixed with English).

    Example:
        >>> has_cjk("red car"), has_cjk("红色的car")
        (False, True)
    """
    return any(is_cjk_char(char) for char in text)
