"""A reference implementation of the type lists: one sample at a time, plain Python, no numpy.

It follows the words of :mod:`dynamicner_data.typelists.dynamic` (the dynamic algorithm) and
:mod:`dynamicner_data.typelists.static` (the static levels), step by step, on
:class:`~dynamicner_data.taxonomy.TypeNode` objects and Python sets, and shares no code with
the batch implementation: the draw bytes, the 256 orderings, the synonym choice and the
qualified names are all recomputed here from their description. ``tests/test_typelists_reference.py``
checks that the batch code gives exactly these lists on random taxonomies and corpora; it is the
oracle for anyone who changes a step (change the words, this file and the batch code together).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from dynamicner_data.synonyms import SynonymTable
from dynamicner_data.taxonomy import Taxonomy, TypeNode, is_catch_all_name, normalize_name

UNKNOWN = "unknown"

# the sample's draw bytes, by position (the numbers of the module docstring)
LEVEL, MERGE, MERGE_ITEM, MERGE_OPTIONS = 0, 1, 2, 3
DISTRACTORS, FILL = 4, 5
REDUCE, REDUCE_KEEP, REDUCE_ORDER = 6, 7, 8
SPECIAL, SPECIAL_ITEM = 9, 10
SHUFFLE, OVERFLOW = 11, 12
FIRST_SYNONYM = 16


@dataclass
class Reference:
    """One sample's result: the list, its nodes (``None``: "unknown") and one label per entity."""

    type_list: tuple[str, ...]
    labels: tuple[str, ...]
    item_nodes: tuple[TypeNode | None, ...]


# ---------------------------------------------------------------------------- randomness
def draw_bytes(seed: int, sample_id: str, count: int) -> list[int]:
    """``count`` bytes from ``f"{seed}\\x1f{sample_id}"``: BLAKE2b-512 for up to 64, else SHAKE-128."""
    message = f"{seed}\x1f{sample_id}".encode("utf-8")
    if count <= 64:
        return list(hashlib.blake2b(message, digest_size=64).digest()[:count])
    return list(hashlib.shake_128(message).digest(count))


@dataclass
class Orderings:
    """The 256 fixed random orderings of a taxonomy's nodes (computed lazily, one at a time)."""

    taxonomy: Taxonomy
    _ranks: dict[int, dict[TypeNode, int]] = field(default_factory=dict)
    _stream: bytes = b""

    def rank(self, which: int) -> dict[TypeNode, int]:
        """Position of every node in ordering ``which``: nodes sorted by their 32-bit key, then taxonomy order.

        The keys: SHAKE-128 of ``b"dynamicner-typelists-orderings"``, read as little-endian 32-bit
        numbers, ``len(nodes)`` per ordering, ordering 0 first.
        """
        ranks = self._ranks.get(which)
        if ranks is None:
            nodes = self.taxonomy.nodes
            n = len(nodes)
            if not self._stream:
                self._stream = hashlib.shake_128(b"dynamicner-typelists-orderings").digest(4 * 256 * n)
            stream = self._stream
            keys = [int.from_bytes(stream[4 * (which * n + i):4 * (which * n + i) + 4], "little") for i in range(n)]
            order = sorted(range(n), key=lambda i: (keys[i], i))
            ranks = self._ranks[which] = {nodes[i]: position for position, i in enumerate(order)}
        return ranks


_ORDERINGS: dict[int, tuple[Taxonomy, Orderings]] = {}


def orderings_of(taxonomy: Taxonomy) -> Orderings:
    held = _ORDERINGS.get(id(taxonomy))
    if held is None or held[0] is not taxonomy:
        held = _ORDERINGS[id(taxonomy)] = (taxonomy, Orderings(taxonomy))
    return held[1]


# ---------------------------------------------------------------------------- tree words
def path_nodes(taxonomy: Taxonomy, node: TypeNode) -> list[TypeNode]:
    """The node and its ancestors (root first)."""
    return [taxonomy.get(node.path[:k]) for k in range(1, node.level + 1)]


def on_one_path(a: TypeNode, b: TypeNode) -> bool:
    return a.path == b.path[: len(a.path)] or b.path == a.path[: len(b.path)]


def related(candidate: TypeNode, listed: set[TypeNode]) -> bool:
    """Whether a listed type lies on a root-to-leaf path with ``candidate``, or has its name."""
    key = normalize_name(candidate.name)
    return any(on_one_path(candidate, x) or normalize_name(x.name) == key for x in listed)


def first_level_catch_alls(taxonomy: Taxonomy) -> list[TypeNode]:
    return [n for n in taxonomy.level(1) if n.is_catch_all()]


def gold_items(taxonomy: Taxonomy, entities: Sequence[TypeNode], level: int) -> set[TypeNode]:
    """Each entity's type at ``level`` (its own when coarser); an item below another item goes."""
    items = {taxonomy.at_level(node, level) for node in entities}
    return {x for x in items if not any(a in items for a in path_nodes(taxonomy, x)[:-1])}


