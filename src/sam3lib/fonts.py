"""Fonts for the text drawn on overlays, chosen so that every character has a glyph.

Pillow's built-in font (Aileron) has ASCII glyphs only: a Chinese tag, or even "crème brûlée",
would come out as empty boxes ("tofu"). ASCII text keeps that font; any other text is drawn
with the first CJK font found, which also covers Latin, Greek and Cyrillic:

1. Noto Sans CJK SC as shipped by the ``mplfonts`` package (the ``zh`` extra; the font is
   licensed SIL Open Font License 1.1);
2. a system font: a few well-known files (Noto CJK, WenQuanYi, Droid Sans Fallback on Linux;
   PingFang, Hiragino, STHeiti on macOS; Microsoft YaHei, SimHei on Windows), else the first
   font fontconfig lists for Chinese (``fc-list :lang=zh``);
3. none: the built-in font, and one warning naming the ``zh`` extra.

Fonts are loaded when first needed and kept per (file, size); the search runs once per
process.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from PIL import ImageFont

__all__ = ["Font", "cjk_font_file", "find_cjk_font", "tag_font"]

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

PACKAGED_FONT = ("mplfonts", "fonts", "NotoSansCJKsc-Regular.otf")
SYSTEM_FONTS = tuple(
    Path(path)
    for path in (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian, Ubuntu
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
        "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "/System/Library/Fonts/PingFang.ttc",
        "/System/Library/Fonts/Hiragino Sans GB.ttc",
        "/System/Library/Fonts/STHeiti Light.ttc",
        "C:/Windows/Fonts/msyh.ttc",
        "C:/Windows/Fonts/simhei.ttf",
    )
)
_FONTCONFIG_TIMEOUT_S = 5.0
_LOG = logging.getLogger(__name__)


def tag_font(text: str, size: int) -> Font:
    """A font with glyphs for ``text`` at ``size`` pixels: Pillow's built-in font for ASCII,
    the CJK font of :func:`cjk_font_file` for anything else (the built-in one if none).

    Example:
        >>> tag_font("red car 0.91", 14).getname()
        ('Aileron', 'Regular')
        >>> tag_font("红色的汽车 0.91", 14).getname()  # doctest: +SKIP
        ('Noto Sans CJK SC', 'Regular')
    """
    if text.isascii():
        return _default_font(size)
    path = cjk_font_file()
    return _default_font(size) if path is None else _font_file(str(path), size)


@functools.cache
def cjk_font_file() -> Path | None:
    """The CJK font overlays use (see the module docstring), found once per process; None,
    with one warning, when there is none.

    Example:
        >>> cjk_font_file()  # doctest: +SKIP
        PosixPath('.../site-packages/mplfonts/fonts/NotoSansCJKsc-Regular.otf')
    """
    found = find_cjk_font(_packaged_font(), SYSTEM_FONTS, fontconfig=True)
    if found is not None:
        try:
            _font_file(str(found), 12)
        except OSError as error:  # a damaged or unsupported file: as good as none
            _LOG.warning("cannot read the font %s (%s)", found, error)
            found = None
    if found is None:
        _LOG.warning(
            "no font with Chinese glyphs found: overlay tags that are not ASCII will show "
            "empty boxes; pip install 'sam3lib[zh]' (Noto Sans CJK) or a system CJK font"
        )
    return found


def find_cjk_font(
    packaged: Path | None, system_fonts: Iterable[Path], *, fontconfig: bool
) -> Path | None:
    """The first of ``packaged``, the existing ``system_fonts`` and (with ``fontconfig``)
    fontconfig's first font for Chinese.

    Example:
        >>> find_cjk_font(None, [Path("/no/such/font.ttc")], fontconfig=False) is None
        True
    """
    if packaged is not None and packaged.is_file():
        return packaged
    for path in system_fonts:
        if path.is_file():
            return path
    return _fontconfig_font() if fontconfig else None


def _packaged_font() -> Path | None:
    # find_spec locates the package without importing it (mplfonts imports matplotlib).
    spec = importlib.util.find_spec(PACKAGED_FONT[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *PACKAGED_FONT[1:])


def _fontconfig_font() -> Path | None:
    command = shutil.which("fc-list")
    if command is None:
        return None
    try:
        listed = subprocess.run(
            [command, "-f", "%{file}\n", ":lang=zh"],
            capture_output=True,
            text=True,
            timeout=_FONTCONFIG_TIMEOUT_S,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(Path(line) for line in listed.splitlines() if line.strip())
    return next((path for path in files if path.is_file()), None)


@functools.cache
def _font_file(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@functools.cache
def _default_font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()
