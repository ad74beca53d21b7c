"""The parts of a sharded run back into the file an unsharded run writes, or a refusal naming why.

``cascadener predict --shard I/N`` writes each part as a normal predictions file with its meta
(:mod:`cascadener.scale.shards`). :func:`check_parts` takes every part's meta and refuses, with a
:class:`MergeError` that names the part and the meta field, when

- a part is not a shard (no ``shard``), or is unfinished (``complete`` false);
- the parts are of different runs: another shard count (``shard.count``), another input
  (``source``: its revision, its ids in order ``source.ids_sha256``, ...), other options
  (``options``: every option that can change a prediction, the method and the backend's models),
  another chunk layout (``layout``), another policy applied by the backends (``applied``: e.g. a
  server's constraint adapter) or other model files (``models``, compared by content: the same
  files at another path are the same model);
- a shard is missing, or given twice.

:func:`merge_parts` then checks each part's file against its meta (size, lines, the digest of its
ids) and writes the concatenation of the parts in shard order, with the meta of an unsharded run:
its ``sentences`` and ``committed`` those of the whole input, its ``stats`` (counts and usage)
the sum of the parts' (each chunk is counted by one part, so the sum is the unsharded run's), and
``merged.parts`` naming the parts. Both files appear together or not at all.

Example:
    >>> meta = {"format": 2, "source": {"kind": "jsonl", "ids_sha256": "sha256:x"}, "options": {"seed": 0},
    ...         "layout": {"chunk_size": 4}, "models": {}, "complete": True, "sentences": 2,
    ...         "committed": {"sentences": 2, "bytes": 10}, "stats": {"sentences": 2}}
    >>> parts = [Part(f"p{i}.jsonl", {**meta, "shard": {"index": i, "count": 3, "start": 2 * i, "end": 2 * i + 2,
    ...                                                 "input_sentences": 6}}) for i in (0, 2)]
    >>> check_parts(parts)
    Traceback (most recent call last):
    ...
    cascadener.scale.merge.MergeError: shard 1/3 is missing (field shard.index): the parts given are 0/3 (p0.jsonl), 2/3 (p2.jsonl)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from cascadener.scale.shards import IdsDigest, Shard

__all__ = ["MergeError", "Part", "check_parts", "merge_parts", "merged_meta"]


class MergeError(ValueError):
    """The parts cannot be merged; the message names the part and the meta field."""


@dataclass(frozen=True)
class Part:
    """One part: its predictions file ``path`` and its meta (the JSON object written beside it)."""

    path: str | os.PathLike
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def shard(self) -> dict[str, Any]:
        return self.meta["shard"]

    def describe(self) -> str:
        """``"1/3 (preds-1.jsonl)"``."""
        return f"{self.shard['index']}/{self.shard['count']} ({self.name})"


# meta sections and keys that name a file as spelled on the machine that wrote the part: the same
# content at another path is the same input (compared through revision, sha256 and ids_sha256)
_SPELLED = {("source", "path"), ("source", "data_dir")}
# sections handled by the merge itself; any other top-level key is kept where the parts agree
_OWN = {"format", "source", "options", "layout", "applied", "resolved", "models", "committed", "stats", "sentences",
        "complete", "shard", "merged"}


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _check_part(part: Part) -> None:
    meta = part.meta
    shard = meta.get("shard")
    if not isinstance(shard, dict):
        raise MergeError(f"{part.name} is not a part of a sharded run: its meta has no field 'shard' (write the parts "
                         "with cascadener predict --shard I/N)")
    for key in ("index", "count", "start", "end", "input_sentences"):
        if not isinstance(shard.get(key), int) or isinstance(shard.get(key), bool):
            raise MergeError(f"{part.name}: its meta's field shard.{key} is not a whole number")
    try:
        expected = Shard(shard["index"], shard["count"]).bounds(shard["input_sentences"])
    except ValueError as error:
        raise MergeError(f"{part.name}: field shard: {error}") from None
    if (shard["start"], shard["end"]) != expected:
        raise MergeError(f"{part.name}: fields shard.start/shard.end are {shard['start']} and {shard['end']}, but "
                         f"shard {shard['index']}/{shard['count']} of {shard['input_sentences']} rows is rows "
                         f"{expected[0]} to {expected[1]}")
    if meta.get("complete") is not True:
        committed = (meta.get("committed") or {}).get("sentences")
        raise MergeError(f"{part.name} is unfinished: its meta records complete: {_value(meta.get('complete'))} "
                         f"(field complete; {committed} of {shard['end'] - shard['start']} sentences written); finish "
                         f"it with cascadener predict ... --shard {shard['index']}/{shard['count']} --resume")
    committed = meta.get("committed")
    if not isinstance(committed, dict) or committed.get("sentences") != shard["end"] - shard["start"]:
        raise MergeError(f"{part.name}: field committed.sentences is "
                         f"{_value((committed or {}).get('sentences'))}, but shard "
                         f"{shard['index']}/{shard['count']} holds {shard['end'] - shard['start']} rows")


def _differ(section: str, key: str, first: Part, other: Part) -> bool:
    def pick(part: Part) -> Any:
        value = (part.meta.get(section) or {}).get(key)
        resolved = (part.meta.get("resolved") or {}).get(f"{section}.{key}")
        return resolved if resolved is not None else value

    return _value(pick(first)) != _value(pick(other))


def _model_content(identity: Any) -> Any:
    """A model's identity without where it lies: a folder's files by content, a Hub id with its commit."""
    if isinstance(identity, dict) and "files" in identity:
        return {"files": identity["files"]}
    return identity


def _same_run(first: Part, other: Part) -> None:
    """Refuse ``other`` unless it is a part of the same run as ``first``, naming the first field that differs."""
    if first.shard["count"] != other.shard["count"]:
        raise MergeError(f"{other.name} is shard {other.shard['index']}/{other.shard['count']} and {first.name} shard "
                         f"{first.shard['index']}/{first.shard['count']} (field shard.count): the parts of one run "
                         "share their count")
    if first.meta.get("format") != other.meta.get("format"):
        raise MergeError(f"{other.name} and {first.name} were written by different versions of cascadener predict "
                         f"(field format: {_value(other.meta.get('format'))} and {_value(first.meta.get('format'))})")
    if first.shard["input_sentences"] != other.shard["input_sentences"]:
        raise MergeError(f"parts of different inputs: {other.name} has field shard.input_sentences "
                         f"{other.shard['input_sentences']}, {first.name} {first.shard['input_sentences']}")
    if _value(first.meta.get("applied")) != _value(other.meta.get("applied")):  # e.g. parts from different servers
        raise MergeError(f"parts of different stage-2 policies: {other.name} has field applied "
                         f"{_value(other.meta.get('applied'))}, {first.name} {_value(first.meta.get('applied'))}")
    own_models = set(first.meta.get("models") or {}) | set(other.meta.get("models") or {})
    for section, what in (("source", "inputs"), ("options", "options"), ("layout", "chunk layouts")):
        keys = dict.fromkeys([*(first.meta.get(section) or {}), *(other.meta.get(section) or {})])
        for key in keys:
            if (section, key) in _SPELLED or (section == "options" and key in own_models):
                continue  # compared by content (the source's digests, the models' files)
            if _differ(section, key, first, other):
                theirs = (other.meta.get(section) or {}).get(key)
                ours = (first.meta.get(section) or {}).get(key)
                raise MergeError(f"parts of different {what}: {other.name} has field {section}.{key} {_value(theirs)}, "
                                 f"{first.name} {_value(ours)}")
    for role in own_models:
        theirs = _model_content((other.meta.get("models") or {}).get(role))
        ours = _model_content((first.meta.get("models") or {}).get(role))
        if _value(theirs) != _value(ours):
            raise MergeError(f"parts of different models: {other.name}'s {role} (field models.{role}) is not "
                             f"{first.name}'s: {_value(theirs)} against {_value(ours)}")


def check_parts(parts: Sequence[Part]) -> list[Part]:
    """The parts in shard order, when they are every part of one finished run; a :class:`MergeError`
    naming the part and the field otherwise (see the module doc)."""
    if not parts:
        raise MergeError("give the parts to merge")
    for part in parts:
        _check_part(part)
    first = parts[0]
    for other in parts[1:]:
        _same_run(first, other)
    by_index: dict[int, Part] = {}
    for part in parts:
        index = part.shard["index"]
        if index in by_index:
            raise MergeError(f"shard {index}/{part.shard['count']} is given twice (field shard.index): "
                             f"{by_index[index].name} and {part.name}")
        by_index[index] = part
    count = first.shard["count"]
    ordered = [by_index[index] for index in sorted(by_index)]
    missing = [index for index in range(count) if index not in by_index]
    if missing:
        given = ", ".join(part.describe() for part in ordered)
        raise MergeError(f"shard {missing[0]}/{count} is missing (field shard.index): the parts given are {given}")
    return ordered


def _scan_part(part: Part, whole: IdsDigest, content) -> int:
    """Check the part's file against its meta (size, SHA-256, whole lines, the digest of its ids; each
    id also added to ``whole``, the ids of every part in order, and its bytes to ``content``, the
    merged file's SHA-256) without holding it in memory; its size."""
    own = IdsDigest()
    size = lines = 0
    digest = hashlib.sha256()
    try:
        with open(part.path, "rb") as handle:
            for line in handle:
                digest.update(line)
                content.update(line)
                size += len(line)
                lines += 1
                if not line.endswith(b"\n"):
                    raise MergeError(f"{part.name}, line {lines} is not a whole line (no newline at its end)")
                try:
                    row_id = str(json.loads(line)["id"])
                except (ValueError, KeyError, TypeError):
                    raise MergeError(f"{part.name}, line {lines} is not a prediction line") from None
                own.add(row_id)
                whole.add(row_id)
    except OSError as error:
        raise MergeError(f"cannot read {part.name}: {error.strerror or error}") from None
    recorded = part.meta["committed"].get("bytes")
    if size != recorded:
        raise MergeError(f"{part.name} holds {size} bytes where its meta records {_value(recorded)} (field "
                         "committed.bytes): was it changed after it was written?")
    recorded = part.meta["committed"].get("sha256")
    if recorded is not None and recorded != "sha256:" + digest.hexdigest():
        raise MergeError(f"{part.name}: its bytes are not those its meta records (field committed.sha256): was it "
                         "changed after it was written?")
    if own.value() != part.shard.get("ids_sha256"):
        raise MergeError(f"{part.name}: the ids of its {lines} lines are not those of shard "
                         f"{part.shard['index']}/{part.shard['count']} (field shard.ids_sha256): was it changed "
                         "after it was written?")
    return size


