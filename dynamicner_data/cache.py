"""The prepared cache: which source files a build read, and the names ``load_dataset`` finds it by.

:func:`dynamicner_data.builder.prepare` records, beside each build in the ``datasets`` cache, the
resolved source files it read (GEIC files, taxonomy, ``.7z`` archive) with their size, mtime and
SHA-256 (:func:`fingerprint`, written to ``dynamicner_sources.json``). The next ``prepare`` of the
same config compares the files on disk with that record (:func:`stale_reason`) and rebuilds in
place when one changed, was added or disappeared; an unchanged size and mtime count as unchanged,
a changed mtime with the same SHA-256 too (a ``touch`` does not rebuild).

``datasets.load_dataset("dynamicner", CONFIG, data_files=...)`` finds a prepared build through
``datasets``' cache fallback, which names the build folder after a hash of the ``data_files`` /
``data_dir`` value *exactly as spelled* (``"a.json"`` and ``["a.json"]``, ``"a.json"`` and
``"./a.json"``, a relative and an absolute path, give different names). The build itself is named
after the normalised sources (:func:`config_id`: absolute paths, lists), so every spelling of the
same files prepares and reuses one build; :func:`config_id_aliases` lists the spellings users
write (every file as written, relative, ``./``-relative or absolute; each split as a string or a
list) and :func:`link_aliases` links each of those names to the one build.

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
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from dynamicner_data.atomic import atomic_write_text

__all__ = ["RECORD_NAME", "config_id", "config_id_aliases", "content_digest", "fingerprint", "link_aliases", "normalised_sources",
           "read_record", "stale_reason", "write_record"]

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


def content_digest(build_dir: str | os.PathLike) -> Optional[str]:
    """SHA-256 of the content of the source files recorded beside a build: each file's SHA-256
    with its path relative to the files' common folder (so the same files moved elsewhere have
    the same digest, and swapping two files' contents does not). ``None`` when the build read no
    local file (the embedded sample, which :func:`dynamicner_data.builder.builder_hash` covers)
    or has no record.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("train.json", "test.json"):
    ...     _ = (folder / name).write_text(name)
    >>> _ = write_record(folder, fingerprint([folder / "train.json", folder / "test.json"]))
    >>> before = content_digest(folder)
    >>> _ = (folder / "train.json").write_text("test.json")
    >>> _ = (folder / "test.json").write_text("train.json")
    >>> _ = write_record(folder, fingerprint([folder / "train.json", folder / "test.json"]))
    >>> content_digest(folder) == before
    False
    """
    record = read_record(build_dir)
    files = (record or {}).get("files") or []
    if not files:
        return None
    paths = [entry["path"] for entry in files]
    root = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0])
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda entry: entry["path"]):
        digest.update(f"{os.path.relpath(entry['path'], root)}\0{entry['sha256']}\n".encode("utf-8"))
    return digest.hexdigest()


def write_record(build_dir: str | os.PathLike, record: Mapping) -> Path:
    return atomic_write_text(Path(build_dir) / RECORD_NAME, json.dumps(record, indent=1) + "\n")


def _styles(path: str) -> dict[str, str]:
    """``path`` as written, relative to the working directory, ``./``-relative and absolute."""
    if "://" in path:
        return {"given": path}
    absolute = os.path.abspath(os.path.expanduser(path))
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive (Windows): no relative spelling
        relative = absolute
    dotted = relative if relative.startswith(os.pardir) else os.curdir + os.sep + relative
    return {"given": path, "relative": relative, "dotted": dotted, "absolute": absolute}


STYLES = ("given", "relative", "dotted", "absolute")


def _as_lists(data_files: Mapping[str, Sequence[str] | str] | Sequence[str] | str) -> dict[str, list[str]]:
    """``data_files`` as ``{split: [path, ...]}`` (a bare string or list is the ``train`` split, as in
    ``datasets``)."""
    if isinstance(data_files, (str, os.PathLike)):
        return {"train": [os.fspath(data_files)]}
    if not isinstance(data_files, Mapping):
        return {"train": [os.fspath(p) for p in data_files]}
    return {split: [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
            for split, paths in data_files.items()}


def normalised_sources(*, data_files=None, data_dir: Optional[str] = None) -> dict:
    """The sources as one spelling: absolute paths, each split a list (the config id of a build).

    >>> import os
    >>> normalised_sources(data_files={"test": "t.json"}) == {"data_files": {"test": [os.path.abspath("t.json")]}}
    True
    >>> normalised_sources(data_dir="./release/") == {"data_dir": os.path.abspath("release")}
    True
    """
    if data_files:
        return {"data_files": {split: [_styles(p)["absolute" if "://" not in p else "given"] for p in paths]
                               for split, paths in _as_lists(data_files).items()}}
    if data_dir:
        return {"data_dir": _styles(str(data_dir))["absolute" if "://" not in str(data_dir) else "given"]}
    return {}


def _data_files_variants(data_files) -> list:
    """The spellings of one ``data_files`` value that ``load_dataset`` users write: every file in
    one style (as written, relative, ``./``-relative, absolute), each split as a list or, when it
    holds one file, as a string; a lone ``train`` split also bare (``data_files="f.json"``). The
    key order does not matter (``datasets`` hashes a dict's keys sorted)."""
    items = list(_as_lists(data_files).items())
    variants: list = []
    for style in STYLES:
        spelled = [(split, [_styles(p).get(style, p) for p in paths]) for split, paths in items]
        choices = [[(split, paths)] + ([(split, paths[0])] if len(paths) == 1 else []) for split, paths in spelled]
        for combination in itertools.product(*choices):
            variants.append(dict(combination))
        if [split for split, _ in spelled] == ["train"]:  # bare: data_files="f.json" or ["f.json"]
            paths = spelled[0][1]
            variants += [paths, paths[0]] if len(paths) == 1 else [paths]
    return variants


def config_id(config_name: str, *, data_files=None, data_dir: Optional[str] = None) -> str:
    """The config id of the one build of these sources: that of their :func:`normalised_sources`,
    so every spelling of the same files prepares (and reuses) the same build.

    >>> config_id("en") == "en" and config_id("en", data_dir="d") == config_id("en", data_dir="./d/")
    True
    """
    import datasets

    kwargs = normalised_sources(data_files=data_files, data_dir=data_dir)
    return datasets.BuilderConfig(name=config_name).create_config_id(config_kwargs=kwargs) if kwargs else config_name


def config_id_aliases(config_name: str, *, data_files=None, data_dir: Optional[str] = None) -> list[str]:
    """The config ids ``datasets``' cache fallback computes for the spellings of these sources,
    :func:`config_id` first.

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
        kwargs_variants += [{"data_dir": spelled} for spelled in _styles(str(data_dir)).values()]
    else:
        return [config_name]
    ids = [datasets.BuilderConfig(name=config_name).create_config_id(config_kwargs=kwargs) for kwargs in kwargs_variants]
    return list(dict.fromkeys([config_id(config_name, data_files=data_files, data_dir=data_dir), *ids]))


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
