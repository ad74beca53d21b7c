"""Results JSON, model card model-index and Hub publishing (mocked: the Hub is unreachable here)."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from cascadener.publishing import hub
from cascadener.cli import main

SECRET = "hf_" + "s" * 34


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
    )
    fields.update(overrides)
    return hub.RunResults(**fields)


def test_results_json_round_trip(tmp_path):
    results = _results()
    path = tmp_path / "r.json"
    path.write_text(results.to_json(), encoding="utf-8")
    loaded = hub.load_results(path)
    assert loaded == results
    data = json.loads(path.read_text())
    assert data["dataset"]["revision"] == "builder-123" and data["metric"]["version"] == "0.1.0"
    assert data["prompt"]["hash"] == "0123456789ab" and data["schema"] == hub.RESULTS_SCHEMA


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


def test_model_card_model_index_round_trips(tmp_path):
    results = _results()
    card = hub.model_card(results, model_id="me/cascadener-de")
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    by_type = {r.metric_type: r for r in loaded.data.eval_results}
    assert set(by_type) == {"precision", "recall", "f1"}  # headline scores only: no counts, no per-label keys
    assert by_type["f1"].metric_value == pytest.approx(1 / 3)
    assert by_type["f1"].dataset_config == "de" and by_type["f1"].dataset_revision == "builder-123"
    assert by_type["f1"].metric_args["prompt_hash"] == "0123456789ab"
    name, again = model_index_to_eval_results(loaded.data.to_dict()["model-index"])
    assert name == "me/cascadener-de" and len(again) == 3


def test_metric_key_selection():
    assert [r.metric_type for r in hub.eval_results(_results(), metric_keys=["f1"])] == ["f1"]
    with pytest.raises(ValueError, match="not in the results"):
        hub.eval_results(_results(), metric_keys=["accuracy"])


class _Recorder:
    def __init__(self):
        self.calls = []


def test_push_results_calls_the_hub_api_without_a_token(monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HF_TOKEN", SECRET)
    recorder = _Recorder()

    def fake_metadata_update(repo_id, metadata, **kwargs):
        recorder.calls.append(("metadata_update", repo_id, metadata, kwargs))
        return f"https://hf.co/{repo_id}/commit/1"

    class FakeApi:
        def __init__(self, *args, **kwargs):
            recorder.calls.append(("HfApi", args, kwargs))

        def create_repo(self, repo_id, **kwargs):
            recorder.calls.append(("create_repo", repo_id, kwargs))

        def upload_file(self, **kwargs):
            recorder.calls.append(("upload_file", kwargs))
            return "https://hf.co/datasets/me/results/commit/2"

    monkeypatch.setattr(huggingface_hub, "metadata_update", fake_metadata_update)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    results = _results()
    out = hub.push_results(results, model_id="me/model", results_repo="me/results")
    assert set(out) == {"model_card", "results_json"}
    kinds = [call[0] for call in recorder.calls]
    assert kinds == ["metadata_update", "HfApi", "create_repo", "upload_file"]
    _, repo, metadata, kwargs = recorder.calls[0]
    assert repo == "me/model" and kwargs.get("repo_type") == "model"
    name, evals = model_index_to_eval_results(metadata["model-index"])
    assert name == "me/model" and [e.metric_type for e in evals] == ["precision", "recall", "f1"]
    upload = recorder.calls[3][1]
    assert upload["path_in_repo"] == f"results/{results.run_id}.json"
    assert upload["repo_type"] == "dataset" and upload["repo_id"] == "me/results"
    assert json.loads(upload["path_or_fileobj"].decode()) == results.to_dict()
    for call in recorder.calls:  # the token is never handed over explicitly: huggingface_hub reads it itself
        keyword_args = [part for part in call if isinstance(part, dict)]
        assert all("token" not in part for part in keyword_args)
        assert SECRET not in str(call)


def test_cli_push_offline_fails_cleanly_without_leaking_the_token(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "r.json"
    path.write_text(_results().to_json(), encoding="utf-8")
    code = main(["push-results", str(path), "--model-id", "me/model", "--benchmark-id", "me/DynamicNER",
                 "--results-repo", "me/results"])
    captured = capsys.readouterr()
    assert code == 2 and "publishing failed" in captured.err
    assert SECRET not in captured.out + captured.err


def test_cli_push_results_bad_arguments(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(_results().to_json(), encoding="utf-8")
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
