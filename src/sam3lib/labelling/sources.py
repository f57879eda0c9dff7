"""Where the images of a labelling run come from, as a stream of numbered items.

A source is a directory (searched recursively for image files), a glob pattern, a text file
listing one path per line, one image file, or any Python iterable of paths and in-memory
images. Every source yields its items in a fixed order, and each item has a ``key`` that is
unique within the source and stable across runs: that is what a resumed run skips on.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from sam3lib.errors import InputError

__all__ = ["IMAGE_EXTENSIONS", "SourceItem", "SourceLike", "describe_source", "iter_source"]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)
LIST_EXTENSIONS = frozenset({".txt", ".lst", ".list"})
_GLOB_CHARACTERS = frozenset("*?[")

SourceLike: TypeAlias = str | os.PathLike[str] | Iterable[Any]


@dataclass(frozen=True)
class SourceItem:
    """One image of a source.

    Attributes:
        index: position in the source (0, 1, ...): the order of the final dataset.
        key: unique, stable name: the path relative to a source directory, the entry as
            written in a list file, the path as given otherwise, ``"image-000007"`` for an
            in-memory image.
        file_name: the name written to datasets (COCO ``file_name``): the key, or
            ``key + ".png"`` for an in-memory image.
        image: the path to read, or the in-memory image itself.
    """

    index: int
    key: str
    file_name: str
    image: Any

    @property
    def path(self) -> Path | None:
        """The file to read, or None for an in-memory image."""
        return self.image if isinstance(self.image, Path) else None


def iter_source(source: SourceLike, *, exclude: Path | None = None) -> Iterator[SourceItem]:
    """The items of ``source``, in its fixed order.

    Args:
        source: see the module docstring.
        exclude: a directory whose files are never items (the dataset being written, when it
            lies inside a source directory: else a second run would label its own outputs).

    Raises:
        InputError: the source does not exist, a glob matches nothing, or the source is of an
            unsupported type.

    Example:
        >>> [item.key for item in iter_source(["a.jpg", "b.jpg"])]
        ['a.jpg', 'b.jpg']
    """
    if isinstance(source, (str, os.PathLike)):
        return _iter_named(_named_paths(source, exclude))
    if isinstance(source, (bytes, bytearray)):
        raise InputError("source: expected a path, a glob or an iterable of images, got bytes")
    if isinstance(source, Iterable):
        return _iter_objects(source)
    raise InputError(
        f"source: expected a directory, a glob, a list file, an image file or an iterable of "
        f"paths/images; got {type(source).__name__}"
    )


def describe_source(source: SourceLike) -> str:
    """A short description of the source for the run manifest (a path, or what kind)."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        return os.path.abspath(text) if _is_glob(text) else str(Path(text).resolve())
    return f"<{type(source).__name__}>"


def _is_glob(text: str) -> bool:
    return any(character in _GLOB_CHARACTERS for character in text)


def _named_paths(
    source: str | os.PathLike[str], exclude: Path | None = None
) -> Iterator[tuple[str, Path]]:
    """(name, path) of each file of a path-like source: the name is the path relative to a
    source directory, the entry as written in a list file, the path as matched by a glob."""
    text = os.fspath(source)
    if _is_glob(text):
        matches = sorted(glob.glob(text, recursive=True))
        files = [Path(match) for match in matches if Path(match).is_file()]
        if not files:
            raise InputError(f"source: the pattern {text!r} matches no file")
        return ((path.as_posix(), path) for path in files)
    path = Path(text)
    if path.is_dir():
        files = _image_files(path, exclude)
        return ((file.relative_to(path).as_posix(), file) for file in files)
    if not path.exists():
        raise InputError(f"source: no such file or directory: '{path}'")
    if path.suffix.lower() in LIST_EXTENSIONS:
        return _listed_paths(path)
    return iter([(path.as_posix(), path)])


def _image_files(directory: Path, exclude: Path | None) -> list[Path]:
    excluded = None if exclude is None else exclude.resolve()
    found: list[Path] = []
    for folder, subfolders, names in os.walk(directory):
        if excluded is not None:
            subfolders[:] = [s for s in subfolders if Path(folder, s).resolve() != excluded]
        found += [
            Path(folder, name)
            for name in names
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS and Path(folder, name).is_file()
        ]
    # Sorted by relative path: the same order on every file system and every run.
    return sorted(found, key=lambda path: path.relative_to(directory).as_posix())


def _listed_paths(list_file: Path) -> Iterator[tuple[str, Path]]:
    """Entries of a list file, one path per line; blank lines and ``#`` comments skipped;
    relative paths are relative to the list file's directory (so the list can move with the
    images)."""
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"source: could not read the list file '{list_file}' ({error})") from None
    for line in lines:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            name = os.path.normpath(entry).replace(os.sep, "/")  # ./a.jpg and a.jpg: one key
            path = Path(name)
            yield name, path if path.is_absolute() else list_file.parent / path


def _iter_named(named: Iterable[tuple[str, Path]]) -> Iterator[SourceItem]:
    seen: set[str] = set()
    for index, (key, path) in enumerate(named):
        if key in seen:
            raise InputError(f"source: '{key}' is listed twice; each image must appear once")
        seen.add(key)
        yield SourceItem(index=index, key=key, file_name=key, image=path)


def _iter_objects(objects: Iterable[Any]) -> Iterator[SourceItem]:
    seen: set[str] = set()
    for index, value in enumerate(objects):
        if isinstance(value, (str, os.PathLike)):
            path = Path(value)
            key = path.as_posix()
            item = SourceItem(index=index, key=key, file_name=key, image=path)
        else:  # an image in memory: named by its position
            key = f"image-{index:06d}"
            item = SourceItem(index=index, key=key, file_name=f"{key}.png", image=value)
        if item.key in seen:
            raise InputError(f"source: '{item.key}' is listed twice; each image must appear once")
        seen.add(item.key)
        yield item
