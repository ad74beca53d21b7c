"""Fault injection for the pipeline and its CLI: nothing lost, nothing silently wrong, no traceback.

Faults are real where the sandbox allows them: a small
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
    from cascadener.training.tiny import TinyModelOptions, create_tiny_model

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


# ---------------------------------------------------------------------------------- train --resume


@pytest.mark.slow
def test_train_resume_without_checkpoint_refuses(train_data, tmp_path, capsys):
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
def test_train_resume_keeps_finished_models_and_continues_interrupted_ones(train_data, tmp_path, capsys):
    """Two models: the extractor finished, the classifier was killed after a checkpoint."""
    import shutil

    full = tmp_path / "full"
    argv = ["train", "--jsonl", str(train_data), "--max-steps", "2", "--save-steps", "1", "--threads", "1",
            "--vocab-size", "300", "--no-progress", "--lists", "type_list"]
    assert main([*argv, "-o", str(full)]) == 0
    cut = tmp_path / "cut"
    shutil.copytree(full / "extractor", cut / "extractor")
    shutil.copytree(full / "classifier" / "checkpoints" / "checkpoint-1", cut / "classifier" / "checkpoints" / "checkpoint-1")
    shutil.copy(full / "train_identity.json", cut)  # what the run recorded before training: its arguments
    extractor = _digest(cut / "extractor")
    capsys.readouterr()
    assert main([*argv, "-o", str(cut)]) == 2  # without --resume: the checkpoints are not thrown away
    assert "holds the checkpoints of an interrupted run; pass --resume" in capsys.readouterr().err
    assert main([*argv, "-o", str(cut), "--resume"]) == 0
    assert _digest(cut / "extractor") == extractor
    summary = json.loads((cut / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["runs"]["extractor"]["kept"] is True and summary["runs"]["classifier"]["steps"] == 2
    assert (cut / "classifier" / "model.safetensors").is_file()


# --------------------------------------------------------------------------------- no partial models


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
def test_train_on_a_full_disk_leaves_no_partial_model(train_data, tmp_path, capsys, monkeypatch, disk):
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
def test_main_job_models_appear_whole_or_not_at_all(tiny_corpus, tmp_path, monkeypatch):
    """``train_cascade`` (the main job's training) on a full disk: no model folder, no stamp reuse."""
    from cascadener.training.trainer import TrainOptions, train_cascade

    options = TrainOptions(max_steps=1, progress=False, num_threads=1)
    with monkeypatch.context() as patch:
        _full_disk_on_weights(patch, tmp_path / "models")
        with pytest.raises(OSError, match="No space"):
            train_cascade(tiny_corpus[:4], tmp_path / "models", options=options, vocab_size=300)
    assert not (tmp_path / "models" / "extractor").exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == []
    result = train_cascade(tiny_corpus[:4], tmp_path / "models", options=options, vocab_size=300)
    assert (result.extractor / "model.safetensors").is_file() and (result.classifier / "config.json").is_file()


# -------------------------------------------------------------------- output paths (train, evaluate)


@pytest.mark.parametrize("disk", ["patched", "tmpfs"])
def test_evaluate_output_read_only_folder_and_full_disk(tmp_path, capsys, monkeypatch, disk):
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
def test_train_output_read_only_or_a_file(train_data, tmp_path, capsys, monkeypatch, disk):
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


# ----------------------------------------------------------------------------------------- model paths


def test_model_paths_say_what_is_wrong(inputs, tmp_path, capsys):
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


# ----------------------------------------------------------------------------- read-only train output


@pytest.mark.parametrize("disk", ["patched", "tmpfs"])
def test_train_on_read_only_output_names_the_real_cause(train_data, tmp_path, capsys, monkeypatch, disk):
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


# --------------------------------------------------------------------------- input spellings (BOM, .7z)


def test_jsonl_reader_accepts_a_utf8_bom(tmp_path, capsys):
    predictions = _predictions_file(tmp_path / "pred.jsonl", bom=True)
    assert main(["evaluate", str(predictions), "-o", str(tmp_path / "r.json")]) == 0
    references = _write_jsonl(tmp_path / "refs.jsonl", _records(), bom=True)
    plain = _predictions_file(tmp_path / "plain.jsonl")
    assert main(["evaluate", str(plain), "--jsonl", str(references), "-o", str(tmp_path / "r2.json")]) == 0
    first = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert first == json.loads((tmp_path / "r2.json").read_text())["metrics"] and first["f1"] > 0


def test_data_dir_archive_is_accepted_like_the_builder(tmp_path, capsys):
    """``--data-dir X.7z`` reaches the builder (which extracts archives) instead of being refused."""
    py7zr = pytest.importorskip("py7zr")
    from dynamicner_data.builder import _embedded_sample_dir

    archive = tmp_path / "release.7z"
    with py7zr.SevenZipFile(archive, "w") as seven:
        seven.writeall(_embedded_sample_dir() / "en", "en")
    from cascadener.cli.sources import read_builder_inputs

    rows = read_builder_inputs("en", "test", None).rows
    predictions = _write_jsonl(tmp_path / "pred.jsonl", [{"id": row.id, "text": row.text, "entities": []}
                                                         for row in rows])
    assert main(["evaluate", str(predictions), "--dataset", "en", "--split", "test", "--data-dir", str(archive),
                 "-o", str(tmp_path / "r.json")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["counts"]["sentences"] == len(rows) and results["counts"]["missing_predictions"] == 0
    assert main(["evaluate", str(predictions), "--dataset", "en", "--data-dir", str(tmp_path / "nope.7z")]) == 2
    assert f"--data-dir {tmp_path / 'nope.7z'} does not exist" in capsys.readouterr().err


# ------------------------------------------------------------------------------ predict: helpers


def _predict_argv(inputs, model, output, *extra, batch="2", chunk="2"):
    return ["predict", "--jsonl", str(inputs), "--extractor", str(model), "-o", str(output), "--batch-size", batch,
            "--chunk-size", chunk, "--max-new-tokens", "12", "--no-progress", *extra]


def _interrupt_after(monkeypatch, calls: int):
    """``CascadeNER.run`` raises KeyboardInterrupt on call ``calls + 1`` (after ``calls`` whole chunks)."""
    from cascadener.pipeline import CascadeNER

    original = CascadeNER.run
    seen = {"n": 0}

    def interrupted(self, *args, **kwargs):
        seen["n"] += 1
        if seen["n"] > calls:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CascadeNER, "run", interrupted)


class _QuotaFile:
    """A file whose disk fills up after ``state["room"]`` more bytes: the write that overflows
    writes what fits, then raises ENOSPC (as a real full disk does)."""

    def __init__(self, real, state):
        self._real, self._state = real, state

    def write(self, data):
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        room = self._state["room"]
        if len(raw) <= room:
            self._state["room"] -= len(raw)
            return self._real.write(data)
        if room:
            if isinstance(data, str):
                self._real.flush()
                self._real.buffer.write(raw[:room])
                self._real.buffer.flush()
            else:
                self._real.write(raw[:room])
        self._state["room"] = 0
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        try:
            self._real.close()
        except OSError:
            pass


@contextlib.contextmanager
def disk_fills_after(monkeypatch, target: Path, room: int):
    """Appending to ``target`` hits ENOSPC after ``room`` bytes (the patched full disk)."""
    real_open = io.open
    state = {"room": room}

    def opener(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if any(flag in mode for flag in "wa") and not isinstance(file, int) and Path(file).resolve() == target.resolve():
            return _QuotaFile(handle, state)
        return handle

    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", opener)
        patch.setattr(io, "open", opener)
        yield state


# ------------------------------------------------------------------- one writer per output (lock)


def _spawn_predict(inputs, model, output, *extra):
    command = [sys.executable, "-m", "cascadener", *_predict_argv(inputs, model, output, *extra, batch="1",
                                                                  chunk="1")]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def _wait_for_lines(output: Path, count: int, process, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if output.exists() and output.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{output} did not reach {count} lines (process returned {process.poll()})")


@pytest.fixture()
def many_inputs(tmp_path) -> Path:
    """40 sentences: a run of a few seconds, long enough to meet it while it writes."""
    records = [dict(record, id=f"{record['id']}-{copy}") for copy in range(6) for record in _records()][:40]
    return _write_jsonl(tmp_path / "many.jsonl", records)


@pytest.mark.slow
def test_second_writer_is_refused(many_inputs, random_model, tmp_path, capsys):
    output = tmp_path / "pred.jsonl"
    first = _spawn_predict(many_inputs, random_model, output)
    try:
        _wait_for_lines(output, 1, first)
        for extra in ((), ("--overwrite",), ("--resume",)):
            assert main(_predict_argv(many_inputs, random_model, output, *extra)) == 2
            err = capsys.readouterr().err
            _no_traceback(err)
            assert f"is being written by pid {first.pid} on host" in err and f"{output}.lock" in err
    finally:
        assert first.wait(timeout=300) == 0, first.stderr.read()
    ids = [json.loads(line)["id"] for line in output.read_text(encoding="utf-8").splitlines()]
    assert ids == [json.loads(line)["id"] for line in many_inputs.read_text(encoding="utf-8").splitlines()]
    assert not Path(f"{output}.lock").exists()


@pytest.mark.slow
def test_two_runs_started_together_one_wins(many_inputs, random_model, tmp_path):
    output = tmp_path / "pred.jsonl"
    runs = [_spawn_predict(many_inputs, random_model, output, "--overwrite") for _ in range(2)]
    codes = [run.wait(timeout=300) for run in runs]
    errors = [run.stderr.read() for run in runs]
    assert sorted(codes) == [0, 2], errors
    loser = codes.index(2)
    assert f"is being written by pid {runs[1 - loser].pid}" in errors[loser] and "Traceback" not in errors[loser]
    ids = [json.loads(line)["id"] for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(ids) == len(set(ids)) == 40


@pytest.mark.slow
def test_stale_lock_of_a_killed_run_is_taken_over(many_inputs, random_model, tmp_path, capsys):
    output = tmp_path / "pred.jsonl"
    first = _spawn_predict(many_inputs, random_model, output)
    _wait_for_lines(output, 2, first)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    lock = Path(f"{output}.lock")
    assert lock.read_text().split()[0] == str(first.pid)  # left behind by the dead process
    assert main(_predict_argv(many_inputs, random_model, output, "--resume", batch="1", chunk="1")) == 0
    err = capsys.readouterr().err
    assert f"took over the stale lock of pid {first.pid}" in err
    assert not lock.exists()
    assert output.read_bytes().count(b"\n") == 40


@pytest.mark.slow  # starts a Python process
def test_output_lock_names_its_holder_and_is_released_on_exit(tmp_path):
    """OutputLock itself: held across processes, holder named, released on exit, reusable by export."""
    from cascadener.cli.locking import OutputLock, OutputLocked

    target = tmp_path / "export"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from cascadener.cli.locking import OutputLock\n"
        f"lock = OutputLock({str(target)!r}).acquire(); print('held', flush=True); sys.stdin.readline()")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputLocked, match=f"pid {holder.pid} on host"):
            OutputLock(target).acquire()
    finally:
        holder.kill()
        holder.wait()
    with OutputLock(target) as lock:  # the dead holder's lock is stale: taken over, and said so
        assert lock.stale_holder is not None and lock.stale_holder.pid == holder.pid
    assert not lock.lock_path.exists()


# ------------------------------------------------------------------- what --resume compares


@pytest.mark.slow
def test_resume_refuses_another_model_at_the_same_path(inputs, random_model, tmp_path, capsys, monkeypatch):
    import shutil

    from cascadener.training.tiny import TinyModelOptions, create_tiny_model

    model = tmp_path / "model"
    shutil.copytree(random_model, model)
    output = tmp_path / "pred.jsonl"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 1)
        with pytest.raises(KeyboardInterrupt):
            main(_predict_argv(inputs, model, output))
    other = create_tiny_model([t for _, t, _ in SENTENCES] + [" ".join(TYPES)], tmp_path / "other", vocab_size=400,
                              options=TinyModelOptions(hidden_size=32, intermediate_size=64, seed=2))
    shutil.copy(other / "model.safetensors", model / "model.safetensors")  # retrained in place
    capsys.readouterr()
    assert main(_predict_argv(inputs, model, output, "--resume")) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"cannot resume: the extractor {model} changed since the first run: model.safetensors differs" in err
    # the classifier is checked too
    shutil.copy(random_model / "model.safetensors", model / "model.safetensors")
    assert main(_predict_argv(inputs, model, output, "--resume", "--classifier", str(other))) == 2
    assert f"the classifier is another folder: {model} then, {other} now" in capsys.readouterr().err
    assert main(_predict_argv(inputs, model, output, "--resume")) == 0


@pytest.mark.slow
def test_resume_names_the_differing_option_and_ignores_path_spelling(inputs, random_model, tmp_path, capsys,
                                                                            monkeypatch):
    import shutil

    shutil.copytree(random_model, tmp_path / "model")
    reference = tmp_path / "reference.jsonl"
    assert main(_predict_argv(inputs, tmp_path / "model", reference)) == 0
    monkeypatch.chdir(tmp_path)
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 1)
        with pytest.raises(KeyboardInterrupt):
            main(_predict_argv("in.jsonl", "model", "pred.jsonl"))
    capsys.readouterr()
    assert main(_predict_argv("in.jsonl", "model", "pred.jsonl", "--resume", "--seed", "5")) == 2
    assert "the options differ from the first run's: --seed was 0, now 5" in capsys.readouterr().err
    assert main(_predict_argv("in.jsonl", "model", "pred.jsonl", "--resume", "--template", "short")) == 2
    assert "--template was 'released', now 'short'" in capsys.readouterr().err
    assert main(_predict_argv("in.jsonl", "model", "pred.jsonl", "--resume", "--limit", "3")) == 2
    assert "the input differs from the first run's: --limit was None, now 3" in capsys.readouterr().err
    # the same files spelled absolutely (and the output too): not a difference
    assert main(_predict_argv(tmp_path / "in.jsonl", tmp_path / "model", tmp_path / "pred.jsonl", "--resume")) == 0
    assert (tmp_path / "pred.jsonl").read_bytes() == reference.read_bytes()


# ------------------------------------------------ counts and bytes after a cut anywhere (full disk)


def _cascade_argv(inputs, tiny_cascade, output, *extra):
    return ["predict", "--jsonl", str(inputs), "--extractor", str(tiny_cascade.extractor), "-o", str(output),
            "--batch-size", "2", "--chunk-size", "3", "--no-progress", *extra]


@pytest.fixture(scope="module")
def cut_inputs(tmp_path_factory, tiny_corpus) -> Path:
    """The memorised sentences twice over (16 rows: chunks of 3 end mid-copy), for every cut below."""
    records = [dict(record, id=f"{record['id']}-{copy}") for copy in range(2) for record in tiny_corpus]
    return _write_jsonl(tmp_path_factory.mktemp("cut-inputs") / "in.jsonl", records)


@pytest.fixture(scope="module")
def cut_reference(tmp_path_factory, cut_inputs, tiny_cascade):
    """An uninterrupted run over :func:`cut_inputs`: its output bytes and its meta counts."""
    output = tmp_path_factory.mktemp("cut-reference") / "pred.jsonl"
    assert main(_cascade_argv(cut_inputs, tiny_cascade, output)) == 0
    meta = json.loads(Path(f"{output}.meta.json").read_text(encoding="utf-8"))
    assert meta["stats"]["mentions"] > 0 and meta["stats"]["sentences"] == 16
    return output.read_bytes(), meta["stats"]


def _cuts(reference: bytes) -> dict[str, int]:
    lines = reference.splitlines(keepends=True)
    ends = [sum(len(line) for line in lines[:n]) for n in range(len(lines) + 1)]
    return {"inside the first line": 5, "after one line, mid-chunk": ends[1], "at a chunk boundary": ends[3],
            "mid-line in the third chunk": ends[7] + len(lines[7]) // 2, "one byte before the end": len(reference) - 1}


@pytest.mark.slow
@pytest.mark.parametrize("cut", ["inside the first line", "after one line, mid-chunk", "at a chunk boundary",
                                 "mid-line in the third chunk", "one byte before the end"])
def test_resumed_output_is_byte_identical_for_any_cut(cut_inputs, tiny_cascade, cut_reference,
                                                             tmp_path, capsys, monkeypatch, cut):
    reference, reference_stats = cut_reference
    output = tmp_path / "pred.jsonl"
    with disk_fills_after(monkeypatch, output, _cuts(reference)[cut]):
        assert main(_cascade_argv(cut_inputs, tiny_cascade, output)) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"cannot write {output}: No space left on device" in err and "--resume" in err
    assert main(_cascade_argv(cut_inputs, tiny_cascade, output, "--resume")) == 0
    assert output.read_bytes() == reference
    meta = json.loads(Path(f"{output}.meta.json").read_text(encoding="utf-8"))
    assert meta["complete"] and meta["stats"] == reference_stats  # the counts too, on every cut


@pytest.mark.slow
@pytest.mark.parametrize("disk", ["patched", "tmpfs"])
def test_counts_after_a_full_disk_mid_chunk_match_an_uninterrupted_run(
        cut_inputs, tiny_cascade, cut_reference, tmp_path, capsys, monkeypatch, disk):
    reference, reference_stats = cut_reference
    folder = tmp_path / "disk"
    output = folder / "pred.jsonl"
    with contextlib.ExitStack() as stack:
        if disk == "tmpfs":  # a real full disk: a few pages for the output, its meta and lock files
            stack.enter_context(tmpfs(folder, size="20k"))
        else:
            folder.mkdir()
        with contextlib.ExitStack() as fault:
            if disk == "patched":
                fault.enter_context(disk_fills_after(monkeypatch, output, len(reference) // 2))
            assert main(_cascade_argv(cut_inputs, tiny_cascade, output)) == 2
        err = capsys.readouterr().err
        _no_traceback(err)
        assert "No space left on device" in err and "continue with --resume" in err
        assert 0 < output.stat().st_size < len(reference)
        if disk == "tmpfs":  # room again
            subprocess.run(["mount", "-o", "remount,size=4m", str(folder)], check=True)
        assert main(_cascade_argv(cut_inputs, tiny_cascade, output, "--resume")) == 0
        assert output.read_bytes() == reference
        meta = json.loads(Path(f"{output}.meta.json").read_text(encoding="utf-8"))
        assert meta["stats"] == reference_stats
        results = folder / "results.json"
        assert main(["evaluate", str(output), "-o", str(results), "--labels", "0"]) == 0
        counts = json.loads(results.read_text(encoding="utf-8"))["counts"]
    assert counts["sentences"] == reference_stats["sentences"] == 16
    assert counts["mentions"] == reference_stats["mentions"]


# ------------------------------------------------------------------------- predict output paths


@pytest.mark.slow
@pytest.mark.parametrize("disk", ["patched", "tmpfs"])
def test_predict_output_folder_read_only_and_full_disk(inputs, random_model, tmp_path, capsys, monkeypatch,
                                                              disk):
    assert main(_predict_argv(inputs, random_model, tmp_path)) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"cascadener predict: error: -o {tmp_path} is a folder" in err
    output = tmp_path / "ro" / "pred.jsonl"
    with contextlib.ExitStack() as stack:
        if disk == "tmpfs":
            stack.enter_context(tmpfs(tmp_path / "ro", size="1m", readonly=True))
        else:
            (tmp_path / "ro").mkdir()
            stack.enter_context(refused_writes(monkeypatch, tmp_path / "ro"))
        assert main(_predict_argv(inputs, random_model, output)) == 2
        err = capsys.readouterr().err
    _no_traceback(err)
    assert "cascadener predict: error: cannot write" in err and "Read-only file system" in err
    # a full disk while writing the meta file (the output's own writes: the cut tests above)
    output = tmp_path / "full" / "pred.jsonl"
    (tmp_path / "full").mkdir()
    real_replace = os.replace

    def full(src, dst):
        if Path(dst).name == "pred.jsonl.meta.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", full)
        assert main(_predict_argv(inputs, random_model, output)) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"cannot write {output}.meta.json: No space left on device" in err
    assert sorted(p.name for p in output.parent.iterdir()) in ([], ["pred.jsonl"])


# ----------------------------------------------------------------------- resuming odd outputs


@pytest.mark.slow
def test_resume_with_bad_bytes_a_bad_meta_or_a_trailing_blank_line(inputs, random_model, tmp_path, capsys,
                                                                          monkeypatch):
    reference = tmp_path / "reference.jsonl"
    assert main(_predict_argv(inputs, random_model, reference)) == 0
    output = tmp_path / "pred.jsonl"
    meta = Path(f"{output}.meta.json")

    def interrupted_run():
        output.unlink(missing_ok=True)
        with monkeypatch.context() as patch:
            _interrupt_after(patch, 2)
            with pytest.raises(KeyboardInterrupt):
                main(_predict_argv(inputs, random_model, output))
        capsys.readouterr()

    # a trailing blank line (an editor, a shell echo) does not block resuming
    interrupted_run()
    with output.open("ab") as handle:
        handle.write(b"\n")
    assert main(_predict_argv(inputs, random_model, output, "--resume")) == 0
    assert output.read_bytes() == reference.read_bytes()
    # nor does a torn, non-UTF-8 tail after the last whole chunk
    interrupted_run()
    with output.open("ab") as handle:
        handle.write(b'{"id": "s5", "text": "Marie \xff')
    assert main(_predict_argv(inputs, random_model, output, "--resume")) == 0
    assert output.read_bytes() == reference.read_bytes()
    # a non-UTF-8 byte inside the predictions already made: an error naming the line
    interrupted_run()
    data = bytearray(output.read_bytes())
    second_line = data.index(b"\n") + 1
    data[second_line + 10] = 0xFF
    output.write_bytes(bytes(data))
    assert main(_predict_argv(inputs, random_model, output, "--resume")) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"cannot resume: {output}, line 2 is not valid UTF-8" in err
    # a meta file that is valid JSON but not an object
    interrupted_run()
    meta.write_text("[1, 2]")
    assert main(_predict_argv(inputs, random_model, output, "--resume")) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert f"cannot resume: {meta} holds a JSON list, not the object cascadener predict writes" in err
