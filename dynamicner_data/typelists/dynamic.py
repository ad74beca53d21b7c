"""Seeded dynamic type lists: the algorithm in plain words, and its batch implementation.

Every sample of a ``dynamic`` config is offered its own list of candidate types, and each of its
entities is labelled with an item of that list. This docstring is the one description of the
algorithm (the README and the docs link here). ``tests/reference_typelists.py`` implements
these words one sample at a time in plain Python, and a hypothesis test checks that the batch
code below gives exactly its lists: change the words, the reference and the code together.

Randomness
----------
A sample's *draws* are bytes: BLAKE2b-512 of ``f"{seed}\\x1f{sample id}"`` (UTF-8), or SHAKE-128
of it when more than 64 are needed; no ``hash()``, no global random state, so a build gives
identical lists on any machine and a sample's list does not depend on its batch. Draw ``k``
steers one decision, named by :class:`Draw`. "With probability ``p``" means: the draw is below
``p * 256``. "In ``X`` order" means in the fixed random ordering of the taxonomy that draw ``X``
picks among 256: ordering ``o`` sorts the nodes by 32-bit keys (SHAKE-128 of
``b"dynamicner-typelists-orderings"`` read as little-endian numbers, ``len(nodes)`` per ordering,
ordering 0 first), ties by taxonomy order. "The first ``k``" are the first ``k`` in that order.

Words
-----
The *list* is a set of taxonomy types (plus, at its end, maybe "unknown"). *Gold items* are the
listed types that answer entities (steps 1 and 2 make them). A type is *related* to the list
when it lies on one root-to-leaf path with a listed type (the type itself, an ancestor or a
descendant), or has the name of a listed type (case and spacing ignored): related types are
never added, so the list stays a set of unambiguous alternatives. *One per name*: of candidates
that share a name, only the first in the order counts. The *budget* is ``max_types``, minus
one when the sample has an entity of unknown category (the place of "unknown"). A *catch-all*
is a type named "other ...", "miscellaneous ...", "misc" or "unknown"; *the first-level
catch-all* is the first one of the first level, in taxonomy order.

The steps
---------
1. **Base level** (draws ``LEVEL``, ``OVERFLOW``). The level is ``1 + LEVEL * depth // 256``.
   Each entity's gold item is its type at that level, or its own type when that is coarser;
   an item below another item goes (the coarser one answers for its entities). While the
   items exceed the budget and the level is above 1, the next coarser level is used. When even
   the first level does not fit (a wide flat taxonomy), the list keeps the first-level
   catch-all and the first items in ``OVERFLOW`` order up to the budget; without a catch-all,
   the first items up to ``max_types`` items in all, "unknown" included. Entities whose path
   then holds no listed type answer with that catch-all, else with "unknown", and no type on
   their paths may be listed later (those types are *excluded*).
2. **Merge** (``MERGE`` with probability ``p_merge``; ``MERGE_ITEM``, ``MERGE_OPTIONS``), when
   the base level is not the deepest. Candidates: gold items at the base level with entities
   below them and none annotated with them (not the first-level catch-all, when step 1 made it
   answer for the surplus). The first candidate in ``MERGE_ITEM`` order is replaced by its
   entities' types one level down (gold items now), if the list still fits the budget; then up
   to two of its other children, not related to the list and not excluded, join it as options
   (the first in ``MERGE_OPTIONS`` order, within the budget). Lists therefore mix levels.
3. **Distractors** (``DISTRACTORS``, ``FILL``). Types that share a parent with a listed type
   (first-level types share the root), not related to the list and not excluded, join it,
   the first in ``DISTRACTORS`` order, one per name, up to the budget: the answer must be told
   apart from its nearest neighbours. A list still shorter than ``min(min_types, budget)`` is
   filled with types of the base level (not related, not excluded), the first in ``FILL``
   order, one per name. A sample without entities thus gets ``min_types`` types of its level.
4. **Option reduction** (``REDUCE`` with probability ``p_reduce``; ``REDUCE_KEEP``,
   ``REDUCE_ORDER``), when the list has more than ``min_types`` items and more than its gold
   items. With ``n`` items and ``low = max(min_types, gold items)`` it keeps
   ``low + REDUCE_KEEP * (n - low + 1) // 256`` of them: the non-gold items dropped are the
   first in ``REDUCE_ORDER`` order. Every entity not answered in step 1 now answers with the
   one listed type on its path.
5. **Special answer** (``SPECIAL`` with probability ``p_special``; ``SPECIAL_ITEM``). The first
   gold item in ``SPECIAL_ITEM`` order that is not a catch-all leaves the list, and its entities
   answer instead with the first of its catch-all siblings and the first-level catch-alls (in
   taxonomy order, each once) that is listed and off their paths; else with the first of those
   that is off their paths, not related to the list and not excluded, added to the list; else
   with "unknown". The removed type is really absent (the reference code sometimes left it).
6. **Unknown categories.** Entities without a taxonomy node answer with the first-level
   catch-all of the list if it is listed, else with "unknown". A sample with such entities
   always lists "unknown" (step 1 kept its place).
7. **Shuffle and qualified names** (``SHUFFLE``). The list is put in ``SHUFFLE`` order. When two
   listed types share a name ("biological" the science and "biological" the weapon), each of
   them is written with its parent's name, "biological (weapon)" (first-level types keep theirs),
   or as its path "product > weapon > biological" if the strings are still not unique.
8. **Synonyms** (``p_synonym`` per item, when ``synonyms=True``). The item at position ``i``
   is renamed when draw ``SYNONYMS + i`` is below ``p_synonym * 256``: to its synonym number
   ``draw % count`` in the project's table (:mod:`dynamicner_data.synonyms`; synonyms that read
   as a type name of the taxonomy or "unknown" are left out; catch-alls have none). Lists with
   step 7's qualified names keep their names, and so does a list where two items would get one
   string.

"unknown" ends the list when some entity answers with it (or the sample has an unknown
category); it is written "unknown (<taxonomy name>)" when the taxonomy has a type of that name.

Guarantees (tested over whole corpora): every label is in its sample's list; list strings are
unique; no two listed types lie on one root-to-leaf path; an entity's label is the list item on
its own path when there is one, else an explicit catch-all of the list; lists hold between 1
and ``max_types`` items.

The batch implementation
------------------------
:func:`dynamic_type_lists` runs each step for all samples of a batch at once, one function per
step sharing a :class:`ListState`: set logic on boolean matrices of shape ``(nodes + 1,
samples)`` (node major, row ``nodes`` a sentinel for "no node"), and "the first ``k`` in ``X``
order" as one sort of ``(sample, rank, node)`` keys over all candidates of the batch
(:class:`~dynamicner_data.typelists.tables.TypeTables`). The few samples that need step-by-step
care (the overflow of step 1, qualified names) go through small per-sample code.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> tax = Taxonomy.dynamicner()
    >>> nodes = [tax.resolve("city"), tax.resolve("author")]
    >>> a = dynamic_type_list("en-train-sentence1", nodes, tax, DynamicOptions(seed=0))
    >>> a == dynamic_type_list("en-train-sentence1", nodes, tax, DynamicOptions(seed=0))
    True
    >>> all(label in a.type_list for label in a.labels)
    True
    >>> batch = dynamic_type_lists(["s1", "s2"], [0, 2, 3], node_ids(tax, nodes + [None]), tax, DynamicOptions())
    >>> len(batch), batch.assignment(0) == dynamic_type_list("s1", nodes, tax, DynamicOptions())
    (2, True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..taxonomy import Taxonomy, TypeNode
from .assignment import TypeListAssignment, TypeListBatch
from .tables import NameTables, TypeTables, count, display_names, name_tables, node_ids, type_tables

if TYPE_CHECKING:
    from .stats import LabelStatistics

__all__ = ["Draw", "DynamicOptions", "ListState", "dynamic_type_list", "dynamic_type_lists", "draw_matrix"]

MAX_CELLS = 1 << 22
"""Largest (types + 1) x samples boolean matrix built at once; bigger batches go chunk by chunk."""


class Draw(IntEnum):
    """The columns of a sample's draw bytes: which byte steers which decision (13-15 are unused)."""

    LEVEL = 0  # step 1: the base level
    MERGE = 1  # step 2: whether to merge
    MERGE_ITEM = 2  # step 2: the ordering that picks the item to refine
    MERGE_OPTIONS = 3  # step 2: the ordering that picks its children as options
    DISTRACTORS = 4  # step 3: the ordering of sibling distractors
    FILL = 5  # step 3: the ordering of same-level fill
    REDUCE = 6  # step 4: whether to reduce
    REDUCE_KEEP = 7  # step 4: how many items stay
    REDUCE_ORDER = 8  # step 4: the ordering that picks the items dropped
    SPECIAL = 9  # step 5: whether to give a special answer
    SPECIAL_ITEM = 10  # step 5: the ordering that picks the item removed
    SHUFFLE = 11  # step 7: the order of the list
    OVERFLOW = 12  # step 1: the ordering that picks the first-level items kept
    SYNONYMS = 16  # step 8: draw SYNONYMS + i renames the item at position i


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

        >>> from dynamicner_data.typelists import LabelStatistics
        >>> DynamicOptions().adapted(LabelStatistics(0.01, 0.5, 0.3, 3.0)).p_merge
        0.6
        """
        return replace(
            self,
            p_merge=0.6 if stats.cohesion < 0.04 else self.p_merge,
            p_synonym=0.2 if stats.coefficient_of_variation > 2 else self.p_synonym,
            p_reduce=0.24 if stats.normalized_entropy < 0.8 else self.p_reduce,
        )


def draw_matrix(seed: int, sample_ids: Sequence[str], count: int) -> np.ndarray:
    """``(samples, count)`` draw bytes, row ``s`` from ``(seed, sample_ids[s])`` (BLAKE2b; SHAKE-128 beyond 64).

    >>> draw_matrix(0, ["a", "b"], 16).shape
    (2, 16)
    """
    prefix = f"{seed}\x1f".encode("utf-8")
    if count <= 64:
        blake = hashlib.blake2b
        raw = b"".join([blake(prefix + sid.encode("utf-8"), digest_size=64).digest() for sid in sample_ids])
        width = 64
    else:
        shake = hashlib.shake_128
        raw = b"".join([shake(prefix + sid.encode("utf-8")).digest(count) for sid in sample_ids])
        width = count
    out = np.frombuffer(raw, dtype=np.uint8).reshape(len(sample_ids), width)[:, :count]
    return out.astype(np.int64)


@dataclass
class ListState:
    """What the steps share: the batch's entities and draws, and the lists as they are built.

    Matrices are ``(nodes + 1, samples)`` booleans; "known" entities are those with a taxonomy
    node, indexed ``0 .. len(known) - 1`` in batch order.
    """

    tables: TypeTables
    options: DynamicOptions
    sample_ids: Sequence[str]
    draws: np.ndarray  # (samples, Draw.SYNONYMS + max_types) bytes
    entity_sample: np.ndarray  # per entity: its sample
    unknown_entity: np.ndarray  # per entity: no taxonomy node
    known: np.ndarray  # entity index of each known entity
    known_sample: np.ndarray  # per known entity: its sample
    known_node: np.ndarray  # per known entity: its node
    has_unknown: np.ndarray  # per sample: some entity of unknown category
    budget: np.ndarray  # per sample: max_types, minus the place of "unknown"
    level: np.ndarray  # per sample: the base level (step 1)
    listed: np.ndarray  # the list
    gold: np.ndarray  # its gold items
    excluded: np.ndarray  # types that may never be listed (paths of step 1's surplus entities)
    forced: np.ndarray  # per known entity: its answer from step 1 (-1: "unknown"), -2 when none
    lists_unknown: np.ndarray  # per sample: "unknown" ends the list
    answer: np.ndarray | None = None  # per known entity: the listed node it answers with (-1: "unknown")
    unknown_answer: np.ndarray | None = None  # per sample: what unknown categories answer with (-1: "unknown")

    @property
    def samples(self) -> int:
        return self.draws.shape[0]

    def draw(self, which: Draw, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Draw ``which`` of the samples ``rows``."""
        return self.draws[rows, which]

    def chance(self, which: Draw, probability: float) -> np.ndarray:
        """Per sample: whether draw ``which`` falls below ``probability``."""
        return self.draws[:, which] < probability * 256

    def matrix(self) -> np.ndarray:
        return np.zeros((self.tables.n + 1, self.samples), dtype=bool)


