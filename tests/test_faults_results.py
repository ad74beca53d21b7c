"""Faults on the results side: results JSON and cards appear whole or not at all; push-results
refuses NaN or empty metrics; push-results --dry-run --output-dir on a read-only folder, a file or
a full disk gives a clear error naming the path, no traceback.

Faults are real where the sandbox allows it (a tmpfs mounted read-only or nearly full, as root),
else simulated by making the final rename raise the same errno."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from cascadener.publishing import hub
from cascadener.cli import main

BENCHMARK = "dynamicner-kit/DynamicNER"


def _record(run_id: str = "20260101T000000Z-0000abcd", **metrics) -> dict:
    metrics = metrics or {"precision": 0.5, "recall": 0.25, "f1": 1 / 3}
    return {
        "schema": hub.RESULTS_SCHEMA, "run_id": run_id, "created_at": "2026-01-01T00:00:00+00:00",
        "model": {"id": "me/m", "revision": "local-0123456789abcdef"},
        "pipeline": {"backend": "transformers", "method": "cascadener-generative"},
        "dataset": {"id": "dynamicner", "revision": "builder-1", "config": "de", "split": "test", "languages": ["de"]},
        "metric": {"name": "dynamicner_f1", "version": "0.1.0", "matching": "strict"},
        "prompt": {"template": "released", "hash": "0123456789ab"},
        "scores": {"dynamic-de": {"f1": 1 / 3, "precision": 0.5, "recall": 0.25, "languages": {"de": 1 / 3}}},
        "metrics": metrics, "counts": {"sentences": 4},
        "coverage": {"sentences_predicted": 4, "sentences_in_split": 4, "limit": None},
    }


def _write(path: Path, record: dict) -> Path:
    path.write_text(json.dumps(record), encoding="utf-8")  # json writes NaN as the bare token NaN
    return path


def _push_dry_run(results: Path, output_dir: Path) -> int:
    return main(["push-results", str(results), "--model-id", "me/m", "--benchmark-id", BENCHMARK, "--dry-run",
                 "--output-dir", str(output_dir)])


def _no_partials(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if ".partial-" in p.name or ".old-" in p.name] if folder.exists() else []


# ------------------------------------------------------------------------------ NaN or empty metrics

@pytest.mark.parametrize("change, field", [
    (lambda r: r["metrics"].update(f1=math.nan), "metrics/f1"),
    (lambda r: r["metrics"].update(precision=math.inf), "metrics/precision"),
    (lambda r: r["scores"]["dynamic-de"].update(f1=math.nan), "scores/dynamic-de/f1"),
    (lambda r: r["scores"]["dynamic-de"]["languages"].update(de=math.nan), "scores/dynamic-de/languages/de"),
    (lambda r: r.update(metrics={}), "metrics"),
    (lambda r: r.update(scores={}), "scores"),
    (lambda r: r.update(metrics={"num_references": 0.0}), "metrics"),
])
def test_push_results_refuses_nan_or_empty_metrics(tmp_path, capsys, change, field):
    record = _record()
    change(record)
    path = _write(tmp_path / "results.json", record)
    out = tmp_path / "card"
    assert _push_dry_run(path, out) == 2
    err = capsys.readouterr().err
    assert err.startswith("cascadener push-results: error: ") and "Traceback" not in err
    assert str(path) in err and f"field '{field}'" in err
    assert not out.exists()  # nothing written, so nothing could be uploaded either
    # the same refusal guards the real push: no Hub call is attempted
    called = []
    import huggingface_hub

    original = huggingface_hub.metadata_update
    huggingface_hub.metadata_update = lambda *a, **k: called.append(a)
    try:
        assert main(["push-results", str(path), "--model-id", "me/m", "--benchmark-id", BENCHMARK]) == 2
    finally:
        huggingface_hub.metadata_update = original
    assert called == []
    # an in-memory run with a NaN headline score never reaches a model-index either
    if field == "metrics/f1":
        results = hub.RunResults(**record)
        with pytest.raises(hub.ResultsError, match="'metrics/f1' is nan"):
            hub.model_card(results, model_id="me/m")


# ------------------------------------------------------------------------------ atomic writes

def _fail_on_rename(monkeypatch, code: int):
    """Make the final rename of every atomic write fail, as a full or read-only disk would."""
    import dynamicner_data.atomic as atomic

    def failing(src, dst):
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(atomic.os, "replace", failing)


def test_results_json_and_cards_are_written_atomically(tmp_path, monkeypatch):
    first = hub.RunResults(**_record("20260101T000000Z-00000001"))
    out = tmp_path / "card"
    card, json_path = hub.write_dry_run(first, out, model_id="me/m", benchmark_id=BENCHMARK)
    entries, _ = hub.eval_result_entries(first, benchmark_id=BENCHMARK, tasks=["dynamic-de"])
    eval_path = hub.write_eval_results(entries, out)
    saved = first.save(tmp_path / "results.json")
    before = {p: p.read_bytes() for p in (card, json_path, eval_path, saved)}

    second = hub.RunResults(**{**_record("20260102T000000Z-00000002"), "model": {"id": "me/other", "revision": "x"}})
    _fail_on_rename(monkeypatch, errno.ENOSPC)
    with pytest.raises(OSError):
        second.save(tmp_path / "results.json")
    with pytest.raises(OSError):
        hub.write_dry_run(second, out, model_id="me/other", benchmark_id=BENCHMARK)
    with pytest.raises(OSError):
        hub.write_eval_results(hub.eval_result_entries(second, benchmark_id=BENCHMARK, tasks=["dynamic-de"])[0], out)
    monkeypatch.undo()
    # the earlier outputs are intact, byte for byte; no torn or temporary file is left behind
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in (out / "results").iterdir()) == [json_path.name]
    assert _no_partials(tmp_path) == []
    assert hub.load_results(saved) == first

    # the leaderboard's Markdown/CSV/HTML go the same way
    from cascadener.publishing.leaderboard import build, entries_from_results
    from cascadener.publishing.leaderboard_formats import write_outputs

    board = build(entries_from_results(first, source="a.json"))
    written = write_outputs(board, tmp_path / "board")
    old = {p: p.read_bytes() for p in written.values()}
    _fail_on_rename(monkeypatch, errno.ENOSPC)
    with pytest.raises(OSError):
        write_outputs(build(entries_from_results(second, source="b.json")), tmp_path / "board")
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in old} == old and _no_partials(tmp_path / "board") == []


# ------------------------------------------------------------------------------ unwritable --output-dir

@contextmanager
def _tmpfs(path: Path, options: str):
    """A tmpfs mounted at ``path`` (True), or an ordinary folder (False) where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                                 capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(folder: Path) -> None:
    """Fill the file system of ``folder`` until a write fails with ENOSPC."""
    with open(folder / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC


@pytest.mark.parametrize("fault", ["read-only folder", "folder given as a file", "full disk"])
def test_push_results_dry_run_output_dir_faults(tmp_path, capsys, monkeypatch, fault):
    results = _write(tmp_path / "results.json", _record())
    mount = tmp_path / "mnt"
    if fault == "folder given as a file":
        target = tmp_path / "card.md"
        target.write_text("a file", encoding="utf-8")
        assert _push_dry_run(results, target) == 2
        err = capsys.readouterr().err
        assert err == f"cascadener push-results: error: --output-dir {target} is a file, not a folder\n"
        assert target.read_text() == "a file"
        return
    options = "ro,size=1m" if fault == "read-only folder" else "size=64k"
    with _tmpfs(mount, options) as mounted:
        code = errno.EROFS if fault == "read-only folder" else errno.ENOSPC
        if not mounted:  # no root or no tmpfs here: the rename fails with the same errno
            _fail_on_rename(monkeypatch, code)
        elif fault == "full disk":
            _fill(mount)
        target = mount / "card"
        assert _push_dry_run(results, target) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"cascadener push-results: error: cannot write the dry-run output to {target}: ")
        assert os.strerror(code) in err and "Traceback" not in err and err.count("\n") == 1
        leftovers = [p for p in mount.rglob("*") if p.name != "filler" and p.is_file()] if mount.exists() else []
        assert leftovers == []  # no card, no torn JSON, no temporary sibling
