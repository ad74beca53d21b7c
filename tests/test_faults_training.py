"""Faults around training: two trainings into one folder, ``--resume`` with another base model,
data or recipe, and the main job's model reuse after the data changed.

A finished model is never replaced without ``--overwrite``, a resumed run never mixes two runs,
and a model trained on other data is never reused silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascadener.cli import main


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _one_line_error(err: str, command: str) -> str:
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"cascadener {command}: error: "), err
    return line


def _train_argv(data: Path, output: Path, *extra: str) -> list[str]:
    return ["train", "--jsonl", str(data), "-o", str(output), "--one-model", "--threads", "1", "--vocab-size", "300",
            "--no-progress", *extra]


@pytest.fixture()
def train_data(tmp_path, tiny_corpus) -> Path:
    return _write_jsonl(tmp_path / "train.jsonl", tiny_corpus[:4])


def _digest(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _wait_for(condition, process, what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"the process ended ({process.returncode}) before {what}: {process.stderr.read()}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# ------------------------------------------------------------------ one training per output folder


@pytest.mark.slow
def test_a_second_training_into_the_same_folder_is_refused(train_data, tmp_path, capsys):
    out = tmp_path / "TT"
    lock = tmp_path / "TT.lock"
    first = subprocess.Popen([sys.executable, "-m", "cascadener", *_train_argv(train_data, out, "--max-steps", "6")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        _wait_for(lambda: lock.is_file() and lock.read_text().split()[:1] == [str(first.pid)], first,
                  "the first training holds its lock")
        for extra in ((), ("--overwrite",)):
            assert main(_train_argv(train_data, out, "--max-steps", "1", *extra)) == 2
            line = _one_line_error(capsys.readouterr().err, "train")
            assert f"is being written by pid {first.pid} on host" in line and f"{lock}" in line
    finally:
        assert first.wait(timeout=300) == 0, first.stderr.read()
    assert not lock.exists()
    finished = _digest(out / "model")
    # once the first has finished, its model is kept: a later run without --overwrite is refused
    assert main(_train_argv(train_data, out, "--max-steps", "1")) == 2
    assert "already holds a trained model; pass --overwrite" in capsys.readouterr().err
    assert _digest(out / "model") == finished


# ------------------------------------------------------------------ --resume continues the same run only


def _interrupted_training(train_data: Path, out: Path, monkeypatch) -> None:
    """A training killed after its last checkpoint, before the model was saved."""
    import cascadener.training.trainer as trainer

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(trainer, "save_model", killed)
        with pytest.raises(KeyboardInterrupt):
            main(_train_argv(train_data, out, "--max-steps", "2", "--save-steps", "1"))
    assert (out / "model" / "checkpoints" / "checkpoint-2").is_dir() and not (out / "model" / "config.json").exists()


@pytest.mark.slow
def test_train_resume_refuses_another_base_model_data_or_recipe(train_data, tiny_corpus, tmp_path, capsys,
                                                                 monkeypatch):
    from cascadener.training.tiny import TinyModelOptions, create_tiny_model

    out = tmp_path / "out"
    _interrupted_training(train_data, out, monkeypatch)
    checkpoints = _digest(out / "model" / "checkpoints")
    other_data = _write_jsonl(tmp_path / "other.jsonl", tiny_corpus[4:8])
    base = create_tiny_model([r["text"] for r in tiny_corpus], tmp_path / "base", vocab_size=300,
                             options=TinyModelOptions(hidden_size=32, intermediate_size=64, seed=3))
    capsys.readouterr()
    refused = {
        "another --jsonl": (_train_argv(other_data, out, "--max-steps", "2", "--resume"),
                            "the training data differs from the first run's"),
        "the same file, edited": (None, "the training data differs from the first run's"),
        "another --base-model": (_train_argv(train_data, out, "--max-steps", "2", "--resume", "--base-model",
                                             str(base)), f"the base model differs from the first run's: a tiny "
                                                         f"model from scratch then, {base} now"),
        "another --learning-rate": (_train_argv(train_data, out, "--max-steps", "2", "--resume", "--learning-rate",
                                                "0.01"), "the recipe differs from the first run's: --learning-rate "
                                                         "was 0.003, now 0.01"),
        "another --max-steps": (_train_argv(train_data, out, "--max-steps", "3", "--resume"),
                                "the recipe differs from the first run's: --max-steps was 2, now 3"),
    }
    original = train_data.read_bytes()
    for case, (argv, message) in refused.items():
        if argv is None:  # the same path, one sample's text changed
            records = [json.loads(line) for line in original.decode("utf-8").split("\n") if line]
            records[0]["text"] = records[0]["text"].replace(records[0]["text"][:3], "Xyz", 1)
            for entity in records[0]["entities"]:
                entity["start"] = entity["end"] = -1
            _write_jsonl(train_data, records)
            argv = _train_argv(train_data, out, "--max-steps", "2", "--resume")
        assert main(argv) == 2, case
        line = _one_line_error(capsys.readouterr().err, "train")
        assert line.startswith(f"cascadener train: error: cannot resume {out}: {message}"), (case, line)
        assert "--overwrite" in line
        assert _digest(out / "model" / "checkpoints") == checkpoints and not (out / "model" / "config.json").exists()
        train_data.write_bytes(original)
    # the same arguments continue the run; the summary names what was trained
    assert main(_train_argv(train_data, out, "--max-steps", "2", "--resume")) == 0
    summary = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["base_model"] is None and summary["source"]["path"] == str(train_data)
    assert (out / "model" / "model.safetensors").is_file()


# ------------------------------------------------------------------ the main job reuses models of the same data only


def _geic(texts: list[str]) -> str:
    return json.dumps({f"s{i}": {"sentence": text, "entity": [text.split()[0]], "category": ["person"]}
                       for i, text in enumerate(texts)})


@pytest.mark.slow
def test_main_job_retrains_after_the_training_data_changed_in_place(tmp_path, capsys):
    data = tmp_path / "DATA"
    (data / "en").mkdir(parents=True)
    train_file = data / "en" / "train.json"
    train_file.write_text(_geic(["Ada met Bob .", "Bob met Cy ."]), encoding="utf-8")
    for split in ("dev", "test"):
        (data / "en" / f"{split}.json").write_text(_geic(["Ada met Cy ."]), encoding="utf-8")
    out = tmp_path / "run"
    argv = ["run", "--languages", "en", "--data-dir", str(data), "-o", str(out), "--max-steps", "1",
            "--threads", "1", "--max-new-tokens", "4", "--no-progress"]

    def trained_on() -> dict[str, bytes]:
        return {name: (out / "models" / name / "tokenizer.json").read_bytes() for name in ("extractor", "classifier")}

    assert main(argv) == 0
    first = trained_on()
    assert main(argv) == 0
    assert "reusing the models trained by an identical earlier run" in capsys.readouterr().err
    # the same sample count and size, another text: the dataset is rebuilt, and so are the models
    edited = _geic(["Ann met Bob .", "Bob met Cy ."])
    assert len(edited) == len(train_file.read_text(encoding="utf-8"))
    train_file.write_text(edited, encoding="utf-8")
    assert main(argv) == 0
    assert "reusing" not in capsys.readouterr().err
    assert trained_on() != first and b"Ann" in trained_on()["extractor"]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["model"]["trained"] and not results["model"].get("reused")
