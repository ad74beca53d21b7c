"""IOB2 tag sequences -> typed chunks, with seqeval's two decoding rules.

Two rules, both equal to seqeval on IOB2 tags (``O``, ``B-<type>``, ``I-<type>``):

``"lenient"`` (conlleval, seqeval's default mode): a chunk starts at every ``B-X`` and at every
    ``I-X`` that does not continue a chunk of type ``X``; it continues over ``I-X``.
``"strict"`` (seqeval ``mode="strict", scheme=IOB2``): a chunk starts only at ``B-X`` and continues
    over ``I-X``; an ``I-X`` that continues nothing belongs to no chunk. As in seqeval, ``-`` is
    stripped from both ends of a type (``B--X`` and ``I-X-`` are type ``X``; only dashes: ``_``).

Chunks never cross sentences. Offsets are token indices, ``end`` exclusive. Decoding maps each
distinct tag to two characters and finds chunks with one regular expression over the joined corpus,
so the Python work is per chunk, not per token; :func:`count_exact` (strict matching, no per-sample
output) skips sentences whose two sides are equal and counts the rest with numpy.

Example:
    >>> decoded = decode_tags([["B-PER", "I-PER", "O", "I-LOC"], ["I-ORG"]], rule="lenient", field="predictions")
    >>> decoded.per_sample()
    [[(0, 2, 'PER'), (3, 4, 'LOC')], [(0, 1, 'ORG')]]
    >>> decode_tags([["B-PER", "I-PER", "O", "I-LOC"], ["I-ORG"]], rule="strict", field="predictions").per_sample()
    [[(0, 2, 'PER')], []]
"""

from __future__ import annotations

import array
import bisect
import collections
import itertools
import operator
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Sequence

RULES: tuple[str, ...] = ("lenient", "strict")

# Two characters per token: "O" -> "\x00\x00", B-<type k> -> "\x01" + chr(base + k),
# I-<type k> -> "\x02" + chr(base + k); a chunk is then one regex match with a back-reference.
_O = "\x00\x00"
_CHUNK = {
    "lenient": re.compile("[\x01\x02](.)(?:\x02\\1)*", re.S),
    "strict": re.compile("\x01(.)(?:\x02\\1)*", re.S),
}
# The same rules over raw tags joined by "\n" (sentences separated by a blank line): types only.
_RAW_CHUNK = {
    "lenient": re.compile(r"^[BI]-([^\n]+)\n(?:I-\1\n)*", re.M),
    "strict": re.compile(r"^B-([^\n]+)\n(?:I-\1\n)*", re.M),
}


@dataclass(frozen=True)
class DecodedTags:
    """Chunks of a whole corpus as ``(global_start, global_end, type)`` token offsets.

    ``starts[i]`` is the global index of sentence ``i``'s first token (sentences are separated by
    one virtual ``O``). Global offsets keep every chunk unique, so matching needs no sample index;
    :meth:`sample_of` recovers it when needed.
    """

    chunks: list[tuple[int, int, str]]
    starts: list[int]

    def sample_of(self, global_start: int) -> int:
        """Index of the sentence that holds a global token index."""
        return bisect.bisect_right(self.starts, global_start) - 1

    def per_sample(self) -> list[list[tuple[int, int, str]]]:
        """Chunks per sentence with sentence-local token offsets."""
        out: list[list[tuple[int, int, str]]] = [[] for _ in self.starts]
        for start, end, label in self.chunks:
            i = self.sample_of(start)
            base = self.starts[i]
            out[i].append((start - base, end - base, label))
        return out


def _tag_error(sequences: Sequence, field: str, bad: object, first_index: int) -> ValueError:
    for n, seq in enumerate(sequences):
        for j, tag in enumerate(seq):
            i = first_index + n
            if type(tag) is type(bad) and tag == bad:
                return ValueError(
                    f"sample {i}: {field}[{i}][{j}] is {tag!r}; expected an IOB2 tag: 'O', 'B-<type>' or 'I-<type>'"
                )
    return ValueError(f"{field}: invalid tag {bad!r}")  # pragma: no cover - bad always comes from sequences


def _is_tag(tag: object) -> bool:
    return isinstance(tag, str) and (tag == "O" or (len(tag) > 2 and tag[0] in "BI" and tag[1] == "-" and "\n" not in tag))


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


