"""Static type lists: one whole taxonomy level offered to every sample, and the granularity table.

The granularities of the dataset: ``dynamic`` (a list per sample,
:mod:`dynamicner_data.typelists.dynamic`) and the static ``coarse`` / ``medium`` / ``fine``,
which offer the whole first, second or third level of the hierarchy (:data:`STATIC_LEVELS`,
the one definition the builder, the records and the benchmark share).

A static list is the level's *cut*: the types at that level plus the leaves above it, so every
root-to-leaf path holds exactly one item. Names shared by two items are qualified with the
parent's name ("other (art)"). Each entity is labelled with the item on its path. Entities
without one (an unknown category, or a type coarser than the level that has sub-types) are
answered with the level's catch-all, the first item whose names on its path are all catch-alls
("miscellaneous"); when the level has none, with "unknown", appended to that sample's list
(written "unknown (<taxonomy name>)" when the taxonomy has a type called "unknown").

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> tax = Taxonomy.dynamicner()
    >>> a = static_type_list([tax.resolve("city"), tax.resolve("author")], tax, STATIC_LEVELS["coarse"])
    >>> a.labels, len(a.type_list)
    (('location', 'person'), 8)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import GRANULARITIES, STATIC_LEVELS
from ..taxonomy import Taxonomy, TypeNode, is_catch_all_name
from .assignment import TypeListAssignment, TypeListBatch
from .tables import TypeTables, display_names, type_tables

__all__ = ["STATIC_LEVELS", "GRANULARITIES", "StaticLevel", "static_type_list", "static_type_lists"]



class StaticLevel:
    """One static level of a taxonomy, precomputed: the list, and the label of every node id."""

    def __init__(self, tables: TypeTables, taxonomy: Taxonomy, level: int) -> None:
        cut = [tables.ids[n.path] for n in taxonomy.cut(level)]
        names = display_names(tables, cut)
        name_of = dict(zip(cut, names))
        catch = next((i for i in cut if all(is_catch_all_name(p) for p in tables.nodes[i].path)), -1)
        self.appends_unknown = catch < 0
        """No catch-all at this level: "unknown" answers, appended to the lists that need it."""
        self.fallback = name_of[catch] if catch >= 0 else tables.unknown_name
        self.type_list = tuple(names)
        self.item_nodes = tuple(tables.nodes[i] for i in cut)
        self.item_ids = cut
        position = {i: k for k, i in enumerate(cut)}
        self.item_index: list[int] = []  # per node: position of its item in the list, -1 for none
        self.label: list[str | None] = []  # None: the node has no item at this level
        for path in tables.paths:
            target = path[min(level, len(path)) - 1]
            self.label.append(name_of.get(target))
            self.item_index.append(position.get(target, -1))

    @staticmethod
    def of(taxonomy: Taxonomy, level: int) -> "StaticLevel":
        """The precomputed ``level`` of ``taxonomy`` (cached with it; a clear error for a bad level)."""
        if not 1 <= level <= max(taxonomy.depth, 1):
            raise ValueError(f"level must be in 1..{taxonomy.depth} for taxonomy {taxonomy.name!r}, got {level}")
        return taxonomy.cached(f"typelists.static.{level}", lambda t: StaticLevel(type_tables(t), t, level))


def static_type_list(nodes: Sequence[TypeNode | None], taxonomy: Taxonomy, level: int) -> TypeListAssignment:
    """The whole ``level`` as the list (plus leaves above it); each label is the entity's type at that level.

    Entities without a node, or annotated with a type coarser than ``level`` that has sub-types,
    are answered with the level's catch-all ("miscellaneous"); when the level has none,
    "unknown" is appended to the list.

    >>> tax = Taxonomy.dynamicner()
    >>> a = static_type_list([tax.resolve("city"), None, tax.get(("person",))], tax, 2)
    >>> a.labels, len(a.type_list)
    (('geo-political entity', 'miscellaneous', 'miscellaneous'), 31)
    """
    static = StaticLevel.of(taxonomy, level)
    ids, label_of, fallback = type_tables(taxonomy).ids, static.label, static.fallback
    labels = []
    missing = False
    for node in nodes:
        label = None
        if node is not None:
            nid = ids.get(node.path)
            if nid is None:
                raise ValueError(f"type {node} is not in taxonomy {taxonomy.name!r}")
            label = label_of[nid]
        if label is None:
            label = fallback
            missing = True
        labels.append(label)
    if missing and static.appends_unknown:
        return TypeListAssignment(static.type_list + (static.fallback,), tuple(labels), static.item_nodes + (None,))
    return TypeListAssignment(static.type_list, tuple(labels), static.item_nodes)


def static_type_lists(entity_offsets: Sequence[int] | np.ndarray, entity_nodes: Sequence[int] | np.ndarray,
                      taxonomy: Taxonomy, level: int) -> TypeListBatch:
    """:func:`static_type_list` for a whole batch; entity nodes as taxonomy indices (``-1``: unknown category).

    >>> tax = Taxonomy.dynamicner()
    >>> batch = static_type_lists([0, 1, 3], [tax.nodes.index(tax.resolve("city")), -1, 0], tax, 1)
    >>> [batch.names[k] for k in batch.label_names.tolist()]
    ['location', 'miscellaneous', 'person']
    >>> batch.assignment(1) == static_type_list([None, tax.get(("person",))], tax, 1)
    True
    """
    static = StaticLevel.of(taxonomy, level)
    offsets = np.asarray(entity_offsets, dtype=np.int64).reshape(-1)
    nodes = np.asarray(entity_nodes, dtype=np.int64).reshape(-1)
    width = len(static.type_list)
    names = list(static.type_list) + ([static.fallback] if static.appends_unknown else [])
    fallback = len(static.type_list) if static.appends_unknown else static.type_list.index(static.fallback)
    # per node: its item's position in the list (-1: none, the fallback answers)
    item_of = np.array(static.item_index + [-1], dtype=np.int64)
    positions = item_of[np.where(nodes >= 0, nodes, len(item_of) - 1)]
    missing = positions < 0
    label_names = np.where(missing, fallback, positions)
    cut = np.array(static.item_ids + [-1], dtype=np.int64)
    samples = len(offsets) - 1
    extra = np.zeros(samples, dtype=np.int64)
    if static.appends_unknown and missing.any():
        extra[np.repeat(np.arange(samples), np.diff(offsets))[missing]] = 1
    lengths = width + extra
    list_offsets = np.zeros(samples + 1, dtype=np.int64)
    np.cumsum(lengths, out=list_offsets[1:])
    pos = np.arange(int(list_offsets[-1])) - np.repeat(list_offsets[:-1], lengths)
    return TypeListBatch(
        names=names,
        offsets=list_offsets,
        item_nodes=cut[pos],
        item_names=pos,
        label_names=label_names,
        label_nodes=cut[label_names],
        entity_offsets=offsets,
        nodes=type_tables(taxonomy).nodes,
    )
