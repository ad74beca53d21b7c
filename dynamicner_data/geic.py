"""Read the authors' GEIC JSON and place every entity on its sentence with character offsets.

GEIC format: ``{"sentence1": {"sentence": "...", "entity": ["Le Guin", ...], "category": ["author", ...]}}``;
``entity[i]`` is a surface string (no offsets) of type ``category[i]``.

Alignment rules, per sentence (results are returned in file order):

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
3. **Unaligned.** Still not found: ``start = end = -1``, alignment ``"unaligned"``. Such entities are
   kept, counted in the :class:`AlignmentReport`, and a :class:`GeicAlignmentWarning` names the count
   and the sample keys.

Errors (:class:`GeicError`) name the file, the sample key and the field: malformed JSON, non-UTF-8
bytes, duplicate keys, wrong field types, empty sentences (or skip them, counted, with
``empty_sentences="skip"``), ``entity``/``category`` length mismatch, unknown categories (or map
them to a catch-all with ``unknown_category="catch_all"``).

``repeated_surface_forms`` in the report counts entity annotations whose surface string occurs more
than once (non-overlapping, verbatim) in its sentence: those are the ones the left-to-right rule
decides. On the authors' English sample this is 88 of 2805 entities.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> data = {"s1": {"sentence": "Le Guin met Rushdie ; Rushdie left .",
    ...                "entity": ["Rushdie", "Rushdie", "le guin"], "category": ["author"] * 3}}
    >>> samples, report = parse_geic(data, Taxonomy.dynamicner(), source="toy.json")
    >>> [(e.start, e.end, e.text, e.alignment) for e in samples[0].entities]
    [(12, 19, 'Rushdie', 'exact'), (22, 29, 'Rushdie', 'exact'), (0, 7, 'Le Guin', 'fuzzy')]
    >>> samples[0].entities[2].node.path
    ('person', 'real person', 'author')
    >>> report.summary()
    'toy.json: 1 samples, 3 entities: 2 exact, 1 fuzzy, 0 unaligned; 2 repeated surface forms'
"""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from itertools import chain, compress, islice, repeat
from operator import add, attrgetter, itemgetter, sub
from pathlib import Path
from typing import Any, Literal, NamedTuple, Sequence

import numpy as np

from .taxonomy import Taxonomy, TaxonomyError, TypeNode, normalize_name

__all__ = [
    "GeicError",
    "GeicAlignmentWarning",
    "GeicEntity",
    "GeicSample",
    "AlignmentReport",
    "parse_geic",
    "parse_geic_columns",
    "GeicColumns",
    "read_geic_columns",
    "read_geic",
    "align_entities",
    "load_geic_json",
]

Alignment = Literal["exact", "fuzzy", "unaligned"]


class GeicError(ValueError):
    """Bad GEIC input; the message names the file, the sample key and the field."""


class GeicAlignmentWarning(UserWarning):
    """Some entities could not be placed in their sentence (count and sample keys in the message)."""


class GeicEntity(NamedTuple):
    """One annotated entity placed on its sentence (``end`` exclusive; ``-1, -1`` when unaligned).

    A named tuple: a corpus holds hundreds of thousands of them, built and read in tight loops.
    """

    text: str
    category: str
    start: int
    end: int
    node: TypeNode | None
    alignment: Alignment

    def to_dict(self) -> dict[str, Any]:
        """The span record plus the gold ``path`` (``[]`` when the category is unknown)."""
        return {"text": self.text, "label": self.category, "start": self.start, "end": self.end,
                "path": list(self.node.path) if self.node is not None else []}


class GeicSample(NamedTuple):
    """One sentence and its placed entities, in annotation order."""

    key: str
    text: str
    entities: tuple[GeicEntity, ...]


