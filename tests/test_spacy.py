"""The ``cascadener`` spaCy component and the confidence threshold.

Served tests talk to a scripted loopback server (:class:`Oracle`: it marks the sentences it was
given, answers stage 2 from the offered list, and returns the log-probabilities it was told to):
the point there is the request flow, the alignment onto spaCy's tokens (en, de, zh) and the
threshold. Local tests use the tiny model that memorised its sentences (``tiny_cascade``, slow).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from loopback import FaultProxy
from spacy.tokens import Doc, DocBin

from cascadener.cli import main
from cascadener.pipeline import CascadeNER

STAGE2 = re.compile(r'^The ##(?P<entity>.*?)## in the sentence: "(?P<sentence>.*)" belong to which entity in the '
                    r'first list: (?P<choices>.*)\?$', re.S)

# sentence -> [(start, end, label)] per language; offsets found in the text, end exclusive
SENTENCES = {
    "en": ("Mira Okafor flew from Lagos to Oslo .", [("Mira Okafor", "athlete"), ("Lagos", "city"), ("Oslo", "city")]),
    "de": ("Der Kölner Marathon endet am Museum Ludwig .", [("Kölner Marathon", "sporting event"),
                                                           ("Museum Ludwig", "museum")]),
    "zh": ("李娜在北京参加了中国网球公开赛。", [("李娜", "athlete"), ("北京", "city"), ("中国网球公开赛", "sporting event")]),
}
LABELS = ["athlete", "city", "sporting event", "museum", "person"]
# the probability the oracle's classifier gives each mention's answer
PROBABILITIES = {"Mira Okafor": 0.9, "Lagos": 0.4, "Oslo": 0.65, "Kölner Marathon": 0.8, "Museum Ludwig": 0.3,
                 "李娜": 0.7, "北京": 0.2, "中国网球公开赛": 0.55}


def spans_of(text: str, mentions) -> list[tuple[int, int, str]]:
    out, at = [], 0
    for mention, label in mentions:
        start = text.index(mention, at)
        out.append((start, start + len(mention), label))
        at = start + len(mention)
    return out


def completion(content: str, logprob: float | None) -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if logprob is not None:
        choice["logprobs"] = {"content": [{"token": "t", "logprob": logprob}]}
    return {"choices": [choice], "usage": {"prompt_tokens": 10, "completion_tokens": 1}}


class Oracle:
    """A scripted OpenAI-compatible model: stage 1 marks a known sentence's gold mentions (``##x##``),
    stage 2 answers the gold label where the list offers it (else the list's first type), with the
    log-probability of :data:`PROBABILITIES` (``logprobs=False``: none, as ``transformers serve``);
    anything else (a server probe) gets a short answer."""

    def __init__(self, gold: dict[str, list[tuple[int, int, str]]], *, logprobs: bool = True,
                 probabilities: dict[str, float] | None = None) -> None:
        self.gold = gold
        self.logprobs = logprobs
        self.probabilities = probabilities if probabilities is not None else PROBABILITIES
        self.stage1: list[str] = []

    def __call__(self, body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        if prompt in self.gold:
            self.stage1.append(prompt)
            marked, at = [], 0
            for start, end, _ in self.gold[prompt]:
                marked += [prompt[at:start], "##", prompt[start:end], "##"]
                at = end
            return completion("".join(marked) + prompt[at:], -0.01 if self.logprobs else None)
        asked = STAGE2.match(prompt)
        if asked is None:
            return completion("The sea is wide.", -0.5 if self.logprobs else None)
        choices = asked["choices"].split(", ")
        gold = {prompt_text: label for s, e, label in self.gold.get(asked["sentence"], [])
                for prompt_text in [asked["sentence"][s:e]]}
        label = gold.get(asked["entity"])
        answer = label if label in choices else choices[0]
        probability = self.probabilities.get(asked["entity"], 0.5)
        return completion(answer, math.log(probability) if self.logprobs else None)


def oracle_for(*languages: str, **keywords) -> Oracle:
    return Oracle({SENTENCES[lang][0]: spans_of(*SENTENCES[lang]) for lang in languages}, **keywords)


def served_nlp(lang: str, proxy: FaultProxy, **config):
    nlp = spacy.blank(lang)
    nlp.add_pipe("cascadener", config={"base_url": proxy.base_url, "model": "m", "labels": LABELS,
                                       "off_list": "closest", **config})
    return nlp


def records(doc, group=None) -> list[tuple[int, int, str, float | None]]:
    spans = doc.ents if group is None else doc.spans[group]
    return [(span.start_char, span.end_char, span.label_, span._.score) for span in spans]


def predicted(entities) -> list[tuple[int, int, str, float | None]]:
    return [(e["start"], e["end"], e["label"], e["score"]) for e in entities]


# ------------------------------------------------------------------------------ the factory

@pytest.mark.slow
def test_the_factory_is_found_through_the_entry_point_in_a_fresh_process():
    # spaCy imports every spacy_factories entry point when it builds a Language: no import of ours is
    # needed, the component's module brings nothing of ours beyond itself, and the model loads on first use
    code = ("import sys, spacy; nlp = spacy.blank('en'); "
            "print(sorted(m for m in sys.modules if m.startswith('cascadener.'))); "
            "pipe = nlp.add_pipe('cascadener', config={'model': 'no/such/folder'}); "
            "print(type(pipe).__name__, pipe.loaded, 'transformers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['cascadener.integrations', 'cascadener.integrations.spacy_component']",
                                        "CascadeNERComponent False False"]


def test_importing_the_component_without_spacy_names_the_extra(monkeypatch):
    import importlib.util

    for name in [name for name in sys.modules if name == "spacy" or name.startswith("spacy.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if spaCy were not installed
    spec = importlib.util.find_spec("cascadener.integrations.spacy_component")
    with pytest.raises(ImportError) as raised:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert str(raised.value) == 'the cascadener spaCy component needs spaCy: pip install "dynamicner-kit[spacy]"'


@pytest.mark.parametrize("config, message", [
    ({}, "give a model"),
    ({"model": "m", "style": "tag"}, "style must be one of ent, span, got 'tag'"),
    ({"model": "m", "alignment_mode": "loose"}, "alignment_mode must be one of contract, expand, strict"),
    ({"model": "m", "threshold": 1.5}, r"threshold must be a probability in \[0, 1\]"),
    ({"model": "m", "method": "nope"}, "unknown method 'nope'; allowed: cascadener"),
    ({"model": "m", "classification": "vote"}, "unknown classification mode 'vote'"),
    ({"model": "m", "labels": []}, "labels is empty"),
])
def test_bad_config_is_refused_when_the_pipe_is_added(config, message):
    with pytest.raises(ValueError, match=message):
        spacy.blank("en").add_pipe("cascadener", config=config)


def test_a_missing_model_is_named_on_first_use_not_when_added(tmp_path):
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("cascadener", config={"model": str(tmp_path / "missing"), "labels": ["city"]})
    assert not pipe.loaded
    with pytest.raises(ValueError, match="cannot run cascadener on '.*missing'"):
        nlp("Oslo is cold .")


# ------------------------------------------------------------------------------ served: en, de, zh

@pytest.mark.parametrize("lang", ["en", "de", "zh"])
@pytest.mark.parametrize("style", ["ent", "span"])
def test_docs_carry_exactly_what_predict_gives(lang, style):
    text, mentions = SENTENCES[lang]
    with FaultProxy(respond=oracle_for(lang)) as proxy:
        expected = CascadeNER.from_endpoint(proxy.base_url, "m").predict([text], [LABELS], off_list="closest")[0]
        doc = served_nlp(lang, proxy, style=style)(text)
    assert [(s, e, label) for s, e, label, _ in predicted(expected)] == spans_of(text, mentions)  # the oracle's gold
    assert records(doc, None if style == "ent" else "sc") == predicted(expected)
    assert all(score is not None for *_, score in predicted(expected))
    assert doc._.unaligned_entities == []
    if style == "span":
        assert doc.ents == ()


def test_doc_type_list_overrides_the_labels_per_document():
    text, mentions = SENTENCES["en"]
    with FaultProxy(respond=oracle_for("en")) as proxy:
        nlp = served_nlp("en", proxy)
        docs = [nlp.make_doc(text) for _ in range(3)]
        docs[0]._.type_list = ["person", "country"]  # no gold label offered: the oracle takes the first
        docs[1]._.type_list = ("city", "athlete")  # a DocBin gives tuples back
        out = list(nlp.pipe(docs, batch_size=3))
        asked = [STAGE2.match(body["messages"][-1]["content"])["choices"] for body in proxy.posts()
                 if STAGE2.match(body["messages"][-1]["content"])]
    assert [ent.label_ for ent in out[0].ents] == ["person", "person", "person"]
    assert [ent.label_ for ent in out[1].ents] == ["athlete", "city", "city"]
    assert [ent.label_ for ent in out[2].ents] == [label for *_, label in spans_of(text, mentions)]  # config labels
    assert sorted(set(asked)) == sorted({"person, country", "city, athlete", ", ".join(LABELS)})


def test_nlp_pipe_makes_one_method_call_per_minibatch():
    texts = [f"Team {i} met Ada in Rome ." for i in range(10)]
    gold = {text: [(text.index("Ada"), text.index("Ada") + 3, "person")] for text in texts}
    with FaultProxy(respond=Oracle(gold)) as proxy:
        nlp = served_nlp("en", proxy)
        pipe = nlp.get_pipe("cascadener")
        method = pipe.load()
        calls: list[int] = []
        run = method.run

        def counted(texts, *args, **keywords):
            calls.append(len(texts))
            return run(texts, *args, **keywords)

        method.run = counted
        docs = list(nlp.pipe(texts, batch_size=4))
        assert calls == [4, 4, 2]
        list(nlp.pipe(texts, component_cfg={"cascadener": {"batch_size": 5}}))
        assert calls[3:] == [5, 5]
        nlp(texts[0])
        assert calls[5:] == [1]
    assert [[ent.text for ent in doc.ents] for doc in docs] == [["Ada"]] * 10


def test_unaligned_entities_are_counted_warned_and_kept():
    # the model marks "Lagos" inside the one token "Lagos2020": no whole token under contract or strict
    text = "Mira flew to Lagos2020 ."
    gold = {text: [(0, 4, "person"), (13, 18, "city")]}
    with FaultProxy(respond=Oracle(gold)) as proxy:
        for mode in ("contract", "strict"):
            nlp = served_nlp("en", proxy, alignment_mode=mode)
            with pytest.warns(UserWarning, match=r"entity 'Lagos' \(city, characters 13-18\) .* matches no tokens"):
                doc = nlp(text)
            assert [ent.text for ent in doc.ents] == ["Mira"]
            assert [(e["text"], e["start"], e["end"]) for e in doc._.unaligned_entities] == [("Lagos", 13, 18)]
            assert nlp.get_pipe("cascadener").counts["unaligned"] == 1
        doc = served_nlp("en", proxy, alignment_mode="expand")(text)
    assert [(ent.text, ent.label_) for ent in doc.ents] == [("Mira", "person"), ("Lagos2020", "city")]
    assert doc._.unaligned_entities == []


def test_overlapping_entities_keep_the_longest_as_ents_and_all_as_spans(monkeypatch):
    text = "Lake Geneva Hotel is open ."
    with FaultProxy(respond=Oracle({text: [(0, 11, "city")]})) as proxy:
        nlp = served_nlp("en", proxy)
        method = nlp.get_pipe("cascadener").load()
        run = method.run

        def overlapping(*args, **keywords):  # a method that reads two overlapping mentions
            result = run(*args, **keywords)
            result.predictions[0].entities.append({"text": "Geneva Hotel", "label": "hotel", "start": 5, "end": 17,
                                                   "score": 0.5})
            return result

        method.run = overlapping
        doc = nlp(text)
        assert [ent.text for ent in doc.ents] == ["Lake Geneva"]  # filter_spans: the longest, then the first
        assert nlp.get_pipe("cascadener").counts["overlapping"] == 1
        span_nlp = served_nlp("en", proxy, style="span")
        span_nlp.get_pipe("cascadener")._method = method
        span_doc = span_nlp(text)
        assert [span.text for span in span_doc.spans["sc"]] == ["Lake Geneva", "Geneva Hotel"]


def test_a_failing_minibatch_goes_to_spacys_error_handler():
    text = SENTENCES["en"][0]
    with FaultProxy(respond=oracle_for("en")) as proxy:
        nlp = served_nlp("en", proxy)
        docs = [nlp.make_doc(text) for _ in range(4)]
        docs[2]._.type_list = []  # refused: the minibatch holding it fails as a whole
        with pytest.raises(ValueError, match=r"Doc._.type_list of document 0 of the batch .* is empty"):
            list(nlp.pipe(docs, batch_size=2))
        seen = []
        nlp.set_error_handler(lambda name, component, batch, error: seen.append((name, len(batch), str(error))))
        out = list(nlp.pipe([nlp.make_doc(text) for _ in range(2)] + docs[2:], batch_size=2))
    assert [len(doc.ents) for doc in out] == [3, 3, 0, 0]  # every doc comes out; the failed batch unannotated
    assert [(name, size) for name, size, _ in seen] == [("cascadener", 2)] and "is empty" in seen[0][2]


def test_nlp_evaluate_keeps_each_documents_type_list():
    # nlp.evaluate copies the predicted docs with their user data: Doc._.type_list reaches the component
    from spacy.training import Example

    text = SENTENCES["en"][0]
    with FaultProxy(respond=oracle_for("en")) as proxy:
        nlp = served_nlp("en", proxy, labels=["person", "country"])  # no gold label: every answer "person"
        reference = nlp.make_doc(text)
        reference.ents = [reference.char_span(s, e, label=label) for s, e, label in spans_of(*SENTENCES["en"])]
        listed = nlp.make_doc(text)
        listed._.type_list = ["athlete", "city"]
        assert nlp.evaluate([Example(listed, reference)])["ents_f"] == 1.0
        assert nlp.evaluate([Example(nlp.make_doc(text), reference)])["ents_f"] == 0.0


def test_span_style_is_scored_on_its_span_group():
    from spacy.training import Example

    text = SENTENCES["en"][0]
    gold = spans_of(*SENTENCES["en"])
    with FaultProxy(respond=Oracle({text: gold[1:]})) as proxy:  # the first gold entity is not found
        nlp = served_nlp("en", proxy, style="span", spans_key="ner")
        reference = nlp.make_doc(text)
        reference.spans["ner"] = [reference.char_span(s, e, label=label) for s, e, label in gold]
        scores = nlp.evaluate([Example(nlp.make_doc(text), reference)])
    assert (scores["spans_ner_p"], scores["spans_ner_r"]) == (1.0, pytest.approx(2 / 3))
    assert "ents_p" not in scores


# ------------------------------------------------------------------------------ the threshold, served

def test_component_threshold_keeps_exactly_the_entities_scored_at_least_t():
    text = SENTENCES["en"][0]
    with FaultProxy(respond=oracle_for("en")) as proxy:
        every = records(served_nlp("en", proxy)(text))
        nlp = served_nlp("en", proxy, threshold=0.5)
        kept = records(nlp(text))
    assert [score for *_, score in every] == pytest.approx([0.9, 0.4, 0.65])
    assert kept == [record for record in every if record[3] >= 0.5]
    assert nlp.get_pipe("cascadener").counts["below_threshold"] == 1


def _jsonl(path: Path, languages) -> Path:
    """The languages' sentences as ``cascadener predict`` input, with their gold entities."""
    lines = []
    for lang in languages:
        text, mentions = SENTENCES[lang]
        gold = [{"text": text[s:e], "label": label, "start": s, "end": e} for s, e, label in spans_of(text, mentions)]
        lines.append(json.dumps({"id": lang, "text": text, "type_list": LABELS, "entities": gold}) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _entities(path: Path) -> list[list[dict]]:
    return [json.loads(line)["entities"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_predict_threshold_on_a_server_keeps_exactly_the_entities_scored_at_least_t(tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", ("en", "de", "zh"))
    server = ["--backend", "openai", "--model", "m", "--off-list", "closest", "--no-progress"]
    with FaultProxy(respond=oracle_for("en", "de", "zh")) as proxy:
        assert main(["predict", "--jsonl", str(source), *server, "--base-url", proxy.base_url,
                     "-o", str(tmp_path / "all.jsonl")]) == 0
        assert main(["predict", "--jsonl", str(source), *server, "--base-url", proxy.base_url, "--threshold", "0.5",
                     "-o", str(tmp_path / "kept.jsonl")]) == 0
    every, kept = _entities(tmp_path / "all.jsonl"), _entities(tmp_path / "kept.jsonl")
    assert sorted(e["score"] for sentence in every for e in sentence) == pytest.approx(
        sorted(PROBABILITIES.values()))
    assert kept == [[e for e in sentence if e["score"] >= 0.5] for sentence in every]
    meta = json.loads((tmp_path / "kept.jsonl.meta.json").read_text(encoding="utf-8"))
    assert meta["options"]["threshold"] == 0.5 and meta["stats"]["below_threshold"] == 3
    assert json.loads((tmp_path / "all.jsonl.meta.json").read_text())["options"]["threshold"] is None
    # the results JSON records it: cascadener evaluate copies the run's options into its pipeline section
    assert main(["evaluate", str(tmp_path / "kept.jsonl")]) == 0
    results = json.loads((tmp_path / "kept.results.json").read_text(encoding="utf-8"))
    assert results["pipeline"]["threshold"] == 0.5


def test_resume_refuses_another_threshold(tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", ["en"])
    server = ["--backend", "openai", "--model", "m", "--off-list", "closest", "--no-progress"]
    with FaultProxy(respond=oracle_for("en")) as proxy:
        out = str(tmp_path / "out.jsonl")
        assert main(["predict", "--jsonl", str(source), *server, "--base-url", proxy.base_url, "-o", out]) == 0
        assert main(["predict", "--jsonl", str(source), *server, "--base-url", proxy.base_url, "--threshold", "0.5",
                     "--resume", "-o", out]) == 2


def test_a_server_without_logprobs_gives_spans_without_scores():
    text, mentions = SENTENCES["en"]
    with FaultProxy(respond=oracle_for("en", logprobs=False)) as proxy:
        doc = served_nlp("en", proxy)(text)
    assert records(doc) == [(s, e, label, None) for s, e, label in spans_of(text, mentions)]


def test_a_server_without_logprobs_refuses_a_threshold_before_any_work(tmp_path, capsys):
    source = _jsonl(tmp_path / "in.jsonl", ["en"])
    oracle = oracle_for("en", logprobs=False)
    with FaultProxy(respond=oracle) as proxy:
        code = main(["predict", "--jsonl", str(source), "--backend", "openai", "--base-url", proxy.base_url,
                     "--model", "m", "--off-list", "closest", "--threshold", "0.5", "--no-progress",
                     "-o", str(tmp_path / "out.jsonl")])
        err = capsys.readouterr().err
        nlp = served_nlp("en", proxy, threshold=0.5)
        with pytest.raises(ValueError, match="needs scores"):
            nlp(SENTENCES["en"][0])
    assert code == 2 and "a threshold (0.5) needs scores" in err and "no logprobs" in err
    assert "Traceback" not in err
    assert oracle.stage1 == []  # no sentence was sent
    assert not (tmp_path / "out.jsonl").exists() or (tmp_path / "out.jsonl").read_text() == ""


# ------------------------------------------------------------------------------ saving and loading

def test_to_disk_saves_the_config_not_the_weights_and_load_rebuilds_it_lazily(tmp_path):
    text = SENTENCES["de"][0]
    with FaultProxy(respond=oracle_for("de")) as proxy:
        nlp = served_nlp("de", proxy, threshold=0.25, style="span", spans_key="ner")
        first = records(nlp(text), "ner")
        nlp.to_disk(tmp_path / "pipeline")
        saved = sorted(p.relative_to(tmp_path / "pipeline").as_posix() for p in (tmp_path / "pipeline").rglob("*")
                       if p.is_file())
        assert {name.split("/")[0] for name in saved} == {"config.cfg", "meta.json", "tokenizer", "vocab"}  # spaCy's own
        config = (tmp_path / "pipeline" / "config.cfg").read_text(encoding="utf-8")
        assert 'factory = "cascadener"' in config and "threshold = 0.25" in config and 'spans_key = "ner"' in config
        loaded = spacy.load(tmp_path / "pipeline")
        pipe = loaded.get_pipe("cascadener")
        assert not pipe.loaded and pipe.threshold == 0.25 and pipe.base_url == proxy.base_url
        assert records(loaded(text), "ner") == first and pipe.loaded
        stricter = spacy.load(tmp_path / "pipeline", config={"components": {"cascadener": {"threshold": 0.5}}})
        assert records(stricter(text), "ner") == [r for r in first if r[3] >= 0.5] != first


# ------------------------------------------------------------------------------ spacy evaluate

def _sample_docs(nlp, limit: int):
    """Docs of the embedded English test split with their gold entities (strict alignment; a gold span
    that no tokens hold is counted)."""
    import dynamicner

    rows = dynamicner.prepare("en").as_dataset(split="test")
    docs, gold, unaligned = [], {}, 0
    for row in rows.select(range(limit)):
        doc = nlp.make_doc(row["text"])
        spans = []
        for entity in row["entities"]:
            span = doc.char_span(entity["start"], entity["end"], label=entity["label"], alignment_mode="strict")
            if span is None:
                unaligned += 1
            else:
                spans.append(span)
        doc.ents = spacy.util.filter_spans(spans)
        docs.append(doc)
        gold[row["text"]] = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
    return docs, gold, unaligned


@pytest.mark.slow
def test_spacy_evaluate_scores_the_component_on_the_embedded_sample(tmp_path):
    nlp = spacy.blank("en")
    docs, gold, unaligned = _sample_docs(nlp, 6)
    assert unaligned == 0  # the sample's entities sit on English token boundaries
    DocBin(docs=docs).to_disk(tmp_path / "dev.spacy")
    # the oracle marks every gold entity but the first of each sentence: precision 1, recall known
    marked = {text: spans[1:] for text, spans in gold.items()}
    total, found = sum(map(len, gold.values())), sum(map(len, marked.values()))
    labels = sorted({label for spans in gold.values() for *_, label in spans})
    with FaultProxy(respond=Oracle(marked)) as proxy:
        nlp.add_pipe("cascadener", config={"base_url": proxy.base_url, "model": "m", "labels": labels,
                                           "off_list": "closest"})
        nlp.to_disk(tmp_path / "pipeline")
        done = subprocess.run([sys.executable, "-m", "spacy", "evaluate", str(tmp_path / "pipeline"),
                               str(tmp_path / "dev.spacy"), "--output", str(tmp_path / "scores.json")],
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"NER P\s+100\.00", done.stdout) and "NER R" in done.stdout
    scores = json.loads((tmp_path / "scores.json").read_text(encoding="utf-8"))
    assert scores["ents_p"] == 1.0 and scores["ents_r"] == pytest.approx(found / total)
    assert 0 < found < total


# ------------------------------------------------------------------------------ local: the memorising tiny model

@pytest.mark.slow
@pytest.mark.parametrize("style", ["ent", "span"])
def test_memorised_sentences_through_nlp_pipe_equal_predict(tiny_cascade, tiny_corpus, style):
    ner = CascadeNER.from_pretrained(str(tiny_cascade.extractor), device="cpu")
    for lang in ("en", "de"):
        rows = [r for r in tiny_corpus if r["language"] == lang]
        expected = ner.predict([r["text"] for r in rows], [r["type_list"] for r in rows])
        nlp = spacy.blank(lang)
        nlp.add_pipe("cascadener", config={"model": str(tiny_cascade.extractor), "device": "cpu", "style": style})
        docs = []
        for row in rows:
            doc = nlp.make_doc(row["text"])
            doc._.type_list = row["type_list"]
            docs.append(doc)
        out = list(nlp.pipe(docs, batch_size=3))
        got = [records(doc, None if style == "ent" else "sc") for doc in out]
        # memorised: the gold entities, each scored
        assert [[(s, e, label) for s, e, label, _ in sentence] for sentence in got] == [
            [(e["start"], e["end"], e["label"]) for e in r["entities"]] for r in rows]
        assert [[(s, e, label) for s, e, label, _ in sentence] for sentence in got] == [
            [(s, e, label) for s, e, label, _ in predicted(sentence)] for sentence in expected]
        # the same scores up to float noise of other batch neighbours (minibatches of 3 here, one batch there)
        assert [score for sentence in got for *_, score in sentence] == pytest.approx(
            [score for sentence in expected for *_, score in predicted(sentence)])


@pytest.mark.slow
def test_predict_threshold_on_the_local_model_keeps_exactly_the_entities_scored_at_least_t(tiny_cascade, tiny_corpus,
                                                                                             tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "type_list": r["type_list"]}) + "\n"
                              for r in tiny_corpus), encoding="utf-8")
    local = ["--extractor", str(tiny_cascade.extractor), "--device", "cpu", "--no-progress"]
    assert main(["predict", "--jsonl", str(source), *local, "-o", str(tmp_path / "all.jsonl")]) == 0
    every = _entities(tmp_path / "all.jsonl")
    scores = sorted({e["score"] for sentence in every for e in sentence})
    assert len(scores) >= 4 and all(0 < s <= 1 for s in scores)
    threshold = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2  # between two distinct scores
    assert main(["predict", "--jsonl", str(source), *local, "--threshold", str(threshold),
                 "-o", str(tmp_path / "kept.jsonl")]) == 0
    kept = _entities(tmp_path / "kept.jsonl")
    assert kept == [[e for e in sentence if e["score"] >= threshold] for sentence in every]
    meta = json.loads((tmp_path / "kept.jsonl.meta.json").read_text(encoding="utf-8"))
    assert meta["stats"]["below_threshold"] == sum(map(len, every)) - sum(map(len, kept)) > 0
