"""Overlay tags in a font with the label's glyphs: Chinese tags are drawn, not tofu boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import ImageFont

from sam3lib.fonts import Font, cjk_font_file, find_cjk_font, tag_font
from sam3lib.result import SegmentationResult
from sam3lib.visualize import draw_overlay

HEIGHT, WIDTH = 120, 320
TOFU = "\uffff"  # a noncharacter: no font has a glyph for it, every font draws its box


@pytest.fixture(scope="module")
def cjk_font() -> Path:
    found = cjk_font_file()
    if found is None:
        pytest.skip("no CJK font here: install the 'zh' extra (mplfonts) or a system CJK font")
    return found


def _tag(label: str) -> npt.NDArray[np.uint8]:
    """An overlay of one instance labelled ``label``, with no fill and no edge: only the tag."""
    masks = np.zeros((1, HEIGHT, WIDTH), dtype=bool)
    masks[0, 40:100, 20:300] = True
    result = SegmentationResult(
        masks=masks,
        boxes=np.array([[20, 40, 300, 100]], dtype=np.float32),
        scores=np.array([0.875], dtype=np.float32),
        prompt=label,
        image_size=(HEIGHT, WIDTH),
    )
    white = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    return np.asarray(draw_overlay(white, [result], alpha=0.0, edge_width=0))


def _glyph(font: Font, char: str) -> npt.NDArray[np.uint8]:
    return np.asarray(font.getmask(char))


@pytest.mark.usefixtures("cjk_font")
def test_chinese_tags_are_drawn_with_their_glyphs_not_tofu() -> None:
    red_car, yellow_truck, tofu = _tag("红色的汽车"), _tag("黄色的卡车"), _tag(TOFU * 5)

    assert (red_car != 255).any()  # a tag was drawn
    # With a font lacking the glyphs all three are the same five boxes.
    assert not np.array_equal(red_car, tofu)
    assert not np.array_equal(yellow_truck, tofu)
    assert not np.array_equal(red_car, yellow_truck)


def test_each_character_of_a_chinese_tag_has_a_glyph(cjk_font: Path) -> None:
    font = tag_font("红色的汽车 0.88", 14)

    assert isinstance(font, ImageFont.FreeTypeFont) and font.path == str(cjk_font)
    box = _glyph(font, TOFU)
    for char in "红色的汽车紅車":
        glyph = _glyph(font, char)
        assert glyph.any(), char
        assert glyph.shape != box.shape or not np.array_equal(glyph, box), char


def test_accented_latin_gets_the_glyph_font_too(cjk_font: Path) -> None:
    font = tag_font("crème brûlée 0.50", 14)

    assert not np.array_equal(_glyph(font, "è"), _glyph(font, TOFU))


def test_ascii_tags_keep_pillows_font() -> None:
    assert tag_font("red car 0.91", 14).getname() == ImageFont.load_default(size=14).getname()


@pytest.mark.usefixtures("cjk_font")
def test_fonts_are_loaded_once_per_size() -> None:
    assert tag_font("红色 0.50", 14) is tag_font("狗 0.91", 14)
    assert tag_font("红色 0.50", 14) is not tag_font("红色 0.50", 20)


def test_the_packaged_font_comes_first_then_system_fonts_in_order(tmp_path: Path) -> None:
    packaged, first, second = tmp_path / "noto.otf", tmp_path / "a.ttc", tmp_path / "b.ttc"
    missing = tmp_path / "missing.ttc"
    for path in (packaged, first, second):
        path.write_bytes(b"font")

    assert find_cjk_font(packaged, [first, second], fontconfig=False) == packaged
    assert find_cjk_font(None, [missing, second, first], fontconfig=False) == second
    assert find_cjk_font(missing, [missing], fontconfig=False) is None
