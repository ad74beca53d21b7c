"""How good are CascadeNER's scores? A reliability table and the expected calibration error.

A score is the classifier's probability of the chosen type (the product over a cascade's levels).
This script predicts a DynamicNER split (of the embedded sample, or of a release folder given with
``--data-dir``) with a local model, matches every predicted entity to the
gold entities of its sentence and bins the entities by score:

- **typing**: the entities whose span is a gold span; *right* when the chosen type is the gold
  label. This is what the score claims to measure (the probability of the chosen type);
- **entity**: every predicted entity; *right* when a gold entity has its span and label (strict
  matching, the leaderboard's). This is what a threshold trades: precision for recall.

Each table gives, per score bin, the entities in it, their mean score, the fraction right and the
gap; the expected calibration error (ECE) is the gap averaged over the bins, weighted by their
entities. A perfectly calibrated model has ECE 0: of the entities scored 0.8, 80 % are right.

    python docs/calibration.py --extractor run/models/extractor --classifier run/models/classifier \\
        --split test --split train

Example (the arithmetic):
    >>> table = reliability([(0.95, True), (0.9, True), (0.85, False), (0.3, False), (0.2, True)], bins=5)
    >>> [(row.low, row.count, round(row.mean_score, 3), round(row.accuracy, 3)) for row in table.rows]
    [(0.2, 2, 0.25, 0.5), (0.8, 3, 0.9, 0.667)]
    >>> round(table.ece, 4)  # 2/5 * |0.5 - 0.25| + 3/5 * |0.667 - 0.9|
    0.24
    >>> print(format_table(table, "typing"))
    typing: 5 entities, ECE 0.240
    score        entities  mean score  right  gap
    [0.20, 0.40)        2       0.250  0.500  0.250
    [0.80, 1.00]        3       0.900  0.667  0.233
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

__all__ = ["Bin", "Reliability", "reliability", "format_table", "judge", "main"]


@dataclass(frozen=True)
class Bin:
    """One score bin ``[low, high)`` (the last one includes 1.0): its entities, mean score and fraction right."""

    low: float
    high: float
    count: int
    mean_score: float
    accuracy: float

    @property
    def gap(self) -> float:
        return abs(self.accuracy - self.mean_score)


@dataclass(frozen=True)
class Reliability:
    """The non-empty bins, the entities binned and the expected calibration error."""

    rows: tuple[Bin, ...]
    count: int
    ece: float


def reliability(pairs: Iterable[tuple[float, bool]], *, bins: int = 10) -> Reliability:
    """``(score, right)`` pairs -> equal-width bins over [0, 1] and ECE = sum over bins of
    ``count / total * |right fraction - mean score|``. Scores must be probabilities.

    >>> reliability([], bins=10).ece
    0.0
    >>> reliability([(1.2, True)])
    Traceback (most recent call last):
    ...
    ValueError: scores must be probabilities in [0, 1], got 1.2
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    total = 0
    for score, right in pairs:
        if score is None or not 0.0 <= score <= 1.0:
            raise ValueError(f"scores must be probabilities in [0, 1], got {score}")
        grouped[min(int(score * bins), bins - 1)].append((score, bool(right)))
        total += 1
    rows = []
    ece = 0.0
    for index, members in enumerate(grouped):
        if not members:
            continue
        mean = sum(score for score, _ in members) / len(members)
        accuracy = sum(right for _, right in members) / len(members)
        rows.append(Bin(low=index / bins, high=(index + 1) / bins, count=len(members), mean_score=mean,
                        accuracy=accuracy))
        ece += len(members) / total * abs(accuracy - mean)
    return Reliability(rows=tuple(rows), count=total, ece=ece)


def format_table(table: Reliability, title: str) -> str:
    """The table as plain text (scores and fractions to three decimals)."""
    lines = [f"{title}: {table.count} entities, ECE {table.ece:.3f}",
             f"{'score':<12} {'entities':>8}  mean score  right  gap"]
    for row in table.rows:
        closing = "]" if row.high >= 1.0 else ")"
        lines.append(f"[{row.low:.2f}, {row.high:.2f}{closing} {row.count:>8}  {row.mean_score:>10.3f}  "
                     f"{row.accuracy:.3f}  {row.gap:.3f}")
    return "\n".join(lines)


def judge(predicted: Sequence[dict[str, Any]], gold: Sequence[dict[str, Any]]) -> tuple[list[tuple[float, bool]],
                                                                                        list[tuple[float, bool]]]:
    """One sentence's ``(score, right)`` pairs: for typing (entities on a gold span: is the label the gold
    one?) and for entities (every entity: is span + label gold?).

    >>> gold = [{"start": 0, "end": 4, "label": "city"}, {"start": 9, "end": 13, "label": "person"}]
    >>> judge([{"start": 0, "end": 4, "label": "city", "score": 0.9},
    ...        {"start": 9, "end": 13, "label": "city", "score": 0.6},
    ...        {"start": 5, "end": 8, "label": "city", "score": 0.7}], gold)
    ([(0.9, True), (0.6, False)], [(0.9, True), (0.6, False), (0.7, False)])
    """
    labels: dict[tuple[int, int], set[str]] = {}
    for entity in gold:
        labels.setdefault((entity["start"], entity["end"]), set()).add(entity["label"])
    typing, entities = [], []
    for entity in predicted:
        span = (entity["start"], entity["end"])
        right = entity["label"] in labels.get(span, ())
        entities.append((entity["score"], right))
        if span in labels:
            typing.append((entity["score"], right))
    return typing, entities


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extractor", required=True, help="stage-1 model folder")
    parser.add_argument("--classifier", default=None, help="stage-2 model folder (none: the extractor)")
    parser.add_argument("--split", action="append", choices=("train", "dev", "test"), default=None,
                        help="split(s) of the embedded sample to predict, each reported alone (default: test)")
    parser.add_argument("--languages", nargs="+", default=None, help="languages (default: all eight)")
    parser.add_argument("--data-dir", default=None,
                        help="a DynamicNER release folder (<lang>/{train,dev,test}.json) instead of the embedded sample")
    parser.add_argument("--label", action="append", default=None,
                        help="a heading per --split, in order (default: the split's name)")
    parser.add_argument("--bins", type=int, default=10, help="equal-width score bins over [0, 1]")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    import dynamicner
    from cascadener import CascadeNER
    from dynamicner_data import LANGUAGES

    splits = args.split or ["test"]
    headings = args.label or splits
    if len(headings) != len(splits):
        parser.error("give one --label per --split")
    ner = CascadeNER.from_pretrained(args.extractor, args.classifier, device=args.device)
    for split, heading in zip(splits, headings):
        typing: list[tuple[float, bool]] = []
        entities: list[tuple[float, bool]] = []
        sentences = 0
        for language in args.languages or LANGUAGES:
            rows = dynamicner.prepare(language, data_dir=args.data_dir).as_dataset(split=split)
            texts, lists = list(rows["text"]), list(rows["type_list"])
            for predicted, gold in zip(ner.predict(texts, lists, batch_size=16), rows["entities"]):
                a, b = judge(predicted, gold)
                typing += a
                entities += b
            sentences += len(texts)
        print(f"## {heading} ({sentences} sentences)")
        print(format_table(reliability(typing, bins=args.bins), "typing (predicted span is gold: is the type right?)"))
        print()
        print(format_table(reliability(entities, bins=args.bins), "entity (span and type both gold)"))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
