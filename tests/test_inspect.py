"""The Inspect AI task ``cascadener/dynamicner``: found by name, offline, scored like ``cascadener evaluate``.

Every test here runs Inspect (importing inspect-ai takes ~5 s; a subprocess or a model takes
more), so the module is slow; the scores' own helpers are tested in the fast loop
(``test_inspect_scoring.py``). Scripted answers come from one function of the prompt
(:func:`answer`), given to Inspect's ``mockllm/model`` in Python, to a loopback server for
``cascadener predict``, and as a file to the tests' scripted provider on the command line
(``tests/fixtures/inspect/scripted_provider``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inspect"
_STAGE2 = re.compile(r'^The ##(?P<mention>.+?)## in the sentence: "(?P<sentence>.*)" belong to which entity in the '
                     r"first list: (?P<types>.*)\?$", re.S)


def _rows(config: str, data_dir: str | None = None) -> list[dict]:
    """The test split of a builder config, read directly (not through the task)."""
    from dynamicner_data.builder import prepare

    return [dict(row) for row in prepare(config, data_dir=data_dir).as_dataset(split="test")]


def answer(prompt: str, rows: list[dict]) -> str:
    """The scripted model: stage 1 marks the gold entities but every third one, plus the first word
    outside them in sentences of even length (an invented entity); stage 2 answers the gold label,
    but a wrong choice of the list for mentions whose length is a multiple of 3 and an off-list
    answer for lengths that are multiples of 5 (the chain takes the closest choice)."""
    from cascadener.prompts import mark_entities

    by_text = {row["text"]: row for row in rows}
    asked = _STAGE2.match(prompt)
    if asked is None:
        row = by_text[prompt]
        spans = [(e["start"], e["end"]) for i, e in enumerate(row["entities"]) if i % 3 != 2]
        if len(prompt) % 2 == 0:
            free = next((m.span() for m in re.finditer(r"\w+", prompt)
                         if not any(s < m.end() and m.start() < e for s, e in
                                    [(x["start"], x["end"]) for x in row["entities"]])), None)
            spans += [free] if free else []
        return mark_entities(prompt, sorted(spans))
    row, mention = by_text[asked["sentence"]], asked["mention"]
    gold = next((e["label"] for e in row["entities"] if e["text"] == mention), None)
    if gold is None or len(mention) % 3 == 0:
        return next(t for t in row["type_list"] if t != gold)
    if len(mention) % 5 == 0:
        return "no such type at all"
    return gold


def _mock_model(rows: list[dict]):
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    def respond(messages, tools, tool_choice, config) -> ModelOutput:
        text = answer(messages[-1].text, rows)
        output = ModelOutput.from_content(model="mockllm", content=text)
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)  # no tiktoken estimate
        return output

    return get_model("mockllm/model", custom_outputs=respond)


def _inspect_command() -> list[str]:
    """The ``inspect`` command of this interpreter: its console script beside it, or the module the
    script runs (a virtualenv layered on another holds the script in the base's bin)."""
    script = Path(sys.executable).with_name("inspect")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "inspect_ai"]


def _offline_env(*paths: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_COLOR="1",
               PYTHONPATH=os.pathsep.join(str(p) for p in paths), COLUMNS="120")
    return env


def _metrics(log) -> dict[str, float]:
    (score,) = log.results.scores
    assert score.name == "dynamicner_f1"
    return {name: value.value for name, value in score.metrics.items()}


