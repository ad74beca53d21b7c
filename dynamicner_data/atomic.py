"""Outputs that appear whole or not at all: write to a temporary sibling, rename on success.

Every file or folder this project writes for a user (models, prediction meta files, results JSON,
cards, exported datasets) goes through :func:`atomic_path` (or the two ``atomic_write_*``
shortcuts). A process that is killed, or a disk that fills up, half-way leaves the previous
output (or nothing) in place, never a torn one; the temporary sibling is removed on error.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_text(folder / "results.json", '{"f1": 0.5}').read_text()
    '{"f1": 0.5}'
    >>> with atomic_path(folder / "model") as partial:
    ...     partial.mkdir()
    ...     _ = (partial / "config.json").write_text("{}")
    >>> sorted(p.name for p in folder.iterdir())
    ['model', 'results.json']
"""

from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "partial_name"]


def partial_name(path: Path) -> Path:
    """The temporary sibling of ``path`` (same folder, so the final rename never crosses a disk)."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _check_kind(target: Path, partial: Path) -> None:
    """A file never replaces a folder, nor a folder a file: that is a wrong path, not an update."""
    if target.is_dir() and not target.is_symlink() and not partial.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; refusing to replace it with a file", str(target))
    if target.exists() and not target.is_dir() and partial.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file; refusing to replace it with a folder", str(target))


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write (a file, or a folder you create);
    on success it replaces ``path``; on any error it is removed and ``path`` is untouched.

    A folder that already exists at ``path`` is moved aside first and deleted after the rename;
    a file never replaces a folder (``IsADirectoryError``), nor a folder a file (``NotADirectoryError``).
    """
    target = Path(path)
    partial = partial_name(target)
    _remove(partial)
    try:
        yield partial
        if not partial.exists():
            raise FileNotFoundError(f"nothing was written to {partial} for {target}")
        if partial.is_file():
            _fsync_file(partial)
        _check_kind(target, partial)
        if target.is_dir() and not target.is_symlink():
            aside = target.with_name(f".{target.name}.old-{os.getpid()}")
            _remove(aside)
            os.replace(target, aside)
            try:
                os.replace(partial, target)
            except BaseException:
                os.replace(aside, target)
                raise
            _remove(aside)
        else:
            os.replace(partial, target)
    except BaseException:
        _remove(partial)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target) as partial:
        partial.write_bytes(data)
    return target


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))
