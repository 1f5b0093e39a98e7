"""What `mnist-predict PATH...` names: files, folders (recursively), shell globs and `-` for stdin.

    image_sources(["scans/", "extra/*.png", "-"])  # [ImageSource, ...] in the order given

A folder contributes its files whose suffix is an accepted image type, sorted; a glob its
matches, sorted; a file named explicitly is taken whatever its suffix, so a wrong file gets
an error line of its own rather than vanishing. A name that matches nothing is a usage error.
"""

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..data.preprocess import FORMATS

STDIN = "-"


class NoSuchPath(ValueError):
    """A PATH argument that names no file, folder or glob match."""


@dataclass(frozen=True)
class ImageSource:
    """One image to classify: its name in the output and where its bytes come from."""

    name: str
    data: bytes | None = None  # given for stdin; files are read by whoever classifies them

    def read(self):
        return Path(self.name).read_bytes() if self.data is None else self.data


def accepted_suffixes():
    """The file suffixes Pillow uses for the formats preprocessing accepts (.png, .jpg, .jpeg ...)."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in FORMATS)


def image_sources(arguments, stdin=None):
    """[ImageSource, ...] for the PATH arguments; NoSuchPath for one that names nothing."""
    suffixes = accepted_suffixes()
    sources = []
    for argument in arguments:
        if argument == STDIN:
            sources.append(ImageSource("<stdin>", stdin.read()))
        else:
            sources.extend(ImageSource(name) for name in _files(argument, suffixes))
    return sources


def _files(argument, suffixes):
    if os.path.isdir(argument):
        return sorted(str(p) for p in Path(argument).rglob("*") if _is_image_file(p, suffixes))
    if os.path.exists(argument):
        return [argument]
    if glob.has_magic(argument):
        matches = sorted(glob.glob(argument, recursive=True))
        files = [m for m in matches if not os.path.isdir(m)]
        folders = [m for m in matches if os.path.isdir(m)]
        found = files + [f for folder in folders for f in _files(folder, suffixes)]
        if found:
            return found
    raise NoSuchPath(f"{argument}: no such file, folder or match")


def _is_image_file(path, suffixes):
    return path.suffix.lower() in suffixes and path.is_file()
