"""GEIC samples -> dataset rows, written as bounded ``pyarrow`` batches.

One row per sample, with the features of ``docs/architecture.md``: ``id``, ``language``,
``text``, ``tokens``, ``ner_tags`` (IOB2: ``ClassLabel`` ids for the static granularities,
strings for ``dynamic``), ``entities`` (``{text, label, start, end, path}``, ``end``
exclusive) and ``type_list`` (the candidate types the sample offers).

:class:`RowBatcher` turns parsed samples into ``pyarrow`` tables of at most ``batch_size``
rows, built column by column (flat values plus list offsets), so memory beyond the parsed
input stays bounded by one batch whatever the corpus size. It also counts what a build must
report: token boundaries that fall inside a token, and how often each label was given.

Example (a tiny two-level taxonomy and one sample):

>>> from dynamicner_data.taxonomy import Taxonomy
>>> from dynamicner_data.geic import parse_geic
>>> taxonomy = Taxonomy.from_dict({"dataset": "toy", "first-level": "person, location",
...     "second-level": {"location": "city, country"}})
>>> samples, report = parse_geic({"s1": {"sentence": "Ana lives in Lima .",
...     "entity": ["Ana", "Lima"], "category": ["person", "city"]}}, taxonomy, source="<toy>")
>>> batcher = RowBatcher(language="en", split="train", taxonomy=taxonomy, granularity="coarse")
>>> [table] = list(batcher.tables(samples))
>>> row = table.to_pylist()[0]
>>> row["id"], row["tokens"], row["type_list"]
('en-train-s1', ['Ana', 'lives', 'in', 'Lima', '.'], ['person', 'location'])
>>> [(e["text"], e["label"], e["start"], e["end"], e["path"]) for e in row["entities"]]
[('Ana', 'person', 0, 3, ['person']), ('Lima', 'location', 13, 17, ['location', 'city'])]
>>> features = dataset_features(taxonomy, "coarse")
>>> [features["ner_tags"].feature.int2str(i) for i in row["ner_tags"]]
['B-person', 'O', 'O', 'B-location', 'O']
>>> batcher.summary.rows, batcher.summary.boundary_mismatches
(1, 0)
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from typing import Iterable, Iterator, Sequence

import datasets
import pyarrow as pa

from dynamicner_data.geic import AlignmentReport, GeicSample
from dynamicner_data.taxonomy import Taxonomy, TypeNode
from dynamicner_data.tokenize import bio_tags, tokenize_columns
from dynamicner_data.typelists import (
    GRANULARITIES,
    DynamicOptions,
    TypeListAssignment,
    dynamic_type_list,
    static_type_list,
)

LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "ru", "de", "zh", "ja", "ko")
"""The eight DynamicNER languages, in the paper's order."""

SPLITS: tuple[str, ...] = ("train", "validation", "test")

STATIC_LEVELS: dict[str, int] = {"coarse": 1, "medium": 2, "fine": 3}
"""Taxonomy level of each static granularity (1-based)."""

