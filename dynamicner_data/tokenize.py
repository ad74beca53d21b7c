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
from collections import abc
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from typing import Literal, NamedTuple, Sequence

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

    @cached_property
    def texts(self) -> list[str]:
        """The token strings as Python strings, made on first use (the builder uses :attr:`tokens`)."""
        return self.tokens.to_pylist()

    def row(self, r: int) -> TokenColumns:
        """The tokens of text ``r`` with offsets into that text (as :func:`tokenize_columns` gives them)."""
        a, b = int(self.row_offsets[r]), int(self.row_offsets[r + 1])
        base = int(self.text_starts[r])
        return TokenColumns(
            self.tokens[a:b].to_pylist(), (self.starts[a:b] - base).tolist(), (self.ends[a:b] - base).tolist()
        )


# Character classes of the split. Every character is a word character (``\w``), whitespace
# (``\s``), a combining mark (``_MARKS``) or other; the batch split resolves each mark to the
# class of the run it joins: part of a word, or ``_ATTACHED`` to the "other" character before it.
_SPACE, _WORD, _MARK, _OTHER, _ATTACHED = 0, 1, 2, 3, 4
_ANY_WORD = re.compile(r"\w")
_ANY_SPACE = re.compile(r"\s")
_BMP_CLASSES: np.ndarray | None = None  # class of each code point below 0x10000, built on first use
_BYTE_CLASSES: bytes | None = None  # class of each UTF-8 byte value (ASCII; the others per batch)
# units="auto": a batch is split byte by byte when its multi-byte characters add at most one UTF-8
# byte per this many characters (English, French, ...), else character by character (Chinese, Russian, ...)
_BYTE_UNITS_SHARE = 8


def _classify(chars: str) -> np.ndarray:
    """The class of each character of ``chars``, decided by the same regular expressions as the split.

    >>> _classify("a \u0301.").tolist() == [_WORD, _SPACE, _MARK, _OTHER]
    True
    """
    out = np.full(len(chars), _OTHER, dtype=np.int8)
    for pattern, cls in ((_ANY_WORD, _WORD), (_ANY_SPACE, _SPACE), (_ANY_MARK, _MARK)):  # marks win
        hits = [m.start() for m in pattern.finditer(chars)]
        out[hits] = cls
    return out


def _classes(code_points: np.ndarray) -> np.ndarray:
    """Classes of code points: a table for the Basic Multilingual Plane, the other distinct ones by regex."""
    global _BMP_CLASSES
    if _BMP_CLASSES is None:
        _BMP_CLASSES = _classify("".join(map(chr, range(0x10000))))
    astral = code_points >= 0x10000
    if not astral.any():
        return np.take(_BMP_CLASSES, code_points)
    out = np.take(_BMP_CLASSES, np.where(astral, 0, code_points))
    rare, where = np.unique(code_points[astral], return_inverse=True)
    out[astral] = _classify("".join(map(chr, rare.tolist())))[where]
    return out


def _byte_classes() -> bytes:
    """Classes of the 256 byte values (a ``bytes.translate`` table): ASCII ones from the regexes, the rest a placeholder."""
    global _BYTE_CLASSES
    if _BYTE_CLASSES is None:
        table = np.full(256, _ATTACHED, dtype=np.int8)
        table[:128] = _classes(np.arange(128, dtype=np.uint32))
        _BYTE_CLASSES = table.tobytes()
    return _BYTE_CLASSES


def _utf8_widths(code_points: np.ndarray) -> np.ndarray:
    """Bytes of each code point in UTF-8 (1 to 4).

    >>> _utf8_widths(np.array([0x41, 0xE9, 0x6771, 0x1F600], dtype=np.uint32)).tolist()
    [1, 2, 3, 4]
    """
    out = np.ones(len(code_points), dtype=np.uint8)
    for bound in (0x80, 0x800, 0x10000):
        out += code_points >= bound
    return out