def start(tables: TypeTables, sample_ids: Sequence[str], offsets: np.ndarray, entity_nodes: np.ndarray,
          options: DynamicOptions) -> ListState:
    """The state before step 1: draws, entities by sample, budgets, empty lists."""
    samples = len(sample_ids)
    entity_sample = np.repeat(np.arange(samples), np.diff(offsets))
    unknown_entity = entity_nodes < 0
    has_unknown = np.zeros(samples, dtype=bool)
    has_unknown[entity_sample[unknown_entity]] = True
    known = np.flatnonzero(~unknown_entity)
    empty = np.zeros((tables.n + 1, samples), dtype=bool)
    return ListState(
        tables=tables, options=options, sample_ids=sample_ids,
        draws=draw_matrix(options.seed, sample_ids, Draw.SYNONYMS + options.max_types),
        entity_sample=entity_sample, unknown_entity=unknown_entity,
        known=known, known_sample=entity_sample[known], known_node=entity_nodes[known],
        has_unknown=has_unknown, budget=options.max_types - has_unknown.astype(np.int64),
        level=np.ones(samples, dtype=np.int64), listed=empty, gold=empty.copy(), excluded=empty.copy(),
        forced=np.full(len(known), -2, dtype=np.int64), lists_unknown=np.zeros(samples, dtype=bool),
    )


