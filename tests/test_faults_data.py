"""Fault injection on the data side and the metric (issue 10): each test is named after its item.

Corrupt and replaced ``.7z`` archives, half-written exports, stale caches after a source edit, the
bring-your-own-corpus path of the docs in a fresh ``HF_HOME``, user errors that must print
``<command>: error: ...`` without a traceback, metric inputs, taxonomy name cycles, ambiguous
``data_dir`` layouts. Subprocesses run offline with a temporary ``HF_HOME`` each.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ item 19: metric


def test_item19_span_dicts_in_bio_config_name_sample_and_field():
    import evaluate

    from dynamicner_f1.scorer import score_tags

    spans = [[{"text": "Paris", "label": "city", "start": 0, "end": 5}]]
    with pytest.raises(ValueError, match=r"sample 0: references\[0\]\[0\] is \{.*'span' config"):
        score_tags([["B-city"]], spans)
    with pytest.raises(ValueError, match=r"sample 0: predictions\[0\]\[0\] is \{"):
        score_tags(spans, [["B-city"]])
    metric = evaluate.load(str(ROOT / "metric" / "dynamicner_f1"), "bio")
    with pytest.raises(ValueError, match=r"sample 0: references\[0\]\[0\]"):
        metric.compute(predictions=spans, references=spans)


def test_item19_numpy_integer_offsets_are_accepted_bool_is_not():
    import evaluate

    from dynamicner_f1.scorer import score_spans

    plain = [[{"text": "Paris", "label": "city", "start": 7, "end": 12}], []]
    for kind in (np.int64, np.int32, np.uint16):
        numpy_offsets = [[{"text": "Paris", "label": "city", "start": kind(7), "end": kind(12)}], []]
        assert score_spans(numpy_offsets, plain)["f1"] == 1.0
        assert score_spans(plain, numpy_offsets, sentences=["I live Paris", ""])["f1"] == 1.0
    metric = evaluate.load(str(ROOT / "metric" / "dynamicner_f1"))
    numpy_offsets = [[{"text": "Paris", "label": "city", "start": np.int64(7), "end": np.int64(12), "score": 0.5}], []]
    assert metric.compute(predictions=numpy_offsets, references=plain)["f1"] == 1.0
    for bad in (True, np.float64(7.0), 7.0):
        with pytest.raises(ValueError, match=r"sample 0: predictions\[0\]\[0\]\['start'\] is .*expected an int"):
            score_spans([[{"text": "Paris", "label": "city", "start": bad, "end": 12}], []], plain)


@pytest.mark.slow
def test_item19_more_than_55000_labels_score_like_seqeval():
    from seqeval.metrics import f1_score

    from dynamicner_f1.scorer import score_tags

    n = 56_000  # type codes would reach the surrogates U+D800.. at 55,040 types
    gold = [[f"B-T{k}", f"I-T{k}", "O"] for k in range(n)]
    pred = [[f"B-T{k}", f"I-T{k}", "O"] if k % 3 else [f"B-T{k + 1}", "O", "O"] for k in range(n)]
    expected = f1_score(gold, pred)
    for matching in ("strict", "partial"):
        result = score_tags(pred, gold, matching=matching)
        assert result["f1"] == pytest.approx(expected, abs=1e-12)
    result = score_tags(pred, gold)
    # T55999 is found in its own sentence and also predicted in sentence 55998: p 1/2, r 1/1
    assert result[f"label/T{n - 1}/f1"] == pytest.approx(2 / 3)
    assert result[f"label/T{n - 2}/f1"] == 0.0 and result["label/T2/f1"] == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_item19_bio_strict_strips_dashes_like_seqeval(seed):
    import random

    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from dynamicner_f1.scorer import score_tags

    rng = random.Random(seed)
    tags = ["O", "B-X", "I-X", "B-X-", "I-X-", "B--X", "I--X", "B--", "I--", "B-_", "I-_", "B-Y", "I-Y"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(0, 12))] for _ in range(300)]
    pred = [[rng.choice(tags) if rng.random() < 0.4 else t for t in seq] for seq in gold]
    expected = f1_score(gold, pred, mode="strict", scheme=IOB2)
    assert score_tags(pred, gold, rule="strict")["f1"] == pytest.approx(expected, abs=1e-12)
    assert score_tags(pred, gold, rule="strict", matching="partial", bootstrap=5)["precision"] >= 0.0
    # the default (lenient) mode keeps the dashes, as seqeval's default mode does
    assert score_tags(pred, gold)["f1"] == pytest.approx(f1_score(gold, pred), abs=1e-12)
    # one chunk B-X I-X- : type X under strict, two chunks under lenient
    assert score_tags([["B-X", "I-X-"]], [["B-X", "I-X"]], rule="strict")["f1"] == 1.0
