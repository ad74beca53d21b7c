"""Fault injection on the data side and the metric: each test is named after the behaviour it holds.

Corrupt and replaced ``.7z`` archives, half-written exports, stale caches after a source edit, the
bring-your-own-corpus path of the docs in a fresh ``HF_HOME``, user errors that must print
``<command>: error: ...`` without a traceback, metric inputs, taxonomy name cycles, ambiguous
``data_dir`` layouts. Subprocesses run offline with a temporary ``HF_HOME`` each.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dynamicner_data

# the checkout whose code this run imports (PYTHONPATH may point at another worktree than this file's):
# subprocesses and evaluate.load use the same code
ROOT = Path(dynamicner_data.__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ the metric's inputs


def test_span_dicts_given_as_tags_name_the_sample_and_field():
    import evaluate

    from dynamicner_f1.scorer import score_tags

    spans = [[{"text": "Paris", "label": "city", "start": 0, "end": 5}]]
    with pytest.raises(ValueError, match=r"sample 0: references\[0\]\[0\] is \{.*'span' config"):
        score_tags([["B-city"]], spans)
    with pytest.raises(ValueError, match=r"sample 0: predictions\[0\]\[0\] is \{"):
        score_tags(spans, [["B-city"]])
    metric = evaluate.load(str(ROOT / "metric" / "dynamicner_f1"), "bio")
    with pytest.raises(ValueError, match=r"sample 0: references\[0\]\[0\]"):
        metric.compute(predictions=spans, references=spans)


def test_numpy_integer_offsets_are_accepted_bool_and_float_are_not():
    import evaluate

    from dynamicner_f1.scorer import score_spans

    plain = [[{"text": "Paris", "label": "city", "start": 7, "end": 12}], []]
    for kind in (np.int64, np.int32, np.uint16):
        numpy_offsets = [[{"text": "Paris", "label": "city", "start": kind(7), "end": kind(12)}], []]
        assert score_spans(numpy_offsets, plain)["f1"] == 1.0
        assert score_spans(plain, numpy_offsets, sentences=["I live Paris", ""])["f1"] == 1.0
    metric = evaluate.load(str(ROOT / "metric" / "dynamicner_f1"))
    numpy_offsets = [[{"text": "Paris", "label": "city", "start": np.int64(7), "end": np.int64(12), "score": 0.5}], []]
    assert metric.compute(predictions=numpy_offsets, references=plain)["f1"] == 1.0
    for bad in (True, np.float64(7.0), 7.0):
        with pytest.raises(ValueError, match=r"sample 0: predictions\[0\]\[0\]\['start'\] is .*expected an int"):
            score_spans([[{"text": "Paris", "label": "city", "start": bad, "end": 12}], []], plain)


@pytest.mark.slow  # a big sweep; CI runs it
def test_more_than_55000_labels_score_like_seqeval():
    from seqeval.metrics import f1_score

    from dynamicner_f1.scorer import score_tags

    n = 56_000  # type codes would reach the surrogates U+D800.. at 55,040 types
    gold = [[f"B-T{k}", f"I-T{k}", "O"] for k in range(n)]
    pred = [[f"B-T{k}", f"I-T{k}", "O"] if k % 3 else [f"B-T{k + 1}", "O", "O"] for k in range(n)]
    expected = f1_score(gold, pred)
    for matching in ("strict", "partial"):
        result = score_tags(pred, gold, matching=matching)
        assert result["f1"] == pytest.approx(expected, abs=1e-12)
    result = score_tags(pred, gold)
    # T55999 is found in its own sentence and also predicted in sentence 55998: p 1/2, r 1/1
    assert result[f"label/T{n - 1}/f1"] == pytest.approx(2 / 3)
    assert result[f"label/T{n - 2}/f1"] == 0.0 and result["label/T2/f1"] == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_strict_bio_strips_dashes_like_seqeval(seed):
    import random

    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from dynamicner_f1.scorer import score_tags

    rng = random.Random(seed)
    tags = ["O", "B-X", "I-X", "B-X-", "I-X-", "B--X", "I--X", "B--", "I--", "B-_", "I-_", "B-Y", "I-Y"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(0, 12))] for _ in range(300)]
    pred = [[rng.choice(tags) if rng.random() < 0.4 else t for t in seq] for seq in gold]
    expected = f1_score(gold, pred, mode="strict", scheme=IOB2)
    assert score_tags(pred, gold, rule="strict")["f1"] == pytest.approx(expected, abs=1e-12)
    assert score_tags(pred, gold, rule="strict", matching="partial", bootstrap=5)["precision"] >= 0.0
    # the default (lenient) mode keeps the dashes, as seqeval's default mode does
    assert score_tags(pred, gold)["f1"] == pytest.approx(f1_score(gold, pred), abs=1e-12)
    # one chunk B-X I-X- : type X under strict, two chunks under lenient
    assert score_tags([["B-X", "I-X-"]], [["B-X", "I-X"]], rule="strict")["f1"] == 1.0


# ------------------------------------------------------------------------------ helpers


def _geic(n: int, *, city: str = "Lima") -> str:
    """A small GEIC file of ``n`` samples (the project's own sentences)."""
    return json.dumps(
        {f"s{i}": {"sentence": f"Ana {i} lives in {city} .", "entity": [city], "category": ["city"]} for i in range(n)}
    )


def _corpus(root: Path, language: str = "en", *, n: int = 4, city: str = "Lima") -> Path:
    folder = root / language
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        (folder / f"{split}.json").write_text(_geic(n, city=city), encoding="utf-8")
    return root


def _make_7z(archive: Path, source: Path, *, stored: bool = False) -> Path:
    import py7zr

    filters = [{"id": py7zr.FILTER_COPY}] if stored else None
    with py7zr.SevenZipFile(archive, "w", filters=filters) as seven:
        seven.writeall(source, "")
    return archive


def _env(hf_home: Path) -> dict:
    env = dict(os.environ)
    env.update({"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'metric'}", "HF_HOME": str(hf_home),
                "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    env.pop("HF_DATASETS_CACHE", None)
    return env


def _run(args: list[str], *, hf_home: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_env(hf_home), capture_output=True, text=True, timeout=600)


def _dynamicner(args: list[str], *, hf_home: Path, cwd: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "dynamicner_data.cli", *args], hf_home=hf_home, cwd=cwd)


def _main(args: list[str], capsys) -> tuple[int, str]:
    """``dynamicner`` in this process: the exit status and stderr (an exception would fail the test)."""
    from dynamicner_data import cli

    capsys.readouterr()
    status = cli.main(args)
    return status, capsys.readouterr().err


def _rows(cache: Path, config: str, split: str = "test", **source) -> list[dict]:
    from dynamicner_data.builder import prepare

    builder = prepare(config, cache_dir=str(cache), **source)
    return builder.as_dataset(split=split).to_list()


# ------------------------------------------------------------------------------ corrupt .7z archives


def _corrupt_variants(tmp_path: Path) -> dict[str, bytes]:
    source = _corpus(tmp_path / "corrupt-src", n=40)
    good = _make_7z(tmp_path / "v.7z", source).read_bytes()
    stored = _make_7z(tmp_path / "s.7z", source, stored=True).read_bytes()
    flipped = bytearray(good)
    for k in range(40, 60):
        flipped[k] ^= 0xFF
    crc = bytearray(stored)
    crc[100] ^= 0x20  # inside the first stored member: its CRC no longer matches
    return {"truncated": good[: len(good) // 2], "lzma": bytes(flipped), "crc": bytes(crc), "empty": b""}


def test_corrupt_7z_leaves_no_partial_extraction(tmp_path, capsys):
    cache = tmp_path / "cache"
    archive = tmp_path / "release.7z"
    for kind, data in _corrupt_variants(tmp_path).items():
        archive.write_bytes(data)
        status, err = _main(["prepare", "en", "--data-dir", str(archive), "--cache-dir", str(cache)], capsys)
        assert status == 2, kind
        extracted = cache / "downloads" / "extracted"
        leftovers = [p for p in extracted.rglob("*") if p.is_file()] if extracted.exists() else []
        assert leftovers == [], (kind, leftovers)
    # a good archive at the same path is extracted (no partial folder to reuse) ...
    _make_7z(archive, _corpus(tmp_path / "v1", n=5, city="Lima"))
    rows = _rows(cache, "en", data_dir=str(archive))
    assert len(rows) == 5 and rows[0]["entities"][0]["text"] == "Lima"
    # ... and a replaced archive at the same path is extracted again (keyed on its content)
    _make_7z(archive, _corpus(tmp_path / "v2", n=3, city="Quito"))
    rows = _rows(cache, "en", data_dir=str(archive))
    assert len(rows) == 3 and rows[0]["entities"][0]["text"] == "Quito"
    folders = sorted(p.name for p in (cache / "downloads" / "extracted").iterdir())
    assert len(folders) == 2 and all(name.startswith("dynamicner-7z-") for name in folders), folders


@pytest.mark.slow  # fresh processes / a big sweep; CI runs them
def test_corrupt_7z_is_a_one_line_error_in_every_command(tmp_path):
    variants = _corrupt_variants(tmp_path)
    archive = tmp_path / "AnythingNER.7z"
    archive.write_bytes(variants["truncated"])
    crc = tmp_path / "crc.7z"
    crc.write_bytes(variants["crc"])
    for command, path in (("prepare", archive), ("stats", crc)):
        args = [command, "en", "--data-dir", str(path)]
        result = _dynamicner(args, hf_home=tmp_path / "hf", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"dynamicner {command}: error: ArchiveError: {path}: corrupt or truncated .7z")


# ------------------------------------------------------------------------------ export: whole or not at all


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_failure_in_a_later_config_leaves_no_half_written_folder(tmp_path, capsys):
    data = _corpus(tmp_path / "data", "en")  # no de files: the second config fails
    out = tmp_path / "hub"
    status, err = _main(["export", str(out), "--configs", "en", "de", "--data-dir", str(data)], capsys)
    assert status == 2 and "no GEIC files for language 'de'" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    # an earlier export (here inside a clone with its own files) stays byte for byte as it was
    assert _main(["export", str(out), "--configs", "en", "--data-dir", str(data)], capsys)[0] == 0
    (out / ".gitattributes").write_text("*.parquet filter=lfs\n")
    before = _snapshot(out)
    assert "en/test-00000-of-00001.parquet" in before and "README.md" in before
    status, err = _main(["export", str(out), "--configs", "en", "de", "--data-dir", str(data)], capsys)
    assert status == 2 and _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "hub"]
    # a successful export replaces what it writes and keeps the clone's own files
    _corpus(tmp_path / "data", "en", n=2)
    assert _main(["export", str(out), "--configs", "en", "--data-dir", str(data)], capsys)[0] == 0
    import datasets

    assert datasets.load_dataset(str(out), "en", split="test").num_rows == 2
    assert (out / ".gitattributes").is_file()


@pytest.mark.slow  # starts a Python process
def test_ctrl_c_during_an_export_is_one_line_and_leaves_nothing(tmp_path):
    """SIGINT (Ctrl-C) to ``dynamicner export`` half-way: exit status 130, one line, no traceback, and
    neither the export folder nor its staging folder left behind."""
    import signal
    import time

    out = tmp_path / "hub"
    process = subprocess.Popen([sys.executable, "-m", "dynamicner_data.cli", "export", str(out)], cwd=tmp_path,
                               env=_env(tmp_path / "hf"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(".hub.partial-") and any(p.iterdir()) for p in tmp_path.iterdir()):
            assert process.poll() is None, process.stderr.read()  # every config: far longer than the wait
            assert time.monotonic() < deadline, "the export never staged a config"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "dynamicner: interrupted (outputs are replaced whole or not at all)"
    assert [p.name for p in tmp_path.iterdir() if p.name != "hf"] == []  # hf: the process's HF_HOME, if made


# ------------------------------------------------------------------------------ your own corpus; stale caches


def _doc_path_script(config: str, source: str) -> str:
    return (
        "import json, sys, datasets\n"
        f"d = datasets.load_dataset('dynamicner', {config!r}, {source})\n"
        "print(json.dumps([d['test'].num_rows, d['test'][0]['entities'][0]['text']]))\n"
    )


@pytest.mark.slow  # fresh processes in a fresh HF_HOME; CI runs them
@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_bring_your_own_corpus_as_the_docs_show_it(tmp_path, absolute):
    """``dynamicner prepare en-coarse --data-files test=F --data-files taxonomy=T``, then
    ``load_dataset("dynamicner", "en-coarse", data_files={"test": F, "taxonomy": T})``, in a fresh
    HF_HOME, offline; the same with ``--data-dir D`` / ``data_dir=D``."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "music-test.json").write_text(_geic(6, city="Lima"), encoding="utf-8")
    (work / "music.json").write_text(json.dumps({"dataset": "toy", "first-level": "location, person",
                                                 "second-level": {"location": "city"}}), encoding="utf-8")
    _corpus(work / "release", "en", n=5, city="Quito")
    spell = (lambda name: str(work / name)) if absolute else (lambda name: name)
    hf_home = tmp_path / "hf"
    prepared = _dynamicner(["prepare", "en-coarse", "--data-files", f"test={spell('music-test.json')}",
                            "--data-files", f"taxonomy={spell('music.json')}"], hf_home=hf_home, cwd=work)
    assert prepared.returncode == 0, prepared.stderr
    prepared = _dynamicner(["prepare", "en", "--data-dir", spell("release")], hf_home=hf_home, cwd=work)
    assert prepared.returncode == 0, prepared.stderr
    files = f"data_files={{'test': {spell('music-test.json')!r}, 'taxonomy': {spell('music.json')!r}}}"
    loads = [("en-coarse", files, [6, "Lima"]), ("en", f"data_dir={spell('release')!r}", [5, "Quito"]),
             # the other spelling of the same files: lists, and the other kind of path
             ("en-coarse", f"data_files={{'test': [{str(work / 'music-test.json')!r}], "
                           f"'taxonomy': [{str(work / 'music.json')!r}]}}", [6, "Lima"])]
    for config, source, expected in loads:
        loaded = _run([sys.executable, "-c", _doc_path_script(config, source)], hf_home=hf_home, cwd=work)
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        assert json.loads(loaded.stdout.strip().splitlines()[-1]) == expected


@pytest.mark.slow  # fresh processes / a big sweep; CI runs them
def test_prepare_rebuilds_after_a_source_file_changes(tmp_path):
    work = tmp_path / "work"
    _corpus(work / "release", "en", n=4, city="Lima")
    (work / "test.json").write_text(_geic(3, city="Lima"), encoding="utf-8")
    hf_home = tmp_path / "hf"
    sources = {"data_dir": ["--data-dir", "release"], "data_files": ["--data-files", "test=test.json"]}
    loads = {"data_dir": "data_dir='release'", "data_files": "data_files={'test': 'test.json'}"}
    for kind, args in sources.items():
        first = _dynamicner(["prepare", "en", *args], hf_home=hf_home, cwd=work)
        assert first.returncode == 0 and "rebuilding" not in first.stdout, first.stderr
        again = _dynamicner(["prepare", "en", *args], hf_home=hf_home, cwd=work)
        assert again.returncode == 0 and "rebuilding" not in again.stdout and "total:" not in again.stdout
        # an edit of the same size (Lima -> Rome) and a touch that changes nothing
        edited = work / ("release/en/test.json" if kind == "data_dir" else "test.json")
        before = edited.stat()
        os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns + 10_000_000_000))
        touched = _dynamicner(["prepare", "en", *args], hf_home=hf_home, cwd=work)
        assert "rebuilding" not in touched.stdout
        edited.write_text(edited.read_text(encoding="utf-8").replace("Lima", "Rome"), encoding="utf-8")
        assert edited.stat().st_size == before.st_size
        rebuilt = _dynamicner(["prepare", "en", *args], hf_home=hf_home, cwd=work)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert f"rebuilding en: {edited}" in rebuilt.stdout
        loaded = _run([sys.executable, "-c", _doc_path_script("en", loads[kind])], hf_home=hf_home, cwd=work)
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        assert json.loads(loaded.stdout.strip().splitlines()[-1])[1] == "Rome"
    # stats and export always build from the files as they are now
    (work / "test.json").write_text(_geic(2, city="Oslo"), encoding="utf-8")
    stats = _dynamicner(["stats", "en", "--json", "--data-files", "test=test.json"], hf_home=hf_home, cwd=work)
    assert json.loads(stats.stdout)[0]["rows"] == {"test": 2}


def test_fingerprint_record_notices_added_and_removed_files():
    from dynamicner_data import cache
    import tempfile

    folder = Path(tempfile.mkdtemp())
    a, b = folder / "a.json", folder / "b.json"
    a.write_text("{}")
    b.write_text("{}")
    record = cache.fingerprint([a, b])
    assert cache.stale_reason(record, [b, a]) is None
    assert "was not a source" in cache.stale_reason(record, [a, b, folder / "c.json"])
    assert "is not any more" in cache.stale_reason(record, [a])
    assert "no record" in cache.stale_reason(None, [a])


# ------------------------------------------------------------------------------ bad input files in cascadener


def test_bad_geic_file_under_data_dir_is_a_cli_error_in_every_cascadener_command(tmp_path, capsys):
    from cascadener.cli import main

    data = _corpus(tmp_path / "release", "en")
    bad = data / "en" / "test.json"
    bad.write_text(json.dumps({"s1": {"sentence": "Ana lives in Lima .", "entity": "Lima", "category": ["city"]}}),
                   encoding="utf-8")
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps({"id": "en-test-s1", "text": "Ana lives in Lima .", "entities": []}) + "\n")
    commands = {
        "predict": ["predict", "--dataset", "en", "--data-dir", str(data), "--extractor", "owner/model",
                    "-o", str(tmp_path / "out.jsonl")],
        "train": ["train", "--dataset", "en", "--split", "train", "--data-dir", str(data),
                  "-o", str(tmp_path / "model")],
        "evaluate": ["evaluate", str(predictions), "--dataset", "en", "--data-dir", str(data)],
        "run": ["run", "--languages", "en", "--data-dir", str(data), "-o", str(tmp_path / "run"),
                "--extractor", "owner/model"],
    }
    for command, args in commands.items():
        capsys.readouterr()
        assert main(args) == 2, command
        err = capsys.readouterr().err.strip().splitlines()[-1]  # after datasets' progress bars
        assert err.startswith(f"cascadener {command}: error: DynamicNER en: GeicError: {bad}"), err
        assert "'s1'" in err and "entity" in err and "Traceback" not in err


# ------------------------------------------------------------------------------ unwritable outputs


class _Tmpfs:
    """A small tmpfs mounted at ``path`` (root in a container), else ``None``: callers then patch."""

    def __init__(self, path: Path, *, size: str, read_only: bool = False):
        self.path = path
        path.mkdir(parents=True)
        options = f"size={size}" + (",ro" if read_only else "")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
        self.mounted = result.returncode == 0

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path):
    mounts: list[_Tmpfs] = []

    def mount(name: str, *, size: str = "64k", read_only: bool = False) -> _Tmpfs:
        mounts.append(_Tmpfs(tmp_path / name, size=size, read_only=read_only))
        return mounts[-1]

    yield mount
    for mounted in mounts:
        mounted.close()


def _failing(monkeypatch, code: int, target: str = "os.replace") -> None:
    """Patch ``target`` (default ``os.replace``) to fail with ``code`` (the fallback without tmpfs)."""
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(target, fail)


def test_export_and_prepare_report_unwritable_outputs(tmp_path, tmpfs, capsys, monkeypatch):
    data = _corpus(tmp_path / "data", "en")
    source = ["--data-dir", str(data)]
    # a file where a folder belongs
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    status, err = _main(["export", str(a_file), "--configs", "en", *source], capsys)
    assert status == 2 and err.startswith(f"dynamicner export: error: NotADirectoryError: ") and str(a_file) in err
    status, err = _main(["prepare", "en", "--cache-dir", str(a_file), *source], capsys)
    assert status == 2 and err.startswith("dynamicner prepare: error: ") and str(a_file) in err
    status, err = _main(["infos", "--output", str(tmp_path)], capsys)
    assert status == 2 and err.startswith("dynamicner infos: error: ") and str(tmp_path) in err
    # a read-only file system
    read_only = tmpfs("ro", read_only=True)
    with monkeypatch.context() as patch:
        if not read_only.mounted:
            _failing(patch, errno.EROFS, "os.mkdir")
        status, err = _main(["export", str(read_only.path / "out"), "--configs", "en", *source], capsys)
        assert status == 2 and err.startswith("dynamicner export: error: ") and "Read-only file system" in err
        assert str(read_only.path) in err
        status, err = _main(["prepare", "en", "--cache-dir", str(read_only.path / "cache"), *source], capsys)
        assert status == 2 and err.startswith("dynamicner prepare: error: ") and str(read_only.path) in err
    # a full disk: nothing half-written is left behind
    full = tmpfs("full", size="64k")
    with monkeypatch.context() as patch:
        if not full.mounted:
            _failing(patch, errno.ENOSPC)
        _corpus(tmp_path / "data", "en", n=400)
        status, err = _main(["export", str(full.path / "out"), "--configs", "en", *source], capsys)
        assert status == 2 and err.startswith("dynamicner export: error: ") and "No space left on device" in err
        assert str(full.path) in err and list(full.path.iterdir()) == []
        status, err = _main(["prepare", "en", "--cache-dir", str(full.path / "cache"), *source], capsys)
        assert status == 2 and err.startswith("dynamicner prepare: error: ") and str(full.path) in err
        assert "No space left on device" in err or "Not enough disk space" in err


# ------------------------------------------------------------------------------ split names, empty files


def test_example_takes_dev_and_an_empty_geic_file_is_an_error(tmp_path, capsys):
    from dynamicner_data import cli

    status = cli.main(["example", "en", "--split", "dev"])
    row = json.loads(capsys.readouterr().out)
    assert status == 0 and row["id"].startswith("en-validation-")
    status, err = _main(["example", "en", "--split", "testing"], capsys)
    assert status == 2 and err == ("dynamicner example: error: en has no split 'testing'; choose one of "
                                   "train, validation, test (dev = validation)\n")
    empty = tmp_path / "empty.json"
    empty.write_text("{}", encoding="utf-8")
    status, err = _main(["stats", "en", "--data-files", f"test={empty}"], capsys)
    assert status == 2 and err.startswith(f"dynamicner stats: error: ValueError: {empty}: the GEIC file of the test "
                                          "split holds no samples")
    blank = tmp_path / "blank.json"
    blank.write_text(json.dumps({"s1": {"sentence": " ", "entity": [], "category": []}}), encoding="utf-8")
    from dynamicner_data.builder import DynamicNER

    builder = DynamicNER(config_name="en", cache_dir=str(tmp_path / "c"), data_files={"test": [str(blank)]},
                         empty_sentences="skip")
    with pytest.raises(Exception) as info:
        builder.download_and_prepare()
    from dynamicner_data.errors import user_error

    assert f"{blank}: the GEIC file of the test split holds no samples (1 skipped" in str(user_error(info.value))


# ------------------------------------------------------------------------------ taxonomy cycles, ambiguous layouts


def test_taxonomy_name_cycle_is_refused():
    import evaluate

    from dynamicner_data.taxonomy import Taxonomy, TaxonomyError
    from dynamicner_f1.scorer import score_spans

    looped = {"first-level": "a, b", "second-level": {"a": "b", "b": "a"}}
    with pytest.raises(TaxonomyError, match=r"<dict>: type names form a cycle: 'a' > 'b' > 'a'"):
        Taxonomy.from_dict(looped)
    longer = {"first-level": "x", "second-level": {"x": "y"}, "third-level": {"y": "z"}, "fourth-level": {"z": "x"}}
    with pytest.raises(TaxonomyError, match=r"cycle: 'x' > 'y' > 'z' > 'x'"):
        Taxonomy.from_dict(longer)
    # a name directly under itself is fine (DynamicNER's "address" > "address")
    assert Taxonomy.from_dict({"first-level": "a", "second-level": {"a": "a"}}).depth == 2
    assert len(Taxonomy.dynamicner()) == 194
    gold = [[{"text": "x", "label": "a", "start": 0, "end": 1}]]
    for taxonomy in (looped, {"a": ["b", "a"], "b": ["a", "b"]}, {"a": {"b": {"a": []}}}):
        with pytest.raises(ValueError, match="type names form a cycle"):
            score_spans(gold, gold, taxonomy=taxonomy)
    metric = evaluate.load(str(ROOT / "metric" / "dynamicner_f1"))
    with pytest.raises(ValueError, match="type names form a cycle"):
        metric.compute(predictions=gold, references=gold, taxonomy=looped)


def test_data_dir_with_two_names_or_two_layouts_is_an_error(tmp_path, capsys):
    both = _corpus(tmp_path / "both", "en")
    (both / "en" / "dev.json").write_text(_geic(2), encoding="utf-8")
    status, err = _main(["stats", "en", "--data-dir", str(both)], capsys)
    assert status == 2 and "holds both validation.json and dev.json" in err and str(both / "en") in err
    layouts = _corpus(tmp_path / "layouts", "en")
    _corpus(layouts / "en", "GEIC")
    status, err = _main(["stats", "en", "--data-dir", str(layouts)], capsys)
    assert status == 2 and "in 2 layouts at once" in err
    assert str(layouts / "en") in err and str(layouts / "en" / "GEIC") in err
    # one layout, one name: fine
    (both / "en" / "dev.json").unlink()
    assert _main(["stats", "en", "--data-dir", str(both)], capsys)[0] == 0


# ------------------------------------------------------------------------------ bench_metric


@pytest.mark.slow  # fresh processes / a big sweep; CI runs them
def test_bench_metric_prints_three_scenarios_and_the_ratios(shared_data, tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_metric
    finally:
        sys.path.remove(str(ROOT / "bench"))
    _, gold = bench_metric.conll_tags(shared_data / "geic" / "conll2003-test.json")
    changed = bench_metric.differ_everywhere(gold, seed=1)
    assert all(p != g for p, g in zip(changed, gold) if g) and list(map(len, changed)) == list(map(len, gold))
    noise = bench_metric.random_tags(gold, seed=2)
    assert list(map(len, noise)) == list(map(len, gold)) and 0.4 < sum(t == "O" for s in noise for t in s) / sum(
        map(len, noise)) < 0.6
    result = _run([sys.executable, str(ROOT / "bench" / "bench_metric.py"), "--copies", "1", "--repeats", "1"],
                  hf_home=tmp_path / "hf", cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]  # the script asserts equal F1 in every scenario
    lines = result.stdout.strip().splitlines()
    for name in "ABC":
        assert any(line.startswith(f"scenario {name} (") for line in lines)
    import re

    ratio = r"[0-9.]+x wall, [0-9.]+x cpu"
    assert re.fullmatch(
        rf"RATIOS core_bio_vs_seqeval_A={ratio} core_bio_vs_seqeval_B={ratio} \(goal >= 10x\) "
        rf"core_bio_vs_seqeval_C={ratio} \| core_span_vs_seqeval={ratio} \| evaluate_bio_vs_noop={ratio} \| "
        rf"evaluate_span_vs_noop={ratio} \| evaluate_bio_add_batch_vs_noop={ratio} \| "
        rf"evaluate_span_add_batch_vs_noop={ratio} \(goal <= 1.2x\)", lines[-1]), lines[-1]
