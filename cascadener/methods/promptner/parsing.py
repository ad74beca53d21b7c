"""PromptNER's answers -> typed spans on the original paragraph, by characters (pure text).

The model answers with a numbered list, one candidate per item: ``N. phrase | True/False |
explanation (type)``. :func:`read_list` reads the items:

1. An item starts at a list number (``1.`` or ``1)``) at the start of a line, or inside a line when
   it is the next number of the list (an answer on one line, ``1. A | ... 2. B | ...``; a number such
   as ``5.3`` or ``1990.`` inside an explanation starts nothing). Lines before the first item
   ("Answer:") are skipped; a line without a number continues the item before it.
2. The fields are split at ``|``. The first is the phrase; a type written right after it in
   parentheses (``Paris (city) | True | ...``) is cut off and kept. The second is the status when it
   reads True or False (any case, trailing punctuation ignored); otherwise there is no status field
   and the rest is the explanation (the published reader's rule for two fields). An item without a
   status is kept, as published.
3. The type is the text inside the LAST parentheses of the explanation (the format puts it at the
   end), else the one after the phrase. A kept item with no type, or with no phrase, is unreadable
   (counted, dropped).

:func:`place_items` puts the kept items on the paragraph: the type is matched to the sample's list
exactly, then ignoring case, spaces and punctuation ("City", "water-body"); a type still outside
the list is kept as written and counted as off-list, and the metric counts it out of list as it
does for any method. Each phrase is found in the paragraph case-sensitively, then ignoring case,
then without surrounding punctuation ("Rome." -> "Rome"), then ignoring case and spaces; longer
phrases are placed first, each on the first occurrence not yet taken (whole words preferred), so
a phrase listed twice takes two occurrences and "Paris" after "Paris Hilton" takes the other
"Paris". A phrase not in the paragraph is invented; one whose every occurrence is taken is a
duplicate (or an overlap, when another phrase holds it); all counted and dropped.

Where this differs from the published parser (``utils.AnswerMapping.exemplar_format_list`` and
``Algorithm.parse_span``), which reads the list, then tags the paragraph's whitespace tokens:

- phrases are found by characters in the raw paragraph, so Chinese and Japanese (no spaces),
  ``Germany's``, ``Rome.`` and phrases inside other tokens are placed; the published code needs the
  phrase to be a whole space-separated token (or a run of them) of the lower-cased paragraph;
- the n-th listing of a phrase takes its n-th free occurrence; the published code crashes
  (``ValueError``/``IndexError``, and ``run.py`` then drops the whole sentence from the scores) when
  a phrase is listed more often than it occurs, tags the LAST token of a repeated multi-word phrase
  (an inverted test), and lets a later overlapping phrase overwrite an earlier one;
- the type is the last parenthesised text, not the first (an explanation such as "Nuclear factor
  kappa B (NF-kB) is a protein (protein)" typed NF-kB there), and it is checked against the list;
- the list and the types cannot fall out of step: the published reader keeps an item without an
  explanation but no type for it, pairing every later phrase with the next item's type;
- ``1) Paris`` is read (the published reader keeps the ")" in the phrase), a bare number line is
  skipped (it raised ``IndexError``), and the published stopword removal is not applied (neither is
  it on the published evaluation path).

Example:
    >>> answer = "1. Mira Okafor | True | a person (athlete)\\n2. flew | False | a verb\\n3. Oslo | True | a city (City)"
    >>> placed = place_items("Mira Okafor flew to Oslo .", read_list(answer).items, ["city", "athlete"])
    >>> [(e.text, e.label, e.start, e.end) for e in placed.entities]
    [('Mira Okafor', 'athlete', 0, 11), ('Oslo', 'city', 20, 24)]
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

from cascadener.parsing import normalize_answer

__all__ = ["ListItem", "ReadList", "TypedSpan", "Placed", "read_list", "place_items"]

_NUMBER = re.compile(r"(?<![^\s])(\d+)\s*[.)]+(?=\s|$)")
_PARENS = re.compile(r"\(([^()]*)\)")
_STATUS = {"true": True, "false": False}


@dataclass(frozen=True)
class ListItem:
    """One list item: the phrase, its status (``None``: the item had none), explanation and type."""

    phrase: str
    status: bool | None
    explanation: str = ""
    type: str | None = None
    line: str = ""

    @property
    def kept(self) -> bool:
        """Not marked False."""
        return self.status is not False


@dataclass
class ReadList:
    """The items of an answer, and the kept items that could not be read (no phrase or no type)."""

    items: list[ListItem] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def _item_starts(answer: str) -> list[tuple[int, int, int]]:
    """``(start of the number, start of the item's text, number)`` of every item (step 1 of the module doc)."""
    starts: list[tuple[int, int, int]] = []
    for match in _NUMBER.finditer(answer):
        number = int(match.group(1))
        at_line_start = answer[:match.start()].rpartition("\n")[2].strip() == ""
        if at_line_start or (starts and number == starts[-1][2] + 1):
            starts.append((match.start(), match.end(), number))
    return starts


def _type_in(text: str) -> str | None:
    found = _PARENS.findall(text)
    return found[-1].strip() if found and found[-1].strip() else None


def _item(text: str) -> ListItem | None:
    fields = [part.strip() for part in text.split("|")]
    phrase = fields[0]
    phrase_type = None
    trailing = re.search(r"\(([^()]*)\)\s*$", phrase)
    if trailing:
        phrase_type = trailing.group(1).strip() or None
        phrase = phrase[:trailing.start()].strip()
    status = None
    rest = fields[1:]
    if rest and rest[0].strip().rstrip(string.punctuation).lower() in _STATUS:
        status = _STATUS[rest[0].strip().rstrip(string.punctuation).lower()]
        rest = rest[1:]
    explanation = " | ".join(rest).strip()
    return ListItem(phrase=phrase, status=status, explanation=explanation,
                    type=_type_in(explanation) or phrase_type, line=text.strip())


def read_list(answer: str) -> ReadList:
    """The numbered list of an answer (see the module doc).

    >>> r = read_list("Answer:\\n1) Paris | true | the capital (city)\\n2. 83 | False | a number\\n3.")
    >>> [(i.phrase, i.status, i.type) for i in r.items], r.unreadable
    ([('Paris', True, 'city'), ('83', False, None)], [])
    >>> [i.phrase for i in read_list("1. A | True | x (t) 2. B | True | y, founded in 1990. (t)").items]
    ['A', 'B']
    """
    out = ReadList()
    starts = _item_starts(answer)
    for position, (_, begin, _) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(answer)
        text = " ".join(line.strip() for line in answer[begin:end].splitlines() if line.strip())
        if not text:
            continue  # a bare number
        item = _item(text)
        if not item.kept:
            out.items.append(item)
        elif not item.phrase or item.type is None:
            out.unreadable.append(item.line)
        else:
            out.items.append(item)
    return out


@dataclass(frozen=True)
class TypedSpan:
    """A placed entity: the span record's fields, and whether its type was outside the list."""

    text: str
    label: str
    start: int
    end: int
    off_list: bool = False

    def record(self) -> dict:
        return {"text": self.text, "label": self.label, "start": self.start, "end": self.end}


@dataclass
class Placed:
    """The entities placed on a paragraph (in text order) and what could not be placed."""

    entities: list[TypedSpan] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    duplicates: int = 0
    overlaps: int = 0
    off_list: int = 0


def _type_on_list(name: str, types: Sequence[str]) -> str | None:
    if name in types:
        return name
    wanted = normalize_answer(name)
    for candidate in types:
        if normalize_answer(candidate) == wanted:
            return candidate
    return None


def _unspaced(ch: str) -> bool:
    """A character of a script written without spaces between words."""
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "LAO", "KHMER", "MYANMAR"))