# ---------------------------------------------------------------------------- the steps
def base_level(state: ListState) -> None:
    """Step 1: the base level, coarser while the gold items do not fit; the overflow of flat taxonomies."""
    tab, rows, nodes = state.tables, state.known_sample, state.known_node
    depth, n = tab.depth, tab.n
    level = 1 + ((state.draw(Draw.LEVEL) * max(depth, 1)) >> 8)
    golds, counts = {}, {}
    for lv in range(1, depth + 1):
        g = state.matrix()
        g[tab.at[lv][nodes], rows] = True
        drop = np.zeros_like(g)
        for k in range(1, lv):  # an entity annotated above lv absorbs the items below it
            deeper = tab.deeper[k]
            drop[deeper] |= g[tab.at[k][deeper]]
        g &= ~drop
        g[n] = False
        golds[lv] = g
        counts[lv] = count(g)
    for lv in range(depth, 1, -1):
        level[(level == lv) & (counts[lv] > state.budget)] = lv - 1
    for lv in range(1, depth + 1):
        state.listed |= golds[lv] & (level == lv)
    state.level = level
    for s in np.flatnonzero(count(state.listed) > state.budget).tolist():
        _overflow(state, s)
    state.gold = state.listed.copy()


def _overflow(state: ListState, s: int) -> None:
    """Sample ``s`` has more first-level types than its budget: keep a catch-all and the first others.

    The entities of the left-out types answer with that catch-all (or "unknown" when the taxonomy
    has none), and no type on their paths may be listed later.
    """
    tab = state.tables
    items = np.flatnonzero(state.listed[:, s]).tolist()
    order = sorted(items, key=tab.rank[int(state.draws[s, Draw.OVERFLOW])].__getitem__)
    budget = int(state.budget[s])
    catch = int(tab.root_catch_alls[0]) if tab.root_catch_alls.size else -1
    if catch >= 0:
        kept = [catch] + [g for g in order if g != catch][: budget - 1]
    else:
        kept = order[: budget if state.has_unknown[s] else budget - 1]
        state.lists_unknown[s] = True
    state.listed[:, s] = False
    state.listed[kept, s] = True
    kept_set = set(kept)
    for e in np.flatnonzero(state.known_sample == s).tolist():
        path = tab.paths[int(state.known_node[e])]
        if kept_set.isdisjoint(path):
            state.forced[e] = catch
            state.excluded[list(path), s] = True


