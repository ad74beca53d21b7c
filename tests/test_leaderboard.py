"""The DynamicNER leaderboard: the benchmark dataset (eval.yaml + card), the results schema,
eval results for the Hub (--dry-run, parsed back), `cascadener leaderboard` from a folder, a cached
results repo and the Hub benchmark leaderboard (entries built as huggingface_hub parses the Hub's
JSON), all offline."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pytest
import yaml

from cascadener.publishing import hub, leaderboard
from cascadener.cli import main
from cascadener.publishing.results import results_schema

BENCHMARK = "dynamicner-kit/DynamicNER"
SHA = "0123456789abcdef0123456789abcdef01234567"


def run_record(run_id: str, *, model: str = "org/alpha", revision: str = "a" * 40, created: str = "2026-01-01T00:00:00+00:00",
               scores: dict | None = None, matching: str = "strict", version: str = "0.1.0", prompt: str = "0123456789ab",
               backend: str = "transformers", method: str = "cascadener-generative", config: str = "all",
               labels: dict | None = None) -> dict:
    """A valid results JSON (schema 2) with the given scores per task (fractions)."""
    scores = scores or {"dynamic": (0.5, {"en": 0.5})}
    tasks = {task: {"f1": f1, "precision": f1, "recall": f1, "languages": languages}
             for task, (f1, languages) in scores.items()}
    first = next(iter(tasks.values()))
    metrics = {"f1": first["f1"], "precision": first["precision"], "recall": first["recall"],
               **{f"language/{k}/f1": v for k, v in first["languages"].items()}}
    for label, (f1, support) in (labels or {"person": (first["f1"], 4), "city": (first["f1"] / 2, 2)}).items():
        metrics[f"label/{label}/f1"] = f1
        metrics[f"label/{label}/support"] = float(support)
    return {
        "schema": hub.RESULTS_SCHEMA, "run_id": run_id, "created_at": created,
        "model": {"id": model, "revision": revision, "extractor": model, "classifier": model},
        "pipeline": {"backend": backend, "method": method},
        "dataset": {"id": "dynamicner", "revision": "builder-1", "config": config, "split": "test",
                    "languages": sorted({lang for t in tasks.values() for lang in t["languages"]})},
        "metric": {"name": "dynamicner_f1", "version": version, "matching": matching},
        "prompt": {"template": "released", "hash": prompt},
        "scores": tasks, "metrics": metrics, "counts": {"sentences": 10},
    }


SEEDED = [
    run_record("r1-alpha-old", model="org/alpha", created="2026-01-01T00:00:00+00:00",
               scores={"dynamic": (0.62, {"en": 0.70, "de": 0.55})}),
    run_record("r2-beta", model="org/beta", revision="b" * 40, created="2026-01-02T00:00:00+00:00",
               backend="openai-server", scores={"dynamic": (0.71, {"en": 0.75, "de": 0.68}),
                                                "fine": (0.33, {"en": 0.40, "de": 0.30})}),
    run_record("r3-alpha-new", model="org/alpha", created="2026-01-03T00:00:00+00:00",
               scores={"dynamic": (0.65, {"en": 0.72, "de": 0.60})}),
    run_record("r4-gamma", model="org/gamma", revision="local-00aa11bb22cc33dd", created="2026-01-02T12:00:00+00:00",
               config="de", scores={"dynamic-de": (0.40, {"de": 0.40})},
               labels={"person": (0.5, 3), "organization": (0.25, 5)}),
]
#: The seeded runs' expected order in the `dynamic` task (r1 is replaced by the later r3).
DYNAMIC_ORDER = ["org/beta", "org/alpha"]


def seed(folder: Path, records=SEEDED) -> Path:
    (folder / "results").mkdir(parents=True, exist_ok=True)
    for record in records:
        (folder / "results" / f"{record['run_id']}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------ benchmark dataset

EXPORTED = ["all", "de", "de-coarse", "all-fine"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from dynamicner_data.export import export

    out = tmp_path_factory.mktemp("bench") / "DynamicNER"
    export(out, EXPORTED)
    return out


def test_eval_yaml_has_the_documented_fields_and_every_task_exists_in_the_export(exported):
    import datasets

    data = yaml.safe_load((exported / "eval.yaml").read_text(encoding="utf-8"))
    # hub docs "Evaluation Results": name, description, evaluation_framework, tasks: [{id, config, split}]
    assert set(data) == {"name", "description", "evaluation_framework", "tasks"}
    assert data["name"] == "DynamicNER" and "micro-F1" in data["description"]
    assert data["evaluation_framework"] == "cascadener"
    assert [t["id"] for t in data["tasks"]] == ["dynamic", "fine", "dynamic-de", "coarse-de"]
    for task in data["tasks"]:
        assert set(task) == {"id", "config", "split"}
        assert (exported / task["config"]).is_dir(), task
        split = datasets.load_dataset(str(exported), task["config"], split=task["split"])
        assert split.num_rows > 0 and "entities" in split.column_names
    # every task's config is one of the card's configs, with that split
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(exported / "README.md")
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    for task in data["tasks"]:
        assert task["split"] in [f["split"] for f in configs[task["config"]]["data_files"]]


def test_dataset_card_is_complete(exported):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(exported / "README.md")
    meta = card.data.to_dict()
    assert meta["license"] == "apache-2.0"
    assert meta["task_categories"] == ["token-classification"] and meta["task_ids"] == ["named-entity-recognition"]
    assert meta["language"] == ["de", "en", "es", "fr", "ja", "ko", "ru", "zh"]
    assert meta["size_categories"] == ["n<1K"]
    assert {c["config_name"] for c in meta["configs"]} == set(EXPORTED)
    infos = {info["config_name"]: info for info in meta["dataset_info"]}
    assert {f["name"] for f in infos["de"]["features"]} >= {"id", "language", "text", "tokens", "ner_tags",
                                                            "entities", "type_list"}
    assert "@inproceedings{dynamicner2025" in card.text and "eprint = {2409.11022}" in card.text
    assert "| `coarse-de` | `de-coarse` | `test` |" in card.text


def test_eval_yaml_checks_name_the_field(tmp_path):
    from dynamicner_data.eval_yaml import EvalYamlError, read_eval_yaml

    path = tmp_path / "eval.yaml"
    path.write_text("name: x\ndescription: y\nevaluation_framework: z\ntasks:\n- id: a\n  config: b\n", encoding="utf-8")
    with pytest.raises(EvalYamlError, match=r"eval.yaml: tasks\[0\] field 'split'"):
        read_eval_yaml(path)


# ------------------------------------------------------------------------------ results schema

def test_schema_ships_as_package_data_and_is_a_valid_json_schema():
    import importlib.resources

    import jsonschema

    text = importlib.resources.files("cascadener.publishing").joinpath("schemas", "results-2.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == results_schema() and schema["properties"]["schema"]["const"] == hub.RESULTS_SCHEMA
    for field in ("model", "pipeline", "dataset", "metric", "prompt", "scores", "counts", "created_at"):
        assert field in schema["required"]
    assert schema["properties"]["model"]["required"] == ["id", "revision"]
    assert schema["properties"]["dataset"]["required"] == ["id", "revision", "config", "split", "languages"]


def _broken(change):
    record = run_record("r")
    change(record)
    return record


@pytest.mark.parametrize("change, message", [
    (lambda r: r["model"].pop("revision"), "field 'model' is missing 'revision'"),
    (lambda r: r["scores"]["dynamic"].update(f1="high"), "field 'scores/dynamic/f1' must be a number, got str"),
    (lambda r: r["scores"]["dynamic"].update(f1=1.5), "field 'scores/dynamic/f1' 1.5 is greater than the maximum"),
    (lambda r: r["metric"].update(matching="fuzzy"), "field 'metric/matching' 'fuzzy' is not one of"),
    (lambda r: r.update(scores={}), "field 'scores' is empty"),
    (lambda r: r["dataset"].update(languages="en"), "field 'dataset/languages' must be an array, got str"),
    (lambda r: r.update(extra=1), "unknown field"),
    (lambda r: r.update(schema="cascadener-results/1"), "field 'schema' is 'cascadener-results/1'.*another version"),
    (lambda r: r["scores"]["dynamic"].update(f1=math.nan), "field 'scores/dynamic/f1' is nan"),
])
def test_malformed_and_incompatible_results_are_refused_naming_file_and_field(tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_broken(change)), encoding="utf-8")
    with pytest.raises(hub.ResultsError, match=message) as info:
        hub.load_results(path)
    assert str(path) in str(info.value)
    assert main(["push-results", str(path), "--model-id", "me/m", "--benchmark-id", BENCHMARK, "--dry-run",
                 "--output-dir", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ eval results

def test_push_results_dry_run_files_parse_back(tmp_path, exported, capsys):
    from huggingface_hub import ModelCard, parse_eval_result_entries

    record = run_record("20260105T000000Z-feedbeef", scores={"dynamic": (0.6123, {"en": 0.5, "de": 0.7})})
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    out = tmp_path / "dry"
    assert main(["push-results", str(path), "--model-id", "me/cascadener-x", "--benchmark-id", BENCHMARK,
                 "--eval-yaml", str(exported / "eval.yaml"), "--dataset-revision", SHA, "--results-repo",
                 "me/dynamicner-results", "--dry-run", "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 entries (dynamic, dynamic-de)" in printed  # fine is in the benchmark, not in this run
    entries = parse_eval_result_entries(yaml.safe_load((out / ".eval_results" / "dynamicner.yaml").read_text()))
    assert [(e.dataset_id, e.task_id, e.value) for e in entries] == [(BENCHMARK, "dynamic", 61.23),
                                                                       (BENCHMARK, "dynamic-de", 70.0)]
    for entry in entries:
        assert entry.dataset_revision == SHA and entry.date == record["created_at"]
        assert entry.source_url == ("https://huggingface.co/datasets/me/dynamicner-results/blob/main/results/"
                                    "20260105T000000Z-feedbeef.json")
        notes = leaderboard.parse_notes(entry.notes)
        assert notes == {"task": entry.task_id, "matching": "strict", "prompt_hash": "0123456789ab",
                         "backend": "transformers", "method": "cascadener-generative",
                         "metric": "dynamicner_f1 0.1.0", "run": record["run_id"]}
    card = ModelCard.load(out / "README.md")
    index = card.data.to_dict()["model-index"][0]["results"][0]
    assert index["dataset"]["type"] == BENCHMARK  # the legacy model-index names the benchmark
    assert json.loads((out / "results" / f"{record['run_id']}.json").read_text()) == record


def test_push_results_to_the_hub_uploads_eval_results_as_a_pull_request(tmp_path, monkeypatch, exported):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "metadata_update",
                        lambda repo_id, metadata, **kw: calls.append(("card", repo_id, kw)) or "card-url")

    class FakeApi:
        def upload_file(self, **kw):
            calls.append(("upload", kw["repo_id"], kw))
            return type("Info", (), {"pr_url": "https://hf.co/me/m/discussions/1", "commit_url": "c"})()

        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", repo_id, kw))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run_record("r9")), encoding="utf-8")
    assert main(["push-results", str(path), "--model-id", "someone/model", "--benchmark-id", BENCHMARK,
                 "--eval-yaml", str(exported / "eval.yaml"), "--create-pr", "--results-repo", "me/res"]) == 0
    card, eval_upload, create, results_upload = calls
    assert card[1] == "someone/model" and card[2]["create_pr"] is True
    assert eval_upload[1] == "someone/model" and eval_upload[2]["path_in_repo"] == ".eval_results/dynamicner.yaml"
    assert eval_upload[2]["create_pr"] is True
    assert [e["dataset"]["task_id"] for e in yaml.safe_load(eval_upload[2]["path_or_fileobj"])] == ["dynamic"]
    assert results_upload[1] == "me/res" and results_upload[2]["path_in_repo"] == "results/r9.json"


def test_reduced_runs_are_not_published_to_the_benchmark(tmp_path, capsys):
    record = run_record("r")
    record["dataset"]["limit_per_language"] = 2
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    assert main(["push-results", str(path), "--model-id", "me/m", "--benchmark-id", BENCHMARK, "--dry-run",
                 "--output-dir", str(tmp_path / "o")]) == 2
    assert "first 2 test sentence(s) per language" in capsys.readouterr().err


# ------------------------------------------------------------------------------ leaderboard

def test_leaderboard_from_a_folder_dedups_ranks_and_writes_every_format(tmp_path, capsys):
    folder = seed(tmp_path / "results-dataset")
    out = tmp_path / "board"
    assert main(["leaderboard", str(folder), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in captured.out.strip().split("\n\n")}
    dynamic = blocks["dynamic (2 runs)"]
    assert dynamic[0].split()[:8] == ["rank", "model", "revision", "F1", "P", "R", "en", "de"]
    assert [line.split()[1] for line in dynamic[1:]] == DYNAMIC_ORDER
    assert dynamic[1].split()[3:8] == ["71.00", "71.00", "71.00", "75.00", "68.00"]
    assert dynamic[2].split()[3] == "65.00"  # the later alpha run replaced the earlier one
    assert [line.split()[1] for line in blocks["dynamic-de (1 run)"][1:]] == ["org/gamma"]
    assert [line.split()[1] for line in blocks["fine (1 run)"][1:]] == ["org/beta"]
    assert "duplicate: results/r1-alpha-old.json (dynamic, 2026-01-01T00:00:00+00:00) replaced by the later " \
           "results/r3-alpha-new.json" in captured.out
    assert "1 duplicate(s) dropped" in captured.err
    # CSV: one row per task and model, fractions, languages as f1_<lang>
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert [(r["task"], r["rank"], r["model"]) for r in rows] == [
        ("dynamic", "1", "org/beta"), ("dynamic", "2", "org/alpha"), ("dynamic-de", "1", "org/gamma"),
        ("fine", "1", "org/beta")]
    assert float(rows[0]["f1_en"]) == 0.75 and rows[2]["f1_en"] == "" and rows[1]["run_id"] == "r3-alpha-new"
    markdown = (out / "leaderboard.md").read_text()
    assert "## dynamic (2 runs)" in markdown and "| 1 | org/beta |" in markdown
    page = (out / "leaderboard.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.index("org/beta") < page.index("org/alpha")
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # self-contained: nothing to fetch


def test_equal_scores_share_a_rank():
    entries = [leaderboard.Entry(source=f"{m}.json", run_id=m, created_at="2026-01-01T00:00:00Z", model_id=m,
                                 model_revision="r", task="dynamic", f1=f1) for m, f1 in (("a", .5), ("b", .7), ("c", .5))]
    board = leaderboard.build(entries)
    assert [(row.rank, row.entry.model_id) for row in board.tables["dynamic"]] == [(1, "b"), (2, "a"), (2, "c")]


def test_incomparable_runs_are_refused_unless_one_kind_is_selected(tmp_path, capsys):
    folder = seed(tmp_path / "d", SEEDED + [
        run_record("r5-partial", model="org/delta", matching="partial", scores={"dynamic": (0.9, {"en": 0.9})}),
        run_record("r6-newmetric", model="org/eps", version="0.2.0", scores={"fine": (0.2, {"en": 0.2})})])
    assert main(["leaderboard", str(folder), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cascadener leaderboard: error: task dynamic: runs scored differently cannot be ranked")
    assert "matching partial: results/r5-partial.json" in err and "matching strict: results/r2-beta.json" in err
    assert main(["leaderboard", str(folder), "--task", "dynamic", "--matching", "partial", "-o", str(tmp_path / "o")]) == 0
    assert "org/delta" in capsys.readouterr().out
    assert main(["leaderboard", str(folder), "--matching", "strict", "-o", str(tmp_path / "o")]) == 2
    assert "task fine" in capsys.readouterr().err
    assert main(["leaderboard", str(folder), "--matching", "strict", "--metric-version", "0.1.0",
                 "-o", str(tmp_path / "o")]) == 0
    assert "org/eps" not in capsys.readouterr().out


def test_invalid_result_files_stop_the_leaderboard_or_are_counted_with_skip_invalid(tmp_path, capsys):
    folder = seed(tmp_path / "d")
    (folder / "results" / "torn.json").write_text('{"schema": "cascadener-results/2", "run_id"', encoding="utf-8")
    assert main(["leaderboard", str(folder), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "torn.json is not valid UTF-8 JSON" in err and "--skip-invalid" in err and "Traceback" not in err
    assert main(["leaderboard", str(folder), "--skip-invalid", "-o", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "skipped: results file" in captured.out and "1 invalid file(s) skipped" in captured.err
    assert main(["leaderboard", str(tmp_path / "empty-dir-that-is-missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def _cache_dataset_repo(hf_home: Path, repo_id: str, files: dict[str, str]) -> None:
    """Lay ``files`` out as huggingface_hub's cache does after a snapshot_download of a dataset repo."""
    repo = hf_home / "hub" / f"datasets--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / SHA
    for name, text in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_text(text, encoding="utf-8")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(SHA, encoding="utf-8")


