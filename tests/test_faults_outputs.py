"""Faults in what the commands write: an output that is one of the inputs, a full or read-only disk
under `cascadener run`, a re-run that fails half-way, two runs into one folder at once, two
writers of one evaluate, push-results or leaderboard output.

Full and read-only disks are real: a small tmpfs, mounted as root (the project's machines and CI
run as root). Where mounting is refused, those tests skip with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascadener.cli import main


def _one_line_error(err: str, command: str) -> str:
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"cascadener {command}: error: "), err
    return line


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# ------------------------------------------------------------------ evaluate never overwrites its inputs


def _predictions(folder: Path) -> tuple[Path, Path]:
    references = [{"text": "Paris", "label": "city", "start": 0, "end": 5}]
    predictions = _write_jsonl(folder / "pred.jsonl", [
        {"id": "a", "text": "Paris is nice .", "type_list": ["city"], "entities": references, "references": references},
        {"id": "b", "text": "Rome .", "type_list": ["city"], "entities": [], "references": []}])
    meta = folder / "pred.jsonl.meta.json"
    meta.write_text(json.dumps({"format": 2, "options": {"extractor": "m"}, "stats": {"sentences": 2},
                                "complete": True}), encoding="utf-8")
    return predictions, meta


@pytest.mark.parametrize("target", ["the predictions", "their meta file", "the predictions, spelled otherwise",
                                    "the predictions through a symbolic link", "the references", "the taxonomy"])
def test_evaluate_refuses_to_write_over_any_of_its_inputs(tmp_path, capsys, monkeypatch, target):
    predictions, meta = _predictions(tmp_path)
    references = _write_jsonl(tmp_path / "refs.jsonl", [{"id": "a", "text": "Paris is nice .", "entities": []},
                                                        {"id": "b", "text": "Rome .", "entities": []}])
    taxonomy = tmp_path / "taxonomy.json"
    taxonomy.write_text(json.dumps({"first-level": "city"}), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.jsonl").symlink_to(predictions)
    monkeypatch.chdir(tmp_path / "sub")
    output, extra = {
        "the predictions": (predictions, []),
        "their meta file": (meta, []),
        "the predictions, spelled otherwise": (Path("..") / "sub" / ".." / "pred.jsonl", []),
        "the predictions through a symbolic link": (tmp_path / "link.jsonl", []),
        "the references": (references, ["--jsonl", str(references)]),
        "the taxonomy": (taxonomy, ["--hierarchical", "--taxonomy", str(taxonomy)]),
    }[target]
    before = {p: p.read_bytes() for p in (predictions, meta, references, taxonomy)}
    assert main(["evaluate", str(predictions), "-o", str(output), *extra]) == 2
    line = _one_line_error(capsys.readouterr().err, "evaluate")
    assert line.startswith(f"cascadener evaluate: error: -o {output} is ")
    assert "an input of this evaluation" in line
    assert {p: p.read_bytes() for p in before} == before
    # the default output, beside the predictions, is not an input
    assert main(["evaluate", str(predictions)]) == 0
    assert (tmp_path / "pred.results.json").is_file()


# ------------------------------------------------------------------ cascadener run: the output folder


def _run_argv(model: Path, output: Path, *extra: str) -> list[str]:
    return ["run", "--languages", "en", "--extractor", str(model), "-o", str(output), "--threads", "1",
            "--max-new-tokens", "6", "--no-progress", *extra]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _consistent(out: Path) -> dict:
    """The outputs describe one run: results.json, its copy under results/, the card and the predictions."""
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == results["counts"]["sentences"]
    assert (out / "results" / f"{results['run_id']}.json").read_bytes() == (out / "results.json").read_bytes()
    assert f"run {results['run_id']}" in (out / "README.md").read_text(encoding="utf-8")
    assert (out / "per_label_f1.png").read_bytes().startswith(b"\x89PNG")
    return results


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    """A real tmpfs of ``size`` at ``path`` (the project's machines run as root); skipped with the
    reason where mounting is refused."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount refused'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill_leaving(disk: Path, room: int) -> Path:
    """Fill the file system of ``disk`` until only ``room`` bytes are free; returns the filler."""
    spare = disk / "spare"
    spare.write_bytes(b"\0" * room)
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    spare.unlink()
    return filler


@pytest.mark.slow
def test_a_rerun_that_fails_on_a_full_disk_leaves_the_earlier_outputs_whole(untrained_tiny, tmp_path, capsys):
    with _tmpfs(tmp_path / "disk", "4m") as disk:
        out = disk / "run"
        assert main(_run_argv(untrained_tiny, out, "--max-test", "2")) == 0
        first = _consistent(out)
        before = _snapshot(out)
        capsys.readouterr()
        filler = _fill_leaving(disk, 8192)  # room for the lock file, not for a new set of outputs
        assert main(_run_argv(untrained_tiny, out, "--max-test", "4")) == 2
        line = _one_line_error(capsys.readouterr().err, "run")
        assert f"cannot write {out}" in line and "No space left on device" in line
        assert f"the outputs of the earlier run in {out} are unchanged" in line
        assert _snapshot(out) == before  # byte for byte: nothing torn, nothing half-replaced, no temporary file
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "run"]  # the lock file is gone too
        # with room again, the new run replaces the whole set
        filler.unlink()
        assert main(_run_argv(untrained_tiny, out, "--max-test", "4")) == 0
        second = _consistent(out)
        assert second["run_id"] != first["run_id"] and second["counts"]["sentences"] == 4


