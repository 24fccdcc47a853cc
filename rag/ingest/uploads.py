"""Saving a user's uploaded article under the sources folder, safely: the name is reduced to a
plain file name (no folders, no traversal, no hidden files), the type and size are checked, an
existing file is replaced only when asked, a symlink is never followed, and the write is atomic.
Raises ValueError with the reason and the fix; knows nothing of the web framework."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

UPLOAD_TYPES = (".md", ".txt", ".html", ".htm", ".pdf")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_name(filename: str) -> str:
    """A plain file name from whatever the browser sent ('../../x.md' -> 'x.md', 'C:\\a\\b.md' -> 'b.md')."""
    base = re.split(r"[\\/]", filename)[-1]
    base = unicodedata.normalize("NFC", base).replace("\x00", "")
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = stem.lstrip(".-_ ")[:MAX_NAME_CHARS] or "article"
    return f"{stem}.{ext.lower()}" if ext else stem


def save_upload(folder: Path, filename: str, data: bytes, *, overwrite: bool = False) -> Path:
    """Write `data` as `folder/safe_name(filename)` and return that path.

    Raises:
        ValueError: wrong type, too large, empty, an existing file without `overwrite`, or a name
            that would land outside `folder`.
    """
    name = safe_name(filename)
    if not name.lower().endswith(UPLOAD_TYPES):
        raise ValueError(f"{filename!r}: only {', '.join(UPLOAD_TYPES)} files can be added")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"{filename!r} is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB per file"
        )
    if not data.strip():
        raise ValueError(f"{filename!r} is empty")
    folder = folder.resolve()
    target = folder / name
    if target.parent != folder:
        raise ValueError(f"{filename!r} would be saved outside the sources folder")
    if target.is_symlink():
        raise ValueError(f"{name} is a symbolic link in the sources folder; it is never written through")
    if target.exists() and not overwrite:
        raise ValueError(f"{name} already exists; tick 'replace existing files' to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
