"""The prepared cache: which source files a build read, and the names ``load_dataset`` finds it by.

:func:`dynamicner_data.builder.prepare` records, beside each build in the ``datasets`` cache, the
resolved source files it read (GEIC files, taxonomy, ``.7z`` archive) with their size, mtime and
SHA-256 (:func:`fingerprint`, written to ``dynamicner_sources.json``). The next ``prepare`` of the
same config compares the files on disk with that record (:func:`stale_reason`) and rebuilds in
place when one changed, was added or disappeared; an unchanged size and mtime count as unchanged,
a changed mtime with the same SHA-256 too (a ``touch`` does not rebuild).

``datasets.load_dataset("dynamicner", CONFIG, data_files=...)`` finds a prepared build through
``datasets``' cache fallback, which names the build folder after a hash of the ``data_files`` /
``data_dir`` value *exactly as spelled* (``"a.json"`` and ``["a.json"]``, a relative and an
absolute path, give different names). :func:`config_id_aliases` lists the spellings of the same
sources (relative or absolute paths, one file as a string or a list, keys in the given or sorted
order) and :func:`link_aliases` links each name to the one build.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> source = folder / "test.json"
    >>> _ = source.write_text("{}")
    >>> record = fingerprint([source])
    >>> stale_reason(record, [source]) is None
    True
    >>> _ = source.write_text('{"s1": {}}')
    >>> stale_reason(record, [source]).endswith("test.json changed since the cached build (size 2 -> 10 bytes)")
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from dynamicner_data.atomic import atomic_write_text

__all__ = ["RECORD_NAME", "config_id_aliases", "fingerprint", "link_aliases", "read_record", "stale_reason",
           "write_record"]

RECORD_NAME = "dynamicner_sources.json"
_FORMAT = 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(paths: Iterable[str | os.PathLike]) -> dict:
    """``{"format": 1, "files": [{"path", "size", "mtime_ns", "sha256"}, ...]}`` of local files,
    by absolute path (sorted; duplicates once)."""
    files = []
    for path in sorted({os.path.abspath(p) for p in paths}):
        stat = os.stat(path)
        files.append({"path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": _sha256(Path(path))})
    return {"format": _FORMAT, "files": files}


def stale_reason(record: Optional[Mapping], paths: Iterable[str | os.PathLike]) -> Optional[str]:
    """Why a build recorded as ``record`` no longer matches the files ``paths``; ``None`` if it does."""
    if not record or record.get("format") != _FORMAT:
        return "the cached build has no record of its source files"
    recorded = {entry["path"]: entry for entry in record.get("files", [])}
    current = sorted({os.path.abspath(p) for p in paths})
    for path in current:
        entry = recorded.get(path)
        if entry is None:
            return f"{path} was not a source of the cached build"
        try:
            stat = os.stat(path)
        except OSError:
            return f"{path} cannot be read any more"
        if stat.st_size != entry["size"]:
            return f"{path} changed since the cached build (size {entry['size']} -> {stat.st_size} bytes)"
        if stat.st_mtime_ns != entry["mtime_ns"] and _sha256(Path(path)) != entry["sha256"]:
            return f"{path} changed since the cached build (same size, new content)"
    gone = sorted(set(recorded) - set(current))
    if gone:
        return f"{gone[0]} was a source of the cached build and is not any more"
    return None


def read_record(build_dir: str | os.PathLike) -> Optional[dict]:
    """The record beside a build, ``None`` when absent or unreadable."""
    try:
        return json.loads((Path(build_dir) / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_record(build_dir: str | os.PathLike, record: Mapping) -> Path:
    return atomic_write_text(Path(build_dir) / RECORD_NAME, json.dumps(record, indent=1) + "\n")


def _spellings(path: str) -> list[str]:
    out = [path]
    if "://" not in path:
        out.append(os.path.abspath(os.path.expanduser(path)))
    return list(dict.fromkeys(out))


def _data_files_variants(data_files: Mapping[str, Sequence[str] | str]) -> list[dict]:
    """The spellings of one ``data_files`` value that ``load_dataset`` users write."""
    items = [(split, [paths] if isinstance(paths, str) else list(paths)) for split, paths in data_files.items()]
    variants = []
    for absolute in (False, True):
        spelled = [(split, [_spellings(str(p))[-1 if absolute else 0] for p in paths]) for split, paths in items]
        for order in (spelled, sorted(spelled)):
            variants.append({split: list(paths) for split, paths in order})
            variants.append({split: paths[0] if len(paths) == 1 else list(paths) for split, paths in order})
    return variants


def config_id_aliases(
    config_name: str, *, data_files: Optional[Mapping] = None, data_dir: Optional[str] = None
) -> list[str]:
    """The config ids ``datasets``' cache fallback computes for the spellings of these sources.

    >>> ids = config_id_aliases("en", data_files={"test": ["t.json"]})
    >>> len(ids) == len(set(ids)) >= 2 and all(i.startswith("en-") for i in ids)
    True
    >>> config_id_aliases("en")
    ['en']
    """
    import datasets

    kwargs_variants: list[dict] = []
    if data_files:
        kwargs_variants += [{"data_files": variant} for variant in _data_files_variants(data_files)]
    elif data_dir:
        kwargs_variants += [{"data_dir": spelled} for spelled in _spellings(str(data_dir))]
    else:
        return [config_name]
    ids = [datasets.BuilderConfig(name=config_name).create_config_id(config_kwargs=kwargs) for kwargs in kwargs_variants]
    return list(dict.fromkeys(ids))


def link_aliases(build_dir: str | os.PathLike, aliases: Iterable[str]) -> list[str]:
    """Make ``<dataset cache>/<alias>`` a symbolic link to the config folder of ``build_dir``
    (``<dataset cache>/<config id>/<version>/<hash>``) for every other alias; returns those linked.

    A real folder under an alias name is an older build of the same sources: it is replaced.
    """
    config_dir = Path(build_dir).parent.parent
    real = config_dir.resolve()
    root = config_dir.parent
    linked = []
    for alias in aliases:
        link = root / alias
        if link.resolve() == real:
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        temporary = root / f".{alias}.link-{os.getpid()}"
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        os.symlink(real.name if real.parent == root.resolve() else str(real), temporary, target_is_directory=True)
        os.replace(temporary, link)
        linked.append(alias)
    return linked