def test_task_scores_equal_cascadener_predict_then_evaluate(tmp_path, capsys):
    """The same scripted model answers Inspect (mockllm) and ``cascadener predict`` (a loopback
    server): the task predicts the same entities for every sample (same prompts, parsing and
    stage-2 chain), and its F1, precision and recall equal ``cascadener evaluate``'s on them."""
    from inspect_ai import eval as inspect_eval
    from loopback import FaultProxy

    from cascadener.cli import main
    from cascadener.integrations.inspect_task import dynamicner
    from cascadener.publishing.results import format_percent, percent

    rows = _rows("en")
    (log,) = inspect_eval(dynamicner(config="en"), model=_mock_model(rows), display="none", log_dir=str(tmp_path / "logs"))
    assert log.status == "success", log.error
    assert log.eval.task == "cascadener/dynamicner" and log.eval.metadata["task_id"] == "dynamic-en"
    by_id = {sample.id: sample for sample in log.samples}
    assert list(by_id) == [row["id"] for row in rows]

    def respond(body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        # the server's probe asks an unrelated question first: any answer does
        text = "The sea is wide." if prompt == "Write one sentence about the sea." else answer(prompt, rows)
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    predictions = tmp_path / "predictions.jsonl"
    with FaultProxy(respond=respond) as server:
        assert main(["predict", "--dataset", "en", "--split", "test", "--backend", "openai", "--base-url",
                     server.base_url, "--model", "scripted", "--server-constraints", "none", "--off-list", "closest",
                     "--no-progress",
                     "-o", str(predictions)]) == 0
    lines = [json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        assert by_id[line["id"]].store["entities"] == line["entities"], line["id"]
    stats = [sample.store["stats"] for sample in log.samples]
    assert sum(s["off_list_answers"] for s in stats) > 0 and sum(s["mentions"] for s in stats) > 0

    capsys.readouterr()
    assert main(["evaluate", str(predictions), "-o", str(tmp_path / "results.json")]) == 0
    printed = capsys.readouterr().out
    evaluated = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["metrics"]
    metrics = _metrics(log)
    for key in ("f1", "precision", "recall"):
        assert metrics[key] == percent(evaluated[key])
        assert re.search(rf"^{key}\s+{re.escape(format_percent(evaluated[key]))}$", printed, re.M), printed
    assert 0 < metrics["f1"] < 100
    assert metrics["true_positives"] + metrics["false_positives"] == evaluated["num_predictions"]
    assert metrics["true_positives"] + metrics["false_negatives"] == evaluated["num_references"]
    assert min(metrics["true_positives"], metrics["false_positives"], metrics["false_negatives"]) > 0


def test_eval_yaml_names_the_tasks_own_solver_and_scorer():
    """``eval.yaml`` (framework inspect-ai) names the packaged task's solver and scorer by the names
    Inspect registered them under, with the scorer's headline matching."""
    import inspect as python_inspect

    from inspect_ai.util import registry_info

    from cascadener.integrations.inspect_task import dynamicner_f1, predict_entities
    from dynamicner_data.eval_yaml import inspect_fields

    fields = inspect_fields()
    assert [solver["name"] for solver in fields["solvers"]] == [registry_info(predict_entities).name]
    (scorer,) = fields["scorers"]
    assert scorer["name"] == registry_info(dynamicner_f1).name
    assert scorer["args"]["matching"] == python_inspect.signature(dynamicner_f1).parameters["matching"].default


def test_task_refuses_options_it_cannot_use():
    """A bad option stops the task before any sample runs, naming the option and what it takes."""
    from inspect_ai._util.error import PrerequisiteError

    from cascadener.integrations.inspect_task import dynamicner

    for options, message in [({"config": "xx"}, "config 'xx' is not a DynamicNER config"),
                             ({"config": False}, "config False is not a DynamicNER config"),
                             ({"split": "dev2"}, "has no split 'dev2'"),
                             ({"method": "gpt-3"}, "unknown method 'gpt-3'"),
                             ({"classification": "constrained"}, "keeps no answer to a list of choices"),
                             ({"classification": "guess"}, "unknown classification mode 'guess'"),
                             ({"matching": "fuzzy"}, "matching 'fuzzy' is not one of strict")]:
        with pytest.raises(PrerequisiteError, match=re.escape(message)):
            dynamicner(**options)


def test_inspect_eval_command_runs_offline_on_mockllm(tmp_path):
    """``inspect eval cascadener/dynamicner --model mockllm/model --limit 3``, as typed, in a fresh
    process: the task is found by name through the package's entry point (a regular install names it
    from site-packages, an editable one from its registration) and its log holds the DynamicNER F1.
    mockllm's default answer marks no entity: every reference of the 3 sentences is missed.

    Offline, ``tests/fixtures/inspect/offline_tiktoken`` gives tiktoken's ``o200k_base`` vocabulary
    (mockllm's token estimate downloads it otherwise); it changes only the logged token counts."""
    from inspect_ai.log import list_eval_logs, read_eval_log

    done = subprocess.run([*_inspect_command(), "eval", "cascadener/dynamicner", "--model", "mockllm/model",
                           "--limit", "3"], cwd=tmp_path, env=_offline_env(FIXTURES / "offline_tiktoken"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"^f1\s+0\.000", done.stdout, re.M), done.stdout
    (location,) = list_eval_logs(str(tmp_path / "logs"))
    log = read_eval_log(location)
    assert log.status == "success" and log.eval.task == "cascadener/dynamicner"
    assert [sample.id for sample in log.samples] == [row["id"] for row in _rows("all")[:3]]
    gold = sum(len(row["entities"]) for row in _rows("all")[:3])
    assert _metrics(log) == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "true_positives": 0,
                             "false_positives": 0, "false_negatives": gold}


def test_inspect_eval_command_takes_task_options_and_a_scripted_model(tmp_path):
    """On the command line, ``-T`` options reach the task and a scripted provider (registered by the
    tests' own entry point) answers: perfect answers but one wrong label give exactly one false
    positive and one false negative, under the matching asked for."""
    from inspect_ai.log import list_eval_logs, read_eval_log

    from cascadener.prompts import cascade_prompt, mark_entities

    rows = _rows("de")[:3]
    script = {row["text"]: mark_entities(row["text"], [(e["start"], e["end"]) for e in row["entities"]])
              for row in rows}
    for row in rows:
        for entity in row["entities"]:
            prompt = cascade_prompt(entity["text"], row["text"], tuple(dict.fromkeys(row["type_list"])), level=1,
                                    template="released", start=entity["start"], end=entity["end"])
            script[prompt] = entity["label"]
    wrong = cascade_prompt(rows[0]["entities"][0]["text"], rows[0]["text"], tuple(dict.fromkeys(rows[0]["type_list"])),
                           level=1, template="released", start=rows[0]["entities"][0]["start"],
                           end=rows[0]["entities"][0]["end"])
    script[wrong] = next(t for t in rows[0]["type_list"] if t != rows[0]["entities"][0]["label"])
    (tmp_path / "script.json").write_text(json.dumps(script, ensure_ascii=False), encoding="utf-8")

    done = subprocess.run([*_inspect_command(), "eval", "cascadener/dynamicner", "-T", "config=de", "-T",
                           "matching=partial", "--model", "scripted/answers", "-M", "script=script.json", "--limit",
                           "3", "--log-dir", "logs"], cwd=tmp_path,
                          env=_offline_env(FIXTURES / "scripted_provider"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = read_eval_log(list_eval_logs(str(tmp_path / "logs"))[0])
    assert log.eval.task_args["config"] == "de" and log.eval.task_args["matching"] == "partial"
    assert all("partial matching" in sample.scores["dynamicner_f1"].explanation for sample in log.samples)
    gold = sum(len(row["entities"]) for row in rows)
    metrics = _metrics(log)
    assert (metrics["true_positives"], metrics["false_positives"], metrics["false_negatives"]) == (gold - 1, 1, 1)


def test_hf_provider_runs_the_task_on_the_memorised_model(tiny_cascade, tiny_corpus, memorised_release, tmp_path,
                                                          capsys):
    """Inspect's local transformers provider (``hf/``) runs the task on the tiny model, on the
    sentences it memorised: stage 1 finds every gold span exactly, every label is one of the
    sentence's list, and the F1 equals ``cascadener evaluate`` on the logged predictions."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    from cascadener.cli import main
    from cascadener.integrations.inspect_task import dynamicner
    from cascadener.publishing.results import percent

    model = get_model("hf/tiny-cascade", model_path=str(tiny_cascade.extractor), device="cpu", do_sample=False)
    (log,) = inspect_eval(dynamicner(config="en", data_dir=str(memorised_release)), model=model, display="none",
                          log_dir=str(tmp_path / "logs"))
    assert log.status == "success", log.error
    english = [r for r in tiny_corpus if r["language"] == "en"]
    assert len(log.samples) == len(english)
    lines = []
    for sample in log.samples:
        gold = json.loads(sample.target)
        predicted = sample.store["entities"]
        assert [(e["start"], e["end"]) for e in predicted] == [(e["start"], e["end"]) for e in gold], sample.id
        assert all(e["label"] in sample.metadata["type_list"] for e in predicted)
        lines.append(json.dumps({"id": sample.id, "text": sample.input, "type_list": sample.metadata["type_list"],
                                 "entities": predicted, "references": gold}))
    predictions = tmp_path / "hf.jsonl"
    predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["evaluate", str(predictions), "-o", str(tmp_path / "hf.results.json")]) == 0
    evaluated = json.loads((tmp_path / "hf.results.json").read_text(encoding="utf-8"))["metrics"]
    assert evaluated["extraction_f1"] == 1.0
    assert _metrics(log)["f1"] == percent(evaluated["f1"])


def test_backend_primitives_send_the_decoding_asked_for_and_read_back_answers():
    """``InspectBackend.generate`` from a worker thread: one request per prompt and sample, each with
    its budget, greedy as temperature 0 or sampled with the seeds seed, seed + 1, ...; logprobs asked
    for scored answers and summed; a cut answer is unfinished; usage counted as the provider reports."""
    import anyio
    from inspect_ai.model import ChatCompletionChoice, ChatMessageAssistant, Logprob, Logprobs, ModelOutput, \
        ModelUsage, get_model

    from cascadener.backends.base import GenerationOptions, Usage
    from cascadener.integrations.inspect_backend import InspectBackend, run_in_worker
    from cascadener.prompts import SYSTEM_PROMPT

    seen = []

    def respond(messages, tools, tool_choice, config) -> ModelOutput:
        seen.append(([(m.role, m.text) for m in messages], config))
        text = messages[-1].text.upper()
        choice = ChatCompletionChoice(message=ChatMessageAssistant(content=text),
                                      stop_reason="max_tokens" if text == "CUT" else "stop",
                                      logprobs=Logprobs(content=[Logprob(token=text, logprob=-0.25),
                                                                 Logprob(token="", logprob=-0.5)]))
        return ModelOutput(model="mockllm", choices=[choice],
                           usage=ModelUsage(input_tokens=3, output_tokens=2, total_tokens=5))

    backend = InspectBackend(get_model("mockllm/model", custom_outputs=respond))
    usage = Usage()

    async def run():
        greedy = await run_in_worker(backend.generate, ["ada", "cut"], max_new_tokens=[5, 9],
                                     options=GenerationOptions(with_scores=True), usage=usage)
        sampled = await run_in_worker(backend.generate, ["bob"], max_new_tokens=[4], seed=7, usage=usage,
                                      options=GenerationOptions(do_sample=True, temperature=0.5, top_p=0.9,
                                                                num_return_sequences=3))
        return greedy, sampled

    greedy, sampled = anyio.run(run)
    assert [[(g.text, g.finished, g.logprob) for g in answers] for answers in greedy] == [
        [("ADA", True, -0.75)], [("CUT", False, -0.75)]]
    assert [g.text for g in sampled[0]] == ["BOB"] * 3
    assert all(messages == [("system", SYSTEM_PROMPT), ("user", prompt)]
               for (messages, _), prompt in zip(seen, ["ada", "cut", "bob", "bob", "bob"]))
    greedy_configs = sorted((c.max_tokens, c.temperature, c.seed, c.logprobs) for _, c in seen[:2])
    assert greedy_configs == [(5, 0.0, 0, True), (9, 0.0, 0, True)]
    assert sorted((c.max_tokens, c.temperature, c.top_p, c.seed, c.logprobs) for _, c in seen[2:]) == [
        (4, 0.5, 0.9, 7, None), (4, 0.5, 0.9, 8, None), (4, 0.5, 0.9, 9, None)]
    assert usage == Usage(requests=5, prompt_tokens=15, completion_tokens=10)