def display_names(items: Sequence[TypeNode]) -> list[str]:
    """Names of the listed types; a name shared by two listed types gets its parent's name.

    ``"biological (weapon)"``; first-level types keep their bare name. If the strings are still
    not unique, the types that share a name are written as their whole path ``"a > b > c"``.
    """
    counts = Counter(normalize_name(x.name) for x in items)
    shared = [counts[normalize_name(x.name)] > 1 for x in items]
    names = [f"{x.name} ({x.path[-2]})" if s and x.level > 1 else x.name for x, s in zip(items, shared)]
    if len({normalize_name(s) for s in names}) < len(names):
        names = [str(x) if s else x.name for x, s in zip(items, shared)]
    return names


def unknown_name(taxonomy: Taxonomy) -> str:
    """"unknown", or "unknown (<taxonomy>)" when the taxonomy has a type named "unknown"."""
    if any(normalize_name(n.name) == UNKNOWN for n in taxonomy.nodes):
        return f"{UNKNOWN} ({taxonomy.name})"
    return UNKNOWN


# ---------------------------------------------------------------------------- the dynamic list
def dynamic_reference(sample_id: str, nodes: Sequence[TypeNode | None], taxonomy: Taxonomy, *, seed: int,
                      p_merge: float, p_synonym: float, p_reduce: float, p_special: float,
                      min_types: int, max_types: int, synonyms: bool) -> Reference:
    """The dynamic type list of one sample, following the module docstring step by step."""
    draws = draw_bytes(seed, sample_id, FIRST_SYNONYM + max_types)
    ranks = orderings_of(taxonomy)

    def ordered(candidates, which: int) -> list[TypeNode]:
        """``candidates`` in the ordering the draw byte ``draws[which]`` picks."""
        rank = ranks.rank(draws[which])
        return sorted(candidates, key=rank.__getitem__)

    def one_per_name(candidates: list[TypeNode]) -> list[TypeNode]:
        seen: set[str] = set()
        out = []
        for x in candidates:
            if normalize_name(x.name) not in seen:
                seen.add(normalize_name(x.name))
                out.append(x)
        return out

    def happens(which: int, probability: float) -> bool:
        return draws[which] < probability * 256

    entities = [(e, node) for e, node in enumerate(nodes) if node is not None]
    has_unknown = len(entities) < len(nodes)
    budget = max_types - (1 if has_unknown else 0)
    depth = taxonomy.depth
    answers: dict[int, TypeNode | None] = {}  # entity index -> listed node; None: "unknown"
    forced: set[int] = set()  # entities answered in step 1 (surplus of a flat taxonomy)
    excluded: set[TypeNode] = set()  # types on the paths of those entities
    unknown_listed = has_unknown  # whether "unknown" ends the list (always with unknown categories)

    # 1. base level, coarser while the gold items do not fit
    level = 1 + draws[LEVEL] * depth // 256
    while level > 1 and len(gold_items(taxonomy, [n for _, n in entities], level)) > budget:
        level -= 1
    listed = gold_items(taxonomy, [n for _, n in entities], level)
    if len(listed) > budget:  # too many first-level types
        catch_alls = first_level_catch_alls(taxonomy)
        order = ordered(listed, OVERFLOW)
        if catch_alls:
            catch: TypeNode | None = catch_alls[0]
            kept = [catch] + [x for x in order if x != catch][: budget - 1]
        else:
            catch = None
            kept = order[: budget if has_unknown else budget - 1]
            unknown_listed = True
        listed = set(kept)
        for e, node in entities:
            path = path_nodes(taxonomy, node)
            if listed.isdisjoint(path):
                answers[e] = catch
                forced.add(e)
                excluded.update(path)
    gold = set(listed)
    free = [(e, node) for e, node in entities if e not in forced]

    # 2. merge
    if level < depth and happens(MERGE, p_merge):
        candidates = []
        for item in gold:
            if item.level != level or (forced and catch_alls_blocked(taxonomy, item)):
                continue
            under = [node for _, node in free if taxonomy.at_level(node, level) == item]
            if under and all(node != item for node in under):
                candidates.append(item)
        if candidates:
            item = ordered(candidates, MERGE_ITEM)[0]
            finer = {taxonomy.at_level(node, level + 1) for _, node in free if taxonomy.at_level(node, level) == item}
            if len(listed) - 1 + len(finer) <= budget:
                listed = (listed - {item}) | finer
                gold = (gold - {item}) | finer
                options = [c for c in taxonomy.children(item)
                           if c not in listed and not related(c, listed) and c not in excluded]
                listed |= set(ordered(options, MERGE_OPTIONS)[: min(2, budget - len(listed))])

    # 3. distractors: siblings of listed types, then other types of the base level
    parents = {x.parent_path for x in listed}
    pool = [c for c in taxonomy.nodes
            if c.parent_path in parents and not related(c, listed) and c not in excluded]
    listed |= set(one_per_name(ordered(pool, DISTRACTORS))[: budget - len(listed)])
    wanted = min(min_types, budget)
    if len(listed) < wanted:
        fill = [c for c in taxonomy.level(level) if not related(c, listed) and c not in excluded]
        listed |= set(one_per_name(ordered(fill, FILL))[: wanted - len(listed)])

    # 4. option reduction
    if len(listed) > min_types and len(listed) > len(gold) and happens(REDUCE, p_reduce):
        low = max(min_types, len(gold))
        keep = low + draws[REDUCE_KEEP] * (len(listed) - low + 1) // 256
        listed -= set(ordered(listed - gold, REDUCE_ORDER)[: len(listed) - keep])

    for e, node in free:  # the listed type on the entity's path
        [answers[e]] = [x for x in path_nodes(taxonomy, node) if x in listed]

    # 5. special answer
    if happens(SPECIAL, p_special):
        candidates = [x for x in gold & listed if not x.is_catch_all()]
        if candidates:
            removed = ordered(candidates, SPECIAL_ITEM)[0]
            listed.discard(removed)
            gold.discard(removed)
            affected = [e for e, _ in entities if answers[e] == removed]
            blocked = {x for e in affected for x in path_nodes(taxonomy, nodes[e])}
            choices = list(dict.fromkeys(
                [s for s in taxonomy.siblings(removed) if s.is_catch_all()] + first_level_catch_alls(taxonomy)))
            chosen = next((c for c in choices if c in listed and c not in blocked), None)
            if chosen is None:
                chosen = next((c for c in choices if c not in blocked and not related(c, listed)
                               and c not in excluded), None)
                if chosen is not None:
                    listed.add(chosen)
                else:
                    unknown_listed = True
            for e in affected:
                answers[e] = chosen

    # 6. unknown categories
    if has_unknown:
        catch = next((c for c in first_level_catch_alls(taxonomy) if c in listed), None)
        for e, node in enumerate(nodes):
            if node is None:
                answers[e] = catch

    # 7. shuffle and qualified names
    items = ordered(listed, SHUFFLE)
    keys = [normalize_name(x.name) for x in items]
    qualified = len(set(keys)) < len(keys)
    names = display_names(items) if qualified else [x.name for x in items]

    # 8. synonyms
    if synonyms and not qualified:
        table = SynonymTable.packaged()
        type_names = {normalize_name(n.name) for n in taxonomy.nodes} | {UNKNOWN}
        renamed = []
        for position, item in enumerate(items):
            found = [s for s in table.for_node(item) if normalize_name(s) not in type_names]
            byte = draws[FIRST_SYNONYM + position]
            renamed.append(found[byte % len(found)] if found and byte < p_synonym * 256 else item.name)
        if len(set(renamed)) == len(renamed):
            names = renamed

    name_of = dict(zip(items, names))
    unknown = unknown_name(taxonomy)
    type_list = list(names) + ([unknown] if unknown_listed else [])
    item_nodes: list[TypeNode | None] = list(items) + ([None] if unknown_listed else [])
    labels = [name_of[answers[e]] if answers[e] is not None else unknown for e in range(len(nodes))]
    return Reference(tuple(type_list), tuple(labels), tuple(item_nodes))


