# Copyright 2026 The DynamicNER kit authors. Licensed under the Apache License, Version 2.0.
"""dynamicner_f1: an ``evaluate`` metric for NER against per-sample type lists.

A thin wrapper around the pure-Python scorer in ``scorer.py`` (the same code the ``dynamicner_f1``
package exposes). Inputs are checked and reduced to the declared features before ``evaluate``
stores them, so records may carry extra keys (the dataset's ``path``, the pipeline's ``score``)
and every defect is a ``ValueError`` naming the sample index and the field.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import datasets
import evaluate

from .bio import encode_pair
from .counting import prf
from .hierarchy import label_paths
from .options import MATCHING, Options
from .scorer import no_gc, score_checked, score_encoded
from .spans import check_samples, declared_records, from_records, joined_columns

_CITATION = """\
@misc{dynamicner2024,
  title         = {DynamicNER: A Dynamic, Multilingual, and Fine-Grained Dataset for LLM-based Named Entity Recognition},
  year          = {2024},
  eprint        = {2409.11022},
  archivePrefix = {arXiv},
  note          = {EMNLP 2025; see the arXiv page for the author list}
}
"""

_DESCRIPTION = """\
Micro, macro, extraction, per-label, per-language and hierarchical precision / recall / F1 for
named entity recognition, scored against each sample's own candidate type list. Span mode (config
"span", the default) takes {text, label, start, end} records with exclusive character ends;
"bio" and "bio-strict" take IOB2 tags and equal seqeval's default and strict IOB2 modes.
Predicted labels outside a sample's type list are counted and scored as false positives, never dropped.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: per sample, a list of {"text", "label", "start", "end"} records (span configs) or
        a list of IOB2 tags ("bio", "bio-strict"). Extra keys such as "score" or "path" are ignored.
        start = end = -1 marks an entity that could not be placed; it is matched by text.
    references: the gold side, same shape and length as predictions.
    type_lists: optional, per sample, the candidate types offered; predictions outside it are counted.
    languages: optional, per sample, a language code; adds "language/<code>/f1".
    taxonomy: optional, a mapping label -> path (names root first), the authors' category format or a
        nested mapping; adds hierarchical and per-level scores (ambiguous bare names: deepest node).
    matching: "strict" (default), "text", "partial" or "boundary".
    bootstrap: optional number of resamples for a 95% interval of f1 ("f1_ci_low", "f1_ci_high").
    seed: seed of the bootstrap (default 0).
    sentences: optional, per sample, the text; checks text == sentence[start:end] (span configs).
Returns:
    A flat dict of floats: precision, recall, f1, macro_f1, extraction_precision/recall/f1,
    label/<label>/precision|recall|f1|support, num_predictions, num_references, invalid_offsets,
    invalid_offsets_references, and with the options out_of_list, out_of_list_rate,
    out_of_list_references, language/<code>/f1, hierarchical_precision/recall/f1, level/<depth>/f1,
    taxonomy_unknown, f1_ci_low, f1_ci_high.
Examples:
    >>> import evaluate
    >>> metric = evaluate.load("metric/dynamicner_f1")
    >>> gold = [[{"text": "Paris", "label": "city", "start": 10, "end": 15}]]
    >>> pred = [[{"text": "Paris", "label": "city", "start": 10, "end": 15, "score": 0.93}]]
    >>> metric.compute(predictions=pred, references=gold)["f1"]
    1.0