def _decode_utf8(data: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code points and widths of the multi-byte UTF-8 characters whose first bytes are at ``first``.

    >>> data = np.frombuffer("aé東😀".encode("utf-8"), dtype=np.uint8)
    >>> [r.tolist() for r in _decode_utf8(data, np.array([1, 3, 6]))]
    [[233, 26481, 128512], [2, 3, 4]]
    """
    lead = data[first].astype(np.uint32)
    widths = 2 + (lead >= 0xE0).astype(np.int64) + (lead >= 0xF0)
    code_points = lead & (0x7F >> widths).astype(np.uint32)  # payload bits of the first byte
    last = len(data) - 1
    for k in (1, 2, 3):
        payload = data[np.minimum(first + k, last)].astype(np.uint32) & 0x3F
        code_points = np.where(widths > k, (code_points << 6) | payload, code_points)
    return code_points, widths


def _steps(values: np.ndarray, breaks: np.ndarray, size: int) -> np.ndarray:
    """``size`` entries: ``values[0]`` before ``breaks[0]``, ``values[i]`` from ``breaks[i - 1]`` on.

    >>> _steps(np.array([0, 5, 7]), np.array([2, 3]), 5).tolist()
    [0, 0, 5, 7, 7]
    """
    return np.repeat(values, np.diff(breaks, prepend=0, append=size))


def _bounds(cls: np.ndarray, *, per_character: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token starts, token ends (exclusive) and the non-space mask of a sequence of unit classes.

    Units are characters, or UTF-8 bytes whose continuation bytes carry a class that never starts
    a token (``_ATTACHED``, or the character's own class where that continues a run). A token is
    ``_WORD_SPLIT``'s ``[\\w MARKS]+`` or ``[^\\w\\s MARKS][MARKS]*`` (``_CHAR_SPLIT``'s
    ``[^\\s][MARKS]*`` with ``per_character``).

    >>> units = _classify("ab .\u0301c \u0301d")
    >>> [r.tolist() for r in _bounds(units, per_character=False)[:2]]
    [[0, 3, 5, 7], [2, 5, 6, 9]]
    >>> [r.tolist() for r in _bounds(units, per_character=True)[:2]]
    [[0, 1, 3, 5, 7, 8], [1, 2, 5, 6, 8, 9]]
    """
    n = len(cls)
    previous = np.empty_like(cls)
    if n:
        previous[0] = _SPACE  # the start of the batch is like a space before it
        previous[1:] = cls[:-1]
    space = cls == _SPACE
    is_mark = cls == _MARK
    if per_character:
        # any non-space character starts a token, except a mark after a non-space character
        starts_mask = ~space & (cls != _ATTACHED)
        if is_mark.any():
            starts_mask &= ~(is_mark & (previous != _SPACE))
    else:
        if is_mark.any():
            # a mark joins the run of the last non-mark unit before it: attached to an "other"
            # character, else a word (also after a space or at the start, where it begins one)
            anchor = np.where(is_mark, -1, np.arange(n))
            np.maximum.accumulate(anchor, out=anchor)
            owner = np.where(anchor >= 0, cls[np.maximum(anchor, 0)], _SPACE)
            attached = (owner == _OTHER) | (owner == _ATTACHED)
            cls = np.where(is_mark, np.where(attached, _ATTACHED, _WORD), cls).astype(np.int8)
            previous[1:] = cls[:-1]
        # a word run starts after a non-word unit; an "other" character is a token of its own
        starts_mask = (cls == _OTHER) | ((cls == _WORD) & (previous != _WORD))
    nonspace = ~space
    # a token ends before a space, before the next token's start, or at the end
    ends_mask = np.zeros(n + 1, dtype=bool)
    if n:
        ends_mask[1:n] = nonspace[:-1] & (space[1:] | starts_mask[1:])
        ends_mask[n] = nonspace[-1]
    return np.flatnonzero(starts_mask), np.flatnonzero(ends_mask), nonspace


def tokenize_batch(
    texts: Sequence[str], language: str, *, units: Literal["auto", "bytes", "characters"] = "auto"
) -> TokenBatch:
    """Tokenize every text of ``texts`` (one language) at once, with array operations.

    Equal to :func:`tokenize_columns` text by text: the same regular expressions decide the class
    of each distinct character (word, space, combining mark or other), and the token rule of
    ``_WORD_SPLIT`` / ``_CHAR_SPLIT`` is applied with numpy over the whole batch, either over the
    UTF-8 bytes of the texts (multi-byte characters decoded one by one; faster for mostly ASCII
    text) or over their code points (faster when most characters take several bytes):
    ``units="auto"`` picks by the share of multi-byte characters, ``"bytes"`` and ``"characters"``
    force one (the tokens are the same). The token strings are the UTF-8 bytes of the texts without
    their whitespace (every other character belongs to exactly one token, so the tokens lie back
    to back there): one Arrow ``string`` array built from buffers, with no Python string per token.

    Raises :class:`ValueError` when the tokens of one batch hold more than 2 GiB of UTF-8 (the
    int32 offsets of ``pa.string()``; split the batch), and :class:`UnicodeEncodeError` for a lone
    surrogate (not representable in UTF-8, nor in Arrow).

    >>> batch = tokenize_batch(["Hi , you", "", "Ana ."], "en")
    >>> batch.tokens.to_pylist(), batch.row_offsets.tolist()
    (['Hi', ',', 'you', 'Ana', '.'], [0, 3, 3, 5])
    >>> batch.tokens.type, batch.starts.tolist(), batch.ends.tolist()
    (DataType(string), [0, 3, 5, 10, 14], [2, 4, 8, 13, 15])
    >>> batch.row(2)
    TokenColumns(texts=['Ana', '.'], starts=[0, 4], ends=[3, 5])
    >>> marked = tokenize_batch(["te" + chr(0x301) + " !" + chr(0x301) + "x"], "fr")  # combining accents
    >>> [len(t) for t in marked.texts], marked.starts.tolist()
    ([3, 2, 1], [0, 4, 6])
    >>> tokenize_batch(["東京 タワー", "LG전자"], "ja").tokens.to_pylist()
    ['東', '京', 'タ', 'ワ', 'ー', 'L', 'G', '전', '자']
    >>> tokenize_batch(["東京 タワー", "LG전자"], "ja", units="bytes").tokens.to_pylist()
    ['東', '京', 'タ', 'ワ', 'ー', 'L', 'G', '전', '자']
    """
    if units not in ("auto", "bytes", "characters"):
        raise ValueError(f"tokenize_batch(): units must be 'auto', 'bytes' or 'characters', got {units!r}")
    try:
        joined = _SEPARATOR.join(texts)
    except TypeError:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"tokenize_batch() needs strings, got {type(text).__name__} at index {i}") from None
        raise
    encoded = joined.encode("utf-8")
    utf8 = np.frombuffer(encoded, dtype=np.uint8)
    n_chars, n_bytes = len(joined), len(utf8)
    per_character = _base_language(language) in CHARACTER_LANGUAGES
    if units == "bytes" or (units == "auto" and (n_bytes - n_chars) * _BYTE_UNITS_SHARE <= n_chars):
        # units are bytes: ASCII classes from a table; multi-byte characters decoded, their first
        # byte gets the character's class, the others one that continues it but starts nothing
        cls = np.frombuffer(bytearray(encoded).translate(_byte_classes()), dtype=np.int8)  # writable
        if n_bytes > n_chars:
            multi = np.flatnonzero(utf8 >= 0x80)
            is_first = utf8[multi] >= 0xC0
            first = multi[is_first]
            code_points, widths = _decode_utf8(utf8, first)
            char_cls = _classes(code_points)
            cls[first] = char_cls
            if per_character:
                rest = np.where(char_cls == _SPACE, _SPACE, _ATTACHED)
            else:
                rest = np.where(char_cls == _OTHER, _ATTACHED, char_cls)
            cls[multi[~is_first]] = np.repeat(rest.astype(np.int8), widths - 1)
        byte_starts, byte_ends, nonspace = _bounds(cls, per_character=per_character)
        data = np.compress(nonspace, utf8)
        value_offsets = np.zeros(len(byte_starts) + 1, dtype=np.int64)
        np.cumsum(byte_ends - byte_starts, out=value_offsets[1:])
        if n_bytes > n_chars:  # character offsets: less the continuation bytes before
            extra = np.zeros(len(first) + 1, dtype=np.int64)
            np.cumsum(widths - 1, out=extra[1:])
            starts = byte_starts - _steps(extra, np.searchsorted(byte_starts, first, side="right"), len(byte_starts))
            ends = byte_ends - _steps(extra, np.searchsorted(byte_ends, first, side="right"), len(byte_ends))
        else:
            starts, ends = byte_starts, byte_ends
    else:
        # units are code points; the bytes of the non-space ones are the token strings
        code_points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        starts, ends, nonspace = _bounds(_classes(code_points), per_character=per_character)
        widths = _utf8_widths(code_points)
        data = np.compress(np.repeat(nonspace, widths), utf8)
        kept_bytes = np.zeros(n_chars + 1, dtype=np.int64)
        np.cumsum(widths * nonspace, out=kept_bytes[1:])
        value_offsets = np.append(kept_bytes[starts], kept_bytes[-1])
    if len(data) > np.iinfo(np.int32).max:
        raise ValueError(
            f"tokenize_batch(): the tokens of this batch hold {len(data)} bytes of UTF-8, more than "
            "pa.string() offsets address (2 GiB); tokenize fewer texts at a time"
        )
    tokens = pa.StringArray.from_buffers(
        len(starts), pa.py_buffer(value_offsets.astype(np.int32)), pa.py_buffer(data)
    )
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    text_starts = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        np.cumsum(lengths[:-1] + 1, out=text_starts[1:])
    row_offsets = np.empty(len(texts) + 1, dtype=np.int64)
    row_offsets[:-1] = np.searchsorted(starts, text_starts, side="left")
    row_offsets[-1] = len(starts)
    return TokenBatch(
        tokens, starts.astype(np.int64, copy=False), ends.astype(np.int64, copy=False), row_offsets, text_starts, lengths
    )


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
