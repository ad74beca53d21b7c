""".7z archives (the release's format): extract whole or not at all, keyed on the archive's content.

``datasets``' own extraction keys its output folder on the archive's *path* and reuses any
non-empty folder there: a corrupt or truncated archive leaves a partial extraction that a later,
good archive at the same path silently reuses. :func:`extract_7z` instead

- names the folder after the archive's SHA-256, so a replaced archive is extracted again, and
  an unchanged one (any path, any copy) is extracted once;
- extracts into a temporary sibling and renames it into place only when every member was
  written and passed its CRC check; on any error the temporary folder is removed;
- turns py7zr's errors (``Bad7zFile``, ``CrcError``, LZMA "Corrupt input data", ...) into an
  :class:`ArchiveError` naming the archive. Disk errors (``OSError``) pass through unchanged.

Example:
    >>> import tempfile, pathlib, py7zr
    >>> work = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (work / "a.txt").write_text("hello")
    >>> with py7zr.SevenZipFile(work / "x.7z", "w") as z:
    ...     z.write(work / "a.txt", "en/a.txt")
    >>> folder = extract_7z(work / "x.7z", work / "cache")
    >>> (folder / "en" / "a.txt").read_text(), folder.name.startswith("dynamicner-7z-")
    ('hello', True)
    >>> _ = (work / "bad.7z").write_bytes((work / "x.7z").read_bytes()[:40])
    >>> extract_7z(work / "bad.7z", work / "cache")
    Traceback (most recent call last):
    ...
    dynamicner_data.archive.ArchiveError: ...bad.7z: corrupt or truncated .7z archive (Bad7zFile: ...); nothing was extracted
    >>> sorted(p.name for p in (work / "cache").iterdir()) == [folder.name]
    True
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["ArchiveError", "archive_digest", "extract_7z", "is_7z"]

_MAGIC = b"7z\xbc\xaf\x27\x1c"


class ArchiveError(ValueError):
    """A corrupt, truncated or unreadable archive; the message names it."""


def is_7z(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file that starts with the 7z signature (or is named ``*.7z``)."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix.lower() == ".7z":
        return True
    with open(path, "rb") as handle:
        return handle.read(len(_MAGIC)) == _MAGIC


def archive_digest(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_7z(archive: str | os.PathLike, cache_root: str | os.PathLike) -> Path:
    """Extract ``archive`` under ``cache_root`` (once per content) and return the folder.

    The folder appears complete or not at all; see the module docstring.
    """
    import py7zr

    archive = Path(archive)
    root = Path(cache_root)
    try:
        digest = archive_digest(archive)
    except FileNotFoundError:
        raise FileNotFoundError(f"archive {archive} does not exist") from None
    target = root / f"dynamicner-7z-{digest[:32]}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=root))
    try:
        try:
            with py7zr.SevenZipFile(archive, mode="r") as seven:
                seven.extractall(path=partial)
        except OSError:
            raise  # a full or read-only disk: not the archive's fault
        except Exception as error:  # py7zr raises Bad7zFile, CrcError, LZMAError, EOFError, ...
            raise ArchiveError(
                f"{archive}: corrupt or truncated .7z archive ({type(error).__name__}: {error}); nothing was extracted"
            ) from error
        try:
            os.replace(partial, target)
        except OSError:
            if not target.is_dir():  # another process may have finished the same archive first
                raise
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return target
