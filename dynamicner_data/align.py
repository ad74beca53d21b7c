"""Place annotated surface strings on their sentence: character offsets, by fixed rules.

A GEIC entity is a surface string without offsets (:mod:`dynamicner_data.geic`); these rules
choose where it stands. Per sentence (results are returned in input order):

1. **Exact.** Every verbatim occurrence of the surface form is a candidate. Entities with a single
   candidate are placed first; then those with several, longest surface form first (file order
   among equal lengths), so a short form does not take a place inside a longer entity placed after
   it. Among several candidates, the first by these preferences wins:

   a. it does not overlap a span already placed for another entity of the sample ("サリン" goes to
      the free "サリン", not the one inside "地下鉄サリン事件");
   b. it starts at or after the end of the previous match of the *same* surface form (repeated
      mentions are placed left to right; a further mention then falls back to anywhere);
   c. it cuts no word: no letter or digit glued to its edges ("Iran" in "Iranian ... Iran" lands on
      the second). Scripts written without spaces (Han, kana) have no such edges, and for Hangul a
      span that starts an eojeol satisfies it, since particles attach to the word ("삼성은");
   d. it is leftmost.

   If every occurrence overlaps an earlier span, the entity is a real nested annotation
   ("America" in "Bank of America"): it keeps the best such place by b-d.
2. **Fuzzy.** Not found verbatim: the same choice among the matches of a case-insensitive search
   that ignores whitespace ("washington , d.c." finds "Washington , D.C ."). Offsets map back to
   whole original characters, so ``text == sentence[start:end]`` always holds and ``text`` may
   differ from the annotated string. Fuzzy entities are placed after all exact ones.
3. **Unaligned.** Still not found: ``start = end = -1``, alignment ``"unaligned"`` (the reader keeps
   such entities, counts them and warns).

``repeated_surface_forms`` (see :class:`~dynamicner_data.geic.AlignmentReport`) counts the forms
that occur more than once (non-overlapping, verbatim) in their sentence: those are the ones the
left-to-right rule decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import add, sub
from typing import Literal

__all__ = ["Alignment", "align_entities", "place"]

Alignment = Literal["exact", "fuzzy", "unaligned"]


def _unspaced(ch: str) -> bool:
    """Han ideographs and kana: scripts written without spaces, where any two characters may meet at a word edge."""
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF  # CJK ideographs
        or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F  # katakana extensions, half-width katakana
        or 0x20000 <= o <= 0x3134F  # CJK ideographs, supplementary planes
    )


def _hangul(ch: str) -> bool:
    """Hangul syllables and jamo (Korean attaches particles to the preceding word: "삼성은")."""
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def _glued(left: str, right: str) -> bool:
    """Whether two adjacent characters belong to one word of a space-delimited script."""
    return (left.isalnum() or left == "_") and (right.isalnum() or right == "_") and not (
        _unspaced(left) or _unspaced(right))


def _on_boundaries(sentence: str, start: int, end: int) -> bool:
    """``sentence[start:end]`` cuts no word: nothing glued to its first or last character.

    Scripts written without spaces (Han, kana) have no word edges to respect; for Hangul a span
    starting an eojeol is enough (a particle may follow it).

    >>> _on_boundaries("Iranian officials met in Iran", 0, 4), _on_boundaries("Iranian officials met in Iran", 25, 29)
    (False, True)
    >>> _on_boundaries("삼성은 대구", 0, 2), _on_boundaries("東京大学", 0, 2)
    (True, True)
    """
    if start > 0 and _glued(sentence[start - 1], sentence[start]):
        return False
    if end < len(sentence):
        after = sentence[end]
        if _glued(sentence[end - 1], after) and not _hangul(after):
            return False
    return True


def _choose(sentence: str, candidates: list[tuple[int, int]], begin: int,
            taken: list[tuple[int, int]]) -> tuple[int, int]:
    """The best of several ``(start, end)`` candidates, in increasing ``start`` order (see the module docstring).

    >>> _choose("Iranian officials met in Iran", [(0, 4), (25, 29)], 0, [])
    (25, 29)
    """
    best_key: tuple[bool, bool, bool] | None = None
    best = candidates[0]
    for start, end in candidates:
        overlaps = any(start < b and a < end for a, b in taken)  # with a span placed before
        early = start < begin  # before the end of the previous match of the same form
        cuts = not _on_boundaries(sentence, start, end)
        if not (overlaps or early or cuts):
            return start, end  # the leftmost of the preferred: nothing after it does better
        key = (overlaps, early, cuts)
        if best_key is None or key < best_key:  # a tie keeps the leftmost
            best_key, best = key, (start, end)
    return best


_ASCII_KEPT = bytes(0 if chr(i).isspace() else 1 for i in range(128)) + bytes(128)  # ASCII: 1 unless whitespace


def _squeeze(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased without whitespace, and the original index of every kept character.

    >>> _squeeze("New  York")
    ('newyork', [0, 1, 2, 5, 6, 7, 8])
    >>> flat, index = _squeeze(chr(0x130) + " x")  # "İ" lower-cases to two characters
    >>> len(flat), index
    (3, [0, 0, 2])
    """
    if text.isascii():  # one character for one; kept positions by a byte mask, in C
        return "".join(text.lower().split()), list(compress(range(len(text)), text.encode().translate(_ASCII_KEPT)))
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if not ch.isspace():
            lowered = ch.lower()  # one character at a time: no final sigma, "İ" becomes two
            chars.append(lowered)
            index.extend([i] * len(lowered))
    return "".join(chars), index


