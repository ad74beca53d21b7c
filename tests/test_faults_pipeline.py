"""Fault injection for the pipeline and its CLI (issue 10): nothing lost, nothing silently wrong, no traceback.

Each test is named after the issue's item. Faults are real where the sandbox allows them: a small
tmpfs for a full or read-only disk (skipped, with the reason, where mounting is refused; the
patched variant of the same fault always runs), SIGKILLed subprocesses, two processes at once.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascadener.cli import main

# --------------------------------------------------------------------------------------- fault helpers


@contextlib.contextmanager
def tmpfs(path: Path, *, size: str, readonly: bool = False, fill=None):
    """A tmpfs of ``size`` mounted at ``path`` (``fill(path)`` runs before a read-only remount)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount refused'}); "
                    "the patched variant of this fault covers it")
    try:
        if fill is not None:
            fill(path)
        if readonly:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _under(path, root: Path) -> bool:
    if isinstance(path, int):
        return False
    return Path(os.fsdecode(path)).resolve().is_relative_to(root.resolve())


@contextlib.contextmanager
def refused_writes(monkeypatch, root: Path, code: int = errno.EROFS):
    """Every attempt to create or change something under ``root`` fails with ``code`` (a read-only disk)."""
    real_open, real_os_open, real_mkdir, real_replace = io.open, os.open, os.mkdir, os.replace

    def opener(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+") and _under(file, root):
            raise OSError(code, os.strerror(code), os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    def os_opener(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _under(path, root):
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_os_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if _under(path, root):
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):
        if _under(dst, root):
            raise OSError(code, os.strerror(code), os.fspath(dst))
        return real_replace(src, dst, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", opener)
        patch.setattr(io, "open", opener)
        patch.setattr(os, "open", os_opener)
        patch.setattr(os, "mkdir", mkdir)
        patch.setattr(os, "replace", replace)
        yield


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_jsonl(path: Path, records, *, bom: bool = False) -> Path:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------ fixtures

SENTENCES = [
    ("s1", "Ada Lovelace met Charles Babbage in London .", [("Ada Lovelace", "person"), ("London", "city")]),
    ("s2", "Paris is nice in May .", [("Paris", "city")]),
    ("s3", "", []),
    ("s4", "The Danube flows past Vienna .", [("Danube", "river"), ("Vienna", "city")]),
    ("s5", "Marie Curie lived in Warsaw .", [("Marie Curie", "person"), ("Warsaw", "city")]),
    ("s6", "Nothing here .", []),
    ("s7", "Bob met Alice .", [("Bob", "person"), ("Alice", "person")]),
]
TYPES = ["person", "city", "river"]


def _records():
    return [{"id": i, "text": t, "type_list": TYPES,
             "entities": [{"text": e, "label": label, "start": t.index(e), "end": t.index(e) + len(e)}
                          for e, label in ents]} for i, t, ents in SENTENCES]


@pytest.fixture()
def inputs(tmp_path) -> Path:
    return _write_jsonl(tmp_path / "in.jsonl", _records())


@pytest.fixture(scope="module")
def random_model(tmp_path_factory) -> Path:
    """A tiny untrained model (no training: a few seconds to build)."""
    from cascadener.tiny import TinyModelOptions, create_tiny_model

    directory = tmp_path_factory.mktemp("random-model")
    create_tiny_model([t for _, t, _ in SENTENCES] + [" ".join(TYPES)], directory, vocab_size=400,
                      options=TinyModelOptions(hidden_size=32, intermediate_size=64, seed=1))
    return directory


def _predictions_file(path: Path, *, bom: bool = False) -> Path:
    lines = [{"id": r["id"], "text": r["text"], "type_list": TYPES, "entities": r["entities"][:1],
              "references": r["entities"]} for r in _records()]
    return _write_jsonl(path, lines, bom=bom)


def _train_argv(data: Path, output: Path, *extra: str) -> list[str]:
    return ["train", "--jsonl", str(data), "-o", str(output), "--one-model", "--max-steps", "1", "--threads", "1",
            "--vocab-size", "300", "--no-progress", *extra]


@pytest.fixture()
def train_data(tmp_path, tiny_corpus) -> Path:
    return _write_jsonl(tmp_path / "train.jsonl", tiny_corpus[:4])


# ------------------------------------------------------------------------------- 1: train --resume


@pytest.mark.slow
def test_item01_train_resume_without_checkpoint_refuses(train_data, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_train_argv(train_data, out)) == 0
    finished = _digest(out / "model")
    capsys.readouterr()
    # --resume over a finished model with no checkpoint: refused, the model untouched
    assert main(_train_argv(train_data, out, "--resume")) == 2
    err = capsys.readouterr().err
    assert "cascadener train: error: nothing to resume" in err and "--overwrite" in err
    assert _digest(out / "model") == finished
    # --resume into a folder that never held a checkpoint: refused, nothing created
    fresh = tmp_path / "fresh"
    assert main(_train_argv(train_data, fresh, "--resume")) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "no checkpoint" in err and "--save-steps" in err
    assert not (fresh / "model").exists()
    # and a finished model is never replaced without --overwrite
    assert main(_train_argv(train_data, out)) == 2
    assert "already holds a trained model; pass --overwrite" in capsys.readouterr().err
    assert _digest(out / "model") == finished
    assert main(_train_argv(train_data, out, "--resume", "--overwrite")) == 2
    assert "--resume and --overwrite exclude each other" in capsys.readouterr().err


@pytest.mark.slow
def test_item01_train_resume_keeps_finished_models_and_continues_interrupted_ones(train_data, tmp_path, capsys):
    """Two models: the extractor finished, the classifier was killed after a checkpoint."""
    import shutil

    full = tmp_path / "full"
    argv = ["train", "--jsonl", str(train_data), "--max-steps", "2", "--save-steps", "1", "--threads", "1",
            "--vocab-size", "300", "--no-progress", "--lists", "type_list"]
    assert main([*argv, "-o", str(full)]) == 0
    cut = tmp_path / "cut"
    shutil.copytree(full / "extractor", cut / "extractor")
    shutil.copytree(full / "classifier" / "checkpoints" / "checkpoint-1", cut / "classifier" / "checkpoints" / "checkpoint-1")
    extractor = _digest(cut / "extractor")
    capsys.readouterr()
    assert main([*argv, "-o", str(cut)]) == 2  # without --resume: the checkpoints are not thrown away
    assert "holds the checkpoints of an interrupted run; pass --resume" in capsys.readouterr().err
    assert main([*argv, "-o", str(cut), "--resume"]) == 0
    assert _digest(cut / "extractor") == extractor
    summary = json.loads((cut / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["runs"]["extractor"]["kept"] is True and summary["runs"]["classifier"]["steps"] == 2
    assert (cut / "classifier" / "model.safetensors").is_file()


# ------------------------------------------------------------------------------ 4: no partial models


def _full_disk_on_weights(monkeypatch, root: Path):
    """Weights files under ``root`` fail half-way with ENOSPC (after config.json was written)."""
    import transformers.modeling_utils as modeling_utils

    real = modeling_utils.safe_save_file

    def full(tensors, filename, metadata=None):
        if not _under(filename, root):
            return real(tensors, filename, metadata=metadata)
        Path(filename).write_bytes(b"\0" * 64)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))

    monkeypatch.setattr(modeling_utils, "safe_save_file", full)


@pytest.mark.slow
@pytest.mark.parametrize("disk", ["patched", "tmpfs"])
def test_item04_train_on_a_full_disk_leaves_no_partial_model(train_data, tmp_path, capsys, monkeypatch, disk):
    out = tmp_path / "disk" / "out"
    with contextlib.ExitStack() as stack:
        if disk == "tmpfs":  # room for config.json and the tokenizer, not for the weights
            stack.enter_context(tmpfs(tmp_path / "disk", size="160k"))
        else:
            (tmp_path / "disk").mkdir()
            _full_disk_on_weights(stack.enter_context(monkeypatch.context()), tmp_path / "disk")
        assert main(_train_argv(train_data, out, "--vocab-size", "2000")) == 2
        err = capsys.readouterr().err
        _no_traceback(err)
        assert f"cannot write {out / 'model'}" in err and "No space left on device" in err
        assert "--base-model" not in err
        assert not (out / "model").exists()
        assert [p.name for p in out.iterdir()] == []  # no partial folder either
    if disk == "patched":  # the failed run blocks nothing
        assert main(_train_argv(train_data, out)) == 0
        assert (out / "model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_item04_main_job_models_appear_whole_or_not_at_all(tiny_corpus, tmp_path, monkeypatch):
    """``train_cascade`` (the main job's training) on a full disk: no model folder, no stamp reuse."""
    from cascadener.training import TrainOptions, train_cascade

    options = TrainOptions(max_steps=1, progress=False, num_threads=1)
    with monkeypatch.context() as patch:
        _full_disk_on_weights(patch, tmp_path / "models")
        with pytest.raises(OSError, match="No space"):
            train_cascade(tiny_corpus[:4], tmp_path / "models", options=options, vocab_size=300)
    assert not (tmp_path / "models" / "extractor").exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == []
    result = train_cascade(tiny_corpus[:4], tmp_path / "models", options=options, vocab_size=300)
    assert (result.extractor / "model.safetensors").is_file() and (result.classifier / "config.json").is_file()


# ---------------------------------------------------------------- 13: output paths (train, evaluate)


@pytest.mark.parametrize("disk", ["patched", "tmpfs"])
def test_item13_evaluate_output_read_only_folder_and_full_disk(tmp_path, capsys, monkeypatch, disk):
    predictions = _predictions_file(tmp_path / "pred.jsonl")
    # a folder given as the output file
    assert main(["evaluate", str(predictions), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"cascadener evaluate: error: -o {tmp_path} is a folder" in err
    # a read-only folder
    target = tmp_path / "ro" / "results.json"
    with contextlib.ExitStack() as stack:
        if disk == "tmpfs":
            stack.enter_context(tmpfs(tmp_path / "ro", size="1m", readonly=True))
        else:
            (tmp_path / "ro").mkdir()
            stack.enter_context(refused_writes(monkeypatch, tmp_path / "ro"))
        assert main(["evaluate", str(predictions), "-o", str(target)]) == 2
        err = capsys.readouterr().err
        _no_traceback(err)
        assert "cascadener evaluate: error: cannot write" in err and "Read-only file system" in err
    # a full disk: an error, and the previous results file stays whole
    previous = tmp_path / "full" / "results.json"
    with contextlib.ExitStack() as stack:
        if disk == "tmpfs":
            stack.enter_context(tmpfs(tmp_path / "full", size="4k",  # one page, taken by the old file
                                      fill=lambda p: (p / "results.json").write_text('{"old": 1}')))
        else:
            (tmp_path / "full").mkdir()
            previous.write_text('{"old": 1}')
            real_replace = os.replace

            def full(src, dst):
                if Path(dst) == previous:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real_replace(src, dst)

            stack.enter_context(monkeypatch.context()).setattr(os, "replace", full)
        assert main(["evaluate", str(predictions), "-o", str(previous)]) == 2
        err = capsys.readouterr().err
        _no_traceback(err)
        assert "cannot write" in err and "No space left on device" in err
        assert previous.read_text() == '{"old": 1}'
        assert sorted(p.name for p in previous.parent.iterdir()) == ["results.json"]


@pytest.mark.parametrize("disk", ["patched", "tmpfs"])
def test_item13_train_output_read_only_or_a_file(train_data, tmp_path, capsys, monkeypatch, disk):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert main(_train_argv(train_data, a_file)) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"--output-dir {a_file} is a file" in err
    with contextlib.ExitStack() as stack:
        if disk == "tmpfs":
            stack.enter_context(tmpfs(tmp_path / "ro", size="1m", readonly=True))
        else:
            (tmp_path / "ro").mkdir()
            stack.enter_context(refused_writes(monkeypatch, tmp_path / "ro"))
        assert main(_train_argv(train_data, tmp_path / "ro" / "out")) == 2
        err = capsys.readouterr().err
    _no_traceback(err)
    assert "is not writable: Read-only file system" in err


# ------------------------------------------------------------------------------------- 15: model paths


def test_item15_model_paths_say_what_is_wrong(inputs, tmp_path, capsys):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    (empty / "notes.txt").write_text("no model here")
    output = tmp_path / "pred.jsonl"
    assert main(["predict", "--jsonl", str(inputs), "--extractor", str(empty), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"cascadener predict: error: cannot load the model: --extractor {empty} is a directory but holds no model" in err
    missing = tmp_path / "no" / "such" / "model"
    assert main(["predict", "--jsonl", str(inputs), "--extractor", str(missing), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"--extractor {missing} does not exist" in err and "Repo id" not in err
    assert main(["predict", "--jsonl", str(inputs), "--extractor", str(missing), "--classifier", "./nope",
                 "-o", str(output)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not output.exists()
    # train --base-model: the same checks
    data = _write_jsonl(tmp_path / "train.jsonl", _records())
    assert main(["train", "--jsonl", str(data), "-o", str(tmp_path / "m"), "--base-model", str(empty)]) == 2
    assert f"--base-model {empty} is a directory but holds no model" in capsys.readouterr().err
    assert main(["train", "--jsonl", str(data), "-o", str(tmp_path / "m"), "--base-model", "./no/model"]) == 2
    err = capsys.readouterr().err
    assert "--base-model ./no/model does not exist" in err and "Repo id" not in err


# ------------------------------------------------------------------------- 16: read-only train output


@pytest.mark.parametrize("disk", ["patched", "tmpfs"])
def test_item16_train_on_read_only_output_names_the_real_cause(train_data, tmp_path, capsys, monkeypatch, disk):
    out = tmp_path / "ro"
    with contextlib.ExitStack() as stack:
        if disk == "tmpfs":
            stack.enter_context(tmpfs(out, size="1m", readonly=True))
        else:
            out.mkdir()
            stack.enter_context(refused_writes(monkeypatch, out))
        assert main(_train_argv(train_data, out)) == 2
        err = capsys.readouterr().err
    _no_traceback(err)
    assert "base-model" not in err and "None" not in err
    assert f"--output-dir {out} is not writable: Read-only file system" in err


# ---------------------------------------------------------------------------------------- 20: smaller


def test_item20_jsonl_reader_accepts_a_utf8_bom(tmp_path, capsys):
    predictions = _predictions_file(tmp_path / "pred.jsonl", bom=True)
    assert main(["evaluate", str(predictions), "-o", str(tmp_path / "r.json")]) == 0
    references = _write_jsonl(tmp_path / "refs.jsonl", _records(), bom=True)
    plain = _predictions_file(tmp_path / "plain.jsonl")
    assert main(["evaluate", str(plain), "--jsonl", str(references), "-o", str(tmp_path / "r2.json")]) == 0
    first = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert first == json.loads((tmp_path / "r2.json").read_text())["metrics"] and first["f1"] > 0


def test_item20_data_dir_archive_is_accepted_like_the_builder(tmp_path, capsys):
    """``--data-dir X.7z`` reaches the builder (which extracts archives) instead of being refused."""
    py7zr = pytest.importorskip("py7zr")
    from dynamicner_data.builder import _embedded_sample_dir

    archive = tmp_path / "release.7z"
    with py7zr.SevenZipFile(archive, "w") as seven:
        seven.writeall(_embedded_sample_dir() / "en", "en")
    from cascadener.sources import read_builder_inputs

    rows = read_builder_inputs("en", "test", None).rows
    predictions = _write_jsonl(tmp_path / "pred.jsonl", [{"id": row.id, "text": row.text, "entities": []}
                                                         for row in rows])
    assert main(["evaluate", str(predictions), "--dataset", "en", "--split", "test", "--data-dir", str(archive),
                 "-o", str(tmp_path / "r.json")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["counts"]["sentences"] == len(rows) and results["counts"]["missing_predictions"] == 0
    assert main(["evaluate", str(predictions), "--dataset", "en", "--data-dir", str(tmp_path / "nope.7z")]) == 2
    assert f"--data-dir {tmp_path / 'nope.7z'} does not exist" in capsys.readouterr().err
