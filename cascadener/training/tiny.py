"""Tiny from-scratch Qwen2 models for offline tests and demo runs.

A byte-level BPE tokenizer is trained with ``tokenizers`` on the given texts, using exactly the
pre-tokenization Qwen2 uses (NFC, Qwen's regex split, byte-level without regex), so that
``AutoTokenizer`` on the saved directory (``model_type: qwen2`` -> ``Qwen2Tokenizer``) tokenizes
identically. It carries the ChatML special tokens and a Qwen2.5-style chat template whose default
system prompt is :data:`cascadener.prompts.SYSTEM_PROMPT`. The model is a randomly initialised
:class:`transformers.Qwen2ForCausalLM` of about half a million parameters.

The saved directory loads offline with ``AutoTokenizer.from_pretrained`` and
``AutoModelForCausalLM.from_pretrained``; train it with :mod:`cascadener.training.trainer`.

Example:
    >>> tok = train_tokenizer(["Ada Lovelace met Charles Babbage in London ."], vocab_size=300)
    >>> tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n'
    >>> tok.decode(tok("Ada met ##Babbage##")["input_ids"])
    'Ada met ##Babbage##'
    >>> model = build_model(tok, options=TinyModelOptions(hidden_size=32, intermediate_size=64))
    >>> model.config.model_type, model.config.vocab_size == len(tok)
    ('qwen2', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from cascadener.prompts import SYSTEM_PROMPT

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS: tuple[str, ...] = (ENDOFTEXT, IM_START, IM_END)

# Qwen2's pre-tokenization regex (transformers.models.qwen2.tokenization_qwen2.PRETOKENIZE_REGEX).
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# Qwen2.5's ChatML template (no tools), with the project's system prompt as the default, and
# {% generation %} markers around what the assistant is trained to produce (content + <|im_end|>),
# so ``return_assistant_tokens_mask=True`` works.
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\n" + SYSTEM_PROMPT + "<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- elif message['role'] == 'user' or (message['role'] == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@dataclass(frozen=True)
class TinyModelOptions:
    """Shape of the tiny Qwen2 model (defaults: ~0.5M parameters with a 2k vocabulary)."""

    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    tie_word_embeddings: bool = True
    seed: int = 0


def _qwen2_tokenizer_pipeline(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def train_tokenizer(texts: Iterable[str], *, vocab_size: int = 2000, min_frequency: int = 1):
    """Train a byte-level BPE on ``texts`` and wrap it as a ``Qwen2Tokenizer`` with ChatML.

    All 256 byte symbols are in the vocabulary, so any text round-trips. ``eos_token`` is
    ``<|im_end|>`` (as in Qwen2.5 instruct models), ``pad_token`` is ``<|endoftext|>``.

    >>> tok = train_tokenizer(["abc abd"], vocab_size=280)
    >>> tok.convert_ids_to_tokens(tok("abc")["input_ids"])
    ['abc']
    >>> tok.eos_token, tok.pad_token, tok.padding_side
    ('<|im_end|>', '<|endoftext|>', 'left')
    """
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    raw = _qwen2_tokenizer_pipeline(Tokenizer(models.BPE()))
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(list(texts), trainer=trainer)
    vocab = raw.get_vocab(with_added_tokens=False)
    merges = _merges_of(raw)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START, IM_END],
        padding_side="left",
        model_max_length=32768,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _merges_of(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    """The trained BPE merges, read from the tokenizer's JSON serialisation."""
    import json

    model = json.loads(tokenizer.to_str())["model"]
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]


def build_model(tokenizer, *, options: TinyModelOptions = TinyModelOptions()):
    """A randomly initialised ``Qwen2ForCausalLM`` sized for ``tokenizer``.

    Generation stops on ``<|im_end|>`` or ``<|endoftext|>`` (as Qwen2.5 instruct models do).
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    endoftext = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=options.hidden_size,
        intermediate_size=options.intermediate_size,
        num_hidden_layers=options.num_hidden_layers,
        num_attention_heads=options.num_attention_heads,
        num_key_value_heads=options.num_key_value_heads,
        max_position_embeddings=options.max_position_embeddings,
        tie_word_embeddings=options.tie_word_embeddings,
        bos_token_id=endoftext,
        eos_token_id=im_end,
        pad_token_id=endoftext,
    )
    torch.manual_seed(options.seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=endoftext, eos_token_id=[im_end, endoftext], pad_token_id=endoftext, do_sample=False
    )
    return model


def create_tiny_model(
    texts: Sequence[str],
    output_dir: str | Path,
    *,
    vocab_size: int = 2000,
    options: TinyModelOptions = TinyModelOptions(),
) -> Path:
    """Train a tokenizer on ``texts``, build a tiny untrained model, save both to ``output_dir``.

    Include every string the model will see (sentences, prompts, labels) in ``texts`` so the
    vocabulary covers them well; any other text still tokenizes (byte fallback via byte-level BPE).
    Returns the directory, loadable with ``AutoTokenizer``/``AutoModelForCausalLM.from_pretrained``.
    """
    output_dir = Path(output_dir)
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    model = build_model(tokenizer, options=options)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def chat_texts(texts: Iterable[str]) -> list[str]:
    """``texts`` plus the fixed chat strings (system prompt), for tokenizer training.

    >>> chat_texts(["a"])[-1]
    'a'
    """
    return [SYSTEM_PROMPT, "system\nuser\nassistant\n", *texts]
