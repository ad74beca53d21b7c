"""Matching and counting: which predictions hit which references, under each criterion.

Entities come as :class:`~dynamicner_f1.spans.Columns`. A :class:`Tally` keeps one key per
predicted, reference and matched entity; a key is a tuple whose first item is the sample index and
whose last item is the label, so micro, per-label, per-sample and per-level counts are all plain
counts over keys.

Criteria (the label must be equal too, unless ``labelled=False``):

``exact``    same ``start`` and ``end``; multiset intersection, so each entity matches once.
``overlap``  character ranges overlap; one-to-one maximum matching (its size does not depend on order).
``text``     same lowercased text and lowercased label, over per-sample SETS (duplicates collapse).

Under ``exact`` and ``overlap``, a pair in which either side is unplaced (``start == -1``) matches
by lowercased text; samples holding such an entity go through the one-to-one matching.

Example:
    >>> from dynamicner_f1.spans import Columns
    >>> gold = Columns.from_rows([[(0, 5, "city", "Paris"), (10, 14, "city", "Rome")]])
    >>> pred = Columns.from_rows([[(0, 5, "city", "Paris"), (9, 14, "city", " Rome")]])
    >>> tally(pred, gold, criterion="exact").scores()
    (0.5, 0.5, 0.5)
    >>> tally(pred, gold, criterion="overlap").scores()
    (1.0, 1.0, 1.0)
"""

from __future__ import annotations

import itertools
import operator
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Collection, Sequence

from .spans import Columns

Key = tuple
CRITERIA: tuple[str, ...] = ("exact", "overlap", "text")
_FIRST = operator.itemgetter(0)
_LAST = operator.itemgetter(-1)


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    """Precision, recall, F1; 0.0 where undefined (seqeval's ``zero_division`` default).

    Example:
        >>> prf(1, 2, 4)
        (0.5, 0.25, 0.3333333333333333)
    """
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * tp / (n_pred + n_gold) if tp else 0.0
    return p, r, f


@dataclass
class Tally:
    """Keys of predicted, reference and matched (true positive) entities.

    ``pred_labels``/``gold_labels`` (optional) are the labels of ``pred``/``gold`` in any order,
    for counting without indexing every key.
    """

    pred: Collection[Key] = field(default_factory=list)
    gold: Collection[Key] = field(default_factory=list)
    tp: Collection[Key] = field(default_factory=list)
    pred_labels: Sequence[object] | None = None
    gold_labels: Sequence[object] | None = None

    def extend(self, other: "Tally") -> None:
        self.pred = [*self.pred, *other.pred]
        self.gold = [*self.gold, *other.gold]
        self.tp = [*self.tp, *other.tp]
        self.pred_labels = self.gold_labels = None

    def counts(self) -> tuple[int, int, int]:
        return len(self.tp), len(self.pred), len(self.gold)

    def scores(self) -> tuple[float, float, float]:
        return prf(*self.counts())

    def by_label(self) -> dict[object, tuple[int, int, int]]:
        """``label -> (tp, n_pred, n_gold)`` over every label seen on either side."""
        tp = Counter(map(_LAST, self.tp))
        pred = Counter(self.pred_labels if self.pred_labels is not None else map(_LAST, self.pred))
        gold = Counter(self.gold_labels if self.gold_labels is not None else map(_LAST, self.gold))
        return {label: (tp[label], pred[label], gold[label]) for label in pred.keys() | gold.keys()}

    def by_sample(self, n: int) -> tuple[list[int], list[int], list[int]]:
        """Per-sample ``tp``, ``n_pred``, ``n_gold`` lists of length ``n``."""
        out = []
        for keys in (self.tp, self.pred, self.gold):
            counts = Counter(map(_FIRST, keys))
            out.append([counts[i] for i in range(n)])
        return out[0], out[1], out[2]


def multiset_intersection(pred: list[Key], gold: list[Key]) -> list[Key]:
    """Matched keys: a set intersection, or a multiset one when a side repeats a key."""
    pred_set = set(pred)
    gold_set = set(gold)
    if len(pred_set) == len(pred) and len(gold_set) == len(gold):
        return list(pred_set.intersection(gold_set))
    return list((Counter(pred) & Counter(gold)).elements())


def _labels(cols: Columns, labelled: bool) -> Sequence[object]:
    return cols.labels if labelled else itertools.repeat("", len(cols))


def _lower(label: object) -> object:
    """Lowercase a label; taxonomy nodes (tuples of lowercased names) pass through."""
    return label.lower() if isinstance(label, str) else label


def _exact_keys(cols: Columns, labelled: bool) -> list[Key]:
    return list(zip(cols.ids, cols.starts, cols.ends, _labels(cols, labelled)))


