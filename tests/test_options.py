"""PredictOptions: one statement of the prediction keywords, shared by run, predict, the CLI and --resume."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from cascadener.cli.predict import build_parser_for_tests, run_identity
from cascadener.options import PredictOptions
from cascadener.parsing import ExtractionResult, Mention
from cascadener.pipeline import CascadeNER
from cascadener.training.tiny import TinyModelOptions, create_tiny_model

TEXTS = ["Ada Lovelace met Charles Babbage in London .", "Paris is nice .", "", "Bob sings ."]
TYPES = ["person", "city", "river"]
MENTIONS = [[Mention(0, 12, "Ada Lovelace"), Mention(37, 43, "London")], [Mention(0, 5, "Paris")], [],
            [Mention(0, 3, "Bob")]]


@pytest.fixture(scope="module")
def ner(tmp_path_factory):
    directory = tmp_path_factory.mktemp("options-tiny")
    create_tiny_model([*TEXTS, " ".join(TYPES), "person location city"], directory, vocab_size=400,
                      options=TinyModelOptions(hidden_size=32, intermediate_size=64, seed=5))
    return CascadeNER.from_pretrained(str(directory), device="cpu")


@pytest.fixture()
def fixed_stage1(ner, monkeypatch):
    """Stage 1 answers MENTIONS (a random model finds none), so stage 2 has work."""
    def extract(texts, **_):
        by_text = dict(zip(TEXTS, MENTIONS))
        return [ExtractionResult(sentence=t, mentions=list(by_text[t])) for t in texts], 0

    monkeypatch.setattr(ner, "extract", extract)
    return ner


def _keyword_defaults(method) -> dict:
    parameters = inspect.signature(method).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}


@pytest.mark.parametrize("method", [CascadeNER.run, CascadeNER.predict])
def test_run_and_predict_keywords_are_the_option_fields(method):
    keywords = _keyword_defaults(method)
    for option in dataclasses.fields(PredictOptions):
        assert option.name in keywords, f"{method.__name__} lacks the keyword {option.name}"
        assert keywords[option.name] == getattr(PredictOptions(), option.name), option.name
    extra = set(keywords) - {f.name for f in dataclasses.fields(PredictOptions)}
    assert extra <= {"options", "progress", "cascade", "languages"}


def test_every_option_is_a_predict_flag_and_reaches_the_options():
    parser = build_parser_for_tests()
    flags = {action.dest for action in parser._actions}
    for option in dataclasses.fields(PredictOptions):
        assert option.name in flags, f"cascadener predict has no flag for {option.name}"
    args = parser.parse_args(["--jsonl", "x", "--extractor", "m", "-o", "o", "--batch-size", "3", "--seed", "7",
                              "--classification", "constrained", "--off-list", "closest", "--template", "short",
                              "--self-consistency", "2", "--temperature", "0.5", "--max-new-tokens", "9",
                              "--threshold", "0.25"])
    options = PredictOptions.from_namespace(args)
    assert options == PredictOptions(batch_size=3, seed=7, classification="constrained", off_list="closest",
                                     template="short", self_consistency=2, temperature=0.5, max_new_tokens=9,
                                     threshold=0.25)


# one other value of every flag that can change a prediction
CHANGES = {"--extractor": "m2", "--classifier": "c", "--type-lists": "cascade", "--classification": "constrained",
           "--off-list": "closest", "--template": "short", "--self-consistency": "2", "--temperature": "0.5",
           "--seed": "4", "--max-new-tokens": "9", "--threshold": "0.5"}


def _identity(*extra: str) -> dict:
    args = build_parser_for_tests().parse_args(["--jsonl", "x", "--extractor", "m", "-o", "o", *extra])
    return run_identity(args, PredictOptions.from_namespace(args))


@pytest.mark.parametrize("flag", sorted(CHANGES))
def test_resume_sees_a_change_of_every_option_that_can_change_a_prediction(flag):
    changed = _identity(flag, CHANGES[flag])
    differ = {key for key in changed if changed[key] != _identity()[key]}
    assert differ == {flag.lstrip("-").replace("-", "_")}


def test_resume_ignores_the_batch_size_and_compares_a_new_field():
    assert _identity("--batch-size", "3") == _identity()  # batching never changes a prediction (test_pipeline)
    # what is compared: the flags above, the taxonomy (by its file, below) and the method (one is
    # registered: test_methods.py resumes with another); nothing else
    assert set(_identity()) == {flag.lstrip("-").replace("-", "_") for flag in CHANGES} | {"taxonomy", "method"}
    # a field added to the options is compared by --resume without being listed anywhere else
    extended = dataclasses.make_dataclass("Extended", [("top_k", int, dataclasses.field(default=5))],
                                          bases=(PredictOptions,), frozen=True)
    assert extended(top_k=6).identity() != extended().identity()


def test_identity_names_a_taxonomy_by_its_file(tmp_path):
    from dynamicner_data.taxonomy import Taxonomy

    path = tmp_path / "toy.json"
    path.write_text('{"dataset": "toy", "first-level": "person, place"}', encoding="utf-8")
    assert PredictOptions(taxonomy=Taxonomy.from_file(path)).identity()["taxonomy"] == str(path)


@pytest.mark.parametrize("changes, message", [
    ({"classification": "vote"}, "unknown classification mode"),
    ({"off_list": "vote"}, "unknown off-list fallback"),
    ({"template": "marked2"}, "unknown stage-2 template"),
    ({"self_consistency": 0}, "self_consistency must be >= 1"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"max_new_tokens": 0}, "max_new_tokens must be >= 1"),
    ({"threshold": 1.2}, r"threshold must be a probability in \[0, 1\]"),
    ({"threshold": -0.1}, r"threshold must be a probability in \[0, 1\]"),
])
def test_bad_options_are_refused_when_built(changes, message):
    with pytest.raises(ValueError, match=message):
        PredictOptions(**changes)


@pytest.mark.slow
def test_options_object_equals_keywords_and_excludes_them(fixed_stage1):
    lists = [TYPES] * len(TEXTS)
    options = PredictOptions(classification="constrained", batch_size=2)
    assert (fixed_stage1.predict(TEXTS, lists, options=options)
            == fixed_stage1.predict(TEXTS, lists, classification="constrained", batch_size=2))
    with pytest.raises(ValueError, match="either as options= or as keywords"):
        fixed_stage1.predict(TEXTS, lists, options=options, seed=3)
    with pytest.raises(TypeError, match="PredictOptions"):
        fixed_stage1.run(TEXTS, lists, options={"seed": 3})


@pytest.mark.slow
def test_run_with_cascade_gives_both_readings_of_one_stage1(fixed_stage1):
    lists = [TYPES, None, TYPES, TYPES]
    options = PredictOptions(classification="constrained", batch_size=2)
    both = fixed_stage1.run(TEXTS, lists, options=options, cascade=True)
    listed = fixed_stage1.run(TEXTS, lists, options=options)
    cascaded = fixed_stage1.run(TEXTS, None, options=options)
    assert [p.entities for p in both.predictions] == [p.entities for p in listed.predictions]
    for prediction, reference in zip(both.predictions, cascaded.predictions):
        # same labels and spans; scores equal up to float noise of other batch neighbours
        assert ([{k: v for k, v in e.items() if k not in ("levels", "score")} for e in prediction.cascade_entities]
                == [{k: v for k, v in e.items() if k != "score"} for e in reference.entities])
        assert [e["score"] for e in prediction.cascade_entities] == pytest.approx([e["score"] for e in reference.entities])
        for entity, levels in zip(prediction.cascade_entities, prediction.cascade):
            assert entity["levels"] == [result.label for result in levels] and entity["label"] == levels[-1].label
    # the text without a list is cascaded once: its entities are its cascade
    assert both.predictions[1].cascade_entities[0]["levels"][-1] == both.predictions[1].entities[0]["label"]
    # counts: one stage 1, stage-2 questions of both readings
    listed_questions = sum(len(m) for m, lst in zip(MENTIONS, lists) if lst is not None)
    assert both.stats.mentions == listed.stats.mentions == 4
    assert both.stats.classifications == listed_questions + cascaded.stats.classifications
    assert listed.predictions[0].cascade is None and listed.predictions[0].cascade_entities is None
