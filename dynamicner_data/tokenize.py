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
from itertools import accumulate, chain
from operator import itemgetter
from dataclasses import dataclass
from typing import NamedTuple, Sequence

__all__ = ["Token", "TokenColumns", "tokenize", "tokenize_columns", "BioTags", "bio_tags", "CHARACTER_LANGUAGES"]

CHARACTER_LANGUAGES: frozenset[str] = frozenset({"zh", "ja", "ko"})  # tokenized per character

_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e" \
         "\u1ab0-\u1aff\u1dc0-\u1dff\u200c\u200d\u20d0-\u20ff\u3099\u309a\ufe00-\ufe0f\ufe20-\ufe2f"
# each match is (whitespace before the token, the token): offsets are running sums of the lengths
_WORD_SPLIT = re.compile(rf"(\s*)([\w{_MARKS}]+|[^\w\s{_MARKS}][{_MARKS}]*)")
_ASCII_WORD_SPLIT = re.compile(r"(\s*)(\w+|\S)")  # the same split for ASCII text, without the mark classes
_CHAR_SPLIT = re.compile(rf"(\s*)([^\s][{_MARKS}]*)")


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
    if _base_language(language) in CHARACTER_LANGUAGES:
        pattern = _CHAR_SPLIT
    else:
        pattern = _ASCII_WORD_SPLIT if text.isascii() else _WORD_SPLIT
    pairs = pattern.findall(text)
    bounds = list(accumulate(map(len, chain.from_iterable(pairs))))
    return TokenColumns(list(map(itemgetter(1), pairs)), bounds[0::2], bounds[1::2])


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
