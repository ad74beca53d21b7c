"""GPT-NER and PromptNER through the request flow: a scripted loopback OpenAI-compatible server answers the
way each method's model would, from gold annotations of the project's own sentences
(``tests/fixtures/tiny_corpus.json``).

What is checked: the requests per sentence (GPT-NER: one per type of its list, plus one per mention
with ``--verify``; PromptNER: one), offsets exactly on the text, outputs equal at concurrency 1 and 8,
usage accounting, windows, ``cascadener predict --method`` with resume and the lock, the results JSON
and the leaderboard with all three methods, and the bad inputs C refuses refused the same way.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter

import pytest
from loopback import FaultProxy

from cascadener.backends import EndpointOptions
from cascadener.backends.probe import PROBE_QUESTION
from cascadener.methods import DemonstrationPool, GptNer, GptNerOptions, PromptNer, PromptNerOptions

VERIFY_CUE = "Please answer with yes or no."


def completion(content: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}}


class ScriptedModel:
    """Answers GPT-NER, PromptNER and CascadeNER prompts from ``gold``: text -> ``[(start, end, label)]``.

    GPT-NER: the asked sentence with its entities of the asked type wrapped in @@...## (a text it does not
    know comes back unmarked); verification: "No" for the mentions in ``reject``, else "Yes". PromptNER: a
    numbered list of the paragraph's entities of listed types (True), one non-entity (False) and, for a
    type in ``off_list``, that type as written. CascadeNER: stage 1 the sentence with ##...##, stage 2 the
    gold label. ``jitter`` delays answers at random (completion order differs from request order).
    """

    def __init__(self, gold: dict[str, list[tuple[int, int, str]]], *, reject: set[str] = frozenset(),
                 jitter: float = 0.0) -> None:
        self.gold = gold
        self.reject = set(reject)
        self.jitter = jitter
        self.random = random.Random(0)
        self.lock = threading.Lock()

    def spans_of(self, text: str) -> list[tuple[int, int, str]]:
        """The gold of ``text``; of a text it does not know (a window), the gold of the known sentences in it."""
        if text in self.gold:
            return self.gold[text]
        found = []
        for known, spans in self.gold.items():
            at = text.find(known)
            while known and at >= 0:
                found += [(s + at, e + at, label) for s, e, label in spans]
                at = text.find(known, at + 1)
        return sorted(set(found))

    def delay(self, body: dict) -> float:
        with self.lock:
            return self.random.random() * self.jitter

    def __call__(self, body: dict) -> dict:
        messages = body["messages"]
        user = messages[-1]["content"]
        if user == PROBE_QUESTION:  # the backend's probe of the server, before any work
            return completion("The sea is wide.")
        if user.endswith(VERIFY_CUE + "\n"):
            word = re.search(r'Is the word "(.*)" in the given sentence', user).group(1)
            return completion("No" if word in self.reject else "Yes, it is.")
        if user.endswith("The labeled sentence:"):
            label = re.match(r"You are an excellent linguist\. Within the DynamicNER dataset, the task is to label "
                             r"(.*?) entities that", user).group(1)
            sentence = user.rsplit("The given sentence: ", 1)[1][:-len("\nThe labeled sentence:")]
            spans = [(s, e) for s, e, lab in self.spans_of(sentence) if lab == label]
            out, cursor = "", 0
            for start, end in sorted(spans):
                out += sentence[cursor:start] + "@@" + sentence[start:end] + "##"
                cursor = end
            return completion(" " + out + sentence[cursor:])
        if messages[0]["content"].startswith("You are an entity recognition system. "):
            paragraph = user[len("\nParagraph: "):-len(" \nAnswer:")]
            listed = re.findall(r"\(([^()]*)\)", messages[0]["content"].split(" Q: ")[0])
            lines = []
            for start, end, label in self.spans_of(paragraph):
                if label in listed or label in getattr(self, "off_list", ()):
                    lines.append(f"{paragraph[start:end]} | True | it names a {label} ({label.upper()})")
            lines.append(f"{paragraph.split()[-2]} | False | not a name")
            return completion("\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1)))
        if messages[0]["content"] == "You are a helpful assistant." and "belong to which entity" not in user:
            out, cursor = "", 0
            for start, end, _ in sorted(self.gold.get(user, [])):
                out += user[cursor:start] + "##" + user[start:end] + "##"
                cursor = end
            return completion(out + user[cursor:])
        found = re.match(r'The ##(.*)## in the sentence: "(.*)" belong to which entity', user, re.S)
        entity, sentence = found.group(1), found.group(2)
        labels = [lab for s, e, lab in self.gold.get(sentence, []) if sentence[s:e] == entity]
        return completion(labels[0] if labels else "none")


@pytest.fixture(scope="module")
def corpus(tiny_corpus):
    """The fixture sentences, their lists, languages and gold (label of each span)."""
    return {"texts": [r["text"] for r in tiny_corpus], "lists": [r["type_list"] for r in tiny_corpus],
            "languages": [r["language"] for r in tiny_corpus],
            "gold": {r["text"]: [(e["start"], e["end"], e["label"]) for e in r["entities"]] for r in tiny_corpus}}


POOL = DemonstrationPool([
    {"id": "d1", "language": "en", "text": "Ivo Brandt flew to Quito .", "entities": [
        {"text": "Ivo Brandt", "label": "athlete", "start": 0, "end": 10},
        {"text": "Quito", "label": "city", "start": 19, "end": 24}]},
    {"id": "d2", "language": "en", "text": "Nimbus Labs built a rover .", "entities": [
        {"text": "Nimbus Labs", "label": "company", "start": 0, "end": 11}]},
    {"id": "d3", "language": "de", "text": "Die Elbe fließt durch Dresden .", "entities": [
        {"text": "Elbe", "label": "water body", "start": 4, "end": 8},
        {"text": "Dresden", "label": "city", "start": 22, "end": 29}]},
], source={"name": "flow-test"})


def gold_entities(corpus):
    return [[(text[s:e], label, s, e) for s, e, label in sorted(corpus["gold"][text])] for text in corpus["texts"]]


def spans(run):
    return [[(e["text"], e["label"], e["start"], e["end"]) for e in p.entities] for p in run.predictions]


def _questions(posts, cue):
    return [body for body in posts if body["messages"][-1]["content"].endswith(cue)]


def _asked(proxy) -> list[dict]:
    """The requests the method sent (the probe's question left out)."""
    return [body for body in proxy.posts() if body["messages"][-1]["content"] != PROBE_QUESTION]


@pytest.mark.parametrize("verify", [False, True])
def test_gpt_ner_asks_each_type_of_the_list_and_verifies_each_mention(corpus, verify):
    model = ScriptedModel(corpus["gold"], reject={"Graz"} if verify else set(), jitter=0.02)
    runs = {}
    for concurrency in (1, 8):
        with FaultProxy(respond=model) as proxy:
            proxy.delay_for = model.delay
            ner = GptNer.from_endpoint(EndpointOptions(proxy.base_url, concurrency=concurrency), "m")
            runs[concurrency] = run = ner.run([*corpus["texts"], ""], [*corpus["lists"], ["city"]],
                                              options=GptNerOptions(demonstrations=2, pool=POOL, verify=verify),
                                              languages=[*corpus["languages"], "en"])
            posts = _asked(proxy)
        extraction = _questions(posts, "The labeled sentence:")
        asked = Counter(body["messages"][0]["content"].rsplit("The given sentence: ", 1)[1] for body in extraction)
        # one question per sentence and type of its list; none for the empty text
        assert asked == Counter({f"{text}\nThe labeled sentence:": len(types)
                                 for text, types in zip(corpus["texts"], corpus["lists"])})
        assert all(len(body["messages"]) == 1 and body["messages"][0]["role"] == "user" for body in extraction)
        expected = gold_entities(corpus) + [[]]
        mentions = sum(map(len, expected))
        verification = _questions(posts, VERIFY_CUE + "\n")
        if verify:  # one per mention; a "no" drops it
            assert len(verification) == mentions
            expected = [[e for e in sentence if e[0] != "Graz"] for sentence in expected]
            assert run.stats.rejected_mentions == 3
        else:
            assert verification == []
        assert spans(run) == expected  # offsets exact
        for prediction in run.predictions:
            for entity in prediction.entities:
                assert prediction.text[entity["start"]:entity["end"]] == entity["text"] and entity["score"] is None
        stats = run.stats
        assert stats.stage1_requests == len(extraction) == sum(map(len, corpus["lists"]))
        assert stats.stage2_requests == len(verification)
        assert stats.stage1_prompt_tokens == 20 * len(extraction) and stats.stage1_completion_tokens == 5 * len(extraction)
        assert stats.sentences == len(corpus["texts"]) + 1 and stats.empty_sentences == 1
    assert spans(runs[1]) == spans(runs[8]) and runs[1].stats == runs[8].stats


def test_gpt_ner_keeps_a_span_under_each_type_that_marks_it(corpus):
    text = "Quillsoft released Nimbus for Peru ."
    gold = {text: [(0, 9, "company"), (0, 9, "band"), (30, 34, "country")]}
    with FaultProxy(respond=ScriptedModel(gold)) as proxy:
        ner = GptNer.from_endpoint(proxy.base_url, "m")
        run = ner.run([text], [["company", "band", "country"]], options=GptNerOptions(demonstrations=0))
    assert spans(run) == [[("Quillsoft", "company", 0, 9), ("Quillsoft", "band", 0, 9), ("Peru", "country", 30, 34)]]
    assert run.stats.multi_type_mentions == 1 and run.stats.mentions == 3


def test_promptner_sends_one_chat_per_sentence(corpus):
    model = ScriptedModel(corpus["gold"], jitter=0.02)
    runs = {}
    for concurrency in (1, 8):
        with FaultProxy(respond=model) as proxy:
            proxy.delay_for = model.delay
            ner = PromptNer.from_endpoint(EndpointOptions(proxy.base_url, concurrency=concurrency), "m")
            runs[concurrency] = run = ner.run([*corpus["texts"], " "], [*corpus["lists"], ["city"]],
                                              options=PromptNerOptions(demonstrations=2, pool=POOL),
                                              languages=[*corpus["languages"], None])
            posts = _asked(proxy)
        assert Counter(body["messages"][-1]["content"] for body in posts) == Counter(
            f"\nParagraph: {text} \nAnswer:" for text in corpus["texts"])  # one each, none for the blank text
        for body, text in zip(sorted(posts, key=lambda b: b["messages"][-1]["content"]), sorted(corpus["texts"])):
            roles = [m["role"] for m in body["messages"]]
            assert roles[0] == "system" and roles[-1] == "user" and roles[1:-1] == ["user", "assistant"] * ((len(roles) - 2) // 2)
        assert spans(run) == gold_entities(corpus) + [[]]  # types written in upper case: matched to the list
        assert run.stats.stage1_requests == len(corpus["texts"]) and run.stats.stage2_requests == 0
        assert run.stats.off_list_answers == 0
    assert spans(runs[1]) == spans(runs[8]) and runs[1].stats == runs[8].stats


def test_promptner_exemplars_are_the_texts_language_and_cover_its_list(corpus):
    with FaultProxy(respond=ScriptedModel(corpus["gold"])) as proxy:
        ner = PromptNer.from_endpoint(proxy.base_url, "m")
        ner.run(["Der Kölner Marathon endet am Museum Ludwig ."], [["city", "water body", "museum"]],
                options=PromptNerOptions(demonstrations=1, pool=POOL), languages=["de"])
        [body] = _asked(proxy)
    assert body["messages"][1]["content"] == "Die Elbe fließt durch Dresden .\nAnswer:"
    assert body["messages"][2]["content"] == ("1. Elbe | True | Elbe is an entity of type water body (water body)\n"
                                              "2. Dresden | True | Dresden is an entity of type city (city)")


def test_promptner_counts_types_off_the_list(corpus):
    text = corpus["texts"][0]
    model = ScriptedModel({text: [(0, 11, "athlete"), (22, 27, "mayor")]})
    model.off_list = {"mayor"}
    with FaultProxy(respond=model) as proxy:
        run = PromptNer.from_endpoint(proxy.base_url, "m").run([text], [["city", "athlete"]],
                                                               options=PromptNerOptions(demonstrations=0))
    assert spans(run) == [[("Mira Okafor", "athlete", 0, 11), ("Lagos", "MAYOR", 22, 27)]]
    assert run.stats.off_list_answers == 1


def test_long_texts_are_read_in_windows_with_exact_offsets(corpus):
    texts = corpus["texts"]
    long_text = " ".join(texts[:4])
    gold = {long_text: []}
    offset = 0
    for text in texts[:4]:
        gold[long_text] += [(s + offset, e + offset, lab) for s, e, lab in corpus["gold"][text]]
        offset += len(text) + 1
    # the windows are sentences of the long text: the scripted model knows their gold too
    for text in texts[:4]:
        gold[text] = corpus["gold"][text]
    types = sorted({lab for _, _, lab in gold[long_text]})
    expected = [(long_text[s:e], lab, s, e) for s, e, lab in sorted(gold[long_text], key=lambda g: (g[0], g[1]))]
    for cls, options in ((GptNer, GptNerOptions(demonstrations=0)), (PromptNer, PromptNerOptions(demonstrations=0))):
        with FaultProxy(respond=ScriptedModel(gold)) as proxy:
            ner = cls.from_endpoint(proxy.base_url, "m", context_tokens=560 if cls is GptNer else 1400)
            run = ner.run([long_text], [types], options=options)
        assert run.stats.split_texts == 1 and run.stats.windows >= 2, cls.name
        got = sorted(spans(run)[0], key=lambda e: (e[2], e[3], types.index(e[1])))
        assert got == sorted(expected, key=lambda e: (e[2], e[3], types.index(e[1]))), cls.name


def test_demonstrations_that_do_not_fit_are_dropped_and_counted(corpus):
    text = corpus["texts"][0]
    with FaultProxy(respond=ScriptedModel(corpus["gold"])) as proxy:
        roomy = GptNer.from_endpoint(proxy.base_url, "m", context_tokens=4000)
        tight = GptNer.from_endpoint(proxy.base_url, "m", context_tokens=560)
        options = GptNerOptions(demonstrations=2, pool=POOL)
        assert roomy.run([text], [["city"]], options=options, languages=["en"]).stats.missing_demonstrations == 0
        run = tight.run([text], [["city"]], options=options, languages=["en"])
    assert run.stats.missing_demonstrations >= 1 and spans(run)[0] == [("Lagos", "city", 22, 27), ("Oslo", "city", 31, 35)]


@pytest.mark.parametrize("cls, options", [(GptNer, GptNerOptions(demonstrations=0)),
                                          (PromptNer, PromptNerOptions(demonstrations=0))])
def test_predict_has_cascadeners_shape(cls, options, corpus):
    """``predict(texts, type_lists)``: one list of span records per text, as CascadeNER's; ``predict_entities``
    one text's; the call's counts in ``last_stats``."""
    with FaultProxy(respond=ScriptedModel(corpus["gold"])) as proxy:
        ner = cls.from_endpoint(proxy.base_url, "m")
        predicted = ner.predict(corpus["texts"], corpus["lists"], options=options)
        one = ner.predict_entities(corpus["texts"][0], corpus["lists"][0], options=options)
    assert all(set(entity) == {"text", "label", "start", "end", "score"} and entity["score"] is None
               for entities in predicted for entity in entities)
    assert [[(e["text"], e["label"], e["start"], e["end"]) for e in entities] for entities in predicted] == \
        gold_entities(corpus)
    assert one == predicted[0] and ner.last_stats.sentences == 1


def test_methods_refuse_what_they_cannot_do():
    ner = GptNer.from_endpoint("http://127.0.0.1:9/v1", "m")
    with pytest.raises(ValueError, match=r"type_lists\[1\] is None: gpt-ner needs a type list for every text"):
        ner.run(["a", "b"], [["x"], None], options=GptNerOptions(demonstrations=0))
    with pytest.raises(ValueError, match="gpt-ner reads no taxonomy"):
        ner.run(["a"], [["x"]], options=GptNerOptions(demonstrations=0), cascade=True)
    with pytest.raises(ValueError, match="shows 3 demonstrations per prompt: give training sentences"):
        ner.run(["a"], [["x"]], options=GptNerOptions(demonstrations=3))
    with pytest.raises(TypeError, match="gpt-ner takes GptNerOptions, got PromptNerOptions"):
        ner.run(["a"], [["x"]], options=PromptNerOptions())
    # the checks CascadeNER makes of its inputs
    with pytest.raises(TypeError, match="predict takes a list of texts"):
        ner.run("a", [["x"]], options=GptNerOptions(demonstrations=0))
    with pytest.raises(ValueError, match=r"type_lists\[0\] is empty"):
        ner.run(["a"], [[]], options=GptNerOptions(demonstrations=0))
    with pytest.raises(ValueError, match="got 1 languages for 2 texts"):
        PromptNer.from_endpoint("http://127.0.0.1:9/v1", "m").run(["a", "b"], [["x"], ["y"]], languages=["en"],
                                                                   options=PromptNerOptions(demonstrations=0))
    backend = ner.extractor_backend
    with pytest.raises(ValueError, match="gpt-ner runs one model"):
        GptNer.from_backends(backend, GptNer.from_endpoint("http://127.0.0.1:9/v1", "other").extractor_backend)


# ------------------------------------------------------------------------------ the command line

def _write_jsonl(path, tiny_corpus, *, drop=()):
    with path.open("w", encoding="utf-8") as out:
        for record in tiny_corpus:
            line = {k: v for k, v in record.items() if k not in drop and k != "entities"}
            out.write(json.dumps({**line, "entities": [{k: e[k] for k in ("text", "label", "start", "end")}
                                                       for e in record["entities"]]}, ensure_ascii=False) + "\n")
    return path


def _served(base_url):
    return ["--backend", "openai", "--base-url", base_url, "--model", "m", "--no-progress"]


@pytest.mark.parametrize("method", ["gpt-ner", "promptner"])
def test_cli_predict_resumes_after_a_server_failure(method, tiny_corpus, corpus, tmp_path, capsys):
    from cascadener.cli import main

    inputs = _write_jsonl(tmp_path / "in.jsonl", tiny_corpus)
    pool = _write_jsonl(tmp_path / "train.jsonl", [{"id": "p1", "language": "en", "text": "Ivo Brandt flew to Quito .",
                                                    "type_list": ["city"], "entities": [
                                                        {"text": "Quito", "label": "city", "start": 19, "end": 24}]}])
    common = ["predict", "--method", method, "--jsonl", str(inputs), "--demonstrations", "1",
              "--demonstrations-from", str(pool), "--chunk-size", "2", "--max-retries", "0"]
    model = ScriptedModel(corpus["gold"])
    with FaultProxy(respond=model) as proxy:
        reference = tmp_path / "reference.jsonl"
        assert main([*common, *_served(proxy.base_url), "-o", str(reference)]) == 0
        requests = len(proxy.posts())  # the probe's included: the fault lands mid-run
        output = tmp_path / "out.jsonl"
        proxy.faults.extend([("delay", 0)] * (requests // 2) + [("status", 500)])
        assert main([*common, *_served(proxy.base_url), "-o", str(output)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and "--resume" in err and "HTTP 500" in err
        written = output.read_text(encoding="utf-8").count("\n")
        assert 0 < written < len(tiny_corpus) and written % 2 == 0
        assert main([*common, *_served(proxy.base_url), "-o", str(output), "--resume"]) == 0
    assert output.read_text(encoding="utf-8") == reference.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [[(e["text"], e["label"], e["start"], e["end"]) for e in line["entities"]] for line in lines] == \
        gold_entities(corpus)
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text(encoding="utf-8"))
    assert meta["complete"] and meta["options"]["method"] == method
    recorded = meta["applied"]
    assert (recorded["method"], recorded["setting"], recorded["demonstrations"]) == (method, "few-shot", 1)
    assert recorded["demonstrations_from"]["path"] == str(pool) and recorded["demonstrations_from"]["sentences"] == 1
    assert recorded.get("selection") == ("random" if method == "gpt-ner" else None)
    assert meta["options"]["pool"]["sentences"] == 1
    per_sentence = sum(map(len, corpus["lists"])) if method == "gpt-ner" else len(corpus["texts"])
    assert meta["stats"]["stage1_requests"] == per_sentence  # the failed chunk's requests are not counted twice
    # another pool is another run
    other = _write_jsonl(tmp_path / "other.jsonl", tiny_corpus[:1])
    assert main([*common[:-4], "--demonstrations-from", str(other), "--chunk-size", "2", "--max-retries", "0",
                 *_served("http://127.0.0.1:9/v1"), "-o", str(output), "--resume"]) == 2
    assert "the training sentences of the demonstrations (--demonstrations-from) was" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--method", "gpt-ner", "--template", "short"], "--template only applies with --method cascadener"),
    (["--method", "promptner", "--verify"], "--verify only applies with --method gpt-ner"),
    (["--method", "promptner", "--selection", "knn"], "--selection only applies with --method gpt-ner"),
    (["--method", "cascadener", "--demonstrations", "2"], "--demonstrations only applies with --method gpt-ner"),
    (["--method", "cascadener", "--demonstrations-from", "x.jsonl"], "--method cascadener shows no demonstrations"),
    (["--method", "gpt-ner", "--classifier-model", "c"], "--classifier-model: --method gpt-ner runs one model"),
    (["--method", "promptner", "--type-lists", "cascade"], "--type-lists cascade reads the taxonomy"),
    (["--method", "gpt-ner"], "--jsonl inputs have no training split to draw demonstrations from"),
    (["--method", "gpt-ner", "--demonstrations-from", "missing.jsonl"], "does not exist"),
    (["--method", "gpt-ner", "--demonstrations", "-1"], "must be >= 0"),
])
def test_cli_refuses_what_the_method_cannot_use(argv, message, tiny_corpus, tmp_path, capsys):
    from cascadener.cli import main

    inputs = _write_jsonl(tmp_path / "in.jsonl", tiny_corpus)
    output = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit) if "-1" in argv else _no_exit():
        status = main(["predict", "--jsonl", str(inputs), "-o", str(output), *argv, *_served("http://127.0.0.1:9/v1")])
        assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not output.exists()


def test_cli_refuses_inputs_without_a_type_list_and_bad_training_sentences(tiny_corpus, tmp_path, capsys):
    from cascadener.cli import main

    inputs = _write_jsonl(tmp_path / "in.jsonl", tiny_corpus[:3], drop=("type_list",))
    status = main(["predict", "--method", "promptner", "--demonstrations", "0", "--jsonl", str(inputs),
                   "-o", str(tmp_path / "o.jsonl"), *_served("http://127.0.0.1:9/v1")])
    assert status == 2 and "sample 'tiny-0' has no type_list: --method promptner needs one" in capsys.readouterr().err
    inputs = _write_jsonl(tmp_path / "in2.jsonl", tiny_corpus[:3])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "b1", "text": "Ada .", "entities": [{"text": "Bob", "label": "x", "start": 0, "end": 3}]}\n',
                   encoding="utf-8")
    status = main(["predict", "--method", "gpt-ner", "--jsonl", str(inputs), "--demonstrations-from", str(bad),
                   "-o", str(tmp_path / "o2.jsonl"), *_served("http://127.0.0.1:9/v1")])
    err = capsys.readouterr().err
    assert status == 2 and "record 'b1': entities[0] span (0, 3) does not hold 'Bob'" in err and "Traceback" not in err
    unannotated = tmp_path / "plain.jsonl"
    unannotated.write_text('{"id": "u1", "text": "Ada ."}\n', encoding="utf-8")
    status = main(["predict", "--method", "gpt-ner", "--jsonl", str(inputs), "--demonstrations-from", str(unannotated),
                   "-o", str(tmp_path / "o3.jsonl"), *_served("http://127.0.0.1:9/v1")])
    assert status == 2 and "sample 'u1' has no gold entities" in capsys.readouterr().err


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_evaluate_and_the_leaderboard_rank_the_three_methods_together(tiny_corpus, corpus, tmp_path, capsys):
    """Each method predicts the same sentences through the scripted server, ``cascadener evaluate`` saves
    a results JSON naming the method and its setting, and the leaderboard ranks the three per task."""
    from cascadener.cli import main
    from cascadener.publishing.leaderboard import build, from_folder

    inputs = _write_jsonl(tmp_path / "in.jsonl", tiny_corpus)
    folder = tmp_path / "board"
    (folder / "results").mkdir(parents=True)
    model = ScriptedModel(corpus["gold"])
    model.off_list = set()
    with FaultProxy(respond=model) as proxy:
        for method, extra in (("cascadener", ["--off-list", "closest"]),  # the scripted server keeps no choices
                              ("gpt-ner", ["--demonstrations", "0", "--verify"]),
                              ("promptner", ["--demonstrations", "0"])):
            predictions = tmp_path / f"{method}.jsonl"
            assert main(["predict", "--method", method, *extra, "--jsonl", str(inputs), "-o", str(predictions),
                         *_served(proxy.base_url)]) == 0, capsys.readouterr().err
            assert main(["evaluate", str(predictions), "-o", str(folder / "results" / f"{method}.json")]) == 0
    capsys.readouterr()
    results = {m: json.loads((folder / "results" / f"{m}.json").read_text(encoding="utf-8"))
               for m in ("cascadener", "gpt-ner", "promptner")}
    assert {m: (r["pipeline"]["method"], r["pipeline"]["setting"]) for m, r in results.items()} == {
        "cascadener": ("cascadener-generative-closest", "fine-tuned"), "gpt-ner": ("gpt-ner-verify", "zero-shot"),
        "promptner": ("promptner", "zero-shot")}
    assert all(r["metrics"]["f1"] == 1.0 for r in results.values())  # every method scored exactly like C
    board = build(from_folder(folder)[0])
    [task] = board.tables
    assert sorted(row.entry.method for row in board.tables[task]) == [
        "cascadener-generative-closest (fine-tuned)", "gpt-ner-verify (zero-shot)", "promptner (zero-shot)"]
    assert [row.rank for row in board.tables[task]] == [1, 1, 1]
    assert main(["leaderboard", str(folder), "-o", str(tmp_path / "leaderboard")]) == 0
    shown = capsys.readouterr().out
    assert "gpt-ner-verify (zero-shot)" in shown and "promptner (zero-shot)" in shown


