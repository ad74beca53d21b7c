"""The scores of the Inspect AI task, from ``dynamicner_f1``'s own scorer.

The task's scorer gives each sample its counts (:func:`sample_counts`: true positives, false
positives, false negatives, as Inspect's score value ``{"tp", "fp", "fn"}``); its metric sums them
into the micro precision, recall and F1 (:func:`micro_scores`). Matching is decided within a sample
under every ``dynamicner_f1`` mode, so the sums are the corpus's own micro counts and the F1 is
``cascadener evaluate``'s on the same predictions. Scores a person reads are in percent with two
decimals, the kit's one rounding (:func:`cascadener.publishing.results.percent`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from cascadener.publishing.results import percent

__all__ = ["SpanCounts", "sample_counts", "micro_scores"]



@dataclass(frozen=True)
class SpanCounts:
    """One sample's counts: ``tp`` predictions that hit a reference, ``fp`` predictions that hit none,
    ``fn`` references no prediction hit."""

    tp: int
    fp: int
    fn: int

    def as_value(self) -> dict[str, int]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn}


def sample_counts(predicted: Sequence[Mapping[str, Any]], gold: Sequence[Mapping[str, Any]], *, text: str,
                  matching: str = "strict") -> SpanCounts:
    """The counts of one sample under ``matching``, from ``dynamicner_f1``'s own scorer
    (:func:`dynamicner_f1.scorer.score_spans` on the sample alone: its prediction and reference
    counts, and its F1 ``2 tp / (predictions + references)``). Counting is per sample under every
    matching mode, so the sums over samples are the corpus's micro counts.

    >>> gold = [{"text": "Lyon", "label": "city", "start": 0, "end": 4},
    ...         {"text": "Ada", "label": "person", "start": 9, "end": 12}]
    >>> pred = [{"text": "Lyon", "label": "city", "start": 0, "end": 4, "score": 0.9},
    ...         {"text": "Ada", "label": "city", "start": 9, "end": 12, "score": 0.4}]
    >>> sample_counts(pred, gold, text="Lyon met Ada")
    SpanCounts(tp=1, fp=1, fn=1)
    >>> sample_counts(pred, gold, text="Lyon met Ada", matching="boundary")
    SpanCounts(tp=2, fp=0, fn=0)
    """
    from dynamicner_f1.scorer import score_spans

    scores = score_spans([list(predicted)], [list(gold)], matching=matching, sentences=[text])
    n_pred, n_gold = round(scores["num_predictions"]), round(scores["num_references"])
    tp = round(scores["f1"] * (n_pred + n_gold) / 2)
    return SpanCounts(tp=tp, fp=n_pred - tp, fn=n_gold - tp)


def micro_scores(counts: Iterable[SpanCounts | Mapping[str, float]]) -> dict[str, float]:
    """``dynamicner_f1``'s micro precision, recall and F1 (:func:`dynamicner_f1.counting.prf`) of the
    summed counts, in percent with two decimals (:func:`cascadener.publishing.results.percent`), and
    the sums (``true_positives``, ``false_positives``, ``false_negatives``). Mappings are Inspect's
    score values ``{"tp", "fp", "fn"}``.

    >>> micro_scores([SpanCounts(1, 1, 1), {"tp": 2, "fp": 0, "fn": 1}])
    {'f1': 66.67, 'precision': 75.0, 'recall': 60.0, 'true_positives': 3, 'false_positives': 1, 'false_negatives': 2}
    """
    from dynamicner_f1.counting import prf

    tp = fp = fn = 0
    for item in counts:
        value = item.as_value() if isinstance(item, SpanCounts) else item
        tp, fp, fn = tp + value["tp"], fp + value["fp"], fn + value["fn"]
    precision, recall, f1 = prf(tp, tp + fp, tp + fn)
    return {"f1": percent(f1), "precision": percent(precision), "recall": percent(recall),
            "true_positives": tp, "false_positives": fp, "false_negatives": fn}
