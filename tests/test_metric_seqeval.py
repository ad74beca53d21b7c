"""BIO mode equals seqeval (default mode and strict IOB2) on real CoNLL-2003 tags and random sequences."""

from __future__ import annotations

import json
import random
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, Entities

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metric"))

from dynamicner_f1.bio import decode_tags  # noqa: E402
from dynamicner_f1.scorer import score_tags  # noqa: E402


def iob2_from_geic(path: Path) -> list[list[str]]:
    """Whitespace tokens, each entity tagged at its first free whole-token occurrence."""
    data = json.loads(path.read_text(encoding="utf-8"))
    sequences = []
    for value in data.values():
        tokens = value["sentence"].split()
        tags = ["O"] * len(tokens)
        for text, label in zip(value["entity"], value["category"]):
            words = text.split()
            for s in range(len(tokens) - len(words) + 1):
                if tokens[s : s + len(words)] == words and all(t == "O" for t in tags[s : s + len(words)]):
                    tags[s : s + len(words)] = ["B-" + label] + ["I-" + label] * (len(words) - 1)
                    break
        sequences.append(tags)
    return sequences


def perturb(sequences: list[list[str]], seed: int) -> list[list[str]]:
    """Relabel, break (B- -> I-), shorten and invent chunks, seeded."""
    rng = random.Random(seed)
    types = sorted({t[2:] for seq in sequences for t in seq if t != "O"})
    out = []
    for seq in sequences:
        seq = list(seq)
        for i, tag in enumerate(seq):
            roll = rng.random()
            if tag.startswith("B-") and roll < 0.15:
                new = rng.choice(types)
                j = i + 1
                seq[i] = "B-" + new
                while j < len(seq) and seq[j].startswith("I-"):
                    seq[j] = "I-" + new
                    j += 1
            elif tag.startswith("B-") and roll < 0.2:
                seq[i] = "I-" + tag[2:]  # IOB1-style start: lenient keeps it, strict IOB2 drops it
            elif tag.startswith("I-") and roll < 0.1:
                seq[i] = "O"
            elif tag == "O" and roll < 0.02:
                seq[i] = rng.choice(["B-", "I-"]) + rng.choice(types)
        out.append(seq)
    return out


@pytest.fixture(scope="session")
def conll_tags(shared_data: Path) -> tuple[list[list[str]], list[list[str]]]:
    gold = iob2_from_geic(shared_data / "geic" / "conll2003-test.json")
    return gold, perturb(gold, seed=5)


def seqeval_scores(gold: list[list[str]], pred: list[list[str]], strict: bool) -> dict:
    options = {"mode": "strict", "scheme": IOB2} if strict else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(gold, pred, output_dict=True, zero_division=0, **options)
        return {
            "precision": precision_score(gold, pred, zero_division=0, **options),
            "recall": recall_score(gold, pred, zero_division=0, **options),
            "f1": f1_score(gold, pred, zero_division=0, **options),
            "macro_f1": report["macro avg"]["f1-score"] if "macro avg" in report else 0.0,
            "labels": {k: v for k, v in report.items() if not k.endswith(" avg")},
        }


