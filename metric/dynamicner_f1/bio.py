"""IOB2 tag sequences -> typed chunks, with seqeval's two decoding rules.

Two rules, both equal to seqeval on IOB2 tags (``O``, ``B-<type>``, ``I-<type>``):

``"lenient"`` (conlleval, seqeval's default mode): a chunk starts at every ``B-X`` and at every
    ``I-X`` that does not continue a chunk of type ``X``; it continues over ``I-X``.
``"strict"`` (seqeval ``mode="strict", scheme=IOB2``): a chunk starts only at ``B-X`` and continues
    over ``I-X``; an ``I-X`` that continues nothing belongs to no chunk. As in seqeval, ``-`` is
    stripped from both ends of a type (``B--X`` and ``I-X-`` are type ``X``; only dashes: ``_``).

Chunks never cross sentences. Offsets are token indices, ``end`` exclusive.

Two steps, each result passed on explicitly. :func:`encode_pair` checks both sides (errors name the
sample and the field) and reads every tag once into an :class:`EncodedTags`: one small integer per
token. Then :func:`count_exact` (strict matching, micro and per-type counts) or :func:`decode`
(chunks per sample, for everything else) find the chunks, both with the one rule in
:func:`_find_chunks`, vectorised over the whole corpus with numpy.

Example:
    >>> encoded = encode_pair([["B-PER", "I-PER", "O", "I-LOC"], ["I-ORG"]], [["B-PER", "I-PER", "O", "O"], ["O"]])
    >>> predicted, gold = decode(encoded, rule="lenient")
    >>> predicted.per_sample(), gold.per_sample()
    ([[(0, 2, 'PER'), (3, 4, 'LOC')], [(0, 1, 'ORG')]], [[(0, 2, 'PER')], []])
    >>> decode(encoded, rule="strict")[0].per_sample()
    [[(0, 2, 'PER')], []]
    >>> dict(count_exact(encoded, rule="lenient").tp)
    {'PER': 1}
"""

from __future__ import annotations

import array
import collections
import itertools
import operator
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

RULES: tuple[str, ...] = ("lenient", "strict")


def _is_tag(tag: object) -> bool:
    return isinstance(tag, str) and (tag == "O" or (len(tag) > 2 and tag[0] in "BI" and tag[1] == "-" and "\n" not in tag))


def _tag_error(sequences: Sequence, field: str, bad: object, first_index: int) -> ValueError:
    for n, seq in enumerate(sequences):
        for j, tag in enumerate(seq):
            i = first_index + n
            if type(tag) is type(bad) and tag == bad:
                return ValueError(
                    f"sample {i}: {field}[{i}][{j}] is {tag!r}; expected an IOB2 tag: 'O', 'B-<type>' or 'I-<type>'"
                )
    return ValueError(f"{field}: invalid tag {bad!r}")  # pragma: no cover - bad always comes from sequences


def _first_bad_tag(sequences: Sequence, field: str, first_index: int) -> ValueError:
    """The error naming the first tag that is not an IOB2 string (unhashable values included)."""
    for n, seq in enumerate(sequences):
        i = first_index + n
        for j, tag in enumerate(seq):
            if not _is_tag(tag):
                hint = " (span records need the 'span' config)" if isinstance(tag, dict) else ""
                return ValueError(
                    f"sample {i}: {field}[{i}][{j}] is {tag!r} ({type(tag).__name__}); "
                    f"expected an IOB2 tag: 'O', 'B-<type>' or 'I-<type>'{hint}"
                )
    return ValueError(f"{field}: invalid tags")  # pragma: no cover - only called when a tag is bad


def check_sequences(sequences: Sequence, *, field: str, first_index: int = 0) -> None:
    """Raise ``ValueError`` naming the sample and field unless every sample is a list of IOB2 tags.

    Example:
        >>> check_sequences([["B-PER", "E-PER"]], field="references")
        Traceback (most recent call last):
        ...
        ValueError: sample 0: references[0][1] is 'E-PER'; expected an IOB2 tag: 'O', 'B-<type>' or 'I-<type>'

    ``first_index`` numbers the samples after those of earlier batches.
    """
    if not isinstance(sequences, (list, tuple)):
        raise ValueError(f"{field} must be a list of tag sequences, got {type(sequences).__name__}")
    if not set(map(type, sequences)) <= {list, tuple}:
        for n, seq in enumerate(sequences):
            if not isinstance(seq, (list, tuple)):
                i = first_index + n
                raise ValueError(f"sample {i}: {field}[{i}] is {seq!r}; expected a list of IOB2 tags")
    try:
        tags = set(itertools.chain.from_iterable(sequences))
    except TypeError:  # an unhashable value (a span dict, a list): name the sample and the field
        raise _first_bad_tag(sequences, field, first_index) from None
    for tag in tags:
        if not _is_tag(tag):
            raise _tag_error(sequences, field, tag, first_index)


