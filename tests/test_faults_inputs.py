"""Faults in what the commands read: text that is not Unicode, Unicode line breaks inside JSON
Lines, model folders whose weights are corrupt, other spellings of the same data files.

Each bad input is refused before any model work, with one line naming the file, the line and the
field (no traceback); each valid but unusual input goes through every reader unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dynamicner_data
from cascadener.cli import main

ROOT = Path(dynamicner_data.__file__).resolve().parents[1]
TYPES = ["person", "city"]
# every character Python's str.splitlines() breaks a line at: what a reader that splits with
# splitlines() would cut a JSON line at, although JSON allows these raw inside a string (or
# escapes them); JSON Lines separates records with "\n" only
LINE_BREAKS = [chr(code) for code in range(0x110000) if len(f"a{chr(code)}b".splitlines()) == 2]


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _one_line_error(err: str, command: str) -> str:
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"cascadener {command}: error: "), err
    return line


def test_line_break_characters_are_the_unicode_ones():
    assert LINE_BREAKS == ["\n", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


# ------------------------------------------------------------------------ lone surrogates


def _surrogate_records():
    return [{"id": "a", "text": "Ada met Bob .", "type_list": TYPES},
            {"id": "b", "text": "Bob saw \ud83d in Paris .", "type_list": TYPES}]


def test_lone_surrogate_in_predict_input_is_refused_before_any_model_work(tmp_path, capsys):
    inputs = tmp_path / "in.jsonl"
    # json.dumps escapes the lone surrogate as \ud83d: valid JSON, not valid Unicode text
    inputs.write_text("".join(json.dumps(r) + "\n" for r in _surrogate_records()), encoding="utf-8")
    assert "\\ud83d" in inputs.read_text(encoding="utf-8")
    output = tmp_path / "pred.jsonl"
    # "owner/model" is a Hub id that cannot be loaded offline: the input is refused before loading
    assert main(["predict", "--jsonl", str(inputs), "--extractor", "owner/model", "-o", str(output)]) == 2
    line = _one_line_error(capsys.readouterr().err, "predict")
    assert line == (f"cascadener predict: error: {inputs}, line 2: field 'text' holds a lone surrogate "
                    "'\\ud83d' at character 8, which is not Unicode text (half of a cut emoji?); "
                    "fix or remove it")
    assert not output.exists()


@pytest.mark.parametrize("field, change", [
    ("'type_list'[1]", lambda r: r.update(type_list=["person", "ci\udc00ty"])),
    ("'id'", lambda r: r.update(id="b\ud800")),
    ("'entities'[0]['text']", lambda r: r.update(entities=[{"text": "\udfff", "label": "city", "start": 0,
                                                            "end": 1}])),
])
def test_lone_surrogate_in_any_field_is_named(tmp_path, capsys, field, change):
    records = _surrogate_records()
    records[1]["text"] = "Bob saw Paris ."
    change(records[1])
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert main(["predict", "--jsonl", str(inputs), "--extractor", "owner/model", "-o",
                 str(tmp_path / "pred.jsonl")]) == 2
    line = _one_line_error(capsys.readouterr().err, "predict")
    assert f"{inputs}, line 2: field {field} holds a lone surrogate" in line


def test_lone_surrogate_in_predictions_or_training_data_is_refused(tmp_path, capsys):
    predictions = tmp_path / "pred.jsonl"
    record = {"id": "a", "text": "Paris .", "entities": [],
              "references": [{"text": "Paris", "label": "ci\ud83dty", "start": 0, "end": 5}]}
    predictions.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert main(["evaluate", str(predictions), "-o", str(tmp_path / "r.json")]) == 2
    line = _one_line_error(capsys.readouterr().err, "evaluate")
    assert f"{predictions}, line 1: field 'references'[0]['label'] holds a lone surrogate" in line
    assert not (tmp_path / "r.json").exists()
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(dict(r, entities=[])) + "\n" for r in _surrogate_records()),
                     encoding="utf-8")
    assert main(["train", "--jsonl", str(train), "-o", str(tmp_path / "model"), "--no-progress"]) == 2
    line = _one_line_error(capsys.readouterr().err, "train")
    assert f"{train}, line 2: field 'text' holds a lone surrogate" in line
    assert not (tmp_path / "model").exists() or list((tmp_path / "model").iterdir()) == []


def test_lone_surrogate_in_a_geic_input_is_refused_naming_the_sample(tmp_path, capsys):
    geic = tmp_path / "in.json"
    geic.write_text(json.dumps({"s1": {"sentence": "Ana lives in Lima .", "entity": ["Lima"], "category": ["city"]},
                                "s2": {"sentence": "Ana \ud83d lives in Lima .", "entity": ["Lima"],
                                       "category": ["city"]}}), encoding="utf-8")
    assert main(["predict", "--geic", str(geic), "--extractor", "owner/model", "-o", str(tmp_path / "p.jsonl")]) == 2
    line = _one_line_error(capsys.readouterr().err, "predict")
    assert f"{geic}: sample 's2': field 'sentence' holds a lone surrogate '\\ud83d' at character 4" in line


# ------------------------------------------------------------------------ Unicode line breaks


def test_jsonl_readers_split_records_on_newline_only(tmp_path, capsys):
    """Raw U+2028, U+0085... inside a JSON string (predict writes them raw) stay in the string."""
    texts = [f"Paris{brk}is nice ." for brk in LINE_BREAKS]
    records = [{"id": f"s{k}", "text": text, "type_list": TYPES, "entities": [],
                "references": [{"text": "Paris", "label": "city", "start": 0, "end": 5}]}
               for k, text in enumerate(texts)]
    predictions = _write_jsonl(tmp_path / "pred.jsonl", records)
    raw = predictions.read_text(encoding="utf-8")
    assert "\u2028" in raw and "\x85" in raw and raw.count("\n") == len(records)
    results = tmp_path / "results.json"
    assert main(["evaluate", str(predictions), "-o", str(results), "--labels", "0"]) == 0
    saved = json.loads(results.read_text(encoding="utf-8"))
    assert saved["counts"]["sentences"] == len(records) and saved["metrics"]["num_references"] == len(records)
    # and the references read from a separate JSONL file, the same way
    references = _write_jsonl(tmp_path / "refs.jsonl", [{k: r[k] for k in ("id", "text", "type_list")}
                                                        | {"entities": r["references"]} for r in records])
    assert main(["evaluate", str(predictions), "--jsonl", str(references), "-o", str(results), "--labels", "0"]) == 0
    assert json.loads(results.read_text(encoding="utf-8"))["counts"]["missing_predictions"] == 0


def _interrupt_after(monkeypatch, calls: int):
    from cascadener.pipeline import CascadeNER

    original = CascadeNER.run
    seen = {"n": 0}

    def interrupted(self, *args, **kwargs):
        seen["n"] += 1
        if seen["n"] > calls:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CascadeNER, "run", interrupted)


@pytest.mark.slow
def test_every_unicode_line_break_round_trips_through_predict_resume_and_evaluate(
        untrained_tiny, tmp_path, capsys, monkeypatch):
    breaks = [*LINE_BREAKS, "\r\n"]
    texts = [f"Ada met Bob{brk}in Rome{brk}." for brk in breaks]
    records = [{"id": f"s{k}", "text": text, "type_list": TYPES,
                "entities": [{"text": "Rome", "label": "city", "start": text.index("Rome"),
                              "end": text.index("Rome") + 4}]}
               for k, text in enumerate(texts)]
    inputs = _write_jsonl(tmp_path / "in.jsonl", records)

    def predict(output, *extra):
        return main(["predict", "--jsonl", str(inputs), "--extractor", str(untrained_tiny), "-o", str(output),
                     "--batch-size", "2", "--chunk-size", "2", "--max-new-tokens", "8", "--no-progress", *extra])

    reference = tmp_path / "reference.jsonl"
    assert predict(reference) == 0
    written = reference.read_text(encoding="utf-8")
    assert "\u2028" in written and "\u2029" in written and "\x85" in written  # written raw
    lines = written.split("\n")
    assert lines[-1] == "" and [json.loads(line)["text"] for line in lines[:-1]] == [r["text"] for r in records]
    # a resumed run keeps the whole chunks already written, whatever their texts hold
    output = tmp_path / "pred.jsonl"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 5)  # 10 of 11 sentences: the raw U+0085, U+2028, U+2029 included
        with pytest.raises(KeyboardInterrupt):
            predict(output)
    assert predict(output, "--resume") == 0
    assert output.read_bytes() == reference.read_bytes()
    capsys.readouterr()
    results = tmp_path / "results.json"
    assert main(["evaluate", str(output), "-o", str(results), "--labels", "0"]) == 0
    saved = json.loads(results.read_text(encoding="utf-8"))
    assert saved["counts"]["sentences"] == len(records) and saved["metrics"]["num_references"] == len(records)


# ------------------------------------------------------------------------ corrupt weights


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_weights_are_named_as_not_a_loadable_model(untrained_tiny, tmp_path, capsys, damage):
    model = tmp_path / "model"
    shutil.copytree(untrained_tiny, model)
    weights = model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes({"garbage": os.urandom(4096), "truncated": data[: len(data) // 2], "empty": b""}[damage])
    inputs = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Ada met Bob in Rome .", "type_list": TYPES}])
    output = tmp_path / "pred.jsonl"
    commands = {
        "predict": ["predict", "--jsonl", str(inputs), "--extractor", str(model), "-o", str(output)],
        "run": ["run", "--languages", "en", "--max-test", "1", "--extractor", str(model), "-o", str(tmp_path / "run")],
        "train": ["train", "--jsonl", str(inputs), "--base-model", str(model), "-o", str(tmp_path / "trained")],
    }
    flags = {"predict": "--extractor", "run": "--extractor", "train": "--base-model"}
    for command, argv in commands.items():
        assert main(argv) == 2, command
        line = _one_line_error(capsys.readouterr().err, command)
        assert f"{flags[command]} {model}: {weights} is not a loadable model" in line, line
        assert "corrupt or truncated" in line
    assert not output.exists() and not (tmp_path / "run").exists() and not (tmp_path / "trained").exists()


# ------------------------------------------------------------------------ spellings of the same data files


def _geic(n: int, city: str) -> str:
    return json.dumps({f"s{i}": {"sentence": f"Ana {i} lives in {city} .", "entity": [city], "category": ["city"]}
                       for i in range(n)})


@pytest.fixture()
def data_files_work(tmp_path, monkeypatch) -> Path:
    work = tmp_path / "work"
    (work / "release" / "en").mkdir(parents=True)
    (work / "music-test.json").write_text(_geic(6, "Lima"), encoding="utf-8")
    (work / "music.json").write_text(json.dumps({"dataset": "toy", "first-level": "location, person",
                                                 "second-level": {"location": "city"}}), encoding="utf-8")
    for split in ("train", "dev", "test"):
        (work / "release" / "en" / f"{split}.json").write_text(_geic(5, "Quito"), encoding="utf-8")
    monkeypatch.chdir(work)
    return work


def test_load_dataset_finds_a_prepared_config_however_its_files_are_spelled(data_files_work, tmp_path):
    import datasets

    from dynamicner_data.builder import prepare

    work, cache = data_files_work, str(tmp_path / "cache")
    built = prepare("en-coarse", cache_dir=cache, data_files={"test": ["music-test.json"], "taxonomy": ["music.json"]})
    # preparing the same files spelled otherwise finds the same build: nothing is built again
    again = prepare("en-coarse", cache_dir=cache, data_files={"test": f"./music-test.json",
                                                              "taxonomy": str(work / "music.json")})
    assert again.cache_dir == built.cache_dir and again.build_summary is None
    spellings = [
        {"test": "music-test.json", "taxonomy": ["music.json"]},  # one split a string, the other a list
        {"test": ["music-test.json"], "taxonomy": "music.json"},
        {"test": "./music-test.json", "taxonomy": "./music.json"},  # a ./ prefix
        {"test": ["./music-test.json"], "taxonomy": "./music.json"},
        {"taxonomy": [str(work / "music.json")], "test": str(work / "music-test.json")},  # absolute, keys reordered
    ]
    for data_files in spellings:
        loaded = datasets.load_dataset("dynamicner", "en-coarse", data_files=data_files, cache_dir=cache)
        assert loaded["test"].num_rows == 6 and loaded["test"][0]["entities"][0]["text"] == "Lima", data_files
    prepare("en", cache_dir=cache, data_dir="release")
    for data_dir in ("./release", "release/", str(work / "release")):
        loaded = datasets.load_dataset("dynamicner", "en", data_dir=data_dir, cache_dir=cache)
        assert loaded["test"].num_rows == 5 and loaded["test"][0]["entities"][0]["text"] == "Quito", data_dir
