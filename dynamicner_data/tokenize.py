"""Tokens with character offsets, and IOB2 tags derived from the same character spans.

Tokenization, for traditional token classifiers:

- ``zh``, ``ja`` and ``ko``: every non-whitespace character is a token (with any combining marks
  that follow it). Korean is written with spaces, but particles attach to the noun before them
  ("한강은" = "한강" + topic particle), so entity ends fall inside space-delimited words; like
  KLUE-NER, Korean is tagged per character (here without whitespace tokens).
- every other language: a Unicode word/punctuation split; a token is a run of word characters
  (letters, digits, ``_``, combining marks) or a single other non-space character.
  "D.C." gives ``D``, ``.``, ``C``, ``.``.

Whitespace is never a token, and ``text[token.start:token.end] == token.text``.

IOB2 tags (``B-x`` / ``I-x`` / ``O``) come from character spans ``(start, end, label)``:
an entity covers the tokens inside ``[start, end)``. Spans are applied longest first; a span whose
start or end falls inside a token (``misaligned``), that overlaps an already tagged span
(``overlapping``) or that was never placed (``start == -1``, ``unaligned``) is skipped and counted
in :class:`BioTags`. Decoding the tags (e.g. with ``seqeval``) gives back exactly the spans that
were applied.

Example:
    >>> toks = tokenize("Le Guin visited Washington, D.C. in 1999.", "en")
    >>> [t.text for t in toks]
    ['Le', 'Guin', 'visited', 'Washington', ',', 'D', '.', 'C', '.', 'in', '1999', '.']
    >>> bio = bio_tags(toks, [(0, 7, "author"), (16, 32, "city"), (36, 38, "year")])
    >>> bio.tags
    ['B-author', 'I-author', 'O', 'B-city', 'I-city', 'I-city', 'I-city', 'I-city', 'I-city', 'O', 'O', 'O']
    >>> bio.misaligned
    1
    >>> [t.text for t in tokenize("东京 大学", "zh")]
    ['东', '京', '大', '学']
    >>> ko = tokenize("한강은 서울을 흐른다.", "ko")
    >>> [t.text for t in ko]
    ['한', '강', '은', '서', '울', '을', '흐', '른', '다', '.']
    >>> bio_tags(ko, [(0, 2, "river"), (4, 6, "city")]).tags[:6]
    ['B-river', 'I-river', 'O', 'B-city', 'I-city', 'O']
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate
from collections import abc
from typing import NamedTuple, Sequence

import numpy as np
import pyarrow as pa

__all__ = [
    "Token",
    "TokenColumns",
    "tokenize",
    "tokenize_columns",
    "BioTags",
    "bio_tags",
    "TokenBatch",
    "tokenize_batch",
    "BioBatch",
    "bio_batch",
    "CHARACTER_LANGUAGES",
]

CHARACTER_LANGUAGES: frozenset[str] = frozenset({"zh", "ja", "ko"})  # tokenized per character

_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e" \
         "\u1ab0-\u1aff\u1dc0-\u1dff\u200c\u200d\u20d0-\u20ff\u3099\u309a\ufe00-\ufe0f\ufe20-\ufe2f"
# ``pattern.split(text)`` alternates whitespace and tokens: [space, token, space, token, ..., space]
# (a token never starts with whitespace, so the whitespace between two tokens is one part);
# offsets are running sums of the part lengths
_WORD_SPLIT = re.compile(rf"([\w{_MARKS}]+|[^\w\s{_MARKS}][{_MARKS}]*)")
_PLAIN_WORD_SPLIT = re.compile(r"(\w+|\S)")  # the same split for text without combining marks
_ANY_MARK = re.compile(rf"[{_MARKS}]")
_CHAR_SPLIT = re.compile(rf"([^\s][{_MARKS}]*)")


class Token(NamedTuple):
    text: str
    start: int
    end: int


def _base_language(language: str) -> str:
    return language.replace("_", "-").split("-", 1)[0].lower()


class TokenColumns(NamedTuple):
    """The same tokens as parallel lists (cheaper to build and to hand to Arrow)."""

    texts: list[str]
    starts: list[int]
    ends: list[int]


def tokenize_columns(text: str, language: str) -> TokenColumns:
    """Tokens of ``text`` as parallel lists of strings, start and end offsets.

    >>> tokenize_columns("Hi , you", "en")
    TokenColumns(texts=['Hi', ',', 'you'], starts=[0, 3, 5], ends=[2, 4, 8])
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize() needs a str, got {type(text).__name__}")
    parts = _pattern(text, language).split(text)
    bounds = list(accumulate(map(len, parts)))
    return TokenColumns(parts[1::2], bounds[0:-1:2], bounds[1::2])


