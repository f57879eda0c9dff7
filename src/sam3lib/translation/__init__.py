"""Offline translation of Chinese prompts into the English noun phrases SAM 3 was trained on.

The pipeline, one module per step: :mod:`.detect` decides whether the text needs translating
(only text with CJK ideographs does), :mod:`.normalize` folds full-width forms and drops
punctuation and emoji, :mod:`.dictionary` maps traditional characters to simplified, segments
with jieba and looks words up in CC-CEDICT, :mod:`.curated` overrides the dictionary for visual
concepts, and :mod:`.rules` reorders the words into an English noun phrase. :mod:`.query`
decides which prompts go through a translator (this one or the user's) on their way to the
model.

jieba and CC-CEDICT come from the optional ``zh`` extra and load on the first Chinese prompt,
never at import.
"""

from __future__ import annotations

from sam3lib.errors import InputError
from sam3lib.translation.curated import CLAUSE_VERBS, LOCATIONS, VISUAL_CONCEPTS
from sam3lib.translation.detect import has_cjk
from sam3lib.translation.dictionary import Dictionary, load_dictionary, load_segmenter
from sam3lib.translation.normalize import clean, to_simplified
from sam3lib.translation.query import (
    Translator,
    check_translator,
    english_queries,
    english_query,
    needs_translation,
)
from sam3lib.translation.rules import drop_counts, noun_phrase

MAX_PROMPT_CHARS = 200

__all__ = [
    "MAX_PROMPT_CHARS",
    "Translator",
    "check_translator",
    "english_queries",
    "english_query",
    "needs_translation",
    "translate",
]

_KNOWN_WORDS = frozenset(VISUAL_CONCEPTS) | frozenset(LOCATIONS) | frozenset(CLAUSE_VERBS)


def translate(text: str) -> str:
    """The English query for a prompt: Chinese is translated, anything else is returned as is.

    Args:
        text: a prompt in English, Chinese (simplified or traditional) or a mix of the two.

    Returns:
        An English noun phrase, lower case except for English words kept as typed. Text with
        no CJK ideograph (English, emoji, digits) comes back unchanged.

    Raises:
        InputError: ``text`` is not a string, Chinese text is over ``MAX_PROMPT_CHARS``
            characters, or no word of it could be translated.
        BackendUnavailableError: the text is Chinese and the ``zh`` extra is not installed.

    Example:
        >>> translate("红色的汽车")  # doctest: +SKIP
        'red car'
        >>> translate("桌子上的杯子")  # doctest: +SKIP
        'cup on table'
        >>> translate("a red car")
        'a red car'
    """
    if not isinstance(text, str):
        raise InputError(f"translate() takes a string prompt, got {type(text).__name__}")
    if not has_cjk(text):
        return text
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(
            f"the Chinese prompt is {len(text)} characters; translation takes at most "
            f"{MAX_PROMPT_CHARS}: name the object in a short phrase, e.g. 红色的汽车"
        )
    dictionary = load_dictionary()
    simplified = to_simplified(clean(text), dictionary.traditional_to_simplified)
    words = [word for word in load_segmenter(_KNOWN_WORDS)(simplified) if word.strip()]
    english = noun_phrase(drop_counts(words), lambda word: _translate_word(word, dictionary))
    if not english:
        raise InputError(
            f"no word of the prompt {text!r} could be translated to English; "
            "write it in English or with common object names"
        )
    return english


def _translate_word(word: str, dictionary: Dictionary) -> str:
    """One segmented word → English: curated table, then CC-CEDICT, then its longest known parts."""
    if word.isascii():
        return word
    known = VISUAL_CONCEPTS.get(word) or dictionary.first_sense(word)
    if known:
        return known.lower()
    return " ".join(_longest_known_parts(word, dictionary))


def _longest_known_parts(word: str, dictionary: Dictionary) -> list[str]:
    """Greedy longest-match split of a word the dictionary lacks (红衣服 → red clothes)."""
    parts: list[str] = []
    start = 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end]
            english = VISUAL_CONCEPTS.get(piece) or dictionary.first_sense(piece)
            if english:
                parts.append(english.lower())
                start = end
                break
        else:
            start += 1  # a character nobody knows is dropped
    return parts