def _add_stats(total: dict[str, Any], stats: dict[str, Any]) -> None:
    for key, value in stats.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value


def merged_meta(parts: Sequence[Part], sizes: Sequence[int]) -> dict[str, Any]:
    """The meta of the merged file: an unsharded run's, from the parts (in shard order) and their sizes.

    Recorded keys the parts do not share (each part's server or executor) move to ``merged.parts``.
    """
    first = parts[0]
    meta = {key: value for key, value in first.meta.items() if key != "shard"}
    total = first.shard["input_sentences"]
    stats: dict[str, Any] = {}
    for part in parts:
        _add_stats(stats, part.meta.get("stats") or {})
    meta |= {"sentences": total, "committed": {"sentences": total, "bytes": sum(sizes)}, "stats": stats,
             "complete": True}
    shared = [key for key in meta if key not in _OWN and all(_value(p.meta.get(key)) == _value(meta[key]) for p in parts)]
    varying = [key for key in dict.fromkeys(k for p in parts for k in p.meta) if key not in _OWN and key not in shared]
    for key in varying:
        meta.pop(key, None)
    meta["merged"] = {"parts": [{"file": part.name, "shard": f"{part.shard['index']}/{part.shard['count']}",
                                 "rows": [part.shard["start"], part.shard["end"]], "bytes": size,
                                 **{key: part.meta[key] for key in varying if key in part.meta}}
                                for part, size in zip(parts, sizes)]}
    return meta


