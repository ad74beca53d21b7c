"""The DynamicNER leaderboard: the benchmark dataset (eval.yaml + card), the results schema,
eval results for the Hub (--dry-run, parsed back), `cascadener leaderboard` from a folder, a cached
results repo and the Hub benchmark leaderboard (huggingface_hub's own client against the stub Hub of
tests/hub_stub.py, or the offline Hub cache): ranking only comparable runs, badges, dates as
instants, distinct revisions, escaped outputs."""

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
               labels: dict | None = None, coverage: dict | None = None, threshold: float | None = None) -> dict:
    """A valid results JSON (the current schema) with the given scores per task (fractions); a full run
    unless ``coverage`` says otherwise."""
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
        "pipeline": {"backend": backend, "method": method, **({} if threshold is None else {"threshold": threshold})},
        "dataset": {"id": "dynamicner", "revision": "builder-1", "config": config, "split": "test",
                    "languages": sorted({lang for t in tasks.values() for lang in t["languages"]})},
        "metric": {"name": "dynamicner_f1", "version": version, "matching": matching},
        "prompt": {"template": "released", "hash": prompt},
        "scores": tasks, "metrics": metrics, "counts": {"sentences": 10},
        "coverage": coverage or {"sentences_predicted": 10, "sentences_in_split": 10, "limit": None},
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


def test_eval_yaml_has_the_fields_the_hub_accepts_and_every_task_exists_in_the_export(exported):
    import datasets

    from dynamicner_data.eval_yaml import EVALUATION_FRAMEWORK, HUB_EVALUATION_FRAMEWORKS

    data = yaml.safe_load((exported / "eval.yaml").read_text(encoding="utf-8"))
    # hub docs "Evaluation Results": name, description, evaluation_framework (one the Hub lists), tasks
    assert set(data) <= {"name", "description", "evaluation_framework", "tasks"}
    assert data["name"] == "DynamicNER" and "micro-F1" in data["description"]
    if EVALUATION_FRAMEWORK is None:
        assert "evaluation_framework" not in data  # absent, not a value the Hub would reject
    else:
        assert data["evaluation_framework"] == EVALUATION_FRAMEWORK and EVALUATION_FRAMEWORK in HUB_EVALUATION_FRAMEWORKS
    assert [t["id"] for t in data["tasks"]] == ["dynamic", "fine", "dynamic-de", "coarse-de"]
    inspect_keys = {"field_spec", "solvers", "scorers"} if EVALUATION_FRAMEWORK == "inspect-ai" else set()
    for task in data["tasks"]:
        assert set(task) == {"id", "config", "split", *inspect_keys}
        assert (exported / task["config"]).is_dir(), task
        split = datasets.load_dataset(str(exported), task["config"], split=task["split"])
        assert split.num_rows > 0 and "entities" in split.column_names
        if inspect_keys:  # the hub docs' inspect-ai fields name columns the split has
            spec = task["field_spec"]
            assert {spec["input"], spec["target"], spec["id"], *spec["metadata"]} <= set(split.column_names)
            assert task["solvers"] and task["scorers"]
    # every task's config is one of the card's configs, with that split
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(exported / "README.md")
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    for task in data["tasks"]:
        assert task["split"] in [f["split"] for f in configs[task["config"]]["data_files"]]
    assert "allow-list" in card.text and "is a Hub benchmark dataset" not in card.text  # registration is not automatic


def test_the_evaluation_framework_is_one_the_hub_lists_or_absent(tmp_path):
    from dynamicner_data.eval_yaml import EvalYamlError, check_eval_yaml, eval_yaml_data, read_eval_yaml

    assert "evaluation_framework" not in eval_yaml_data(["de"], evaluation_framework=None)
    assert eval_yaml_data(["de"], evaluation_framework="inspect-ai")["evaluation_framework"] == "inspect-ai"
    with pytest.raises(EvalYamlError, match="'cascadener' is not one the Hub lists"):
        eval_yaml_data(["de"], evaluation_framework="cascadener")
    data = {"name": "x", "description": "y", "evaluation_framework": "lm-eval", "tasks": [
        {"id": "a", "config": "b", "split": "test"}]}
    assert check_eval_yaml(data, where="theirs") is data  # another repo's file: the Hub checked it already
    with pytest.raises(EvalYamlError, match="theirs: field 'evaluation_framework' 'lm-eval' is not one the Hub lists"):
        check_eval_yaml(data, where="theirs", strict=True)
    path = tmp_path / "eval.yaml"
    path.write_text("name: x\ndescription: y\ntasks:\n- id: a\n  config: b\n  split: test\n", encoding="utf-8")
    assert read_eval_yaml(path)["tasks"][0]["id"] == "a"  # the field is optional


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