def _whole(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    left = not before or not before.isalnum() or _unspaced(before) or _unspaced(text[start])
    right = not after or not after.isalnum() or _unspaced(after) or _unspaced(text[end - 1])
    return left and right


def _squash(text: str) -> tuple[str, list[int]]:
    kept: list[str] = []
    index: list[int] = []
    for position, ch in enumerate(text):
        if not ch.isspace():
            low = ch.lower()
            kept.append(low if len(low) == 1 else ch)
            index.append(position)
    return "".join(kept), index


def _occurrences(text: str, phrase: str) -> list[tuple[int, int]]:
    """Where ``phrase`` occurs: exact, else ignoring case; else the same without its surrounding
    punctuation; else ignoring case and spaces (each rule only when the ones before find nothing)."""
    stripped = phrase.strip(string.punctuation + "“”‘’«»「」『』。、，").strip()
    candidates = [c for c in dict.fromkeys([phrase, stripped]) if c]
    lowered = text.lower()
    for candidate in candidates:
        for haystack, needle in ((text, candidate), (lowered, candidate.lower())):
            if len(haystack) != len(text) or not needle:
                continue
            found = [(m.start(), m.start() + len(needle)) for m in re.finditer(f"(?={re.escape(needle)})", haystack)]
            if found:
                return found
    squashed, index = _squash(text)
    for candidate in candidates:
        needle, _ = _squash(candidate)
        found = []
        at = squashed.find(needle) if needle else -1
        while at >= 0:
            found.append((index[at], index[at + len(needle) - 1] + 1))
            at = squashed.find(needle, at + 1)
        if found:
            return found
    return []


def place_items(text: str, items: Sequence[ListItem], types: Sequence[str]) -> Placed:
    """The kept items of a list placed on ``text`` with types from ``types`` (see the module doc).

    >>> items = read_list("1. Paris | True | a city (city)\\n2. Paris Hilton | True | a person (person)").items
    >>> [(e.text, e.start) for e in place_items("Paris Hilton in Paris", items, ["city", "person"]).entities]
    [('Paris Hilton', 0), ('Paris', 16)]
    """
    placed = Placed()
    kept = [(position, item) for position, item in enumerate(items) if item.kept]
    taken: list[tuple[int, int, str]] = []  # (start, end, folded phrase)
    for _, item in sorted(kept, key=lambda pair: (-len(pair[1].phrase), pair[0])):
        found = _occurrences(text, item.phrase)
        if not found:
            placed.invented.append(item.phrase)
            continue
        found.sort(key=lambda span: (not _whole(text, *span), span[0]))
        free = [span for span in found if not any(span[0] < e and s < span[1] for s, e, _ in taken)]
        if not free:
            if any((s, e) in found for s, e, _ in taken):
                placed.duplicates += 1
            else:
                placed.overlaps += 1
            continue
        start, end = free[0]
        label = _type_on_list(item.type or "", types)
        off_list = label is None
        if off_list:
            label = (item.type or "").strip()
            placed.off_list += 1
        taken.append((start, end, item.phrase.casefold()))
        placed.entities.append(TypedSpan(text=text[start:end], label=label, start=start, end=end, off_list=off_list))
    placed.entities.sort(key=lambda e: (e.start, e.end, e.label))
    return placed
