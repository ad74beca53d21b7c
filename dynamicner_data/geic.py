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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Mapping
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
    """The best of several ``(start, end)`` candidates (see the module docstring for the order)."""
    best_key: tuple[bool, bool, bool, int] | None = None
    best = candidates[0]
    for start, end in candidates:
        key = (
            any(start < b and a < end for a, b in taken),  # overlaps a span placed before
            start < begin,  # before the end of the previous match of the same form
            not _on_boundaries(sentence, start, end),
            start,
        )
        if best_key is None or key < best_key:
            best_key, best = key, (start, end)
    return best


_NON_SPACE_RUN = re.compile(r"\S+")


def _squeeze(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased without whitespace, and the original index of every kept character.

    >>> _squeeze("New  York")
    ('newyork', [0, 1, 2, 5, 6, 7, 8])
    >>> flat, index = _squeeze(chr(0x130) + " x")  # "İ" lower-cases to two characters
    >>> len(flat), index
    (3, [0, 0, 2])
    """
    low = text.lower()
    if len(low) == len(text) and "\u03a3" not in text:
        # one character for one, none cased by context (final sigma): whole runs at once
        index: list[int] = []
        for run in _NON_SPACE_RUN.finditer(text):
            index.extend(range(*run.span()))
        return "".join(low.split()), index
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        lowered = ch.lower()
        chars.append(lowered)
        index.extend([i] * len(lowered))
    return "".join(chars), index


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
    return _align(sentence, surfaces)[0]


def _align(sentence: str, surfaces: Sequence[str]) -> tuple[list[tuple[int, int, Alignment]], list[int]]:
    """:func:`align_entities`, plus the indices of the entities that had several verbatim candidates."""
    count = len(surfaces)
    out: list[tuple[int, int, Alignment]] = [(-1, -1, "unaligned")] * count
    taken: list[tuple[int, int]] = []
    missing: list[int] = []
    several: list[tuple[int, list[tuple[int, int]]]] = []
    find = sentence.find
    for i, surface in enumerate(surfaces):
        pos = find(surface) if surface else -1
        if pos == -1:
            missing.append(i)
            continue
        end = pos + len(surface)
        nxt = find(surface, pos + 1)
        if nxt == -1:  # one occurrence: nothing to choose (the common case)
            taken.append((pos, end))
            out[i] = (pos, end, "exact")
            continue
        candidates = [(pos, end)]
        size = len(surface)
        while nxt != -1:
            candidates.append((nxt, nxt + size))
            nxt = find(surface, nxt + 1)
        several.append((i, candidates))
    if several:
        last_end: dict[str, int] = {}
        if len(several) > 1:
            several.sort(key=lambda item: len(surfaces[item[0]]), reverse=True)  # stable: file order among equals
        for i, candidates in several:
            surface = surfaces[i]
            start, end = _choose(sentence, candidates, last_end.get(surface, 0), taken)
            last_end[surface] = end
            taken.append((start, end))
            out[i] = (start, end, "exact")
    chosen = [i for i, _ in several]
    if not missing:
        return out, chosen
    flat, index = _squeeze(sentence)
    bound = len(index)
    needles = {i: _squeeze(surface)[0] for i, surface in enumerate(surfaces) if surface}
    missing.sort(key=lambda i: len(needles.get(i, "")), reverse=True)
    for i in missing:
        needle = needles.get(i)
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
        begin = max((out[j][1] for j in range(i) if out[j][2] != "unaligned" and needles.get(j) == needle), default=0)
        start, end = _choose(sentence, candidates, begin, taken) if len(candidates) > 1 else candidates[0]
        taken.append((start, end))
        out[i] = (start, end, "fuzzy")
    return out, chosen


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
        """The same as :class:`GeicSample` objects."""
        nodes = self.taxonomy.nodes
        entities = list(map(
            GeicEntity,
            self.entity_texts,
            self.categories,
            self.starts,
            self.ends,
            [nodes[i] if i >= 0 else None for i in self.node_ids],
            self.alignments,
        ))
        out, at = [], 0
        for key, text, count in zip(self.keys, self.texts, self.counts):
            out.append(GeicSample(key, text, tuple(entities[at:at + count])))
            at += count
        return out

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


def _where(source: str, key: object) -> str:
    return f"{source}: sample {key!r}"


def load_geic_json(path: str | Path) -> dict[str, Any]:
    """Bytes -> strict UTF-8 -> JSON (duplicate keys remembered for :func:`parse_geic`)."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise GeicError(f"{source}: cannot read GEIC file: {exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GeicError(f"{source}: not valid UTF-8 at byte {exc.start} ({exc.reason})") from exc
    try:
        return json.loads(text.lstrip("\ufeff"), object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise GeicError(f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc


def _check_sample(source: str, key: object, sentence: Any, surfaces: Any, categories: Any) -> None:
    """Raise the :class:`GeicError` of a malformed sample (field types, items, lengths), in that order.

    Returns quietly when only the sentence is blank (the caller skips or rejects it).
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
    """
    if unknown_category not in ("error", "catch_all"):
        raise ValueError(f"unknown_category must be 'error' or 'catch_all', got {unknown_category!r}")
    if empty_sentences not in ("error", "skip"):
        raise ValueError(f"empty_sentences must be 'error' or 'skip', got {empty_sentences!r}")
    if not isinstance(data, Mapping):
        raise GeicError(f"{source}: expected a JSON object of samples, got {type(data).__name__}")
    duplicates = getattr(data, "duplicates", ())
    if duplicates:
        raise GeicError(f"{source}: duplicate sample key {duplicates[0]!r}")
    fallback: TypeNode | None = None
    if catch_all is not None:
        try:
            fallback = taxonomy.resolve(catch_all)
        except TaxonomyError as exc:
            raise ValueError(f"catch_all={catch_all!r}: {exc}") from exc
        if fallback is None:
            raise ValueError(f"catch_all={catch_all!r} is not a type of taxonomy {taxonomy.name!r}")
    report = AlignmentReport(file=source)
    columns = GeicColumns(taxonomy=taxonomy)
    keys, texts, counts = columns.keys, columns.texts, columns.counts
    surfaces_all, categories_all = columns.entity_texts, columns.categories

    # 1. per sample: structure only (the items are checked below, for the whole file at once)
    for key, value in data.items():
        kind = type(value)
        if kind is not _Object and kind is not dict and not isinstance(value, Mapping):
            raise GeicError(
                f"{_where(source, key)}: expected an object with 'sentence', 'entity', 'category', got {kind.__name__}"
            )
        if kind is _Object and value.duplicates:
            raise GeicError(f"{_where(source, key)}: field {value.duplicates[0]!r} given twice")
        try:
            sentence, surfaces, categories = value["sentence"], value["entity"], value["category"]
        except KeyError as exc:
            raise GeicError(f"{_where(source, key)}: missing field {exc.args[0]!r}") from None
        if (type(sentence) is not str or type(surfaces) is not list or type(categories) is not list
                or len(surfaces) != len(categories) or not sentence.strip()):
            _check_sample(source, key, sentence, surfaces, categories)  # raises, unless an empty sentence
            if empty_sentences == "skip":
                report.skipped_samples.append(str(key))
                report.skipped_entities += len(surfaces)
                continue
            raise GeicError(
                f"{_where(source, key)}: field 'sentence' is empty "
                "(pass empty_sentences='skip' to skip such samples, counted)"
            )
        keys.append(str(key))
        texts.append(sentence)
        counts.append(len(surfaces))
        surfaces_all += surfaces
        categories_all += categories
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])

    def sample_of(k: int) -> int:
        return int(np.searchsorted(offsets, k, side="right")) - 1

    # 2. every entity and category a non-blank string (checked in C; the first bad one is named)
    try:
        usual = all(map(str.strip, surfaces_all)) and all(map(str.strip, categories_all))
    except TypeError:
        usual = False
    if not usual:
        for s in range(len(keys)):
            a, b = int(offsets[s]), int(offsets[s + 1])
            _check_sample(source, keys[s], texts[s], surfaces_all[a:b], categories_all[a:b])

    # 3. categories -> taxonomy nodes, once per distinct category (errors name its first sample)
    node_index = {n.path: i for i, n in enumerate(taxonomy.nodes)}
    resolve_cache: dict[str, int] = {}  # category -> taxonomy index of its node (-1: none)
    unknown_names: list[str] = []
    for category in dict.fromkeys(categories_all):
        try:
            node = taxonomy.resolve(category)
        except TaxonomyError as exc:
            k = categories_all.index(category)
            s = sample_of(k)
            raise GeicError(f"{_where(source, keys[s])}: field 'category'[{k - offsets[s]}]: {exc}") from exc
        if node is None:
            if unknown_category == "error":
                k = categories_all.index(category)
                s = sample_of(k)
                raise GeicError(
                    f"{_where(source, keys[s])}: field 'category'[{k - offsets[s]}]: unknown category {category!r} "
                    f"(not a type of taxonomy {taxonomy.name!r}; pass unknown_category='catch_all' "
                    "to map it to a catch-all)"
                )
            unknown_names.append(category)
            node = fallback
        elif normalize_name(node.name) != normalize_name(category):
            report.category_variants[category] = str(node)
        resolve_cache[category] = node_index[node.path] if node is not None else -1
    columns.node_ids = list(map(resolve_cache.__getitem__, categories_all))
    if unknown_names:
        tally = Counter(categories_all)
        report.unknown_categories = {name: tally[name] for name in unknown_names}

    # 4. alignment: every surface form searched in its own sentence, all at once; samples where a
    #    form is missing or occurs twice follow the full rules (module docstring) one by one
    rows = np.repeat(np.arange(len(texts)), counts)
    sentences = list(map(texts.__getitem__, rows.tolist()))  # each entity's sentence (references)
    found = np.fromiter(map(str.find, sentences, surfaces_all), dtype=np.int64, count=len(rows))
    again = np.fromiter(map(str.find, sentences, surfaces_all, (found + 1).tolist()), dtype=np.int64,
                        count=len(rows))
    starts = found
    ends = found + np.fromiter(map(len, surfaces_all), dtype=np.int64, count=len(rows))
    special = np.unique(rows[(found < 0) | (again >= 0)]).tolist()
    alignments: list[str] = ["exact"] * len(rows)
    entity_texts = list(surfaces_all)
    unaligned_keys: list[str] = []
    repeats = 0
    examples = report.unaligned_examples
    for s in special:
        a, b = int(offsets[s]), int(offsets[s + 1])
        sentence, surfaces = texts[s], surfaces_all[a:b]
        placed, several = _align(sentence, surfaces)
        for i in several:  # only these can occur more than once
            repeats += sentence.count(surfaces[i]) > 1
        for k, (surface, (start, end, how)) in enumerate(zip(surfaces, placed), start=a):
            starts[k], ends[k], alignments[k] = start, end, how
            if how == "fuzzy":  # the text as it stands in the sentence
                entity_texts[k] = sentence[start:end]
            elif how == "unaligned":
                examples.append((keys[s], surface))
        if "unaligned" in (how for _, _, how in placed):
            unaligned_keys.append(keys[s])
    columns.starts = starts.tolist()
    columns.ends = ends.tolist()
    columns.alignments = alignments
    columns.entity_texts = entity_texts
    report.samples = len(keys)
    report.entities = len(alignments)
    tally = Counter(alignments)
    report.exact, report.fuzzy, report.unaligned = tally["exact"], tally["fuzzy"], tally["unaligned"]
    report.repeated_surface_forms = repeats
    if unaligned_keys:
        shown = ", ".join(unaligned_keys[:10]) + (", ..." if len(unaligned_keys) > 10 else "")
        warnings.warn(
            f"{source}: {report.unaligned} entities not found in their sentence (kept with start=end=-1) "
            f"in {len(unaligned_keys)} samples: {shown}",
            GeicAlignmentWarning,
            stacklevel=2,
        )
    return columns, report


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
    columns, report = parse_geic_columns(data, taxonomy, source=source, unknown_category=unknown_category,
                                         catch_all=catch_all, empty_sentences=empty_sentences)
    return columns.samples(), report


def read_geic(
    path: str | Path,
    taxonomy: Taxonomy,
    *,
    unknown_category: Literal["error", "catch_all"] = "error",
    catch_all: str | None = None,
    empty_sentences: Literal["error", "skip"] = "error",
) -> tuple[list[GeicSample], AlignmentReport]:
    """Read one GEIC file: strict UTF-8, JSON with duplicate-key detection, then :func:`parse_geic`."""
    return parse_geic(
        load_geic_json(path),
        taxonomy,
        source=str(path),
        unknown_category=unknown_category,
        catch_all=catch_all,
        empty_sentences=empty_sentences,
    )


def read_geic_columns(
    path: str | Path,
    taxonomy: Taxonomy,
    *,
    unknown_category: Literal["error", "catch_all"] = "error",
    catch_all: str | None = None,
    empty_sentences: Literal["error", "skip"] = "error",
) -> tuple[GeicColumns, AlignmentReport]:
    """:func:`read_geic` as :class:`GeicColumns` (what the dataset builder reads)."""
    return parse_geic_columns(
        load_geic_json(path),
        taxonomy,
        source=str(path),
        unknown_category=unknown_category,
        catch_all=catch_all,
        empty_sentences=empty_sentences,
    )