def _flatten(text: str) -> str:
    """``_squeeze(text)[0]``, without the index: lower-casing the whole string is the same unless a
    capital sigma (cased by its context) is in it.

    >>> _flatten("Washington , D.C."), _flatten("ΟΔΟΣ Α")
    ('washington,d.c.', 'οδοσα')
    """
    return _squeeze(text)[0] if "\u03a3" in text else "".join(text.lower().split())


def align_entities(sentence: str, surfaces: Sequence[str]) -> list[tuple[int, int, Alignment]]:
    """``(start, end, alignment)`` for each surface form (in input order), by the rules above.

    >>> align_entities("New York is not new  york .", ["New York", "new york", "Boston"])
    [(0, 8, 'exact'), (16, 25, 'fuzzy'), (-1, -1, 'unaligned')]
    >>> align_entities("a b a", ["a", "a", "a"])
    [(0, 1, 'exact'), (4, 5, 'exact'), (0, 1, 'exact')]
    >>> align_entities("Paris Saint-Germain won in Paris .", ["Paris", "Paris Saint-Germain"])
    [(27, 32, 'exact'), (0, 19, 'exact')]
    >>> align_entities("Bank of America .", ["America", "Bank of America"])  # nested: kept
    [(8, 15, 'exact'), (0, 15, 'exact')]
    """
    starts = [sentence.find(s) if s else -1 for s in surfaces]
    lasts = [sentence.rfind(s) if s else -1 for s in surfaces]
    ends = list(map(add, starts, map(len, surfaces)))
    hows, _ = place(sentence, surfaces, starts, ends, lasts)
    return list(zip(starts, ends, hows))


def place(sentence: str, surfaces: Sequence[str], starts: list[int], ends: list[int],
          lasts: Sequence[int]) -> tuple[list[Alignment], int]:
    """Place the forms of one sentence by the rules of :func:`align_entities`: their alignments, and how
    many of them occur more than once (``sentence.count(form) > 1``).

    Given the first verbatim occurrences (``starts``, from ``sentence.find``; ``-1`` for none and for
    an empty form), their ``ends`` and the last occurrences (``lasts``, from ``sentence.rfind``),
    ``starts`` and ``ends`` are changed in place to the chosen spans (``-1`` when unaligned).

    >>> starts, ends = [0, 2, -1], [1, 3, 0]
    >>> place("a b a", ["a", "b", "c"], starts, ends, [4, 2, -1]), starts, ends
    ((['exact', 'exact', 'unaligned'], 1), [0, 2, -1], [1, 3, -1])
    """
    count = len(surfaces)
    hows: list[Alignment] = ["exact"] * count
    several = list(compress(range(count), map(sub, lasts, starts)))
    missing = [i for i in range(count) if starts[i] == -1] if -1 in starts else ()
    taken = [(s, e) for s, l, e in zip(starts, lasts, ends) if s == l and s != -1]  # one occurrence: its place
    repeated = 0
    if several:
        find = sentence.find
        last_end: dict[str, int] = {}
        if len(several) > 1:
            several.sort(key=lambda i: len(surfaces[i]), reverse=True)  # stable: file order among equals
        for i in several:
            surface = surfaces[i]
            size = len(surface)
            pos, last = starts[i], lasts[i]
            repeated += last >= pos + size  # two occurrences that do not overlap
            candidates = [(pos, pos + size)]
            while pos != last:
                pos = find(surface, pos + 1)
                candidates.append((pos, pos + size))
            start, end = _choose(sentence, candidates, last_end.get(surface, 0), taken)
            last_end[surface] = end
            taken.append((start, end))
            starts[i], ends[i] = start, end
    if not missing:
        return hows, repeated
    for i in missing:
        starts[i] = ends[i] = -1
        hows[i] = "unaligned"
    flat, index = _squeeze(sentence)
    bound = len(index)
    needles: dict[int, str | None] = {i: _flatten(surfaces[i]) if surfaces[i] else None for i in missing}
    if len(missing) > 1:
        missing.sort(key=lambda i: len(needles[i] or ""), reverse=True)  # stable: file order among equals
    for i in missing:
        needle = needles[i]
        if not needle:
            continue
        size = len(needle)
        candidates = []
        pos = flat.find(needle)
        while pos != -1:
            stop = pos + size
            # whole original characters only (lower-casing may turn one character into two)
            if (pos == 0 or index[pos - 1] != index[pos]) and (stop == bound or index[stop] != index[stop - 1]):
                candidates.append((index[pos], index[stop - 1] + 1))
            pos = flat.find(needle, pos + 1)
        if not candidates:
            continue
        # the previous placed mention of this form (verbatim or not), in input order
        begin = 0
        for j in range(i):
            if hows[j] != "unaligned" and ends[j] > begin:
                if j not in needles:
                    needles[j] = _flatten(surfaces[j]) if surfaces[j] else None
                if needles[j] == needle:
                    begin = ends[j]
        start, end = _choose(sentence, candidates, begin, taken) if len(candidates) > 1 else candidates[0]
        taken.append((start, end))
        starts[i], ends[i], hows[i] = start, end, "fuzzy"
    return hows, repeated