def test_leaderboard_from_a_results_repo_in_the_offline_cache(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants as constants

    hf_home = tmp_path / "hf"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _cache_dataset_repo(hf_home, "me/dynamicner-results",
                        {f"results/{r['run_id']}.json": json.dumps(r) for r in SEEDED})
    assert main(["leaderboard", "me/dynamicner-results", "-o", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    dynamic = out.split("\n\n")[0].splitlines()
    assert [line.split()[1] for line in dynamic[2:]] == DYNAMIC_ORDER
    assert main(["leaderboard", "me/not-cached", "-o", str(tmp_path / "o")]) == 2
    assert "cannot get the results dataset me/not-cached" in capsys.readouterr().err


def _hub_leaderboard_json(record: dict, task: str, value: float, rank: int) -> dict:
    """One item of GET /api/datasets/<id>/leaderboard, as the Hub sends it (camelCase, author object)."""
    results = hub.RunResults(**record)
    return {"rank": rank, "modelId": record["model"]["id"], "value": value, "filename": ".eval_results/dynamicner.yaml",
            "verified": False, "source": {"url": hub.results_url("me/res", record["run_id"]), "isExternal": False},
            "author": {"_id": "1", "name": record["model"]["id"].split("/")[0], "fullname": "Org",
                       "avatarUrl": "https://hf.co/a.png", "type": "user", "isPro": False},
            "pullRequest": 7 if rank == 2 else None, "notes": hub.notes(results, task)}


def test_leaderboard_entries_from_the_hub_benchmark_parse_like_huggingface_hub(tmp_path, monkeypatch, capsys):
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import DatasetLeaderboardEntry

    items = [DatasetLeaderboardEntry(**_hub_leaderboard_json(SEEDED[1], "dynamic", 71.0, 1)),
             DatasetLeaderboardEntry(**_hub_leaderboard_json(SEEDED[2], "dynamic", 65.0, 2)),
             DatasetLeaderboardEntry(**_hub_leaderboard_json(SEEDED[3], "dynamic-de", 40.0, 1))]
    entries = leaderboard.entries_from_leaderboard(items, dataset_id=BENCHMARK)
    assert [(e.model_id, e.task, e.f1, e.matching, e.metric_version, e.prompt_hash, e.backend) for e in entries] == [
        ("org/beta", "dynamic", 0.71, "strict", "dynamicner_f1 0.1.0", "0123456789ab", "openai-server"),
        ("org/alpha", "dynamic", 0.65, "strict", "dynamicner_f1 0.1.0", "0123456789ab", "transformers"),
        ("org/gamma", "dynamic-de", 0.40, "strict", "dynamicner_f1 0.1.0", "0123456789ab", "transformers")]
    assert entries[1].extra == {"hub_rank": 2, "verified": False, "community_pr": 7}
    assert entries[0].run_id == "r2-beta" and entries[0].source.endswith("/results/r2-beta.json")

    seen = []

    def fake_leaderboard(self, repo_id, **kwargs):
        seen.append((repo_id, kwargs))
        return items

    monkeypatch.setattr(HfApi, "get_dataset_leaderboard", fake_leaderboard)
    assert main(["leaderboard", BENCHMARK, "--from", "benchmark", "-o", str(tmp_path / "o")]) == 0
    assert seen == [(BENCHMARK, {"base_model_only": False})]
    lines = capsys.readouterr().out.split("\n\n")[0].splitlines()
    assert [line.split()[1] for line in lines[2:]] == DYNAMIC_ORDER


# ------------------------------------------------------------------------------ the main job

@pytest.mark.slow
def test_main_job_results_show_in_the_leaderboard_in_one_command(tmp_path, monkeypatch, capsys):
    """`cascadener run` writes schema-2 results into its folder; `cascadener leaderboard <folder>` ranks them,
    and a second identical run (same models, same revision) replaces the first."""
    out = tmp_path / "cascadener-run"
    argv = ["run", "-o", str(out), "--languages", "en", "ja", "--max-train", "4", "--max-test", "2",
            "--max-steps", "4", "--threads", "1", "--max-new-tokens", "16", "--no-progress"]
    assert main(argv) == 0
    first = hub.load_results(out / "results.json")
    assert set(first.scores) == {"dynamic[en+ja]", "coarse[en+ja]", "medium[en+ja]", "fine[en+ja]"}
    assert first.model["revision"].startswith("local-") and first.dataset["languages"] == ["en", "ja"]
    assert first.pipeline == {**first.pipeline, "backend": "transformers", "method": "cascadener-generative"}
    assert main(argv) == 0
    second = hub.load_results(out / "results.json")
    assert second.model["revision"] == first.model["revision"]
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["leaderboard", "cascadener-run"]) == 0
    captured = capsys.readouterr()
    dynamic = captured.out.split("\n\n")[0].splitlines()
    assert dynamic[0] == "dynamic[en+ja] (1 run)" and dynamic[1].split()[6:8] == ["en", "ja"]
    assert dynamic[2].split()[1] == "cascadener-tiny-dynamicner" and dynamic[2].split()[-1] == second.run_id
    assert f"duplicate: results/{first.run_id}.json" in captured.out
    assert (tmp_path / "cascadener-leaderboard" / "leaderboard.html").is_file()


# ------------------------------------------------------------------------------ the Space, in a real browser

CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1100")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def space(tmp_path, project_root):
    """leaderboard/app.py on 127.0.0.1 over the seeded runs: started as a child process, stopped by its pid."""
    import os
    import socket
    import subprocess
    import sys
    import time

    pytest.importorskip("gradio", reason="the Space needs gradio: pip install '.[leaderboard]'")
    folder = seed(tmp_path / "results-dataset")
    port = _free_port()
    log = (tmp_path / "space.log").open("wb")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, str(project_root / "leaderboard" / "app.py"), "--source", str(folder),
                                "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                               env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Space exited with {process.returncode}: {(tmp_path / 'space.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the Space did not listen within 180 s: {(tmp_path / 'space.log').read_text()}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


@pytest.fixture
def browser(tmp_path):
    """Headless Debian Chromium driven by selenium through chromedriver (skips with the reason when absent)."""
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _table_rows(driver) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.ID, "leaderboard-table")
    rows = [row.text.split("\n") for row in table.find_elements(By.CSS_SELECTOR, "[role=row]")]
    return rows


def _wait_for(driver, condition, what: str, timeout: float = 60):
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception:  # the page is still rendering: elements come and go
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


@pytest.mark.slow
def test_space_shows_the_seeded_runs_ranked_filters_sorts_and_plots(space, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(space)
    rows = _wait_for(browser, lambda: (r := _table_rows(browser)) and len(r) == 3 and r, "the ranked table")
    header, *body = rows
    assert header[:7] == ["rank", "model", "F1", "P", "R", "en", "de"]
    assert [row[1] for row in body] == DYNAMIC_ORDER  # beta 71 before alpha 65; the earlier alpha run is hidden
    assert [row[2] for row in body] == ["71", "65"] and body[1][-2] == "r3-alpha-new"
    status = browser.find_element(By.ID, "status").text
    assert "2 run(s) ranked on dynamic" in status and "1 earlier duplicate" in status
    browser.save_screenshot(str(tmp_path / "space.png"))
    assert (tmp_path / "space.png").read_bytes().startswith(b"\x89PNG")

    # sortable columns: the F1 header's menu sorts ascending
    table = browser.find_element(By.ID, "leaderboard-table")
    browser.execute_script("arguments[0].click()", table.find_element(By.CSS_SELECTOR, "th[title=F1] button"))
    item = _wait_for(browser, lambda: [b for b in browser.find_elements(By.CSS_SELECTOR, "[role=menuitem]")
                                       if "Sort ascending" in b.text], "the column menu")[0]
    browser.execute_script("arguments[0].click()", item)
    _wait_for(browser, lambda: [r[1] for r in _table_rows(browser)[1:]] == DYNAMIC_ORDER[::-1], "ascending F1 order")

    # the per-label plot of the selected (best) run is drawn
    _wait_for(browser, lambda: browser.find_element(By.CSS_SELECTOR, "#per-label img, #per-label svg"), "the plot")

    # the backend filter keeps only the transformers run
    field = browser.find_element(By.CSS_SELECTOR, "#backend input")
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("transformers")
    field.send_keys(Keys.ENTER)
    _wait_for(browser, lambda: [r[1] for r in _table_rows(browser)[1:]] == ["org/alpha"], "the backend filter")

    # the task filter: dynamic-de holds the third model
    field = browser.find_element(By.CSS_SELECTOR, "#backend input")
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("all")
    field.send_keys(Keys.ENTER)
    field = browser.find_element(By.CSS_SELECTOR, "#task input")
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("dynamic-de")
    field.send_keys(Keys.ENTER)
    _wait_for(browser, lambda: [r[1] for r in _table_rows(browser)[1:]] == ["org/gamma"], "the task filter")
    browser.save_screenshot(str(tmp_path / "space-dynamic-de.png"))


@pytest.mark.slow
def test_space_table_filters_without_a_browser():
    pytest.importorskip("gradio", reason="the Space needs gradio: pip install '.[leaderboard]'")
    import importlib.util

    from conftest import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location("leaderboard_app", PROJECT_ROOT / "leaderboard" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    entries = [e for record in SEEDED for e in leaderboard.entries_from_results(hub.RunResults(**record),
                                                                                  source=record["run_id"])]
    assert app.tasks_of(entries) == ["dynamic", "dynamic-de", "fine"]
    assert app.tasks_of(entries, "fine") == ["fine"]
    frame, status = app.table(entries, task="dynamic")
    assert list(frame["model"]) == DYNAMIC_ORDER and list(frame["F1"]) == [71.0, 65.0]
    frame, _ = app.table(entries, task="dynamic", language="en", backend="transformers")
    assert list(frame["model"]) == ["org/alpha"] and list(frame["F1 (en)"]) == [72.0]
    frame, _ = app.table(entries, task="dynamic", language="ko")
    assert frame.empty
    figure = app.label_figure(entries, "r4-gamma::dynamic-de")
    labels = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    assert labels == ["person (3)", "organization (5)"]  # most frequent label at the top of the chart
