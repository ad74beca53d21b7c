"""Model text -> spans on the original sentence, and stage-2 answers -> list items (pure text).

Stage 1. The extractor answers with the sentence rewritten, each entity wrapped as ``##entity##``.
Models are imperfect copyists, so :func:`parse_extraction` never trusts the echoed text: it

1. splits the output on ``##`` markers, alternating outside / inside (``####`` is an empty
   mention and is ignored; an odd, unmatched last marker is ignored, so its text stays plain;
   nested markers such as ``##New ##York## City##`` therefore read as two mentions, ``New `` and
   `` City``, which the overlap rule below may merge back when both land on one span);
2. aligns the unmarked output to the ORIGINAL sentence character by character
   (:class:`difflib.SequenceMatcher`, case-insensitive), so changed whitespace or a few changed
   characters still map each mention onto the sentence;
3. places each mention on the characters it aligned to, trimmed of surrounding whitespace. A mention
   with fewer than half of its non-space characters aligned is treated as not copied: it is looked
   up in the sentence case- and whitespace-insensitively (first free occurrence), and when absent
   it is *invented*: dropped and counted in :attr:`ExtractionResult.invented`;
4. collapses duplicates (a repeated mention that landed on the same span) and resolves overlaps:
   the longest span wins (earlier on ties), the losers are counted in ``overlaps``.

Every returned span satisfies ``text == sentence[start:end]`` with exclusive ``end``.

Stage 2. :func:`match_answer` maps a free-text answer to an item of the offered list regardless
of case, whitespace and punctuation. An answer that matches nothing is *off-list*
(``AnswerMatch.label is None``); :func:`closest_option` is the purely textual fallback, and the
pipeline documents which fallback it applies (it never drops the sentence).

Example:
    >>> result = parse_extraction("I love Paris and Rome .", "I love ##Paris## and  ##rome## .")
    >>> [(m.text, m.start, m.end) for m in result.mentions]
    [('Paris', 7, 12), ('Rome', 17, 21)]
    >>> parse_extraction("I love Paris .", "I love ##Paris## and ##Obama## .").invented
    ['Obama']
    >>> match_answer(" Location. ", ["person", "location"]).label
    'location'
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

from cascadener.prompts import MARKER

__all__ = [
    "Mention",
    "ExtractionResult",
    "AnswerMatch",
    "split_marked",
    "place_marked",
    "parse_extraction",
    "merge_mentions",
    "merge_extractions",
    "normalize_answer",
    "match_answer",
    "closest_option",
]

#: Fraction of a mention's non-space characters that must align to the sentence for it to count as copied.
MIN_ALIGNED_FRACTION = 0.5


@dataclass(frozen=True, order=True)
class Mention:
    """One extracted entity mention on the original sentence (``end`` exclusive).

    >>> Mention(start=7, end=12, text="Paris")
    Mention(start=7, end=12, text='Paris')
    """

    start: int
    end: int
    text: str

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: "Mention") -> bool:
        """Whether the two spans share a character.

        >>> Mention(0, 3, "New").overlaps(Mention(2, 8, "w York")), Mention(0, 3, "New").overlaps(Mention(3, 4, " "))
        (True, False)
        """
        return self.start < other.end and other.start < self.end


@dataclass
class ExtractionResult:
    """Stage-1 output of one sentence: the mentions placed on it and what could not be placed.

    ``invented``: mention strings absent from the sentence (dropped, counted); ``duplicates``:
    mentions that landed on an already found span; ``overlaps``: shorter mentions that lost to a
    longer overlapping one; ``unbalanced``: 1 when the output had an odd number of markers.
    """

    sentence: str
    mentions: list[Mention] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    duplicates: int = 0
    overlaps: int = 0
    unbalanced: int = 0
    raw_outputs: list[str] = field(default_factory=list)
    #: for a text too long for one stage-1 prompt, the ``(start, end)`` windows it was read in
    #: (:mod:`cascadener.windows`); empty when it was read whole
    windows: list[tuple[int, int]] = field(default_factory=list)


def split_marked(output: str) -> tuple[str, list[tuple[int, int]], bool]:
    """Remove ``##`` markers: the plain text, the marked ``(start, end)`` ranges in it, and whether
    the markers were unbalanced (the unmatched last marker is ignored).

    >>> split_marked("##EU## rejects ##German## call")
    ('EU rejects German call', [(0, 2), (11, 17)], False)
    >>> split_marked("a ##b c")
    ('a b c', [], True)
    """
    pieces = output.split(MARKER)
    unbalanced = len(pieces) % 2 == 0  # an odd number of markers
    plain: list[str] = []
    ranges: list[tuple[int, int]] = []
    cursor = 0
    for index, piece in enumerate(pieces):
        inside = index % 2 == 1 and not (unbalanced and index == len(pieces) - 1)
        if inside and piece.strip():
            ranges.append((cursor, cursor + len(piece)))
        plain.append(piece)
        cursor += len(piece)
    return "".join(plain), ranges, unbalanced


def _fold(text: str) -> str:
    """Lowercase character by character, keeping the length (characters whose lowercase is longer stay)."""
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


def _char_map(plain: str, sentence: str) -> tuple[list[tuple[int, int] | None], list[bool]]:
    """For each character of ``plain``: its sentence interval (``None`` if inserted) and whether it matched exactly.

    >>> _char_map("ab", "ab")
    ([(0, 1), (1, 2)], [True, True])
    >>> _char_map("aXb", "ab")
    ([(0, 1), None, (1, 2)], [True, False, True])
    """
    folded_plain, folded_sentence = _fold(plain), _fold(sentence)
    if folded_plain == folded_sentence:  # the usual answer: the sentence copied back (what difflib would find)
        return [(i, i + 1) for i in range(len(plain))], [True] * len(plain)
    matcher = difflib.SequenceMatcher(None, folded_plain, folded_sentence, autojunk=False)
    intervals: list[tuple[int, int] | None] = [None] * len(plain)
    exact = [False] * len(plain)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                intervals[i1 + offset] = (j1 + offset, j1 + offset + 1)
                exact[i1 + offset] = True
        elif tag == "replace":
            width, target = i2 - i1, j2 - j1
            for offset in range(width):
                lo = j1 + (offset * target) // width
                hi = j1 + ((offset + 1) * target) // width
                intervals[i1 + offset] = (lo, hi) if hi > lo else None
    return intervals, exact


def _squash(text: str) -> tuple[str, list[int]]:
    """Casefolded text without whitespace, with the original index of each kept character."""
    kept: list[str] = []
    index: list[int] = []
    for position, ch in enumerate(_fold(text)):
        if not ch.isspace():
            kept.append(ch)
            index.append(position)
    return "".join(kept), index


def _search(sentence: str, surface: str, taken: Sequence[Mention]) -> Mention | None:
    """Case- and whitespace-insensitive search for ``surface``; prefers an occurrence not yet taken."""
    needle, _ = _squash(surface)
    if not needle:
        return None
    hay, index = _squash(sentence)
    found: list[Mention] = []
    position = hay.find(needle)
    while position >= 0:
        start, end = index[position], index[position + len(needle) - 1] + 1
        found.append(Mention(start=start, end=end, text=sentence[start:end]))
        position = hay.find(needle, position + 1)
    for mention in found:
        if not any(mention.overlaps(other) for other in taken):
            return mention
    return found[0] if found else None


def _trim(sentence: str, start: int, end: int) -> tuple[int, int]:
    while start < end and sentence[start].isspace():
        start += 1
    while end > start and sentence[end - 1].isspace():
        end -= 1
    return start, end


def merge_mentions(candidates: Sequence[Mention]) -> tuple[list[Mention], int, int]:
    """Duplicates collapse; of overlapping spans the longest wins (the earlier on ties).

    Returns the kept mentions in sentence order, the duplicate count and the overlap-loser count.

    >>> merge_mentions([Mention(0, 3, "New"), Mention(0, 8, "New York"), Mention(0, 3, "New")])
    ([Mention(start=0, end=8, text='New York')], 1, 1)
    """
    unique = sorted(set(candidates))
    duplicates = len(candidates) - len(unique)
    kept: list[Mention] = []
    for mention in sorted(unique, key=lambda m: (-m.length, m.start)):
        if not any(mention.overlaps(other) for other in kept):
            kept.append(mention)
    return sorted(kept), duplicates, len(unique) - len(kept)


def place_marked(sentence: str, plain: str, ranges: Sequence[tuple[int, int]]) -> tuple[list[Mention], list[str]]:
    """Place the marked ``ranges`` of ``plain`` (a model's copy of ``sentence`` without its markers) on
    ``sentence`` by characters (steps 2 and 3 of the module doc): the placed mentions, in marking
    order and not yet merged, and the surfaces that could not be placed (invented).

    Any marking scheme reads through it once its markers are removed (``##x##`` here, GPT-NER's
    ``@@x##`` in :mod:`cascadener.methods.gpt_ner.parsing`).

    >>> place_marked("Ada met Bob .", "ada met Bob .", [(0, 3), (8, 11)])
    ([Mention(start=0, end=3, text='Ada'), Mention(start=8, end=11, text='Bob')], [])
    """
    if not ranges:
        return [], []
    intervals, exact = _char_map(plain, sentence)
    placed: list[Mention] = []
    invented: list[str] = []
    for lo, hi in ranges:
        surface = plain[lo:hi]
        nonspace = [i for i in range(lo, hi) if not plain[i].isspace()]
        aligned = sum(1 for i in nonspace if exact[i])
        spans = [intervals[i] for i in nonspace if intervals[i] is not None]
        mention: Mention | None = None
        if nonspace and aligned >= MIN_ALIGNED_FRACTION * len(nonspace) and spans:
            start, end = _trim(sentence, min(s for s, _ in spans), max(e for _, e in spans))
            if end > start:
                mention = Mention(start=start, end=end, text=sentence[start:end])
        if mention is None:
            mention = _search(sentence, surface, placed)
        if mention is None:
            invented.append(surface.strip())
            continue
        placed.append(mention)
    return placed, invented


def parse_extraction(sentence: str, output: str) -> ExtractionResult:
    """Place the ``##``-marked mentions of one stage-1 ``output`` on ``sentence`` (see module doc).

    >>> r = parse_extraction("Paris , Paris !", "##Paris## , ##Paris## !")
    >>> [(m.start, m.end) for m in r.mentions]
    [(0, 5), (8, 13)]
    >>> parse_extraction("New York City", "##New ##York## City##").mentions
    [Mention(start=0, end=3, text='New'), Mention(start=9, end=13, text='City')]
    """
    plain, ranges, unbalanced = split_marked(output)
    result = ExtractionResult(sentence=sentence, unbalanced=int(unbalanced), raw_outputs=[output])
    if not ranges:
        return result
    placed, result.invented = place_marked(sentence, plain, ranges)
    result.mentions, result.duplicates, result.overlaps = merge_mentions(placed)
    return result


def merge_extractions(results: Sequence[ExtractionResult]) -> ExtractionResult:
    """Self-consistency: the union of several samples' mentions, the longest overlapping span winning.

    >>> a = parse_extraction("New York City", "##New York## City")
    >>> b = parse_extraction("New York City", "##New York City##")
    >>> merge_extractions([a, b]).mentions
    [Mention(start=0, end=13, text='New York City')]
    """
    if not results:
        raise ValueError("merge_extractions needs at least one result")
    sentence = results[0].sentence
    merged = ExtractionResult(sentence=sentence)
    pool: list[Mention] = []
    for result in results:
        if result.sentence != sentence:
            raise ValueError("merge_extractions got results of different sentences")
        pool += result.mentions
        merged.invented += result.invented
        merged.unbalanced += result.unbalanced
        merged.raw_outputs += result.raw_outputs
    merged.mentions, _, merged.overlaps = merge_mentions(pool)
    return merged


# ---------------------------------------------------------------------------------------- stage 2

_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Casefolded, NFKC, punctuation and whitespace collapsed to single spaces, trimmed.

    >>> normalize_answer("  Sports  Team/League. ")
    'sports team league'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _PUNCT_OR_SPACE.sub(" ", folded).strip()


@dataclass(frozen=True)
class AnswerMatch:
    """A stage-2 answer mapped to the offered list: ``label``/``index`` are ``None`` when off-list."""

    answer: str
    label: str | None
    index: int | None
    how: str  # "exact", "normalized", "contained" or "off-list"

    @property
    def on_list(self) -> bool:
        return self.label is not None


def match_answer(answer: str, choices: Sequence[str]) -> AnswerMatch:
    """Map ``answer`` to one of ``choices``: exact, then normalized (case, spaces, punctuation), then
    the single longest choice whose normalized form appears as whole words in the answer
    (``"It is a city."`` -> ``city``). Anything else is off-list.

    >>> match_answer("sports team/league", ["sports team/league", "person"]).how
    'exact'
    >>> match_answer("The answer is: Person", ["organization", "person"]).label
    'person'
    >>> match_answer("vehicle", ["person", "city"]).on_list
    False
    """
    stripped = answer.strip()
    for index, choice in enumerate(choices):
        if choice == stripped:
            return AnswerMatch(answer, choice, index, "exact")
    wanted = normalize_answer(answer)
    normalized = [normalize_answer(choice) for choice in choices]
    for index, choice in enumerate(normalized):
        if choice and choice == wanted:
            return AnswerMatch(answer, choices[index], index, "normalized")
    padded = f" {wanted} "
    hits = [(len(choice), -index) for index, choice in enumerate(normalized) if choice and f" {choice} " in padded]
    if hits:
        best = max(hits)
        if sum(1 for hit in hits if hit[0] == best[0]) == 1:
            index = -best[1]
            return AnswerMatch(answer, choices[index], index, "contained")
    return AnswerMatch(answer, None, None, "off-list")


def closest_option(answer: str, choices: Sequence[str]) -> int:
    """Index of the choice most similar to ``answer`` (difflib ratio on normalized text; first on ties).

    >>> closest_option("organisation", ["person", "organization"])
    1
    """
    if not choices:
        raise ValueError("closest_option needs at least one choice")
    wanted = normalize_answer(answer)
    ratios = [difflib.SequenceMatcher(None, wanted, normalize_answer(choice)).ratio() for choice in choices]
    return max(range(len(choices)), key=lambda index: (ratios[index], -index))
