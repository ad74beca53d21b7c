"""Read the authors' GEIC JSON and place every entity on its sentence with character offsets.

GEIC format: ``{"sentence1": {"sentence": "...", "entity": ["Le Guin", ...], "category": ["author", ...]}}``;
``entity[i]`` is a surface string (no offsets) of type ``category[i]``.

Each entity is placed by the rules of :mod:`dynamicner_data.align`: verbatim (``"exact"``), else by a
case-insensitive search that ignores whitespace (``"fuzzy"``; ``text`` is then the sentence's own
characters), else not at all (``"unaligned"``, ``start = end = -1``). Unaligned entities are kept,
counted in the :class:`AlignmentReport`, and a :class:`GeicAlignmentWarning` names the count and the
sample keys.

Errors (:class:`GeicError`) name the file, the sample key and the field: malformed JSON, non-UTF-8
bytes, duplicate keys, wrong field types, empty sentences (or skip them, counted, with
``empty_sentences="skip"``), ``entity``/``category`` length mismatch, unknown categories (or map
them to a catch-all with ``unknown_category="catch_all"``).

How a file is read: stdlib ``json`` decodes it (a hook remembers repeated keys); one fast pass
checks, resolves and aligns the samples a chunk at a time in C loops; a chunk where that pass meets
anything unusual is checked sample by sample by :func:`_check_sample`, the only code that words a
sample's error, so an error names the first bad sample in file order.

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
import sys
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import chain, islice, repeat
from operator import add, attrgetter, itemgetter
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from .align import Alignment, align_entities, place
from .taxonomy import Taxonomy, TaxonomyError, TypeNode, normalize_name

__all__ = ["GeicError", "GeicAlignmentWarning", "GeicEntity", "GeicSample", "AlignmentReport", "GeicColumns",
           "parse_geic", "parse_geic_columns", "read_geic", "read_geic_columns", "align_entities", "load_geic_json"]


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
    ``repeated_surface_forms`` counts entity annotations whose string occurs more than once (non-overlapping,
    verbatim) in its sentence (88 of 2805 on the authors' English sample); ``category_variants`` maps
    categories matched only loosely (``organisation``) to the type they were read as.
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
        """A new report adding both (counts add, lists concatenate); ``file`` lists both files."""
        files = ", ".join(f for f in (self.file, other.file) if f)
        unknown = Counter(self.unknown_categories)
        unknown.update(other.unknown_categories)
        summed = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)
                  if f.name not in ("file", "unknown_categories", "category_variants")}
        return AlignmentReport(file=", ".join(dict.fromkeys(files.split(", "))) if files else "", **summed,
                               unknown_categories=dict(unknown),
                               category_variants={**self.category_variants, **other.category_variants})

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
        for sample in samples:
            for e in sample.entities:
                if e.node is not None and e.node.path not in index:
                    raise ValueError(f"sample {sample.key!r}: type {e.node} is not in taxonomy {taxonomy.name!r}")
        entities = [e for sample in samples for e in sample.entities]
        texts, categories, starts, ends, nodes, alignments = map(list, zip(*entities)) if entities else ([],) * 6
        return cls(taxonomy, [s.key for s in samples], [s.text for s in samples], [len(s.entities) for s in samples],
                   texts, categories, starts, ends, [-1 if n is None else index[n.path] for n in nodes], alignments)


# ---------------------------------------------------------------------------- decoding
class _Object(dict):
    """A JSON object (errors name this type); ``duplicates``: keys given more than once (the last value kept)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        obj.duplicates = tuple(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    return obj


def load_geic_json(path: str | Path) -> dict[str, Any]:
    """Bytes -> strict UTF-8 (without a byte-order mark) -> JSON (repeated keys remembered for :func:`parse_geic`)."""
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


# ---------------------------------------------------------------------------- checking
class _Unusual(Exception):
    """A category the resolver does not take (``args[0]``: the taxonomy's error, if it raised one)."""


class _Resolver(dict):
    """Category -> index of its node in ``taxonomy.nodes`` (``-1``: none), resolved on first use.

    Known categories are dict hits, so a whole column maps in one C loop (``map(resolver.__getitem__, ...)``);
    ``__missing__`` resolves a new one, notes spelling variants and unknown categories in first-use
    order, and raises :class:`_Unusual` for a category it does not take.

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

    def __missing__(self, category: str) -> int:  # a non-blank string (checked before)
        try:
            node = self.taxonomy.resolve(category)
        except TaxonomyError as exc:
            raise _Unusual(exc) from exc
        if node is None:
            if self.unknown_category == "error":
                raise _Unusual(None)
            self.unknown.append(category)
            node = self.fallback
        elif normalize_name(node.name) != normalize_name(category):
            self.report.category_variants[category] = str(node)
        index = self[category] = self.node_index[node.path] if node is not None else -1
        return index


def _check_sample(source: str, key: object, value: Any, resolver: _Resolver,
                  skip_empty: bool) -> tuple[str, list[str], list[str]] | None:
    """The fields of one sample, or the :class:`GeicError` of its first problem, in this order: its shape, a
    repeated or missing field, field types, items, lengths, a blank sentence (``None`` instead, when
    ``skip_empty``), then each category (resolved by ``resolver``).

    >>> resolver = _Resolver(Taxonomy.dynamicner(), "error", None, AlignmentReport(file="x"))
    >>> _check_sample("in.json", "s1", {"sentence": "A b", "entity": ["A", " "], "category": ["city"] * 2}, resolver, 0)
    Traceback (most recent call last):
    ...
    dynamicner_data.geic.GeicError: in.json: sample 's1': field 'entity'[1] is empty
    """
    where = f"{source}: sample {key!r}"
    if not isinstance(value, Mapping):
        kind = type(value).__name__
        raise GeicError(f"{where}: expected an object with 'sentence', 'entity', 'category', got {kind}")
    if type(value) is _Object and value.duplicates:
        raise GeicError(f"{where}: field {value.duplicates[0]!r} given twice")
    try:
        sentence, surfaces, categories = value["sentence"], value["entity"], value["category"]
    except KeyError as exc:
        raise GeicError(f"{where}: missing field {exc.args[0]!r}") from None
    if type(sentence) is not str:
        raise GeicError(f"{where}: field 'sentence' must be a string, got {type(sentence).__name__}")
    for name, seq in (("entity", surfaces), ("category", categories)):
        if type(seq) is not list:
            raise GeicError(f"{where}: field {name!r} must be a list of strings, got {type(seq).__name__}")
        for i, item in enumerate(seq):
            if not isinstance(item, str):
                raise GeicError(f"{where}: field {name!r}[{i}] must be a string, got {type(item).__name__}")
            if not item.strip():
                raise GeicError(f"{where}: field {name!r}[{i}] is empty")
    if len(surfaces) != len(categories):
        raise GeicError(f"{where}: fields 'entity' ({len(surfaces)} items) and 'category' "
                        f"({len(categories)} items) differ in length")
    if not sentence.strip():
        if skip_empty:
            return None
        raise GeicError(f"{where}: field 'sentence' is empty "
                        "(pass empty_sentences='skip' to skip such samples, counted)")
    for i, category in enumerate(categories):
        try:
            resolver[category]
        except _Unusual as exc:
            if exc.args[0] is not None:
                raise GeicError(f"{where}: field 'category'[{i}]: {exc.args[0]}") from exc.args[0]
            raise GeicError(
                f"{where}: field 'category'[{i}]: unknown category {category!r} (not a type of taxonomy "
                f"{resolver.taxonomy.name!r}; pass unknown_category='catch_all' to map it to a catch-all)"
            ) from None
    return sentence, surfaces, categories


# Samples are checked and aligned this many at a time: every pass over one chunk finds its strings
# still in the processor's cache (whole-corpus passes were bound by memory, not by work).
_CHUNK = 1024

_duplicates = attrgetter("duplicates")
_GETTERS = itemgetter("sentence"), itemgetter("entity"), itemgetter("category")
_Chunk = tuple[list[str], list[list[str]], list[str], list[int], list[int]]  # texts, entities, labels, counts, nodes


def _fields(samples: list[Any], resolver: _Resolver) -> _Chunk | None:
    """The fast pass: the fields of a chunk of plainly well-formed samples (JSON objects without repeated
    keys, exact types, nothing blank, equal lengths, categories the resolver takes), all categories in
    one list, the entity counts and the node ids; or ``None``: then :func:`_check_sample` looks at each.

    >>> resolver = _Resolver(Taxonomy.dynamicner(), "error", None, AlignmentReport(file="x"))
    >>> _fields([{"sentence": "A b", "entity": ["A"], "category": ["city"]}], resolver)[:4]
    (['A b'], [['A']], ['city'], [1])
    >>> _fields([{"sentence": "A b", "entity": ["A"], "category": ["gizmo"]}], resolver)
    """
    kinds = set(map(type, samples))
    if not kinds <= {dict, _Object} or (_Object in kinds and any(map(_duplicates, samples))):
        return None
    try:
        texts, entities, categories = (list(map(get, samples)) for get in _GETTERS)
    except KeyError:
        return None
    if not (set(map(type, texts)) <= {str} and set(map(type, entities)) <= {list}
            and set(map(type, categories)) <= {list}):
        return None
    counts = list(map(len, entities))
    labels = list(chain.from_iterable(categories))
    if counts != list(map(len, categories)) or not all(map(str.strip, texts)):
        return None
    try:  # str.strip raises TypeError for an item that is not a string
        if not (all(map(str.strip, chain.from_iterable(entities))) and all(map(str.strip, labels))):
            return None
        return texts, entities, labels, counts, list(map(resolver.__getitem__, labels))
    except (TypeError, _Unusual):
        return None


# ---------------------------------------------------------------------------- reading
def _align(columns: GeicColumns, texts: list[str], entities: list[list[str]], labels: list[str], counts: list[int],
           node_ids: list[int], numbers: Sequence[int]) -> tuple[int, list[tuple[int, str]]]:
    """Align a chunk of checked samples (``numbers``: their places in the file) onto ``columns``; the number of
    repeated surface forms and the unaligned entities (sample number, annotated text).

    Every form is searched in its own sentence, first and last occurrence, in C loops; only the samples
    where a form is missing or occurs twice follow the full rules (:func:`~dynamicner_data.align.place`).
    """
    surfaces = list(chain.from_iterable(entities))
    sentence_of = list(chain.from_iterable(map(repeat, texts, counts)))
    starts = list(map(str.find, sentence_of, surfaces))
    lasts = list(map(str.rfind, sentence_of, surfaces))
    ends = list(map(add, starts, map(len, surfaces)))
    size = len(surfaces)
    alignments = ["exact"] * size
    repeated, unaligned = 0, []
    if starts != lasts or -1 in starts:  # some samples need the full rules
        first = np.fromiter(starts, np.int64, size)
        bounds = np.cumsum(np.fromiter(counts, np.int64, len(counts))).tolist()
        flagged = np.flatnonzero((first != np.fromiter(lasts, np.int64, size)) | (first == -1))
        for s in np.unique(np.searchsorted(bounds, flagged, side="right")).tolist():
            b = bounds[s]
            a = b - counts[s]
            placed_starts, placed_ends = starts[a:b], ends[a:b]
            hows, repeats = place(texts[s], surfaces[a:b], placed_starts, placed_ends, lasts[a:b])
            starts[a:b], ends[a:b] = placed_starts, placed_ends
            repeated += repeats
            alignments[a:b] = hows
            for i in range(a, b):
                if alignments[i] == "fuzzy":  # the text as it stands in the sentence
                    surfaces[i] = texts[s][starts[i]:ends[i]]
                elif alignments[i] == "unaligned":
                    unaligned.append((numbers[s], surfaces[i]))
    columns.texts += texts
    columns.counts += counts
    columns.entity_texts += surfaces
    columns.categories += labels
    columns.starts += starts
    columns.ends += ends
    columns.node_ids += node_ids
    columns.alignments += alignments
    return repeated, unaligned


def _outside() -> int:
    """The ``stacklevel`` of the first caller outside this module, for a warning raised by the caller of this."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


_Unknown = Literal["error", "catch_all"]
_Empty = Literal["error", "skip"]
_Columns = tuple[GeicColumns, AlignmentReport]
_Samples = tuple[list[GeicSample], AlignmentReport]


def parse_geic_columns(data: Mapping[str, Any], taxonomy: Taxonomy, *, source: str,
                       unknown_category: _Unknown = "error", catch_all: str | None = None,
                       empty_sentences: _Empty = "error") -> _Columns:
    """Validate GEIC data and align its entities, as :class:`GeicColumns`; see the module docstring for the rules.

    ``unknown_category="catch_all"`` keeps entities whose category is not a type of ``taxonomy``:
    their node is the type named ``catch_all`` (e.g. ``"miscellaneous"``), or ``None`` when
    ``catch_all`` is ``None`` (the type-list code then labels them with a catch-all of the list).
    An error names the first bad sample in file order.
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
    fallback = None
    if catch_all is not None:
        try:
            fallback = taxonomy.resolve(catch_all)
        except TaxonomyError as exc:
            raise ValueError(f"catch_all={catch_all!r}: {exc}") from exc
        if fallback is None:
            raise ValueError(f"catch_all={catch_all!r} is not a type of taxonomy {taxonomy.name!r}")
    report = AlignmentReport(file=source)
    resolver = _Resolver(taxonomy, unknown_category, fallback, report)
    columns = GeicColumns(taxonomy=taxonomy)
    keys, values = list(data), list(data.values())
    skipped: list[int] = []
    unaligned: list[tuple[int, str]] = []
    for a in range(0, len(values), _CHUNK):
        chunk = values[a:a + _CHUNK]
        numbers: Sequence[int] = range(a, a + len(chunk))
        parsed = _fields(chunk, resolver)
        if parsed is None:  # something unusual: each sample is checked, the first bad one named
            checked = [_check_sample(source, keys[n], value, resolver, empty_sentences == "skip")
                       for n, value in zip(numbers, chunk)]
            skipped += [n for n, sample in zip(numbers, checked) if sample is None]
            report.skipped_entities += sum(len(v["entity"]) for v, sample in zip(chunk, checked) if sample is None)
            numbers = [n for n, sample in zip(numbers, checked) if sample is not None]
            texts, entities, categories = (list(f) for f in zip(*filter(None, checked))) if numbers else ([],) * 3
            labels = list(chain.from_iterable(categories))
            parsed = texts, entities, labels, list(map(len, entities)), list(map(resolver.__getitem__, labels))
        repeated, missing = _align(columns, *parsed, numbers)
        report.repeated_surface_forms += repeated
        unaligned += missing
    keys = list(map(str, keys))
    if skipped:
        report.skipped_samples = [keys[n] for n in skipped]
        gone = set(skipped)
        columns.keys = [key for n, key in enumerate(keys) if n not in gone]
    else:
        columns.keys = keys
    if resolver.unknown:  # first-use order
        used = Counter(columns.categories)
        report.unknown_categories = {name: used[name] for name in resolver.unknown}
    report.samples, report.entities = len(columns.keys), len(columns.categories)
    report.fuzzy, report.unaligned = columns.alignments.count("fuzzy"), len(unaligned)
    report.exact = report.entities - report.fuzzy - report.unaligned
    report.unaligned_examples = [(keys[n], text) for n, text in unaligned]
    if unaligned:
        samples = [keys[n] for n in dict.fromkeys(n for n, _ in unaligned)]
        shown = ", ".join(samples[:10]) + (", ..." if len(samples) > 10 else "")
        warnings.warn(
            f"{source}: {report.unaligned} entities not found in their sentence (kept with start=end=-1) "
            f"in {len(samples)} samples: {shown}",
            GeicAlignmentWarning,
            stacklevel=_outside(),  # the user's call
        )
    return columns, report


def parse_geic(data: Mapping[str, Any], taxonomy: Taxonomy, *, source: str, unknown_category: _Unknown = "error",
               catch_all: str | None = None, empty_sentences: _Empty = "error") -> _Samples:
    """:func:`parse_geic_columns` as :class:`GeicSample` objects (same rules, same options, same report)."""
    columns, report = parse_geic_columns(data, taxonomy, source=source, unknown_category=unknown_category,
                                         catch_all=catch_all, empty_sentences=empty_sentences)
    return columns.samples(), report


def read_geic_columns(path: str | Path, taxonomy: Taxonomy, *, unknown_category: _Unknown = "error",
                      catch_all: str | None = None, empty_sentences: _Empty = "error") -> _Columns:
    """Read one GEIC file (what the dataset builder reads): :func:`load_geic_json`, then :func:`parse_geic_columns`."""
    return parse_geic_columns(load_geic_json(path), taxonomy, source=str(path), unknown_category=unknown_category,
                              catch_all=catch_all, empty_sentences=empty_sentences)


def read_geic(path: str | Path, taxonomy: Taxonomy, *, unknown_category: _Unknown = "error",
              catch_all: str | None = None, empty_sentences: _Empty = "error") -> _Samples:
    """:func:`read_geic_columns` as :class:`GeicSample` objects: strict UTF-8, JSON with duplicate-key detection."""
    columns, report = read_geic_columns(path, taxonomy, unknown_category=unknown_category, catch_all=catch_all,
                                        empty_sentences=empty_sentences)
    return columns.samples(), report