def _tag_set(sequences: Sequence, field: str, first_index: int) -> set:
    try:
        return set(itertools.chain.from_iterable(sequences))
    except TypeError:  # an unhashable value (a span dict, a list): name the sample and the field
        raise _first_bad_tag(sequences, field, first_index) from None


def check_sequences(sequences: Sequence, *, field: str, first_index: int = 0) -> set[str]:
    """Raise ``ValueError`` naming the sample and field unless every sample is a list of IOB2 tags.

    Example:
        >>> check_sequences([["B-PER", "E-PER"]], field="references")
        Traceback (most recent call last):
        ...
        ValueError: sample 0: references[0][1] is 'E-PER'; expected an IOB2 tag: 'O', 'B-<type>' or 'I-<type>'

    ``first_index`` numbers the samples after those of earlier batches. Returns the set of tags.
    """
    if not isinstance(sequences, (list, tuple)):
        raise ValueError(f"{field} must be a list of tag sequences, got {type(sequences).__name__}")
    if not set(map(type, sequences)) <= {list, tuple}:
        for n, seq in enumerate(sequences):
            if not isinstance(seq, (list, tuple)):
                i = first_index + n
                raise ValueError(f"sample {i}: {field}[{i}] is {seq!r}; expected a list of IOB2 tags")
    tags = _tag_set(sequences, field, first_index)
    for tag in tags:
        if not _is_tag(tag):
            raise _tag_error(sequences, field, tag, first_index)
    return tags


class TagSet(set):
    """The tags :func:`check_pair` saw, plus the one-byte ids it gave every token on the way
    (``encoding``), so :func:`count_exact` on the same two lists need not read each tag again.
    Set operations return plain sets (without the encoding)."""

    encoding: "_Encoding | None" = None


@dataclass(frozen=True)
class _Encoding:
    predictions: Sequence | None  # the lists the ids were read from (None once detached)
    references: Sequence | None
    tags: tuple[str, ...]  # tag of each id
    gold_ids: bytes  # every reference token
    pred_ids: bytes  # the tokens of the predictions that differ from their reference
    differ: list[bool]


def detached(tags: set) -> _Encoding | None:
    """The ids :func:`check_pair` gave one batch, without the batch's lists (kept until compute)."""
    encoding = getattr(tags, "encoding", None)
    return None if encoding is None else replace(encoding, predictions=None, references=None)


def joined(parts: Sequence[_Encoding], predictions: Sequence, references: Sequence) -> TagSet | None:
    """The ids of consecutive checked batches as one :class:`TagSet` for ``predictions``/``references``,
    the lists that hold those batches in order (as evaluate reads its storage back), so
    :func:`count_exact` does not read each tag again. ``None`` when the sizes do not match the lists
    or all batches together use more than 256 distinct tags.

    Example:
        >>> a = check_pair([["B-PER", "O"]], [["B-PER", "O"]])
        >>> b = check_pair([["B-LOC"]], [["O"]])
        >>> pred, gold = [["B-PER", "O"], ["B-LOC"]], [["B-PER", "O"], ["O"]]
        >>> both = joined([detached(a), detached(b)], pred, gold)
        >>> sorted(both), both.encoding.gold_ids, both.encoding.pred_ids
        (['B-LOC', 'B-PER', 'O'], b'\\x00\\x01\\x01', b'\\x02')
        >>> dict(count_exact(pred, gold, rule="lenient", tags=both).pred)
        {'LOC': 1, 'PER': 1}
        >>> joined([detached(a)], pred, gold) is None  # lists that hold more than the batches
        True
    """
    if sum(len(part.differ) for part in parts) != len(references):
        return None
    index: dict[str, int] = {}
    for part in parts:
        for tag in part.tags:
            index.setdefault(tag, len(index))
    if len(index) > 256:
        return None
    gold, pred, differ = [], [], []
    for part in parts:
        table = bytearray(range(256))
        table[: len(part.tags)] = bytes(map(index.__getitem__, part.tags))
        gold.append(part.gold_ids.translate(table))
        pred.append(part.pred_ids.translate(table))
        differ.extend(part.differ)
    gold_ids = b"".join(gold)
    if len(gold_ids) != sum(map(len, references)):
        return None
    tags = TagSet(index)
    tags.encoding = _Encoding(predictions=predictions, references=references, tags=tuple(index), gold_ids=gold_ids,
                              pred_ids=b"".join(pred), differ=differ)
    return tags