def assert_equal_to_seqeval(ours: dict, ref: dict) -> None:
    for key in ("precision", "recall", "f1"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
    for label, row in ref["labels"].items():
        assert ours[f"label/{label}/precision"] == pytest.approx(row["precision"], abs=1e-12)
        assert ours[f"label/{label}/recall"] == pytest.approx(row["recall"], abs=1e-12)
        assert ours[f"label/{label}/f1"] == pytest.approx(row["f1-score"], abs=1e-12)
        assert ours[f"label/{label}/support"] == row["support"]
    ours_labels = {k[len("label/") :].rpartition("/")[0] for k in ours if k.startswith("label/")}
    assert ours_labels == set(ref["labels"])  # every label seen on either side
    if ref["labels"]:  # seqeval's macro average is nan without labels; ours is 0.0
        assert ours["macro_f1"] == pytest.approx(ref["macro_f1"], abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(("rule", "strict"), [("lenient", False), ("strict", True)])
def test_bio_equals_seqeval_on_real_conll(conll_tags: tuple, rule: str, strict: bool) -> None:
    gold, pred = conll_tags
    assert len(gold) == 3683 and sum(t != "O" for seq in gold for t in seq) > 5000
    ours = score_tags(pred, gold, rule=rule)
    ref = seqeval_scores(gold, pred, strict)
    assert 0.5 < ours["f1"] < 0.95  # a real, imperfect comparison
    assert_equal_to_seqeval(ours, ref)
    # the per-sample path (taken with languages) agrees with the fast path
    slow = score_tags(pred, gold, rule=rule, languages=["en"] * len(gold))
    assert {k: v for k, v in slow.items() if not k.startswith("language/")} == ours
    assert slow["language/en/f1"] == ours["f1"]


def test_default_and_strict_differ_on_iob1_style_starts(conll_tags: tuple) -> None:
    gold, pred = conll_tags
    assert score_tags(pred, gold, rule="lenient")["num_predictions"] > score_tags(pred, gold, rule="strict")["num_predictions"]


_TAGS = st.sampled_from(["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-geo-political entity", "I-geo-political entity"])
# types that seqeval's two modes name differently: strict strips "-" from both ends ("B--" is type "_")
_DASHED = st.sampled_from(["O", "O", "B-X", "I-X", "B-X-", "I-X-", "B--X", "I--X", "B--", "I--", "I-_", "B-Y", "I-Y"])


def seqeval_chunks(sequences: list[list[str]], strict: bool) -> list[list[tuple[int, int, str]]]:
    """seqeval's own chunks per sentence as (start, end exclusive, type)."""
    if strict:
        entities = Entities(sequences, IOB2, suffix=False).entities
        return [[(e.start, e.end, e.tag) for e in sentence] for sentence in entities]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [[(start, end + 1, label) for label, start, end in get_entities(list(seq))] for seq in sequences]


@settings(max_examples=200, deadline=None)
@given(sequences=st.lists(st.lists(st.one_of(_TAGS, _DASHED), max_size=10), min_size=1, max_size=6))
def test_decoded_chunks_equal_seqeval_chunks(sequences: list[list[str]]) -> None:
    """Chunk by chunk (offsets and types, not only the scores), both rules, dashed types included."""
    for rule, strict in (("lenient", False), ("strict", True)):
        assert decode_tags(sequences, rule=rule).per_sample() == seqeval_chunks(sequences, strict)


def test_decoded_chunks_equal_seqeval_chunks_with_many_types() -> None:
    rng = random.Random(7)
    tags = ["O"] + [f"{p}-T{k}" for k in range(400) for p in "BI"]
    sequences = [[rng.choice(tags) if rng.random() < 0.6 else "I-T1" for _ in range(rng.randrange(12))] for _ in range(300)]
    for rule, strict in (("lenient", False), ("strict", True)):
        assert decode_tags(sequences, rule=rule).per_sample() == seqeval_chunks(sequences, strict)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(gold=st.lists(st.lists(st.one_of(_TAGS, _DASHED), max_size=8), min_size=1, max_size=8), data=st.data())
def test_bio_equals_seqeval_on_random_sequences(gold: list[list[str]], data: st.DataObject) -> None:
    pred = [data.draw(st.lists(st.one_of(_TAGS, _DASHED), min_size=len(seq), max_size=len(seq))) for seq in gold]
    if data.draw(st.booleans()):  # identical sentences take the shortcut of the fast path
        pred = [list(g) if data.draw(st.booleans()) else p for g, p in zip(gold, pred)]
    for rule, strict in (("lenient", False), ("strict", True)):
        ours = score_tags(pred, gold, rule=rule)
        assert_equal_to_seqeval(ours, seqeval_scores(gold, pred, strict))
        slow = score_tags(pred, gold, rule=rule, matching="strict", languages=["xx"] * len(gold))
        assert {k: v for k, v in slow.items() if not k.startswith("language/")} == ours


def test_bio_matching_modes_on_tokens() -> None:
    gold = [["B-LOC", "I-LOC", "I-LOC", "O"]]
    pred = [["O", "B-LOC", "I-LOC", "I-LOC"]]
    assert score_tags(pred, gold)["f1"] == 0.0
    assert score_tags(pred, gold, matching="partial")["f1"] == 1.0
    assert score_tags([["B-PER", "I-PER", "I-PER", "O"]], gold, matching="boundary")["f1"] == 1.0
    with pytest.raises(ValueError, match="matching='text' needs span records"):
        score_tags(pred, gold, matching="text")
    typed = score_tags([["B-PER", "O", "B-LOC", "O"]], gold, type_lists=[["LOC"]], taxonomy={"LOC": ["LOC"], "PER": ["PER"]})
    assert typed["out_of_list"] == 1.0 and typed["num_predictions"] == 2.0 and typed["hierarchical_precision"] == 0.0


@pytest.mark.parametrize(
    ("pred", "gold", "message"),
    [
        ([["O"]], [["O"], ["O"]], r"predictions has 1 samples but references has 2"),
        ([["O", "O"]], [["O"]], r"sample 0: predictions\[0\] has 2 tags but references\[0\] has 1"),
        ([["O"], ["E-PER"]], [["O"], ["O"]], r"sample 1: predictions\[1\]\[0\] is 'E-PER'"),
        ([["O"], [None]], [["O"], ["O"]], r"sample 1: predictions\[1\]\[0\] is None"),
        ([["O"], "B-PER"], [["O"], ["O"]], r"sample 1: predictions\[1\] is 'B-PER'"),
        ([["O"], ["O"]], [["O"], ["B-"]], r"sample 1: references\[1\]\[0\] is 'B-'"),
    ],
)
def test_bad_tags_are_value_errors_naming_sample_and_field(pred: list, gold: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        score_tags(pred, gold)


def test_many_types_use_wide_codes_and_still_equal_seqeval() -> None:
    rng = random.Random(2)
    types = [f"T{k}" for k in range(300)]  # beyond the one-byte codes
    gold = [[rng.choice(["O", "B-" + t, "I-" + t]) for t in rng.sample(types, 6)] for _ in range(200)]
    pred = perturb(gold, seed=3)
    for rule, strict in (("lenient", False), ("strict", True)):
        assert_equal_to_seqeval(score_tags(pred, gold, rule=rule), seqeval_scores(gold, pred, strict))