def merge(state: ListState) -> None:
    """Step 2: refine one gold item to its entities' types one level down, plus up to two of its children."""
    tab, level, listed, gold = state.tables, state.level, state.listed, state.gold
    merging = (level < tab.depth) & state.chance(Draw.MERGE, state.options.p_merge)
    if not merging.any():
        return
    free = state.forced == -2
    sel = merging[state.known_sample] & free
    rows, nodes = state.known_sample[sel], state.known_node[sel]
    base_item = tab.at[level[rows], nodes]
    below = state.matrix()  # items with an entity at or below them
    below[base_item, rows] = True
    annotated = state.matrix()  # items some entity is annotated with
    at_or_above = tab.level[nodes] <= level[rows]
    annotated[base_item[at_or_above], rows[at_or_above]] = True
    refinable = gold & below & ~annotated & (tab.level[:, None] == level[None, :]) & merging[None, :]
    if tab.root_catch_alls.size and (~free).any():  # the catch-all answering step 1's surplus stays
        refinable[tab.root_catch_alls[0], np.unique(state.known_sample[~free])] = False
    chosen = tab.first(refinable, state.draw(Draw.MERGE_ITEM))
    under = chosen[rows] == base_item
    finer = state.matrix()
    finer[tab.at[level[rows[under]] + 1, nodes[under]], rows[under]] = True
    ok = (chosen >= 0) & (count(listed) - 1 + count(finer) <= state.budget)
    finer &= ok[None, :]
    done = np.flatnonzero(ok)
    listed[chosen[done], done] = False
    gold[chosen[done], done] = False
    listed |= finer
    gold |= finer
    if len(done):
        size = count(listed)
        sub = listed[:, done]
        kids = (tab.parent[:, None] == chosen[done][None, :]) & ~sub & ~tab.related(sub) & ~state.excluded[:, done]
        limit = np.minimum(2, state.budget[done] - size[done])
        picked, where = tab.pick(kids, state.draw(Draw.MERGE_OPTIONS, done), limit)
        listed[picked, done[where]] = True