def _split(cols: Columns, mixed: set[int]) -> tuple[Columns, list[list[tuple]]]:
    """The entities of samples outside ``mixed`` as columns, and the rows of all samples."""
    rows = cols.rows()
    keep = [row if i not in mixed else [] for i, row in enumerate(rows)]
    return Columns.from_rows(keep), rows


def exact_tally(pred: Columns, gold: Columns, *, labelled: bool = True) -> Tally:
    """``exact`` criterion; samples holding an unplaced entity go through :func:`graph_tally`."""
    return exact_tallies(pred, gold, which=(labelled,))[0]


def exact_tallies(pred: Columns, gold: Columns, *, which: tuple[bool, ...] = (True, False)) -> list[Tally]:
    """``exact`` tallies, one per ``labelled`` flag in ``which``, sharing the work of packing keys."""
    if pred.unplaced or gold.unplaced:
        mixed = {i for cols in (pred, gold) for i, s in zip(cols.ids, cols.starts) if s < 0}
        pred_rest, pred_rows = _split(pred, mixed)
        gold_rest, gold_rows = _split(gold, mixed)
        results = exact_tallies(pred_rest, gold_rest, which=which)
        order = sorted(mixed)
        for result, labelled in zip(results, which):
            result.extend(
                graph_tally([pred_rows[i] for i in order], [gold_rows[i] for i in order], criterion="exact",
                            labelled=labelled, ids=order)
            )
        return results
    packed = _packed_exact_tallies(pred, gold, which=which)
    return [t if t is not None else _exact_tally_by_tuples(pred, gold, labelled) for t, labelled in zip(packed, which)]


def _exact_tally_by_tuples(pred: Columns, gold: Columns, labelled: bool) -> Tally:
    pred_set = set(zip(pred.ids, pred.starts, pred.ends, _labels(pred, labelled)))
    gold_set = set(zip(gold.ids, gold.starts, gold.ends, _labels(gold, labelled)))
    if len(pred_set) == len(pred) and len(gold_set) == len(gold):  # no repeated entity: plain sets
        return Tally(
            pred=pred_set,
            gold=gold_set,
            tp=pred_set & gold_set,
            pred_labels=pred.labels if labelled else None,
            gold_labels=gold.labels if labelled else None,
        )
    pred_keys = _exact_keys(pred, labelled)
    gold_keys = _exact_keys(gold, labelled)
    return Tally(pred=pred_keys, gold=gold_keys, tp=multiset_intersection(pred_keys, gold_keys))


class ZippedKeys:
    """``(sample, label)`` keys of a column set, made only when iterated (counting needs just the length)."""

    def __init__(self, cols: Columns, *, labelled: bool) -> None:
        self.cols = cols
        self.labelled = labelled

    def __len__(self) -> int:
        return len(self.cols)

    def __iter__(self):  # noqa: ANN204 - an iterator of key tuples
        labels = self.cols.labels if self.labelled else itertools.repeat("")
        return zip(self.cols.ids, labels)


_PACK_LIMIT = 2**62  # (sample, start, end, label) keys are packed into int64 below this bound


