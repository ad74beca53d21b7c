"""Per-sample type lists: seeded dynamic lists, whole-level static lists, and label statistics.

Granularities: ``dynamic`` (a list per sample, below), ``coarse`` / ``medium`` / ``fine`` (the whole
first, second or third level of the hierarchy; every label mapped to that level).

The dynamic algorithm, in plain words
-------------------------------------
Every sample draws its own random numbers from ``(seed, sample id)`` through ``hashlib``
(BLAKE2b; no ``hash()``, no global random state), so a build gives identical lists on any machine.

1. **Granularity.** The sample picks a base level (first, second or third, equally likely). Each
   entity's gold item is its type at that level (or its own type when that is coarser; it then
   also answers for the entities below it). If that gives more items than ``max_types``, a
   coarser level is used; when even the first level does not fit (a big flat taxonomy), the
   surplus entities answer with a first-level catch-all, else "unknown". A sample without
   entities gets ``min_types`` random types of that level.
2. **Merge** (probability ``p_merge``). One gold item that has sub-types, chosen at random, is replaced by the
   finer types of its entities, one level down, plus up to two of their siblings as options
   (a parent is never listed together with its child). Lists therefore mix levels.
3. **Distractors.** Siblings of the gold items (same parent, same level), in random order, join
   the list while it is shorter than ``max_types``, so the answer must be told apart from its
   nearest neighbours. Lists shorter than ``min_types`` are filled with other types of the base level.
4. **Option reduction** (probability ``p_reduce``). The list keeps a random number of items
   between ``min_types`` and its length; gold items always stay.
5. **Special answer** (probability ``p_special``). One gold item, chosen at random, is removed and its entities are
   answered with a catch-all of the list instead: a sibling "other ..." type, else a first-level
   catch-all such as "miscellaneous", else an appended "unknown". The removed type is then
   really absent (the reference code sometimes left it listed).
6. **Unknown categories.** Entities without a taxonomy node are answered with a first-level
   catch-all of the list if there is one, else "unknown".
7. **Shuffle and names.** The list is shuffled. Names shared by two listed types ("biological"
   the science and "biological" the weapon) are told apart as "biological (weapon)".
8. **Synonyms** (probability ``p_synonym`` per item, when ``synonyms=True``). Items are renamed
   from the project's synonym table (:mod:`dynamicner_data.synonyms`); catch-alls never are,
   nor the items of a list that needed step 7's qualified names.

No candidate that lies on a root-to-leaf path with a listed type, or shares its name, is ever
added, so the list stays an unambiguous set of alternatives at every step. "At random" always
means: in one of 256 fixed random orderings of the taxonomy, picked by one of the sample's draws.

The lists of a whole batch are computed at once, with array operations
(:mod:`dynamicner_data.dynamic_lists`); :func:`dynamic_type_list` is that on a batch of one, so a
sample's list does not depend on the batch it is built in.

Guarantees (tested over whole datasets): every label is in its sample's list; list strings are
unique; no two listed types lie on one root-to-leaf path; an entity's label is the list item on
its own path when there is one, else an explicit catch-all of the list; lists hold between 1 and
``max_types`` items.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> tax = Taxonomy.dynamicner()
    >>> nodes = [tax.resolve("city"), tax.resolve("author")]
    >>> a = dynamic_type_list("en-train-sentence1", nodes, tax, DynamicOptions(seed=0))
    >>> a == dynamic_type_list("en-train-sentence1", nodes, tax, DynamicOptions(seed=0))
    True
    >>> all(label in a.type_list for label in a.labels)
    True
    >>> s = static_type_list(nodes, tax, 1)
    >>> s.labels, len(s.type_list)
    (('location', 'person'), 8)
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from .synonyms import SynonymTable
from .taxonomy import Taxonomy, TypeNode, is_catch_all_name, normalize_name

__all__ = [
    "GRANULARITIES",
    "UNKNOWN",
    "DynamicOptions",
    "TypeListAssignment",
    "TypeListBatch",
    "static_type_lists",
    "dynamic_type_list",
    "static_type_list",
    "check_assignment",
    "LabelStatistics",
    "label_statistics",
    "LabelVariation",
    "label_variation",
]

GRANULARITIES: tuple[str, ...] = ("dynamic", "coarse", "medium", "fine")
UNKNOWN = "unknown"
_ORDERINGS = 256  # one per byte value
_DECISIONS = 16  # draws 0..15 steer the steps, 16.. give each list position its synonym draw


@dataclass(frozen=True)
class DynamicOptions:
    """Knobs of the dynamic algorithm (defaults: the paper's base probabilities)."""

    seed: int = 0
    p_merge: float = 0.4
    p_synonym: float = 0.4
    p_reduce: float = 0.3
    p_special: float = 0.25
    min_types: int = 3
    max_types: int = 12
    synonyms: bool = True

    def __post_init__(self) -> None:
        for name in ("p_merge", "p_synonym", "p_reduce", "p_special"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"DynamicOptions.{name} must be in [0, 1], got {value}")
        if not 1 <= self.min_types <= self.max_types:
            raise ValueError(f"need 1 <= min_types <= max_types, got {self.min_types} and {self.max_types}")
        if self.max_types < 2:
            raise ValueError(f"max_types must be >= 2, got {self.max_types}")

    def adapted(self, stats: "LabelStatistics") -> "DynamicOptions":
        """The paper's adjustments from the label statistics of a corpus.

        Merge more (0.6) when cohesion < 0.04, rename less (0.2) when the coefficient of variation
        > 2, reduce less (0.24) when normalized entropy < 0.8.

        >>> DynamicOptions().adapted(LabelStatistics(0.01, 0.5, 0.3, 3.0)).p_merge
        0.6
        """
        return replace(
            self,
            p_merge=0.6 if stats.cohesion < 0.04 else self.p_merge,
            p_synonym=0.2 if stats.coefficient_of_variation > 2 else self.p_synonym,
            p_reduce=0.24 if stats.normalized_entropy < 0.8 else self.p_reduce,
        )


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
        """Sample ``s`` as a :class:`~dynamicner_data.typelists.TypeListAssignment`."""
        a, b = int(self.offsets[s]), int(self.offsets[s + 1])
        ea, eb = int(self.entity_offsets[s]), int(self.entity_offsets[s + 1])
        names = self.names
        return TypeListAssignment(
            type_list=tuple(names[k] for k in self.item_names[a:b].tolist()),
            labels=tuple(names[k] for k in self.label_names[ea:eb].tolist()),
            item_nodes=tuple(self.nodes[k] if k >= 0 else None for k in self.item_nodes[a:b].tolist()),
        )


# ---------------------------------------------------------------------------- tables
class _Tables:
    """The taxonomy as flat lists indexed by node id, for the list code (built once per taxonomy)."""

    def __init__(self, taxonomy: Taxonomy, synonyms: SynonymTable | None) -> None:
        nodes = list(taxonomy.nodes)
        self.nodes = nodes
        self.depth = taxonomy.depth
        ids = {n.path: i for i, n in enumerate(nodes)}
        self.ids = ids
        self.level = [n.level for n in nodes]
        self.parent = [ids.get(n.parent_path, -1) for n in nodes]
        self.anc = [tuple(ids[n.path[:k]] for k in range(1, n.level + 1)) for n in nodes]  # root .. self
        # _ORDERINGS random orderings of all nodes: sorting by one of them shuffles a list in C
        raw = hashlib.shake_128(b"dynamicner-typelists-orderings").digest(4 * _ORDERINGS * max(len(nodes), 1))
        keys = struct.unpack(f"<{_ORDERINGS * max(len(nodes), 1)}I", raw)
        self.orderings = [keys[k * len(nodes):(k + 1) * len(nodes)] for k in range(_ORDERINGS)]
        self.siblings = [tuple(ids[s.path] for s in taxonomy.siblings(n)) for n in nodes]
        self.name = [n.name for n in nodes]
        self.key = [normalize_name(n.name) for n in nodes]
        self.catch_all = [is_catch_all_name(n.name) for n in nodes]
        counts = Counter(self.key)
        self.shared_name = [counts[k] > 1 for k in self.key]
        # at_level[L][i]: node i's ancestor at level L (node i itself when it is not deeper)
        self.at_level = [[a[min(lv, len(a)) - 1] for a in self.anc] for lv in range(self.depth + 2)]
        # catch-alls that can answer for a removed item: its catch-all siblings, then first-level catch-alls
        self.root_catch_alls = tuple(i for i, lv in enumerate(self.level) if lv == 1 and self.catch_all[i])
        self.sibling_catch_alls = [tuple(s for s in self.siblings[i] if self.catch_all[s]) for i in range(len(nodes))]
        type_keys = set(self.key) | {UNKNOWN}
        self.synonyms: list[tuple[str, ...]] = []
        for n in nodes:
            found = synonyms.for_node(n) if synonyms is not None else ()
            self.synonyms.append(tuple(s for s in found if normalize_name(s) not in type_keys))
        self.static: dict[int, _Static] = {}
        self._by_draw: dict[float, list[tuple[str, ...]]] = {}
        self.has_unknown_name = UNKNOWN in self.key

    def named_by_draw(self, p_synonym: float) -> list[tuple[str, ...]]:
        """Per node, the 256 names a draw byte gives: a synonym when ``byte < p * 256``, else the name."""
        table = self._by_draw.get(p_synonym)
        if table is None:
            threshold = p_synonym * 256
            table = []
            for i, name in enumerate(self.name):
                syns = self.synonyms[i]
                table.append(tuple(syns[v % len(syns)] if syns and v < threshold else name for v in range(256)))
            self._by_draw[p_synonym] = table
        return table


def _tables(taxonomy: Taxonomy, synonyms: bool) -> _Tables:
    key = "typelists:synonyms" if synonyms else "typelists:plain"
    cached = taxonomy._cache.get(key)
    if cached is None:
        cached = _Tables(taxonomy, SynonymTable.packaged() if synonyms else None)
        taxonomy._cache[key] = cached
    return cached


def _display(tab: _Tables, items: Sequence[int]) -> list[str]:
    """Names of the listed nodes, qualified by the parent's name where two listed types share a name."""
    names = [tab.name[i] for i in items]
    shared = [tab.key[i] for i in items if tab.shared_name[i]]
    if len(shared) > 1 and len(set(shared)) < len(shared):
        counts = Counter(shared)
        for pos, i in enumerate(items):
            if counts[tab.key[i]] > 1 and tab.parent[i] >= 0:
                names[pos] = f"{tab.name[i]} ({tab.name[tab.parent[i]]})"
        if len({normalize_name(n) for n in names}) < len(names):
            names = [str(tab.nodes[i]) if counts[tab.key[i]] > 1 else tab.name[i] for i in items]
    return names


# ---------------------------------------------------------------------------- dynamic lists
def dynamic_type_list(
    sample_id: str,
    nodes: Sequence[TypeNode | None],
    taxonomy: Taxonomy,
    options: DynamicOptions,
) -> TypeListAssignment:
    """The seeded dynamic type list of one sample and the label of each entity (see the module docstring).

    ``nodes`` holds each entity's gold node (``None`` for an unknown category); the result has one
    label per entity, in order. This is :func:`dynamicner_data.dynamic_lists.dynamic_type_lists`
    on a batch of one sample: a sample gets the same list whatever batch it is built in.
    """
    from .dynamic_lists import dynamic_type_lists, node_ids

    try:
        ids = node_ids(taxonomy, nodes)
    except ValueError as exc:
        raise ValueError(f"sample {sample_id!r}: {exc}") from None
    return dynamic_type_lists([sample_id], [0, len(ids)], ids, taxonomy, options).assignment(0)


# ---------------------------------------------------------------------------- static lists
class _Static:
    """One static level, precomputed: the list, and the label of every node id."""

    def __init__(self, tab: _Tables, taxonomy: Taxonomy, level: int) -> None:
        cut = [tab.ids[n.path] for n in taxonomy.cut(level)]
        names = _display(tab, cut)
        name_of = dict(zip(cut, names))
        catch = next((i for i in cut if all(is_catch_all_name(p) for p in tab.nodes[i].path)), -1)
        self.fallback = name_of[catch] if catch >= 0 else UNKNOWN
        self.appends_unknown = catch < 0  # no catch-all at this level: "unknown" is appended when needed
        self.type_list = tuple(names)
        self.item_nodes = tuple(tab.nodes[i] for i in cut)
        self.item_ids = cut
        position = {i: k for k, i in enumerate(cut)}
        self.item_index: list[int] = []  # per node: position of its item in the list, -1 for none
        self.label: list[str | None] = []  # None: the node has no item at this level
        for i in range(len(tab.nodes)):
            target = tab.anc[i][min(level, len(tab.anc[i])) - 1]
            self.label.append(name_of.get(target))
            self.item_index.append(position.get(target, -1))


def _static(taxonomy: Taxonomy, level: int) -> tuple[_Tables, _Static]:
    """The tables of ``taxonomy`` and its precomputed static ``level`` (a clear error for a bad level)."""
    if not 1 <= level <= max(taxonomy.depth, 1):
        raise ValueError(f"level must be in 1..{taxonomy.depth} for taxonomy {taxonomy.name!r}, got {level}")
    tab = _tables(taxonomy, False)
    static = tab.static.get(level)
    if static is None:
        static = tab.static[level] = _Static(tab, taxonomy, level)
    return tab, static


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
    tab, static = _static(taxonomy, level)
    ids, label_of, fallback = tab.ids, static.label, static.fallback
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
        return TypeListAssignment(static.type_list + (UNKNOWN,), tuple(labels), static.item_nodes + (None,))
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
    tab, static = _static(taxonomy, level)
    offsets = np.asarray(entity_offsets, dtype=np.int64).reshape(-1)
    nodes = np.asarray(entity_nodes, dtype=np.int64).reshape(-1)
    width = len(static.type_list)
    names = list(static.type_list) + ([UNKNOWN] if static.appends_unknown else [])
    fallback = names.index(static.fallback)
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
        nodes=tab.nodes,
    )