def check_tag_lengths(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]], first_index: int = 0) -> None:
    """``ValueError`` naming the first sample whose prediction and reference lengths differ."""
    if list(map(len, predictions)) != list(map(len, references)):
        for n, (p, g) in enumerate(zip(predictions, references)):
            if len(p) != len(g):
                i = first_index + n
                raise ValueError(
                    f"sample {i}: predictions[{i}] has {len(p)} tags but references[{i}] has {len(g)}; "
                    "tag sequences must align token by token"
                )


@dataclass(frozen=True, eq=False)
class EncodedTags:
    """Both sides of checked tag sequences, one integer id per token (what :func:`encode_pair` returns).

    ``tags[k]`` is the tag of id ``k``; ``lengths[i]`` the number of tokens of sample ``i`` on both
    sides. ``gold_ids`` holds every reference token. A prediction equal to its reference is not
    stored again: ``pred_ids`` holds the tokens of the predictions whose ``differ`` flag is set, in
    order. Ids are ``uint8`` while at most 256 distinct tags occur, else ``uint32``.
    """

    tags: tuple[str, ...]
    lengths: np.ndarray
    gold_ids: np.ndarray
    pred_ids: np.ndarray
    differ: np.ndarray

    @property
    def n_samples(self) -> int:
        return len(self.lengths)


def _ids(sequences: Sequence[Sequence[str]], ids: dict) -> np.ndarray:
    """The id of every tag in order (new tags get the next id): one C-level pass in the usual case."""
    get = ids.__getitem__
    try:
        return np.frombuffer(bytes(map(get, itertools.chain.from_iterable(sequences))), dtype=np.uint8)
    except ValueError:  # an id beyond one byte: read again into four-byte ids
        return np.frombuffer(array.array("I", map(get, itertools.chain.from_iterable(sequences))), dtype=np.uint32)


def _raise_first_defect(predictions: Sequence, references: Sequence, first_index: int) -> None:
    check_sequences(references, field="references", first_index=first_index)
    check_sequences(predictions, field="predictions", first_index=first_index)
    raise ValueError("invalid tag sequences")  # pragma: no cover - one of the checks names the defect


def encode_pair(predictions: Sequence, references: Sequence, *, first_index: int = 0) -> EncodedTags:
    """Check both sides and read every tag once; ``ValueError`` naming the sample and the field for
    any defect (not a list of IOB2 tags, different lengths on the two sides).

    ``first_index`` numbers the samples after those of earlier batches. A prediction equal to its
    reference is valid when the reference is, so only the differing predictions are read. The usual
    input (lists of valid tags) takes one C-level pass per side; anything else takes the checks that
    name the culprit.

    Example:
        >>> encoded = encode_pair([["B-PER", "O"], ["O"]], [["B-PER", "O"], ["B-LOC"]])
        >>> encoded.tags, encoded.gold_ids.tolist(), encoded.differ.tolist(), encoded.pred_ids.tolist()
        (('B-PER', 'O', 'B-LOC'), [0, 1, 2], [False, True], [1])
        >>> encode_pair([["O", "O"]], [["O"]], first_index=7)
        Traceback (most recent call last):
        ...
        ValueError: sample 7: predictions[7] has 2 tags but references[7] has 1; tag sequences must align token by token
    """
    for name, value in (("predictions", predictions), ("references", references)):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list of tag sequences, got {type(value).__name__}")
    if len(predictions) != len(references):
        raise ValueError(f"predictions has {len(predictions)} samples but references has {len(references)}")
    if not set(map(type, references)) | set(map(type, predictions)) <= {list, tuple}:
        _raise_first_defect(predictions, references, first_index)
    ids: collections.defaultdict = collections.defaultdict(itertools.count().__next__)
    try:
        differ = list(map(operator.ne, predictions, references))
        gold_ids = _ids(references, ids)
        pred_ids = _ids(list(itertools.compress(predictions, differ)), ids)
        hashable = True
    except TypeError:  # an unhashable value
        hashable = False
    if not hashable or not all(map(_is_tag, ids)):
        _raise_first_defect(predictions, references, first_index)
    check_tag_lengths(predictions, references, first_index)
    if len(ids) > 256:  # both sides in the wide dtype
        gold_ids, pred_ids = gold_ids.astype(np.uint32), pred_ids.astype(np.uint32)
    return EncodedTags(tags=tuple(ids), lengths=np.fromiter(map(len, references), dtype=np.int64, count=len(references)),
                       gold_ids=gold_ids, pred_ids=pred_ids, differ=np.array(differ, dtype=bool))