def _packed_exact_tallies(pred: Columns, gold: Columns, *, which: tuple[bool, ...]) -> list[Tally | None]:
    """``exact`` with numpy: every entity packed into one int64 key ``(sample, start, end, label)``;
    ``None`` for a tally whose keys repeat on a side (multiset counting) or would overflow.

    The keys are sorted once; without the label (``labelled=False``) they are the sorted keys
    divided by the number of labels, still sorted. The matched keys come back as ``(sample, label)``
    pairs; that is all the counts need.
    """
    import numpy as np

    names = sorted(set(pred.labels) | set(gold.labels), key=str)
    n_labels = max(len(names), 1)
    n_samples = max(pred.n_samples, gold.n_samples, 1)
    limit = max(max(pred.ends, default=0), max(gold.ends, default=0)) + 1
    if n_samples * limit * limit * n_labels >= _PACK_LIMIT:
        return [None for _ in which]
    code = {name: k for k, name in enumerate(names)}

    def keys(cols: Columns) -> "np.ndarray":
        n = len(cols)
        ids = np.repeat(np.arange(cols.n_samples, dtype=np.int64), np.asarray(cols.lengths, dtype=np.int64))
        starts = np.fromiter(cols.starts, dtype=np.int64, count=n)
        ends = np.fromiter(cols.ends, dtype=np.int64, count=n)
        labels = np.fromiter(map(code.__getitem__, cols.labels), dtype=np.int64, count=n)
        keys = ((ids * limit + starts) * limit + ends) * n_labels + labels
        keys.sort()
        return keys

    pred_sorted, gold_sorted = keys(pred), keys(gold)
    out: list[Tally | None] = []
    for labelled in which:
        p, g = (pred_sorted, gold_sorted) if labelled else (pred_sorted // n_labels, gold_sorted // n_labels)
        if (p[1:] == p[:-1]).any() or (g[1:] == g[:-1]).any():
            out.append(None)  # a repeated entity: multiset counting
            continue
        at = np.minimum(np.searchsorted(g, p), max(len(g) - 1, 0))  # both sorted: look each key up
        common = p[g[at] == p] if len(g) else p[:0]
        per_sample = limit * limit * (n_labels if labelled else 1)
        tp_labels = map(names.__getitem__, (common % n_labels).tolist()) if labelled else itertools.repeat("")
        out.append(Tally(
            pred=ZippedKeys(pred, labelled=labelled),
            gold=ZippedKeys(gold, labelled=labelled),
            tp=list(zip((common // per_sample).tolist(), tp_labels)),
            pred_labels=pred.labels if labelled else None,
            gold_labels=gold.labels if labelled else None,
        ))
    return out


def text_tally(pred: Columns, gold: Columns, *, labelled: bool = True) -> Tally:
    """``text`` criterion: per-sample sets of lowercased ``(text, label)``, every sample scored."""

    def keys(cols: Columns) -> set[Key]:
        labels = map(_lower, cols.labels) if labelled else itertools.repeat("", len(cols))
        return set(zip(cols.ids, map(str.lower, cols.texts), labels))

    pred_keys, gold_keys = keys(pred), keys(gold)
    return Tally(pred=list(pred_keys), gold=list(gold_keys), tp=list(pred_keys & gold_keys))


def _compatible(criterion: str, labelled: bool) -> Callable[[tuple, tuple], bool]:
    def compatible(p: tuple, g: tuple) -> bool:
        if labelled and p[2] != g[2]:
            return False
        if p[0] < 0 or g[0] < 0:
            return p[3].lower() == g[3].lower()
        if criterion == "exact":
            return p[0] == g[0] and p[1] == g[1]
        return p[0] < g[1] and g[0] < p[1]

    return compatible


def max_matching(n_pred: int, n_gold: int, edges: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Maximum bipartite matching (augmenting paths); ``edges[p]`` lists the golds ``p`` may match.

    Example:
        >>> sorted(max_matching(2, 2, [[0, 1], [0]]))
        [(0, 1), (1, 0)]
    """
    owner = [-1] * n_gold

    def augment(p: int, seen: list[bool]) -> bool:
        for g in edges[p]:
            if not seen[g]:
                seen[g] = True
                if owner[g] < 0 or augment(owner[g], seen):
                    owner[g] = p
                    return True
        return False

    for p in range(n_pred):
        if edges[p]:
            augment(p, [False] * n_gold)
    return [(p, g) for g, p in enumerate(owner) if p >= 0]


def graph_tally(
    pred: Sequence[Sequence[tuple]],
    gold: Sequence[Sequence[tuple]],
    *,
    criterion: str,
    labelled: bool = True,
    ids: Sequence[int] | None = None,
) -> Tally:
    """``exact`` or ``overlap`` by one-to-one maximum matching within each sample (rows of tuples)."""
    if criterion not in ("exact", "overlap"):
        raise ValueError(f"criterion={criterion!r} is not one of ['exact', 'overlap']")
    compatible = _compatible(criterion, labelled)
    result = Tally()
    for n, (p_ents, g_ents) in enumerate(zip(pred, gold)):
        i = ids[n] if ids is not None else n
        result.pred.extend((i, j, e[2] if labelled else "") for j, e in enumerate(p_ents))
        result.gold.extend((i, j, e[2] if labelled else "") for j, e in enumerate(g_ents))
        if not p_ents or not g_ents:
            continue
        edges = [[k for k, g in enumerate(g_ents) if compatible(p, g)] for p in p_ents]
        matched = max_matching(len(p_ents), len(g_ents), edges)
        result.tp.extend((i, g, g_ents[g][2] if labelled else "") for _, g in matched)
    return result


def tally(pred: Columns, gold: Columns, *, criterion: str, labelled: bool = True) -> Tally:
    """Dispatch on ``criterion`` (one of :data:`CRITERIA`)."""
    if criterion == "exact":
        return exact_tally(pred, gold, labelled=labelled)
    if criterion == "text":
        return text_tally(pred, gold, labelled=labelled)
    if criterion == "overlap":
        return graph_tally(pred.rows(), gold.rows(), criterion="overlap", labelled=labelled)
    raise ValueError(f"criterion={criterion!r} is not one of {list(CRITERIA)}")