@dataclass
class AlignmentReport:
    """Counts from reading one (or, merged, several) GEIC files.

    ``unaligned_examples`` lists every unaligned entity as ``(sample key, annotated text)``;
    ``repeated_surface_forms`` counts entity annotations whose string occurs more than once in its
    sentence; ``category_variants`` maps categories matched only loosely (``organisation``) to the
    type they were read as.
    """

    file: str
    samples: int = 0
    entities: int = 0
    exact: int = 0
    fuzzy: int = 0
    unaligned: int = 0
    unaligned_examples: list[tuple[str, str]] = field(default_factory=list)
    repeated_surface_forms: int = 0
    skipped_samples: list[str] = field(default_factory=list)
    skipped_entities: int = 0
    unknown_categories: dict[str, int] = field(default_factory=dict)
    category_variants: dict[str, str] = field(default_factory=dict)

    def merge(self, other: "AlignmentReport") -> "AlignmentReport":
        """A new report adding both; ``file`` lists both files."""
        files = [f for f in (self.file, other.file) if f]
        unknown = Counter(self.unknown_categories)
        unknown.update(other.unknown_categories)
        return AlignmentReport(
            file=", ".join(dict.fromkeys(", ".join(files).split(", "))) if files else "",
            samples=self.samples + other.samples,
            entities=self.entities + other.entities,
            exact=self.exact + other.exact,
            fuzzy=self.fuzzy + other.fuzzy,
            unaligned=self.unaligned + other.unaligned,
            unaligned_examples=self.unaligned_examples + other.unaligned_examples,
            repeated_surface_forms=self.repeated_surface_forms + other.repeated_surface_forms,
            skipped_samples=self.skipped_samples + other.skipped_samples,
            skipped_entities=self.skipped_entities + other.skipped_entities,
            unknown_categories=dict(unknown),
            category_variants={**self.category_variants, **other.category_variants},
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["unaligned_examples"] = [list(pair) for pair in self.unaligned_examples]
        return out

    def summary(self) -> str:
        text = (
            f"{self.file}: {self.samples} samples, {self.entities} entities: {self.exact} exact, "
            f"{self.fuzzy} fuzzy, {self.unaligned} unaligned; {self.repeated_surface_forms} repeated surface forms"
        )
        if self.skipped_samples:
            text += f"; skipped {len(self.skipped_samples)} samples ({self.skipped_entities} entities)"
        if self.category_variants:
            pairs = ", ".join(f"{k!r}->{v!r}" for k, v in sorted(self.category_variants.items()))
            text += f"; categories matched by spelling variant: {pairs}"
        if self.unknown_categories:
            text += f"; {sum(self.unknown_categories.values())} entities of unknown categories mapped to a catch-all"
        return text


# ---------------------------------------------------------------------------- alignment
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
    return (
        (left.isalnum() or left == "_")
        and (right.isalnum() or right == "_")
        and not _unspaced(left)
        and not _unspaced(right)
    )


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


def _choose(sentence: str, candidates: list[tuple[int, int]], begin: int, taken: list[tuple[int, int]]) -> tuple[int, int]:
    """The best of several ``(start, end)`` candidates, in increasing ``start`` order (see the module docstring).

    >>> _choose("Iranian officials met in Iran", [(0, 4), (25, 29)], 0, [])
    (25, 29)
    """
    best_key: tuple[bool, bool, bool] | None = None
    best = candidates[0]
    for start, end in candidates:
        overlaps = False  # with a span placed before
        for a, b in taken:
            if start < b and a < end:
                overlaps = True
                break
        early = start < begin  # before the end of the previous match of the same form
        cuts = not _on_boundaries(sentence, start, end)
        if not (overlaps or early or cuts):
            return start, end  # the leftmost of the preferred: nothing after it does better
        key = (overlaps, early, cuts)
        if best_key is None or key < best_key:  # a tie keeps the leftmost
            best_key, best = key, (start, end)
    return best


_NON_SPACE_RUN = re.compile(r"\S+")
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
    low = text.lower()
    if len(low) == len(text) and "\u03a3" not in text:
        # one character for one, none cased by context (final sigma): whole runs at once
        index: list[int] = []
        for run in _NON_SPACE_RUN.finditer(text):
            index.extend(range(*run.span()))
        return "".join(low.split()), index
    chars: list[str] = []
    index = []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        lowered = ch.lower()
        chars.append(lowered)
        index.extend([i] * len(lowered))
    return "".join(chars), index


def _flatten(text: str) -> str:
    """``_squeeze(text)[0]``, without the index: lower-casing the whole string is the same unless a
    capital sigma (cased by its context) is in it.

    >>> _flatten("Washington , D.C."), _flatten("ΟΔΟΣ Α")
    ('washington,d.c.', 'οδοσα')
    """
    if "\u03a3" in text:
        return _squeeze(text)[0]
    return "".join(text.lower().split())


def align_entities(sentence: str, surfaces: Sequence[str]) -> list[tuple[int, int, Alignment]]:
    """``(start, end, alignment)`` for each surface form (in input order), by the rules in the module docstring.

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
    hows, _ = _place(sentence, surfaces, starts, ends, lasts)
    return list(zip(starts, ends, hows))


def _place(sentence: str, surfaces: Sequence[str], starts: list[int], ends: list[int],
           lasts: Sequence[int]) -> tuple[list[Alignment], int]:
    """Place the forms of one sentence by the rules of :func:`align_entities`: their alignments, and how
    many of them occur more than once (``sentence.count(form) > 1``).

    Given the first verbatim occurrences (``starts``, from ``sentence.find``; ``-1`` for none and for
    an empty form), their ``ends`` and the last occurrences (``lasts``, from ``sentence.rfind``),
    ``starts`` and ``ends`` are changed in place to the chosen spans (``-1`` when unaligned).

    >>> starts, ends = [0, 2, -1], [1, 3, 0]
    >>> _place("a b a", ["a", "b", "c"], starts, ends, [4, 2, -1]), starts, ends
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


@dataclass
class GeicColumns:
    """Parsed GEIC samples as flat columns: what the dataset builder reads (no object per entity).

    Sample ``s`` has key ``keys[s]``, sentence ``texts[s]`` and ``counts[s]`` entities; the entity
    columns (``entity_texts``, ``categories``, ``starts``, ``ends``, ``node_ids`` - the index of the
    gold type in ``taxonomy.nodes``, ``-1`` for none - and ``alignments``) hold them all, in order.
    """

    taxonomy: Taxonomy
    keys: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    entity_texts: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    node_ids: list[int] = field(default_factory=list)
    alignments: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def samples(self) -> list[GeicSample]:
        """The same as :class:`GeicSample` objects (built by C loops: ``tuple.__new__`` of the named tuples).

        >>> from dynamicner_data.taxonomy import Taxonomy
        >>> columns = GeicColumns(Taxonomy.dynamicner(), ["s1", "s2"], ["A b", "c"], [2, 0], ["A", "b"],
        ...                       ["city", "gizmo"], [0, 2], [1, 3], [-1, -1], ["exact", "exact"])
        >>> columns.samples()[1], columns.samples()[0].entities[1]
        (GeicSample(key='s2', text='c', entities=()), GeicEntity(text='b', category='gizmo', start=2, end=3, node=None, alignment='exact'))
        """
        nodes = [*self.taxonomy.nodes, None]  # node id -1: None
        new = tuple.__new__
        entities = iter(map(new, repeat(GeicEntity), zip(
            self.entity_texts, self.categories, self.starts, self.ends,
            map(nodes.__getitem__, self.node_ids), self.alignments,
        )))
        groups = map(tuple, map(islice, repeat(entities), self.counts))
        return list(map(new, repeat(GeicSample), zip(self.keys, self.texts, groups)))

    @classmethod
    def from_samples(cls, samples: Sequence[GeicSample], taxonomy: Taxonomy) -> "GeicColumns":
        """Columns of already parsed samples (their nodes must belong to ``taxonomy``)."""
        index = {n.path: i for i, n in enumerate(taxonomy.nodes)}
        out = cls(taxonomy=taxonomy)
        for sample in samples:
            out.keys.append(sample.key)
            out.texts.append(sample.text)
            out.counts.append(len(sample.entities))
            for e in sample.entities:
                out.entity_texts.append(e.text)
                out.categories.append(e.category)
                out.starts.append(e.start)
                out.ends.append(e.end)
                if e.node is not None and e.node.path not in index:
                    raise ValueError(f"sample {sample.key!r}: type {e.node} is not in taxonomy {taxonomy.name!r}")
                out.node_ids.append(index[e.node.path] if e.node is not None else -1)
                out.alignments.append(e.alignment)
        return out


# ---------------------------------------------------------------------------- reading
class _Object(dict):
    """A JSON object that remembers keys it saw more than once (instead of silently keeping the last)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        counts = Counter(k for k, _ in pairs)
        obj.duplicates = tuple(k for k, n in counts.items() if n > 1)
    return obj


_duplicates = attrgetter("duplicates")


def _where(source: str, key: object) -> str:
    return f"{source}: sample {key!r}"


def _read_text(path: str | Path) -> str:
    """The file as strict UTF-8 text, without a byte-order mark."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise GeicError(f"{source}: cannot read GEIC file: {exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GeicError(f"{source}: not valid UTF-8 at byte {exc.start} ({exc.reason})") from exc
    return text.lstrip("\ufeff")


def _loads(source: str, text: str, hook: Callable[[list[tuple[str, Any]]], Any]) -> Any:
    try:
        return json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        raise GeicError(f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc


def load_geic_json(path: str | Path) -> dict[str, Any]:
    """Bytes -> strict UTF-8 -> JSON (duplicate keys remembered for :func:`parse_geic`)."""
    return _loads(str(path), _read_text(path), _object_pairs)


class _Unusual(Exception):
    """Input the column-wise path does not take as it is: the sample-by-sample path decides, and names any error."""


class _BadCategory(_Unusual):
    """A category that is not a type of the taxonomy (``problem``: the taxonomy's error, if it raised one)."""

    def __init__(self, problem: TaxonomyError | None = None) -> None:
        super().__init__(problem)
        self.problem = problem


class _Resolver(dict):
    """Category -> index of its node in ``taxonomy.nodes`` (``-1``: none), resolved on first use.

    Known categories are dict hits, so a whole column maps in one C loop (``map(resolver.__getitem__, ...)``);
    ``__missing__`` resolves a new one, notes spelling variants and unknown categories in first-use
    order, and raises :class:`_BadCategory` (or :class:`_Unusual`, for a non-string or blank item).

    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> tax = Taxonomy.dynamicner()
    >>> resolver = _Resolver(tax, "catch_all", None, AlignmentReport(file="x"))
    >>> [tax.nodes[i].name for i in map(resolver.__getitem__, ["city", "city"])], resolver["gizmo"], resolver.unknown
    (['city', 'city'], -1, ['gizmo'])
    """

    def __init__(self, taxonomy: Taxonomy, unknown_category: str, fallback: TypeNode | None,
                 report: AlignmentReport) -> None:
        super().__init__()
        self.taxonomy, self.unknown_category, self.fallback, self.report = taxonomy, unknown_category, fallback, report
        self.node_index = {n.path: i for i, n in enumerate(taxonomy.nodes)}
        self.unknown: list[str] = []

    def __missing__(self, category: Any) -> int:
        if not isinstance(category, str) or not category.strip():
            raise _Unusual(category)
        try:
            node = self.taxonomy.resolve(category)
        except TaxonomyError as exc:
            raise _BadCategory(exc) from exc
        if node is None:
            if self.unknown_category == "error":
                raise _BadCategory()
            self.unknown.append(category)
            node = self.fallback
        elif normalize_name(node.name) != normalize_name(category):
            self.report.category_variants[category] = str(node)
        index = self[category] = self.node_index[node.path] if node is not None else -1
        return index

    def checked(self, category: str, where: str, i: int) -> int:
        """``self[category]``, or the :class:`GeicError` naming the sample (``where``) and item ``i``."""
        try:
            return self[category]
        except _BadCategory as exc:
            if exc.problem is not None:
                raise GeicError(f"{where}: field 'category'[{i}]: {exc.problem}") from exc.problem
            raise GeicError(
                f"{where}: field 'category'[{i}]: unknown category {category!r} "
                f"(not a type of taxonomy {self.taxonomy.name!r}; pass unknown_category='catch_all' "
                "to map it to a catch-all)"
            ) from None


def _check_sample(source: str, key: object, sentence: Any, surfaces: Any, categories: Any) -> None:
    """Raise the :class:`GeicError` of a malformed sample (field types, items, lengths), in that order.

    Returns quietly when the sample is well formed (its sentence may still be blank).

    >>> _check_sample("in.json", "s1", "A b .", ["A", " "], ["city", "city"])
    Traceback (most recent call last):
    ...
    dynamicner_data.geic.GeicError: in.json: sample 's1': field 'entity'[1] is empty
    """
    if type(sentence) is not str:
        raise GeicError(f"{_where(source, key)}: field 'sentence' must be a string, got {type(sentence).__name__}")
    for name, seq in (("entity", surfaces), ("category", categories)):
        if type(seq) is not list:
            raise GeicError(f"{_where(source, key)}: field {name!r} must be a list of strings, got {type(seq).__name__}")
        for i, item in enumerate(seq):
            if not isinstance(item, str):
                raise GeicError(
                    f"{_where(source, key)}: field {name!r}[{i}] must be a string, got {type(item).__name__}"
                )
            if not item.strip():
                raise GeicError(f"{_where(source, key)}: field {name!r}[{i}] is empty")
    if len(surfaces) != len(categories):
        raise GeicError(
            f"{_where(source, key)}: fields 'entity' ({len(surfaces)} items) and 'category' "
            f"({len(categories)} items) differ in length"
        )


# Samples are checked and aligned this many at a time: every pass over one chunk finds its strings
# still in the processor's cache (whole-corpus passes were bound by memory, not by work).
_CHUNK = 1024

_FIELDS = ("sentence", "entity", "category")
_get_sentence, _get_entity, _get_category = map(itemgetter, _FIELDS)
_Chunk = tuple[list[Any], list[Any], list[Any]]  # sentences, entity lists, category lists (not yet checked)


def _mapping_chunks(data: Mapping[str, Any]) -> Iterator[_Chunk]:
    """Chunks of parsed samples, or :class:`_Unusual` for anything but dicts (no repeated field) with
    fields of the exact types."""
    values = list(data.values())
    for a in range(0, len(values), _CHUNK):
        part = values[a:a + _CHUNK]
        kinds = set(map(type, part))
        if not kinds <= {dict, _Object} or (_Object in kinds and any(map(_duplicates, part))):
            raise _Unusual("sample")
        try:
            texts, entities, categories = list(map(_get_sentence, part)), list(map(_get_entity, part)), list(
                map(_get_category, part))
        except KeyError:
            raise _Unusual("field") from None
        if not (set(map(type, texts)) <= {str} and set(map(type, entities)) <= {list}
                and set(map(type, categories)) <= {list}):
            raise _Unusual("type")
        try:  # every category item (surfaces and sentences are checked by _Builder)
            if not all(map(str.strip, chain.from_iterable(categories))):
                raise _Unusual("category")
        except TypeError:
            raise _Unusual("category") from None
        yield texts, entities, categories


def _pairs_chunk(objects: list[list[tuple[str, Any]]]) -> _Chunk:
    """The fields of JSON objects given as lists of pairs, or :class:`_Unusual` (a missing or repeated field).

    >>> _pairs_chunk([[("sentence", "A b"), ("entity", ["A"]), ("category", ["city"])]])
    (['A b'], [['A']], [['city']])
    """
    if set(map(len, objects)) == {3}:  # the three fields, in one order throughout?
        pairs = list(chain.from_iterable(chain.from_iterable(objects)))
        order, size = pairs[0:6:2], len(objects)
        if set(order) == set(_FIELDS) and all(pairs[2 * i::6].count(order[i]) == size for i in range(3)):
            column = {name: pairs[2 * i + 1::6] for i, name in enumerate(order)}
            return column["sentence"], column["entity"], column["category"]
    dicts = list(map(dict, objects))
    if list(map(len, dicts)) != list(map(len, objects)):
        raise _Unusual("repeated field")
    try:
        return list(map(_get_sentence, dicts)), list(map(_get_entity, dicts)), list(map(_get_category, dicts))
    except KeyError:
        raise _Unusual("field") from None


_SAMPLE, _TOP = object(), object()  # what the streaming hook returns for a sample and for the file's object


def _stream(source: str, text: str, builder: _Builder) -> list[str]:
    """Decode ``text``, giving its samples to ``builder`` a chunk at a time as the decoder completes them
    (their strings are still in the processor's cache); the sample keys, in file order.

    The decoder calls the ``object_pairs_hook`` for every object, innermost first: a GEIC file is its
    samples, then the file's object, whose values are then all ``_SAMPLE``. Anything else (objects
    elsewhere, a repeated key, a malformed sample) raises :class:`_Unusual`.

    >>> report = AlignmentReport(file="x")
    >>> builder = _Builder(_Resolver(Taxonomy.dynamicner(), "error", None, report), report, False, True)
    >>> _stream("x", '{"s1": {"sentence": "Ann .", "entity": ["Ann"], "category": ["person"]}}', builder)
    ['s1']
    >>> _stream("x", '[{"sentence": "Ann .", "entity": ["Ann"], "category": ["person"]}]', builder)
    Traceback (most recent call last):
    ...
    dynamicner_data.geic._Unusual: top
    """
    objects: list[list[tuple[str, Any]]] = []
    tops: list[list[tuple[str, Any]]] = []

    def hook(pairs: list[tuple[str, Any]]) -> object:
        if pairs and pairs[0][1] is not _SAMPLE:
            objects.append(pairs)
            if len(objects) == _CHUNK:
                builder.add(*_pairs_chunk(objects))
                objects.clear()
            return _SAMPLE
        tops.append(pairs)
        return _TOP

    if _loads(source, text, hook) is not _TOP or len(tops) != 1:
        raise _Unusual("top")
    if objects:
        builder.add(*_pairs_chunk(objects))
    flat = list(chain.from_iterable(tops[0]))
    keys, values = flat[0::2], flat[1::2]
    if len(keys) != builder.seen or values.count(_SAMPLE) != len(values) or len(set(keys)) != len(keys):
        raise _Unusual("top")
    return keys


def _checked_chunks(data: Mapping[str, Any], source: str, skip_empty: bool, resolver: _Resolver,
                    report: AlignmentReport) -> tuple[list[str], list[_Chunk]]:
    """Check ``data`` (no repeated sample key) sample by sample: the keys of the kept samples, and their chunks.

    Raises the :class:`GeicError` of the first bad sample, in file order. In each sample: its shape, a
    repeated field, a missing field, field types, items, lengths, a blank sentence, then its categories.
    """
    keys: list[str] = []
    texts: list[str] = []
    entities: list[list[str]] = []
    categories: list[list[str]] = []
    for key, value in data.items():
        kind = type(value)
        if kind is not _Object and kind is not dict and not isinstance(value, Mapping):
            raise GeicError(
                f"{_where(source, key)}: expected an object with 'sentence', 'entity', 'category', got {kind.__name__}"
            )
        if kind is _Object and value.duplicates:
            raise GeicError(f"{_where(source, key)}: field {value.duplicates[0]!r} given twice")
        try:
            sentence, surfaces, labels = value["sentence"], value["entity"], value["category"]
        except KeyError as exc:
            raise GeicError(f"{_where(source, key)}: missing field {exc.args[0]!r}") from None
        _check_sample(source, key, sentence, surfaces, labels)
        if not sentence.strip():
            if skip_empty:
                report.skipped_samples.append(str(key))
                report.skipped_entities += len(surfaces)
                continue
            raise GeicError(
                f"{_where(source, key)}: field 'sentence' is empty "
                "(pass empty_sentences='skip' to skip such samples, counted)"
            )
        for i, category in enumerate(labels):
            resolver.checked(category, _where(source, key), i)
        keys.append(str(key))
        texts.append(sentence)
        entities.append(surfaces)
        categories.append(labels)
    return keys, [(texts[a:a + _CHUNK], entities[a:a + _CHUNK], categories[a:a + _CHUNK])
                  for a in range(0, len(keys), _CHUNK)]


class _Builder:
    """Checks, resolves and aligns samples a chunk at a time (:meth:`add`); their keys come at the end (:meth:`finish`).

    :meth:`add` raises :class:`_Unusual` for anything its item checks or the resolver do not take.
    Every form is searched in its own sentence, first and last occurrence, in C loops; only the
    samples where a form is missing or occurs twice follow the full rules (:func:`_place`) one by one.
    """

    def __init__(self, resolver: _Resolver, report: AlignmentReport, skip_empty: bool, as_samples: bool) -> None:
        self.resolver, self.report, self.skip_empty, self.as_samples = resolver, report, skip_empty, as_samples
        self.columns = GeicColumns(taxonomy=resolver.taxonomy)  # keys at the end; entity columns unless as_samples
        self.groups: list[tuple[GeicEntity, ...]] = []  # as_samples: the entities of each kept sample
        self.nodes = [*resolver.taxonomy.nodes, None]  # node id -1: None
        self.seen = 0  # samples given, kept or not
        self.skipped: list[int] = []  # blank samples, by number
        self.examples: list[tuple[int, str]] = []  # unaligned entities: sample number, annotated text
        self.unaligned_samples: list[int] = []
        self.total = self.fuzzy = self.unaligned = self.repeats = 0

    def add(self, texts: list[Any], entities: list[Any], categories: list[Any]) -> None:
        """Check, resolve and align one chunk of samples (field values as decoded, not yet checked)."""
        report = self.report
        numbers = range(self.seen, self.seen + len(texts))
        self.seen += len(texts)
        try:  # list.__len__ and str.strip raise TypeError for anything else
            counts = list(map(list.__len__, entities))
            if counts != list(map(list.__len__, categories)):
                raise _Unusual("lengths")
            surfaces = list(chain.from_iterable(entities))
            if not all(map(str.strip, surfaces)):
                raise _Unusual("blank entity")
            if not all(map(str.strip, texts)):
                if not self.skip_empty:
                    raise _Unusual("blank sentence")
                blank = [i for i, text in enumerate(texts) if not str.strip(text)]  # TypeError for a non-string
                if not all(map(str.strip, chain.from_iterable(categories[i] for i in blank))):
                    raise _Unusual("blank category")
                self.skipped += [numbers[i] for i in blank]
                report.skipped_entities += sum(counts[i] for i in blank)
                kept = sorted(set(range(len(texts))).difference(blank))
                numbers = [numbers[i] for i in kept]
                texts, counts = [texts[i] for i in kept], [counts[i] for i in kept]
                entities, categories = [entities[i] for i in kept], [categories[i] for i in kept]
                surfaces = list(chain.from_iterable(entities))
        except TypeError:
            raise _Unusual("type") from None
        labels = list(chain.from_iterable(categories))
        try:
            node_ids = list(map(self.resolver.__getitem__, labels))
        except TypeError:  # an unhashable item
            raise _Unusual("category") from None
        sentence_of = list(chain.from_iterable(map(repeat, texts, counts)))
        starts = list(map(str.find, sentence_of, surfaces))
        lasts = list(map(str.rfind, sentence_of, surfaces))
        ends = list(map(add, starts, map(len, surfaces)))
        size = len(surfaces)
        alignments = ["exact"] * size
        if starts != lasts or -1 in starts:  # some samples need the full rules
            first = np.fromiter(starts, np.int64, size)
            bounds = np.cumsum(np.fromiter(counts, np.int64, len(counts))).tolist()
            flagged = np.flatnonzero((first != np.fromiter(lasts, np.int64, size)) | (first == -1))
            for s in np.unique(np.searchsorted(bounds, flagged, side="right")).tolist():
                b = bounds[s]
                a = b - counts[s]
                sentence = texts[s]
                placed_starts, placed_ends = starts[a:b], ends[a:b]
                hows, repeated = _place(sentence, surfaces[a:b], placed_starts, placed_ends, lasts[a:b])
                starts[a:b], ends[a:b] = placed_starts, placed_ends
                self.repeats += repeated
                if hows.count("exact") != len(hows):
                    alignments[a:b] = hows
                    for i, how in enumerate(hows):
                        if how == "fuzzy":  # the text as it stands in the sentence
                            surfaces[a + i] = sentence[placed_starts[i]:placed_ends[i]]
                            self.fuzzy += 1
                        elif how == "unaligned":
                            self.examples.append((numbers[s], surfaces[a + i]))
                            self.unaligned += 1
                    if "unaligned" in hows:
                        self.unaligned_samples.append(numbers[s])
        self.total += size
        columns = self.columns
        columns.texts += texts
        if self.as_samples:
            new = tuple.__new__
            found = iter(map(new, repeat(GeicEntity), zip(
                surfaces, labels, starts, ends, map(self.nodes.__getitem__, node_ids), alignments)))
            self.groups += map(tuple, map(islice, repeat(found), counts))
        else:
            columns.counts += counts
            columns.entity_texts += surfaces
            columns.categories += labels
            columns.starts += starts
            columns.ends += ends
            columns.node_ids += node_ids
            columns.alignments += alignments
        if self.resolver.unknown:
            unknown = report.unknown_categories
            for name in self.resolver.unknown:
                unknown[name] = unknown.get(name, 0) + labels.count(name)

    def finish(self, keys: list[str]) -> tuple[GeicColumns | list[GeicSample], list[str]]:
        """The columns (or samples) and the keys of the samples with unaligned entities; ``keys``: one per sample given."""
        report, columns = self.report, self.columns
        report.unaligned_examples += [(keys[n], text) for n, text in self.examples]
        unaligned_keys = [keys[n] for n in self.unaligned_samples]
        if self.skipped:
            report.skipped_samples += [keys[n] for n in self.skipped]
            skipped = set(self.skipped)
            keys = [key for n, key in enumerate(keys) if n not in skipped]
        if self.resolver.unknown:  # first-use order
            report.unknown_categories = {name: report.unknown_categories[name] for name in self.resolver.unknown}
        report.samples = len(keys)
        report.entities = self.total
        report.exact, report.fuzzy, report.unaligned = self.total - self.fuzzy - self.unaligned, self.fuzzy, self.unaligned
        report.repeated_surface_forms = self.repeats
        if self.as_samples:
            return list(map(tuple.__new__, repeat(GeicSample), zip(keys, columns.texts, self.groups))), unaligned_keys
        columns.keys = keys
        return columns, unaligned_keys


def _check_options(unknown_category: str, empty_sentences: str) -> None:
    if unknown_category not in ("error", "catch_all"):
        raise ValueError(f"unknown_category must be 'error' or 'catch_all', got {unknown_category!r}")
    if empty_sentences not in ("error", "skip"):
        raise ValueError(f"empty_sentences must be 'error' or 'skip', got {empty_sentences!r}")


def _catch_all_node(taxonomy: Taxonomy, catch_all: str | None) -> TypeNode | None:
    if catch_all is None:
        return None
    try:
        node = taxonomy.resolve(catch_all)
    except TaxonomyError as exc:
        raise ValueError(f"catch_all={catch_all!r}: {exc}") from exc
    if node is None:
        raise ValueError(f"catch_all={catch_all!r} is not a type of taxonomy {taxonomy.name!r}")
    return node


def _warn_unaligned(source: str, report: AlignmentReport, unaligned_keys: list[str]) -> None:
    if unaligned_keys:
        shown = ", ".join(unaligned_keys[:10]) + (", ..." if len(unaligned_keys) > 10 else "")
        warnings.warn(
            f"{source}: {report.unaligned} entities not found in their sentence (kept with start=end=-1) "
            f"in {len(unaligned_keys)} samples: {shown}",
            GeicAlignmentWarning,
            stacklevel=4,  # the caller of the public function
        )


def _parse(data: Mapping[str, Any], taxonomy: Taxonomy, source: str, unknown_category: str, catch_all: str | None,
           empty_sentences: str, as_samples: bool) -> tuple[Any, AlignmentReport]:
    """:func:`parse_geic_columns` (or :func:`parse_geic`, ``as_samples``)."""
    _check_options(unknown_category, empty_sentences)
    if not isinstance(data, Mapping):
        raise GeicError(f"{source}: expected a JSON object of samples, got {type(data).__name__}")
    duplicates = getattr(data, "duplicates", ())
    if duplicates:
        raise GeicError(f"{source}: duplicate sample key {duplicates[0]!r}")
    fallback = _catch_all_node(taxonomy, catch_all)
    skip_empty = empty_sentences == "skip"
    report = AlignmentReport(file=source)
    builder = _Builder(_Resolver(taxonomy, unknown_category, fallback, report), report, skip_empty, as_samples)
    try:
        for chunk in _mapping_chunks(data):
            builder.add(*chunk)
        keys = list(data)
        if not set(map(type, keys)) <= {str}:
            keys = list(map(str, keys))
    except _Unusual:
        report = AlignmentReport(file=source)
        resolver = _Resolver(taxonomy, unknown_category, fallback, report)
        builder = _Builder(resolver, report, skip_empty, as_samples)
        keys, chunks = _checked_chunks(data, source, skip_empty, resolver, report)
        for chunk in chunks:
            builder.add(*chunk)
    out, unaligned_keys = builder.finish(keys)
    _warn_unaligned(source, report, unaligned_keys)
    return out, report


def _read(path: str | Path, taxonomy: Taxonomy, unknown_category: str, catch_all: str | None, empty_sentences: str,
          as_samples: bool) -> tuple[Any, AlignmentReport]:
    """:func:`read_geic_columns` (or :func:`read_geic`, ``as_samples``).

    The samples are checked and aligned while the JSON is decoded (:func:`_stream`), without a dict
    per sample; a file with anything unusual (a repeated key, a malformed sample, a bad category) is
    decoded again as :func:`load_geic_json` does and goes through :func:`parse_geic_columns`, which
    names the problem.
    """
    source = str(path)
    text = _read_text(path)
    try:
        _check_options(unknown_category, empty_sentences)
        fallback = _catch_all_node(taxonomy, catch_all)
    except ValueError:  # raised by _parse, after the JSON errors and the top-level checks
        pass
    else:
        report = AlignmentReport(file=source)
        builder = _Builder(_Resolver(taxonomy, unknown_category, fallback, report), report,
                           empty_sentences == "skip", as_samples)
        try:
            keys = _stream(source, text, builder)
        except _Unusual:
            pass
        else:
            out, unaligned_keys = builder.finish(keys)
            _warn_unaligned(source, report, unaligned_keys)
            return out, report
    return _parse(_loads(source, text, _object_pairs), taxonomy, source, unknown_category, catch_all,
                  empty_sentences, as_samples)


def parse_geic_columns(
    data: Mapping[str, Any],
    taxonomy: Taxonomy,
    *,
    source: str,
    unknown_category: Literal["error", "catch_all"] = "error",
    catch_all: str | None = None,
    empty_sentences: Literal["error", "skip"] = "error",
) -> tuple[GeicColumns, AlignmentReport]:
    """Validate GEIC data and align its entities, as :class:`GeicColumns`; see the module docstring for the rules.

    ``unknown_category="catch_all"`` keeps entities whose category is not a type of ``taxonomy``:
    their node is the type named ``catch_all`` (e.g. ``"miscellaneous"``), or ``None`` when
    ``catch_all`` is ``None`` (the type-list code then labels them with a catch-all of the list).

    Well-formed data is checked and aligned a chunk of samples at a time, whole columns in C loops;
    anything unusual is checked sample by sample, so an error names the first bad sample in file order.
    """
    return _parse(data, taxonomy, source, unknown_category, catch_all, empty_sentences, as_samples=False)


def parse_geic(
    data: Mapping[str, Any],
    taxonomy: Taxonomy,
    *,
    source: str,
    unknown_category: Literal["error", "catch_all"] = "error",
    catch_all: str | None = None,
    empty_sentences: Literal["error", "skip"] = "error",
) -> tuple[list[GeicSample], AlignmentReport]:
    """Validate GEIC data and align its entities; see the module docstring for the rules.

    ``unknown_category="catch_all"`` keeps entities whose category is not a type of ``taxonomy``:
    their node is the type named ``catch_all`` (e.g. ``"miscellaneous"``), or ``None`` when
    ``catch_all`` is ``None`` (the type-list code then labels them with a catch-all of the list).
    (:func:`parse_geic_columns` gives the same as flat columns, for whole-corpus work.)
    """
    return _parse(data, taxonomy, source, unknown_category, catch_all, empty_sentences, as_samples=True)


def read_geic(
    path: str | Path,
    taxonomy: Taxonomy,
    *,
    unknown_category: Literal["error", "catch_all"] = "error",
    catch_all: str | None = None,
    empty_sentences: Literal["error", "skip"] = "error",
) -> tuple[list[GeicSample], AlignmentReport]:
    """Read one GEIC file: strict UTF-8, JSON with duplicate-key detection, then :func:`parse_geic`."""
    return _read(path, taxonomy, unknown_category, catch_all, empty_sentences, as_samples=True)


def read_geic_columns(
    path: str | Path,
    taxonomy: Taxonomy,
    *,
    unknown_category: Literal["error", "catch_all"] = "error",
    catch_all: str | None = None,
    empty_sentences: Literal["error", "skip"] = "error",
) -> tuple[GeicColumns, AlignmentReport]:
    """:func:`read_geic` as :class:`GeicColumns` (what the dataset builder reads)."""
    return _read(path, taxonomy, unknown_category, catch_all, empty_sentences, as_samples=False)