@pytest.mark.slow
def test_run_into_a_read_only_folder_is_a_one_line_error(untrained_tiny, tmp_path, capsys):
    with _tmpfs(tmp_path / "ro", "1m") as disk:
        assert main(_run_argv(untrained_tiny, disk / "run", "--max-test", "1")) == 0
        before = _snapshot(disk / "run")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, capture_output=True)
        capsys.readouterr()
        # a folder inside the read-only file system: refused before any work
        for out in (disk / "run", disk / "new"):
            assert main(_run_argv(untrained_tiny, out, "--max-test", "1")) == 2
            line = _one_line_error(capsys.readouterr().err, "run")
            assert line == (f"cascadener run: error: --output-dir {out} is not writable: Read-only file system "
                            f"(cannot create its lock file {out}.lock)")
        # the read-only file system itself as the output folder (its lock file beside it can be made)
        assert main(_run_argv(untrained_tiny, disk, "--max-test", "1")) == 2
        line = _one_line_error(capsys.readouterr().err, "run")
        assert f"cannot write {disk}" in line and "Read-only file system" in line
        assert _snapshot(disk / "run") == before
    assert not (tmp_path / "ro.lock").exists()


@pytest.mark.slow
def test_a_second_run_into_the_same_folder_is_refused(untrained_tiny, tmp_path, capsys):
    out = tmp_path / "run"
    lock = tmp_path / "run.lock"
    first = subprocess.Popen([sys.executable, "-m", "cascadener", *_run_argv(untrained_tiny, out, "--max-test", "6")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.time() + 180
        while not (lock.is_file() and lock.read_text().split()[:1] == [str(first.pid)]):
            assert first.poll() is None, first.stderr.read()
            assert time.time() < deadline, "the first run never took its lock"
            time.sleep(0.02)
        assert main(_run_argv(untrained_tiny, out, "--max-test", "1")) == 2
        line = _one_line_error(capsys.readouterr().err, "run")
        assert f"{out} is being written by pid {first.pid} on host" in line and f"(lock file {lock})" in line
    finally:
        assert first.wait(timeout=300) == 0, first.stderr.read()
    assert _consistent(out)["counts"]["sentences"] == 6  # the first run's set, whole
    assert not lock.exists()


def _fail_replacing(monkeypatch, target: Path, code: int = errno.ENOSPC) -> None:
    """The first rename onto ``target`` fails with ``code`` (a fault in the set's last step, where
    no real disk runs out of room: this is the one fault injected at the boundary)."""
    real = os.replace
    failed = []

    def replace(src, dst, *args, **kwargs):
        if Path(dst) == target and not failed:
            failed.append(dst)
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_a_set_of_outputs_is_replaced_together_or_not_at_all(tmp_path, monkeypatch):
    from dynamicner_data.atomic import atomic_paths

    targets = [tmp_path / "predictions.jsonl", tmp_path / "results.json", tmp_path / "models"]
    targets[0].write_text("old predictions")
    targets[1].write_text("old results")
    (targets[2] / "extractor").mkdir(parents=True)
    (targets[2] / "extractor" / "config.json").write_text("old model")
    before = _snapshot(tmp_path)
    staged = tmp_path / "models.next"
    (staged / "extractor").mkdir(parents=True)
    (staged / "extractor" / "config.json").write_text("new model")
    for failing in targets:  # the fault hits each rename of the last step in turn
        with monkeypatch.context() as patch:
            _fail_replacing(patch, failing)
            with pytest.raises(OSError, match="No space left"):
                with atomic_paths(targets, staged={targets[2]: staged}) as (predictions, results, models):
                    assert models == staged
                    predictions.write_text("new predictions")
                    results.write_text("new results")
        assert _snapshot(tmp_path) == before | {"models.next/extractor/config.json": b"new model"}, failing
    with atomic_paths(targets, staged={targets[2]: staged}) as (predictions, results, _):
        predictions.write_text("new predictions")
        results.write_text("new results")
    assert _snapshot(tmp_path) == {"predictions.jsonl": b"new predictions", "results.json": b"new results",
                                   "models/extractor/config.json": b"new model"}


@pytest.mark.slow
def test_a_rerun_that_retrains_and_fails_keeps_the_earlier_models_and_the_new_ones(tmp_path, capsys, monkeypatch):
    """Models are outputs too: a run that trained new models and then failed to write its outputs
    leaves ``models`` (described by the earlier results) as it was; the new models wait in
    ``models.next``, and the next run with the same options uses them instead of training again."""
    out = tmp_path / "run"
    argv = ["run", "--languages", "en", "-o", str(out), "--max-train", "2", "--max-test", "1", "--max-steps", "1",
            "--threads", "1", "--max-new-tokens", "4", "--no-progress"]
    assert main(argv) == 0
    first = _consistent(out)
    before = _snapshot(out)
    capsys.readouterr()
    with monkeypatch.context() as patch:  # the new set fails in its last step, at results.json
        _fail_replacing(patch, out / "results.json")
        assert main([*argv, "--seed", "1"]) == 2
    line = _one_line_error(capsys.readouterr().err, "run")
    assert line.startswith(f"cascadener run: error: cannot write {out / 'results.json'}: No space left on device; "
                           f"the outputs of the earlier run in {out} are unchanged; the trained models are kept in "
                           f"{out / 'models.next'}")
    assert {k: v for k, v in _snapshot(out).items() if not k.startswith("models.next/")} == before
    assert (out / "models.next" / "extractor" / "model.safetensors").is_file()
    assert main([*argv, "--seed", "1"]) == 0
    assert f"reusing the models trained by an identical earlier run in {out / 'models.next'}" in capsys.readouterr().err
    second = _consistent(out)
    assert not (out / "models.next").exists() and second["run_id"] != first["run_id"]
    assert second["model"]["extractor"] == str(out / "models" / "extractor")
    assert second["model"]["revision"] != first["model"]["revision"]  # the models of the second run, in place
    from cascadener.publishing.hub import model_revision

    assert model_revision(second["model"]["extractor"], second["model"]["classifier"]) == second["model"]["revision"]


# ------------------------------------------------------------------ one writer per output: evaluate, push-results, leaderboard


@contextlib.contextmanager
def _held_by_another_process(output: Path):
    """``output``'s :class:`~cascadener.cli.locking.OutputLock` held by a live second Python process,
    whose pid is yielded; the process is killed on exit (its lock file is left behind, stale)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from cascadener.cli.locking import OutputLock\n"
        f"lock = OutputLock({str(output)!r}).acquire(); print('held', flush=True); sys.stdin.readline()")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=30)


@pytest.mark.slow  # starts a Python process
@pytest.mark.parametrize("command", ["evaluate", "push-results", "leaderboard"])
def test_a_second_writer_of_a_results_output_is_refused_naming_the_holder(tmp_path, capsys, command):
    """``evaluate -o``, ``push-results --dry-run --output-dir`` and ``leaderboard -o`` while another process
    writes the same output: one line naming its pid and the lock file, exit 2, nothing written; once
    that process is gone, its stale lock is taken over (and said so) and the command writes."""
    import socket

    predictions, meta = _predictions(tmp_path)
    meta.write_text(json.dumps({**json.loads(meta.read_text(encoding="utf-8")), "sentences": 2, "source": {}}),
                    encoding="utf-8")  # the input's size: a complete run, which push-results publishes
    assert main(["evaluate", str(predictions)]) == 0
    results = tmp_path / "pred.results.json"
    run_id = json.loads(results.read_text(encoding="utf-8"))["run_id"]
    source = tmp_path / "results-dataset"
    (source / "results").mkdir(parents=True)
    (source / "results" / f"{run_id}.json").write_bytes(results.read_bytes())
    output = tmp_path / {"evaluate": "scores.json", "push-results": "dry-run", "leaderboard": "board"}[command]
    argv = {"evaluate": ["evaluate", str(predictions), "-o", str(output)],
            "push-results": ["push-results", str(results), "--model-id", "me/m", "--benchmark-id",
                             "dynamicner-kit/DynamicNER", "--dry-run", "--output-dir", str(output)],
            "leaderboard": ["leaderboard", str(source), "-o", str(output)]}[command]
    capsys.readouterr()
    with _held_by_another_process(output) as pid:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == (f"cascadener {command}: error: {output} is being written by pid {pid} on host "
                       f"{socket.gethostname()} (lock file {output}.lock); wait for it to finish, or stop it first\n")
        assert not output.exists()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"took over the stale lock of pid {pid} on host {socket.gethostname()} (no longer running) on {output}" in err
    assert output.exists() and not Path(f"{output}.lock").exists()


@pytest.mark.parametrize("spelling", [".", "..", "./"])
def test_an_output_folder_spelled_with_dots_is_locked_beside_the_folder_it_names(tmp_path, monkeypatch, spelling):
    """``leaderboard -o .``, ``push-results --output-dir .``, ``run -o ..``: the lock is the named folder's
    sibling ``<name>.lock`` (a path without a name of its own raised ValueError, a traceback)."""
    from cascadener.cli.common import locked_output

    inner = tmp_path / "runs" / "board"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    named = inner if spelling != ".." else inner.parent
    with locked_output(spelling):
        assert (named.parent / f"{named.name}.lock").is_file()
    assert not (named.parent / f"{named.name}.lock").exists()