# ---------------------------------------------------------------------------- checking
def check_assignment(nodes: Sequence[TypeNode | None], assignment: TypeListAssignment) -> list[str]:
    """Problems with one assignment (empty when it keeps every guarantee of the module docstring).

    >>> from dynamicner_data.taxonomy import Taxonomy
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


# ---------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class LabelStatistics:
    """The paper's four statistics of a multiset of labels."""

    cohesion: float
    normalized_entropy: float
    gini: float
    coefficient_of_variation: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def label_statistics(labels: Iterable[TypeNode | str | None], taxonomy: Taxonomy) -> LabelStatistics:
    """Cohesion, normalized entropy, Gini and coefficient of variation of ``labels``.

    - cohesion: the fraction of label pairs (unordered pairs of entities) whose types lie in the
      same second- or third-level list, i.e. share a parent below the root;
    - normalized entropy: ``H / log2 K`` over the K distinct labels (0 when K < 2);
    - Gini: ``(n + 1 - 2 * sum(cumsum(sorted counts)) / total) / n`` over the n distinct labels;
    - coefficient of variation: population standard deviation / mean of the label counts.

    Labels are taxonomy nodes, or strings resolved by name (strings that name no type, and
    ``None``, count as labels of their own without a parent).

    >>> tax = Taxonomy.dynamicner()
    >>> s = label_statistics(["city", "city", "country", "author"], tax)
    >>> round(s.cohesion, 4), round(s.normalized_entropy, 4), round(s.gini, 4), round(s.coefficient_of_variation, 4)
    (0.5, 0.9464, 0.1667, 0.3536)
    """
    keys: list[tuple[str, ...]] = []
    parents: list[tuple[str, ...]] = []
    for label in labels:
        node: TypeNode | None
        if isinstance(label, TypeNode) or label is None:
            node = label
        else:
            node = taxonomy.resolve(label)
        if node is None:
            keys.append(("<label>", str(label)))
            parents.append(())
        else:
            keys.append(node.path)
            parents.append(node.parent_path)
    total = len(keys)
    if not total:
        raise ValueError("label_statistics() needs at least one label")
    counts = sorted(Counter(keys).values())
    n = len(counts)
    pairs = total * (total - 1) / 2
    same = sum(c * (c - 1) / 2 for p, c in Counter(parents).items() if p)
    cohesion = same / pairs if pairs else 0.0
    entropy = -sum((c / total) * math.log2(c / total) for c in counts)
    normalized = entropy / math.log2(n) if n > 1 else 0.0
    cum = 0
    cumsum_total = 0
    for c in counts:
        cum += c
        cumsum_total += cum
    gini = (n + 1 - 2 * cumsum_total / total) / n
    mean = total / n
    std = math.sqrt(sum((c - mean) ** 2 for c in counts) / n)
    return LabelStatistics(
        cohesion=cohesion,
        normalized_entropy=normalized,
        gini=gini,
        coefficient_of_variation=std / mean,
    )


@dataclass(frozen=True)
class LabelVariation:
    """How often an entity string that occurs more than once received more than one label."""

    repeated_strings: int
    varied_strings: int

    @property
    def share(self) -> float:
        return self.varied_strings / self.repeated_strings if self.repeated_strings else 0.0

    def to_dict(self) -> dict[str, float]:
        return {"repeated_strings": self.repeated_strings, "varied_strings": self.varied_strings, "share": self.share}


def label_variation(pairs: Iterable[tuple[str, str]]) -> LabelVariation:
    """Share of repeated entity strings (case-sensitive) labelled differently somewhere.

    >>> label_variation([("Paris", "city"), ("Paris", "location"), ("Rome", "city"), ("Rome", "city"), ("Oslo", "city")])
    LabelVariation(repeated_strings=2, varied_strings=1)
    """
    seen: Counter[str] = Counter()
    labels: dict[str, set[str]] = {}
    for text, label in pairs:
        seen[text] += 1
        labels.setdefault(text, set()).add(label)
    repeated = [t for t, c in seen.items() if c > 1]
    return LabelVariation(repeated_strings=len(repeated), varied_strings=sum(1 for t in repeated if len(labels[t]) > 1))
