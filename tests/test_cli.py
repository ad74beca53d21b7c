"""``cascadener predict`` / ``evaluate`` / ``push-results``: outputs, resume after interruption, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from cascadener.cli import main
from cascadener.training.tiny import TinyModelOptions, create_tiny_model

_GOLD = [
    ("s1", "Ada Lovelace met Charles Babbage in London .", [("Ada Lovelace", "person"), ("London", "city")]),
    ("s2", "Paris is nice in May .", [("Paris", "city")]),
    ("s3", "", []),
    ("s4", "The Danube flows past Vienna .", [("Danube", "river"), ("Vienna", "city")]),
    ("s5", "Marie Curie lived in Warsaw .", [("Marie Curie", "person"), ("Warsaw", "city")]),
    ("s6", "Nothing here .", []),
    ("s7", "Bob met Alice .", [("Bob", "person"), ("Alice", "person")]),
]
SENTENCES = [(i, t, [[e, label, t.index(e), t.index(e) + len(e)] for e, label in ents]) for i, t, ents in _GOLD]
TYPES = ["person", "city", "river"]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli-model")
    create_tiny_model([s for _, s, _ in SENTENCES] + [" ".join(TYPES)], directory, vocab_size=400,
                      options=TinyModelOptions(hidden_size=32, intermediate_size=64, seed=1))
    return directory


def _records():
    return [{"id": i, "text": t, "type_list": TYPES,
             "entities": [{"text": e[0], "label": e[1], "start": e[2], "end": e[3]} for e in ents]}
            for i, t, ents in SENTENCES]


@pytest.fixture()
def inputs(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _records()), encoding="utf-8")
    return path


def _predict(inputs, model_dir, output, *extra):
    return main(["predict", "--jsonl", str(inputs), "--extractor", str(model_dir), "-o", str(output),
                 "--batch-size", "2", "--chunk-size", "2", "--max-new-tokens", "12", "--no-progress", *extra])


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_predict_writes_one_line_per_input_in_order(inputs, model_dir, tmp_path):
    output = tmp_path / "pred.jsonl"
    assert _predict(inputs, model_dir, output) == 0
    lines = _lines(output)
    assert [line["id"] for line in lines] == [s[0] for s in SENTENCES]
    for line, record in zip(lines, _records()):
        assert line["text"] == record["text"] and line["references"] == record["entities"]
        assert line["type_list"] == TYPES
        for entity in line["entities"]:
            assert line["text"][entity["start"]:entity["end"]] == entity["text"] and entity["label"] in TYPES
    meta = json.loads((tmp_path / "pred.jsonl.meta.json").read_text())
    assert meta["complete"] and meta["stats"]["sentences"] == len(SENTENCES)
    assert meta["source"]["revision"].startswith("sha256:") and len(meta["options"]["prompt_hash"]) == 12


@pytest.mark.slow  # starts a Python process that loads a model
def test_ctrl_c_is_one_line_and_status_130_and_resume_continues(model_dir, tmp_path):
    """SIGINT (Ctrl-C) to ``python -m cascadener predict``: no traceback, one line, exit status 130, the
    lock released; ``--resume`` then finishes the file."""
    import os
    import signal
    import time

    inputs = tmp_path / "many.jsonl"
    inputs.write_text("".join(json.dumps(dict(r, id=f"{r['id']}-{n}")) + "\n" for n in range(12)
                              for r in _records()), encoding="utf-8")
    output = tmp_path / "pred.jsonl"
    argv = ["predict", "--jsonl", str(inputs), "--extractor", str(model_dir), "-o", str(output), "--batch-size", "2",
            "--chunk-size", "2", "--max-new-tokens", "12", "--no-progress"]
    process = subprocess.Popen([sys.executable, "-m", "cascadener", *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.monotonic() + 180
        while not (output.is_file() and output.stat().st_size > 0):  # a chunk is written: mid-run
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "predict wrote nothing in 180 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("cascadener: interrupted")
    assert not output.with_name(output.name + ".lock").exists()
    written = len(_lines(output))
    assert 0 < written < 12 * len(_records())
    assert main([*argv, "--resume"]) == 0
    assert [line["id"] for line in _lines(output)] == [json.loads(line)["id"] for line in
                                                        inputs.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_resume_after_interruption_loses_and_duplicates_nothing(inputs, model_dir, tmp_path, monkeypatch):
    reference = tmp_path / "full.jsonl"
    assert _predict(inputs, model_dir, reference) == 0

    from cascadener.pipeline import CascadeNER

    original = CascadeNER.run
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    output = tmp_path / "pred.jsonl"
    monkeypatch.setattr(CascadeNER, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _predict(inputs, model_dir, output)
    monkeypatch.setattr(CascadeNER, "run", original)
    assert len(_lines(output)) == 4  # two chunks of two were written before the interruption
    # a crash mid-write leaves a torn last line: resume cuts it off
    with output.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "s5", "text": "Marie Cu')
    # without --resume the existing file is refused
    assert _predict(inputs, model_dir, output) == 2
    assert _predict(inputs, model_dir, output, "--resume") == 0
    assert output.read_text(encoding="utf-8") == reference.read_text(encoding="utf-8")
    meta = json.loads((tmp_path / "pred.jsonl.meta.json").read_text())
    assert meta["complete"] and meta["stats"]["sentences"] == len(SENTENCES)


@pytest.mark.slow
def test_resume_with_other_options_is_refused(inputs, model_dir, tmp_path, capsys):
    output = tmp_path / "pred.jsonl"
    assert _predict(inputs, model_dir, output) == 0
    assert _predict(inputs, model_dir, output, "--resume", "--classification", "constrained") == 2
    assert "options differ" in capsys.readouterr().err


@pytest.mark.slow
def test_interrupted_subprocess_resumes(inputs, model_dir, tmp_path):
    """A real process killed mid-run (SIGKILL after its first chunk) resumes to the full output."""
    import signal
    import time

    output = tmp_path / "pred.jsonl"
    command = [sys.executable, "-m", "cascadener", "predict", "--jsonl", str(inputs), "--extractor", str(model_dir),
               "-o", str(output), "--batch-size", "1", "--chunk-size", "1", "--max-new-tokens", "12", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if output.exists() and output.read_text(encoding="utf-8").count("\n") >= 2:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait(timeout=60)
    written = output.read_text(encoding="utf-8").count("\n")
    assert 1 <= written <= len(SENTENCES)
    assert main(["predict", "--jsonl", str(inputs), "--extractor", str(model_dir), "-o", str(output),
                 "--batch-size", "1", "--chunk-size", "1", "--max-new-tokens", "12", "--no-progress", "--resume"]) == 0
    ids = [line["id"] for line in _lines(output)]
    assert ids == [s[0] for s in SENTENCES]


@pytest.mark.slow
@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "text": "x"}\nnot json\n', "line 2: invalid JSON"),
        ('{"id": "a"}\n', "line 1: field 'text' must be a string"),
        ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "line 2: duplicate id 'a'"),
        ('{"text": "x", "type_list": []}\n', "line 1: field 'type_list' must be a non-empty list"),
        ('{"text": "x", "entities": [{"text": "x"}]}\n', "line 1: entities[0] must be an object"),
        ('{"text": "x"}\n["x"]\n', "line 2: expected a JSON object"),
        ('{"text": "x", "language": 7}\n', "line 1: field 'language' must be a string"),
    ],
)
def test_bad_jsonl_input(tmp_path, model_dir, capsys, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    assert _predict(path, model_dir, tmp_path / "out.jsonl") == 2
    err = capsys.readouterr().err
    assert err.startswith("cascadener predict: error: ")
    assert message in err and str(path) in err


@pytest.mark.slow
def test_bad_arguments(tmp_path, model_dir, inputs, capsys):
    assert _predict(tmp_path / "missing.jsonl", model_dir, tmp_path / "o.jsonl") == 2
    assert "does not exist" in capsys.readouterr().err
    assert _predict(inputs, tmp_path / "no-model", tmp_path / "o.jsonl") == 2
    assert "cannot load the model" in capsys.readouterr().err
    assert _predict(inputs, model_dir, tmp_path / "nowhere" / "o.jsonl") == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--extractor", "m", "-o", "x"])  # no source
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["predict", "--jsonl", str(inputs), "--extractor", "m", "-o", "x", "--batch-size", "0"])
    assert "must be >= 1" in capsys.readouterr().err
    assert main([]) == 2


@pytest.mark.slow
def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "cascadener", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for command in ("predict", "evaluate", "push-results"):
        assert command in result.stdout


@pytest.mark.slow
def test_evaluate_matches_the_scorer_and_saves_results(inputs, model_dir, tmp_path, capsys):
    from dynamicner_f1.scorer import score_spans

    output = tmp_path / "pred.jsonl"
    assert _predict(inputs, model_dir, output) == 0
    # replace every (random-model) prediction with known ones: the scores must not depend on what an
    # untrained model writes about these sentences
    lines = _lines(output)
    for line in lines:
        line["entities"] = []
    lines[0]["entities"] = [{"text": "Ada Lovelace", "label": "person", "start": 0, "end": 12, "score": 0.9},
                            {"text": "Charles", "label": "city", "start": 17, "end": 24, "score": 0.2}]
    lines[1]["entities"] = [{"text": "Paris", "label": "city", "start": 0, "end": 5, "score": 0.8}]
    output.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", str(output), "-o", str(tmp_path / "results.json")]) == 0
    printed = capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    expected = score_spans([l["entities"] for l in lines], [l["references"] for l in lines],
                           type_lists=[l["type_list"] for l in lines])
    assert results["metrics"] == pytest.approx(expected)
    assert results["metrics"]["precision"] == pytest.approx(2 / 3)
    assert results["metrics"]["recall"] == pytest.approx(2 / 9)
    # every score a person reads: percent with two decimals, the kit's one rounding
    assert re.search(r"^precision\s+66\.67$", printed, re.M) and re.search(r"^recall\s+22\.22$", printed, re.M), printed
    assert "\n3 predicted, 9 gold entities\n" in printed, printed
    assert results["dataset"]["revision"].startswith("sha256:")
    assert results["metric"]["name"] == "dynamicner_f1" and results["metric"]["version"]
    assert len(results["prompt"]["hash"]) == 12 and results["model"]["extractor"] == str(model_dir)


@pytest.mark.slow
def test_evaluate_with_separate_references_counts_missing(inputs, model_dir, tmp_path, capsys):
    output = tmp_path / "pred.jsonl"
    assert _predict(inputs, model_dir, output) == 0
    lines = _lines(output)[:-2]  # two sentences never predicted
    for line in lines:
        del line["references"]
    output.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert main(["evaluate", str(output)]) == 2
    assert "no 'references'" in capsys.readouterr().err
    assert main(["evaluate", str(output), "--jsonl", str(inputs), "-o", str(tmp_path / "r.json")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["counts"]["missing_predictions"] == 2
    assert results["metrics"]["num_references"] == sum(len(s[2]) for s in SENTENCES)


def test_evaluate_bad_files(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "none.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"id": "a", "text": "x", "entities": []}\n{"id": "b", "te', encoding="utf-8")
    assert main(["evaluate", str(torn)]) == 2
    assert "line 2: invalid JSON" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x", "entities": [], "references": [{"text": "y", "label": "p", '
                   '"start": 0, "end": 1}]}\n', encoding="utf-8")
    assert main(["evaluate", str(bad)]) == 2
    assert "scoring failed" in capsys.readouterr().err
    blank = tmp_path / "blank.jsonl"  # a blank line: the error names the prediction's id, not a position
    blank.write_text('\n{"id": "a", "text": "x", "entities": []}\n', encoding="utf-8")
    assert main(["evaluate", str(blank)]) == 2
    assert f"{blank}: prediction 'a' has no 'references' list" in capsys.readouterr().err
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "a", "text": "x", "entities": [], "references": []}\n', encoding="utf-8")
    (tmp_path / "good.jsonl.meta.json").write_text("{not json", encoding="utf-8")
    assert main(["evaluate", str(good)]) == 2
    assert "good.jsonl.meta.json (written by cascadener predict) is not valid JSON" in capsys.readouterr().err
    (tmp_path / "good.jsonl.meta.json").unlink()
    assert main(["evaluate", str(good), "--hierarchical", "--taxonomy", str(tmp_path / "none.json"),
                 "-o", str(tmp_path / "r.json")]) == 2
    assert "none.json" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_evaluate_push_results_dry_run(inputs, model_dir, tmp_path, capsys, monkeypatch):
    secret = "hf_" + "x" * 34
    monkeypatch.setenv("HF_TOKEN", secret)
    output = tmp_path / "pred.jsonl"
    assert _predict(inputs, model_dir, output, "--classification", "constrained") == 0
    assert main(["evaluate", str(output), "-o", str(tmp_path / "results.json")]) == 0
    card_dir = tmp_path / "card"
    assert main(["push-results", str(tmp_path / "results.json"), "--model-id", "me/tiny-cascadener",
                 "--benchmark-id", "me/DynamicNER", "--results-repo", "me/results", "--dry-run", "--output-dir", str(card_dir)]) == 0
    captured = capsys.readouterr()
    from huggingface_hub import ModelCard

    from cascadener.publishing.results import percent

    card = ModelCard.load(card_dir / "README.md")
    results = json.loads((tmp_path / "results.json").read_text())
    f1 = [r for r in card.data.eval_results if r.metric_type == "f1"][0]
    assert f1.metric_value == percent(results["metrics"]["f1"])  # percent, two decimals
    assert results["dataset"]["revision"].startswith("sha256:") and f1.dataset_revision is None  # a file hash: no commit
    assert results["coverage"]["sentences_predicted"] == results["coverage"]["sentences_in_split"]
    [json_file] = (card_dir / "results").iterdir()
    assert json_file.name == f"{results['run_id']}.json"
    uploaded = json.loads(json_file.read_text())
    assert uploaded["model"]["id"] == "me/tiny-cascadener"  # the model as published, the scored identity kept
    assert uploaded["model"]["local"] == {"id": results["model"]["id"], "revision": results["model"]["revision"]}
    assert {k: v for k, v in uploaded.items() if k != "model"} == {k: v for k, v in results.items() if k != "model"}
    written = "".join(p.read_text() for p in card_dir.rglob("*") if p.is_file())
    assert secret not in written and secret not in captured.out + captured.err


@pytest.mark.slow
def test_predict_from_builder_config(model_dir, tmp_path):
    pytest.importorskip("dynamicner")
    output = tmp_path / "pred.jsonl"
    assert main(["predict", "--dataset", "en", "--split", "test", "--limit", "3", "--extractor", str(model_dir),
                 "-o", str(output), "--max-new-tokens", "4", "--no-progress"]) == 0
    lines = _lines(output)
    assert len(lines) == 3 and all(line["type_list"] and line["references"] is not None for line in lines)
    meta = json.loads((tmp_path / "pred.jsonl.meta.json").read_text())
    assert meta["source"]["config"] == "en" and meta["source"]["revision"].startswith("builder-")
    assert main(["predict", "--dataset", "xx", "--extractor", str(model_dir), "-o", str(tmp_path / "o.jsonl")]) == 2


@pytest.mark.slow
def test_predict_real_geic_file_with_its_taxonomy(shared_data, model_dir, tmp_path):
    """The authors' CoNLL-2003 GEIC file: gold placed on the sentences, the cascade over its own taxonomy."""
    output = tmp_path / "pred.jsonl"
    assert main(["predict", "--geic", str(shared_data / "geic" / "conll2003-test.json"),
                 "--taxonomy", str(shared_data / "taxonomy" / "conll2003.json"), "--limit", "6",
                 "--extractor", str(model_dir), "-o", str(output), "--max-new-tokens", "4", "--no-progress"]) == 0
    raw = json.loads((shared_data / "geic" / "conll2003-test.json").read_text(encoding="utf-8"))
    lines = _lines(output)
    assert [line["id"] for line in lines] == list(raw)[:6]
    for line in lines:
        gold = raw[line["id"]]
        assert line["text"] == gold["sentence"] and line["type_list"] is None
        assert [r["text"] for r in line["references"]] == gold["entity"]
        for reference in line["references"]:
            if reference["start"] >= 0:
                assert line["text"][reference["start"]:reference["end"]] == reference["text"]


