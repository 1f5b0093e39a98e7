"""Write a file so that readers, and a crash or a full disk, see the old bytes or the new, never half.

    write_atomically(path, data)

The bytes go to a temporary file in the same folder (a rename is atomic only within one file
system), are fsync'ed, then renamed over `path`; the folder is fsync'ed so the rename itself
survives a power cut. A failure at any step removes the temporary file and leaves `path` as it was.
"""

import os
import tempfile
from pathlib import Path


def write_atomically(path, data):
    """Replace `path` with `data` (bytes) atomically, creating its folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            # mkstemp's 0600 would hide the file from a server user: the umask decides, as for open()
            os.fchmod(tmp.fileno(), 0o666 & ~_umask())
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
