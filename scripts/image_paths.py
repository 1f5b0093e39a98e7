"""What `mnist-predict PATH...` names: files, folders (recursively), shell globs and `-` for stdin.

    image_sources(["scans/", "extra/*.png", "-"], stdin)  # [ImageSource, ...] in the order given
    source.read()                                          # its bytes, or UnreadableImage

A folder contributes its files whose suffix is an accepted image type, sorted; a glob its
matches, sorted; a file named explicitly is taken whatever its suffix, and even when it does
not exist, so a wrong or missing file gets an error line of its own rather than stopping the
run. A glob that matches nothing is a usage error.

Everything is bounded before it is read or listed:
- a file is read only if it is a regular file of at most `max_bytes` (its size is checked
  first, so a 1 GB sparse file costs nothing); a FIFO, a device or a socket is refused
  without being opened for reading; stdin is read up to `max_bytes` and no further;
- at most `max_files` images in all, counted while folders and globs are listed;
- folders and `**` never descend through a symbolic link to a folder (pathlib's rule), so a
  link loop cannot make a listing endless.
"""

import glob
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..data.preprocess import FORMATS
from .cli import plural

STDIN = "-"
STDIN_NAME = "<stdin>"
# The service's own default limit on a request body (MAX_CONTENT_LENGTH): an image the
# service would refuse to receive is refused here too.
MAX_BYTES = 16 * 2**20
MAX_FILES = 100_000
NOT_REGULAR = {
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
    stat.S_ISDIR: "a folder",
}


class NoSuchPath(ValueError):
    """A glob that matches nothing."""


class TooManyFiles(ValueError):
    """The PATH arguments name more images than the limit."""


class UnreadableImage(Exception):
    """An image whose bytes cannot be had: `code` and the message go into its error record."""

    code = "unreadable_file"


class FileTooLarge(UnreadableImage):
    code = "file_too_large"


@dataclass(frozen=True)
class ImageSource:
    """One image to classify: its name in the output, where its bytes come from, and how many
    may be read."""

    name: str
    max_bytes: int = MAX_BYTES
    data: bytes | None = None  # stdin's, read up to max_bytes + 1; files are read by whoever classifies them

    def read(self):
        if self.data is None:
            return read_file(self.name, self.max_bytes)
        if len(self.data) > self.max_bytes:
            raise FileTooLarge(f"stdin holds more than --max-bytes {_bytes(self.max_bytes)}")
        return self.data


def read_file(name, max_bytes):
    """The bytes of the regular file `name` if it holds at most `max_bytes`; UnreadableImage
    otherwise, found out before anything is read."""
    try:
        _check_regular(os.stat(name), max_bytes)
        # O_NONBLOCK: a FIFO put in the file's place since the stat cannot block the open
        with os.fdopen(os.open(name, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            _check_regular(os.fstat(file.fileno()), max_bytes)
            data = file.read(max_bytes + 1)  # a file still growing is cut at the bound
    except OSError as exc:
        raise UnreadableImage(f"cannot read the file ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise FileTooLarge(f"the file grew past --max-bytes {_bytes(max_bytes)} while it was read")
    return data


def _check_regular(info, max_bytes):
    for is_kind, kind in NOT_REGULAR.items():
        if is_kind(info.st_mode):
            raise UnreadableImage(f"is {kind}, not a regular file; it is not read")
    if info.st_size > max_bytes:
        raise FileTooLarge(f"the file holds {_bytes(info.st_size)}, over --max-bytes {_bytes(max_bytes)}")


def _bytes(count):
    """'16 MiB (16,777,216 bytes)': human units, with the exact count for the cases at the edge."""
    value, unit = count, "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{count:,} bytes" if unit == "bytes" else f"{value:.3g} {unit} ({count:,} bytes)"


def accepted_suffixes():
    """The file suffixes Pillow uses for the formats preprocessing accepts (.png, .jpg, .jpeg ...)."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in FORMATS)


def image_sources(arguments, stdin=None, max_bytes=MAX_BYTES, max_files=MAX_FILES):
    """[ImageSource, ...] for the PATH arguments; NoSuchPath for a glob that matches nothing,
    TooManyFiles past `max_files` images in all."""
    suffixes = accepted_suffixes()
    sources = []
    for argument in arguments:
        room = max_files - len(sources)
        try:
            if argument == STDIN:
                names, data = _at_most([STDIN_NAME], room), stdin.read(max_bytes + 1)
            else:
                names, data = _files(argument, suffixes, room), None
        except _Overflow:
            raise TooManyFiles(
                f"{argument}: more than {plural(max_files, 'image')} in all; name fewer or raise --max-files"
            ) from None
        sources.extend(ImageSource(name, max_bytes, data) for name in names)
    return sources


class _Overflow(Exception):
    """More paths than there is room for."""


def _at_most(paths, room):
    """The paths as sorted strings, or _Overflow as soon as there are more than `room`."""
    found = []
    for path in paths:
        if len(found) == room:
            raise _Overflow
        found.append(str(path))
    return sorted(found)


def _files(argument, suffixes, room):
    if os.path.isdir(argument):
        return _folder_images(argument, suffixes, room)
    if os.path.lexists(argument) or not glob.has_magic(argument):
        return _at_most([argument], room)  # read later: a missing file gets its own error line
    return _glob_matches(argument, suffixes, room)


def _folder_images(folder, suffixes, room):
    """The image files under `folder`, sorted; rglob never enters a symbolic link to a folder."""
    return _at_most((p for p in Path(folder).rglob("*") if _is_image_file(p, suffixes)), room)


def _is_image_file(path, suffixes):
    return path.suffix.lower() in suffixes and path.is_file()


def _glob_matches(pattern, suffixes, room):
    """The files `pattern` matches, then the images of the folders it matches, each sorted, each once.

    pathlib's `**`, unlike the glob module's, never descends through a symbolic link to a folder.
    """
    root, rest = _split_magic(pattern)
    # as the shell's and the glob module's: `*` and `**` skip names starting with a dot
    shown = rest.startswith(".") or "/." in rest
    try:
        matches = _at_most((p for p in root.glob(rest) if shown or not _is_hidden(p, root)), room)
    except ValueError as exc:  # a pattern pathlib refuses, such as one ending in "/"
        raise NoSuchPath(f"{pattern}: not a usable glob ({exc})") from None
    if not matches:
        raise NoSuchPath(f"{pattern}: no such file, folder or match")
    files = [m for m in matches if not os.path.isdir(m)]
    for folder in (m for m in matches if os.path.isdir(m)):
        files += _folder_images(folder, suffixes, room - len(files))
    return list(dict.fromkeys(files))  # `a/**` matches both a/ and a/b/


def _is_hidden(path, root):
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _split_magic(pattern):
    """(Path('scans/2024'), '**/*.png') for 'scans/2024/**/*.png': where to start, and the rest."""
    parts = Path(pattern).parts
    plain = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    return Path(*parts[:plain]), str(Path(*parts[plain:]))