@pytest.mark.slow
def test_predict_from_a_parquet_dataset_folder(model_dir, tmp_path):
    """--hf-dataset goes through datasets.load_dataset (here a local Parquet folder, as the Hub serves it)."""
    import datasets

    folder = tmp_path / "ds"
    folder.mkdir()
    rows = [{"id": r["id"], "text": r["text"], "type_list": r["type_list"],
             "entities": [dict(e, path=[]) for e in r["entities"]]} for r in _records()]
    datasets.Dataset.from_list(rows).to_parquet(str(folder / "test.parquet"))
    output = tmp_path / "pred.jsonl"
    assert main(["predict", "--hf-dataset", str(folder), "--split", "test", "--extractor", str(model_dir),
                 "-o", str(output), "--max-new-tokens", "4", "--no-progress"]) == 0
    lines = _lines(output)
    assert [line["id"] for line in lines] == [r["id"] for r in rows]
    assert lines[0]["references"][0]["text"] == rows[0]["entities"][0]["text"]
    assert main(["predict", "--hf-dataset", str(folder), "--split", "validation", "--extractor", str(model_dir),
                 "-o", str(tmp_path / "o.jsonl"), "--no-progress"]) == 2


def test_evaluate_hierarchical_scores(tmp_path, capsys):
    path = tmp_path / "pred.jsonl"
    text = "Oslo is far from Lima ."
    line = {"id": "a", "text": text, "type_list": None,
            "entities": [{"text": "Oslo", "label": "city", "start": 0, "end": 4},
                         {"text": "Lima", "label": "sovereign state", "start": 17, "end": 21}],
            "references": [{"text": "Oslo", "label": "city", "start": 0, "end": 4},
                           {"text": "Lima", "label": "city", "start": 17, "end": 21}]}
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert main(["evaluate", str(path), "--hierarchical", "-o", str(tmp_path / "r.json")]) == 0
    metrics = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert metrics["f1"] == pytest.approx(0.5)
    # city and sovereign state share their first two levels: partial credit
    assert 0.5 < metrics["hierarchical_f1"] < 1.0
    assert "hierarchical_f1" in capsys.readouterr().out


@pytest.mark.slow
def test_type_lists_cascade_ignores_input_lists(inputs, model_dir, tmp_path, monkeypatch):
    from cascadener.pipeline import CascadeNER

    seen = []
    original = CascadeNER.run

    def spy(self, texts, type_lists=None, **kwargs):
        seen.extend(type_lists)
        assert kwargs["options"].taxonomy is not None and kwargs["options"].taxonomy.name == "toy"
        return original(self, texts, type_lists, **kwargs)

    taxonomy = tmp_path / "toy.json"
    taxonomy.write_text(json.dumps({"dataset": "toy", "first-level": "person, place"}), encoding="utf-8")
    monkeypatch.setattr(CascadeNER, "run", spy)
    assert _predict(inputs, model_dir, tmp_path / "p.jsonl", "--type-lists", "cascade", "--taxonomy", str(taxonomy)) == 0
    assert seen == [None] * len(SENTENCES)
    assert all(line["type_list"] is None for line in _lines(tmp_path / "p.jsonl"))