def test_schemas_ship_as_package_data_and_are_valid_json_schemas():
    import importlib.resources

    import jsonschema

    from cascadener.publishing.results import READABLE_SCHEMAS

    assert hub.RESULTS_SCHEMA in READABLE_SCHEMAS and "cascadener-results/2" in READABLE_SCHEMAS
    for version, name in READABLE_SCHEMAS.items():
        schema = json.loads(importlib.resources.files("cascadener.publishing").joinpath("schemas", name).read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema == results_schema(version) and schema["properties"]["schema"]["const"] == version
    schema = results_schema()
    for field in ("model", "pipeline", "dataset", "metric", "prompt", "scores", "counts", "created_at", "coverage"):
        assert field in schema["required"]
    assert schema["properties"]["model"]["required"] == ["id", "revision"]
    assert schema["properties"]["dataset"]["required"] == ["id", "revision", "config", "split", "languages"]
    assert schema["properties"]["coverage"]["required"] == ["sentences_predicted", "sentences_in_split", "limit"]


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
    (lambda r: r.pop("coverage"), r"missing field\(s\) coverage"),
    (lambda r: r["coverage"].update(sentences_predicted="all"), "field 'coverage/sentences_predicted' must be an integer"),
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
        assert entry.notes == "method cascadener-generative, backend transformers, strict matching"  # short, human
    card = ModelCard.load(out / "README.md")
    index = card.data.to_dict()["model-index"][0]["results"][0]
    assert index["dataset"]["type"] == BENCHMARK and index["dataset"]["revision"] == SHA
    uploaded = json.loads((out / "results" / f"{record['run_id']}.json").read_text())
    assert uploaded["model"]["id"] == "me/cascadener-x" and uploaded["model"]["local"]["id"] == "org/alpha"
    assert {k: v for k, v in uploaded.items() if k != "model"} == {k: v for k, v in record.items() if k != "model"}


# ------------------------------------------------------------------------------ leaderboard

def test_leaderboard_from_a_folder_dedups_ranks_and_writes_every_format(tmp_path, capsys):
    folder = seed(tmp_path / "results-dataset")
    out = tmp_path / "board"
    assert main(["leaderboard", str(folder), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in captured.out.strip().split("\n\n")}
    dynamic = blocks["dynamic (2 runs)"]
    assert dynamic[0].split() == ["rank", "model", "revision", "F1", "P", "R", "en", "de", "date", "badges", "backend",
                                  "method", "matching", "metric", "prompt", "run"]
    assert [line.split()[1] for line in dynamic[1:]] == DYNAMIC_ORDER
    assert dynamic[1].split()[3:10] == ["71.00", "71.00", "71.00", "75.00", "68.00", "2026-01-02", "-"]
    assert dynamic[2].split()[3] == "65.00"  # the later alpha run replaced the earlier one
    assert [line.split()[1] for line in blocks["dynamic-de (1 run)"][1:]] == ["org/gamma"]
    assert [line.split()[1] for line in blocks["fine (1 run)"][1:]] == ["org/beta"]
    assert "duplicate: results/r1-alpha-old.json (dynamic, 2026-01-01) replaced by the later " \
           "results/r3-alpha-new.json" in captured.out
    assert "1 duplicate(s) dropped" in captured.err
    # CSV: one row per task and model, percent with two decimals, the whole revision, the instant in UTC
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert [(r["task"], r["rank"], r["model"]) for r in rows] == [
        ("dynamic", "1", "org/beta"), ("dynamic", "2", "org/alpha"), ("dynamic-de", "1", "org/gamma"),
        ("fine", "1", "org/beta")]
    assert rows[0]["f1_percent"] == "71.00" and rows[0]["f1_percent_en"] == "75.00" and rows[2]["f1_percent_en"] == ""
    assert rows[0]["revision"] == "b" * 40 and rows[0]["created_at"] == "2026-01-02T00:00:00+00:00"
    assert rows[1]["run_id"] == "r3-alpha-new" and rows[0]["status"] == "full"
    markdown = (out / "leaderboard.md").read_text()
    assert "## dynamic (2 runs)" in markdown and "| 1 | org/beta |" in markdown and "| 2026-01-02 |" in markdown
    page = (out / "leaderboard.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.index("org/beta") < page.index("org/alpha")
    assert f'<td title="{"b" * 40}"><code>bbbbbbbbbbbb</code></td>' in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # self-contained: nothing to fetch


def test_the_three_formats_are_replaced_together_or_not_at_all(tmp_path, capsys, monkeypatch):
    """``leaderboard -o``: a fault at the last rename (a full disk) leaves the earlier md, csv and html
    all as they were (never a new table beside an old one), and says so in one line."""
    import errno
    import os

    folder = seed(tmp_path / "results-dataset")
    out = tmp_path / "board"
    assert main(["leaderboard", str(folder), "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert sorted(before) == ["leaderboard.csv", "leaderboard.html", "leaderboard.md"]
    (folder / "results" / "r9-new.json").write_text(json.dumps(run_record(
        "r9-new", model="org/new", created="2026-02-01T00:00:00+00:00")), encoding="utf-8")
    real, failed = os.replace, []

    def replace(src, dst, *args, **kwargs):  # the first rename onto the html (the set's last) fails
        if Path(dst) == out / "leaderboard.html" and not failed:
            failed.append(dst)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst, *args, **kwargs)

    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace)
        assert main(["leaderboard", str(folder), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in sorted(out.iterdir())} == before  # no temporary file left either
    assert main(["leaderboard", str(folder), "-o", str(out)]) == 0
    assert "org/new" in (out / "leaderboard.md").read_text() and "org/new" in (out / "leaderboard.csv").read_text()


def test_duplicates_are_resolved_by_instant_not_by_string():
    """2026-01-01T20:00Z is later than 2026-01-02T01:00+09:00 (16:00Z), though its string sorts first: the later
    run is kept and the earlier reported, whatever the spelling."""
    east = run_record("r-east", created="2026-01-02T01:00:00+09:00", scores={"dynamic": (0.4, {"en": 0.4})})
    west = run_record("r-west", created="2026-01-01T20:00:00+00:00", scores={"dynamic": (0.9, {"en": 0.9})})
    entries = [e for record in (east, west) for e in leaderboard.entries_from_results(
        hub.RunResults(**record), source=record["run_id"])]
    board = leaderboard.build(entries)
    assert [row.entry.run_id for row in board.tables["dynamic"]] == ["r-west"]
    assert [(d.entry.run_id, d.kept.run_id) for d in board.duplicates] == [("r-east", "r-west")]
    assert board.duplicates[0].entry.date == "2026-01-01"  # the UTC date of 2026-01-02T01:00+09:00


def test_revisions_stay_distinct_in_every_format(tmp_path, capsys):
    from cascadener.publishing.leaderboard_formats import csv_text, html_page, markdown

    both = "local-507d6fa4afa97176+local-2361aa00bb11cc22"
    records = [run_record("r-one", model="m", revision="local-507d6fa4afa97176"),
               run_record("r-two", model="m", revision=both, scores={"dynamic": (0.4, {"en": 0.4})}),
               run_record("r-three", model="m", revision="local-507d6fa4afa9ffff", scores={"dynamic": (0.3, {"en": 0.3})})]
    assert main(["leaderboard", str(seed(tmp_path / "d", records)), "-o", str(tmp_path / "o")]) == 0
    shown = [line.split()[2] for line in capsys.readouterr().out.split("\n\n")[0].splitlines()[2:]]
    # cut to 12 characters all three read "local-507d6f": each part is cut where it differs from every other
    assert shown == ["local-507d6fa4afa97", "local-507d6fa4afa97+local-2361aa", "local-507d6fa4afa9f"]
    board = leaderboard.build(e for r in records for e in leaderboard.entries_from_results(hub.RunResults(**r),
                                                                                        source=r["run_id"]))
    assert {row["revision"] for row in csv.DictReader(io.StringIO(csv_text(board)))} == {
        "local-507d6fa4afa97176", both, "local-507d6fa4afa9ffff"}
    assert f'title="{both}"' in html_page(board) and "local-507d6fa4afa97+local-2361aa" in markdown(board)


def test_equal_scores_share_a_rank():
    entries = [leaderboard.Entry(source=f"{m}.json", run_id=m, created_at=None, model_id=m,
                                 model_revision="r", task="dynamic", f1=f1) for m, f1 in (("a", 50.0), ("b", 70.0), ("c", 50.0))]
    board = leaderboard.build(entries)
    assert [(row.rank, row.entry.model_id) for row in board.tables["dynamic"]] == [(1, "b"), (2, "a"), (2, "c")]


REDUCED = {"sentences_predicted": 4, "sentences_in_split": 10, "limit": {"sentences": 2, "per": "language"}}
INCOMPLETE = {"sentences_predicted": 2, "sentences_in_split": 8, "limit": None}


def test_reduced_and_incomplete_runs_are_never_ranked_with_full_runs(tmp_path, capsys):
    schema2 = run_record("r7-old-schema", model="org/old", scores={"dynamic": (0.95, {"en": 0.95})})
    schema2["schema"] = "cascadener-results/2"
    del schema2["coverage"]
    folder = seed(tmp_path / "d", SEEDED + [
        run_record("r5-reduced", model="org/quick", scores={"dynamic": (0.99, {"en": 0.99})}, coverage=REDUCED),
        run_record("r6-cut", model="org/cut", scores={"dynamic": (0.98, {"en": 0.98})}, coverage=INCOMPLETE),
        schema2])
    assert main(["leaderboard", str(folder), "--task", "dynamic", "-o", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    table = captured.out.split("\n\n")[0].splitlines()
    assert table[0] == "dynamic (2 runs)" and [line.split()[1] for line in table[2:]] == DYNAMIC_ORDER
    assert "not ranked: results/r5-reduced.json (dynamic, org/quick): reduced: the first 2 sentences per language, " \
           "4 of 10" in captured.out
    assert "not ranked: results/r6-cut.json (dynamic, org/cut): incomplete: 2 of 8 sentences predicted" in captured.out
    assert "not ranked: results/r7-old-schema.json (dynamic, org/old): coverage not recorded" in captured.out
    assert "2 ranked row(s) in 1 task(s); 3 row(s) not ranked" in captured.err
    assert "3 row(s) of 3 run(s) not ranked" in captured.out

    assert main(["leaderboard", str(folder), "--task", "dynamic", "--include-unranked", "-o", str(tmp_path / "o")]) == 0
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()
    assert table[0] == "dynamic (2 runs, 3 not ranked)"
    rows = [line.split() for line in table[2:]]
    assert [(row[0], row[1]) for row in rows] == [("1", "org/beta"), ("2", "org/alpha"), ("-", "org/quick"),
                                                  ("-", "org/cut"), ("-", "org/old")]
    assert [row[9] for row in rows[2:]] == ["reduced", "incomplete", "unrecorded"]  # the badge column
    csv_rows = list(csv.DictReader(io.StringIO((tmp_path / "o" / "leaderboard.csv").read_text())))
    assert [(r["rank"], r["status"]) for r in csv_rows][2:] == [("", "reduced"), ("", "incomplete"), ("", "unrecorded")]
    page = (tmp_path / "o" / "leaderboard.html").read_text()
    assert page.count('<tr class="unranked">') == 3 and '<span class="badge" title="a deliberate subset' in page


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


def test_runs_of_different_thresholds_are_ranked_apart_unless_mixed(tmp_path, capsys):
    # the same model and prompt with and without a threshold: two measurements, neither replaces the other
    folder = seed(tmp_path / "d", SEEDED + [
        run_record("r7-alpha-t05", model="org/alpha", created="2026-01-04T00:00:00+00:00", threshold=0.5,
                   scores={"dynamic": (0.80, {"en": 0.80})})])
    assert main(["leaderboard", str(folder), "--task", "dynamic", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "runs with different confidence thresholds are not ranked together" in err
    assert "threshold none: results/r" in err and "threshold 0.5: results/r7-alpha-t05.json" in err
    assert main(["leaderboard", str(folder), "--task", "dynamic", "--threshold", "none", "-o", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "org/beta" in out and "80.00" not in out
    assert main(["leaderboard", str(folder), "--task", "dynamic", "--threshold", "0.5", "-o", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "80.00" in out and "org/beta" not in out
    board = leaderboard.build(leaderboard.from_folder(folder)[0], tasks=["dynamic"], mix_thresholds=True)
    assert [(row.entry.model_id, row.entry.threshold) for row in board.tables["dynamic"]] == [
        ("org/alpha", 0.5), ("org/beta", None), ("org/alpha", None)]
    with pytest.raises(SystemExit) as stopped:
        main(["leaderboard", str(folder), "--threshold", "2", "-o", str(tmp_path / "o")])
    assert stopped.value.code == 2 and "expected a probability in [0, 1], got '2'" in capsys.readouterr().err


def test_invalid_result_files_stop_the_leaderboard_or_are_counted_with_skip_invalid(tmp_path, capsys):
    folder = seed(tmp_path / "d")
    (folder / "results" / "torn.json").write_text('{"schema": "cascadener-results/3", "run_id"', encoding="utf-8")
    assert main(["leaderboard", str(folder), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "torn.json is not valid UTF-8 JSON" in err and "--skip-invalid" in err and "Traceback" not in err
    assert main(["leaderboard", str(folder), "--skip-invalid", "-o", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "skipped: results file" in captured.out and "1 invalid file(s) skipped" in captured.err
    assert main(["leaderboard", str(tmp_path / "empty-dir-that-is-missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    for missing in ("/no-such-runs", "./no-such-runs", "~/no-such-runs"):  # a path, though shaped like owner/name
        assert main(["leaderboard", missing]) == 2
        err = capsys.readouterr().err
        assert err.rstrip().endswith("is not a folder") and "Repo id" not in err, err


def _tags(page: str) -> list[str]:
    """The start tags an HTML parser finds in ``page``."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append(tag)

    Parser().feed(page)
    return found


def test_every_name_id_and_label_is_escaped_in_markdown_and_html(tmp_path, capsys):
    import markdown_it

    hostile = "<img src=x onerror=alert(7)>"
    record = run_record("r-hostile", model=f"org/{hostile}|x*y*", backend="<b>be</b>",
                        scores={"dynamic": (0.5, {"en": 0.5})})
    folder = seed(tmp_path / "d", [record])
    (folder / "results" / "r-hostile.json").rename(folder / "results" / f"{hostile}.json")
    (folder / "results" / "torn <svg onload=alert(1)>.json").write_text("{", encoding="utf-8")
    out = tmp_path / "o"
    assert main(["leaderboard", str(folder), "--skip-invalid", "-o", str(out)]) == 0
    capsys.readouterr()
    page = (out / "leaderboard.html").read_text()
    assert {"img", "b", "svg"}.isdisjoint(_tags(page)) and _tags(page).count("script") == 1  # ours only
    assert "&lt;img src=x onerror=alert(7)&gt;" in page
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render((out / "leaderboard.md").read_text())
    assert {"img", "svg", "b", "em"}.isdisjoint(_tags(rendered))
    assert "org/&lt;img src=x onerror=alert(7)&gt;|x*y*" in rendered  # shown as written, the | kept in its cell
    assert "torn &lt;svg onload=alert(1)&gt;.json" in rendered


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
    rows = list(csv.DictReader(io.StringIO((tmp_path / "o" / "leaderboard.csv").read_text())))
    assert rows[0]["source"] == f"https://huggingface.co/datasets/me/dynamicner-results/blob/{SHA}/results/r2-beta.json"
    assert main(["leaderboard", "me/not-cached", "-o", str(tmp_path / "o")]) == 2
    assert "cannot get the results dataset me/not-cached" in capsys.readouterr().err


def _hub_item(record: dict | None, value: float, rank: int, *, model: str | None = None, url: str | None = None,
              verified: bool = False, pull_request: int | None = None, notes: str | None = None) -> dict:
    """One item of GET /api/datasets/<id>/leaderboard, as the Hub sends it (camelCase, author object)."""
    model = model or record["model"]["id"]
    if url is None and record is not None:
        url = hub.results_url("me/res", record["run_id"])
    item = {"rank": rank, "modelId": model, "value": value, "filename": ".eval_results/dynamicner.yaml",
            "verified": verified, "author": {"_id": "1", "name": model.split("/")[0], "fullname": "Org",
                                             "avatarUrl": "https://hf.co/a.png", "type": "user", "isPro": False},
            "pullRequest": pull_request, "notes": notes if notes is not None else (
                hub.notes(hub.RunResults(**record)) if record else None)}
    if url:
        item["source"] = {"url": url, "name": "CascadeNER results JSON", "isExternal": False}
    return item


def test_leaderboard_from_the_hub_benchmark_follows_each_entry_to_its_results_json(tmp_path, capsys, stub_hub):
    """Through huggingface_hub's own client: our entries are read from the linked results JSONs (every task of the
    run, the Hub's badges); other tools' entries are listed as the Hub has them, never ranked with ours."""
    beta, alpha, gamma = SEEDED[1], SEEDED[2], SEEDED[3]
    stub_hub.add_repo("me/res", repo_type="dataset", files={
        f"results/{r['run_id']}.json": json.dumps(r) for r in (beta, alpha, gamma)})
    stub_hub.leaderboards[BENCHMARK] = [
        _hub_item(beta, 71.0, 1, verified=True),
        _hub_item(None, 69.5, 2, model="other/tool-model", url="https://huggingface.co/spaces/other/eval-logs",
                  notes="5-shot"),
        _hub_item(alpha, 65.0, 3, pull_request=7),
        _hub_item(gamma, 12.0, 4),  # the linked run scored 40.00 on dynamic-de: the value is not its own
        _hub_item(None, 0.31, 5, model="third/model", url=None),
    ]
    assert main(["leaderboard", BENCHMARK, "--from", "benchmark", "-o", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in captured.out.strip().split("\n\n")}
    dynamic = blocks["dynamic (2 runs)"]
    assert [(line.split()[1], line.split()[9]) for line in dynamic[1:]] == [("org/beta", "verified,"),
                                                                            ("org/alpha", "community,")]
    assert dynamic[1].split()[9:11] == ["verified,", "source"] and dynamic[2].split()[3] == "65.00"
    assert [line.split()[1] for line in blocks["fine (1 run)"][1:]] == ["org/beta"]  # read from the run's JSON
    assert "dynamic-de (1 run)" not in blocks and "other/tool-model" not in "\n".join(dynamic)
    notes = captured.out.split("\n\n")[-1]
    assert ("on the Hub, not ranked here: other/tool-model: 69.5 (Hub rank 2, no date) [source], "
            ".eval_results/dynamicner.yaml, source https://huggingface.co/spaces/other/eval-logs, notes '5-shot': its "
            "source is not a results JSON") in notes
    assert "org/gamma: 12.0 (Hub rank 4" in notes and "is not the linked run's F1 (%) of any task" in notes
    assert "third/model: 0.31 (Hub rank 5" in notes and "it links no source" in notes
    assert "3 Hub entries of other tools" in captured.err
    markdown = (tmp_path / "o" / "leaderboard.md").read_text()
    assert "other/tool-model: 69.5" in markdown and "Badges: verified:" in markdown


def test_hub_benchmark_entries_read_their_results_json_from_the_offline_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants
    from huggingface_hub.hf_api import DatasetLeaderboardEntry

    hf_home = tmp_path / "hf"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _cache_dataset_repo(hf_home, "me/res", {f"results/{SEEDED[1]['run_id']}.json": json.dumps(SEEDED[1])})
    items = [DatasetLeaderboardEntry(**_hub_item(SEEDED[1], 71.0, 1)),
             DatasetLeaderboardEntry(**_hub_item(SEEDED[2], 65.0, 2))]  # not in the cache
    entries, external = leaderboard.entries_from_leaderboard(items, dataset_id=BENCHMARK)
    assert sorted((e.task, e.model_id, e.f1, e.model_revision) for e in entries) == [
        ("dynamic", "org/beta", 71.0, "b" * 40), ("fine", "org/beta", 33.0, "b" * 40)]
    assert entries[0].hub.rank == 1 and entries[0].badges == ("source",) and entries[0].results.run_id == "r2-beta"
    (other,) = external
    assert other.model_id == "org/alpha" and other.value == 65.0 and "its results JSON cannot be read" in other.reason


# ------------------------------------------------------------------------------ the main job

@pytest.mark.slow
def test_main_job_results_show_in_the_leaderboard_in_one_command(tmp_path, monkeypatch, capsys):
    """`cascadener run` writes its results (with their coverage) into its folder; `cascadener leaderboard <folder>`
    shows them, and a second identical run (same models, same revision) replaces the first. A --max-test run
    is reduced: listed, shown with its badge on request, never ranked."""
    import dynamicner

    out = tmp_path / "cascadener-run"
    argv = ["run", "-o", str(out), "--languages", "en", "ja", "--max-train", "4", "--max-test", "2",
            "--max-steps", "4", "--threads", "1", "--max-new-tokens", "16", "--no-progress"]
    assert main(argv) == 0
    first = hub.load_results(out / "results.json")
    assert set(first.scores) == {"dynamic[en+ja]", "coarse[en+ja]", "medium[en+ja]", "fine[en+ja]"}
    assert first.model["revision"].startswith("local-") and first.dataset["languages"] == ["en", "ja"]
    assert first.pipeline == {**first.pipeline, "backend": "transformers", "method": "cascadener-generative"}
    split = sum(len(dynamicner.prepare(lang).as_dataset(split="test")) for lang in ("en", "ja"))
    assert first.coverage == {"sentences_predicted": 4, "sentences_in_split": split,
                              "limit": {"sentences": 2, "per": "language"}}
    assert "reduced: the first 2 sentences per language" in capsys.readouterr().err
    assert main(argv) == 0
    second = hub.load_results(out / "results.json")
    assert second.model["revision"] == first.model["revision"]
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["leaderboard", "cascadener-run", "--include-unranked"]) == 0
    captured = capsys.readouterr()
    dynamic = captured.out.split("\n\n")[0].splitlines()
    assert dynamic[0] == "dynamic[en+ja] (0 runs, 1 not ranked)" and dynamic[1].split()[6:8] == ["en", "ja"]
    row = dynamic[2].split()
    assert row[:2] == ["-", "cascadener-tiny-dynamicner"] and row[9] == "reduced" and row[-1] == second.run_id
    assert f"duplicate: results/{first.run_id}.json" in captured.out
    assert (tmp_path / "cascadener-leaderboard" / "leaderboard.html").is_file()


def test_two_runs_in_the_same_second_are_ordered_by_their_creation():
    """A second run of the same model finishing within the second of the first replaces it: created_at
    carries milliseconds, so the later run is the later instant (not a coin toss on the run id's suffix)."""
    import time

    from cascadener.publishing.results import parse_instant

    first = hub.now_iso()
    time.sleep(0.002)
    second = hub.now_iso()
    assert parse_instant(second) > parse_instant(first)
    a = leaderboard.Entry(source="a.json", run_id="20260101T000000Z-ffffffff", created_at=parse_instant(first),
                          model_id="m", model_revision="r", task="fine", f1=1.0)
    b = leaderboard.Entry(source="b.json", run_id="20260101T000000Z-00000000", created_at=parse_instant(second),
                          model_id="m", model_revision="r", task="fine", f1=2.0)
    kept, dropped = leaderboard._deduplicate([a, b])
    assert kept == [b] and [d.entry for d in dropped] == [a]
