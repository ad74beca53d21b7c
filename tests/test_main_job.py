"""The main job (`cascadener run`): scoring logic, a reduced end-to-end run, and a run with given models."""

from __future__ import annotations

import json

import pytest

from cascadener.benchmark import (
    COLUMNS,
    SplitData,
    SplitPredictions,
    flat_metrics,
    format_table,
    gold_at_level,
    score_columns,
)


def _split(records):
    from dynamicner_data.taxonomy import Taxonomy

    return SplitData(records=records, taxonomy=Taxonomy.dynamicner(), description={"sentences": len(records)})


def _cascade_of(entities, *, fine=None):
    return [[{**{k: e[k] for k in ("text", "start", "end")}, "label": fine or e["path"][-1],
              "levels": e["path"][:2] + [fine or e["path"][-1]]} for e in sentence] for sentence in entities]


def test_scores_per_granularity_read_the_cascade_at_each_level(tiny_corpus):
    test = _split([dict(r, language=r["language"]) for r in tiny_corpus])
    gold = [r["entities"] for r in tiny_corpus]
    perfect = SplitPredictions(dynamic=[[dict(e) for e in s] for s in gold], cascade=_cascade_of(gold), stats={})
    scores = score_columns(test, perfect)
    assert set(scores) == set(COLUMNS)
    assert all(scores[c]["f1"] == 1.0 for c in COLUMNS)
    assert scores["dynamic"]["language/de/f1"] == 1.0 and scores["dynamic"]["out_of_list"] == 0.0
    # every fine label wrong, levels 1 and 2 right: coarse and medium stay perfect, fine drops to 0
    wrong = SplitPredictions(dynamic=perfect.dynamic, cascade=_cascade_of(gold, fine="no such type"), stats={})
    scores = score_columns(test, wrong)
    assert scores["coarse"]["f1"] == scores["medium"]["f1"] == 1.0
    assert scores["fine"]["f1"] == 0.0 and scores["fine"]["extraction_f1"] == 1.0
    # a missed entity lowers recall in every column
    missed = SplitPredictions(dynamic=[s[1:] for s in perfect.dynamic], cascade=[s[1:] for s in perfect.cascade],
                             stats={})
    scores = score_columns(test, missed)
    n_gold = sum(len(s) for s in gold)
    n_missed = sum(1 for s in gold if s)
    for column in COLUMNS:
        assert scores[column]["recall"] == pytest.approx((n_gold - n_missed) / n_gold)
        assert scores[column]["precision"] == 1.0


def test_table_and_flat_metrics():
    scores = {"dynamic": {"f1": 0.25, "language/en/f1": 0.5, "language/de/f1": 0.0},
              "fine": {"f1": 0.125, "language/en/f1": 0.2}}
    lines = format_table(scores, ["en", "de"]).splitlines()
    assert lines[0].split() == ["language", *COLUMNS]
    assert lines[1].split() == ["en", "50.00", "-", "-", "20.00"]
    assert lines[2].split() == ["de", "0.00", "-", "-", "-"]
    assert lines[3].split() == ["all", "25.00", "-", "-", "12.50"]
    assert flat_metrics(scores)["fine/language/en/f1"] == 0.2
    assert gold_at_level({"label": "x", "path": []}, 3) == "x"
    assert gold_at_level({"label": "c", "path": ["a", "b", "c"]}, 1) == "a"