"""

CONFIGS: tuple[str, ...] = ("span", "bio", "bio-strict")
_RULES = {"bio": "lenient", "bio-strict": "strict"}

_SPAN_FEATURE = datasets.List(
    {
        "text": datasets.Value("string"),
        "label": datasets.Value("string"),
        "start": datasets.Value("int32"),
        "end": datasets.Value("int32"),
    }
)
_TAG_FEATURE = datasets.List(datasets.Value("string"))


def _config(name: str | None) -> str:
    config = "span" if name in (None, "default") else name
    if config not in CONFIGS:
        raise ValueError(f"config_name={name!r} is not one of {list(CONFIGS)}")
    return config


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DynamicnerF1(evaluate.Metric):
    """Span and IOB2 NER scores with per-sample type lists; see the module docstring."""

    def _info(self) -> evaluate.MetricInfo:
        feature = _SPAN_FEATURE if _config(self.config_name) == "span" else _TAG_FEATURE
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": feature, "references": feature}),
            reference_urls=["https://arxiv.org/abs/2409.11022"],
        )

    # -- input handling: check and reduce to the declared features before evaluate sees them --

    def _check_batch(self, predictions: Sequence, references: Sequence) -> tuple[Sequence, Sequence, object]:
        """Checked records in the declared shape, plus what the check learnt (reused by ``_compute``)."""
        first = getattr(self, "_n_added", 0)
        for name, value in (("predictions", predictions), ("references", references)):
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{name} must be a list with one entry per sample, got {type(value).__name__}")
        if len(predictions) != len(references):
            raise ValueError(
                f"predictions has {len(predictions)} samples but references has {len(references)} "
                f"(samples from index {first}); pass an empty list for a sample without entities"
            )
        if _config(self.config_name) == "span":
            pred = check_samples(predictions, field="predictions", first_index=first)
            gold = check_samples(references, field="references", first_index=first)
            return declared_records(predictions, pred), declared_records(references, gold), (pred, gold)
        encode_pair(predictions, references, first_index=first)
        return predictions, references, None

    def _store(self, learnt: object, n: int) -> None:
        """Remember what the check of each batch learnt (its tag ids, ``bio.detached``, or its span
        columns) to join at compute instead of reading every record back again; and the tags seen."""
        first = getattr(self, "_n_added", 0)
        if not first:
            self._parts = []
        if learnt is None or self._parts is None:
            self._parts = None
        else:
            self._parts.append(learnt)
        self._n_added = first + n

    def _nothing_stored(self) -> bool:
        """Whether no batch was added yet in a single-process run (nothing to read back from storage)."""
        return self.num_process == 1 and self.writer is None and not getattr(self, "_n_added", 0)

    def _forget(self) -> None:
        self._n_added = 0
        self._parts = None

    # The collector is paused (``no_gc``) through checking, evaluate's storage and scoring: they
    # allocate millions of containers and no cycles, and each full collection on the way would walk
    # every object alive, the caller's data and the batches read back included.

    def add_batch(self, *, predictions: Sequence | None = None, references: Sequence | None = None) -> None:
        """Check a batch, then store it (extra record keys are dropped, not passed to evaluate)."""
        with no_gc():
            pred, gold, learnt = self._check_batch(predictions, references)
            super().add_batch(predictions=pred, references=gold)
            self._store(learnt, len(gold))

    def add(self, *, prediction: object = None, reference: object = None) -> None:
        """Check one sample, then store it."""
        with no_gc():
            pred, gold, learnt = self._check_batch([prediction], [reference])
            super().add(prediction=pred[0], reference=gold[0])
            self._store(learnt, 1)

    def compute(
        self,
        *,
        predictions: Sequence | None = None,
        references: Sequence | None = None,
        type_lists: Sequence[Sequence[str]] | None = None,
        languages: Sequence[str] | None = None,
        taxonomy: Mapping | None = None,
        matching: str = "strict",
        bootstrap: int | None = None,
        seed: int = 0,
        sentences: Sequence[str] | None = None,
    ) -> dict[str, float]:
        """Score everything added so far plus ``predictions``/``references``; the options are ``Options``'s fields.

        The keywords are checked once here (as an :class:`~dynamicner_f1.options.Options`, before
        anything is stored) and that ``Options`` is what ``_compute`` receives.
        """
        options = Options(type_lists=type_lists, languages=languages, taxonomy=taxonomy, matching=matching,
                          bootstrap=bootstrap, seed=seed, sentences=sentences)
        if sentences is not None and _config(self.config_name) != "span":
            raise ValueError(f"sentences applies to span records; config {self.config_name!r} scores tags")
        if predictions is not None and references is not None and self._nothing_stored():
            # one call with everything: score the checked inputs directly. evaluate's storage
            # (feature encoding, Arrow cache file, reading it back) only serves batches added earlier
            # and distributed runs, and costs more than the scoring itself.
            try:
                with no_gc():
                    pred, gold, learnt = self._check_batch(predictions, references)
                    self._store(learnt, len(gold))
                    return self._compute(pred, gold, options=options)
            finally:
                self._forget()
        if predictions is not None or references is not None:
            self.add_batch(predictions=predictions, references=references)  # on error, earlier batches stay
        try:
            with no_gc():
                return super().compute(options=options)
        finally:
            self._forget()

    def _compute(self, predictions: Sequence, references: Sequence, options: Options) -> dict[str, float]:
        options.for_samples(len(references))
        config = _config(self.config_name)
        parts = getattr(self, "_parts", None)
        with no_gc():  # also reached from evaluate's compute (stored batches)
            if config != "span":
                return score_encoded(encode_pair(predictions, references), options, rule=_RULES[config])
            if options.sentences is not None:
                pred = check_samples(predictions, field="predictions", sentences=options.sentences)
                gold = check_samples(references, field="references", sentences=options.sentences)
                return score_checked(pred, gold, options)
            columns = joined_columns(parts, predictions, references) if parts else None
            pred, gold = columns or (from_records(predictions), from_records(references))
            return score_checked(pred, gold, options)


__all__ = ["DynamicnerF1", "CONFIGS", "MATCHING", "Options", "label_paths", "prf"]
