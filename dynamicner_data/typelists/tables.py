"""The taxonomy as flat tables indexed by node id, built once per taxonomy for the list code.

Node ids are positions in :attr:`Taxonomy.nodes <dynamicner_data.taxonomy.Taxonomy.nodes>`
(pre-order). :class:`TypeTables` holds the structure (parents, ancestors, the 256 random
orderings, catch-alls, names shared by several types) as Python lists and as ``numpy`` arrays
with one extra *sentinel* row ``n`` that stands for "no node", plus the set operations the
batch algorithm runs on boolean ``(nodes + 1, samples)`` matrices. :class:`NameTables` holds the
strings a list can show for one synonym setting. Both are cached with the taxonomy through
:meth:`Taxonomy.cached <dynamicner_data.taxonomy.Taxonomy.cached>`.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> tax = Taxonomy.dynamicner()
    >>> tables = type_tables(tax)
    >>> tables is type_tables(tax), tables.n, tables.depth
    (True, 194, 3)
    >>> city = tables.ids[tax.resolve("city").path]
    >>> [tables.names[i] for i in tables.paths[city]]
    ['location', 'geo-political entity', 'city']
    >>> node_ids(tax, [tax.get(("person",)), None]).tolist()
    [0, -1]
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Sequence

import numpy as np

from ..synonyms import SynonymTable
from ..taxonomy import Taxonomy, TypeNode, is_catch_all_name, normalize_name

__all__ = ["UNKNOWN", "ORDERINGS", "TypeTables", "NameTables", "type_tables", "name_tables", "node_ids",
           "display_names", "count"]

UNKNOWN = "unknown"
"""The list item that answers entities no listed type can answer."""

ORDERINGS = 256
"""Fixed random orderings of a taxonomy's nodes, one per value of a draw byte."""

_ORDERING_SEED = b"dynamicner-typelists-orderings"


