"""Methods: the registry, and the seam ``cascadener predict`` talks through.

A small method registered for one test (it marks every capitalised word with the first type of
its list, asking no model) runs through ``cascadener predict`` unchanged: the command builds it
from the backend's settings, calls ``run`` per chunk, writes its entities, and records and
compares its name for ``--resume``.
"""

from __future__ import annotations

import json
import re
from types import MappingProxyType

import pytest

from cascadener import methods
from cascadener.backends import EndpointOptions
from cascadener.backends.base import Classification
from cascadener.methods import DEFAULT_METHOD, METHODS, Method, method_class
from cascadener.options import PredictOptions
from cascadener.parsing import ExtractionResult, Mention
from cascadener.pipeline import CascadeNER, Prediction, PredictionRun, PredictStats, entity_record


def test_registry_holds_the_three_methods_of_the_comparison():
    from cascadener.methods import GptNer, GptNerOptions, PromptNer, PromptNerOptions

    assert tuple(METHODS) == ("cascadener", "gpt-ner", "promptner") and DEFAULT_METHOD == "cascadener"
    assert method_class("cascadener") is CascadeNER and CascadeNER.options_type is PredictOptions
    assert method_class("gpt-ner") is GptNer and GptNer.options_type is GptNerOptions
    assert method_class("promptner") is PromptNer and PromptNer.options_type is PromptNerOptions
    with pytest.raises(ValueError, match="unknown method 'gptner'; allowed: cascadener, gpt-ner, promptner"):
        method_class("gptner")
    with pytest.raises(TypeError):
        METHODS["other"] = CascadeNER  # type: ignore[index]


def test_every_registered_method_is_a_method():
    for cls in METHODS.values():
        assert isinstance(cls.from_endpoint(EndpointOptions("http://127.0.0.1:9/v1"), "m"), Method), cls.name


def test_cascadener_is_a_method():
    ner = CascadeNER.from_endpoint(EndpointOptions("http://127.0.0.1:9/v1"), "m")
    assert isinstance(ner, Method)
    assert CascadeNER.applied_policy(PredictOptions(classification="constrained"),
                                     classifier=ner.classifier_backend.capabilities)["setting"] == "fine-tuned"
    assert CascadeNER.prompt_hash(PredictOptions(template="short")) != CascadeNER.prompt_hash(PredictOptions())
    capable = ner.extractor_backend.capabilities
    CascadeNER.check_capabilities(PredictOptions(classification="constrained"), extractor=capable, classifier=capable)


class Capitals:
    """Every capitalised word is an entity of the first type of its text's list (no model asked)."""

    name = "capitals"
    description = "capitalised words, typed by the first type of the list"
    options_type = PredictOptions
    reads_taxonomy = True  # a text without a list gets "entity"
    uses_demonstrations = False
    single_model = False

    def __init__(self, extractor, classifier) -> None:
        self.extractor_backend = extractor
        self.classifier_backend = classifier or extractor

    @classmethod
    def from_backends(cls, extractor, classifier=None):
        return cls(extractor, classifier)

    @classmethod
    def from_settings(cls, settings):
        return cls.from_backends(*settings.build())

    @classmethod
    def check_capabilities(cls, options, *, extractor, classifier):
        if options.classification == "constrained":
            raise ValueError("capitals never constrains")

    def check(self, options):
        """Nothing to prepare: no model is asked."""
        return self.applied_policy(options, classifier=self.classifier_backend.capabilities)

    @classmethod
    def applied_policy(cls, options, *, classifier):
        return {"method": cls.name}

    @classmethod
    def prompt_hash(cls, options):
        return "no-prompts"

    def run(self, texts, type_lists=None, *, options=None, languages=None, cascade=False, progress=False):
        predictions = []
        for text, types in zip(texts, type_lists or [None] * len(texts)):
            mentions = [Mention(m.start(), m.end(), m.group()) for m in re.finditer(r"\b[A-Z]\w*", text)]
            label = (types or ["entity"])[0]
            levels = [[Classification(label, 0, None, label, "only-option")] for _ in mentions]
            predictions.append(Prediction(text=text, extraction=ExtractionResult(text, mentions),
                                          classifications=levels,
                                          entities=[entity_record(m, lv) for m, lv in zip(mentions, levels)]))
        return PredictionRun(predictions=predictions, stats=PredictStats(sentences=len(texts)))

    def describe(self):
        return {"extractor": self.extractor_backend.describe()}


@pytest.fixture
def capitals(monkeypatch):
    monkeypatch.setattr(methods, "METHODS", MappingProxyType({**METHODS, Capitals.name: Capitals}))
    assert isinstance(Capitals(None, None), Method)


def test_predict_runs_any_registered_method(capitals, tmp_path, capsys):
    from cascadener.cli import main

    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "a", "text": "Ada met Bob in Graz .", "type_list": ["person", "city"]}\n'
                      '{"id": "b", "text": "nothing here", "type_list": ["city"]}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    served = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]  # asked nothing
    command = ["predict", "--jsonl", str(inputs), "-o", str(output), "--no-progress", *served]
    assert main([*command, "--method", "capitals"]) == 0
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [[(e["text"], e["label"], e["start"], e["end"]) for e in line["entities"]] for line in lines] == [
        [("Ada", "person", 0, 3), ("Bob", "person", 8, 11), ("Graz", "person", 15, 19)], []]
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text(encoding="utf-8"))
    assert meta["options"]["method"] == "capitals" and meta["options"]["prompt_hash"] == "no-prompts"
    assert meta["applied"] == {"method": "capitals"}
    assert meta["stats"]["sentences"] == 2 and meta["complete"]
    capsys.readouterr()
    assert main([*command, "--method", "cascadener", "--resume"]) == 2
    assert "--method was 'capitals', now 'cascadener'" in capsys.readouterr().err
    # what the method cannot do is refused before anything is written
    refused = tmp_path / "refused.jsonl"
    assert main(["predict", "--jsonl", str(inputs), "-o", str(refused), "--method", "capitals",
                 "--classification", "constrained", *served]) == 2
    assert "capitals never constrains" in capsys.readouterr().err and not refused.exists()


def test_run_offers_the_registered_methods(capitals):
    from cascadener.cli import build_parser

    args = build_parser().parse_args(["run", "--method", "capitals"])
    assert args.method == "capitals"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--method", "gptner"])
