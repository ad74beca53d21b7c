"""Matching and counting: which predictions hit which references, under each criterion.

Entities are ``(start, end, label, text)`` tuples per sample (``start == end == -1``: unplaced).
A :class:`Tally` keeps one key per predicted, reference and matched entity; a key is a tuple whose
first item identifies the sample and whose last item is the label, so micro, per-label, per-sample
and per-level counts are all plain counts over keys.

Criteria (``label`` must also be equal unless the label is blanked out first):

``exact``    same ``start`` and ``end``; multiset intersection, so each entity matches once.
``overlap``  character ranges overlap; one-to-one maximum matching (the size does not depend on order).
``text``     same lowercased text and lowercased label, over per-sample SETS (duplicates collapse).

Under ``exact`` and ``overlap``, a pair in which either side is unplaced matches by lowercased text.

Example:
    >>> gold = [[(0, 5, "city", "Paris"), (10, 14, "city", "Rome")]]
    >>> pred = [[(0, 5, "city", "Paris"), (9, 14, "city", " Rome")]]
    >>> exact_tally(pred, gold).scores()
    (0.5, 0.5, 0.5)
    >>> graph_tally(pred, gold, criterion="overlap").scores()
    (1.0, 1.0, 1.0)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

Key = tuple
CRITERIA: tuple[str, ...] = ("exact", "overlap", "text")


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
    """Keys of predicted, reference and matched (true positive) entities."""

    pred: list[Key] = field(default_factory=list)
    gold: list[Key] = field(default_factory=list)
    tp: list[Key] = field(default_factory=list)

    def extend(self, other: "Tally") -> None:
        self.pred.extend(other.pred)
        self.gold.extend(other.gold)
        self.tp.extend(other.tp)

    def scores(self) -> tuple[float, float, float]:
        return prf(len(self.tp), len(self.pred), len(self.gold))

    def by_label(self) -> dict[object, tuple[int, int, int]]:
        """``label -> (tp, n_pred, n_gold)`` over every label seen on either side."""
        tp = Counter(k[-1] for k in self.tp)
        pred = Counter(k[-1] for k in self.pred)
        gold = Counter(k[-1] for k in self.gold)
        return {label: (tp[label], pred[label], gold[label]) for label in pred.keys() | gold.keys()}

    def by_sample(self, n: int, sample_of: Callable[[Key], int]) -> tuple[list[int], list[int], list[int]]:
        """Per-sample ``tp``, ``n_pred``, ``n_gold`` lists of length ``n``."""
        out = []
        for keys in (self.tp, self.pred, self.gold):
            counts = [0] * n
            for i in map(sample_of, keys):
                counts[i] += 1
            out.append(counts)
        return out[0], out[1], out[2]


def multiset_intersection(pred: list[Key], gold: list[Key]) -> list[Key]:
    """Matched keys: a set intersection, or a multiset one when a side repeats a key."""
    pred_set = set(pred)
    gold_set = set(gold)
    if len(pred_set) == len(pred) and len(gold_set) == len(gold):
        return list(pred_set & gold_set)
    return list((Counter(pred) & Counter(gold)).elements())


def _is_placed(entity: tuple) -> bool:
    return entity[0] >= 0


def exact_tally(pred: Sequence[Sequence[tuple]], gold: Sequence[Sequence[tuple]]) -> Tally:
    """``exact`` criterion; samples holding an unplaced entity go through :func:`graph_tally`."""
    mixed = {i for side in (pred, gold) for i, ents in enumerate(side) for e in ents if e[0] < 0}
    if mixed:
        rest = [i for i in range(len(pred)) if i not in mixed]
        tally = exact_tally([pred[i] for i in rest], [gold[i] for i in rest])
        tally = Tally(
            pred=[(rest[k[0]],) + k[1:] for k in tally.pred],
            gold=[(rest[k[0]],) + k[1:] for k in tally.gold],
            tp=[(rest[k[0]],) + k[1:] for k in tally.tp],
        )
        order = sorted(mixed)
        other = graph_tally([pred[i] for i in order], [gold[i] for i in order], criterion="exact")
        tally.pred.extend((order[k[0]],) + k[1:] for k in other.pred)
        tally.gold.extend((order[k[0]],) + k[1:] for k in other.gold)
        tally.tp.extend((order[k[0]],) + k[1:] for k in other.tp)
        return tally
    pred_keys = [(i, e[0], e[1], e[2]) for i, ents in enumerate(pred) for e in ents]
    gold_keys = [(i, e[0], e[1], e[2]) for i, ents in enumerate(gold) for e in ents]
    return Tally(pred=pred_keys, gold=gold_keys, tp=multiset_intersection(pred_keys, gold_keys))


def _lower(label: object) -> object:
    """Lowercase a label; taxonomy nodes (tuples of lowercased names) pass through."""
    return label.lower() if isinstance(label, str) else label


def text_tally(pred: Sequence[Sequence[tuple]], gold: Sequence[Sequence[tuple]]) -> Tally:
    """``text`` criterion: per-sample sets of lowercased ``(text, label)``, every sample scored."""
    pred_keys = list({(i, e[3].lower(), _lower(e[2])) for i, ents in enumerate(pred) for e in ents})
    gold_keys = list({(i, e[3].lower(), _lower(e[2])) for i, ents in enumerate(gold) for e in ents})
    return Tally(pred=pred_keys, gold=gold_keys, tp=list(set(pred_keys) & set(gold_keys)))


def _compatible(criterion: str) -> Callable[[tuple, tuple], bool]:
    def compatible(p: tuple, g: tuple) -> bool:
        if p[2] != g[2]:
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


def graph_tally(pred: Sequence[Sequence[tuple]], gold: Sequence[Sequence[tuple]], *, criterion: str) -> Tally:
    """``exact`` or ``overlap`` by one-to-one maximum matching within each sample."""
    if criterion not in ("exact", "overlap"):
        raise ValueError(f"criterion={criterion!r} is not one of ['exact', 'overlap']")
    compatible = _compatible(criterion)
    tally = Tally()
    for i, (p_ents, g_ents) in enumerate(zip(pred, gold)):
        tally.pred.extend((i, j, e[2]) for j, e in enumerate(p_ents))
        tally.gold.extend((i, j, e[2]) for j, e in enumerate(g_ents))
        if not p_ents or not g_ents:
            continue
        edges = [[k for k, g in enumerate(g_ents) if compatible(p, g)] for p in p_ents]
        tally.tp.extend((i, g, g_ents[g][2]) for _, g in max_matching(len(p_ents), len(g_ents), edges))
    return tally


def tally(pred: Sequence[Sequence[tuple]], gold: Sequence[Sequence[tuple]], *, criterion: str) -> Tally:
    """Dispatch on ``criterion`` (one of :data:`CRITERIA`)."""
    if criterion == "exact":
        return exact_tally(pred, gold)
    if criterion == "text":
        return text_tally(pred, gold)
    if criterion == "overlap":
        return graph_tally(pred, gold, criterion="overlap")
    raise ValueError(f"criterion={criterion!r} is not one of {list(CRITERIA)}")
