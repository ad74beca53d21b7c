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
2. **Merge** (probability ``p_merge``). One gold item that has sub-types is replaced by the
   finer types of its entities, one level down, plus up to two of their siblings as options
   (a parent is never listed together with its child). Lists therefore mix levels.
3. **Distractors.** Siblings of the gold items (same parent, same level), in random order, join
   the list while it is shorter than ``max_types``, so the answer must be told apart from its
   nearest neighbours. Lists shorter than ``min_types`` are filled with other types of the level.
4. **Option reduction** (probability ``p_reduce``). The list keeps a random number of items
   between ``min_types`` and its length; gold items always stay.
5. **Special answer** (probability ``p_special``). One gold item is removed and its entities are
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
added, so the list stays an unambiguous set of alternatives at every step.

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
from itertools import chain
from dataclasses import asdict, dataclass, replace
from operator import getitem
from typing import Iterable, Sequence

from .synonyms import SynonymTable
from .taxonomy import Taxonomy, TypeNode, is_catch_all_name, normalize_name

__all__ = [
    "GRANULARITIES",
    "UNKNOWN",
    "DynamicOptions",
    "TypeListAssignment",
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


# ---------------------------------------------------------------------------- randomness
def _draws(seed: int, sample_id: str, count: int) -> bytes:
    """``count`` random bytes from ``(seed, sample id)`` through BLAKE2b (SHAKE-128 beyond 64): the same everywhere.

    Each byte is one draw in 0..255: a probability ``p`` holds when ``byte < p * 256``, an index
    below ``n`` is ``byte * n >> 8``.
    """
    data = f"{seed}\x1f{sample_id}".encode("utf-8")
    if count <= 64:
        return hashlib.blake2b(data, digest_size=64).digest()
    return hashlib.shake_128(data).digest(count)


# ---------------------------------------------------------------------------- tables
class _Tables:
    """Everything the per-sample code needs, as flat lists indexed by node id (built once per taxonomy)."""

    def __init__(self, taxonomy: Taxonomy, synonyms: SynonymTable | None) -> None:
        nodes = list(taxonomy.nodes)
        self.nodes = nodes
        self.depth = taxonomy.depth
        ids = {n.path: i for i, n in enumerate(nodes)}
        self.ids = ids
        self.level = [n.level for n in nodes]
        self.parent = [ids.get(n.parent_path, -1) for n in nodes]
        self.anc = [tuple(ids[n.path[:k]] for k in range(1, n.level + 1)) for n in nodes]  # root .. self
        self.anc_set = [frozenset(a) for a in self.anc]
        # every node a listed node excludes: its ancestors, itself, its descendants, and same-name types
        same_name: dict[str, list[int]] = {}
        for i, n in enumerate(nodes):
            same_name.setdefault(normalize_name(n.name), []).append(i)
        related: list[set[int]] = [set(a) for a in self.anc]
        for i, a in enumerate(self.anc):
            for j in a[:-1]:
                related[j].add(i)
            related[i].update(same_name[normalize_name(nodes[i].name)])
        self.related = [frozenset(r) for r in related]
        # _ORDERINGS random orderings of all nodes: sorting by one of them shuffles a list in C
        raw = hashlib.shake_128(b"dynamicner-typelists-orderings").digest(4 * _ORDERINGS * max(len(nodes), 1))
        keys = struct.unpack(f"<{_ORDERINGS * max(len(nodes), 1)}I", raw)
        self.orderings = [keys[k * len(nodes):(k + 1) * len(nodes)] for k in range(_ORDERINGS)]
        self.children = [tuple(ids[c.path] for c in taxonomy.children(n)) for n in nodes]
        self.siblings = [tuple(ids[s.path] for s in taxonomy.siblings(n)) for n in nodes]
        self.name = [n.name for n in nodes]
        self.key = [normalize_name(n.name) for n in nodes]
        self.catch_all = [is_catch_all_name(n.name) for n in nodes]
        counts = Counter(self.key)
        self.shared_name = [counts[k] > 1 for k in self.key]
        # at_level[L][i]: node i's ancestor at level L (node i itself when it is not deeper)
        self.at_level = [[a[min(lv, len(a)) - 1] for a in self.anc] for lv in range(self.depth + 2)]
        self.by_level = [[] for _ in range(self.depth + 1)]
        for i, lv in enumerate(self.level):
            self.by_level[lv].append(i)
        # catch-alls that can answer for a removed item: its catch-all siblings, then first-level catch-alls
        roots = [i for i in self.by_level[1] if self.catch_all[i]]
        self.root_catch_alls = tuple(roots)
        self.sibling_catch_alls = [tuple(s for s in self.siblings[i] if self.catch_all[s]) for i in range(len(nodes))]
        type_keys = set(self.key) | {UNKNOWN}
        self.synonyms: list[tuple[str, ...]] = []
        for n in nodes:
            found = synonyms.for_node(n) if synonyms is not None else ()
            self.synonyms.append(tuple(s for s in found if normalize_name(s) not in type_keys))
        self.synonym_keys = [tuple(normalize_name(s) for s in syns) for syns in self.synonyms]
        self.static: dict[int, _Static] = {}
        self._by_draw: dict[float, list[tuple[str, ...]]] = {}
        self.has_unknown_name = UNKNOWN in self.key
        self.any_shared = any(self.shared_name)
        self.unshared = frozenset(i for i, shared in enumerate(self.shared_name) if not shared)

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
    label per entity, in order.
    """
    tab = taxonomy._cache.get("typelists:synonyms" if options.synonyms else "typelists:plain")
    if tab is None:
        tab = _tables(taxonomy, options.synonyms)
    d = _draws(options.seed, sample_id, _DECISIONS + options.max_types)
    ids, anc, related, orderings = tab.ids, tab.anc, tab.related, tab.orderings
    try:
        entity_ids = [ids[n.path] if n is not None else -1 for n in nodes]
    except KeyError:
        bad = next(n for n in nodes if n is not None and n.path not in ids)
        raise ValueError(f"sample {sample_id!r}: type {bad} is not in taxonomy {taxonomy.name!r}") from None
    known = list(dict.fromkeys(entity_ids))
    has_unknown = -1 in known
    if has_unknown:
        known.remove(-1)
    budget = options.max_types - (1 if has_unknown else 0)

    # 1. base level; coarser while the gold items do not fit
    level = 1 + ((d[0] * tab.depth) >> 8)
    node_level = tab.level
    shallow = False  # some entity's own type lies above the base level
    while True:
        items = list(dict.fromkeys(map(tab.at_level[level].__getitem__, known)))
        if known and min(map(node_level.__getitem__, known)) < level:
            # an entity annotated above the base level absorbs the items below it (they share its path)
            shallow = True
            members = set(items)
            items = [g for g in items if members.isdisjoint(anc[g][:-1])]
        if len(items) <= budget or level == 1:
            break
        level -= 1
    # still too many (a flat taxonomy): the surplus entities answer with a catch-all of the list
    forced: dict[int, int] = {}  # entity node id -> its answer (-1: "unknown")
    excluded: set[int] = set()  # nodes on those entities' paths, never to be listed
    use_unknown = False
    if len(items) > budget:
        order = sorted(items, key=orderings[d[12]].__getitem__)
        catch = tab.root_catch_alls[0] if tab.root_catch_alls else -1
        if catch >= 0:
            kept = [catch] + [g for g in order if g != catch][: budget - 1]
        else:
            kept = order[: budget if has_unknown else budget - 1]
            use_unknown = True
        members = set(kept)
        for i in known:
            if members.isdisjoint(anc[i]):
                forced[i] = catch
                excluded.update(anc[i])
        items = [g for g in items if g in members] + ([catch] if catch >= 0 and catch not in items else [])
    members = set(items)
    gold = set(items)

    # 2. merge: refine one gold item to the finer types of its entities, plus up to two siblings
    refined: list[int] = []  # entities whose answer moved one level down
    if level < tab.depth and d[1] < options.p_merge * 256:
        refinable = []
        answers_forced = set(forced.values())
        at_base = tab.at_level[level]
        for g in items:
            if g in answers_forced or node_level[g] != level:
                continue
            below = [i for i in known if at_base[i] == g]
            if below and min(map(node_level.__getitem__, below)) > level:
                refinable.append((g, below))
        if refinable:
            g, below = refinable[(d[2] * len(refinable)) >> 8]
            finer = list(dict.fromkeys(map(tab.at_level[level + 1].__getitem__, below)))
            if len(items) - 1 + len(finer) <= budget:
                refined = below
                items.remove(g)
                members.discard(g)
                gold.discard(g)
                items.extend(finer)
                members.update(finer)
                gold.update(finer)
                extra = sorted(tab.children[g], key=orderings[d[3]].__getitem__)
                added = 0
                for c in extra:
                    if added == 2 or len(items) >= budget:
                        break
                    if members.isdisjoint(related[c]):
                        items.append(c)
                        members.add(c)
                        added += 1

    # 3. sibling distractors in a random order, then same-level fill up to min_types
    room = budget - len(items)
    if room > 0:
        pool = sorted(chain.from_iterable(map(tab.siblings.__getitem__, items)), key=orderings[d[4]].__getitem__)
        for c in pool:
            if members.isdisjoint(related[c]) and c not in excluded:
                items.append(c)
                members.add(c)
                room -= 1
                if not room:
                    break
    wanted = min(options.min_types, budget)
    if len(items) < wanted:
        fill = sorted(tab.by_level[tab.level[items[0]] if items else level], key=orderings[d[5]].__getitem__)
        for c in fill:
            if len(items) >= wanted:
                break
            if members.isdisjoint(related[c]) and c not in excluded:
                items.append(c)
                members.add(c)

    # 4. option reduction (gold items always stay)
    if len(items) > options.min_types and len(items) > len(gold) and d[6] < options.p_reduce * 256:
        low = max(options.min_types, len(gold))
        keep = low + ((d[7] * (len(items) - low + 1)) >> 8)
        drop = sorted((i for i in items if i not in gold), key=orderings[d[8]].__getitem__)
        drop = set(drop[: len(items) - keep])
        items = [i for i in items if i not in drop]
        members.difference_update(drop)

    # the answer of each entity so far: the (only) listed item on its path
    anc_set = tab.anc_set
    if shallow or forced:
        answer: dict[int, int] = {}
        for i in known:
            if i in forced:
                answer[i] = forced[i]
            else:
                for a in anc[i]:
                    if a in members:
                        answer[i] = a
                        break
    else:  # every entity answers with its type at the base level, or one below when refined
        answer = dict(zip(known, map(tab.at_level[level].__getitem__, known)))
        if refined:
            answer.update(zip(refined, map(tab.at_level[level + 1].__getitem__, refined)))

    # 5. special answer: a gold item leaves the list, its entities answer with a catch-all
    if d[9] < options.p_special * 256:
        candidates = [g for g in items if g in gold and not tab.catch_all[g]]
        if candidates:
            g = candidates[(d[10] * len(candidates)) >> 8]
            affected = [i for i in known if answer[i] == g]
            items.remove(g)
            members.discard(g)
            gold.discard(g)
            blocked = set().union(*(anc_set[i] for i in affected))
            choices = tab.sibling_catch_alls[g] + tab.root_catch_alls
            chosen = next((c for c in choices if c in members and c not in blocked), -1)
            if chosen < 0:
                chosen = next((c for c in choices if c not in blocked and members.isdisjoint(related[c])), -1)
                if chosen >= 0:
                    items.append(chosen)
                    members.add(chosen)
            for i in affected:
                answer[i] = chosen
            use_unknown = use_unknown or chosen < 0

    # 6. entities of unknown categories answer with a first-level catch-all of the list, else "unknown"
    unknown_answer = -1
    if has_unknown:
        unknown_answer = next((c for c in tab.root_catch_alls if c in members), -1)
        use_unknown = use_unknown or unknown_answer < 0

    # 7. shuffle, display names (qualified where two gold types share a name), synonyms
    items.sort(key=orderings[d[11]].__getitem__)
    qualified = bool(gold - tab.unshared) and len(gold) > 1 and len({tab.key[i] for i in gold}) < len(gold)
    if options.synonyms and options.p_synonym > 0 and not qualified:
        # one table lookup per item: the name each draw byte gives (a synonym below the threshold)
        by_draw = tab.named_by_draw(options.p_synonym)
        names = list(map(getitem, map(by_draw.__getitem__, items), d[_DECISIONS:]))
        if len(set(names)) < len(names):  # two items drew one synonym (impossible with a sound table)
            names = [tab.name[i] for i in items]
    elif qualified:
        names = _display(tab, items)
    else:
        names = list(map(tab.name.__getitem__, items))
    item_nodes: list[TypeNode | None] = list(map(tab.nodes.__getitem__, items))
    unknown = f"{UNKNOWN} ({taxonomy.name})" if tab.has_unknown_name else UNKNOWN
    if use_unknown:
        names.append(unknown)
        item_nodes.append(None)
    name_of = dict(zip(items, names))
    name_of[-1] = unknown
    answer[-1] = unknown_answer
    labels = tuple(map(name_of.__getitem__, map(answer.__getitem__, entity_ids)))
    return TypeListAssignment(type_list=tuple(names), labels=labels, item_nodes=tuple(item_nodes))


# ---------------------------------------------------------------------------- static lists
class _Static:
    """One static level, precomputed: the list, and the label of every node id."""

    def __init__(self, tab: _Tables, taxonomy: Taxonomy, level: int) -> None:
        cut = [tab.ids[n.path] for n in taxonomy.cut(level)]
        names = _display(tab, cut)
        name_of = dict(zip(cut, names))
        catch = next((i for i in cut if all(is_catch_all_name(p) for p in tab.nodes[i].path)), -1)
        self.fallback = name_of[catch] if catch >= 0 else UNKNOWN
        self.type_list = tuple(names)
        self.item_nodes = tuple(tab.nodes[i] for i in cut)
        self.label: list[str | None] = []  # None: the node has no item at this level
        for i in range(len(tab.nodes)):
            target = tab.anc[i][min(level, len(tab.anc[i])) - 1]
            self.label.append(name_of.get(target))


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
    if not 1 <= level <= max(taxonomy.depth, 1):
        raise ValueError(f"level must be in 1..{taxonomy.depth} for taxonomy {taxonomy.name!r}, got {level}")
    tab = _tables(taxonomy, False)
    static = tab.static.get(level)
    if static is None:
        static = tab.static[level] = _Static(tab, taxonomy, level)
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
    if missing and fallback == UNKNOWN:
        return TypeListAssignment(static.type_list + (UNKNOWN,), tuple(labels), static.item_nodes + (None,))
    return TypeListAssignment(static.type_list, tuple(labels), static.item_nodes)


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
