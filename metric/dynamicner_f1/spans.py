"""Span records ``{text, label, start, end}`` -> checked tuples ``(start, end, label, text)``.

``end`` is an exclusive character offset, so ``text == sentence[start:end]``. An entity that could
not be placed in its sentence has ``start == end == -1`` and is matched by text only. Extra keys
(the dataset's ``path``, the pipeline's ``score``) are ignored. Every defect raises ``ValueError``
naming the sample index and the field.

Example:
    >>> check_samples([[{"text": "Paris", "label": "city", "start": 7, "end": 12, "score": 0.9}]], field="predictions")
    [[(7, 12, 'city', 'Paris')]]
    >>> check_samples([[{"text": "Paris", "label": None, "start": 7, "end": 12}]], field="predictions")
    Traceback (most recent call last):
    ...
    ValueError: sample 0: predictions[0][0]['label'] is None (NoneType); expected a non-empty string
"""

from __future__ import annotations

from typing import Mapping, Sequence

Span = tuple[int, int, str, str]
"""``(start, end, label, text)``; ``start == end == -1`` when unplaced."""

SPAN_KEYS: tuple[str, ...] = ("text", "label", "start", "end")


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
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(i, f"{where}[{key!r}]", f"is {value!r} ({type(value).__name__}); expected an int")
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


def check_samples(
    samples: Sequence[Sequence[Mapping]],
    *,
    field: str,
    sentences: Sequence[str] | None = None,
    first_index: int = 0,
) -> list[list[Span]]:
    """Check every record and return the tuples; ``first_index`` numbers samples after earlier batches."""
    if not isinstance(samples, (list, tuple)):
        raise ValueError(f"{field} must be a list (one list of span records per sample), got {type(samples).__name__}")
    out: list[list[Span]] = []
    for n, sample in enumerate(samples):
        i = first_index + n
        if not isinstance(sample, (list, tuple)):
            raise _fail(i, f"{field}[{i}]", f"is {sample!r}; expected a list of span records")
        sentence = None
        if sentences is not None:
            sentence = sentences[n]
            if not isinstance(sentence, str):
                raise _fail(i, f"sentences[{i}]", f"is {sentence!r}; expected a string")
        out.append([_check_one(record, i, j, field, sentence) for j, record in enumerate(sample)])
    return out


def from_records(samples: Sequence[Sequence[Mapping]]) -> list[list[Span]]:
    """Tuples from records already checked (e.g. read back from evaluate's Arrow cache)."""
    return [[(r["start"], r["end"], r["label"], r["text"]) for r in sample] for sample in samples]


def to_records(samples: Sequence[Sequence[Span]]) -> list[list[dict]]:
    """Records with exactly the four declared keys (what evaluate's features accept)."""
    return [[{"text": t, "label": lab, "start": s, "end": e} for s, e, lab, t in sample] for sample in samples]
