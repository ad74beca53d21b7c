"""What the list code returns: one sample's list and labels, or a whole batch as flat arrays.

Both the dynamic (:mod:`~dynamicner_data.typelists.dynamic`) and the static
(:mod:`~dynamicner_data.typelists.static`) lists come as a :class:`TypeListBatch` for a batch
and a :class:`TypeListAssignment` for one sample; :func:`check_assignment` checks the
guarantees the dynamic module's docstring states.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> tax = Taxonomy.dynamicner()
    >>> a = TypeListAssignment(("city", "country"), ("city",), (tax.resolve("city"), tax.resolve("country")))
    >>> a.node_of("country").path
    ('location', 'geo-political entity', 'country')
    >>> check_assignment([tax.resolve("city")], a)
    []
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..taxonomy import TypeNode, normalize_name

__all__ = ["TypeListAssignment", "TypeListBatch", "check_assignment"]


@dataclass(frozen=True)
class TypeListAssignment:
    """A sample's type list and one label (an item of the list) per entity."""

    type_list: tuple[str, ...]
    labels: tuple[str, ...]
    item_nodes: tuple[TypeNode | None, ...]

    def node_of(self, label: str) -> TypeNode | None:
        """The taxonomy node a list item stands for (``None`` for "unknown")."""
        return self.item_nodes[self.type_list.index(label)]


@dataclass(frozen=True)
class TypeListBatch:
    """The type lists of a batch: flat arrays with row offsets, strings interned in :attr:`names`.

    Sample ``s`` lists ``item_nodes[offsets[s]:offsets[s + 1]]`` (taxonomy indices, ``-1`` for the
    "unknown" item) named ``names[item_names[...]]``; entity ``e`` (in batch order) is labelled
    ``names[label_names[e]]``, the list item standing for node ``label_nodes[e]`` (``-1``: "unknown").
    """

    names: list[str]
    offsets: np.ndarray
    item_nodes: np.ndarray
    item_names: np.ndarray
    label_names: np.ndarray
    label_nodes: np.ndarray
    entity_offsets: np.ndarray
    nodes: tuple[TypeNode, ...]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def assignment(self, s: int) -> TypeListAssignment:
        """Sample ``s`` as a :class:`TypeListAssignment`."""
        a, b = int(self.offsets[s]), int(self.offsets[s + 1])
        ea, eb = int(self.entity_offsets[s]), int(self.entity_offsets[s + 1])
        names = self.names
        return TypeListAssignment(
            type_list=tuple(names[k] for k in self.item_names[a:b].tolist()),
            labels=tuple(names[k] for k in self.label_names[ea:eb].tolist()),
            item_nodes=tuple(self.nodes[k] if k >= 0 else None for k in self.item_nodes[a:b].tolist()),
        )

    @classmethod
    def concatenate(cls, parts: Sequence["TypeListBatch"]) -> "TypeListBatch":
        """One batch from consecutive ones that share their :attr:`names` (the taxonomy's interned strings)."""
        def joined(name: str) -> np.ndarray:
            arrays = [getattr(p, name) for p in parts]
            bases = np.cumsum([0] + [int(a[-1]) for a in arrays[:-1]])
            return np.concatenate([arrays[0]] + [a[1:] + base for a, base in zip(arrays[1:], bases[1:])])

        return cls(
            names=parts[-1].names,
            offsets=joined("offsets"),
            item_nodes=np.concatenate([p.item_nodes for p in parts]),
            item_names=np.concatenate([p.item_names for p in parts]),
            label_names=np.concatenate([p.label_names for p in parts]),
            label_nodes=np.concatenate([p.label_nodes for p in parts]),
            entity_offsets=joined("entity_offsets"),
            nodes=parts[0].nodes,
        )


def check_assignment(nodes: Sequence[TypeNode | None], assignment: TypeListAssignment) -> list[str]:
    """Problems with one assignment (empty when it keeps every guarantee of the dynamic algorithm).

    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> from dynamicner_data.typelists import DynamicOptions, dynamic_type_list
    >>> tax = Taxonomy.dynamicner()
    >>> bad = TypeListAssignment(("city", "location"), ("city",), (tax.resolve("city"), tax.get(("location",))))
    >>> check_assignment([tax.resolve("city")], bad)[0]
    'items city and location lie on one path'
    >>> good = dynamic_type_list("x-1", [tax.resolve("city")], tax, DynamicOptions())
    >>> check_assignment([tax.resolve("city")], good)
    []
    """
    out: list[str] = []
    items, labels, item_nodes = assignment.type_list, assignment.labels, assignment.item_nodes
    if len(items) != len(item_nodes):
        out.append("type_list and item_nodes differ in length")
    if len({normalize_name(i) for i in items}) != len(items):
        out.append(f"duplicate list strings in {items}")
    if any(not i for i in items):
        out.append("empty list string")
    if len(labels) != len(nodes):
        out.append(f"{len(labels)} labels for {len(nodes)} entities")
    listed = [(name, node) for name, node in zip(items, item_nodes) if node is not None]
    for a in range(len(listed)):
        for b in range(a + 1, len(listed)):
            na, nb = listed[a][1], listed[b][1]
            if na.path == nb.path or na.is_ancestor_of(nb) or nb.is_ancestor_of(na):
                out.append(f"items {listed[a][0]} and {listed[b][0]} lie on one path")
    for node, label in zip(nodes, labels):
        if label not in items:
            out.append(f"label {label!r} not in list {items}")
            continue
        item = item_nodes[items.index(label)]
        on_path = [name for name, n in listed if node is not None and (n.path == node.path or n.is_ancestor_of(node))]
        if on_path:
            if on_path != [label]:
                out.append(f"entity of type {node} labelled {label!r}, but the list item on its path is {on_path}")
        elif not (item is None or item.is_catch_all()):
            out.append(f"entity of type {node} labelled {label!r}, which is neither on its path nor a catch-all")
    return out