def _pattern(text: str, language: str) -> re.Pattern[str]:
    if _base_language(language) in CHARACTER_LANGUAGES:
        return _CHAR_SPLIT
    # without combining marks both patterns split alike (marks are neither word characters nor spaces)
    return _PLAIN_WORD_SPLIT if text.isascii() or not _ANY_MARK.search(text) else _WORD_SPLIT


def tokenize(text: str, language: str) -> list[Token]:
    """Split ``text`` into :class:`Token` s with exclusive character offsets.

    >>> tokenize("Don't stop", "en")
    [Token(text='Don', start=0, end=3), Token(text="'", start=3, end=4), Token(text='t', start=4, end=5), Token(text='stop', start=6, end=10)]
    """
    cols = tokenize_columns(text, language)
    return list(map(Token, cols.texts, cols.starts, cols.ends))


@dataclass(frozen=True)
class BioTags:
    """IOB2 tags, one per token, and the spans that could not be tagged (by reason)."""

    tags: list[str]
    misaligned: int = 0
    overlapping: int = 0
    unaligned: int = 0

    @property
    def skipped(self) -> int:
        return self.misaligned + self.overlapping + self.unaligned


def bio_tags(tokens: Sequence[Token] | TokenColumns, spans: Sequence[tuple[int, int, str]]) -> BioTags:
    """IOB2 tags for ``tokens`` from character ``spans`` ``(start, end, label)``; see the module docstring.

    >>> toks = tokenize("New York City", "en")
    >>> bio_tags(toks, [(0, 8, "city"), (0, 13, "city"), (-1, -1, "city")])
    BioTags(tags=['B-city', 'I-city', 'I-city'], misaligned=0, overlapping=1, unaligned=1)
    """
    if isinstance(tokens, TokenColumns):
        starts, ends = tokens.starts, tokens.ends
    else:
        starts = [t.start for t in tokens]
        ends = [t.end for t in tokens]
    n = len(starts)
    tags = ["O"] * n
    misaligned = overlapping = unaligned = 0
    ordered = []
    for span in spans:
        start, end, label = span
        if not label:
            raise ValueError(f"span {span!r}: empty label")
        if start == -1 and end == -1:
            unaligned += 1
        elif not 0 <= start < end:
            raise ValueError(f"span {span!r}: need 0 <= start < end (end exclusive), or -1, -1 for unplaced")
        else:
            ordered.append((start - end, start, end, label))
    if len(ordered) > 1:
        ordered = sorted(set(ordered))  # longest first, then left to right; a span annotated twice is one entity
    for _, start, end, label in ordered:
        first = bisect_left(starts, start)
        last = bisect_right(ends, end)  # tokens [first, last) lie inside the span
        if first >= n or starts[first] != start or last <= first or ends[last - 1] != end:
            misaligned += 1
        elif tags[first:last].count("O") != last - first:
            overlapping += 1
        else:
            tags[first] = "B-" + label
            if last - first > 1:
                tags[first + 1:last] = ["I-" + label] * (last - first - 1)
    return BioTags(tags=tags, misaligned=misaligned, overlapping=overlapping, unaligned=unaligned)


# ---------------------------------------------------------------------------- whole batches
_SEPARATOR = "\n"  # joins the texts of a batch: whitespace, so no token ever crosses it


@dataclass(frozen=True)
class TokenBatch:
    """The tokens of many texts at once (what :func:`tokenize_columns` gives for each, concatenated).

    ``tokens`` holds the token strings as one Arrow array. Offsets are global: into the texts
    joined by one newline. ``text_starts[r]`` is where text ``r`` begins in that string, and its
    tokens are ``tokens[row_offsets[r]:row_offsets[r + 1]]``.
    """

    tokens: pa.StringArray
    starts: np.ndarray
    ends: np.ndarray
    row_offsets: np.ndarray
    text_starts: np.ndarray
    text_lengths: np.ndarray

    @property
    def texts(self) -> list[str]:
        """The token strings as Python strings (built on demand; the builder uses :attr:`tokens`)."""
        return self.tokens.to_pylist()

    def row(self, r: int) -> TokenColumns:
        """The tokens of text ``r`` with offsets into that text (as :func:`tokenize_columns` gives them)."""
        a, b = int(self.row_offsets[r]), int(self.row_offsets[r + 1])
        base = int(self.text_starts[r])
        return TokenColumns(
            self.tokens[a:b].to_pylist(), (self.starts[a:b] - base).tolist(), (self.ends[a:b] - base).tolist()
        )


