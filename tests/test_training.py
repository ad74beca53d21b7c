"""Fine-tuning: assistant-only labels, skipped long examples, memorisation, LoRA, reload."""

from __future__ import annotations

import pytest
import torch

from cascadener.prompts import chat_messages
from cascadener.training.sft import build_sft
from cascadener.training.tiny import TinyModelOptions, chat_texts, create_tiny_model
from cascadener.training.trainer import (
    IGNORE_INDEX,
    TrainingDataError,
    TrainOptions,
    tokenize_conversation,
    tokenize_dataset,
    train,
)


@pytest.fixture(scope="module")
def sft_data(tiny_corpus):
    return build_sft(tiny_corpus)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, sft_data):
    """An untrained tiny model whose tokenizer was trained on the fixture conversations."""
    texts = [m["content"] for row in sft_data.combined() for m in row["messages"]]
    return create_tiny_model(chat_texts(texts), tmp_path_factory.mktemp("base"), vocab_size=1000,
                             options=TinyModelOptions(hidden_size=64, intermediate_size=128))


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_base)


def _labelled(tokenizer, example):
    return [i for i, label in zip(example["input_ids"], example["labels"]) if label != IGNORE_INDEX]


@pytest.mark.slow
def test_labels_cover_only_assistant_tokens(tokenizer, sft_data):
    for row in sft_data.combined():
        example = tokenize_conversation(row["messages"], tokenizer)
        answer = row["messages"][-1]["content"]
        assert tokenizer.decode(_labelled(tokenizer, example)) == answer + "<|im_end|>"
        # labels equal the input ids where kept (Trainer's causal LM shifts them itself)
        assert all(label in (IGNORE_INDEX, i) for i, label in zip(example["input_ids"], example["labels"]))
        # cross-check with transformers' own assistant mask from the template's {% generation %} markers
        reference = tokenizer.apply_chat_template(row["messages"], return_assistant_tokens_mask=True, return_dict=True)
        assert reference["input_ids"] == example["input_ids"]
        assert [int(m) for m in reference["assistant_masks"]] == [int(l != IGNORE_INDEX) for l in example["labels"]]


@pytest.mark.slow
def test_multi_turn_labels_every_assistant_turn(tokenizer):
    messages = chat_messages("first", "one") + [{"role": "user", "content": "second"},
                                                {"role": "assistant", "content": "two"}]
    example = tokenize_conversation(messages, tokenizer)
    assert tokenizer.decode(_labelled(tokenizer, example)) == "one<|im_end|>two<|im_end|>"


@pytest.mark.slow
def test_conversation_without_assistant_is_an_error(tokenizer):
    with pytest.raises(TrainingDataError, match="example 7: field 'messages' has no assistant turn"):
        tokenize_conversation(chat_messages("only a question"), tokenizer, index=7)
    with pytest.raises(TrainingDataError, match=r"messages\[1\] needs a role"):
        tokenize_conversation([{"role": "system", "content": "s"}, {"role": "bot", "content": "x"},
                               {"role": "assistant", "content": "y"}], tokenizer, index=0)