def add_distractors(state: ListState) -> None:
    """Step 3: sibling distractors up to the budget, then same-level fill up to ``min_types``."""
    tab, listed = state.tables, state.listed
    room = state.budget - count(listed)
    pool = tab.child_any(listed)[tab.parent] & ~tab.related(listed) & ~state.excluded
    pool[tab.n] = False
    picked, where = tab.pick(pool, state.draw(Draw.DISTRACTORS), room, one_per_name=True)
    listed[picked, where] = True
    size = count(listed)
    wanted = np.minimum(state.options.min_types, state.budget)
    short = np.flatnonzero(size < wanted)
    if len(short):
        sub = listed[:, short]
        fill = tab.level_mask[state.level[short]].T & ~tab.related(sub) & ~state.excluded[:, short]
        picked, where = tab.pick(fill, state.draw(Draw.FILL, short), wanted[short] - size[short], one_per_name=True)
        listed[picked, short[where]] = True


def reduce_options(state: ListState) -> None:
    """Step 4: drop a random number of non-gold items; then every entity answers with the item on its path."""
    tab, listed, gold, min_types = state.tables, state.listed, state.gold, state.options.min_types
    size, gold_size = count(listed), count(gold)
    reducing = (size > min_types) & (size > gold_size) & state.chance(Draw.REDUCE, state.options.p_reduce)
    if reducing.any():
        low = np.maximum(min_types, gold_size)
        keep = low + ((state.draw(Draw.REDUCE_KEEP) * (size - low + 1)) >> 8)
        rows = np.flatnonzero(reducing)
        picked, where = tab.pick(listed[:, rows] & ~gold[:, rows], state.draw(Draw.REDUCE_ORDER, rows),
                                 (size - keep)[rows])
        listed[picked, rows[where]] = False
    # each entity's answer: the (only) listed item on its path
    rows, nodes = state.known_sample, state.known_node
    answer = np.full(len(nodes), tab.n, dtype=np.int64)
    free = state.forced == -2
    for k in range(tab.depth):
        a = tab.ancestors[nodes, k]
        hit = free & (answer == tab.n) & listed[a, rows]
        answer[hit] = a[hit]
    if (free & (answer == tab.n)).any():  # pragma: no cover - the steps above keep one item on every path
        e = int(np.flatnonzero(free & (answer == tab.n))[0])
        raise RuntimeError(f"sample {state.sample_ids[rows[e]]!r}: no list item on the path of {tab.nodes[nodes[e]]}")
    answer[~free] = state.forced[~free]
    state.answer = answer