def merge_parts(parts: Sequence[Part], output: str | os.PathLike, meta_path: str | os.PathLike) -> dict[str, Any]:
    """Check ``parts`` (:func:`check_parts`, then each file against its meta), then write their
    concatenation to ``output`` and the merged meta to ``meta_path``, together or not at all
    (:func:`dynamicner_data.atomic.atomic_paths`). Returns the merged meta."""
    from dynamicner_data.atomic import atomic_paths

    ordered = check_parts(parts)
    whole, content = IdsDigest(), hashlib.sha256()
    sizes = [_scan_part(part, whole, content) for part in ordered]
    source_ids = (ordered[0].meta.get("source") or {}).get("ids_sha256")
    if source_ids is not None and whole.value() != source_ids:
        raise MergeError(f"the ids of the parts, in shard order, are not the input's (field source.ids_sha256 of "
                         f"{ordered[0].name})")
    meta = merged_meta(ordered, sizes)
    meta["committed"]["sha256"] = "sha256:" + content.hexdigest()
    with atomic_paths([output, meta_path]) as (partial_output, partial_meta):
        with open(partial_output, "wb") as handle:
            for part, size in zip(ordered, sizes):
                before = handle.tell()
                with open(part.path, "rb") as source:
                    shutil.copyfileobj(source, handle)
                if handle.tell() - before != size:
                    raise MergeError(f"{part.name} changed while it was merged (it holds {handle.tell() - before} "
                                     f"bytes, {size} when checked); merge again")
        Path(partial_meta).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return meta