DEFAULT_BATCH_SIZE = 10_000
"""Rows per ``pyarrow`` table handed to the writer (bounds memory, see the benchmark)."""


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees memory).

    Parsing and row building allocate millions of small acyclic objects; with the collector on,
    each full collection walks the whole parsed corpus, so time grows faster than the corpus.

    >>> with paused_gc():
    ...     gc.isenabled()
    False
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_granularity(granularity: str) -> str:
    """Return ``granularity`` or raise a ``ValueError`` listing the valid ones.

    >>> check_granularity("fine")
    'fine'
    >>> check_granularity("finest")
    Traceback (most recent call last):
    ...
    ValueError: unknown granularity 'finest'; expected one of dynamic, coarse, medium, fine
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}; expected one of {', '.join(GRANULARITIES)}")
    return granularity


def static_level(taxonomy: Taxonomy, granularity: str) -> int:
    """The taxonomy level a static granularity maps labels to; a clear error if too deep.

    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> static_level(Taxonomy.dynamicner(), "medium")
    2
    """
    level = STATIC_LEVELS[check_granularity(granularity)] if granularity != "dynamic" else 0
    if level == 0:
        raise ValueError("the dynamic granularity has no static level")
    if level > taxonomy.depth:
        raise ValueError(
            f"granularity {granularity!r} needs taxonomy level {level}, but taxonomy {taxonomy.name!r} "
            f"({taxonomy.source}) has only {taxonomy.depth} level(s); use "
            f"{', '.join(g for g, lv in STATIC_LEVELS.items() if lv <= taxonomy.depth)} or dynamic"
        )
    return level


def static_labels(taxonomy: Taxonomy, granularity: str) -> tuple[str, ...]:
    """Every label a static granularity can give (the label names of its ``ClassLabel``).

    That is the whole level (plus shallower leaves), and ``unknown`` when the level has no
    catch-all for entities of unknown category.

    >>> len(static_labels(Taxonomy.dynamicner(), "coarse"))
    8
    >>> static_labels(Taxonomy.from_dict({"dataset": "toy", "first-level": "person, city"}), "coarse")
    ('person', 'city', 'unknown')
    """
    return static_type_list([None], taxonomy, static_level(taxonomy, granularity)).type_list


def tag_names(labels: Sequence[str]) -> list[str]:
    """IOB2 tag names for ``labels``: ``O`` first, then ``B-x``, ``I-x`` per label.

    >>> tag_names(["person", "city"])
    ['O', 'B-person', 'I-person', 'B-city', 'I-city']
    """
    names = ["O"]
    for label in labels:
        names += [f"B-{label}", f"I-{label}"]
    return names


def dataset_features(taxonomy: Taxonomy, granularity: str) -> datasets.Features:
    """The ``datasets.Features`` of a config (python-list syntax: valid in datasets 3.6 and 5).

    >>> dataset_features(Taxonomy.dynamicner(), "dynamic")["ner_tags"]
    List(Value('string'))
    >>> dataset_features(Taxonomy.dynamicner(), "fine")["ner_tags"].feature.num_classes
    311
    """
    if check_granularity(granularity) == "dynamic":
        tag_feature = datasets.Value("string")
    else:
        tag_feature = datasets.ClassLabel(names=tag_names(static_labels(taxonomy, granularity)))
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "language": datasets.Value("string"),
            "text": datasets.Value("string"),
            "tokens": [datasets.Value("string")],
            "ner_tags": [tag_feature],
            "entities": [
                {
                    "text": datasets.Value("string"),
                    "label": datasets.Value("string"),
                    "start": datasets.Value("int32"),
                    "end": datasets.Value("int32"),
                    "path": [datasets.Value("string")],
                }
            ],
            "type_list": [datasets.Value("string")],
        }
    )


def tag_class_label(features: datasets.Features) -> datasets.ClassLabel:
    """The ``ClassLabel`` inside ``ner_tags`` (a python list in datasets 3.6, ``List`` in 5.x).

    >>> tag_class_label(dataset_features(Taxonomy.dynamicner(), "coarse")).num_classes
    17
    """
    tags = features["ner_tags"]
    item = tags[0] if isinstance(tags, list) else tags.feature
    if not isinstance(item, datasets.ClassLabel):
        raise TypeError(f"ner_tags holds {item!r}, not a ClassLabel (dynamic configs use strings)")
    return item


@dataclass
class FileSummary:
    """What building the rows of one GEIC file produced: counts to report, never to hide.

    ``label_counts`` counts each given label by the taxonomy node it stands for (``None``
    for a list item with no node, e.g. ``unknown``); its size is bounded by the taxonomy.
    """

    source: str
    language: str
    split: str
    alignment: AlignmentReport
    rows: int = 0
    entities: int = 0
    boundary_mismatches: int = 0
    overlapping: int = 0
    label_counts: Counter = field(default_factory=Counter)
    label_strings: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """One line: file, split, rows, alignment and token-boundary counts."""
        return (
            f"{self.language}/{self.split}: {self.rows} rows; {self.alignment.summary()}; "
            f"{self.boundary_mismatches} entity boundaries inside a token, {self.overlapping} overlapping "
            f"entities left out of ner_tags"
        )


@dataclass
class BuildSummary:
    """The per-file summaries of one build, with totals; logged by the builder."""

    config: str
    files: list[FileSummary] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def entities(self) -> int:
        return sum(f.entities for f in self.files)

    @property
    def unaligned(self) -> int:
        return sum(f.alignment.unaligned for f in self.files)

    @property
    def fuzzy(self) -> int:
        return sum(f.alignment.fuzzy for f in self.files)

    @property
    def boundary_mismatches(self) -> int:
        return sum(f.boundary_mismatches for f in self.files)

    @property
    def overlapping(self) -> int:
        return sum(f.overlapping for f in self.files)

    def label_counts(self) -> Counter:
        """Given labels by node over every file (``None``: a list item without a node)."""
        total: Counter = Counter()
        for f in self.files:
            total.update(f.label_counts)
        return total

    def text(self) -> str:
        """Multi-line report: one line per file, then the totals."""
        lines = [f"build summary of config {self.config!r}:"]
        lines += [f"  {f.summary()}" for f in self.files]
        lines.append(
            f"  total: {self.rows} rows, {self.entities} entities, {self.fuzzy} aligned by the "
            f"case/space-insensitive search, {self.unaligned} unaligned (kept with start=end=-1), "
            f"{self.boundary_mismatches} entity boundaries inside a token, {self.overlapping} overlapping "
            f"entities left out of ner_tags (still in entities)"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "config": self.config,
            "rows": self.rows,
            "entities": self.entities,
            "fuzzy": self.fuzzy,
            "unaligned": self.unaligned,
            "boundary_mismatches": self.boundary_mismatches,
            "overlapping": self.overlapping,
            "files": [
                {
                    "source": f.source,
                    "language": f.language,
                    "split": f.split,
                    "rows": f.rows,
                    "entities": f.entities,
                    "boundary_mismatches": f.boundary_mismatches,
                    "overlapping": f.overlapping,
                    "alignment": f.alignment.to_dict(),
                }
                for f in self.files
            ],
        }


class _Columns:
    """Flat column buffers plus list offsets for one batch."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.languages: list[str] = []
        self.texts: list[str] = []
        self.token_offsets: list[int] = [0]
        self.tokens: list[str] = []
        self.tags: list = []
        self.entity_offsets: list[int] = [0]
        self.entity_text: list[str] = []
        self.entity_label: list[str] = []
        self.entity_start: list[int] = []
        self.entity_end: list[int] = []
        self.path_offsets: list[int] = [0]
        self.paths: list[str] = []
        self.type_offsets: list[int] = [0]
        self.types: list[str] = []
        self.label_nodes: list[TypeNode | None] = []  # for the summary's label counts

    def __len__(self) -> int:
        return len(self.ids)

    def table(self, schema: pa.Schema) -> pa.Table:
        """The batch as a table with exactly ``schema``'s types (no cast needed by the writer)."""
        offsets = pa.int32()
        tag_type = schema.field("ner_tags").type.value_type
        entity_type = schema.field("entities").type.value_type
        entity_struct = pa.StructArray.from_arrays(
            [
                pa.array(self.entity_text, pa.string()),
                pa.array(self.entity_label, pa.string()),
                pa.array(self.entity_start, pa.int32()),
                pa.array(self.entity_end, pa.int32()),
                pa.ListArray.from_arrays(
                    pa.array(self.path_offsets, offsets), pa.array(self.paths, pa.string())
                ),
            ],
            fields=list(entity_type),
        )
        arrays = [
            pa.array(self.ids, pa.string()),
            pa.array(self.languages, pa.string()),
            pa.array(self.texts, pa.string()),
            pa.ListArray.from_arrays(pa.array(self.token_offsets, offsets), pa.array(self.tokens, pa.string())),
            pa.ListArray.from_arrays(pa.array(self.token_offsets, offsets), pa.array(self.tags, tag_type)),
            pa.ListArray.from_arrays(pa.array(self.entity_offsets, offsets), entity_struct),
            pa.ListArray.from_arrays(pa.array(self.type_offsets, offsets), pa.array(self.types, pa.string())),
        ]
        return pa.Table.from_arrays(arrays, schema=schema)


