"""GPT-NER and PromptNER on the local backend: tiny models trained for seconds on each method's own SFT format
(``tiny_gpt_ner``, ``tiny_promptner``) recover the sentences they memorised, through the Python API, windows,
``cascadener predict``, ``cascadener train --method`` and the main job (``cascadener run --method``), whose
results the leaderboard ranks beside CascadeNER's. Every check reads memorised text only.
"""

from __future__ import annotations

import json

import pytest

from cascadener.methods import GptNer, PromptNer
from cascadener.methods.base import TRAINED_FOR_FILE, trained_for
from cascadener.methods.fewshot import text_limit
from cascadener.windows import PROMPT_OVERHEAD

METHODS = {"gpt-ner": GptNer, "promptner": PromptNer}


@pytest.fixture(scope="module")
def models(request):
    return {"gpt-ner": request.getfixturevalue("tiny_gpt_ner"), "promptner": request.getfixturevalue("tiny_promptner")}


def _gold(records):
    return [sorted((e["text"], e["label"], e["start"], e["end"]) for e in r["entities"]) for r in records]


def _spans(run):
    return [sorted((e["text"], e["label"], e["start"], e["end"]) for e in p.entities) for p in run.predictions]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["gpt-ner", "promptner"])
def test_tiny_model_recovers_memorised_sentences(method, models, tiny_corpus):
    model = models[method].extractor
    assert trained_for(model)["method"] == method and (model / TRAINED_FOR_FILE).is_file()
    ner = METHODS[method].from_pretrained(str(model))
    assert ner.fine_tuned and ner.check(ner.options_type()) == {"method": method, "setting": "fine-tuned",
                                                                 "demonstrations": 0}
    run = ner.run([r["text"] for r in tiny_corpus], [r["type_list"] for r in tiny_corpus],
                  languages=[r["language"] for r in tiny_corpus])  # no pool: a fine-tuned model needs none
    assert _spans(run) == _gold(tiny_corpus)
    questions = sum(len(r["type_list"]) for r in tiny_corpus) if method == "gpt-ner" else len(tiny_corpus)
    assert run.stats.stage1_requests == questions and run.stats.invented_mentions == 0


@pytest.mark.slow
@pytest.mark.parametrize("method", ["gpt-ner", "promptner"])
def test_local_windows_map_memorised_sentences_back(method, models, tiny_corpus):
    """A memorised sentence twice in one text, on a context that holds one copy at a time: read in two
    windows (each the memorised sentence, asked with its own list), the spans mapped back to both copies."""
    record = tiny_corpus[5]  # two entities of one type, a repeated word
    sentence, types = record["text"], tuple(record["type_list"])
    text = sentence + " " + sentence
    gold = sorted((e["text"], e["label"], e["start"] + shift, e["end"] + shift) for shift in (0, len(sentence) + 1)
                  for e in record["entities"])
    ner = METHODS[method].from_pretrained(str(models[method].extractor))
    backend = ner.extractor_backend
    per_token, extra = (2, 16) if method == "gpt-ner" else (8, 128)
    fits = backend.token_counts([sentence + " "])[0]  # a window's unit keeps the space after it
    backend.context_tokens = PROMPT_OVERHEAD + ner.frame_tokens(types) + extra + (1 + per_token) * fits
    assert text_limit(backend.context_tokens, frame_tokens=ner.frame_tokens(types), per_token=per_token,
                      extra=extra) == fits < backend.token_counts([text])[0]
    run = ner.run([text], [list(types)])
    assert run.stats.split_texts == 1 and run.stats.windows == 2
    assert _spans(run) == [gold]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["gpt-ner", "promptner"])
def test_cli_predict_on_the_local_model(method, models, tiny_corpus, tmp_path, capsys):
    from cascadener.cli import main

    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({k: r[k] for k in ("id", "text", "type_list", "language", "entities")},
                                         ensure_ascii=False) + "\n" for r in tiny_corpus), encoding="utf-8")
    output = tmp_path / "out.jsonl"
    command = ["predict", "--method", method, "--jsonl", str(inputs), "--extractor", str(models[method].extractor),
               "-o", str(output), "--no-progress", "--chunk-size", "3"]
    assert main(command) == 0, capsys.readouterr().err
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [sorted((e["text"], e["label"], e["start"], e["end"]) for e in line["entities"]) for line in lines] == \
        _gold(tiny_corpus)
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text(encoding="utf-8"))
    assert meta["applied"] == {"method": method, "setting": "fine-tuned", "demonstrations": 0}
    assert meta["options"]["demonstrations"] is None and meta["options"]["pool"] is None
    # a second writer is refused while the first holds the lock
    from cascadener.cli.locking import OutputLock

    capsys.readouterr()
    with OutputLock(output):
        assert main([*command, "--overwrite"]) == 2
    assert f"{output} is being written by" in capsys.readouterr().err
    # a finished run resumes to the same file
    before = output.read_text(encoding="utf-8")
    assert main([*command, "--resume"]) == 0 and output.read_text(encoding="utf-8") == before


