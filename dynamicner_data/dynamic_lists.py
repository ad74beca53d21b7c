"""Seeded dynamic type lists for a whole batch of samples at once, with ``numpy``.

This is the implementation of the dynamic algorithm described in :mod:`dynamicner_data.typelists`
(read the steps there). :func:`~dynamicner_data.typelists.dynamic_type_list` is this function on a
batch of one sample, so a sample's list never depends on the batch it is built in.

How it is laid out: set logic runs on boolean matrices of shape ``(nodes + 1, samples)`` (node
major, so picking rows by node is a cheap copy; row ``nodes`` is a sentinel that stays empty and
stands for "no node"). Random choices use each sample's draw bytes (BLAKE2b of ``(seed, sample
id)``): a draw byte selects one of 256 fixed random orderings of the taxonomy, and "the first
``k`` candidates of that ordering" is taken by one sort of ``(sample, rank, node)`` keys over all
candidates of the batch. The few samples that need step-by-step care (more distinct types than
``max_types`` even at the first level, two listed types sharing a name) go through small
per-sample code.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> from dynamicner_data.typelists import DynamicOptions
    >>> tax = Taxonomy.dynamicner()
    >>> ids = node_ids(tax, [tax.resolve("city"), tax.resolve("author"), None])
    >>> batch = dynamic_type_lists(["s1", "s2"], [0, 2, 3], ids, tax, DynamicOptions(seed=0))
    >>> len(batch), int(batch.offsets[-1]) == len(batch.item_nodes)
    (2, True)
    >>> a = batch.assignment(0)
    >>> all(label in a.type_list for label in a.labels)
    True
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from .taxonomy import Taxonomy, TypeNode
from .typelists import _DECISIONS, UNKNOWN, DynamicOptions, TypeListBatch, _display, _Tables, _tables

__all__ = ["dynamic_type_lists", "node_ids", "draw_matrix"]

MAX_CELLS = 1 << 22
"""Largest (types + 1) x samples boolean matrix built at once; bigger batches go chunk by chunk."""


# ---------------------------------------------------------------------------- tables
class _BatchTables:
    """The taxonomy as numpy arrays (built once per taxonomy and synonym setting)."""

    def __init__(self, tab: _Tables) -> None:
        n = len(tab.nodes)
        self.n = n
        self.depth = tab.depth
        sentinel = n
        self.level = np.array(list(tab.level) + [0], dtype=np.int64)
        # at[lv][i]: node i's ancestor at level lv (itself when not deeper); sentinel stays sentinel
        self.at = np.full((tab.depth + 2, n + 1), sentinel, dtype=np.int64)
        for lv in range(tab.depth + 2):
            self.at[lv, :n] = tab.at_level[lv] if n else []
        # anc[i, k]: node i's ancestor at level k + 1 (root first), sentinel beyond its own level
        self.anc = np.full((n + 1, max(tab.depth, 1)), sentinel, dtype=np.int64)
        for i, a in enumerate(tab.anc):
            self.anc[i, : len(a)] = a
        # parent, with roots (and the sentinel) pointing at the sentinel: its row in child_any() means "a root"
        self.parent = np.array([p if p >= 0 else sentinel for p in tab.parent] + [sentinel], dtype=np.int64)
        order = np.argsort(self.parent[:n], kind="stable")
        grouped = self.parent[:n][order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if n else np.zeros(0, np.int64)
        self.by_parent = order  # nodes grouped by parent
        self.group_parent = grouped[starts] if n else np.zeros(0, np.int64)
        ends = np.r_[starts[1:], n].astype(np.int64) if n else starts
        self.groups = list(zip(self.group_parent.tolist(), starts.tolist(), ends.tolist()))
        # 256 orderings as ranks (distinct within an ordering); the sentinel ranks last
        keys = np.array(tab.orderings, dtype=np.int64).reshape(256, n)
        ranks = np.empty((256, n + 1), dtype=np.int64)
        ranks[:, :n] = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
        ranks[:, n] = n
        self.rank = ranks
        self.shift = max(int(n + 1).bit_length(), 1)
        self.catch_all = np.array(list(tab.catch_all) + [False], dtype=bool)
        self.root_catch_alls = np.array(tab.root_catch_alls, dtype=np.int64)
        choices = [tuple(dict.fromkeys(tab.sibling_catch_alls[i] + tab.root_catch_alls)) for i in range(n)]
        width = max((len(c) for c in choices), default=0) or 1
        self.choices = np.full((n + 1, width), sentinel, dtype=np.int64)
        for i, c in enumerate(choices):
            self.choices[i, : len(c)] = c
        # types that share a (normalized) name: at most one of each group may be listed
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(tab.key):
            groups.setdefault(key, []).append(i)
        self.name_groups = [np.array(g, dtype=np.int64) for g in groups.values() if len(g) > 1]
        self.group_of = np.full(n + 1, -1, dtype=np.int64)
        for k, g in enumerate(self.name_groups):
            self.group_of[g] = k
        self.deeper = [np.flatnonzero(self.level > k) for k in range(tab.depth + 1)]  # nodes below level k
        self.level_mask = np.zeros((tab.depth + 2, n + 1), dtype=bool)
        for i, lv in enumerate(tab.level):
            self.level_mask[lv, i] = True
        # every string a list can hold, interned: node names first (ids = node ids), then synonyms etc.
        self.names: list[str] = []
        self.name_index: dict[str, int] = {}
        self.name_id = np.array([self.intern(name) for name in tab.name] + [-1], dtype=np.int64)
        self._by_draw: dict[float, np.ndarray] = {}
        # can two listed types end up with one string? (never with the packaged synonym table)
        owners: dict[str, set[int]] = {}
        for i, syns in enumerate(tab.synonyms):
            for x in (tab.name[i], *syns):
                owners.setdefault(x, set()).add(i)
        unrelated = [sorted(o) for o in owners.values() if len(o) > 1]
        self.shared_synonyms = any(tab.key[o[0]] != tab.key[j] for o in unrelated for j in o[1:])

    def intern(self, name: str) -> int:
        """The id of ``name`` in :attr:`names` (added when new)."""
        k = self.name_index.get(name)
        if k is None:
            k = self.name_index[name] = len(self.names)
            self.names.append(name)
        return k

    def by_draw(self, tab: _Tables, p_synonym: float) -> np.ndarray:
        """``(nodes, 256)`` name ids: the name a synonym draw byte gives each node."""
        table = self._by_draw.get(p_synonym)
        if table is None:
            named = tab.named_by_draw(p_synonym)
            table = np.array([[self.intern(s) for s in row] for row in named], dtype=np.int64).reshape(self.n, 256)
            self._by_draw[p_synonym] = table
        return table

    # ------------------------------------------------------------------ set helpers
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

        Pairs come out sorted by column, then by rank. ``one_per_name`` keeps only the first of
        candidates that share a name. ``limit=None``: all of them (a shuffle).
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
                gk = cols[named] * len(self.name_groups) + group[named]
                _, first = np.unique(gk, return_index=True)  # first occurrence = lowest rank
                drop = np.ones(len(named), dtype=bool)
                drop[first] = False
                keep = np.ones(len(nodes), dtype=bool)
                keep[named[drop]] = False
                nodes, cols = nodes[keep], cols[keep]
        if limit is None or not len(nodes):
            return nodes, cols
        new = np.r_[True, cols[1:] != cols[:-1]]
        starts = np.flatnonzero(new)
        pos = np.arange(len(cols)) - np.repeat(starts, np.diff(np.r_[starts, len(cols)]))
        keep = pos < limit[cols]
        return nodes[keep], cols[keep]

    def first(self, mask: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """Per column, the set node ranked first by the ordering ``draws[s]`` picks (-1: none)."""
        out = np.full(mask.shape[1], -1, dtype=np.int64)
        nodes, cols = self.pick(mask, draws, np.ones(mask.shape[1], dtype=np.int64))
        out[cols] = nodes
        return out


def _batch_tables(taxonomy: Taxonomy, synonyms: bool) -> tuple[_Tables, _BatchTables]:
    tab = _tables(taxonomy, synonyms)
    key = "dynamic_lists:synonyms" if synonyms else "dynamic_lists:plain"
    arrays = taxonomy._cache.get(key)
    if arrays is None:
        arrays = taxonomy._cache[key] = _BatchTables(tab)
    return tab, arrays


def _count(mask: np.ndarray) -> np.ndarray:
    """Set entries per column of a boolean ``(nodes, samples)`` matrix (``mask.sum(axis=0)``, faster)."""
    return np.add.reduce(mask.view(np.uint8), axis=0, dtype=np.int32).astype(np.int64)


# ---------------------------------------------------------------------------- inputs
def node_ids(taxonomy: Taxonomy, nodes: Sequence[TypeNode | None]) -> np.ndarray:
    """The taxonomy index of each node (``-1`` for ``None``, an unknown category).

    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> tax = Taxonomy.dynamicner()
    >>> node_ids(tax, [tax.get(("person",)), None]).tolist()
    [0, -1]
    """
    tab = _tables(taxonomy, False)
    ids = tab.ids
    try:
        return np.fromiter((ids[n.path] if n is not None else -1 for n in nodes), dtype=np.int64, count=len(nodes))
    except KeyError:
        bad = next(n for n in nodes if n is not None and n.path not in ids)
        raise ValueError(f"type {bad} is not in taxonomy {taxonomy.name!r}") from None


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


# ---------------------------------------------------------------------------- the algorithm
def dynamic_type_lists(
    sample_ids: Sequence[str],
    entity_offsets: Sequence[int] | np.ndarray,
    entity_nodes: Sequence[int] | np.ndarray,
    taxonomy: Taxonomy,
    options: DynamicOptions,
) -> TypeListBatch:
    """The dynamic type lists of a batch (the steps are in :mod:`dynamicner_data.typelists`).

    Sample ``s`` has the entities ``entity_nodes[entity_offsets[s]:entity_offsets[s + 1]]``
    (taxonomy indices from :func:`node_ids`; ``-1`` for an unknown category).
    """
    tab, T = _batch_tables(taxonomy, options.synonyms)
    n = T.n
    count_samples = len(sample_ids)
    offsets = np.asarray(entity_offsets, dtype=np.int64).reshape(-1)
    node_e = np.asarray(entity_nodes, dtype=np.int64).reshape(-1)
    if len(offsets) != count_samples + 1 or offsets[0] != 0 or offsets[-1] != len(node_e) or (np.diff(offsets) < 0).any():
        raise ValueError(f"entity_offsets must run from 0 to {len(node_e)} over {count_samples} samples")
    if len(node_e) and (node_e.min() < -1 or node_e.max() >= n):
        raise ValueError(f"entity node ids must lie in -1..{n - 1} for taxonomy {taxonomy.name!r}")
    step = max(1, MAX_CELLS // (n + 1))
    if count_samples > step:  # a big taxonomy: bound the (types x samples) matrices, chunk by chunk
        parts = [
            _lists(tab, T, sample_ids[a:a + step], offsets[a:a + step + 1] - offsets[a],
                   node_e[offsets[a]:offsets[min(a + step, count_samples)]], taxonomy, options)
            for a in range(0, count_samples, step)
        ]
        return _concatenate(parts)
    return _lists(tab, T, sample_ids, offsets, node_e, taxonomy, options)


def _concatenate(parts: list[TypeListBatch]) -> TypeListBatch:
    """One batch from consecutive ones (they share the taxonomy's interned names)."""
    def joined(name: str) -> np.ndarray:
        arrays = [getattr(p, name) for p in parts]
        bases = np.cumsum([0] + [int(a[-1]) for a in arrays[:-1]])
        return np.concatenate([arrays[0]] + [a[1:] + base for a, base in zip(arrays[1:], bases[1:])])

    return TypeListBatch(
        names=parts[-1].names,
        offsets=joined("offsets"),
        item_nodes=np.concatenate([p.item_nodes for p in parts]),
        item_names=np.concatenate([p.item_names for p in parts]),
        label_names=np.concatenate([p.label_names for p in parts]),
        label_nodes=np.concatenate([p.label_nodes for p in parts]),
        entity_offsets=joined("entity_offsets"),
        nodes=parts[0].nodes,
    )


def _lists(
    tab: _Tables,
    T: _BatchTables,
    sample_ids: Sequence[str],
    offsets: np.ndarray,
    node_e: np.ndarray,
    taxonomy: Taxonomy,
    options: DynamicOptions,
) -> TypeListBatch:
    """:func:`dynamic_type_lists` on checked inputs, all samples at once."""
    n, depth = T.n, T.depth
    count_samples = len(sample_ids)
    cols = np.arange(count_samples)
    row_e = np.repeat(cols, np.diff(offsets))
    unknown_e = node_e < 0
    d = draw_matrix(options.seed, sample_ids, _DECISIONS + options.max_types)
    has_unknown = np.zeros(count_samples, dtype=bool)
    has_unknown[row_e[unknown_e]] = True
    budget = options.max_types - has_unknown.astype(np.int64)
    known = np.flatnonzero(~unknown_e)
    kr, kn = row_e[known], node_e[known]
    forced = np.full(len(known), -2, dtype=np.int64)  # overflow answers (-1: "unknown"); -2: not forced
    use_unknown = has_unknown.copy()
    excluded = np.zeros((n + 1, count_samples), dtype=bool)

    # 1. base level, coarser while the gold items do not fit
    level = 1 + ((d[:, 0] * max(depth, 1)) >> 8)
    golds, counts = {}, {}
    for lv in range(1, depth + 1):
        g = np.zeros((n + 1, count_samples), dtype=bool)
        g[T.at[lv][kn], kr] = True
        drop = np.zeros_like(g)
        for k in range(1, lv):  # an entity annotated above lv absorbs the items below it
            deeper = T.deeper[k]
            drop[deeper] |= g[T.at[k][deeper]]
        g &= ~drop
        g[n] = False
        golds[lv] = g
        counts[lv] = _count(g)
    for lv in range(depth, 1, -1):
        level[(level == lv) & (counts[lv] > budget)] = lv - 1
    members = np.zeros((n + 1, count_samples), dtype=bool)
    for lv in range(1, depth + 1):
        members |= golds[lv] & (level == lv)
    size = _count(members)
    for s in np.flatnonzero(size > budget).tolist():  # a flat taxonomy: too many types even at level 1
        _overflow(tab, T, s, d[s], members, excluded, kr, kn, forced, use_unknown, has_unknown[s], int(budget[s]))
    gold = members.copy()
    size = _count(members)

    # 2. merge: refine one gold item to its entities' types one level down, plus up to two of its children
    merging = (level < depth) & (d[:, 1] < options.p_merge * 256)
    if merging.any():
        sel = merging[kr] & (forced == -2)
        r, k_nodes = kr[sel], kn[sel]
        base_item = T.at[level[r], k_nodes]
        below = np.zeros_like(members)
        below[base_item, r] = True
        shallow = np.zeros_like(members)
        at_or_above = T.level[k_nodes] <= level[r]
        shallow[base_item[at_or_above], r[at_or_above]] = True
        refinable = gold & below & ~shallow & (T.level[:, None] == level[None, :]) & merging[None, :]
        if T.root_catch_alls.size and (forced != -2).any():
            refinable[T.root_catch_alls[0], np.unique(kr[forced != -2])] = False
        chosen = T.first(refinable, d[:, 2])
        under = chosen[r] == base_item
        finer = np.zeros_like(members)
        finer[T.at[level[r[under]] + 1, k_nodes[under]], r[under]] = True
        ok = (chosen >= 0) & (size - 1 + _count(finer) <= budget)
        finer &= ok[None, :]
        done = np.flatnonzero(ok)
        members[chosen[done], done] = False
        gold[chosen[done], done] = False
        members |= finer
        gold |= finer
        if len(done):
            size = _count(members)
            sub = members[:, done]
            kids = (T.parent[:, None] == chosen[done][None, :]) & ~sub & ~T.related(sub) & ~excluded[:, done]
            limit = np.minimum(2, budget[done] - size[done])
            picked, where = T.pick(kids, d[done, 3], limit)
            members[picked, done[where]] = True

    # 3. sibling distractors, in a random order, up to max_types; then same-level fill up to min_types
    size = _count(members)
    room = budget - size
    related = T.related(members)
    pool = T.child_any(members)[T.parent] & ~related & ~excluded
    pool[n] = False
    picked, where = T.pick(pool, d[:, 4], room, one_per_name=True)
    members[picked, where] = True
    size = _count(members)
    wanted = np.minimum(options.min_types, budget)
    short = np.flatnonzero(size < wanted)
    if len(short):
        sub = members[:, short]
        fill = T.level_mask[level[short]].T & ~T.related(sub) & ~excluded[:, short]
        picked, where = T.pick(fill, d[short, 5], wanted[short] - size[short], one_per_name=True)
        members[picked, short[where]] = True
        size = _count(members)

    # 4. option reduction (gold items always stay)
    gold_size = _count(gold)
    reducing = (size > options.min_types) & (size > gold_size) & (d[:, 6] < options.p_reduce * 256)
    if reducing.any():
        low = np.maximum(options.min_types, gold_size)
        keep = low + ((d[:, 7] * (size - low + 1)) >> 8)
        rows = np.flatnonzero(reducing)
        picked, where = T.pick(members[:, rows] & ~gold[:, rows], d[rows, 8], (size - keep)[rows])
        members[picked, rows[where]] = False
        size = _count(members)

    # each entity's answer: the (only) listed item on its path
    answer = np.full(len(known), n, dtype=np.int64)
    free = forced == -2
    for k in range(depth):
        a = T.anc[kn, k]
        hit = free & (answer == n) & members[a, kr]
        answer[hit] = a[hit]
    if (free & (answer == n)).any():  # pragma: no cover - the steps above keep one item on every path
        e = int(np.flatnonzero(free & (answer == n))[0])
        raise RuntimeError(f"sample {sample_ids[kr[e]]!r}: no list item on the path of {tab.nodes[kn[e]]}")
    answer[~free] = forced[~free]

    # 5. special answer: one gold item leaves the list; its entities answer with a catch-all
    special = d[:, 9] < options.p_special * 256
    if special.any():
        removed = np.full(count_samples, -1, dtype=np.int64)
        rows = np.flatnonzero(special)
        removed[rows] = T.first(members[:, rows] & gold[:, rows] & ~T.catch_all[:, None], d[rows, 10])
        rows = np.flatnonzero(removed >= 0)
        if len(rows):
            members[removed[rows], rows] = False
            gold[removed[rows], rows] = False
            affected = (removed[kr] >= 0) & (answer == removed[kr])
            blocked = np.zeros_like(members)
            for k in range(depth):
                blocked[T.anc[kn[affected], k], kr[affected]] = True
            blocked[n] = True
            choices = T.choices[removed[rows]]  # (rows, width), sentinel-padded
            listed = members[choices, rows[:, None]] & ~blocked[choices, rows[:, None]]
            chosen = np.where(listed.any(axis=1), choices[np.arange(len(rows)), listed.argmax(axis=1)], -1)
            rest = np.flatnonzero(chosen < 0)
            if len(rest):
                cols_rest = rows[rest]
                rel = T.related(members[:, cols_rest])
                ch = choices[rest]
                sub_cols = np.arange(len(rest))[:, None]
                ok = ~blocked[ch, cols_rest[:, None]] & ~rel[ch, sub_cols] & ~excluded[ch, cols_rest[:, None]]
                add = np.where(ok.any(axis=1), ch[np.arange(len(rest)), ok.argmax(axis=1)], -1)
                members[add[add >= 0], cols_rest[add >= 0]] = True
                chosen[rest] = add
            chosen_of = np.full(count_samples, -1, dtype=np.int64)
            chosen_of[rows] = chosen
            answer[affected] = chosen_of[kr[affected]]
            use_unknown[rows[chosen < 0]] = True

    # 6. unknown categories answer with a first-level catch-all of the list, else "unknown"
    unknown_answer = np.full(count_samples, -1, dtype=np.int64)
    if has_unknown.any() and T.root_catch_alls.size:
        listed = members[T.root_catch_alls]  # (catch-alls, samples)
        unknown_answer = np.where(listed.any(axis=0), T.root_catch_alls[listed.argmax(axis=0)], -1)
    use_unknown |= has_unknown & (unknown_answer < 0)

    # 7. shuffle, names (qualified where two gold types share a name), synonyms
    items, where = T.pick(members, d[:, 11], None)
    size = np.bincount(where, minlength=count_samples)
    starts = np.zeros(count_samples + 1, dtype=np.int64)
    np.cumsum(size, out=starts[1:])
    pos = np.arange(len(items)) - starts[where]
    qualified = np.zeros(count_samples, dtype=bool)
    for g in T.name_groups:
        qualified |= _count(gold[g]) >= 2
    if options.synonyms and options.p_synonym > 0:
        names = T.by_draw(tab, options.p_synonym)[items, d[where, _DECISIONS + pos]]
        plain = qualified.copy()
        if T.shared_synonyms:  # two items may draw one name: such samples keep the plain names
            both = np.sort((where << 32) | names)
            plain[(both[1:] >> 32)[both[1:] == both[:-1]]] = True
        names = np.where(plain[where], T.name_id[items], names)
    else:
        names = T.name_id[items].copy()
    for s in np.flatnonzero(qualified).tolist():
        a, b = int(starts[s]), int(starts[s + 1])
        names[a:b] = [T.intern(x) for x in _display(tab, items[a:b].tolist())]
    unknown_name = T.intern(f"{UNKNOWN} ({taxonomy.name})" if tab.has_unknown_name else UNKNOWN)

    # flat output: each sample's items, then "unknown" where it answers some entity
    out_offsets = np.zeros(count_samples + 1, dtype=np.int64)
    np.cumsum(size + use_unknown, out=out_offsets[1:])
    total = int(out_offsets[-1])
    item_nodes = np.full(total, -1, dtype=np.int64)
    item_names = np.full(total, unknown_name, dtype=np.int64)
    dest = out_offsets[where] + pos
    item_nodes[dest] = items
    item_names[dest] = names
    name_at = np.full((n + 1, count_samples), unknown_name, dtype=np.int64)
    name_at[items, where] = names
    label_nodes = np.full(len(node_e), -1, dtype=np.int64)
    label_nodes[known] = answer
    label_nodes[unknown_e] = unknown_answer[row_e[unknown_e]]
    label_names = name_at[np.where(label_nodes >= 0, label_nodes, n), row_e]
    return TypeListBatch(
        names=T.names,
        offsets=out_offsets,
        item_nodes=item_nodes,
        item_names=item_names,
        label_names=label_names,
        label_nodes=label_nodes,
        entity_offsets=offsets,
        nodes=tab.nodes,
    )


def _overflow(
    tab: _Tables,
    T: _BatchTables,
    s: int,
    draws: np.ndarray,
    members: np.ndarray,
    excluded: np.ndarray,
    kr: np.ndarray,
    kn: np.ndarray,
    forced: np.ndarray,
    use_unknown: np.ndarray,
    has_unknown: bool,
    budget: int,
) -> None:
    """Sample ``s`` has more first-level types than ``budget``: keep a catch-all and a random subset.

    The entities of the left-out types answer with that catch-all (or "unknown" when the taxonomy
    has none), and no type on their paths may be listed later.
    """
    items = np.flatnonzero(members[:, s]).tolist()
    order = sorted(items, key=T.rank[int(draws[12])].__getitem__)
    catch = int(T.root_catch_alls[0]) if T.root_catch_alls.size else -1
    if catch >= 0:
        kept = [catch] + [g for g in order if g != catch][: budget - 1]
    else:
        kept = order[: budget if has_unknown else budget - 1]
        use_unknown[s] = True
    members[:, s] = False
    members[kept, s] = True
    mine = np.flatnonzero(kr == s)
    kept_set = set(kept)
    for e in mine.tolist():
        path = tab.anc[int(kn[e])]
        if kept_set.isdisjoint(path):
            forced[e] = catch
            excluded[list(path), s] = True
