"""Results JSON, model card model-index and Hub publishing: one unit (percent, two decimals), dataset
revisions that are benchmark commits or absent, the uploaded JSON naming the model as pushed, only
complete runs published. Hub calls go through huggingface_hub's own client to the in-memory Hub of
tests/hub_stub.py (the ``stub_hub`` fixture); the tests read what each commit put into the repos."""

from __future__ import annotations

import json

import pytest
import yaml
from huggingface_hub import ModelCard, parse_eval_result_entries
from huggingface_hub.repocard_data import model_index_to_eval_results

from cascadener.cli import main
from cascadener.publishing import hub

SECRET = "hf_" + "s" * 34
BENCHMARK = "dynamicner-kit/DynamicNER"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _results(**overrides):
    fields = dict(
        run_id="20260101T000000Z-abcdef12",
        created_at="2026-01-01T00:00:00+00:00",
        model={"id": "me/ext", "revision": "unknown", "extractor": "me/ext", "classifier": "me/cls"},
        dataset={"id": "dynamicner", "config": "de", "split": "test", "revision": "builder-123", "languages": ["de"]},
        metric={"name": "dynamicner_f1", "version": "0.1.0", "matching": "strict"},
        prompt={"template": "released", "hash": "0123456789ab"},
        metrics={"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "label/city/f1": 0.5, "num_references": 8.0},
        scores={"dynamic-de": {"f1": 1 / 3, "precision": 0.5, "recall": 0.25, "languages": {"de": 1 / 3}}},
        pipeline={"backend": "transformers", "method": "cascadener-constrained", "classification": "constrained"},
        counts={"sentences": 4},
        coverage={"sentences_predicted": 4, "sentences_in_split": 4, "limit": None},
    )
    fields.update(overrides)
    return hub.RunResults(**fields)


def _write(tmp_path, results, name="r.json"):
    path = tmp_path / name
    path.write_text(results.to_json() if isinstance(results, hub.RunResults) else json.dumps(results), encoding="utf-8")
    return path


def test_results_json_round_trip(tmp_path):
    results = _results()
    path = _write(tmp_path, results)
    loaded = hub.load_results(path)
    assert loaded == results
    data = json.loads(path.read_text())
    assert data["dataset"]["revision"] == "builder-123" and data["metric"]["version"] == "0.1.0"
    assert data["prompt"]["hash"] == "0123456789ab" and data["schema"] == hub.RESULTS_SCHEMA == "cascadener-results/3"
    assert data["coverage"] == {"sentences_predicted": 4, "sentences_in_split": 4, "limit": None}


def test_a_results_file_of_schema_2_still_reads_and_says_its_coverage_is_unrecorded(tmp_path):
    data = _results().to_dict()
    del data["coverage"]
    data["schema"] = "cascadener-results/2"
    loaded = hub.load_results(_write(tmp_path, data))
    assert loaded.schema == "cascadener-results/2" and loaded.coverage is None
    assert hub.Coverage.of(loaded).status == "unrecorded"
    assert json.loads(loaded.to_json()) == data  # written back as it was read
    data["dataset"]["limit_per_language"] = 2  # a schema-2 run of --max-test shows it is reduced
    assert hub.Coverage.of(hub.load_results(_write(tmp_path, data))).status == "reduced"


def test_a_results_file_is_checked_before_it_is_written(tmp_path):
    with pytest.raises(hub.ResultsError, match="missing field.*coverage"):
        _results(coverage=None).save(tmp_path / "r.json")
    with pytest.raises(hub.ResultsError, match="field 'coverage/sentences_predicted'"):
        _results(coverage={"sentences_predicted": -1, "sentences_in_split": 4, "limit": None}).save(tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not valid UTF-8 JSON"),
        ("[]", "expected a JSON object"),
        ('{"schema": "other"}', "field 'schema'"),
        (json.dumps({"schema": hub.RESULTS_SCHEMA, "run_id": "x"}), r"missing field\(s\) created_at"),
        (json.dumps({**_results().to_dict(), "metrics": [0.5]}), "field 'metrics' must be an object, got list"),
    ],
)
def test_bad_results_files(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        hub.load_results(path)
    assert str(path) in str(info.value)


def test_bad_metric_values_and_run_ids():
    with pytest.raises(ValueError, match="metrics must be numbers"):
        _results(metrics={"f1": "high"})
    with pytest.raises(ValueError, match="run_id"):
        _results(run_id="../escape")


def test_model_card_model_index_is_in_percent_and_names_only_a_commit_as_revision(tmp_path):
    results = _results()
    card = hub.model_card(results, model_id="me/cascadener-de")
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    by_type = {r.metric_type: r for r in loaded.data.eval_results}
    assert set(by_type) == {"precision", "recall", "f1"}  # headline scores only: no counts, no per-label keys
    assert by_type["f1"].metric_value == 33.33 and by_type["precision"].metric_value == 50.0
    assert by_type["f1"].metric_name == "dynamicner_f1 f1 (%)"
    assert by_type["f1"].dataset_config == "de" and by_type["f1"].dataset_revision is None  # not "builder-123"
    assert by_type["f1"].metric_args["prompt_hash"] == "0123456789ab"
    assert "| f1 | 33.33 |" in loaded.text
    name, again = model_index_to_eval_results(loaded.data.to_dict()["model-index"])
    assert name == "me/cascadener-de" and len(again) == 3
    with_commit = hub.model_card(results, model_id="me/x", dataset_revision=SHA.upper())
    assert {r.dataset_revision for r in with_commit.data.eval_results} == {SHA}
    with pytest.raises(ValueError, match="'builder-123' is not a commit"):
        hub.model_card(results, model_id="me/x", dataset_revision="builder-123")


def test_metric_key_selection():
    assert [r.metric_type for r in hub.eval_results(_results(), metric_keys=["f1"])] == ["f1"]
    with pytest.raises(ValueError, match="not in the results"):
        hub.eval_results(_results(), metric_keys=["accuracy"])


def test_one_rounding_for_every_score_a_person_reads(tmp_path, capsys):
    """The same F1 reads the same in the eval results, the model-index, the card's table, the leaderboard's
    text/Markdown/CSV/HTML and the main job's table: percent, two decimals, one rounding."""
    from cascadener.benchmark import format_table
    from cascadener.publishing.leaderboard import build, entries_from_results
    from cascadener.publishing.leaderboard_formats import csv_text, html_page, markdown, text_tables

    f1, precision, recall = 0.12345, 0.012849, 2 / 3  # 12.35 (half up, not 12.34), 1.28, 66.67
    results = _results(metrics={"precision": precision, "recall": recall, "f1": f1},
                       scores={"dynamic-de": {"f1": f1, "precision": precision, "recall": recall,
                                              "languages": {"de": f1}}})
    path = _write(tmp_path, results)
    out = tmp_path / "dry"
    assert main(["push-results", str(path), "--model-id", "me/m", "--benchmark-id", BENCHMARK, "--dry-run",
                 "--output-dir", str(out)]) == 0
    capsys.readouterr()
    entries = parse_eval_result_entries(yaml.safe_load((out / ".eval_results" / "dynamicner.yaml").read_text()))
    assert [e.value for e in entries] == [12.35]
    index = {r.metric_type: r.metric_value for r in ModelCard.load(out / "README.md").data.eval_results}
    assert index == {"f1": 12.35, "precision": 1.28, "recall": 66.67}
    card = (out / "README.md").read_text()
    assert "| f1 | 12.35 |" in card and "| precision | 1.28 |" in card
    board = build(entries_from_results(results, source="r.json"))
    assert text_tables(board).splitlines()[2].split()[3:7] == ["12.35", "1.28", "66.67", "12.35"]
    assert "| 12.35 | 1.28 | 66.67 | 12.35 |" in markdown(board)
    assert ",12.35,1.28,66.67,12.35," in csv_text(board)
    assert ">12.35</td><td class=\"num\">1.28</td><td class=\"num\">66.67<" in html_page(board)
    table = format_table({"dynamic": {"f1": f1, "language/de/f1": precision}}, ["de"]).splitlines()
    assert table[1].split()[:2] == ["de", "1.28"] and table[2].split()[:2] == ["all", "12.35"]


@pytest.mark.parametrize("pipeline, note", [
    ({"backend": "openai", "method": "gpt-ner-verify", "setting": "few-shot", "demonstrations": 8},
     "method gpt-ner-verify (few-shot), backend openai, strict matching"),
    ({"backend": "transformers", "method": "promptner", "setting": "fine-tuned", "demonstrations": 0},
     "method promptner (fine-tuned), backend transformers, strict matching"),
])
def test_push_results_notes_name_the_method_and_its_setting(pipeline, note, tmp_path, capsys):
    path = _write(tmp_path, _results(pipeline=pipeline))
    out = tmp_path / "dry"
    assert main(["push-results", str(path), "--model-id", "me/ner", "--benchmark-id", BENCHMARK,
                 "--dataset-revision", SHA, "--results-repo", "me/dynamicner-results",
                 "--dry-run", "--output-dir", str(out)]) == 0
    capsys.readouterr()
    (entry,) = parse_eval_result_entries(yaml.safe_load((out / ".eval_results" / "dynamicner.yaml").read_text()))
    assert entry.notes == note
    label = note.split(", ")[0].removeprefix("method ")
    assert f"Model evaluated with method {label} on dynamicner" in ModelCard.load(out / "README.md").text


def test_dry_run_writes_eval_results_and_a_card_that_agree_and_a_json_that_names_the_model(tmp_path, capsys):
    path = _write(tmp_path, _results())
    out = tmp_path / "dry"
    assert main(["push-results", str(path), "--model-id", "me/cascadener-de", "--benchmark-id", BENCHMARK,
                 "--dataset-revision", SHA, "--model-revision", "f" * 40, "--results-repo", "me/dynamicner-results",
                 "--dry-run", "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"dataset revision {SHA} (from --dataset-revision)" in printed
    (entry,) = parse_eval_result_entries(yaml.safe_load((out / ".eval_results" / "dynamicner.yaml").read_text()))
    card = ModelCard.load(out / "README.md")
    index = {r.metric_type: r for r in card.data.eval_results}
    assert entry.value == index["f1"].metric_value == 33.33  # one unit
    assert entry.dataset_revision == index["f1"].dataset_revision == SHA  # one revision
    assert entry.notes == "method cascadener-constrained, backend transformers, strict matching"
    assert entry.source_url == index["f1"].source_url == (
        "https://huggingface.co/datasets/me/dynamicner-results/blob/main/results/20260101T000000Z-abcdef12.json")
    uploaded = json.loads((out / "results" / "20260101T000000Z-abcdef12.json").read_text())
    assert uploaded["model"]["id"] == "me/cascadener-de" and uploaded["model"]["revision"] == "f" * 40
    assert uploaded["model"]["local"] == {"id": "me/ext", "revision": "unknown"}  # the scored identity stays
    assert uploaded["model"]["extractor"] == "me/ext" and uploaded["dataset"]["revision"] == "builder-123"
    assert hub.load_results(out / "results" / "20260101T000000Z-abcdef12.json").run_id == "20260101T000000Z-abcdef12"


def test_the_dataset_revision_comes_from_the_benchmark_in_the_hub_cache_or_is_absent(tmp_path, hub_cache, capsys):
    """Never the builder hash: a commit of the benchmark's eval.yaml (or card) in the Hub cache, else nothing."""
    from dynamicner_data.eval_yaml import eval_yaml_data, eval_yaml_text

    path = _write(tmp_path, _results())
    argv = ["push-results", str(path), "--model-id", "me/m", "--benchmark-id", BENCHMARK, "--dry-run"]
    assert main([*argv, "--output-dir", str(tmp_path / "none")]) == 0
    assert "dataset revision: none" in capsys.readouterr().out
    (entry,) = parse_eval_result_entries(yaml.safe_load((tmp_path / "none/.eval_results/dynamicner.yaml").read_text()))
    assert entry.dataset_revision is None
    assert "revision:" not in (tmp_path / "none/README.md").read_text()

    snapshot = hub_cache / f"datasets--{BENCHMARK.replace('/', '--')}" / "snapshots" / SHA
    snapshot.mkdir(parents=True)
    (snapshot / "eval.yaml").write_text(eval_yaml_text(eval_yaml_data(["de", "all"])), encoding="utf-8")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text(SHA, encoding="utf-8")
    assert main([*argv, "--output-dir", str(tmp_path / "cached")]) == 0
    printed = capsys.readouterr().out
    assert f"the eval.yaml of {BENCHMARK}" in printed and f"dataset revision {SHA}" in printed
    (entry,) = parse_eval_result_entries(yaml.safe_load((tmp_path / "cached/.eval_results/dynamicner.yaml").read_text()))
    index = ModelCard.load(tmp_path / "cached/README.md").data.eval_results
    assert entry.dataset_revision == SHA and {r.dataset_revision for r in index} == {SHA}


@pytest.mark.parametrize("revision", ["main", "builder-ca3dcf97", SHA[:12], SHA + "0", "g" * 40])
def test_a_dataset_revision_that_is_not_a_commit_is_refused(tmp_path, capsys, revision):
    path = _write(tmp_path, _results())
    with pytest.raises(SystemExit):
        main(["push-results", str(path), "--model-id", "me/m", "--benchmark-id", BENCHMARK, "--dataset-revision",
              revision, "--dry-run", "--output-dir", str(tmp_path / "o")])
    assert f"{revision!r} is not a commit" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("coverage, message", [
    ({"sentences_predicted": 2, "sentences_in_split": 8, "limit": None}, "incomplete: 2 of 8 sentences predicted"),
    ({"sentences_predicted": 16, "sentences_in_split": 64, "limit": {"sentences": 2, "per": "language"}},
     "reduced: the first 2 sentences per language, 16 of 64"),
    ({"sentences_predicted": 8, "sentences_in_split": None, "limit": None}, "the split's size unknown"),
    (None, "schema 2, which does not record how much of the split was predicted"),
])
def test_runs_that_did_not_predict_their_whole_split_are_not_published(tmp_path, capsys, coverage, message):
    data = _results().to_dict()
    if coverage is None:
        del data["coverage"]
        data["schema"] = "cascadener-results/2"
    else:
        data["coverage"] = coverage
    path = _write(tmp_path, data)
    assert main(["push-results", str(path), "--model-id", "me/m", "--benchmark-id", BENCHMARK, "--dry-run",
                 "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_push_results_commits_the_files_and_records_the_model_as_pushed(tmp_path, monkeypatch, capsys, stub_hub):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    model_commit = stub_hub.add_repo("me/model", files={"config.json": "{}", "model.safetensors": b"\0" * 8})
    stub_hub.add_repo(BENCHMARK, repo_type="dataset", files={"README.md": "---\n---\n", "eval.yaml": yaml.safe_dump(
        {"name": "DynamicNER", "description": "d", "tasks": [{"id": "dynamic-de", "config": "de", "split": "test"}]})})
    benchmark_commit = stub_hub.repos[("dataset", BENCHMARK)].head[0]
    results = _results()
    path = _write(tmp_path, results)
    assert main(["push-results", str(path), "--model-id", "me/model", "--benchmark-id", BENCHMARK,
                 "--results-repo", "me/results"]) == 0
    printed = capsys.readouterr()
    # the results repo holds the JSON as pushed: the model repo and its commit, the local identity kept
    uploaded = json.loads(stub_hub.file("me/results", f"results/{results.run_id}.json", repo_type="dataset"))
    assert uploaded["model"] == {**results.model, "id": "me/model", "revision": model_commit,
                                 "local": {"id": "me/ext", "revision": "unknown"}}
    assert {k: v for k, v in uploaded.items() if k != "model"} == {k: v for k, v in results.to_dict().items()
                                                                    if k != "model"}
    # the model repo: eval results and model-index agree (percent, the benchmark's commit), linked to the JSON
    (entry,) = parse_eval_result_entries(yaml.safe_load(stub_hub.file("me/model", ".eval_results/dynamicner.yaml")))
    assert (entry.dataset_id, entry.task_id, entry.value, entry.dataset_revision) == (
        BENCHMARK, "dynamic-de", 33.33, benchmark_commit)
    assert entry.source_url.endswith(f"/datasets/me/results/blob/main/results/{results.run_id}.json")
    card = stub_hub.file("me/model", "README.md").decode()
    name, index = model_index_to_eval_results(yaml.safe_load(card.split("---")[1])["model-index"])
    assert name == "me/model" and {(r.metric_type, r.metric_value, r.dataset_revision) for r in index} == {
        ("precision", 50.0, benchmark_commit), ("recall", 25.0, benchmark_commit), ("f1", 33.33, benchmark_commit)}
    # the token went only into the request headers: no file, no output holds it
    for repo in stub_hub.repos.values():
        for _, files in repo.commits + repo.pull_requests:
            assert all(SECRET.encode() not in content for content in files.values())
    assert SECRET not in printed.out + printed.err


def test_push_results_with_create_pr_opens_pull_requests_and_leaves_main_alone(tmp_path, capsys, stub_hub):
    stub_hub.add_repo("someone/model", files={"config.json": "{}", "README.md": "---\nlicense: mit\n---\n# theirs\n"})
    path = _write(tmp_path, _results())
    assert main(["push-results", str(path), "--model-id", "someone/model", "--benchmark-id", BENCHMARK,
                 "--create-pr"]) == 0
    assert "discussions/1" in capsys.readouterr().out
    assert stub_hub.file("someone/model", ".eval_results/dynamicner.yaml") is None  # main untouched
    assert stub_hub.file("someone/model", "README.md") == b"---\nlicense: mit\n---\n# theirs\n"
    card = stub_hub.file("someone/model", "README.md", pull_request=1).decode()
    assert "license: mit" in card and "value: 33.33" in card  # the owner's card, with the results added
    (entry,) = parse_eval_result_entries(yaml.safe_load(
        stub_hub.file("someone/model", ".eval_results/dynamicner.yaml", pull_request=2)))
    assert entry.task_id == "dynamic-de" and entry.value == 33.33


def test_cli_push_offline_fails_cleanly_without_leaking_the_token(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = _write(tmp_path, _results())
    code = main(["push-results", str(path), "--model-id", "me/model", "--benchmark-id", "me/DynamicNER",
                 "--results-repo", "me/results"])
    captured = capsys.readouterr()
    assert code == 2 and "publishing failed" in captured.err
    assert SECRET not in captured.out + captured.err


def test_cli_push_results_bad_arguments(tmp_path, capsys):
    path = _write(tmp_path, _results())
    assert main(["push-results", str(path), "--model-id", "me/model", "--benchmark-id", "me/b", "--dry-run"]) == 2
    assert capsys.readouterr().err == "cascadener push-results: error: --dry-run needs --output-dir\n"
    assert main(["push-results", str(tmp_path / "none.json"), "--model-id", "me/m", "--benchmark-id", "me/b", "--dry-run",
                 "--output-dir", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["push-results", str(path), "--model-id", "me/m", "--benchmark-id", "me/b", "--metrics", "bleu", "--dry-run",
                 "--output-dir", str(tmp_path / "o")]) == 2
    assert "bleu" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["push-results", str(path), "--model-id", "not a repo id"])
    assert "not a valid Hub repo id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["push-results", str(path), "--model-id", "me/m", "--model-revision", "main"])
    assert "'main' is not a commit" in capsys.readouterr().err


def test_evaluate_records_coverage_and_an_interrupted_run_is_neither_published_nor_ranked(tmp_path, capsys):
    """Predictions for 2 of 8 reference sentences: evaluate scores them and records the shortfall; push-results
    refuses the run and the leaderboard lists it without a rank."""
    references = [{"id": f"s{i}", "text": f"Ada met Lin in Oslo {i}.", "language": "en", "entities": [
        {"text": "Oslo", "label": "city", "start": 15, "end": 19}]} for i in range(8)]
    (tmp_path / "refs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in references), encoding="utf-8")
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "entities": r["entities"]}) + "\n"
                                   for r in references[:2]), encoding="utf-8")
    (tmp_path / "results").mkdir()
    assert main(["evaluate", str(predictions), "--jsonl", str(tmp_path / "refs.jsonl"), "-o",
                 str(tmp_path / "results" / "cut.json")]) == 0
    err = capsys.readouterr().err
    assert "coverage: incomplete: 2 of 8 sentences predicted" in err
    results = hub.load_results(tmp_path / "results" / "cut.json")
    assert results.coverage == {"sentences_predicted": 2, "sentences_in_split": 8, "limit": None}
    assert main(["push-results", str(tmp_path / "results" / "cut.json"), "--model-id", "me/m", "--benchmark-id",
                 BENCHMARK, "--dry-run", "--output-dir", str(tmp_path / "o")]) == 2
    assert "incomplete: 2 of 8 sentences predicted" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert main(["leaderboard", str(tmp_path), "-o", str(tmp_path / "board")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("not ranked: results/cut.json") and "0 ranked row(s)" not in out

    # the whole split predicted: complete, publishable
    predictions.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "entities": r["entities"]}) + "\n"
                                   for r in references), encoding="utf-8")
    assert main(["evaluate", str(predictions), "--jsonl", str(tmp_path / "refs.jsonl"), "-o",
                 str(tmp_path / "full.json")]) == 0
    assert hub.Coverage.of(hub.load_results(tmp_path / "full.json")).status == "full"
    assert "coverage:" not in capsys.readouterr().err


def test_the_model_card_shows_names_as_written(tmp_path):
    import markdown_it

    hostile = "runs/<img src=x onerror=alert(7)>_*x*"
    card = hub.model_card(_results(model={"id": hostile, "revision": "unknown"},
                                   dataset={"id": "<b>set</b>", "config": "de", "split": "test", "revision": None,
                                            "languages": ["de"]}))
    rendered = markdown_it.MarkdownIt("commonmark").render(card.text)
    assert "<img" not in rendered and "<b>" not in rendered and "<em>" not in rendered
    assert "runs/&lt;img src=x onerror=alert(7)&gt;_*x*" in rendered and "&lt;b&gt;set&lt;/b&gt;" in rendered


def test_a_later_run_replaces_the_scores_of_an_earlier_one_on_the_model_repo(tmp_path, capsys, stub_hub):
    stub_hub.add_repo("me/model", files={"config.json": "{}"})
    first = _write(tmp_path, _results(), "first.json")
    later = _results(run_id="20260102T000000Z-00000002", created_at="2026-01-02T00:00:00+00:00",
                     metrics={"precision": 0.75, "recall": 0.5, "f1": 0.6},
                     scores={"dynamic-de": {"f1": 0.6, "precision": 0.75, "recall": 0.5, "languages": {"de": 0.6}}})
    for path in (first, _write(tmp_path, later, "later.json")):
        assert main(["push-results", str(path), "--model-id", "me/model", "--benchmark-id", BENCHMARK]) == 0
    capsys.readouterr()
    (entry,) = parse_eval_result_entries(yaml.safe_load(stub_hub.file("me/model", ".eval_results/dynamicner.yaml")))
    card = stub_hub.file("me/model", "README.md").decode()
    _, index = model_index_to_eval_results(yaml.safe_load(card.split("---")[1])["model-index"])
    assert entry.value == 60.0 and entry.date == "2026-01-02T00:00:00+00:00"
    assert sorted((r.metric_type, r.metric_value) for r in index) == [("f1", 60.0), ("precision", 75.0),
                                                                      ("recall", 50.0)]