class RowBatcher:
    """Turn the parsed samples of one file into dataset rows, ``batch_size`` rows per table.

    Ids are ``"<language>-<split>-<sample key>"``; dynamic type lists are seeded from
    ``(options.seed, id)``, so a build is identical on every machine. Counts land in
    :attr:`summary` (a :class:`FileSummary`).
    """

    def __init__(
        self,
        *,
        language: str,
        split: str,
        taxonomy: Taxonomy,
        granularity: str,
        options: DynamicOptions | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        alignment: AlignmentReport | None = None,
        source: str = "<samples>",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.language = language
        self.split = split
        self.taxonomy = taxonomy
        self.granularity = check_granularity(granularity)
        self.options = options if options is not None else DynamicOptions()
        self.batch_size = batch_size
        self.features = dataset_features(taxonomy, granularity)
        self.schema = self.features.arrow_schema
        if granularity == "dynamic":
            self._level = 0
            self._tag_ids: dict[str, int] | None = None
        else:
            self._level = static_level(taxonomy, granularity)
            names = tag_class_label(self.features).names
            self._tag_ids = {name: i for i, name in enumerate(names)}
        self._id_prefix = f"{language}-{split}-"
        if alignment is None:
            alignment = AlignmentReport(file=source)
        self.summary = FileSummary(source=source, language=language, split=split, alignment=alignment)

    def assign(self, sample_id: str, nodes: Sequence[TypeNode | None]) -> TypeListAssignment:
        """The type list and labels of one sample (dynamic: seeded by ``sample_id``)."""
        if self._level:
            return static_type_list(nodes, self.taxonomy, self._level)
        return dynamic_type_list(sample_id, nodes, self.taxonomy, self.options)

    def tables(self, samples: Iterable[GeicSample]) -> Iterator[pa.Table]:
        """Yield tables of at most ``batch_size`` rows (none for no samples).

        Each batch is built with the cyclic garbage collector paused (see :func:`paused_gc`);
        it runs again while the caller writes the table.
        """
        iterator = iter(samples)
        while True:
            with paused_gc():
                columns = _Columns()
                for sample in islice(iterator, self.batch_size):
                    self._add(columns, sample)
                table = columns.table(self.schema) if len(columns) else None
                self.summary.label_counts.update(columns.label_nodes)
                self.summary.label_strings.update(columns.entity_label)
            if table is None:
                return
            yield table

    def _add(self, c: _Columns, sample: GeicSample) -> None:
        sample_id = self._id_prefix + sample.key
        entities = sample.entities
        assignment = self.assign(sample_id, [e.node for e in entities])
        labels = assignment.labels
        tokens = tokenize_columns(sample.text, self.language)
        bio = bio_tags(tokens, [(e.start, e.end, label) for e, label in zip(entities, labels)])
        summary = self.summary
        summary.rows += 1
        summary.entities += len(entities)
        summary.boundary_mismatches += bio.misaligned
        summary.overlapping += bio.overlapping
        c.ids.append(sample_id)
        c.languages.append(self.language)
        c.texts.append(sample.text)
        c.tokens += tokens.texts
        c.token_offsets.append(len(c.tokens))
        if self._tag_ids is None:
            c.tags += bio.tags
        else:
            tag_ids = self._tag_ids
            try:
                c.tags += [tag_ids[t] for t in bio.tags]
            except KeyError as exc:  # pragma: no cover - static_type_list and static_labels disagree
                raise ValueError(
                    f"{summary.source}: sample {sample.key!r}: tag {exc.args[0]!r} is not a class of "
                    f"config granularity {self.granularity!r}"
                ) from None
        type_list, item_nodes = assignment.type_list, assignment.item_nodes
        for entity, label in zip(entities, labels):
            if not label:
                raise ValueError(f"{summary.source}: sample {sample.key!r}: empty label for entity {entity.text!r}")
            c.entity_text.append(entity.text)
            c.entity_label.append(label)
            c.entity_start.append(entity.start)
            c.entity_end.append(entity.end)
            if entity.node is not None:
                c.paths += entity.node.path
            c.path_offsets.append(len(c.paths))
            c.label_nodes.append(item_nodes[type_list.index(label)])
        c.entity_offsets.append(len(c.entity_text))
        c.types += type_list
        c.type_offsets.append(len(c.types))