def _encode_checked(predictions: Sequence, references: Sequence) -> TagSet | None:
    """One C-level pass per side: ids of the tags in order of appearance; ``None`` when the inputs
    need the slow checks (not lists, unhashable or non-tag values, more than 256 distinct tags)."""
    kinds = set(map(type, references)) | set(map(type, predictions))
    if not kinds <= {list, tuple} or len(predictions) != len(references):
        return None
    ids: collections.defaultdict = collections.defaultdict(itertools.count().__next__)
    try:
        gold_ids = bytes(map(ids.__getitem__, itertools.chain.from_iterable(references)))
        differ = list(map(operator.ne, predictions, references))
        changed = itertools.chain.from_iterable(itertools.compress(predictions, differ))
        pred_ids = bytes(map(ids.__getitem__, changed))
    except (TypeError, ValueError):  # unhashable values; ids beyond one byte
        return None
    if not all(map(_is_tag, ids)):
        return None
    tags = TagSet(ids)
    tags.encoding = _Encoding(predictions=predictions, references=references, tags=tuple(ids), gold_ids=gold_ids,
                              pred_ids=pred_ids, differ=differ)
    return tags


def check_pair(predictions: Sequence, references: Sequence, *, first_index: int = 0) -> set[str]:
    """Check both sides like :func:`check_sequences` and return every tag seen.

    A prediction equal to its reference is valid when the reference is, so only the differing
    predictions are scanned (inputs of equal length, see ``scorer.check_tag_lengths``). The usual
    case (lists of at most 256 distinct valid tags) reads each tag once and keeps the result for
    :func:`count_exact` (a :class:`TagSet`); anything else takes the checks that name the culprit.
    """
    fast = _encode_checked(predictions, references)
    if fast is not None:
        return fast
    tags = check_sequences(references, field="references", first_index=first_index)
    if not isinstance(predictions, (list, tuple)) or not set(map(type, predictions)) <= {list, tuple}:
        check_sequences(predictions, field="predictions", first_index=first_index)
    differ = map(operator.not_, map(operator.eq, predictions, references))
    try:
        extra = set(itertools.chain.from_iterable(itertools.compress(predictions, differ))) - tags
    except TypeError:  # unhashable values: the full check names them
        check_sequences(predictions, field="predictions", first_index=first_index)
        raise  # pragma: no cover - check_sequences raised
    if not all(map(_is_tag, extra)):
        check_sequences(predictions, field="predictions", first_index=first_index)
    return tags | extra


def _encode(sequences: Sequence[Sequence[str]], code: dict[str, str]) -> str:
    separated = itertools.chain.from_iterable(zip(sequences, itertools.repeat(("O",))))
    return "".join(map(code.__getitem__, itertools.chain.from_iterable(separated)))