def catch_alls_blocked(taxonomy: Taxonomy, item: TypeNode) -> bool:
    """Step 2 never refines the first-level catch-all that answers for the surplus of step 1."""
    catch_alls = first_level_catch_alls(taxonomy)
    return bool(catch_alls) and item == catch_alls[0]


# ---------------------------------------------------------------------------- the static list
def static_reference(nodes: Sequence[TypeNode | None], taxonomy: Taxonomy, level: int) -> Reference:
    """The whole ``level`` (plus shallower leaves) as the list; each label the entity's type there.

    Entities without a listed type on their path answer with the level's catch-all (a listed type
    whose every name on its path is a catch-all), else with "unknown" (qualified when a type has
    that name), then appended to the list.
    """
    items = taxonomy.cut(level)
    name_of = dict(zip(items, display_names(items)))
    catch = next((x for x in items if all(is_catch_all_name(p) for p in x.path)), None)
    fallback = name_of[catch] if catch is not None else unknown_name(taxonomy)
    labels = []
    for node in nodes:
        mine = [x for x in path_nodes(taxonomy, node) if x in name_of] if node is not None else []
        labels.append(name_of[mine[0]] if mine else None)
    if None in labels and catch is None:
        return Reference(tuple(name_of.values()) + (fallback,), tuple(label or fallback for label in labels),
                         tuple(items) + (None,))
    return Reference(tuple(name_of.values()), tuple(label or fallback for label in labels), tuple(items))
