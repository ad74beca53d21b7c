"""The Inspect task's scores without Inspect: per-sample counts summed equal ``dynamicner_f1``'s
corpus scores under every matching mode, and the method options the Inspect backend can run."""

from __future__ import annotations

import random

import pytest

from cascadener.integrations.inspect_backend import InspectBackend, TaskOptionError, method_options
from cascadener.integrations.inspect_scoring import SpanCounts, micro_scores, sample_counts
from cascadener.publishing.results import percent


def _predictions(rows: list[dict], seed: int) -> list[list[dict]]:
    """Gold entities perturbed per sample: kept, relabelled, shifted by a character, duplicated or
    dropped, plus an invented span over the sentence's first characters."""
    rng = random.Random(seed)
    labels = sorted({e["label"] for row in rows for e in row["entities"]})
    out = []
    for row in rows:
        text, predicted = row["text"], []
        for entity in row["entities"]:
            kind = rng.choice(["keep", "label", "shift", "twice", "drop"])
            record = {key: entity[key] for key in ("text", "label", "start", "end")}
            if kind == "label":
                record["label"] = rng.choice(labels)
            elif kind == "shift" and record["end"] < len(text):
                record["end"] += 1
                record["text"] = text[record["start"]:record["end"]]
            if kind != "drop":
                predicted.append(record)
            if kind == "twice":
                predicted.append(dict(record))
        if rng.random() < 0.4:
            predicted.append({"text": text[:3], "label": rng.choice(labels), "start": 0, "end": 3})
        out.append(predicted)
    return out


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    from dynamicner_data.builder import prepare

    return [dict(row) for row in prepare("all").as_dataset(split="test")]


@pytest.mark.parametrize("matching", ["strict", "boundary", "partial", "text"])
def test_per_sample_counts_sum_to_the_scorers_corpus_scores(rows, matching):
    """Summed over the 64 sentences of the embedded test split, the counts give the scorer's own
    micro precision, recall and F1 and its prediction and reference counts, for every matching mode."""
    from dynamicner_f1.scorer import score_spans

    gold = [[{key: e[key] for key in ("text", "label", "start", "end")} for e in row["entities"]] for row in rows]
    for seed in range(3):
        predicted = _predictions(rows, seed)
        counts = [sample_counts(p, g, text=row["text"], matching=matching) for p, g, row in zip(predicted, gold, rows)]
        corpus = score_spans(predicted, gold, matching=matching, sentences=[row["text"] for row in rows])
        scores = micro_scores(counts)
        assert (scores["f1"], scores["precision"], scores["recall"]) == tuple(
            percent(corpus[key]) for key in ("f1", "precision", "recall"))
        assert scores["true_positives"] + scores["false_positives"] == corpus["num_predictions"]
        assert scores["true_positives"] + scores["false_negatives"] == corpus["num_references"]
        assert 0 < corpus["f1"] < 1


def test_counts_of_a_sample_without_entities_or_predictions():
    assert sample_counts([], [], text="Nothing here .") == SpanCounts(0, 0, 0)
    assert micro_scores([]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "true_positives": 0,
                                "false_positives": 0, "false_negatives": 0}


def test_sample_counts_name_a_bad_record():
    with pytest.raises(ValueError, match=r"predictions\[0\]\[0\].*'end'"):
        sample_counts([{"text": "Ada", "label": "person", "start": 0}], [], text="Ada")


@pytest.mark.parametrize("method, classification, message", [
    ("gpt-3", None, "unknown method 'gpt-3'; allowed: cascadener, gpt-ner, promptner"),
    ("gpt-ner", None, "method 'gpt-ner' shows the model training sentences, which this task does not load"),
    ("cascadener", "guess", "unknown classification mode 'guess'"),
    ("cascadener", "constrained", "constrained classification needs answers kept to the choices, which this "
                                  "backend cannot do: Inspect's model API keeps no answer to a list of choices"),
])
def test_method_options_refuse_what_the_inspect_backend_cannot_run(method, classification, message):
    with pytest.raises(TaskOptionError, match=message):
        method_options(method, classification)


def test_method_options_keep_the_methods_defaults_but_the_off_list_retry():
    """Inspect's model API keeps no answer to the choices: off-list answers take the closest choice (the
    policy it can apply; the method's default retry would be refused), every other default is the method's."""
    from dataclasses import replace

    from cascadener.methods import method_class

    assert method_options() == replace(method_class("cascadener").options_type(), off_list="closest")
    assert InspectBackend.capabilities.choice is False


def test_a_whole_conversation_reaches_the_evaluated_model_as_its_messages():
    """A method's ChatPrompt (PromptNER's system text and exemplar turns) goes to the Inspect model as it
    is; a plain prompt goes under the kit's system prompt."""
    import anyio
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    from cascadener.backends.base import ChatPrompt, GenerationOptions
    from cascadener.integrations.inspect_backend import run_in_worker

    seen = []

    def respond(messages, tools, tool_choice, config) -> ModelOutput:
        seen.append([(m.role, m.text) for m in messages])
        output = ModelOutput.from_content(model="mockllm", content=f"answer {len(seen)}")
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return output

    backend = InspectBackend(get_model("mockllm/model", custom_outputs=respond))
    chat = ChatPrompt((("system", "s"), ("user", "u1"), ("assistant", "a1"), ("user", "u2")))

    async def ask():
        return await run_in_worker(backend.generate, [chat], max_new_tokens=[4], options=GenerationOptions())

    answers = anyio.run(ask)
    assert seen == [[("system", "s"), ("user", "u1"), ("assistant", "a1"), ("user", "u2")]]
    assert answers[0][0].text == "answer 1"
