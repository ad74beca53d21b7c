"""Sharded runs and their merge (docs/scale.md): ``predict --shard I/N`` owns the rows of
``Dataset.shard(N, I, contiguous=True)``, every part is a normal predictions file, and ``cascadener
merge`` gives back the exact bytes of an unsharded run, or refuses naming the part and the field.

Fast tests predict through a scripted loopback server that memorised ``tiny_corpus``
(:func:`loopback.memorising`); the slow ones on the tiny memorising model (``tiny_cascade``), whose
scores depend on the batch a row is predicted in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from loopback import FaultProxy, memorising

from cascadener.cli import main
from cascadener.scale.shards import Shard, ids_digest, pending_chunks, plan_chunks

COUNTS = (1, 2, 3, 7)


def _inputs(path: Path, records: list[dict], rows: int) -> Path:
    """``rows`` input lines cycling through ``records`` (ids made unique), with their gold."""
    with path.open("w", encoding="utf-8") as out:
        for index in range(rows):
            record = records[index % len(records)]
            out.write(json.dumps({"id": f"{record['id']}-{index}", "text": record["text"],
                                  "type_list": record["type_list"], "entities": record["entities"],
                                  "language": record["language"]}, ensure_ascii=False) + "\n")
    return path


def _meta(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".meta.json").read_text(encoding="utf-8"))


def _served(proxy: FaultProxy, *extra: str) -> list[str]:
    return ["--backend", "openai", "--base-url", proxy.base_url, "--model", "memorised", "--no-progress",
            "--chunk-size", "3", "--max-retries", "0", *extra]


def _run(argv: list[str], capsys) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().err


def _sharded(tmp_path: Path, inputs: Path, count: int, common: list[str], capsys) -> list[Path]:
    parts = []
    for index in range(count):
        part = tmp_path / f"part-{index}-of-{count}.jsonl"
        status, err = _run(["predict", "--jsonl", str(inputs), *common, "--shard", f"{index}/{count}", "-o", str(part)],
                           capsys)
        assert status == 0, err
        parts.append(part)
    return parts


# ------------------------------------------------------------------------------ the rule


def test_a_shard_owns_the_rows_dataset_shard_selects():
    """Where ``Dataset.shard`` gives rows, the same rows; the empty parts past the last row, where it
    raises ``IndexError`` (datasets 5.2 selects an empty range at the end of a dataset so), are empty."""
    import datasets

    for total in (0, 1, 2, 3, 5, 7, 8, 13):
        table = datasets.Dataset.from_dict({"row": list(range(total))})
        for count in (*COUNTS, 8):
            for index in range(count):
                start, end = Shard(index, count).bounds(total)
                try:
                    rows = table.shard(count, index, contiguous=True)["row"]
                except IndexError:
                    assert start == end == total, (total, count, index)
                    continue
                assert list(range(start, end)) == rows, (total, count, index)


def test_chunks_cover_every_row_once_and_each_chunk_is_counted_once():
    for total in (0, 1, 5, 8, 16, 23):
        for count in COUNTS:
            for size in (1, 3, 4, 32):
                for aligned in (True, False):
                    written, counted = [], []
                    for index in range(count):
                        rows = Shard(index, count).bounds(total)
                        for chunk in plan_chunks(total, rows, size, aligned=aligned):
                            assert chunk.predict[0] <= chunk.write[0] < chunk.write[1] <= chunk.predict[1]
                            written += range(*chunk.write)
                            counted += [chunk.predict] if chunk.counted else []
                    assert written == list(range(total))
                    unsharded = [c.predict for c in plan_chunks(total, (0, total), size, aligned=aligned)]
                    if aligned:  # the same chunks as the unsharded run, each counted by one part
                        assert counted == unsharded
                    else:
                        assert sum(high - low for low, high in counted) == total


def test_resume_continues_after_whole_chunks_only():
    chunks = plan_chunks(10, *[(3, 9)], 4, aligned=True)
    assert [c.write for c in chunks] == [(3, 4), (4, 8), (8, 9)]
    assert [c.write for c in pending_chunks(chunks, 1)] == [(4, 8), (8, 9)]
    with pytest.raises(ValueError, match="3 rows written is not a whole number of chunks"):
        pending_chunks(chunks, 3)


# ------------------------------------------------------------------------------ fast: a scripted server


# the fast loop keeps one case of the sweep: more rows than parts, part edges inside chunks
SWEEP = [pytest.param(count, rows, id=f"{count}-parts-{rows}-rows",
                      marks=() if (count, rows) == (3, 16) else pytest.mark.slow)
         for count in COUNTS for rows in (16, 3)]


@pytest.mark.parametrize("count, rows", SWEEP)
def test_sharded_server_runs_merge_to_the_unsharded_file(tiny_corpus, tmp_path, capsys, count, rows):
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, rows)
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy:
        whole = tmp_path / "whole.jsonl"
        status, err = _run(["predict", "--jsonl", str(inputs), *_served(proxy), "-o", str(whole)], capsys)
        assert status == 0, err
        parts = _sharded(tmp_path, inputs, count, _served(proxy), capsys)
    for index, part in enumerate(parts):  # each part a normal output with its shard and the input's identity
        meta = _meta(part)
        start, end = Shard(index, count).bounds(rows)
        assert meta["complete"] and meta["sentences"] == end - start
        assert meta["shard"] | {"ids_sha256": None} == {"index": index, "count": count, "start": start, "end": end,
                                                         "input_sentences": rows, "ids_sha256": None}
        assert meta["source"]["ids_sha256"] == _meta(whole)["source"]["ids_sha256"]
        assert part.read_text(encoding="utf-8").count("\n") == end - start
    merged = tmp_path / "merged.jsonl"
    status, err = _run(["merge", "-o", str(merged), *reversed([str(p) for p in parts])], capsys)
    assert status == 0, err
    assert merged.read_bytes() == whole.read_bytes()
    expected, found = _meta(whole), _meta(merged)
    assert found["stats"] == expected["stats"] and found["stats"]["stage2_requests"] > 0
    for key in ("source", "options", "layout", "models", "committed", "sentences", "complete"):
        assert found[key] == expected[key], key
    assert [part["shard"] for part in found["merged"]["parts"]] == [f"{i}/{count}" for i in range(count)]


@pytest.mark.parametrize("source", ["dataset", "geic"])
def test_sharded_dataset_and_geic_runs_merge_to_the_unsharded_file(source, memorised_release, tiny_corpus, tmp_path,
                                                                   capsys):
    """The builder's split (``--dataset``) and a GEIC file shard by the same rule as JSONL: each part
    holds its rows of ``Dataset.shard``, records the input's identity, and the merge gives back the
    unsharded file, which evaluate then scores against the same references."""
    if source == "dataset":
        inputs = ["--dataset", "en", "--split", "test", "--data-dir", str(memorised_release)]
    else:
        inputs = ["--geic", str(memorised_release / "en" / "test.json")]
    rows = sum(record["language"] == "en" for record in tiny_corpus)
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy:
        whole = tmp_path / "whole.jsonl"
        status, err = _run(["predict", *inputs, *_served(proxy), "-o", str(whole)], capsys)
        assert status == 0, err
        lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
        assert len(lines) == rows
        for count in (2, 3):
            parts = []
            for index in range(count):
                part = tmp_path / f"{count}-{index}.jsonl"
                status, err = _run(["predict", *inputs, *_served(proxy), "--shard", f"{index}/{count}",
                                    "-o", str(part)], capsys)
                assert status == 0, err
                start, end = Shard(index, count).bounds(rows)
                assert part.read_text(encoding="utf-8") == "".join(lines[start:end])
                assert _meta(part)["source"]["ids_sha256"] == _meta(whole)["source"]["ids_sha256"]
                parts.append(part)
            merged = tmp_path / f"merged-{count}.jsonl"
            status, err = _run(["merge", "-o", str(merged), *map(str, parts)], capsys)
            assert status == 0, err
            assert merged.read_bytes() == whole.read_bytes()
            assert _meta(merged)["stats"] == _meta(whole)["stats"]
    scores = []
    for path in (whole, merged):
        out = path.with_suffix(".results.json")
        status, err = _run(["evaluate", str(path), *inputs, "-o", str(out)], capsys)
        assert status == 0, err
        scores.append(json.loads(out.read_text(encoding="utf-8"))["metrics"])
    # the server memorised the mentions (stage 1); these inputs' type lists are not tiny_corpus's
    assert scores[0] == scores[1] and scores[0]["extraction_f1"] == 1.0


def test_evaluate_scores_a_merged_file_like_an_unsharded_one(tiny_corpus, tmp_path, capsys):
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 8)
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy:
        whole = tmp_path / "whole.jsonl"
        assert main(["predict", "--jsonl", str(inputs), *_served(proxy), "-o", str(whole)]) == 0
        parts = _sharded(tmp_path, inputs, 3, _served(proxy), capsys)
    merged = tmp_path / "merged.jsonl"
    assert main(["merge", "-o", str(merged), *map(str, parts)]) == 0
    results = {}
    for name, path in (("whole", whole), ("merged", merged)):
        status, err = _run(["evaluate", str(path), "-o", str(tmp_path / f"{name}.results.json")], capsys)
        assert status == 0 and "coverage" not in err, err
        results[name] = json.loads((tmp_path / f"{name}.results.json").read_text(encoding="utf-8"))
    assert results["merged"]["metrics"] == results["whole"]["metrics"] and results["merged"]["metrics"]["f1"] == 1.0
    assert results["merged"]["coverage"] == results["whole"]["coverage"] == {
        "sentences_predicted": 8, "sentences_in_split": 8, "limit": None}
    assert results["merged"]["counts"] == results["whole"]["counts"]


def test_evaluate_scores_one_shard_against_its_rows_of_the_references(tiny_corpus, tmp_path, capsys):
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 8)
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy:
        part, = _sharded(tmp_path, inputs, 1, _served(proxy), capsys)  # 0/1: every row
        parts = _sharded(tmp_path, inputs, 3, _served(proxy), capsys)
    status, err = _run(["evaluate", str(parts[1]), "--jsonl", str(inputs), "--shard", "1/3",
                        "-o", str(tmp_path / "r.json")], capsys)
    assert status == 0, err
    results = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert results["metrics"]["f1"] == 1.0 and results["counts"]["missing_predictions"] == 0
    assert results["coverage"]["sentences_predicted"] == 3 and results["coverage"]["sentences_in_split"] == 8
    assert "incomplete: 3 of 8 sentences" in err
    # without the shard, the other parts' references count as missing predictions
    status, err = _run(["evaluate", str(parts[1]), "--jsonl", str(inputs), "-o", str(tmp_path / "r.json")], capsys)
    assert status == 0 and "5 reference sentence(s) had no prediction" in err
    status, err = _run(["evaluate", str(parts[1]), "--shard", "2/3", "-o", str(tmp_path / "r.json")], capsys)
    assert status == 2 and f"{parts[1]} is shard 1/3 (field shard in its meta), not 2/3" in err


def _unfinished_part(tmp_path: Path, inputs: Path, tiny_corpus, capsys) -> Path:
    """Shard 1/3 of the 16 rows (rows 6 to 10) cut short by a server that fails on its second chunk
    (rows 9 and 10: the texts of records 1 and 2): a real unfinished part, 3 of 5 rows written."""
    respond = memorising(tiny_corpus)
    failing_texts = [tiny_corpus[1]["text"], tiny_corpus[2]["text"]]

    def failing(body):
        prompt = body["messages"][-1]["content"]
        return (400, {"error": {"message": "no more"}}) if any(t in prompt for t in failing_texts) else respond(body)

    part = tmp_path / "unfinished-1-of-3.jsonl"
    with FaultProxy(respond=failing) as proxy:
        status, err = _run(["predict", "--jsonl", str(inputs), *_served(proxy, "--off-list", "closest"),
                            "--shard", "1/3", "-o", str(part)], capsys)
    assert status == 2 and "the 3 predictions written so far are kept" in err, err
    return part


def test_merge_refuses_what_does_not_fit_naming_the_part_and_the_field(tiny_corpus, tmp_path, capsys):
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 16)
    other = _inputs(tmp_path / "other.jsonl", list(reversed(tiny_corpus)), 16)
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy:
        good = _sharded(tmp_path, inputs, 3, _served(proxy, "--off-list", "closest"), capsys)
        variants = {}
        for name, source, extra, shard in (
                ("other input", other, [], "1/3"), ("other seed", inputs, ["--seed", "1"], "1/3"),
                ("other model", inputs, ["--model", "another"], "1/3"),
                ("other layout", inputs, ["--chunk-size", "4"], "1/3"), ("other count", inputs, [], "1/4"),
                ("unsharded", inputs, [], None)):
            common = _served(proxy, "--off-list", "closest")
            if "--chunk-size" in extra:
                common = [arg for arg in common if arg not in ("--chunk-size", "3")]
            path = tmp_path / (name.replace(" ", "-") + ".jsonl")
            argv = ["predict", "--jsonl", str(source), *common, *extra, "-o", str(path)]
            status, err = _run(argv + (["--shard", shard] if shard else []), capsys)
            assert status == 0, err
            variants[name] = path
    unfinished = _unfinished_part(tmp_path, inputs, tiny_corpus, capsys)
    # a part whose server applied another stage-2 policy (another server's probe found a constraint)
    policy = tmp_path / "other-policy.jsonl"
    policy.write_bytes(good[1].read_bytes())
    meta = json.loads(good[1].with_name(good[1].name + ".meta.json").read_text(encoding="utf-8"))
    meta["applied"] = {**meta["applied"], "method": "cascadener-generative-decoding"}
    policy.with_name(policy.name + ".meta.json").write_text(json.dumps(meta), encoding="utf-8")
    first, second, third = map(str, good)
    cases = [
        ([first, second], "shard 2/3 is missing (field shard.index)"),
        ([first, second, second, third], f"shard 1/3 is given twice (field shard.index): {second} and {second}"),
        ([first, str(variants["other input"]), third],
         f"parts of different inputs: {variants['other input']} has field source."),
        ([first, str(variants["other seed"]), third],
         f"parts of different options: {variants['other seed']} has field options.seed 1, {first} 0"),
        ([first, str(variants["other model"]), third],
         f"parts of different options: {variants['other model']} has field options.extractor \"another\""),
        ([first, str(policy), third], f"parts of different stage-2 policies: {policy} has field applied "),
        ([first, str(variants["other layout"]), third],
         f"parts of different chunk layouts: {variants['other layout']} has field layout.chunk_size 4, {first} 3"),
        ([first, str(variants["other count"]), third], f"{variants['other count']} is shard 1/4 and {first} shard 0/3 "
                                                       "(field shard.count)"),
        ([str(variants["unsharded"])], f"{variants['unsharded']} is not a part of a sharded run: its meta has no "
                                       "field 'shard'"),
        ([first, str(unfinished), third], f"{unfinished} is unfinished: its meta records complete: false "
                                          "(field complete; 3 of 5 sentences written)"),
    ]
    merged = tmp_path / "merged.jsonl"
    for parts, message in cases:
        status, err = _run(["merge", "-o", str(merged), *parts], capsys)
        assert status == 2 and message in err and "Traceback" not in err, (message, err)
        assert "nothing was written" in err
        assert not merged.exists() and not merged.with_name(merged.name + ".meta.json").exists()
    edited = tmp_path / "edited.jsonl"  # a part changed after it was written
    edited.write_bytes(good[1].read_bytes().replace(b"Oslo", b"Osl0"))
    edited.with_name(edited.name + ".meta.json").write_bytes(good[1].with_name(good[1].name + ".meta.json").read_bytes())
    status, err = _run(["merge", "-o", str(merged), first, str(edited), third], capsys)
    assert status == 2 and f"{edited}: its bytes are not those its meta records (field committed.sha256)" in err
    assert not merged.exists()
    edited.write_bytes(b"".join(good[1].read_bytes().splitlines(keepends=True)[:-1]))  # its last line lost
    status, err = _run(["merge", "-o", str(merged), first, str(edited), third], capsys)
    assert status == 2 and f"{edited} holds" in err and "(field committed.bytes)" in err and not merged.exists()
    status, err = _run(["merge", "-o", first, first, second, third], capsys)
    assert status == 2 and "is the part" in err
    assert main(["merge", "-o", str(merged), first, second, third]) == 0
    status, err = _run(["merge", "-o", str(merged), first, second, third], capsys)
    assert status == 2 and "exists; pass --overwrite" in err
    assert main(["merge", "-o", str(merged), "--overwrite", third, second, first]) == 0


def test_a_part_resumes_only_as_the_same_shard(tiny_corpus, tmp_path, capsys):
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 16)
    unfinished = _unfinished_part(tmp_path, inputs, tiny_corpus, capsys)
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy:
        common = ["predict", "--jsonl", str(inputs), *_served(proxy, "--off-list", "closest"), "-o", str(unfinished),
                  "--resume"]
        status, err = _run([*common, "--shard", "2/3"], capsys)
        assert status == 2 and "the first run predicted shard 1/3, this one shard 2/3 (--shard)" in err
        status, err = _run(common, capsys)
        assert status == 2 and "the first run predicted shard 1/3, this one every row (--shard)" in err
        status, err = _run([*common, "--shard", "1/3"], capsys)
        assert status == 0 and "resume: 3 of 5 sentences already predicted" in err, err
        whole = tmp_path / "whole.jsonl"
        assert main(["predict", "--jsonl", str(inputs), *_served(proxy, "--off-list", "closest"), "-o", str(whole)]) == 0
    lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    assert unfinished.read_text(encoding="utf-8") == "".join(lines[6:11])


def test_resume_refuses_a_part_edited_after_it_was_written(tiny_corpus, tmp_path, capsys):
    """Text changed in place (same length, still UTF-8) is caught by the digest of the committed bytes."""
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 16)
    unfinished = _unfinished_part(tmp_path, inputs, tiny_corpus, capsys)
    data = unfinished.read_bytes()
    assert b"Oslo" in data
    unfinished.write_bytes(data.replace(b"Oslo", b"Osl0"))
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy:
        status, err = _run(["predict", "--jsonl", str(inputs), *_served(proxy, "--off-list", "closest"),
                            "--shard", "1/3", "-o", str(unfinished), "--resume"], capsys)
    assert status == 2 and "(committed.sha256): the file was changed after it was written" in err, err
    assert unfinished.read_bytes() == data.replace(b"Oslo", b"Osl0")  # left as it was, nothing appended


@pytest.mark.parametrize("argv, message", [
    (["--shard", "3/3"], "shard 3/3: the index must be 0 to 2"),
    (["--shard", "1"], "'1' is not a shard: write I/N"),
    (["--workers", "2"], "--workers only applies with --executor ray"),
    (["--ray-address", "auto", "--worker-base-url", "http://127.0.0.1:1/v1"],
     "--ray-address, --worker-base-url only apply with --executor ray"),
])
def test_scale_options_are_checked_before_any_work(tmp_path, capsys, argv, message):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "a", "text": "Ada met Bob ."}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    try:
        status = main(["predict", "--jsonl", str(inputs), "--backend", "openai", "--base-url", "http://127.0.0.1:1/v1",
                       "--model", "m", "-o", str(output), *argv])
    except SystemExit as exit_:  # argparse's usage error
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err
    assert not output.exists()


def test_the_input_identity_is_its_ids_in_order(tiny_corpus, tmp_path):
    from cascadener.cli.sources import read_jsonl_inputs

    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 5)
    ids = [row.id for row in read_jsonl_inputs(inputs).rows]
    assert ids_digest(ids) != ids_digest(list(reversed(ids))) != ids_digest(ids[:4])


# ------------------------------------------------------------------------------ slow: killed and resumed


def _cli_env() -> dict[str, str]:
    root = Path(__file__).resolve().parents[1]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.slow
def test_a_shard_killed_mid_run_and_resumed_merges_identically(tiny_corpus, tmp_path, capsys):
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 24)
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy:
        whole = tmp_path / "whole.jsonl"
        assert main(["predict", "--jsonl", str(inputs), *_served(proxy), "-o", str(whole)]) == 0
        parts = _sharded(tmp_path, inputs, 2, _served(proxy), capsys)
        killed = parts[1]
        killed.unlink()
        proxy.delay_for = lambda body: 0.05  # slow enough to be killed between chunks
        command = [sys.executable, "-m", "cascadener", "predict", "--jsonl", str(inputs), *_served(proxy),
                   "--shard", "1/2", "-o", str(killed)]
        process = subprocess.Popen(command, env=_cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if killed.exists() and killed.read_text(encoding="utf-8").count("\n") >= 3:
                break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        written = killed.read_text(encoding="utf-8").count("\n")
        assert 3 <= written < 12 and not _meta(killed)["complete"]
        proxy.delay_for = None
        status, err = _run(["predict", "--jsonl", str(inputs), *_served(proxy), "--shard", "1/2", "-o", str(killed),
                            "--resume"], capsys)
        assert status == 0 and "resume:" in err, err
    merged = tmp_path / "merged.jsonl"
    assert main(["merge", "-o", str(merged), *map(str, parts)]) == 0
    assert merged.read_bytes() == whole.read_bytes()
    assert _meta(merged)["stats"] == _meta(whole)["stats"]


# ------------------------------------------------------------------------------ slow: the local backend


@pytest.mark.slow
@pytest.mark.parametrize("rows, counts", [(8, COUNTS), (3, (7,))], ids=["more-rows-than-parts", "fewer-rows-than-parts"])
def test_sharded_local_runs_merge_to_the_unsharded_file(tiny_cascade, tiny_corpus, tmp_path, capsys, rows, counts):
    """The tiny model's scores change in their last digits with the batch a row is predicted in:
    parts predict their rows in the unsharded run's chunks, so the merge is the same bytes."""
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, rows)
    common = ["--extractor", str(tiny_cascade.extractor), "--device", "cpu", "--no-progress", "--chunk-size", "3",
              "--batch-size", "2"]
    whole = tmp_path / "whole.jsonl"
    status, err = _run(["predict", "--jsonl", str(inputs), *common, "-o", str(whole)], capsys)
    assert status == 0, err
    for count in counts:
        folder = tmp_path / f"n{count}"
        folder.mkdir()
        parts = _sharded(folder, inputs, count, common, capsys)
        merged = folder / "merged.jsonl"
        assert main(["merge", "-o", str(merged), *map(str, parts)]) == 0
        assert merged.read_bytes() == whole.read_bytes(), count
        assert _meta(merged)["stats"] == _meta(whole)["stats"], count