def _code_table(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]], tags: set[str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Tag -> two characters, and the type names by code; one-byte codes while the types fit."""
    if tags is None:
        tags = set(itertools.chain.from_iterable(predictions)) | set(itertools.chain.from_iterable(references))
    types = sorted({tag[2:] for tag in tags if tag != "O"})
    base = _type_base(types)
    code = {"O": _O}
    for k, name in enumerate(types):
        char = _type_char(k, base)
        code["B-" + name] = "\x01" + char
        code["I-" + name] = "\x02" + char
    return code, types


def _type_base(types: Sequence[str]) -> int:
    # type codes start above "\x00\x01\x02"; below 256 the joined string stays one byte per char
    return 3 if len(types) <= 250 else 0x100


# Wide type codes skip the surrogates U+D800..U+DFFF (they cannot be encoded): about 1.1 million types.
_SURROGATES = 0xD800
_SURROGATE_GAP = 0x800
_MAX_TYPES = 0x110000 - 0x100 - _SURROGATE_GAP


def _type_char(k: int, base: int) -> str:
    """The one-character code of type number ``k``.

    >>> [hex(ord(_type_char(k, 0x100))) for k in (0, 0xD800 - 0x101, 0xD800 - 0x100)]
    ['0x100', '0xd7ff', '0xe000']
    """
    point = base + k
    if point >= _SURROGATES:
        point += _SURROGATE_GAP
    if point > 0x10FFFF:
        raise ValueError(f"more than {_MAX_TYPES} distinct entity types in the tags; the tag decoder supports at most that")
    return chr(point)


def _type_index(point: int, base: int) -> int:
    """The type number of a code point made by :func:`_type_char` (inverse)."""
    return (point - _SURROGATE_GAP if point >= _SURROGATES else point) - base


def _seqeval_strict_names(tags: set[str]) -> dict[str, str]:
    """Tags whose type seqeval's strict mode reads differently: it strips ``-`` from both ends of the
    type (``B--X`` and ``B-X-`` are type ``X``; a type of only dashes is ``_``).

    >>> _seqeval_strict_names({"O", "B-X", "I-X-", "B--", "B-a-b"})
    {'B--': 'B-_', 'I-X-': 'I-X'}
    """
    renamed = {}
    for tag in tags:
        if tag != "O" and (tag[2] == "-" or tag[-1] == "-"):
            renamed[tag] = tag[:2] + (tag[2:].strip("-") or "_")
    return dict(sorted(renamed.items()))


def _as_seqeval_strict(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]], tags: set[str] | None
) -> tuple[Sequence[Sequence[str]], Sequence[Sequence[str]], set[str] | None]:
    """Both sides with seqeval's strict type names (unchanged, and not copied, in the usual case)."""
    if tags is None:
        tags = set(itertools.chain.from_iterable(predictions)) | set(itertools.chain.from_iterable(references))
    renamed = _seqeval_strict_names(tags)
    if not renamed:
        return predictions, references, tags
    get = renamed.get

    def rename(sequences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [[get(tag, tag) for tag in seq] for seq in sequences]

    return rename(predictions), rename(references), {get(tag, tag) for tag in tags}


def decode_pair(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]], *, rule: str
) -> tuple[DecodedTags, DecodedTags]:
    """Decode both sides with one shared code table (inputs already checked)."""
    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is not one of {list(RULES)}")
    tags = None
    if rule == "strict":
        predictions, references, tags = _as_seqeval_strict(predictions, references, None)
    code, types = _code_table(predictions, references, tags)
    starts = [0, *itertools.accumulate(len(seq) + 1 for seq in references)][:-1]
    pattern = _CHUNK[rule]
    out = []
    for sequences in (predictions, references):
        flat = _encode(sequences, code)
        base = _type_base(types)
        chunks = [(m.start() >> 1, m.end() >> 1, types[_type_index(ord(m.group(1)), base)])
                  for m in pattern.finditer(flat)]
        out.append(DecodedTags(chunks=chunks, starts=starts))
    return out[0], out[1]


def decode_tags(sequences: Sequence[Sequence[str]], *, rule: str, field: str = "references", check: bool = True) -> DecodedTags:
    """Decode IOB2 sequences into chunks under ``rule`` (``"lenient"`` or ``"strict"``)."""
    if check:
        check_sequences(sequences, field=field)
    return decode_pair(sequences, sequences, rule=rule)[1]


def chunk_types(sequences: Sequence[Sequence[str]], *, rule: str) -> list[str]:
    """The type of every chunk (no offsets), straight from the joined raw tags.

    Example:
        >>> chunk_types([["B-PER", "I-PER", "I-LOC"], ["I-LOC", "B-LOC"]], rule="lenient")
        ['PER', 'LOC', 'LOC', 'LOC']
    """
    raw = "\n\n".join(map("\n".join, sequences)) + "\n"
    return _RAW_CHUNK[rule].findall(raw)


@dataclass(frozen=True)
class ChunkCounts:
    """Micro and per-type counts of a strict (same offsets and type) comparison."""

    tp: Counter
    pred: Counter
    gold: Counter
    extraction_tp: int


