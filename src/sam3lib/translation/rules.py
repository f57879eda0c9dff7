"""The grammar of a visual prompt: Chinese word order → English noun phrase.

A Chinese noun phrase puts every modifier before the head noun and joins them with 的; English
puts adjectives before the noun but relations and clauses after it. The rules, applied to the
last 的 first:

- attribute 的 noun → ``attribute noun`` (红色的汽车 → red car)
- noun location 的 noun → ``noun preposition noun`` (桌子上的杯子 → cup on table)
- verb X 的 noun → ``noun participle X`` (穿红衣服的人 → person wearing red clothes)
- numerals and the measure word after them are dropped (三只狗 → dog): SAM 3 finds every
  instance of a singular noun phrase, so the count adds nothing the model can use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sam3lib.translation.curated import (
    CLAUSE_VERBS,
    COUNT_WORDS,
    DROPPED_WORDS,
    LOCATIONS,
    MEASURE_WORDS,
)

WordTranslator = Callable[[str], str]


def drop_counts(words: Sequence[str]) -> list[str]:
    """Remove numerals, the measure word after them, and demonstratives.

    Example:
        >>> drop_counts(["三", "只", "狗"]), drop_counts(["三只", "狗"])
        (['狗'], ['狗'])
    """
    kept: list[str] = []
    after_numeral = False
    for word in words:
        stripped = word.lstrip("".join(COUNT_WORDS))
        is_count = stripped != word and all(char in MEASURE_WORDS for char in stripped)
        if is_count or (after_numeral and word in MEASURE_WORDS):
            after_numeral = stripped == ""
            continue
        after_numeral = False
        if word not in DROPPED_WORDS or word == "的":
            kept.append(word)
    return kept


def noun_phrase(words: Sequence[str], translate_word: WordTranslator) -> str:
    """Turn segmented Chinese words (counts already dropped) into an English noun phrase.

    The words after the last 的 are the head; each stretch before a 的 modifies it, and goes
    before the head (an attribute) or after it (a location or a verb clause).

    Args:
        words: jieba's words, English words included as they were typed.
        translate_word: one Chinese word → English ("" when it has no translation).

    Example:
        >>> table = {"桌子": "table", "上": "on", "杯子": "cup", "红色": "red"}
        >>> noun_phrase(["桌子", "上", "的", "红色", "的", "杯子"], lambda w: table.get(w, w))
        'red cup on table'
    """
    stretches = _split_on_de(words)
    head = _translate_all(stretches[-1], translate_word)
    if not head:  # 红色的 alone: the modifiers are all there is
        return _join(_translate_all(stretch, translate_word) for stretch in stretches)
    before: list[str] = []
    after: list[str] = []
    for stretch in stretches[:-1]:
        modifier = _split_location(_split_clause_verb(stretch))
        if modifier[0] in CLAUSE_VERBS and len(modifier) > 1:
            clause = _translate_all(modifier[1:], translate_word)
            after.append(_join([CLAUSE_VERBS[modifier[0]], clause]))
        elif modifier[-1] in LOCATIONS and len(modifier) > 1:
            place = _translate_all(modifier[:-1], translate_word)
            after.append(_join([LOCATIONS[modifier[-1]], place]))
        else:
            before.append(_translate_all(modifier, translate_word))
    return _join([*before, head, *after])


def _split_on_de(words: Sequence[str]) -> list[list[str]]:
    """The stretches between 的, empty ones dropped; never empty itself."""
    stretches: list[list[str]] = [[]]
    for word in words:
        if word == "的":
            stretches.append([])
        else:
            stretches[-1].append(word)
    return [stretch for stretch in stretches if stretch] or [[]]


def _translate_all(words: Sequence[str], translate_word: WordTranslator) -> str:
    return _join(translate_word(word) for word in words)


def _split_clause_verb(modifier: list[str]) -> list[str]:
    """jieba keeps short verb-object pairs whole (戴帽子); split the verb off a clause."""
    first = modifier[0]
    if first in CLAUSE_VERBS:
        return modifier
    for verb in sorted(CLAUSE_VERBS, key=len, reverse=True):
        if first.startswith(verb) and len(first) > len(verb):
            return [verb, first[len(verb) :], *modifier[1:]]
    return modifier


def _split_location(modifier: list[str]) -> list[str]:
    """jieba keeps common noun-location pairs whole (床上); split the location off the end."""
    last = modifier[-1]
    if last in LOCATIONS:
        return modifier
    for location in sorted(LOCATIONS, key=len, reverse=True):
        if last.endswith(location) and len(last) > len(location):
            return [*modifier[:-1], last[: -len(location)], location]
    return modifier


def _join(parts: Iterable[str]) -> str:
    return " ".join(part for part in parts if part)
