"""The evaluate wrapper: offline loading, input normalisation, batching, errors, the card and its examples."""

from __future__ import annotations

import doctest
import random
import sys
from pathlib import Path

import evaluate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "metric"))

from dynamicner_f1.scorer import score_spans, score_tags  # noqa: E402

SENTENCES = ["Anna lives in New York City .", "Paris is not Texas ."]
GOLD = [
    [{"text": "Anna", "label": "person", "start": 0, "end": 4, "path": ["person"]},
     {"text": "New York City", "label": "city", "start": 14, "end": 27, "path": ["location", "city"]}],
    [{"text": "Paris", "label": "city", "start": 0, "end": 5, "path": ["location", "city"]},
     {"text": "Texas", "label": "state", "start": 13, "end": 18, "path": ["location", "state"]}],
]
PRED = [
    [{"text": "Anna", "label": "person", "start": 0, "end": 4, "score": 0.9},
     {"text": "New York", "label": "city", "start": 14, "end": 22, "score": 0.8}],
    [{"text": "Paris", "label": "person", "start": 0, "end": 5, "score": 0.4},
     {"text": "Texas", "label": "state", "start": -1, "end": -1, "score": 0.7}],
]


@pytest.fixture(scope="session")
def span_metric() -> evaluate.EvaluationModule:
    return evaluate.load(str(ROOT / "metric" / "dynamicner_f1"))


@pytest.fixture(scope="session")
def bio_strict_metric() -> evaluate.EvaluationModule:
    return evaluate.load(str(ROOT / "metric" / "dynamicner_f1"), "bio-strict")


@pytest.fixture(scope="session")
def bio_metric() -> evaluate.EvaluationModule:
    return evaluate.load(str(ROOT / "metric" / "dynamicner_f1"), "bio")


def test_loads_offline_and_passes_extra_keys(span_metric: evaluate.EvaluationModule) -> None:
    options = {"type_lists": [["person", "city"], ["city", "state"]], "languages": ["en", "fr"], "sentences": SENTENCES}
    result = span_metric.compute(predictions=PRED, references=GOLD, matching="partial", **options)
    assert result == score_spans(PRED, GOLD, matching="partial", **options)
    assert all(isinstance(v, float) for v in result.values())
    assert result["precision"] == 0.75 and result["out_of_list"] == 1.0 and result["invalid_offsets"] == 1.0


def test_relative_path_from_repo_root_and_bare_name_from_metric_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert evaluate.load("metric/dynamicner_f1").compute(predictions=GOLD, references=GOLD)["f1"] == 1.0
    monkeypatch.chdir(ROOT / "metric")
    assert evaluate.load("dynamicner_f1").compute(predictions=PRED, references=GOLD)["f1"] == 0.5