@pytest.mark.slow
def test_too_long_examples_are_skipped_and_reported(tokenizer, sft_data):
    data = sft_data.combined()
    lengths = [len(tokenize_conversation(m, tokenizer)["input_ids"]) for m in data["messages"]]
    limit = sorted(lengths)[len(lengths) // 2]
    tokenized, skipped = tokenize_dataset(data, tokenizer, max_length=limit, progress=False)
    assert len(tokenized) + len(skipped) == len(data)
    assert len(skipped) == sum(n > limit for n in lengths) > 0
    assert all(f"> max_length {limit}" in reason for _, reason in skipped)
    with pytest.raises(TrainingDataError, match="no trainable example left"):
        tokenize_dataset(data, tokenizer, max_length=3, progress=False)


@pytest.mark.slow
def test_training_lowers_the_loss_and_saves_a_loadable_model(tiny_base, sft_data, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = train(tiny_base, sft_data.combined(seed=0), tmp_path / "out",
                   options=TrainOptions(max_steps=30, learning_rate=3e-3, batch_size=16, logging_steps=5, progress=False,
                                        num_threads=1))
    assert result.steps == 30 and result.examples == len(sft_data.combined())
    assert result.loss_history[0][0] == 1 and result.loss_history[-1][0] == 30
    assert result.final_loss < 0.7 * result.first_loss
    model = AutoModelForCausalLM.from_pretrained(result.output_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    assert not torch.equal(model.model.embed_tokens.weight, base.model.embed_tokens.weight)
    assert AutoTokenizer.from_pretrained(result.output_dir).padding_side == "left"


def _greedy(model_dir, conversations, *, max_new_tokens=48):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    prompts = [messages[:-1] for messages in conversations]
    batch = tokenizer.apply_chat_template(prompts, add_generation_prompt=True, padding=True, return_tensors="pt",
                                          return_dict=True)
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.slow
def test_tiny_cascade_memorises_both_stages(tiny_cascade, tiny_corpus):
    run = tiny_cascade.runs["model"]
    assert run.final_loss < 0.05 < 3.0 < run.first_loss
    assert tiny_cascade.extractor == tiny_cascade.classifier
    data = build_sft(tiny_corpus)
    assert tiny_cascade.sft_report.stage1 == len(tiny_corpus) == data.report.stage1
    assert data.report.stage2 == sum(len(r["entities"]) for r in tiny_corpus)
    for stage in (data.stage1, data.stage2):
        conversations = stage["messages"]
        outputs = _greedy(tiny_cascade.extractor, conversations)
        assert outputs == [messages[-1]["content"] for messages in conversations]


@pytest.mark.slow
@pytest.mark.parametrize("merge", [True, False])
def test_lora_path_trains_and_reloads(tiny_base, sft_data, tmp_path, merge):
    from transformers import AutoModelForCausalLM

    options = TrainOptions(max_steps=20, learning_rate=1e-2, batch_size=16, logging_steps=5, progress=False,
                           lora=True, lora_r=4, lora_alpha=8, merge_lora=merge, num_threads=1)
    result = train(tiny_base, sft_data.combined(seed=0), tmp_path / "lora", options=options)
    assert result.lora and result.final_loss < result.first_loss
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    assert 0 < result.trainable_parameters < sum(p.numel() for p in base.parameters()) / 5
    files = {p.name for p in result.output_dir.iterdir()}
    if merge:
        assert "model.safetensors" in files and "adapter_config.json" not in files
    else:
        assert "adapter_config.json" in files
    reloaded = AutoModelForCausalLM.from_pretrained(result.output_dir)
    ids = torch.tensor([[1, 5, 9, 12]])
    with torch.inference_mode():
        changed = not torch.allclose(reloaded(ids).logits, base(ids).logits, atol=1e-6)
    assert changed, "LoRA training left the model unchanged"


def _write_jsonl(path, records):
    import json

    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.slow
def test_cli_train_saves_models_the_pipeline_loads(tiny_corpus, tmp_path, capsys):
    import json

    from cascadener.cli import main
    from cascadener.pipeline import CascadeNER

    data = _write_jsonl(tmp_path / "train.jsonl", tiny_corpus)
    out = tmp_path / "models"
    code = main(["train", "--jsonl", str(data), "-o", str(out), "--max-steps", "12", "--threads", "1",
                 "--vocab-size", "600", "--lists", "both", "--export-sft", str(tmp_path / "sft"), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"--extractor {out / 'extractor'} --classifier {out / 'classifier'}" in printed
    summary = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["lists"] == ["type_list", "hierarchy"]
    n_entities = sum(len(r["entities"]) for r in tiny_corpus)
    assert summary["sft"]["stage2"] == n_entities * 4  # one type_list question + three cascade levels
    for name in ("extractor", "classifier"):
        run = summary["runs"][name]
        assert run["steps"] == 12 and run["loss_history"][-1][1] < run["loss_history"][0][1]
    exported = json.loads((tmp_path / "sft" / "stage2.json").read_text(encoding="utf-8"))
    assert len(exported) == n_entities * 4
    ner = CascadeNER.from_pretrained(str(out / "extractor"), str(out / "classifier"), device="cpu")
    predicted = ner.predict(["Mira Okafor flew to Oslo .", ""], [["city", "athlete"], None], max_new_tokens=24)
    assert len(predicted) == 2 and predicted[1] == []
    for entity in predicted[0]:
        assert "Mira Okafor flew to Oslo ."[entity["start"]:entity["end"]] == entity["text"]
        assert entity["label"] in ("city", "athlete")
    # a second run into the same folder is refused without --overwrite
    assert main(["train", "--jsonl", str(data), "-o", str(out), "--max-steps", "1"]) == 2
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--lists", "type_list"], "samples have no type_list"),
    (["--base-model", "not-a-dir"], "neither a directory nor a Hub id"),
    (["--lora-dropout", "1.5"], "--lora-dropout must be in"),
])
def test_cli_train_bad_arguments_exit_2_with_a_message(tiny_corpus, tmp_path, capsys, argv, message):
    from cascadener.cli import main

    records = [dict(r, type_list=None) if i == 2 else r for i, r in enumerate(tiny_corpus)]
    data = _write_jsonl(tmp_path / "train.jsonl", records)
    assert main(["train", "--jsonl", str(data), "-o", str(tmp_path / "m"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_train_needs_gold_entities(tmp_path, capsys):
    from cascadener.cli import main

    data = _write_jsonl(tmp_path / "raw.jsonl", [{"id": "a", "text": "no gold here"}])
    assert main(["train", "--jsonl", str(data), "-o", str(tmp_path / "m")]) == 2
    assert "sample 'a' has no gold entities" in capsys.readouterr().err


@pytest.mark.slow
def test_interrupted_training_resumes_from_its_last_checkpoint(tiny_base, sft_data, tmp_path):
    import shutil

    from transformers import AutoModelForCausalLM

    data = sft_data.combined(seed=0)
    options = TrainOptions(max_steps=6, learning_rate=3e-3, batch_size=8, logging_steps=1, progress=False,
                           num_threads=1, save_steps=3)
    full = train(tiny_base, data, tmp_path / "full", options=options)
    assert sorted(p.name for p in (tmp_path / "full" / "checkpoints").iterdir()) == ["checkpoint-3", "checkpoint-6"]
    # an "interrupted" run: only the checkpoint at step 3 survived
    shutil.copytree(tmp_path / "full" / "checkpoints" / "checkpoint-3", tmp_path / "cut" / "checkpoints" / "checkpoint-3")
    resumed = train(tiny_base, data, tmp_path / "cut", options=TrainOptions(**{**options.__dict__, "resume": True}))
    assert resumed.steps == 6
    assert [step for step, _ in resumed.loss_history] == [4, 5, 6]
    assert [loss for _, loss in resumed.loss_history] == pytest.approx([loss for _, loss in full.loss_history[3:]],
                                                                       rel=1e-4)
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "full").state_dict()
    b = AutoModelForCausalLM.from_pretrained(tmp_path / "cut").state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


@pytest.mark.slow
def test_cli_train_on_sharegpt_files_trains_one_model(sft_data, tiny_corpus, tmp_path, capsys):
    import json

    from transformers import AutoModelForCausalLM

    from cascadener.cli import main
    from cascadener.training.sft import write_sharegpt

    first = write_sharegpt(sft_data.stage1, tmp_path / "stage1.json")
    second = write_sharegpt(sft_data.stage2, tmp_path / "stage2.json")
    out = tmp_path / "out"
    assert main(["train", "--sharegpt", str(first), str(second), "-o", str(out), "--max-steps", "5",
                 "--threads", "1", "--vocab-size", "600", "--no-progress"]) == 0
    assert f"--extractor {out / 'model'}" in capsys.readouterr().out
    summary = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["runs"]["model"]["examples"] == len(sft_data.stage1) + len(sft_data.stage2)
    AutoModelForCausalLM.from_pretrained(out / "model")
    # exactly one source
    assert main(["train", "-o", str(tmp_path / "x")]) == 2
    assert "give exactly one training source" in capsys.readouterr().err
    assert main(["train", "--sharegpt", str(first), "--jsonl", str(first), "-o", str(tmp_path / "x")]) == 2
    assert "(got --jsonl, --sharegpt)" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"conversations": [{"from": "robot", "value": "x"}]}]), encoding="utf-8")
    assert main(["train", "--sharegpt", str(bad), "-o", str(tmp_path / "y")]) == 2
    assert "bad.json: item 0: conversations[0].from is 'robot'" in capsys.readouterr().err