# character classes of the split, per code point
_SPACE, _WORD, _MARK, _OTHER, _ATTACHED = 0, 1, 2, 3, 4
_BMP_CLASSES: np.ndarray | None = None


def _classify(chars: str) -> np.ndarray:
    """The class of each character of ``chars``, decided by the same regular expressions as the split."""
    out = np.full(len(chars), _OTHER, dtype=np.int8)
    for pattern, cls in ((_ANY_WORD, _WORD), (_ANY_SPACE, _SPACE), (_ANY_MARK, _MARK)):  # marks win
        hits = [m.start() for m in pattern.finditer(chars)]
        out[hits] = cls
    return out


_ANY_WORD = re.compile(r"\w")
_ANY_SPACE = re.compile(r"\s")


def _classes(code_points: np.ndarray) -> np.ndarray:
    """Classes of code points: a table for the Basic Multilingual Plane, the rest one by one."""
    global _BMP_CLASSES
    if _BMP_CLASSES is None:
        _BMP_CLASSES = _classify("".join(map(chr, range(0x10000))))
    astral = code_points >= 0x10000
    if not astral.any():
        return _BMP_CLASSES[code_points]
    out = _BMP_CLASSES[np.where(astral, 0, code_points)]
    rare, where = np.unique(code_points[astral], return_inverse=True)
    out[astral] = _classify("".join(map(chr, rare.tolist())))[where]
    return out


def _utf8_lengths(code_points: np.ndarray) -> np.ndarray:
    """Bytes of each code point in UTF-8 (1 to 4)."""
    out = np.ones(len(code_points), dtype=np.uint8)
    for bound in (0x80, 0x800, 0x10000):
        out += code_points >= bound
    return out


def tokenize_batch(texts: Sequence[str], language: str) -> TokenBatch:
    """Tokenize every text of ``texts`` (one language) at once, with array operations.

    Equal to :func:`tokenize_columns` text by text (the regular expressions decide each
    character's class: word, space, combining mark or other); the token strings are cut from
    the UTF-8 bytes of the texts straight into an Arrow array, with no Python string per token.

    >>> batch = tokenize_batch(["Hi , you", "", "Ana ."], "en")
    >>> batch.tokens.to_pylist(), batch.row_offsets.tolist()
    (['Hi', ',', 'you', 'Ana', '.'], [0, 3, 3, 5])
    >>> batch.row(2)
    TokenColumns(texts=['Ana', '.'], starts=[0, 4], ends=[3, 5])
    >>> marked = tokenize_batch(["te" + chr(0x301) + " !" + chr(0x301) + "x"], "fr")  # combining accents
    >>> [len(t) for t in marked.texts], marked.starts.tolist()
    ([3, 2, 1], [0, 4, 6])
    """
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"tokenize_batch() needs strings, got {type(text).__name__} at index {i}")
    joined = _SEPARATOR.join(texts)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    cls = _classes(cps)
    nonspace = cls != _SPACE
    previous = np.empty_like(cls)
    if len(cls):
        previous[0] = _SPACE
        previous[1:] = cls[:-1]
    is_mark = cls == _MARK
    if _base_language(language) in CHARACTER_LANGUAGES:
        # a token is any non-space character with the marks that follow it
        starts_mask = nonspace & ~(is_mark & (previous != _SPACE))
    else:
        if is_mark.any():
            # a mark takes the class of the last non-mark before it: attached to an "other"
            # character, else part of a word run (also when it follows a space: it starts one)
            anchor = np.where(is_mark, -1, np.arange(len(cls)))
            np.maximum.accumulate(anchor, out=anchor)
            owner = np.where(anchor >= 0, cls[np.maximum(anchor, 0)], _SPACE)
            cls = np.where(is_mark, np.where(owner == _OTHER, _ATTACHED, _WORD), cls).astype(np.int8)
            previous[1:] = cls[:-1]
        starts_mask = (cls == _OTHER) | ((cls == _WORD) & (previous != _WORD))
    starts = np.flatnonzero(starts_mask)
    # a token runs over non-space characters up to the next token start or space
    next_breaks = np.empty(len(cls), dtype=bool)
    if len(cls):
        next_breaks[:-1] = starts_mask[1:] | ~nonspace[1:]
        next_breaks[-1] = True
    ends = np.flatnonzero(nonspace & next_breaks) + 1
    # token strings: the UTF-8 bytes of the non-space characters are the tokens back to back
    byte_pos = np.zeros(len(cls) + 1, dtype=np.int64)
    utf8 = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    if len(utf8) == len(cps):  # ASCII: one byte per character
        np.cumsum(nonspace, out=byte_pos[1:])
        data = utf8[nonspace]
    else:
        widths = _utf8_lengths(cps)
        np.cumsum(widths * nonspace, out=byte_pos[1:])
        data = utf8[np.repeat(nonspace, widths)]
    if byte_pos[-1] > np.iinfo(np.int32).max:
        raise ValueError("tokenize_batch(): more than 2 GiB of token text in one batch; use smaller batches")
    value_offsets = np.append(byte_pos[starts], byte_pos[-1]).astype(np.int32)
    tokens = pa.StringArray.from_buffers(len(starts), pa.py_buffer(value_offsets), pa.py_buffer(data))
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    text_starts = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        np.cumsum(lengths[:-1] + 1, out=text_starts[1:])
    row_offsets = np.empty(len(texts) + 1, dtype=np.int64)
    row_offsets[:-1] = np.searchsorted(starts, text_starts, side="left")
    row_offsets[-1] = len(starts)
    return TokenBatch(tokens, starts.astype(np.int64), ends.astype(np.int64), row_offsets, text_starts, lengths)