def special_answer(state: ListState) -> None:
    """Step 5: one gold item leaves the list; its entities answer with a catch-all (or "unknown")."""
    tab, listed, gold, answer = state.tables, state.listed, state.gold, state.answer
    special = state.chance(Draw.SPECIAL, state.options.p_special)
    if not special.any():
        return
    removed = np.full(state.samples, -1, dtype=np.int64)
    rows = np.flatnonzero(special)
    removed[rows] = tab.first(listed[:, rows] & gold[:, rows] & ~tab.catch_all[:, None],
                              state.draw(Draw.SPECIAL_ITEM, rows))
    rows = np.flatnonzero(removed >= 0)
    if not len(rows):
        return
    listed[removed[rows], rows] = False
    gold[removed[rows], rows] = False
    ent_rows, ent_nodes = state.known_sample, state.known_node
    affected = (removed[ent_rows] >= 0) & (answer == removed[ent_rows])
    blocked = state.matrix()  # the paths of the affected entities
    for k in range(tab.depth):
        blocked[tab.ancestors[ent_nodes[affected], k], ent_rows[affected]] = True
    blocked[tab.n] = True
    choices = tab.catch_all_choices[removed[rows]]  # (rows, width), sentinel-padded
    usable = listed[choices, rows[:, None]] & ~blocked[choices, rows[:, None]]
    chosen = np.where(usable.any(axis=1), choices[np.arange(len(rows)), usable.argmax(axis=1)], -1)
    rest = np.flatnonzero(chosen < 0)
    if len(rest):  # none listed: add the first that fits
        cols = rows[rest]
        related = tab.related(listed[:, cols])
        options = choices[rest]
        fits = (~blocked[options, cols[:, None]] & ~related[options, np.arange(len(rest))[:, None]]
                & ~state.excluded[options, cols[:, None]])
        add = np.where(fits.any(axis=1), options[np.arange(len(rest)), fits.argmax(axis=1)], -1)
        listed[add[add >= 0], cols[add >= 0]] = True
        chosen[rest] = add
    chosen_of = np.full(state.samples, -1, dtype=np.int64)
    chosen_of[rows] = chosen
    answer[affected] = chosen_of[ent_rows[affected]]
    state.lists_unknown[rows[chosen < 0]] = True


def unknown_categories(state: ListState) -> None:
    """Step 6: unknown categories answer with the listed first-level catch-all, else "unknown"."""
    tab = state.tables
    state.unknown_answer = np.full(state.samples, -1, dtype=np.int64)
    if state.has_unknown.any() and tab.root_catch_alls.size:
        listed = state.listed[tab.root_catch_alls]  # (catch-alls, samples)
        state.unknown_answer = np.where(listed.any(axis=0), tab.root_catch_alls[listed.argmax(axis=0)], -1)
    state.lists_unknown |= state.has_unknown


@dataclass
class ShuffledLists:
    """The lists in their final order: item ``j`` is node ``items[j]`` of sample ``sample[j]``."""

    items: np.ndarray
    sample: np.ndarray
    position: np.ndarray  # of each item in its list
    starts: np.ndarray  # offsets of the lists in ``items``
    names: np.ndarray  # name id of each item
    qualified: np.ndarray  # per sample: names qualified (step 7), never renamed


def shuffle_and_name(state: ListState, strings: NameTables) -> ShuffledLists:
    """Step 7: shuffle every list; qualify names shared by two listed types."""
    tab = state.tables
    items, sample = tab.pick(state.listed, state.draw(Draw.SHUFFLE), None)
    starts = np.zeros(state.samples + 1, dtype=np.int64)
    np.cumsum(np.bincount(sample, minlength=state.samples), out=starts[1:])
    position = np.arange(len(items)) - starts[sample]
    qualified = np.zeros(state.samples, dtype=bool)
    for g in tab.name_groups:  # only gold items can share a name: related candidates are never added
        qualified |= count(state.gold[g]) >= 2
    names = strings.name_id[items].copy()
    for s in np.flatnonzero(qualified).tolist():
        a, b = int(starts[s]), int(starts[s + 1])
        names[a:b] = [strings.intern(x) for x in display_names(tab, items[a:b].tolist())]
    return ShuffledLists(items=items, sample=sample, position=position, starts=starts, names=names,
                         qualified=qualified)


def rename_synonyms(state: ListState, strings: NameTables, lists: ShuffledLists) -> None:
    """Step 8: rename items from the synonym table, except in qualified lists and lists where two would clash."""
    options = state.options
    if not (options.synonyms and options.p_synonym > 0):
        return
    drawn = strings.by_draw(options.p_synonym)[lists.items, state.draws[lists.sample, Draw.SYNONYMS + lists.position]]
    plain = lists.qualified.copy()
    if strings.shared_synonyms:  # two items may draw one name: such samples keep their names
        both = np.sort((lists.sample << 32) | drawn)
        plain[(both[1:] >> 32)[both[1:] == both[:-1]]] = True
    lists.names = np.where(plain[lists.sample], lists.names, drawn)