def count_exact(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]], *, rule: str, tags: set[str] | None = None
) -> ChunkCounts:
    """Strict chunk counts without positions where they are not needed (inputs already checked).

    ``tags`` (optional) is a superset of the tags in use, as returned by :func:`check_pair`.

    Each tag becomes one integer (``O`` = 0, ``B-<type k>`` = 2k + 1, ``I-<type k>`` = 2k + 2), one
    C-level pass per side; a prediction equal to its reference is not encoded again (its codes are
    the reference's). Chunks are then found and matched with numpy (see :func:`_chunks`): a
    predicted chunk hits a gold chunk that starts at the same token with the same end and type.

    Example:
        >>> c = count_exact([["B-PER", "O"], ["B-LOC", "I-LOC"]], [["B-PER", "O"], ["B-LOC", "O"]], rule="lenient")
        >>> dict(c.tp), dict(c.pred), dict(c.gold), c.extraction_tp
        ({'PER': 1}, {'LOC': 1, 'PER': 1}, {'LOC': 1, 'PER': 1}, 1)
    """
    import numpy as np

    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is not one of {list(RULES)}")
    encoding = getattr(tags, "encoding", None)
    if encoding is not None and (encoding.predictions is not predictions or encoding.references is not references):
        encoding = None  # checked other lists (e.g. before evaluate stored them)
    if rule == "strict":
        renamed = _as_seqeval_strict(predictions, references, tags)
        if renamed[0] is not predictions:
            encoding = None
        predictions, references, tags = renamed
    if tags is None:
        tags = set(itertools.chain.from_iterable(predictions)) | set(itertools.chain.from_iterable(references))
    types = sorted({tag[2:] for tag in tags if tag != "O"})
    code = {"O": 0}
    for k, name in enumerate(types):
        code["B-" + name] = 2 * k + 1
        code["I-" + name] = 2 * k + 2
    narrow = 2 * len(types) < 256

    def encode(sequences: Sequence[Sequence[str]]):
        codes = map(code.__getitem__, itertools.chain.from_iterable(sequences))
        if narrow:  # bytes() of small ints is about twice as fast as np.fromiter
            return np.frombuffer(bytes(codes), dtype=np.uint8)
        return np.frombuffer(array.array("q", codes), dtype=np.int64)

    lengths = np.fromiter(map(len, references), dtype=np.int64, count=len(references))
    n = int(lengths.sum())
    if encoding is not None:  # the ids check_pair gave each token -> codes
        lookup = np.array([code[tag] for tag in encoding.tags], dtype=np.uint8 if narrow else np.int64)
        gold = lookup[np.frombuffer(encoding.gold_ids, dtype=np.uint8)]
        differ = np.array(encoding.differ, dtype=bool)
    else:
        gold = encode(references)
        differ = np.fromiter(map(operator.ne, predictions, references), dtype=bool, count=len(references))
    pred = gold
    if differ.any():
        pred = gold.copy()
        if encoding is not None:
            pred[np.repeat(differ, lengths)] = lookup[np.frombuffer(encoding.pred_ids, dtype=np.uint8)]
        else:
            pred[np.repeat(differ, lengths)] = encode(list(itertools.compress(predictions, differ.tolist())))
    first = np.zeros(n, dtype=bool)
    first[(np.cumsum(lengths) - lengths)[lengths > 0]] = True  # a sentence's first token continues nothing
    g_start, g_end, g_kind = _chunks(gold, first, rule=rule)
    p_start, p_end, p_kind = (g_start, g_end, g_kind) if pred is gold else _chunks(pred, first, rule=rule)
    # chunks never overlap on one side: a gold chunk is found by the predicted chunk starting at its first token
    if len(p_start):
        at = np.minimum(np.searchsorted(p_start, g_start), len(p_start) - 1)
        same_span = (p_start[at] == g_start) & (p_end[at] == g_end)
        hit = same_span & (p_kind[at] == g_kind)
    else:
        same_span = hit = np.zeros(len(g_start), dtype=bool)
    n_types = len(types)

    def named(kinds) -> Counter:
        counts = np.bincount(kinds, minlength=n_types).tolist() if n_types else []
        return Counter({types[k]: c for k, c in enumerate(counts) if c})

    return ChunkCounts(tp=named(g_kind[hit]), pred=named(p_kind), gold=named(g_kind),
                       extraction_tp=int(same_span.sum()))


def _chunks(codes, first, *, rule: str) -> tuple:
    """``(starts, ends, kinds)`` of the chunks in integer tag codes (see :func:`count_exact`).

    A token continues a chunk when it is ``I-X`` (an even code ``c``) right after ``B-X`` or ``I-X``
    (code ``c - 1`` or ``c``) in the same sentence; every other non-``O`` token starts a run
    (``"strict"`` keeps the runs that start with ``B-``). The codes stay in their own (narrow) dtype.

    >>> import numpy as np
    >>> codes = np.array([1, 2, 2, 0, 2, 4, 3, 4], dtype=np.uint8)  # B-a I-a I-a O I-a I-b B-b I-b
    >>> [a.tolist() for a in _chunks(codes, np.zeros(8, dtype=bool), rule="lenient")]
    [[0, 4, 5, 6], [3, 5, 6, 8], [0, 0, 1, 1]]
    >>> [a.tolist() for a in _chunks(codes, np.zeros(8, dtype=bool), rule="strict")]
    [[0, 6], [3, 8], [0, 1]]
    """
    import numpy as np

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
