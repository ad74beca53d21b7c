"""Span records ``{text, label, start, end}`` -> checked entity columns.

``end`` is an exclusive character offset, so ``text == sentence[start:end]``. An entity that could
not be placed in its sentence has ``start == end == -1`` and is matched by text only. Extra keys
(the dataset's ``path``, the pipeline's ``score``) are ignored. Offsets may be any integer type
but ``bool`` (numpy's ``int64`` from tokenizer output included). Every defect raises ``ValueError``
naming the sample index and the field.

The checks run column-wise with C-level builtins (``map``, ``zip``, ``set``); only when one fails
does a per-record pass run to name the culprit.

Example:
    >>> cols = check_samples([[{"text": "Paris", "label": "city", "start": 7, "end": 12, "score": 0.9}], []],
    ...                      field="predictions")
    >>> cols.rows()
    [[(7, 12, 'city', 'Paris')], []]
    >>> check_samples([[{"text": "Paris", "label": None, "start": 7, "end": 12}]], field="predictions")
    Traceback (most recent call last):
    ...
    ValueError: sample 0: predictions[0][0]['label'] is None (NoneType); expected a non-empty string
"""

from __future__ import annotations

import functools
import itertools
import numbers
import operator
from dataclasses import dataclass
from typing import Mapping, Sequence

Span = tuple[int, int, str, str]
"""``(start, end, label, text)``; ``start == end == -1`` when unplaced."""

SPAN_KEYS: tuple[str, ...] = ("text", "label", "start", "end")
_GET = operator.itemgetter("start", "end", "label", "text")


@dataclass(frozen=True)
class Columns:
    """All entities of all samples as parallel columns; sample ``i`` holds ``lengths[i]`` of them, in order."""

    lengths: Sequence[int]
    starts: Sequence[int]
    ends: Sequence[int]
    labels: Sequence[object]
    texts: Sequence[str]

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def n_samples(self) -> int:
        return len(self.lengths)

    @functools.cached_property
    def ids(self) -> list[int]:
        """``ids[k]`` is the sample index of entity ``k``."""
        return list(itertools.chain.from_iterable(map(itertools.repeat, range(len(self.lengths)), self.lengths)))

    @functools.cached_property
    def unplaced(self) -> int:
        """Number of entities with ``start == -1``."""
        return operator.countOf(self.starts, -1)

    def rows(self) -> list[list[Span]]:
        """Per-sample ``(start, end, label, text)`` tuples."""
        out: list[list[Span]] = [[] for _ in range(self.n_samples)]
        for i, s, e, label, t in zip(self.ids, self.starts, self.ends, self.labels, self.texts):
            out[i].append((s, e, label, t))
        return out

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[tuple]]) -> "Columns":
        """Columns from per-sample ``(start, end, label, text)`` tuples."""
        flat = list(itertools.chain.from_iterable(rows))
        starts, ends, labels, texts = _columns(flat)
        return cls(lengths=list(map(len, rows)), starts=starts, ends=ends, labels=labels, texts=texts)


def _columns(flat: list[tuple]) -> tuple[list, list, list, list]:
    """Transpose ``(start, end, label, text)`` tuples (``zip(*flat)`` is slow for long inputs)."""
    return tuple(list(map(operator.itemgetter(k), flat)) for k in range(4))  # type: ignore[return-value]


def _integral_types(types: set[type]) -> bool:
    """Whether every type is an integer type other than ``bool`` (numpy's int64, int32, ... included)."""
    return all(issubclass(t, numbers.Integral) and not issubclass(t, bool) for t in types)


def _fail(i: int, where: str, message: str) -> ValueError:
    return ValueError(f"sample {i}: {where} {message}")