@pytest.mark.parametrize("method", ["cascadener", "gpt-ner", "promptner"])
@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "text": "x"}\nnot json\n', "line 2: invalid JSON"),
    ('{"id": "a"}\n', "line 1: field 'text' must be a string"),
    ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "line 2: duplicate id 'a'"),
    ('{"text": "x", "type_list": []}\n', "line 1: field 'type_list' must be a non-empty list"),
    ('{"text": "x", "entities": [{"text": "x"}]}\n', "line 1: entities[0] must be an object"),
    ('{"text": "x", "language": 7}\n', "line 1: field 'language' must be a string"),
    ('{"text": "Ada \\ud800 met Bob", "type_list": ["person"]}\n', "lone surrogate"),
])
def test_the_inputs_cascadener_refuses_every_method_refuses_the_same_way(method, content, message, tmp_path, capsys):
    from cascadener.cli import main

    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    output = tmp_path / "out.jsonl"
    assert main(["predict", "--method", method, "--jsonl", str(path), "-o", str(output),
                 *_served("http://127.0.0.1:9/v1")]) == 2  # nothing is asked: the port is closed
    err = capsys.readouterr().err
    assert err.startswith("cascadener predict: error: ") and message in err and "Traceback" not in err
    assert not output.exists()


def test_evaluate_names_the_method_of_predictions_without_a_meta_file(tiny_corpus, corpus, tmp_path, capsys):
    from cascadener.cli import main

    inputs = _write_jsonl(tmp_path / "in.jsonl", tiny_corpus)
    predictions = tmp_path / "p.jsonl"
    with FaultProxy(respond=ScriptedModel(corpus["gold"])) as proxy:
        assert main(["predict", "--method", "promptner", "--demonstrations", "0", "--jsonl", str(inputs),
                     "-o", str(predictions), *_served(proxy.base_url)]) == 0
    # the meta file names the method; --method must agree with it
    assert main(["evaluate", str(predictions), "--method", "gpt-ner", "-o", str(tmp_path / "r0.json")]) == 2
    assert "were predicted by --method promptner" in capsys.readouterr().err
    (tmp_path / "p.jsonl.meta.json").unlink()
    assert main(["evaluate", str(predictions), "--method", "promptner", "-o", str(tmp_path / "r1.json")]) == 0
    assert json.loads((tmp_path / "r1.json").read_text(encoding="utf-8"))["pipeline"]["method"] == "promptner"