class TypeTables:
    """The structure of one taxonomy, by node id (see the module docstring)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        nodes = taxonomy.nodes
        n = self.n = len(nodes)
        depth = self.depth = taxonomy.depth
        sentinel = n
        self.nodes: tuple[TypeNode, ...] = nodes
        self.ids: dict[tuple[str, ...], int] = {node.path: i for i, node in enumerate(nodes)}
        self.names: list[str] = [node.name for node in nodes]
        self.keys: list[str] = [normalize_name(node.name) for node in nodes]
        self.parents: list[int] = [self.ids.get(node.parent_path, -1) for node in nodes]
        # paths[i]: the ids of node i's ancestors, root first, ending with i
        self.paths: list[tuple[int, ...]] = [tuple(self.ids[node.path[:k]] for k in range(1, node.level + 1))
                                             for node in nodes]
        key_counts = Counter(self.keys)
        self.shared_name: list[bool] = [key_counts[k] > 1 for k in self.keys]
        self.unknown_name = f"{UNKNOWN} ({taxonomy.name})" if UNKNOWN in key_counts else UNKNOWN
        """How "unknown" is written: qualified by the taxonomy's name when a type is called "unknown"."""
        catch_all = [is_catch_all_name(node.name) for node in nodes]
        root_catch_alls = [i for i, node in enumerate(nodes) if node.level == 1 and catch_all[i]]

        self.level = np.array([node.level for node in nodes] + [0], dtype=np.int64)
        # at[lv, i]: node i's ancestor at level lv (i itself when not deeper); the sentinel stays the sentinel
        self.at = np.full((depth + 2, n + 1), sentinel, dtype=np.int64)
        for lv in range(depth + 2):
            self.at[lv, :n] = [path[min(lv, len(path)) - 1] for path in self.paths]
        # ancestors[i, k]: node i's ancestor at level k + 1, the sentinel below its own level
        self.ancestors = np.full((n + 1, max(depth, 1)), sentinel, dtype=np.int64)
        for i, path in enumerate(self.paths):
            self.ancestors[i, : len(path)] = path
        # parent, with roots (and the sentinel) pointing at the sentinel: its row in child_any() means "a root"
        self.parent = np.array([p if p >= 0 else sentinel for p in self.parents] + [sentinel], dtype=np.int64)
        self.by_parent = np.argsort(self.parent[:n], kind="stable")  # nodes grouped by parent
        grouped = self.parent[:n][self.by_parent]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if n else np.zeros(0, np.int64)
        ends = np.r_[starts[1:], n].astype(np.int64) if n else starts
        self.groups = list(zip(grouped[starts].tolist(), starts.tolist(), ends.tolist()))
        # rank[o, i]: position of node i in ordering o (keys from SHAKE-128, ties by node id); the sentinel last
        raw = hashlib.shake_128(_ORDERING_SEED).digest(4 * ORDERINGS * max(n, 1))
        keys = np.frombuffer(raw, dtype="<u4")[: ORDERINGS * n].reshape(ORDERINGS, n)
        order = np.argsort(keys, axis=1, kind="stable")
        self.rank = np.full((ORDERINGS, n + 1), n, dtype=np.int64)
        self.rank[np.arange(ORDERINGS)[:, None], order] = np.arange(n)
        self.shift = max(int(n + 1).bit_length(), 1)  # bits of a node id in the sort keys of pick()
        self.catch_all = np.array(catch_all + [False], dtype=bool)
        self.root_catch_alls = np.array(root_catch_alls, dtype=np.int64)
        # catch_all_choices[i]: what answers for node i when it leaves a list: its catch-all siblings,
        # then the first-level catch-alls (sentinel-padded)
        choices = []
        for node in nodes:
            siblings = [self.ids[s.path] for s in taxonomy.siblings(node) if is_catch_all_name(s.name)]
            choices.append(tuple(dict.fromkeys(siblings + root_catch_alls)))
        self.catch_all_choices = np.full((n + 1, max((len(c) for c in choices), default=0) or 1), sentinel,
                                         dtype=np.int64)
        for i, c in enumerate(choices):
            self.catch_all_choices[i, : len(c)] = c
        # types that share a (normalized) name: at most one of each group may be listed
        by_key: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            by_key.setdefault(key, []).append(i)
        self.name_groups = [np.array(g, dtype=np.int64) for g in by_key.values() if len(g) > 1]
        self.group_of = np.full(n + 1, -1, dtype=np.int64)
        for k, g in enumerate(self.name_groups):
            self.group_of[g] = k
        self.deeper = [np.flatnonzero(self.level > k) for k in range(depth + 1)]  # nodes below level k
        self.level_mask = np.zeros((depth + 2, n + 1), dtype=bool)  # level_mask[lv, i]: node i is at level lv
        self.level_mask[self.level[:n], np.arange(n)] = True

    # ------------------------------------------------------------------ set operations
    def child_any(self, x: np.ndarray) -> np.ndarray:
        """Row ``p``: whether some child of ``p`` is set in ``x`` (row ``n``: some root is set)."""
        out = np.zeros_like(x)
        grouped = x[self.by_parent]
        for parent, a, b in self.groups:
            out[parent] = grouped[a:b].any(axis=0)
        return out

    def related(self, members: np.ndarray) -> np.ndarray:
        """Nodes a listed set excludes: the members, their ancestors, descendants and same-name types."""
        rel = members.copy()
        up = members
        down = np.zeros_like(members)
        for _ in range(self.depth - 1):
            up = self.child_any(up)
            up[self.n] = False
            rel |= up
            down = (members | down)[self.parent]
            down[self.n] = False
        rel |= down
        for g in self.name_groups:
            rel[g] |= members[g].any(axis=0)
        rel[self.n] = False
        return rel

    def pick(self, mask: np.ndarray, draws: np.ndarray, limit: np.ndarray | None, *, one_per_name: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
        """The first ``limit[s]`` set nodes of column ``s`` in the ordering ``draws[s]`` picks, as (nodes, columns).

        Pairs come out sorted by column, then by rank: one sort of ``(column, rank, node)`` keys
        over the whole batch. ``one_per_name`` keeps only the first of candidates that share a
        name. ``limit=None``: all of them (a shuffle).
        """
        nodes, cols = np.divmod(np.flatnonzero(mask), mask.shape[1])
        if not len(nodes):
            return nodes, cols
        s = self.shift
        key = (cols << (2 * s)) | (self.rank[draws[cols], nodes] << s) | nodes
        key.sort()
        cols = key >> (2 * s)
        nodes = key & ((1 << s) - 1)
        if one_per_name and self.name_groups:
            group = self.group_of[nodes]
            named = np.flatnonzero(group >= 0)
            if len(named):
                _, first = np.unique(cols[named] * len(self.name_groups) + group[named], return_index=True)
                drop = np.ones(len(named), dtype=bool)
                drop[first] = False  # the first occurrence has the lowest rank
                keep = np.ones(len(nodes), dtype=bool)
                keep[named[drop]] = False
                nodes, cols = nodes[keep], cols[keep]
        if limit is None or not len(nodes):
            return nodes, cols
        starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
        pos = np.arange(len(cols)) - np.repeat(starts, np.diff(np.r_[starts, len(cols)]))
        keep = pos < limit[cols]
        return nodes[keep], cols[keep]

    def first(self, mask: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """Per column, the set node ranked first by the ordering ``draws[s]`` picks (-1: none)."""
        out = np.full(mask.shape[1], -1, dtype=np.int64)
        nodes, cols = self.pick(mask, draws, np.ones(mask.shape[1], dtype=np.int64))
        out[cols] = nodes
        return out


def count(mask: np.ndarray) -> np.ndarray:
    """Set entries per column of a boolean ``(nodes, samples)`` matrix (``mask.sum(axis=0)``, faster).

    >>> count(np.array([[True, False], [True, True]])).tolist()
    [2, 1]
    """
    return np.add.reduce(mask.view(np.uint8), axis=0, dtype=np.int32).astype(np.int64)


class NameTables:
    """Every string a dynamic list can show, interned, for one taxonomy and synonym setting.

    Node names come first (:attr:`name_id` maps a node to its name's id), then "unknown",
    synonyms and qualified names as they are met; ``TypeListBatch.names`` is :attr:`names`.
    """

    def __init__(self, tables: TypeTables, synonyms: SynonymTable | None) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        self.name_id = np.array([self.intern(name) for name in tables.names] + [-1], dtype=np.int64)
        self.unknown = self.intern(tables.unknown_name)
        # per node, its usable synonyms: none that reads as a type name of this taxonomy or "unknown"
        type_keys = set(tables.keys) | {UNKNOWN}
        self.synonyms: list[tuple[str, ...]] = []
        for node in tables.nodes:
            found = synonyms.for_node(node) if synonyms is not None else ()
            self.synonyms.append(tuple(s for s in found if normalize_name(s) not in type_keys))
        # can two listed types end up with one string? (never with the packaged synonym table)
        owners: dict[str, set[int]] = {}
        for i, syns in enumerate(self.synonyms):
            for x in (tables.names[i], *syns):
                owners.setdefault(x, set()).add(i)
        self.shared_synonyms = any(len({tables.keys[i] for i in o}) > 1 for o in owners.values())
        self._by_draw: dict[float, np.ndarray] = {}

    def intern(self, name: str) -> int:
        """The id of ``name`` in :attr:`names` (added when new)."""
        k = self._index.get(name)
        if k is None:
            k = self._index[name] = len(self.names)
            self.names.append(name)
        return k

    def by_draw(self, p_synonym: float) -> np.ndarray:
        """``(nodes, 256)`` name ids: what a synonym draw byte ``v`` names each node.

        Synonym ``v % count`` when ``v < p_synonym * 256`` and the node has synonyms, else its name.
        """
        table = self._by_draw.get(p_synonym)
        if table is None:
            threshold = p_synonym * 256
            rows = []
            for i, syns in enumerate(self.synonyms):
                own = int(self.name_id[i])
                rows.append([self.intern(syns[v % len(syns)]) if syns and v < threshold else own for v in range(256)])
            table = self._by_draw[p_synonym] = np.array(rows, dtype=np.int64).reshape(len(self.synonyms), 256)
        return table


def type_tables(taxonomy: Taxonomy) -> TypeTables:
    """The :class:`TypeTables` of ``taxonomy`` (built once, kept with the taxonomy)."""
    return taxonomy.cached("typelists.tables", TypeTables)


def name_tables(taxonomy: Taxonomy, synonyms: bool) -> NameTables:
    """The :class:`NameTables` of ``taxonomy`` with the packaged synonym table, or without synonyms."""
    if synonyms:
        return taxonomy.cached("typelists.names", lambda t: NameTables(type_tables(t), SynonymTable.packaged()))
    return taxonomy.cached("typelists.names.plain", lambda t: NameTables(type_tables(t), None))


def node_ids(taxonomy: Taxonomy, nodes: Sequence[TypeNode | None]) -> np.ndarray:
    """The taxonomy index of each node (``-1`` for ``None``, an unknown category).

    >>> tax = Taxonomy.from_dict({"first-level": "person, place"})
    >>> node_ids(tax, [tax.resolve("place"), None]).tolist()
    [1, -1]
    """
    ids = type_tables(taxonomy).ids
    try:
        return np.fromiter((ids[n.path] if n is not None else -1 for n in nodes), dtype=np.int64, count=len(nodes))
    except KeyError:
        bad = next(n for n in nodes if n is not None and n.path not in ids)
        raise ValueError(f"type {bad} is not in taxonomy {taxonomy.name!r}") from None


def display_names(tables: TypeTables, items: Sequence[int]) -> list[str]:
    """Names of the listed nodes, qualified by the parent's name where two listed types share a name.

    First-level types keep their name; when the strings are still not unique, the types that
    share a name are written as their path.

    >>> tax = Taxonomy.dynamicner()
    >>> tables = type_tables(tax)
    >>> display_names(tables, [i for i, node in enumerate(tax.nodes) if node.name == "biological"])
    ['biological (weapon)', 'biological (science entity)']
    """
    names = [tables.names[i] for i in items]
    shared = [tables.keys[i] for i in items if tables.shared_name[i]]
    if len(shared) > 1 and len(set(shared)) < len(shared):
        counts = Counter(shared)
        for pos, i in enumerate(items):
            if counts[tables.keys[i]] > 1 and tables.parents[i] >= 0:
                names[pos] = f"{tables.names[i]} ({tables.names[tables.parents[i]]})"
        if len({normalize_name(n) for n in names}) < len(names):
            names = [str(tables.nodes[i]) if counts[tables.keys[i]] > 1 else tables.names[i] for i in items]
    return names
