"""The tiny from-scratch Qwen2 model: tokenizer parity with Qwen2Tokenizer, ChatML, offline reload."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from cascadener.prompts import SYSTEM_PROMPT, chat_messages, stage2_prompt
from cascadener.training.tiny import (
    CHAT_TEMPLATE,
    TinyModelOptions,
    _qwen2_tokenizer_pipeline,
    chat_texts,
    create_tiny_model,
    train_tokenizer,
)

pytestmark = pytest.mark.slow  # every test here builds, saves or loads the tiny model

TEXTS = [
    "Ada Lovelace met Charles Babbage in London in 1833 .",
    "Der Rhein fließt durch Köln, nicht durch München.",
    "東京タワーは東京にあります。",
    "Сергей живёт в Казани .",
    "I'm sure they'll say it's 3.14 -- or isn't it?\n\nNew  paragraph\twith tabs",
    stage2_prompt("London", "Ada met Babbage in London .", ["city", "person"]),
]

PROBES = TEXTS + [
    "completely unseen words ☃ with émojis 🙂 and   spaces ",
    "  leading spaces, trailing newline\n",
    "##Ada## met ##Babbage##",
    "'S 'LL 'Re: case-insensitive contractions",
    "e\u0301 composed by NFC",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return create_tiny_model(chat_texts(TEXTS), tmp_path_factory.mktemp("tiny"), vocab_size=500,
                             options=TinyModelOptions(hidden_size=32, intermediate_size=64))


def test_autotokenizer_is_qwen2_and_tokenizes_like_the_trained_pipeline(tiny_dir):
    from transformers import AutoTokenizer
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    loaded = AutoTokenizer.from_pretrained(tiny_dir)
    assert isinstance(loaded, Qwen2Tokenizer)
    # The same vocabulary and merges run through a raw `tokenizers` pipeline built independently.
    data = json.loads((tiny_dir / "tokenizer.json").read_text(encoding="utf-8"))
    raw = _qwen2_tokenizer_pipeline(Tokenizer(models.BPE(
        vocab=data["model"]["vocab"], merges=[tuple(m) for m in data["model"]["merges"]])))
    for text in PROBES:
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert ids == raw.encode(text, add_special_tokens=False).ids, text
        assert loaded.decode(ids) == __import__("unicodedata").normalize("NFC", text)


def test_plain_bytelevel_pretokenizer_would_differ(tiny_dir):
    """Why Qwen's split matters: a plain ByteLevel pre-tokenizer cuts text into other pieces."""
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(tiny_dir)
    qwen_pieces = loaded.backend_tokenizer.pre_tokenizer.pre_tokenize_str("in 1833 (Ada)")
    plain_pieces = pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str("in 1833 (Ada)")
    assert [p for p, _ in qwen_pieces] == ["in", "Ġ", "1", "8", "3", "3", "Ġ(", "Ada", ")"]
    assert [p for p, _ in plain_pieces] == ["in", "Ġ1833", "Ġ(", "Ada", ")"]


def test_chat_template_renders_chatml_like_qwen25(tiny_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    conversation = chat_messages("EU rejects German call .", "##EU## rejects ##German## call .")
    assert tok.apply_chat_template(conversation, tokenize=False) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nEU rejects German call .<|im_end|>\n"
        "<|im_start|>assistant\n##EU## rejects ##German## call .<|im_end|>\n"
    )
    prompt = tok.apply_chat_template(chat_messages("hi"), tokenize=False, add_generation_prompt=True)
    assert prompt == f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    # No system message: the default system prompt is the project's, as in Qwen2 templates.
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True) == prompt
    # Special tokens are single ids; ids come back as a plain list with return_dict=False.
    ids = tok.apply_chat_template(chat_messages("hi"), add_generation_prompt=True, return_dict=False)
    assert ids[0] == tok.convert_tokens_to_ids("<|im_start|>")
    assert tok.convert_ids_to_tokens(ids).count("<|im_end|>") == 2
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


def test_assistant_mask_covers_content_and_im_end(tiny_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    out = tok.apply_chat_template(chat_messages("hi", "Ada"), return_assistant_tokens_mask=True, return_dict=True)
    kept = [i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tok.decode(kept) == "Ada<|im_end|>"


def test_model_reloads_offline_and_generates(tiny_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    assert model.config.model_type == "qwen2"
    assert model.config.vocab_size == len(tok)
    assert set(model.generation_config.eos_token_id) == {tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id}
    ids = tok.apply_chat_template(chat_messages("hi"), add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] <= ids["input_ids"].shape[1] + 4


def test_default_size_is_about_half_a_million_parameters():
    from cascadener.training.tiny import build_model

    tok = train_tokenizer(chat_texts(TEXTS * 3), vocab_size=2000)
    model = build_model(tok)
    n = sum(p.numel() for p in model.parameters())
    # 2 layers of hidden 128 plus the tied embedding of this (small-corpus) vocabulary.
    assert 250_000 < n < 700_000
    assert model.config.hidden_size == 128 and model.config.num_hidden_layers == 2


def test_chat_template_constant_is_what_is_saved(tiny_dir):
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(tiny_dir).chat_template == CHAT_TEMPLATE
