"""Outputs that appear whole or not at all: write to a temporary sibling, rename on success.

Every file or folder this project writes for a user (models, prediction meta files, results JSON,
cards, exported datasets) goes through :func:`atomic_path` (or the two ``atomic_write_*``
shortcuts); outputs that must describe one run together (the main job's predictions, results,
card and plot) go through :func:`atomic_paths`, which replaces them as a set. A process that is killed, or a disk that fills up, half-way leaves the previous
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
from typing import Iterator, Mapping, Sequence

__all__ = ["atomic_path", "atomic_paths", "atomic_write_bytes", "atomic_write_text", "partial_name"]


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


@contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike], *,
                 staged: Mapping[str | os.PathLike, str | os.PathLike] | None = None) -> Iterator[list[Path]]:
    """:func:`atomic_path` for a set of outputs that belong together (a run's predictions, results,
    card and models): yield one temporary sibling per path to write; only when the block ends and
    every one was written does each replace its path, all in one final step of renames; on any
    error before or during that step every path keeps its previous content (or stays absent).

    ``staged`` maps some of ``paths`` to a file or folder already written elsewhere on the same
    disk (a model trained before the rest): that is what replaces the path, and the yielded entry
    is it; on an error it stays where it was.

    The renames write no data, so a full disk cannot stop them half-way; a process killed in the
    instant between two of them can leave some paths replaced and others not.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_paths([folder / "a.json", folder / "b.json"]) as (a, b):
    ...     _ = a.write_text("1")
    ...     _ = b.write_text("1")
    >>> try:
    ...     with atomic_paths([folder / "a.json", folder / "b.json"]) as (a, b):
    ...         _ = a.write_text("2")
    ...         raise OSError(28, "No space left on device")
    ... except OSError:
    ...     pass
    >>> [(p.name, p.read_text()) for p in sorted(folder.iterdir())]
    [('a.json', '1'), ('b.json', '1')]
    """
    targets = [Path(path) for path in paths]
    ready = {Path(target): Path(source) for target, source in (staged or {}).items()}
    partials = [ready.get(target, partial_name(target)) for target in targets]
    asides = [target.with_name(f".{target.name}.old-{os.getpid()}") for target in targets]
    for target, partial in zip(targets, partials):
        if target not in ready:
            _remove(partial)
    moved: list[int] = []  # targets moved aside
    placed: list[int] = []  # new contents renamed into place
    try:
        yield partials
        for target, partial in zip(targets, partials):
            if not partial.exists():
                raise FileNotFoundError(f"nothing was written to {partial} for {target}")
            if partial.is_file():
                _fsync_file(partial)
            _check_kind(target, partial)
        for index, (target, partial, aside) in enumerate(zip(targets, partials, asides)):
            if target.exists() or target.is_symlink():
                _remove(aside)
                os.replace(target, aside)
                moved.append(index)
            os.replace(partial, target)
            placed.append(index)
    except BaseException:
        for index in reversed(placed):  # put the earlier set back
            if targets[index] in ready:
                os.replace(targets[index], partials[index])
            else:
                _remove(targets[index])
        for index in moved:
            os.replace(asides[index], targets[index])
        for target, partial in zip(targets, partials):
            if target not in ready:
                _remove(partial)
        raise
    for index in moved:
        _remove(asides[index])


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target) as partial:
        partial.write_bytes(data)
    return target


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))