def _check_outputs(out, *, languages, sentences):
    from huggingface_hub import ModelCard

    from cascadener.publishing.hub import load_results

    results = load_results(out / "results.json")
    assert results.dataset["split"] == "test" and results.dataset["sentences"] == sentences
    assert results.metric["name"] == "dynamicner_f1"
    for column in ("coarse", "medium", "fine"):
        assert f"{column}/f1" in results.metrics
    for language in languages:
        assert f"language/{language}/f1" in results.metrics
    card = ModelCard.load(out / "README.md")
    index = card.data.to_dict()["model-index"][0]["results"][0]
    assert {m["type"] for m in index["metrics"]} >= {"precision", "recall", "f1", "fine/f1"}
    assert "per language and granularity" in card.text
    png = (out / "per_label_f1.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == sentences
    for line in lines:
        row = json.loads(line)
        for entity in row["entities"] + row["cascade_entities"]:
            assert row["text"][entity["start"]:entity["end"]] == entity["text"]
        for entity in row["cascade_entities"]:
            assert entity["label"] == entity["levels"][-1]
    return results


@pytest.mark.slow
def test_reduced_main_job_trains_predicts_scores_and_resumes(tmp_path, capsys):
    from cascadener.cli import main

    out = tmp_path / "run"
    argv = ["run", "-o", str(out), "--languages", "en", "ja", "--max-train", "4", "--max-test", "2",
            "--max-steps", "6", "--threads", "1", "--max-new-tokens", "24", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    table = printed.out[printed.out.index("language"):].splitlines()[:4]
    assert table[0].split() == ["language", *COLUMNS]
    assert [line.split()[0] for line in table[1:]] == ["en", "ja", "all"]
    assert all(len(line.split()) == 5 for line in table)
    results = _check_outputs(out, languages=["en", "ja"], sentences=4)
    assert results.model["trained"] and results.model["training"]["runs"]["extractor"]["steps"] == 6
    assert (out / "models" / "extractor" / "config.json").is_file()
    # the same command again reuses the trained models
    assert main(argv) == 0
    assert "reusing the models" in capsys.readouterr().err
    # a changed training option retrains
    assert main(argv[:-1] + ["--max-steps", "5", "--no-progress"]) == 0
    assert "reusing" not in capsys.readouterr().err



@pytest.mark.slow
def test_main_job_with_given_models_skips_training_and_extracts_memorised_entities(tiny_cascade, tiny_corpus,
                                                                                     memorised_release, tmp_path, capsys):
    """The fixture model memorised stage 1 of these sentences: extraction F1 is exactly 1 in every column."""
    from cascadener.cli import main

    data_dir = memorised_release
    out = tmp_path / "run"
    argv = ["run", "-o", str(out), "--languages", "en", "de", "--data-dir", str(data_dir),
            "--extractor", str(tiny_cascade.extractor), "--classifier", str(tiny_cascade.classifier), "--threads", "1",
            "--no-progress"]
    assert main(argv) == 0
    assert "time: load" in capsys.readouterr().out
    results = _check_outputs(out, languages=["en", "de"], sentences=len(tiny_corpus))
    assert results.model["trained"] is False and not (out / "models").exists()
    assert results.dataset["source"] == str(data_dir)
    n_gold = sum(len(r["entities"]) for r in tiny_corpus)
    for prefix in ("", "coarse/", "medium/", "fine/"):
        assert results.metrics[f"{prefix}extraction_f1"] == 1.0
        assert results.metrics[f"{prefix}num_references"] == n_gold


@pytest.mark.slow
def test_main_job_drops_entities_below_its_threshold_and_records_it(tiny_cascade, memorised_release, tmp_path,
                                                                      capsys):
    """``cascadener run --threshold T``: its predictions keep exactly the entities scored >= T (dynamic and
    cascade), and the results JSON, the model card and its eval results say T."""
    import yaml
    from huggingface_hub import ModelCard

    from cascadener.cli import main
    from cascadener.publishing.hub import load_results

    base = ["run", "--languages", "en", "de", "--data-dir", str(memorised_release), "--extractor",
            str(tiny_cascade.extractor), "--classifier", str(tiny_cascade.classifier), "--threads", "1",
            "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "all")]) == 0
    every = [json.loads(line) for line in (tmp_path / "all" / "predictions.jsonl").read_text().splitlines()]
    assert load_results(tmp_path / "all" / "results.json").pipeline["threshold"] is None
    scores = sorted({e["score"] for row in every for e in row["entities"]})
    assert len(scores) >= 4
    threshold = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2  # between two distinct scores
    assert main([*base, "--threshold", str(threshold), "-o", str(tmp_path / "kept")]) == 0
    capsys.readouterr()
    kept = [json.loads(line) for line in (tmp_path / "kept" / "predictions.jsonl").read_text().splitlines()]
    for key in ("entities", "cascade_entities"):
        assert [row[key] for row in kept] == [[e for e in row[key] if e["score"] >= threshold] for row in every]
    dropped = sum(len(row[key]) - len(low[key]) for row, low in zip(every, kept)
                  for key in ("entities", "cascade_entities"))
    results = load_results(tmp_path / "kept" / "results.json")
    assert results.pipeline["threshold"] == threshold
    assert results.counts["below_threshold"] == dropped > 0
    card = ModelCard.load(tmp_path / "kept" / "README.md")
    assert f"confidence threshold {threshold} were dropped" in card.text
    metrics = yaml.safe_load(card.content.split("---")[1])["model-index"][0]["results"][0]["metrics"]
    assert {m["args"]["threshold"] for m in metrics} == {threshold}


@pytest.mark.parametrize("argv, message", [
    (["--classifier", "x"], "--classifier needs --extractor"),
    (["--lora"], "--lora needs --base-model"),
    (["--data-dir", "/no/such/dir"], "does not exist"),
    (["--extractor", "no-such-model"], "neither a directory nor a Hub id"),
])
def test_main_job_bad_arguments(tmp_path, capsys, argv, message):
    from cascadener.cli import main

    assert main(["run", "-o", str(tmp_path / "r"), *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_main_job_fine_tunes_a_base_model_with_lora(tmp_path, capsys):
    from huggingface_hub import ModelCard

    from cascadener.cli import main
    from cascadener.training.tiny import TinyModelOptions, chat_texts, create_tiny_model

    base = create_tiny_model(chat_texts(["A base model of its own , trained elsewhere ."]), tmp_path / "base-lm",
                             vocab_size=400, options=TinyModelOptions(hidden_size=32, intermediate_size=64))
    out = tmp_path / "run"
    assert main(["run", "-o", str(out), "--languages", "en", "--max-train", "3", "--max-test", "1", "--base-model",
                 str(base), "--lora", "--max-steps", "3", "--max-new-tokens", "8", "--threads", "1",
                 "--no-progress"]) == 0
    results = _check_outputs(out, languages=["en"], sentences=1)
    assert results.model["base_model"] == str(base) and results.model["trained"]
    assert results.model["training"]["runs"]["classifier"]["steps"] == 3
    assert ModelCard.load(out / "README.md").data.model_name == "cascadener-base-lm-dynamicner"
    # the LoRA adapters were merged: plain transformers loads the saved models
    assert (out / "models" / "classifier" / "model.safetensors").is_file()
    assert not (out / "models" / "classifier" / "adapter_config.json").exists()