# ------------------------------------------------------------------------------ slow: Ray Data


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster of 2 CPUs for the session (starting one takes ~5-10 s), stopped by its own API."""
    import logging
    import shutil
    import tempfile

    ray = pytest.importorskip("ray", reason='the Ray executor needs pip install "dynamicner-kit[ray]" (CI installs it)')
    pytest.importorskip("ray.data", reason='the Ray executor needs Ray Data: pip install "ray[data]"')
    saved = {key: os.environ.get(key) for key in ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE")}
    os.environ.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")  # no stats, no token file in ~/.ray
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             _temp_dir=temp)
    yield ray
    ray.shutdown()
    assert not ray.is_initialized()
    shutil.rmtree(temp, ignore_errors=True)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_the_ray_executor_says_how_to_install_ray_when_it_is_missing(tmp_path, capsys, monkeypatch):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "a", "text": "Ada met Bob ."}\n', encoding="utf-8")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as where it is not installed
    status, err = _run(["predict", "--jsonl", str(inputs), "--backend", "openai", "--base-url", "http://127.0.0.1:1/v1",
                        "--model", "m", "-o", str(tmp_path / "out.jsonl"), "--executor", "ray"], capsys)
    assert status == 2 and 'pip install "dynamicner-kit[ray]"' in err and "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.jsonl.meta.json").exists()


def test_a_ray_run_takes_the_outputs_lock_like_any_run(tiny_corpus, tmp_path, capsys):
    """A second writer is refused before any work whatever the executor: the lock comes first."""
    from cascadener.cli.locking import OutputLock

    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 4)
    output = tmp_path / "out.jsonl"
    with FaultProxy(respond=memorising(tiny_corpus)) as proxy, OutputLock(output):
        status, err = _run(["predict", "--jsonl", str(inputs), *_served(proxy), "--executor", "ray", "--workers", "2",
                            "-o", str(output)], capsys)
    assert status == 2 and f"pid {os.getpid()}" in err and "Traceback" not in err, err
    assert proxy.posts() == [] and not output.exists() and not output.with_name(output.name + ".meta.json").exists()


def test_the_ray_extra_is_ray_data_never_ray_llm_and_the_test_extra_installs_it():
    """``dynamicner-kit[ray]`` is Ray Data only (``ray[llm]`` pins a CUDA vLLM); the test extra, which
    ``.ci/run`` installs, holds the same requirement, so CI runs the Ray tests instead of skipping them."""
    import tomllib

    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    ray_extra = [Requirement(text) for text in extras["ray"]]
    assert [(r.name, r.extras) for r in ray_extra] == [("ray", {"data"})]
    assert all("llm" not in Requirement(text).extras for values in extras.values() for text in values)
    assert set(extras["ray"]) <= set(extras["test"])
    assert '".[test]"' in (root / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.slow
def test_ray_workers_on_the_tiny_model_write_the_one_process_file(ray_cluster, tiny_cascade, tiny_corpus, tmp_path,
                                                                 capsys):
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 16)
    common = ["predict", "--jsonl", str(inputs), "--extractor", str(tiny_cascade.extractor), "--device", "cpu",
              "--no-progress", "--chunk-size", "3"]
    one = tmp_path / "one.jsonl"
    assert main([*common, "-o", str(one)]) == 0
    workers = tmp_path / "ray.jsonl"
    status, err = _run([*common, "-o", str(workers), "--executor", "ray", "--workers", "2"], capsys)
    assert status == 0, err
    assert workers.read_bytes() == one.read_bytes()
    meta = _meta(workers)
    assert meta["stats"] == _meta(one)["stats"] and meta["complete"]
    assert meta["executor"]["name"] == "ray" and meta["executor"]["workers"] == 2
    assert ray_cluster.is_initialized()  # the session's cluster is used and left open


@pytest.mark.slow
def test_ray_workers_against_two_servers_write_the_one_process_file(ray_cluster, tiny_corpus, tmp_path, capsys):
    """Two scripted servers, one per worker's share of the chunks; a worker's server error comes back as
    the run's one-line error with the chunks before it kept, and ``--resume`` with Ray finishes the file."""
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, 24)
    respond = memorising(tiny_corpus)
    failing_text = tiny_corpus[3]["text"]  # rows 3, 11 and 19: the second chunk first fails

    def failing(body):
        if failing_text in body["messages"][-1]["content"]:
            return 400, {"error": {"message": "no more"}}
        return respond(body)

    with FaultProxy(respond=respond) as first, FaultProxy(respond=respond) as second, \
            FaultProxy(respond=failing) as broken:
        one = tmp_path / "one.jsonl"
        assert main(["predict", "--jsonl", str(inputs), *_served(first), "-o", str(one)]) == 0
        workers = tmp_path / "ray.jsonl"
        served = [*_served(first), "--executor", "ray", "--workers", "2", "-o", str(workers)]
        status, err = _run(["predict", "--jsonl", str(inputs), *served, "--worker-base-url", first.base_url,
                            "--worker-base-url", broken.base_url], capsys)
        assert status == 2 and "answered HTTP 400" in err and "the 3 predictions written so far are kept" in err, err
        assert "Traceback" not in err and workers.read_text(encoding="utf-8").count("\n") == 3
        before = (len(first.log), len(second.log))
        status, err = _run(["predict", "--jsonl", str(inputs), *served, "--worker-base-url", first.base_url,
                            "--worker-base-url", second.base_url, "--resume"], capsys)
        assert status == 0 and "resume: 3 of 24 sentences already predicted" in err, err
        assert len(first.log) > before[0] and len(second.log) > before[1]  # both servers took their share
        assert workers.read_bytes() == one.read_bytes()
        assert _meta(workers)["stats"]["stage1_requests"] == _meta(one)["stats"]["stage1_requests"] == 24
        part = tmp_path / "part.jsonl"  # a shard through Ray: the one-process part's bytes
        status, err = _run(["predict", "--jsonl", str(inputs), *_served(first), "--executor", "ray", "--shard", "1/3",
                            "-o", str(part)], capsys)
        assert status == 0, err
    start, end = Shard(1, 3).bounds(24)
    assert part.read_text(encoding="utf-8") == "".join(one.read_text(encoding="utf-8").splitlines(True)[start:end])


