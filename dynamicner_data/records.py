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

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import datasets
import numpy as np
import pyarrow as pa

from dynamicner_data import LANGUAGES  # noqa: F401  (re-exported: records.LANGUAGES)
from dynamicner_data.gc_scope import paused_gc
from dynamicner_data.geic import AlignmentReport, GeicColumns, GeicSample
from dynamicner_data.taxonomy import Taxonomy, TypeNode
from dynamicner_data.tokenize import bio_batch, tokenize_batch
from dynamicner_data.typelists import (
    GRANULARITIES,
    STATIC_LEVELS,
    DynamicOptions,
    TypeListAssignment,
    dynamic_type_list,
    dynamic_type_lists,
    static_type_list,
    static_type_lists,
)


SPLITS: tuple[str, ...] = ("train", "validation", "test")

DEFAULT_BATCH_SIZE = 10_000
"""Rows per ``pyarrow`` table handed to the writer (bounds memory, see the benchmark)."""


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
        self._paths = taxonomy.cached("records.paths", _NodePaths)
        if alignment is None:
            alignment = AlignmentReport(file=source)
        self.summary = FileSummary(source=source, language=language, split=split, alignment=alignment)

    def assign(self, sample_id: str, nodes: Sequence[TypeNode | None]) -> TypeListAssignment:
        """The type list and labels of one sample (dynamic: seeded by ``sample_id``)."""
        if self._level:
            return static_type_list(nodes, self.taxonomy, self._level)
        return dynamic_type_list(sample_id, nodes, self.taxonomy, self.options)

    def tables(self, samples: Iterable[GeicSample] | GeicColumns) -> Iterator[pa.Table]:
        """Yield tables of at most ``batch_size`` rows (none for no samples).

        ``samples`` are :class:`~dynamicner_data.geic.GeicSample` s or, cheaper, the
        :class:`~dynamicner_data.geic.GeicColumns` the builder reads. Each batch is built with the
        cyclic garbage collector paused (see :func:`~dynamicner_data.gc_scope.paused_gc`); it runs again while the caller
        writes the table.
        """
        if isinstance(samples, GeicColumns):
            columns = samples
        else:
            columns = GeicColumns.from_samples(list(samples), self.taxonomy)
        offsets = np.zeros(len(columns) + 1, dtype=np.int64)
        np.cumsum(columns.counts, out=offsets[1:])
        for a in range(0, len(columns), self.batch_size):
            with paused_gc():
                table = self._table(columns, offsets, a, min(a + self.batch_size, len(columns)))
            yield table

    def _table(self, columns: GeicColumns, offsets: np.ndarray, a: int, b: int) -> pa.Table:
        """Samples ``a:b`` of ``columns`` as a table with exactly the schema's types, built column by column.

        Type lists (:func:`~dynamicner_data.typelists.dynamic_type_lists` or
        :func:`~dynamicner_data.typelists.static_type_lists`), tokens and IOB2 tags
        (:func:`~dynamicner_data.tokenize.tokenize_batch`, :func:`~dynamicner_data.tokenize.bio_batch`)
        each come from one pass over the whole batch.
        """
        summary = self.summary
        keys = columns.keys[a:b]
        ids = [self._id_prefix + key for key in keys]
        texts = columns.texts[a:b]
        lo, hi = int(offsets[a]), int(offsets[b])
        entity_offsets = offsets[a:b + 1] - lo
        nodes = np.array(columns.node_ids[lo:hi], dtype=np.int64)
        if self._level:
            lists = static_type_lists(entity_offsets, nodes, self.taxonomy, self._level)
        else:
            lists = dynamic_type_lists(ids, entity_offsets, nodes, self.taxonomy, self.options)
        names = lists.names
        if "" in names:
            empty = np.flatnonzero(lists.label_names == names.index(""))
            if len(empty):
                k = int(empty[0])
                row = int(np.searchsorted(entity_offsets, k, side="right")) - 1
                raise ValueError(
                    f"{summary.source}: sample {keys[row]!r}: empty label for entity {columns.entity_texts[lo + k]!r}"
                )
        starts = columns.starts[lo:hi]
        ends = columns.ends[lo:hi]
        try:
            tokens = tokenize_batch(texts, self.language)
        except UnicodeEncodeError:  # a lone surrogate, e.g. from a JSON escape "\ud800": name the sample
            row = next(r for r, text in enumerate(texts) if not _encodes(text))
            raise ValueError(
                f"{summary.source}: sample {keys[row]!r}: field 'sentence' holds a lone surrogate "
                "(not valid Unicode text; fix the JSON escape)"
            ) from None
        bad = [k for k in range(lo, hi) if not _encodes(columns.entity_texts[k])] if not _encodes_all(
            columns.entity_texts[lo:hi]) else []
        if bad:
            row = int(np.searchsorted(entity_offsets, bad[0] - lo, side="right")) - 1
            raise ValueError(
                f"{summary.source}: sample {keys[row]!r}: field 'entity'[{bad[0] - lo - entity_offsets[row]}] holds "
                "a lone surrogate (not valid Unicode text; fix the JSON escape)"
            )
        bio = bio_batch(tokens, entity_offsets, starts, ends, lists.label_names, label_table=names)

        tag_type = self.schema.field("ner_tags").type.value_type
        if self._tag_ids is None:
            tag_values = pa.array(bio.names, pa.string()).take(pa.array(bio.codes))
        else:
            tag_ids = self._tag_ids
            missing = [name for name in bio.names if name not in tag_ids]
            if missing:  # pragma: no cover - static_type_lists and static_labels disagree
                k = int(np.flatnonzero(lists.label_names == names.index(missing[0][2:]))[0])
                row = int(np.searchsorted(entity_offsets, k, side="right")) - 1
                raise ValueError(
                    f"{summary.source}: sample {keys[row]!r}: tag {missing[0]!r} is not a class of "
                    f"config granularity {self.granularity!r}"
                )
            lookup = np.array([tag_ids[name] for name in bio.names], dtype=np.int64)
            tag_values = pa.array(lookup[bio.codes], tag_type)

        summary.rows += b - a
        summary.entities += hi - lo
        summary.boundary_mismatches += bio.misaligned
        summary.overlapping += bio.overlapping
        node_counts = np.bincount(lists.label_nodes + 1, minlength=len(lists.nodes) + 1)
        summary.label_counts.update(
            {(lists.nodes[k - 1] if k else None): int(node_counts[k]) for k in np.flatnonzero(node_counts).tolist()}
        )
        name_counts = np.bincount(lists.label_names, minlength=len(names))
        summary.label_strings.update({names[k]: int(name_counts[k]) for k in np.flatnonzero(name_counts).tolist()})

        offsets = pa.int32()
        name_array = pa.array(names, pa.string())
        entity_type = self.schema.field("entities").type.value_type
        entity_struct = pa.StructArray.from_arrays(
            [
                pa.array(columns.entity_texts[lo:hi], pa.string()),
                name_array.take(pa.array(lists.label_names)),
                pa.array(starts, pa.int32()),
                pa.array(ends, pa.int32()),
                self._paths.paths(nodes),
            ],
            fields=list(entity_type),
        )
        token_offsets = pa.array(tokens.row_offsets.astype(np.int32), offsets)
        arrays = [
            pa.array(ids, pa.string()),
            pa.array([self.language] * (b - a), pa.string()),
            pa.array(texts, pa.string()),
            pa.ListArray.from_arrays(token_offsets, tokens.tokens),
            pa.ListArray.from_arrays(token_offsets, tag_values),
            pa.ListArray.from_arrays(pa.array(entity_offsets.astype(np.int32), offsets), entity_struct),
            pa.ListArray.from_arrays(
                pa.array(lists.offsets.astype(np.int32), offsets), name_array.take(pa.array(lists.item_names))
            ),
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _encodes(text: str) -> bool:
    """Whether ``text`` is valid Unicode text (no lone surrogate), i.e. encodes to UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encodes_all(texts: list[str]) -> bool:
    return _encodes("".join(texts))


class _NodePaths:
    """The paths of taxonomy nodes (by index) as an Arrow column (built once per taxonomy)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        nodes = taxonomy.nodes
        self.lengths = np.array([len(n.path) for n in nodes] + [0], dtype=np.int64)
        self.starts = np.zeros(len(nodes) + 1, dtype=np.int64)
        np.cumsum(self.lengths[:-1], out=self.starts[1:])
        self.values = pa.array([name for n in nodes for name in n.path], pa.string())

    def paths(self, nodes: np.ndarray) -> pa.ListArray:
        """The ``path`` column of entities with these node indices (``-1``: an empty path)."""
        index = np.where(nodes >= 0, nodes, len(self.lengths) - 1)
        lengths = self.lengths[index]
        offsets = np.zeros(len(nodes) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        take = np.repeat(self.starts[index] - offsets[:-1], lengths) + np.arange(int(offsets[-1]))
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), self.values.take(pa.array(take)))