def _type_name(tag: str, rule: str) -> str:
    """The type a ``B-``/``I-`` tag names under ``rule`` (seqeval's strict mode strips ``-``).

    >>> [_type_name(tag, "strict") for tag in ("B-X", "I-X-", "B--X", "B--")], _type_name("B--X", "lenient")
    (['X', 'X', 'X', '_'], '-X')
    """
    return tag[2:] if rule == "lenient" else (tag[2:].strip("-") or "_")


def _codes(encoded: EncodedTags, rule: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The types (sorted), and the integer code of every token on both sides under ``rule``:
    ``O`` = 0, ``B-<type k>`` = 2k + 1, ``I-<type k>`` = 2k + 2, in the narrowest dtype that holds them.
    The predictions' codes are the references' own array when no prediction differs."""
    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is not one of {list(RULES)}")
    names = [None if tag == "O" else _type_name(tag, rule) for tag in encoded.tags]
    types = sorted({name for name in names if name is not None})
    number = {name: k for k, name in enumerate(types)}
    dtype = np.uint8 if 2 * len(types) < 256 else np.int64
    lookup = np.array([0 if name is None else 2 * number[name] + (1 if tag[0] == "B" else 2)
                       for tag, name in zip(encoded.tags, names)], dtype=dtype)
    gold = lookup[encoded.gold_ids]
    pred = gold
    if encoded.differ.any():
        pred = gold.copy()
        pred[np.repeat(encoded.differ, encoded.lengths)] = lookup[encoded.pred_ids]
    return types, gold, pred


def _sentence_starts(lengths: np.ndarray) -> np.ndarray:
    """A mask of the tokens that open a sentence (they continue no chunk)."""
    first = np.zeros(int(lengths.sum()), dtype=bool)
    first[(np.cumsum(lengths) - lengths)[lengths > 0]] = True
    return first


def _find_chunks(codes: np.ndarray, first: np.ndarray, *, rule: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, ends, kinds)`` of the chunks in integer tag codes (see :func:`_codes`): the chunk rule.

    A token continues a chunk when it is ``I-X`` (an even code ``c``) right after ``B-X`` or ``I-X``
    (code ``c - 1`` or ``c``) in the same sentence; every other non-``O`` token starts a run
    (``"strict"`` keeps the runs that start with ``B-``). The codes stay in their own (narrow) dtype;
    ``kinds`` are type numbers.

    >>> codes = np.array([1, 2, 2, 0, 2, 4, 3, 4], dtype=np.uint8)  # B-a I-a I-a O I-a I-b B-b I-b
    >>> [a.tolist() for a in _find_chunks(codes, np.zeros(8, dtype=bool), rule="lenient")]
    [[0, 4, 5, 6], [3, 5, 6, 8], [0, 0, 1, 1]]
    >>> [a.tolist() for a in _find_chunks(codes, np.zeros(8, dtype=bool), rule="strict")]
    [[0, 6], [3, 8], [0, 1]]
    """
    n = len(codes)
    cur, prev = codes[1:], codes[:-1]
    cont = np.zeros(n + 1, dtype=bool)  # cont[i]: token i continues the chunk of token i - 1
    cont[1:n] = ((cur & 1) == 0) & (cur != 0) & ((prev == cur) | (prev + 1 == cur))
    cont[:n] &= ~first
    inside = codes != 0
    starts = np.flatnonzero(inside & ~cont[:n])
    ends = np.flatnonzero(inside & ~cont[1:]) + 1
    if rule == "strict":
        keep = (codes[starts] & 1) == 1  # B- tags are odd
        starts, ends = starts[keep], ends[keep]
    return starts, ends, (codes[starts].astype(np.int64) - 1) >> 1


@dataclass(frozen=True)
class Chunks:
    """One side's chunks in order: chunk ``k`` spans tokens ``[starts[k], ends[k])`` of its sample,
    with type ``labels[k]``; sample ``i`` holds ``lengths[i]`` chunks."""

    lengths: list[int]
    starts: list[int]
    ends: list[int]
    labels: list[str]

    def per_sample(self) -> list[list[tuple[int, int, str]]]:
        """``(start, end, type)`` per sample."""
        chunks = iter(zip(self.starts, self.ends, self.labels))
        return [list(itertools.islice(chunks, n)) for n in self.lengths]


def decode(encoded: EncodedTags, *, rule: str) -> tuple[Chunks, Chunks]:
    """The chunks of both sides, ``(predictions, references)``, with sample-local token offsets."""
    types, gold, pred = _codes(encoded, rule)
    first = _sentence_starts(encoded.lengths)
    ends_of_samples = np.cumsum(encoded.lengths)
    out = []
    for codes in (pred, gold):
        starts, ends, kinds = _find_chunks(codes, first, rule=rule)
        sample = np.searchsorted(ends_of_samples, starts, side="right")
        base = ends_of_samples[sample] - encoded.lengths[sample]
        out.append(Chunks(lengths=np.bincount(sample, minlength=encoded.n_samples).tolist(),
                          starts=(starts - base).tolist(), ends=(ends - base).tolist(),
                          labels=[types[k] for k in kinds.tolist()]))
    return out[0], out[1]


def decode_tags(sequences: Sequence[Sequence[str]], *, rule: str, field: str = "references") -> Chunks:
    """The chunks of one side's IOB2 sequences under ``rule`` (checked; errors name ``field``).

    Example:
        >>> decode_tags([["B-PER", "I-PER", "I-LOC"], ["I-LOC", "B-LOC"]], rule="lenient").per_sample()
        [[(0, 2, 'PER'), (2, 3, 'LOC')], [(0, 1, 'LOC'), (1, 2, 'LOC')]]
    """
    check_sequences(sequences, field=field)
    return decode(encode_pair(sequences, sequences), rule=rule)[1]


@dataclass(frozen=True)
class ChunkCounts:
    """Micro and per-type counts of a strict (same offsets and type) comparison."""

    tp: Counter
    pred: Counter
    gold: Counter
    extraction_tp: int


def count_exact(encoded: EncodedTags, *, rule: str) -> ChunkCounts:
    """Strict chunk counts, without positions where they are not needed.

    Chunks are found on both sides at once (a prediction equal to its reference shares its codes;
    when none differs, the chunks are found once) and matched with numpy: a predicted chunk hits a
    gold chunk that starts at the same token with the same end and type.

    Example:
        >>> c = count_exact(encode_pair([["B-PER", "O"], ["B-LOC", "I-LOC"]], [["B-PER", "O"], ["B-LOC", "O"]]), rule="lenient")
        >>> dict(c.tp), dict(c.pred), dict(c.gold), c.extraction_tp
        ({'PER': 1}, {'LOC': 1, 'PER': 1}, {'LOC': 1, 'PER': 1}, 1)
    """
    types, gold, pred = _codes(encoded, rule)
    first = _sentence_starts(encoded.lengths)
    g_start, g_end, g_kind = _find_chunks(gold, first, rule=rule)
    p_start, p_end, p_kind = (g_start, g_end, g_kind) if pred is gold else _find_chunks(pred, first, rule=rule)
    # chunks never overlap on one side: a gold chunk is found by the predicted chunk starting at its first token
    if len(p_start):
        at = np.minimum(np.searchsorted(p_start, g_start), len(p_start) - 1)
        same_span = (p_start[at] == g_start) & (p_end[at] == g_end)
        hit = same_span & (p_kind[at] == g_kind)
    else:
        same_span = hit = np.zeros(len(g_start), dtype=bool)

    def named(kinds: np.ndarray) -> Counter:
        counts = np.bincount(kinds, minlength=len(types)).tolist() if types else []
        return Counter({types[k]: c for k, c in enumerate(counts) if c})

    return ChunkCounts(tp=named(g_kind[hit]), pred=named(p_kind), gold=named(g_kind), extraction_tp=int(same_span.sum()))