@pytest.mark.slow
def test_cli_train_method_saves_a_model_marked_for_the_method(tiny_corpus, tmp_path, capsys):
    from cascadener.cli import main

    inputs = tmp_path / "train.jsonl"
    inputs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in tiny_corpus), encoding="utf-8")
    out = tmp_path / "trained"
    assert main(["train", "--method", "promptner", "--jsonl", str(inputs), "-o", str(out), "--max-steps", "2",
                 "--vocab-size", "400", "--no-progress", "--export-sft", str(tmp_path / "sft")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("next: cascadener predict --method promptner")
    assert trained_for(out / "model")["method"] == "promptner"
    summary = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["method"] == "promptner" and summary["sft"]["conversations"] == len(tiny_corpus)
    exported = json.loads((tmp_path / "sft" / "promptner.json").read_text(encoding="utf-8"))
    assert [turn["from"] for turn in exported[0]["conversations"]] == ["system", "user", "assistant"]
    assert not (out / "extractor").exists()
    assert main(["train", "--method", "gpt-ner", "--jsonl", str(inputs), "-o", str(out), "--one-model"]) == 2
    assert "--one-model: cascadener's; --method gpt-ner trains one model" in capsys.readouterr().err
    assert main(["train", "--method", "promptner", "--jsonl", str(inputs), "-o", str(out)]) == 2
    assert "already holds a trained model" in capsys.readouterr().err


@pytest.mark.slow
def test_main_job_runs_every_method_and_the_leaderboard_ranks_them_together(memorised_release, tmp_path, capsys):
    """``cascadener run --method M`` trains (a few steps) and scores each method on the same data; their
    results in one folder are ranked together per task, the method shown."""
    from cascadener.cli import main
    from cascadener.publishing.leaderboard import build, from_folder

    board = tmp_path / "board"
    (board / "results").mkdir(parents=True)
    for method in ("cascadener", "gpt-ner", "promptner"):
        out = tmp_path / method
        status = main(["run", "--method", method, "--languages", "en", "--data-dir", str(memorised_release),
                       "--max-steps", "2", "--max-new-tokens", "24", "--no-progress", "-o", str(out)])
        assert status == 0, capsys.readouterr().err
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        if method == "cascadener":
            assert set(results["scores"]) == {"dynamic-en", "coarse-en", "medium-en", "fine-en"}
        else:
            assert set(results["scores"]) == {"dynamic-en"}  # no taxonomy reading
            assert results["pipeline"]["method"] == method and results["pipeline"]["setting"] == "fine-tuned"
            assert trained_for(out / "models" / "model")["method"] == method
            lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
            assert all("cascade_entities" not in line for line in lines)
        printed = capsys.readouterr().out
        assert ("F1 (%) of CascadeNER" in printed) == (method == "cascadener")
        (board / "results" / f"{method}.json").write_text(json.dumps(results), encoding="utf-8")
    ranked = build(from_folder(board)[0])
    methods = sorted(row.entry.method for row in ranked.tables["dynamic-en"])
    assert methods == ["cascadener-generative (fine-tuned)", "gpt-ner (fine-tuned)", "promptner (fine-tuned)"]
    assert all(row.rank is not None for row in ranked.tables["dynamic-en"])


@pytest.mark.slow
@pytest.mark.parametrize("method", ["gpt-ner", "promptner"])
def test_sft_conversations_of_a_geic_corpus_in_the_methods_format(method, memorised_release, tiny_corpus, tmp_path,
                                                                    capsys):
    """``cascadener train --method M --geic FILE --export-sft DIR``: the authors' GEIC format in, the method's
    own conversations out (GEIC has no type lists: each sentence is asked about its gold types)."""
    from cascadener.cli import main

    geic = memorised_release / "en" / "train.json"
    english = [r for r in tiny_corpus if r["language"] == "en"]
    assert main(["train", "--method", method, "--geic", str(geic), "-o", str(tmp_path / "m"), "--max-steps", "1",
                 "--vocab-size", "400", "--no-progress", "--export-sft", str(tmp_path / "sft")]) == 0, \
        capsys.readouterr().err
    exported = json.loads((tmp_path / "sft" / f"{method}.json").read_text(encoding="utf-8"))
    if method == "gpt-ner":  # one question per sentence and gold type; none for the sentence without entities
        assert len(exported) == sum(len({e["label"] for e in r["entities"]}) for r in english)
        first = exported[0]["conversations"]
        assert [t["from"] for t in first] == ["user", "assistant"]
        assert first[0]["value"].startswith("You are an excellent linguist. Within the DynamicNER dataset")
        assert "@@" in first[1]["value"] and "##" in first[1]["value"]
    else:  # one chat per sentence with entities (a sentence without any has no type to ask about)
        assert len(exported) == sum(1 for r in english if r["entities"])
        assert [t["from"] for t in exported[0]["conversations"]] == ["system", "user", "assistant"]
        assert exported[0]["conversations"][2]["value"].startswith("1. ")