class _Lookup(abc.Sequence):
    """``table[ids[k]]`` as a read-only sequence (labels given as indices)."""

    def __init__(self, table: Sequence[str], ids: np.ndarray) -> None:
        self.table, self.ids = table, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, k):  # type: ignore[override]
        return self.table[int(self.ids[k])]

    def __iter__(self):
        return map(self.table.__getitem__, self.ids.tolist())


@dataclass(frozen=True)
class BioBatch:
    """IOB2 tags of a whole :class:`TokenBatch`: one code per token, ``names[code]`` its tag.

    Code 0 is ``O``; the counts are those :func:`bio_tags` gives, summed over the texts.
    """

    codes: np.ndarray
    names: list[str]
    misaligned: int = 0
    overlapping: int = 0
    unaligned: int = 0


def bio_batch(
    tokens: TokenBatch,
    entity_offsets: Sequence[int],
    starts: Sequence[int],
    ends: Sequence[int],
    labels: Sequence[str] | np.ndarray,
    *,
    label_table: Sequence[str] | None = None,
) -> BioBatch:
    """IOB2 tags of every text of ``tokens`` at once, equal to :func:`bio_tags` text by text.

    The spans of text ``r`` are ``starts/ends/labels[entity_offsets[r]:entity_offsets[r + 1]]``
    (character offsets into that text); with ``label_table``, ``labels`` are indices into it
    (no string per entity). Spans are placed on tokens with array searches; texts
    where two placeable spans overlap (nested or repeated annotations) go through
    :func:`bio_tags`, whose longest-first rule decides.

    >>> batch = tokenize_batch(["New York City", "Ana met Bo"], "en")
    >>> bio = bio_batch(batch, [0, 2, 4], [0, 0, 0, 8], [8, 13, 3, 10], ["city", "city", "person", "person"])
    >>> [bio.names[c] for c in bio.codes]
    ['B-city', 'I-city', 'I-city', 'B-person', 'O', 'B-person']
    >>> bio.overlapping, bio.misaligned
    (1, 0)
    """
    offsets = np.asarray(entity_offsets, dtype=np.int64)
    rows_count = len(offsets) - 1
    if rows_count != len(tokens.text_starts):
        raise ValueError(f"entity_offsets describe {rows_count} texts, the token batch has {len(tokens.text_starts)}")
    count = int(offsets[-1]) if rows_count >= 0 else 0
    if not (len(starts) == len(ends) == len(labels) == count):
        raise ValueError(f"need {count} starts, ends and labels, got {len(starts)}, {len(ends)} and {len(labels)}")
    names = ["O"]
    code_of: dict[str, int] = {}  # label -> its B code (I is B + 1)

    def code(label: str) -> int:
        c = code_of.get(label)
        if c is None:
            c = code_of[label] = len(names)
            names.extend(("B-" + label, "I-" + label))
        return c

    if label_table is not None:  # labels are indices into label_table: one code per distinct label
        label_ids = np.asarray(labels, dtype=np.int64).reshape(count)
        code_of_id = np.zeros(len(label_table), dtype=np.int64)
        for k in np.unique(label_ids).tolist():
            code_of_id[k] = code(label_table[k])
        label_codes = code_of_id[label_ids]
        labels = _Lookup(label_table, label_ids)
        empty = [k for k, label in enumerate(label_table) if not label]
        bad_labels = np.flatnonzero(np.isin(label_ids, empty)) if empty else ()
    else:
        label_codes = np.fromiter(map(code, labels), dtype=np.int64, count=count) if count else np.zeros(0, np.int64)
        bad_labels = [i for i, label in enumerate(labels) if not label] if count and not all(labels) else ()
    if len(bad_labels):
        k = int(bad_labels[0])
        raise ValueError(f"span {(starts[k], ends[k], labels[k])!r}: empty label")
    s = np.asarray(starts, dtype=np.int64).reshape(count)
    e = np.asarray(ends, dtype=np.int64).reshape(count)
    placed = ~((s == -1) & (e == -1))
    bad = placed & ~((s >= 0) & (s < e))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"span {(starts[k], ends[k], labels[k])!r}: need 0 <= start < end (end exclusive), or -1, -1 for unplaced"
        )
    n_tok = len(tokens.starts)
    codes = np.zeros(n_tok, dtype=np.int64)
    rows = np.repeat(np.arange(rows_count), np.diff(offsets))
    base = tokens.text_starts[rows]
    gs, ge = s + base, e + base
    first = np.searchsorted(tokens.starts, gs, side="left")
    last = np.searchsorted(tokens.ends, ge, side="right")
    if n_tok:
        ok = (
            placed
            & (first < n_tok)
            & (last > first)
            & (e <= tokens.text_lengths[rows])
            & (tokens.starts[np.minimum(first, n_tok - 1)] == gs)
            & (tokens.ends[np.maximum(last - 1, 0)] == ge)
        )
    else:
        ok = np.zeros(count, dtype=bool)
    # texts whose placeable spans touch each other: decided span by span by bio_tags
    placeable = np.flatnonzero(ok)
    fallback = np.zeros(rows_count, dtype=bool)
    if len(placeable) > 1:
        order = placeable[np.lexsort((ge[placeable], gs[placeable]))]
        reach = np.maximum.accumulate(ge[order])
        clash = gs[order][1:] < reach[:-1]
        fallback[rows[order][1:][clash]] = True
    in_fallback = fallback[rows]
    # a span annotated twice is one span (as in bio_tags); misaligned spans are few
    misaligned = len({(int(rows[k]), int(s[k]), int(e[k]), labels[k]) for k in np.flatnonzero(placed & ~ok & ~in_fallback)})
    overlapping = 0
    apply = np.flatnonzero(ok & ~in_fallback)
    if len(apply):
        b_first, b_last, b_code = first[apply], last[apply], label_codes[apply]
        codes[b_first] = b_code
        inner = b_last - b_first - 1
        total = int(inner.sum())
        if total:
            starts_of_runs = np.repeat(b_first + 1 - np.cumsum(inner) + inner, inner)
            codes[starts_of_runs + np.arange(total)] = np.repeat(b_code + 1, inner)
    for r in np.flatnonzero(fallback).tolist():
        a, b = int(offsets[r]), int(offsets[r + 1])
        spans = [(int(s[k]), int(e[k]), labels[k]) for k in range(a, b)]
        single = bio_tags(tokens.row(r), spans)
        misaligned += single.misaligned
        overlapping += single.overlapping
        row_codes = [0 if tag == "O" else code(tag[2:]) + (tag[0] == "I") for tag in single.tags]
        codes[int(tokens.row_offsets[r]):int(tokens.row_offsets[r + 1])] = row_codes
    unaligned = int(count - np.count_nonzero(placed))
    return BioBatch(codes=codes, names=names, misaligned=misaligned, overlapping=overlapping, unaligned=unaligned)