def test_add_batch_and_add_equal_one_compute(span_metric: evaluate.EvaluationModule, bio_metric: evaluate.EvaluationModule) -> None:
    options = {"taxonomy": {"city": ["location", "city"], "state": ["location", "state"], "person": ["person"]},
               "bootstrap": 50, "seed": 1, "languages": ["en", "fr"]}
    whole = span_metric.compute(predictions=PRED, references=GOLD, **options)
    span_metric.add_batch(predictions=PRED[:1], references=GOLD[:1])
    span_metric.add(prediction=PRED[1], reference=GOLD[1])
    assert span_metric.compute(**options) == whole
    gold = [["B-PER", "O", "O", "B-LOC", "I-LOC", "I-LOC", "O"], ["B-LOC", "O", "O", "B-LOC", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC", "I-LOC", "O", "O"], ["B-PER", "O", "O", "I-LOC", "O"]]
    whole = bio_metric.compute(predictions=pred, references=gold)
    assert whole == score_tags(pred, gold, rule="lenient")
    for p, g in zip(pred, gold):
        bio_metric.add_batch(predictions=[p], references=[g])
    assert bio_metric.compute() == whole


def test_bio_strict_config_matches_the_strict_rule() -> None:
    metric = evaluate.load(str(ROOT / "metric" / "dynamicner_f1"), "bio-strict")
    gold = [["B-LOC", "I-LOC", "O"]]
    pred = [["I-LOC", "I-LOC", "O"]]
    assert metric.compute(predictions=pred, references=gold)["f1"] == 0.0
    assert score_tags(pred, gold, rule="lenient")["f1"] == 1.0
    with pytest.raises(ValueError, match=r"config_name='iobes' is not one of \['span', 'bio', 'bio-strict'\]"):
        evaluate.load(str(ROOT / "metric" / "dynamicner_f1"), "iobes")


@pytest.mark.parametrize(
    ("pred", "gold", "options", "message"),
    [
        (PRED, GOLD[:1], {}, r"predictions has 2 samples but references has 1"),
        ([[{"text": "Anna", "start": 0, "end": 4}]], GOLD[:1], {}, r"sample 0: predictions\[0\]\[0\] has no 'label' key"),
        ([[{"text": "Anna", "label": None, "start": 0, "end": 4}]], GOLD[:1], {}, r"sample 0: predictions\[0\]\[0\]\['label'\] is None"),
        ([None, []], GOLD, {}, r"sample 0: predictions\[0\] is None"),
        (PRED, GOLD, {"type_lists": [["city"]]}, r"type_lists has 1 entries for 2 samples"),
        (PRED, GOLD, {"matching": "exact"}, r"matching='exact' is not one of"),
        (PRED, GOLD, {"sentences": ["Anna lives in New York City .", "Paris is not Tex"]}, r"sample 1: references\[1\]\[1\]\['end'\] is 18, beyond the sentence length 16"),
        ([[], [{"text": "Paris", "label": "city", "start": 1, "end": 6}]], GOLD, {"sentences": SENTENCES}, r"sample 1: predictions\[1\]\[0\]\['text'\] is 'Paris' but sentences\[1\]\[1:6\]"),
    ],
)
def test_bad_input_is_a_value_error_never_a_key_error(span_metric: evaluate.EvaluationModule, pred: list, gold: list, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        span_metric.compute(predictions=pred, references=gold, **options)
    assert span_metric.compute(predictions=GOLD, references=GOLD)["f1"] == 1.0  # still usable afterwards


def test_errors_in_later_batches_name_the_global_sample_index(span_metric: evaluate.EvaluationModule) -> None:
    span_metric.add_batch(predictions=PRED, references=GOLD)
    with pytest.raises(ValueError, match=r"sample 3: references\[3\]\[0\]\['start'\] is 1.5 \(float\)"):
        span_metric.add_batch(predictions=[[], []], references=[[], [{"text": "x", "label": "y", "start": 1.5, "end": 2}]])
    assert span_metric.compute()["f1"] == 0.5


def test_card_examples_run_and_show_real_outputs() -> None:
    card = (ROOT / "metric" / "dynamicner_f1" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "\n## How to Use" in card and "\n## Limitations and Bias" in card
    import yaml

    front = yaml.safe_load(card.split("---\n", 2)[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py" and "metric" in front["tags"]
    for heading in ("# Metric Card for", "## Metric Description", "### Inputs", "### Output Values", "### Examples", "## Citation"):
        assert heading in card
    parser = doctest.DocTestParser()
    test = parser.get_doctest(card, {}, "README.md", str(ROOT / "metric" / "dynamicner_f1" / "README.md"), 0)
    assert len(test.examples) >= 10
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    old = Path.cwd()
    try:
        import os

        os.chdir(ROOT)
        runner.run(test)
    finally:
        os.chdir(old)
    assert runner.summarize(verbose=False).failed == 0


def test_project_readme_metric_section_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("<!-- BEGIN metric -->") : readme.index("<!-- END metric -->")]
    test = doctest.DocTestParser().get_doctest(section, {}, "README.md#metric", str(ROOT / "README.md"), 0)
    assert len(test.examples) >= 5
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    import os

    old = Path.cwd()
    try:
        os.chdir(ROOT)
        runner.run(test)
    finally:
        os.chdir(old)
    assert runner.summarize(verbose=False).failed == 0


def test_a_rejected_compute_batch_keeps_the_earlier_batches(span_metric: evaluate.EvaluationModule) -> None:
    span_metric.add_batch(predictions=PRED, references=GOLD)
    with pytest.raises(ValueError, match=r"sample 2: predictions\[2\] is None"):
        span_metric.compute(predictions=[None], references=[[]])
    assert span_metric.compute() == score_spans(PRED, GOLD)


def test_add_checks_like_add_batch_and_numbers_samples_globally(span_metric: evaluate.EvaluationModule) -> None:
    span_metric.add_batch(predictions=PRED, references=GOLD)
    span_metric.add(prediction=PRED[0], reference=GOLD[0])  # the pipeline's "score" key is dropped, not a KeyError
    with pytest.raises(ValueError, match=r"sample 3: predictions\[3\]\[0\]\['end'\] is 4.0 \(float\)"):
        span_metric.add(prediction=[{"text": "Anna", "label": "person", "start": 0, "end": 4.0}], reference=[])
    assert span_metric.compute() == score_spans([*PRED, PRED[0]], [*GOLD, GOLD[0]])


def test_an_invalid_option_keeps_the_stored_batches(bio_metric: evaluate.EvaluationModule) -> None:
    gold = [["B-PER", "O"], ["B-LOC", "I-LOC"]]
    pred = [["B-PER", "O"], ["B-LOC", "O"]]
    bio_metric.add_batch(predictions=pred, references=gold)
    with pytest.raises(ValueError, match=r"matching='fuzzy' is not one of"):
        bio_metric.compute(matching="fuzzy")
    with pytest.raises(ValueError, match=r"sentences applies to span records"):
        bio_metric.compute(sentences=["a b", "c d"])
    assert bio_metric.compute() == score_tags(pred, gold)


def test_every_option_is_a_keyword_of_every_public_surface():
    """A new ``Options`` field cannot be forgotten: the public keyword signatures are its fields."""
    import inspect

    from dynamicner_f1.dynamicner_f1 import DynamicnerF1
    from dynamicner_f1.options import Options

    def keywords(fn, *skip):
        params = inspect.signature(fn).parameters.values()
        return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in skip)

    fields = Options.keywords()
    assert fields == ("type_lists", "languages", "taxonomy", "matching", "bootstrap", "seed", "sentences")
    assert keywords(score_spans) == fields
    assert keywords(DynamicnerF1.compute, "predictions", "references") == fields
    assert keywords(score_tags, "rule") == tuple(f for f in fields if f != "sentences")  # tags carry no text
    # the defaults agree too, so omitting a keyword means the same everywhere
    defaults = {f: getattr(Options(), f) for f in fields}
    for fn in (score_spans, score_tags, DynamicnerF1.compute):
        for name, p in inspect.signature(fn).parameters.items():
            if name in defaults:
                assert p.default == defaults[name], (fn.__name__, name)
    # internal functions take the one Options, not the keywords again
    assert list(inspect.signature(DynamicnerF1._compute).parameters) == ["self", "predictions", "references", "options"]


def test_options_check_once_and_parse_the_taxonomy_once():
    from dynamicner_f1.hierarchy import LabelPaths
    from dynamicner_f1.options import Options

    options = Options(taxonomy={"city": ["location", "city"]}, type_lists=[["city"]])
    assert isinstance(options.paths, LabelPaths)
    assert Options(taxonomy=options.paths).paths is options.paths  # an already parsed taxonomy is kept
    assert options.for_samples(1) is options
    with pytest.raises(ValueError, match=r"type_lists has 1 entries for 2 samples"):
        options.for_samples(2)
    with pytest.raises(ValueError, match=r"sample 1: languages\[1\] is 3; expected a language code"):
        Options(languages=["en", 3])
    with pytest.raises(ValueError, match=r"bootstrap=0"):
        Options(bootstrap=0)
    with pytest.raises(Exception):  # frozen
        options.matching = "text"


_BATCH_TAGS = st.sampled_from(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-a-", "I-a-", "B--b", "I--b", "I-x"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gold=st.lists(st.lists(_BATCH_TAGS, max_size=6), min_size=1, max_size=12), data=st.data())
def test_batches_through_evaluate_storage_equal_one_call(
    bio_metric: evaluate.EvaluationModule, bio_strict_metric: evaluate.EvaluationModule, gold: list, data: st.DataObject
) -> None:
    """add_batch in random cuts, then compute(), scores exactly what one compute() call scores,
    whatever tags each batch happens to hold (types with a leading or trailing "-" included)."""
    pred = [list(g) if data.draw(st.booleans()) else data.draw(st.lists(_BATCH_TAGS, min_size=len(g), max_size=len(g)))
            for g in gold]
    cuts = sorted(data.draw(st.sets(st.integers(1, len(gold)), max_size=4)) | {len(gold)})
    for metric in (bio_metric, bio_strict_metric):
        whole = metric.compute(predictions=pred, references=gold)
        lo = 0
        for hi in cuts:
            metric.add_batch(predictions=pred[lo:hi], references=gold[lo:hi])
            lo = hi
        assert metric.compute() == whole


def test_batches_whose_tags_together_need_wide_codes(bio_metric: evaluate.EvaluationModule) -> None:
    """Each batch fits one-byte tag ids, all of them together do not (300 types): still one-call scores."""
    rng = random.Random(5)
    gold = [[rng.choice(["O", f"B-T{k}", f"I-T{k}"]) for k in rng.sample(range(300), 5)] for _ in range(400)]
    pred = [[rng.choice(["O", t]) for t in seq] for seq in gold]
    whole = bio_metric.compute(predictions=pred, references=gold)
    for lo in range(0, len(gold), 40):
        bio_metric.add_batch(predictions=pred[lo : lo + 40], references=gold[lo : lo + 40])
    assert bio_metric.compute() == whole == score_tags(pred, gold, rule="lenient")