def output(state: ListState, strings: NameTables, lists: ShuffledLists, entity_offsets: np.ndarray) -> TypeListBatch:
    """The flat batch: each sample's items, then "unknown" where needed; each entity's label."""
    tab, samples = state.tables, state.samples
    size = np.diff(lists.starts)
    offsets = np.zeros(samples + 1, dtype=np.int64)
    np.cumsum(size + state.lists_unknown, out=offsets[1:])
    total = int(offsets[-1])
    item_nodes = np.full(total, -1, dtype=np.int64)
    item_names = np.full(total, strings.unknown, dtype=np.int64)
    dest = offsets[lists.sample] + lists.position
    item_nodes[dest] = lists.items
    item_names[dest] = lists.names
    name_at = np.full((tab.n + 1, samples), strings.unknown, dtype=np.int64)
    name_at[lists.items, lists.sample] = lists.names
    label_nodes = np.full(len(state.entity_sample), -1, dtype=np.int64)
    label_nodes[state.known] = state.answer
    label_nodes[state.unknown_entity] = state.unknown_answer[state.entity_sample[state.unknown_entity]]
    label_names = name_at[np.where(label_nodes >= 0, label_nodes, tab.n), state.entity_sample]
    return TypeListBatch(names=strings.names, offsets=offsets, item_nodes=item_nodes, item_names=item_names,
                         label_names=label_names, label_nodes=label_nodes, entity_offsets=entity_offsets,
                         nodes=tab.nodes)


# ---------------------------------------------------------------------------- entry points
def dynamic_type_lists(
    sample_ids: Sequence[str],
    entity_offsets: Sequence[int] | np.ndarray,
    entity_nodes: Sequence[int] | np.ndarray,
    taxonomy: Taxonomy,
    options: DynamicOptions,
) -> TypeListBatch:
    """The dynamic type lists of a batch (the steps are in the module docstring).

    Sample ``s`` has the entities ``entity_nodes[entity_offsets[s]:entity_offsets[s + 1]]``
    (taxonomy indices from :func:`~dynamicner_data.typelists.tables.node_ids`; ``-1`` for an
    unknown category).
    """
    tables = type_tables(taxonomy)
    n, count_samples = tables.n, len(sample_ids)
    offsets = np.asarray(entity_offsets, dtype=np.int64).reshape(-1)
    nodes = np.asarray(entity_nodes, dtype=np.int64).reshape(-1)
    if len(offsets) != count_samples + 1 or offsets[0] != 0 or offsets[-1] != len(nodes) or (np.diff(offsets) < 0).any():
        raise ValueError(f"entity_offsets must run from 0 to {len(nodes)} over {count_samples} samples")
    if len(nodes) and (nodes.min() < -1 or nodes.max() >= n):
        raise ValueError(f"entity node ids must lie in -1..{n - 1} for taxonomy {taxonomy.name!r}")
    strings = name_tables(taxonomy, options.synonyms)
    step = max(1, MAX_CELLS // (n + 1))
    if count_samples > step:  # a big taxonomy: bound the (types x samples) matrices, chunk by chunk
        return TypeListBatch.concatenate([
            _lists(tables, strings, sample_ids[a:a + step], offsets[a:a + step + 1] - offsets[a],
                   nodes[offsets[a]:offsets[min(a + step, count_samples)]], options)
            for a in range(0, count_samples, step)
        ])
    return _lists(tables, strings, sample_ids, offsets, nodes, options)


def _lists(tables: TypeTables, strings: NameTables, sample_ids: Sequence[str], offsets: np.ndarray,
           nodes: np.ndarray, options: DynamicOptions) -> TypeListBatch:
    """The steps in order, on checked inputs, all samples at once."""
    state = start(tables, sample_ids, offsets, nodes, options)
    base_level(state)
    merge(state)
    add_distractors(state)
    reduce_options(state)
    special_answer(state)
    unknown_categories(state)
    lists = shuffle_and_name(state, strings)
    rename_synonyms(state, strings, lists)
    return output(state, strings, lists, offsets)


def dynamic_type_list(
    sample_id: str,
    nodes: Sequence[TypeNode | None],
    taxonomy: Taxonomy,
    options: DynamicOptions,
) -> TypeListAssignment:
    """The seeded dynamic type list of one sample and the label of each entity (see the module docstring).

    ``nodes`` holds each entity's gold node (``None`` for an unknown category); the result has one
    label per entity, in order. This is :func:`dynamic_type_lists` on a batch of one sample: a
    sample gets the same list whatever batch it is built in.
    """
    try:
        ids = node_ids(taxonomy, nodes)
    except ValueError as exc:
        raise ValueError(f"sample {sample_id!r}: {exc}") from None
    return dynamic_type_lists([sample_id], [0, len(ids)], ids, taxonomy, options).assignment(0)