def _check_one(record: object, i: int, j: int, field: str, sentence: str | None) -> Span:
    where = f"{field}[{i}][{j}]"
    if not isinstance(record, Mapping):
        raise _fail(i, where, f"is {record!r}; expected a mapping with keys {list(SPAN_KEYS)}")
    for key in SPAN_KEYS:
        if key not in record:
            raise _fail(i, where, f"has no {key!r} key (keys: {sorted(record)}); expected {list(SPAN_KEYS)}")
    text, label, start, end = record["text"], record["label"], record["start"], record["end"]
    for key, value in (("text", text), ("label", label)):
        if not isinstance(value, str) or not value:
            raise _fail(i, f"{where}[{key!r}]", f"is {value!r} ({type(value).__name__}); expected a non-empty string")
    for key, value in (("start", start), ("end", end)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise _fail(i, f"{where}[{key!r}]", f"is {value!r} ({type(value).__name__}); expected an int")
    start, end = int(start), int(end)
    if start == -1 and end == -1:
        return (-1, -1, label, text)
    if not 0 <= start < end:
        raise _fail(i, where, f"has offsets start={start}, end={end}; expected 0 <= start < end (or both -1)")
    if end - start != len(text):
        raise _fail(i, where, f"has offsets [{start}, {end}) that do not span its text {text!r}")
    if sentence is not None:
        if end > len(sentence):
            raise _fail(i, f"{where}['end']", f"is {end}, beyond the sentence length {len(sentence)}")
        if sentence[start:end] != text:
            raise _fail(i, f"{where}['text']", f"is {text!r} but sentences[{i}][{start}:{end}] is {sentence[start:end]!r}")
    return (start, end, label, text)


def _check_slowly(samples: Sequence, field: str, sentences: Sequence[str] | None, first_index: int) -> list[list[Span]]:
    rows = []
    for n, sample in enumerate(samples):
        i = first_index + n
        if not isinstance(sample, (list, tuple)):
            raise _fail(i, f"{field}[{i}]", f"is {sample!r}; expected a list of span records")
        sentence = None
        if sentences is not None:
            sentence = sentences[n]
            if not isinstance(sentence, str):
                raise _fail(i, f"sentences[{i}]", f"is {sentence!r}; expected a string")
        rows.append([_check_one(record, i, j, field, sentence) for j, record in enumerate(sample)])
    return rows


def check_samples(
    samples: Sequence[Sequence[Mapping]],
    *,
    field: str,
    sentences: Sequence[str] | None = None,
    first_index: int = 0,
) -> Columns:
    """Check every record and return the columns; ``first_index`` numbers samples after earlier batches.

    ``sentences`` (one string per sample) adds the check ``text == sentence[start:end]``.
    """
    if not isinstance(samples, (list, tuple)):
        raise ValueError(f"{field} must be a list (one list of span records per sample), got {type(samples).__name__}")
    n = len(samples)
    if sentences is not None or not set(map(type, samples)) <= {list, tuple}:
        return Columns.from_rows(_check_slowly(samples, field, sentences, first_index))
    try:
        flat = list(itertools.chain.from_iterable(map(map, itertools.repeat(_GET), samples)))
    except (KeyError, TypeError, IndexError):
        flat = None
    if flat is not None:
        starts, ends, labels, texts = _columns(flat)
        offset_types = set(map(type, starts)) | set(map(type, ends))
        if not offset_types <= {int} and _integral_types(offset_types):  # numpy integers, from tokenizers
            starts, ends = list(map(int, starts)), list(map(int, ends))
            offset_types = {int}
        types_ok = (
            offset_types <= {int}
            and set(map(type, labels)) <= {str}
            and set(map(type, texts)) <= {str}
        )
        if types_ok and "" not in labels and "" not in texts:
            spans_ok = list(map(operator.sub, ends, starts)) == list(map(len, texts)) and (not starts or min(starts) >= 0)
            if not spans_ok:  # unplaced entities: check the pairs one by one
                spans_ok = all(
                    (s == -1 and e == -1) or (0 <= s and e - s == len(t)) for s, e, t in zip(starts, ends, texts)
                )
            if spans_ok:
                return Columns(lengths=list(map(len, samples)), starts=starts, ends=ends, labels=labels, texts=texts)
    _check_slowly(samples, field, None, first_index)
    raise ValueError(f"{field}: invalid span records")  # pragma: no cover - the slow pass names the defect


def declared_records(samples: Sequence[Sequence[Mapping]], columns: Columns) -> Sequence[Sequence[Mapping]]:
    """Records with exactly the four declared keys: ``samples`` itself when it already is, else rebuilt."""
    if set(map(len, itertools.chain.from_iterable(samples))) <= {len(SPAN_KEYS)}:
        return samples
    return [[{"text": t, "label": lab, "start": s, "end": e} for s, e, lab, t in row] for row in columns.rows()]
