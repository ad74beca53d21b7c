"""Deterministic shards: which rows part ``I`` of ``N`` owns, and how its rows are cut into chunks.

**The rule.** Part ``I`` of ``N`` (``--shard I/N``, ``I`` counted from 0 like ``Dataset.shard``'s
``index``) owns the contiguous rows ``datasets.Dataset.shard(num_shards=N, index=I, contiguous=True)``
selects, for every kind of input (a DynamicNER config, a Hub or Parquet dataset, a GEIC or JSONL
file): with ``n`` rows, the first ``n % N`` parts hold ``n // N + 1`` rows and the others
``n // N``, in input order. The rows are those the run reads (after ``--limit``). With more parts
than rows, the last parts are empty, and still written (an empty file and its meta).

**The input's identity** is the digest of its ids in order (:func:`ids_digest`): every part
records it, so parts of different inputs (another file, another ``--limit``, reordered rows) are
never merged.

**Chunks.** A run predicts its rows chunk after chunk (``--chunk-size`` rows per method run,
committed to the output one by one). A backend whose answers depend on the other prompts of a
batch (local weights: padding changes a score's last digits) needs every row predicted in the
same chunk as an unsharded run: its chunks lie on the whole input's grid (chunk ``k`` = rows
``[k * size, (k + 1) * size)``), and a part whose first or last row falls inside a chunk predicts
that whole chunk and writes only its own rows. Such a chunk is counted (its usage and counts go to
the part's meta) by the part its first row belongs to, so the parts' counts add up to the
unsharded run's. A backend that answers each prompt alone (a server) starts its grid at the
part's first row and predicts nothing twice.

Example:
    >>> shard = Shard.parse("1/3")
    >>> shard, shard.bounds(8)
    (Shard(index=1, count=3), (3, 6))
    >>> [Shard(i, 3).bounds(8) for i in range(3)]
    [(0, 3), (3, 6), (6, 8)]
    >>> [(c.predict, c.write, c.counted) for c in plan_chunks(8, (3, 6), 4, aligned=True)]
    [((0, 4), (3, 4), False), ((4, 8), (4, 6), True)]
    >>> [(c.predict, c.write, c.counted) for c in plan_chunks(8, (3, 6), 4, aligned=False)]
    [((3, 6), (3, 6), True)]
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable

__all__ = ["Shard", "Chunk", "IdsDigest", "ids_digest", "plan_chunks", "pending_chunks"]


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` (``0 <= index < count``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a shard count must be >= 1, got {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: the index must be 0 to {self.count - 1} "
                             "(parts are numbered from 0, as Dataset.shard's index)")

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``"I/N"`` -> ``Shard(I, N)``; ``ValueError`` saying what is wrong otherwise.

        >>> Shard.parse("0/1")
        Shard(index=0, count=1)
        >>> Shard.parse("3/3")
        Traceback (most recent call last):
        ...
        ValueError: shard 3/3: the index must be 0 to 2 (parts are numbered from 0, as Dataset.shard's index)
        >>> Shard.parse("2")
        Traceback (most recent call last):
        ...
        ValueError: '2' is not a shard: write I/N, e.g. 0/4 for the first of 4 parts
        """
        index, slash, count = text.strip().partition("/")
        if not slash or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"{text!r} is not a shard: write I/N, e.g. 0/4 for the first of 4 parts")
        return cls(int(index), int(count))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def bounds(self, total: int) -> tuple[int, int]:
        """The rows ``[start, end)`` this part owns among ``total``: ``Dataset.shard``'s contiguous rule.

        >>> [Shard(i, 7).bounds(3) for i in range(7)]
        [(0, 1), (1, 2), (2, 3), (3, 3), (3, 3), (3, 3), (3, 3)]
        """
        size, extra = divmod(total, self.count)
        start = size * self.index + min(self.index, extra)
        return start, start + size + (1 if self.index < extra else 0)

    def to_dict(self, total: int, ids: Iterable[str]) -> dict[str, object]:
        """What a part's meta records of its shard: ``index``, ``count``, its rows ``start``/``end`` among
        the input's ``input_sentences``, and the digest of its own ids (``ids_sha256``)."""
        start, end = self.bounds(total)
        return {"index": self.index, "count": self.count, "start": start, "end": end, "input_sentences": total,
                "ids_sha256": ids_digest(ids)}


class IdsDigest:
    """:func:`ids_digest` one id at a time (``add``), read with ``value()``."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, value: str) -> None:
        self._hash.update(json.dumps(value, ensure_ascii=False).encode("utf-8") + b"\n")

    def value(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def ids_digest(ids: Iterable[str]) -> str:
    """``"sha256:<hex>"`` of the ids in order (each as a JSON string on its own line: no two
    different sequences give the same bytes).

    >>> ids_digest(["a", "b"]) == ids_digest(["a", "b"]) != ids_digest(["b", "a"])
    True
    >>> ids_digest([])
    'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    digest = IdsDigest()
    for value in ids:
        digest.add(value)
    return digest.value()


@dataclass(frozen=True)
class Chunk:
    """One method run of a part: it predicts the rows ``predict`` together, writes its own rows
    ``write`` (a part of them, in order), and records the run's counts when ``counted``."""

    predict: tuple[int, int]
    write: tuple[int, int]
    counted: bool


def plan_chunks(total: int, rows: tuple[int, int], size: int, *, aligned: bool) -> list[Chunk]:
    """The chunks that write ``rows`` (``[start, end)`` of ``total``), ``size`` rows per chunk
    (see the module doc: ``aligned`` puts them on the whole input's grid)."""
    start, end = rows
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    if not 0 <= start <= end <= total:
        raise ValueError(f"rows {rows} are not within the {total} rows of the input")
    chunks: list[Chunk] = []
    if start == end:  # an empty part writes nothing
        return chunks
    origin = 0 if aligned else start
    first = origin + (start - origin) // size * size
    for low in range(first, end, size):
        high = min(low + size, total if aligned else end)
        chunks.append(Chunk(predict=(low, high), write=(max(low, start), min(high, end)), counted=low >= start))
    return chunks


def pending_chunks(chunks: list[Chunk], written: int) -> list[Chunk]:
    """The chunks still to do when the first ``written`` rows of the part are in its output; a
    ``ValueError`` when ``written`` does not end a chunk (the output was cut elsewhere).

    >>> chunks = plan_chunks(10, (0, 10), 4, aligned=True)
    >>> [c.write for c in pending_chunks(chunks, 4)]
    [(4, 8), (8, 10)]
    >>> pending_chunks(chunks, 5)
    Traceback (most recent call last):
    ...
    ValueError: 5 rows written is not a whole number of chunks (they end after 4, 8, 10 rows)
    """
    if written == 0:
        return list(chunks)
    done = 0
    for position, chunk in enumerate(chunks):
        done += chunk.write[1] - chunk.write[0]
        if done == written:
            return chunks[position + 1:]
    ends, total = [], 0
    for chunk in chunks:
        total += chunk.write[1] - chunk.write[0]
        ends.append(str(total))
    raise ValueError(f"{written} rows written is not a whole number of chunks (they end after {', '.join(ends)} rows)")
