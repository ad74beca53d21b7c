"""Label statistics of a corpus: the paper's four numbers, and how often a string's label varies.

The dynamic algorithm's probabilities can follow the statistics of a corpus
(:meth:`DynamicOptions.adapted <dynamicner_data.typelists.dynamic.DynamicOptions.adapted>`), and
the dataset card reports them.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> round(label_statistics(["city", "country"], Taxonomy.dynamicner()).cohesion, 2)
    1.0
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Iterable

from ..taxonomy import Taxonomy, TypeNode

__all__ = ["LabelStatistics", "label_statistics", "LabelVariation", "label_variation"]

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