@pytest.mark.slow
def test_the_main_job_predicts_and_scores_its_part_of_the_test_split(tiny_cascade, tiny_corpus, memorised_release,
                                                                    tmp_path, capsys):
    """``cascadener run --shard 1/3``: the rows Dataset.shard selects of the test records of every language
    in order, predicted and scored alone; the results say which part, and that it is not the whole split."""
    out = tmp_path / "run"
    status = main(["run", "-o", str(out), "--languages", "en", "de", "--data-dir", str(memorised_release),
                   "--extractor", str(tiny_cascade.extractor), "--threads", "1", "--no-progress", "--shard", "1/3"])
    err = capsys.readouterr().err
    assert status == 0, err
    order = [r for r in tiny_corpus if r["language"] == "en"] + [r for r in tiny_corpus if r["language"] == "de"]
    start, end = Shard(1, 3).bounds(len(order))
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["text"] for line in lines] == [r["text"] for r in order[start:end]]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["dataset"]["shard"] | {"ids_sha256": None} == {
        "index": 1, "count": 3, "start": start, "end": end, "input_sentences": len(order), "ids_sha256": None}
    assert results["coverage"]["sentences_predicted"] == end - start
    assert results["coverage"]["sentences_in_split"] == len(order)
    assert f"incomplete: {end - start} of {len(order)} sentences predicted" in err
    assert results["metrics"]["extraction_f1"] == 1.0  # memorised: the part's mentions, exactly
