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
from .spans import check_samples, declared_records

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

    # Beyond _info and _compute, add_batch (with add) and compute are overridden, each for a
    # stated reason; all the storage (feature encoding, the Arrow cache file, reading it back,
    # distributed runs) is evaluate's.
    # - add_batch checks a batch before evaluate stores it: evaluate's own would raise a bare KeyError
    #   on a record's extra key (the pipeline's "score", the dataset's "path") and truncate a float
    #   offset silently (1.5 -> 1). Errors name the global sample index; evaluate gets exactly the
    #   declared keys. add is a batch of one.
    # - compute checks the options before evaluate's compute takes the stored batches (an invalid
    #   option would otherwise lose them), and pauses the collector (no_gc) through evaluate's read-back
    #   and scoring: the read-back allocates millions of containers and no cycles, and full
    #   collections walking them dominated compute. bench_metric, add_batch per 1000 samples then
    #   compute(), CPU time against a no-op metric: 1.05x (bio) and 1.12x (span) with the pause,
    #   1.22x and 1.39x without it (docs/performance.md).

    _n_added = 0  # samples stored since the last compute: the global index of the next batch's first

    def add_batch(self, *, predictions: Sequence | None = None, references: Sequence | None = None) -> None:
        """Check a batch, then store it (extra record keys are dropped, not passed to evaluate)."""
        first = self._n_added
        for name, value in (("predictions", predictions), ("references", references)):
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{name} must be a list with one entry per sample, got {type(value).__name__}")
        if len(predictions) != len(references):
            raise ValueError(
                f"predictions has {len(predictions)} samples but references has {len(references)} "
                f"(samples from index {first}); pass an empty list for a sample without entities"
            )
        with no_gc():
            if _config(self.config_name) == "span":
                pred = check_samples(predictions, field="predictions", first_index=first)
                gold = check_samples(references, field="references", first_index=first)
                predictions, references = declared_records(predictions, pred), declared_records(references, gold)
            else:
                encode_pair(predictions, references, first_index=first)
            super().add_batch(predictions=predictions, references=references)
        self._n_added = first + len(references)

    def add(self, *, prediction: object = None, reference: object = None) -> None:
        """Check one sample, then store it (a batch of one)."""
        self.add_batch(predictions=[prediction], references=[reference])

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
        evaluate takes the stored batches) and that ``Options`` is what ``_compute`` receives.
        """
        options = Options(type_lists=type_lists, languages=languages, taxonomy=taxonomy, matching=matching,
                          bootstrap=bootstrap, seed=seed, sentences=sentences)
        if sentences is not None and _config(self.config_name) != "span":
            raise ValueError(f"sentences applies to span records; config {self.config_name!r} scores tags")
        with no_gc():
            result = super().compute(predictions=predictions, references=references, options=options)
        self._n_added = 0  # every process (only the first runs _compute)
        return result

    def _compute(self, predictions: Sequence, references: Sequence, options: Options) -> dict[str, float]:
        """Score everything stored, as evaluate reads it back (in order, so indices are global)."""
        self._n_added = 0  # evaluate has taken the stored batches, whether or not scoring succeeds
        options.for_samples(len(references))
        config = _config(self.config_name)
        with no_gc():
            if config != "span":
                return score_encoded(encode_pair(predictions, references), options, rule=_RULES[config])
            pred = check_samples(predictions, field="predictions", sentences=options.sentences)
            gold = check_samples(references, field="references", sentences=options.sentences)
            return score_checked(pred, gold, options)


__all__ = ["DynamicnerF1", "CONFIGS", "MATCHING", "Options", "label_paths", "prf"]
