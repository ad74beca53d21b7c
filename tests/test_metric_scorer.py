"""The dynamicner_f1 core scorer: matching modes, options, invariances and bad input."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metric"))

from dynamicner_f1.hierarchy import label_paths  # noqa: E402
from dynamicner_f1.scorer import MATCHING, score_spans  # noqa: E402

SENTENCE = "Anna lives in New York City ."


def span(text: str, label: str, sentence: str = SENTENCE, start: int | None = None) -> dict:
    start = sentence.index(text) if start is None else start
    return {"text": text, "label": label, "start": start, "end": start + len(text)}


GOLD = [span("New York City", "city")]
CASES = {
    "perfect": [span("New York City", "city")],
    "missed": [],
    "wrong label": [span("New York City", "person")],
    "wrong boundary": [span("New York", "city")],
    "shifted boundary": [span("York City .", "city")],
    "spurious": [span("New York City", "city"), span("Anna", "person")],
}
# (tp, fp, fn) of the main scores for each matching mode and case
EXPECTED = {
    "strict": {"perfect": (1, 0, 0), "missed": (0, 0, 1), "wrong label": (0, 1, 1), "wrong boundary": (0, 1, 1),
               "shifted boundary": (0, 1, 1), "spurious": (1, 1, 0)},
    "boundary": {"perfect": (1, 0, 0), "missed": (0, 0, 1), "wrong label": (1, 0, 0), "wrong boundary": (0, 1, 1),
                 "shifted boundary": (0, 1, 1), "spurious": (1, 1, 0)},
    "partial": {"perfect": (1, 0, 0), "missed": (0, 0, 1), "wrong label": (0, 1, 1), "wrong boundary": (1, 0, 0),
                "shifted boundary": (1, 0, 0), "spurious": (1, 1, 0)},
    "text": {"perfect": (1, 0, 0), "missed": (0, 0, 1), "wrong label": (0, 1, 1), "wrong boundary": (0, 1, 1),
             "shifted boundary": (0, 1, 1), "spurious": (1, 1, 0)},
}


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@pytest.mark.parametrize("matching", MATCHING)
@pytest.mark.parametrize("case", list(CASES))
def test_six_standard_cases(matching: str, case: str) -> None:
    result = score_spans([CASES[case]], [GOLD], matching=matching, sentences=[SENTENCE])
    tp, fp, fn = EXPECTED[matching][case]
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx(_prf(tp, fp, fn))
    assert result["num_predictions"] == tp + fp and result["num_references"] == tp + fn
    if case == "wrong label":  # extraction ignores the label in every mode
        assert result["extraction_f1"] == 1.0


def test_modes_differ_where_they_should() -> None:
    pred = [[span("New York", "city"), span("Anna", "city")]]
    gold = [[span("New York City", "city"), span("Anna", "person")]]
    f1 = {m: score_spans(pred, gold, matching=m)["f1"] for m in MATCHING}
    assert f1 == {"strict": 0.0, "text": 0.0, "partial": 0.5, "boundary": 0.5}


@pytest.mark.parametrize("matching", MATCHING)
def test_perfect_is_one_and_empty_predictions_give_zero_recall(matching: str) -> None:
    gold = [
        [span("Anna", "person"), span("New York City", "city")],
        [],
        [{"text": "Lyon", "label": "city", "start": -1, "end": -1}, {"text": "Lyon", "label": "city", "start": -1, "end": -1}],
    ]
    perfect = score_spans(gold, gold, matching=matching, type_lists=[["person", "city"]] * 3)
    assert perfect["precision"] == perfect["recall"] == perfect["f1"] == perfect["macro_f1"] == 1.0
    assert perfect["extraction_f1"] == 1.0 and perfect["out_of_list"] == 0.0
    empty = score_spans([[], [], []], gold, matching=matching)
    assert empty["recall"] == 0.0 and empty["precision"] == 0.0 and empty["f1"] == 0.0
    assert empty["num_references"] > 0 and empty["num_predictions"] == 0.0


def test_unplaced_entities_match_by_text_and_are_counted() -> None:
    gold = [[span("New York City", "city"), span("Anna", "person")]]
    pred = [[{"text": "new york city", "label": "city", "start": -1, "end": -1, "score": 0.4},
             {"text": "Anna", "label": "city", "start": -1, "end": -1}]]
    result = score_spans(pred, gold)
    assert (result["precision"], result["recall"]) == (0.5, 0.5)
    assert result["invalid_offsets"] == 2.0 and result["invalid_offsets_references"] == 0.0


def test_out_of_list_predictions_are_false_positives_never_dropped() -> None:
    gold = [[span("New York City", "city")], [span("Anna", "person")]]
    pred = [[span("New York City", "city"), span("Anna", "banana")], [span("Anna", "human")]]
    result = score_spans(pred, gold, type_lists=[["city", "person"], ["person", "location"]])
    assert result["out_of_list"] == 2.0 and result["out_of_list_rate"] == pytest.approx(2 / 3)
    assert result["num_predictions"] == 3.0 and result["precision"] == pytest.approx(1 / 3)
    assert result["label/banana/precision"] == 0.0 and result["label/human/support"] == 0.0
    assert result["out_of_list_references"] == 0.0


def test_per_label_macro_and_languages() -> None:
    gold = [[span("New York City", "city"), span("Anna", "person")], [span("Anna", "person")]]
    pred = [[span("New York City", "city")], [span("Anna", "city")]]
    result = score_spans(pred, gold, languages=["en", "de"])
    assert result["label/city/precision"] == 0.5 and result["label/city/recall"] == 1.0
    assert result["label/person/recall"] == 0.0 and result["label/person/support"] == 2.0
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)
    assert result["language/en/f1"] == pytest.approx(2 / 3) and result["language/de/f1"] == 0.0


def test_labels_with_slashes_keep_parseable_keys() -> None:
    gold = [[span("Anna", "market/mall")]]
    result = score_spans(gold, gold)
    key = "label/market/mall/f1"
    assert result[key] == 1.0
    label, _, metric = key[len("label/"):].rpartition("/")
    assert (label, metric) == ("market/mall", "f1")


TAXONOMY = {
    "first-level": "location, person, miscellaneous",
    "second-level": {"location": "geo-political entity, address", "miscellaneous": "miscellaneous"},
    "third-level": {"geo-political entity": "city, country", "address": "address, road"},
}


def test_hierarchical_scores_add_ancestors_to_both_sides() -> None:
    gold = [[span("New York City", "city"), span("Anna", "person")]]
    pred = [[span("New York City", "country"), span("Anna", "person")]]
    result = score_spans(pred, gold, taxonomy=TAXONOMY)
    # nodes: gold {loc, loc/gpe, loc/gpe/city, person}, pred {loc, loc/gpe, loc/gpe/country, person}
    assert result["hierarchical_precision"] == result["hierarchical_recall"] == 0.75
    assert (result["level/1/f1"], result["level/2/f1"], result["level/3/f1"]) == (1.0, 1.0, 0.0)
    assert result["f1"] == 0.5 and result["taxonomy_unknown"] == 0.0


def test_hierarchy_resolves_repeated_names_to_the_deepest_node() -> None:
    paths = label_paths(TAXONOMY)
    assert paths.resolve("address") == ("location", "address", "address")
    assert paths.resolve("miscellaneous") == ("miscellaneous", "miscellaneous")
    pred = [[span("Anna", "banana")]]
    result = score_spans(pred, [[span("Anna", "person")]], taxonomy=TAXONOMY)
    assert result["taxonomy_unknown"] == 1.0 and result["hierarchical_precision"] == 0.0


def test_hierarchy_on_the_real_dynamicner_taxonomy(shared_data: Path) -> None:
    tree = json.loads((shared_data / "taxonomy" / "dynamicner.json").read_text(encoding="utf-8"))
    paths = label_paths(tree)
    names = [n.strip() for n in tree["first-level"].split(",")]
    for level in ("second-level", "third-level"):
        names += [n.strip() for group in tree[level].values() for n in group.split(",")]
    assert len(names) == 8 + 31 + 155
    repeated = {n for n in names if names.count(n) > 1}
    assert len(repeated) == 7  # the seven names the data README lists
    assert len(paths.paths) == len(set(names)) and not paths.ambiguous  # the deepest node is always unique here
    assert paths.resolve("miscellaneous") == ("miscellaneous", "miscellaneous", "miscellaneous")
    assert paths.resolve("biological") == ("product", "weapon", "biological")
    assert paths.resolve("city") == ("location", "geo-political entity", "city")
    nested = json.loads((shared_data / "taxonomy" / "dynamicner-nested.json").read_text(encoding="utf-8"))
    assert label_paths(nested).resolve("City") == ("location", "geo-political entity", "city")


def test_ambiguous_names_need_a_path_mapping(shared_data: Path) -> None:
    tree = json.loads((shared_data / "taxonomy" / "fewnerd.json").read_text(encoding="utf-8"))
    gold = [[span("Anna", "actor")], [span("Anna", "other")]]
    with pytest.raises(ValueError, match=r"sample 1: references\[1\]\[0\]\['label'\].*'other'.*several"):
        score_spans([[], []], gold, taxonomy=tree)
    mapping = {"other": ["person", "other"], "actor": ["person", "actor"]}
    assert score_spans(gold, gold, taxonomy=mapping)["hierarchical_f1"] == 1.0


def test_bootstrap_interval_is_seeded_and_brackets_f1() -> None:
    rng = random.Random(3)
    gold = [[span("New York City", "city")] for _ in range(60)]
    pred = [[span("New York City", rng.choice(["city", "person"]))] for _ in range(60)]
    a = score_spans(pred, gold, bootstrap=300, seed=7)
    b = score_spans(pred, gold, bootstrap=300, seed=7)
    c = score_spans(pred, gold, bootstrap=300, seed=8)
    assert (a["f1_ci_low"], a["f1_ci_high"]) == (b["f1_ci_low"], b["f1_ci_high"])
    assert (a["f1_ci_low"], a["f1_ci_high"]) != (c["f1_ci_low"], c["f1_ci_high"])
    assert a["f1_ci_low"] < a["f1"] < a["f1_ci_high"]


# -- the paper's text protocol, flawed and fixed ---------------------------------------------------


def paper_protocol_flawed(pred: dict[str, list[tuple[str, str]]], gold: dict[str, list[tuple[str, str]]]) -> tuple[float, float]:
    """The reference code's protocol, defects included: only keys present in both files are scored,
    and the binarizer is fitted on gold pairs only, so predicted pairs never seen in gold vanish."""
    keys = [k for k in gold if k in pred]
    classes = {(t.lower(), lab.lower()) for k in keys for t, lab in gold[k]}
    tp = fp = fn = 0
    for k in keys:
        g = {(t.lower(), lab.lower()) for t, lab in gold[k]}
        p = {(t.lower(), lab.lower()) for t, lab in pred[k]} & classes
        tp, fp, fn = tp + len(p & g), fp + len(p - g), fn + len(g - p)
    return tp / (tp + fp), tp / (tp + fn)


def paper_protocol_fixed(pred: list[list[tuple[str, str]]], gold: list[list[tuple[str, str]]]) -> tuple[float, float, float]:
    """Micro P/R/F1 over per-sentence sets of lowercased (text, label): every sentence, every pair."""
    tp = n_pred = n_gold = 0
    for p_pairs, g_pairs in zip(pred, gold):
        p = {(t.lower(), lab.lower()) for t, lab in p_pairs}
        g = {(t.lower(), lab.lower()) for t, lab in g_pairs}
        tp, n_pred, n_gold = tp + len(p & g), n_pred + len(p), n_gold + len(g)
    p, r = tp / n_pred, tp / n_gold
    return p, r, 2 * p * r / (p + r)


def _records(pairs: list[tuple[str, str]]) -> list[dict]:
    return [{"text": t, "label": lab, "start": -1, "end": -1} for t, lab in pairs]


def test_text_matching_fixes_both_flaws_of_the_paper_protocol_worked_example() -> None:
    gold = {"s1": [("Paris", "city")], "s2": [("London", "city")]}
    pred = {"s1": [("paris", "city"), ("Anna", "person")]}  # s2 skipped by the system
    assert paper_protocol_flawed(pred, gold) == (1.0, 1.0)
    result = score_spans([_records(pred["s1"]), []], [_records(gold["s1"]), _records(gold["s2"])], matching="text")
    assert (result["precision"], result["recall"]) == (0.5, 0.5)


def test_text_matching_equals_the_fixed_protocol_on_real_data(shared_data: Path) -> None:
    data = json.loads((shared_data / "geic" / "dynamicner-example-en.json").read_text(encoding="utf-8"))
    rng = random.Random(11)
    labels = sorted({c for v in data.values() for c in v["category"]})
    gold, pred = [], []
    for value in data.values():
        pairs = list(zip(value["entity"], value["category"]))
        gold.append(pairs)
        if rng.random() < 0.05:
            pred.append([])  # a sentence the system skipped
            continue
        out = []
        for text, label in pairs:
            roll = rng.random()
            if roll < 0.1:
                continue
            out.append((text.upper() if roll < 0.2 else text, rng.choice(labels) if roll > 0.85 else label))
        if rng.random() < 0.2:
            out.append(("never seen in gold", rng.choice(labels)))
        pred.append(out)
    result = score_spans([_records(p) for p in pred], [_records(g) for g in gold], matching="text")
    p, r, f = paper_protocol_fixed(pred, gold)
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx((p, r, f), abs=1e-12)


# -- invariance --------------------------------------------------------------------------------------

_TEXT = "Ab Cd Ef Gh Ij Kl Mn"
_entity = st.one_of(
    st.tuples(st.integers(0, len(_TEXT) - 1), st.integers(1, 5), st.sampled_from(["a", "b", "c"])).map(
        lambda t: {"text": _TEXT[t[0] : min(len(_TEXT), t[0] + t[1])], "label": t[2], "start": t[0], "end": min(len(_TEXT), t[0] + t[1])}
    ),
    st.tuples(st.sampled_from(["Ab", "ab", "Cd Ef", "zz"]), st.sampled_from(["a", "b"])).map(
        lambda t: {"text": t[0], "label": t[1], "start": -1, "end": -1}
    ),
)
_samples = st.lists(st.tuples(st.lists(_entity, max_size=4), st.lists(_entity, max_size=4)), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(samples=_samples, seed=st.integers(0, 10**6))
def test_invariant_to_order_of_samples_and_entities(samples: list, seed: int) -> None:
    rng = random.Random(seed)
    pred = [p for p, _ in samples]
    gold = [g for _, g in samples]
    langs = [rng.choice(["en", "de"]) for _ in samples]
    types = [rng.sample(["a", "b", "c"], 2) for _ in samples]
    order = list(range(len(samples)))
    rng.shuffle(order)

    def shuffled(rows: list) -> list:
        return [rng.sample(rows[i], len(rows[i])) if isinstance(rows[i], list) else rows[i] for i in order]

    for matching in MATCHING:
        base = score_spans(pred, gold, matching=matching, languages=langs, type_lists=types, taxonomy={"a": ["x", "a"], "b": ["x", "b"]})
        moved = score_spans(
            shuffled(pred), shuffled(gold), matching=matching, languages=[langs[i] for i in order],
            type_lists=[types[i] for i in order], taxonomy={"a": ["x", "a"], "b": ["x", "b"]},
        )
        assert moved == base


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pred", "gold", "options", "message"),
    [
        ([[], []], [[]], {}, r"predictions has 2 samples but references has 1"),
        ([[span("Anna", "person", start=2)]], [[]], {}, r"sample 0: predictions\[0\]\[0\]\['text'\] is 'Anna' but sentences\[0\]"),
        ([[]], [[{"text": "Anna", "label": "x", "start": 40, "end": 44}]], {}, r"sample 0: references\[0\]\[0\]\['end'\] is 44, beyond"),
        ([[]], [[{"text": "Anna", "label": "x", "start": 4, "end": 0}]], {}, r"sample 0: references\[0\]\[0\] has offsets start=4, end=0"),
        ([[]], [[{"text": "Anna", "label": "x", "start": -2, "end": 2}]], {}, r"sample 0: references\[0\]\[0\] has offsets"),
        ([[{"text": "Anna", "label": 7, "start": 0, "end": 4}]], [[]], {}, r"sample 0: predictions\[0\]\[0\]\['label'\] is 7 \(int\)"),
        ([[{"text": None, "label": "x", "start": 0, "end": 4}]], [[]], {}, r"sample 0: predictions\[0\]\[0\]\['text'\] is None"),
        ([None], [[]], {}, r"sample 0: predictions\[0\] is None"),
        ([[None]], [[]], {}, r"sample 0: predictions\[0\]\[0\] is None"),
        ([[{"text": "Anna", "start": 0, "end": 4}]], [[]], {}, r"sample 0: predictions\[0\]\[0\] has no 'label' key"),
        ([[{"text": "Anna", "label": "x", "start": "0", "end": 4}]], [[]], {}, r"predictions\[0\]\[0\]\['start'\] is '0' \(str\)"),
        ([[]], [[]], {"type_lists": [["a"], ["b"]]}, r"type_lists has 2 entries for 1 samples"),
        ([[]], [[]], {"type_lists": [None]}, r"sample 0: type_lists\[0\] is None"),
        ([[]], [[]], {"languages": ["en", "de"]}, r"languages has 2 entries for 1 samples"),
        ([[]], [[]], {"matching": "fuzzy"}, r"matching='fuzzy' is not one of \['strict', 'text', 'partial', 'boundary'\]"),
        ([[]], [[]], {"bootstrap": 0}, r"bootstrap=0"),
        ([[]], [[]], {"taxonomy": ["a"]}, r"taxonomy must be a mapping"),
    ],
)
def test_bad_input_is_a_value_error_naming_sample_and_field(pred: list, gold: list, options: dict, message: str) -> None:
    sentences = [SENTENCE] * len(gold)
    with pytest.raises(ValueError, match=message):
        score_spans(pred, gold, sentences=sentences if "sentences" not in options else options["sentences"], **options)


def test_sentences_must_match_in_length() -> None:
    with pytest.raises(ValueError, match=r"sentences has 2 entries for 1 samples"):
        score_spans([[]], [[]], sentences=[SENTENCE, SENTENCE])


@settings(max_examples=40, deadline=None)
@given(samples=_samples)
def test_packed_numpy_keys_equal_the_tuple_path(samples: list) -> None:
    import dynamicner_f1.counting as counting

    pred = [[e for e in p if e["start"] >= 0] for p, _ in samples]  # placed entities take the packed path
    gold = [[e for e in g if e["start"] >= 0] for _, g in samples]
    packed = {m: score_spans(pred, gold, matching=m, languages=["en"] * len(gold)) for m in ("strict", "boundary")}
    limit = counting._PACK_LIMIT
    counting._PACK_LIMIT = 0
    try:
        plain = {m: score_spans(pred, gold, matching=m, languages=["en"] * len(gold)) for m in ("strict", "boundary")}
    finally:
        counting._PACK_LIMIT = limit
    assert packed == plain
