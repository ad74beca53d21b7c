"""The ``transformers`` backend: a local ``AutoModelForCausalLM`` and its tokenizer.

This is the pipeline's original code path, unchanged: prompts rendered with the tokenizer's chat
template, batched left-padded generation with per-prompt budgets and the shared-prefix KV cache
(:mod:`cascadener.backends.generation`), stage 2 by :func:`cascadener.backends.classify.classify` (generative
answers, or every candidate scored on the KV cache). Usage counts the prompts run and their
tokens; there are no retries.

Example (a random tiny model):
    >>> from cascadener.training.tiny import train_tokenizer, build_model, TinyModelOptions
    >>> from cascadener.backends.base import GenerationOptions
    >>> tok = train_tokenizer(["Ada met Bob ."], vocab_size=280)
    >>> model = build_model(tok, options=TinyModelOptions(hidden_size=32, intermediate_size=64))
    >>> backend = TransformersBackend(model, tok)
    >>> backend.token_counts(["Ada met Bob ."])
    [4]
    >>> usage = Usage()
    >>> out = backend.generate(["Ada met Bob ."], max_new_tokens=[3], options=GenerationOptions(), usage=usage)
    >>> len(out[0]), usage.requests, usage.prompt_tokens > 4
    (1, 1, True)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from cascadener.backends.base import (
    Classification,
    ClassifyOptions,
    ClassifyRequest,
    GeneratedText,
    GenerationOptions,
    Usage,
)
from cascadener.backends.classify import classify
from cascadener.backends.generation import encode_chat, generate_batched

__all__ = ["TransformersBackend"]

#: tokenizers without a real limit report a huge ``model_max_length`` (1e30); ignore those
_NO_LIMIT = 10**9


def _context_tokens(model, tokenizer) -> int | None:
    """The model's context: the smaller of ``config.max_position_embeddings`` and the tokenizer's
    ``model_max_length`` where set; ``None`` when neither says."""
    limits = [getattr(getattr(model, "config", None), "max_position_embeddings", None),
              getattr(tokenizer, "model_max_length", None)]
    known = [int(limit) for limit in limits if isinstance(limit, (int, float)) and 0 < limit < _NO_LIMIT]
    return min(known) if known else None


class TransformersBackend:
    """A local model (see the module docstring); ``model.eval()`` is called once here."""

    name = "transformers"

    def __init__(self, model, tokenizer) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model.eval()
        self.context_tokens: int | None = _context_tokens(model, tokenizer)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: Sequence[int],
        options: GenerationOptions,
        seed: int = 0,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[list[GeneratedText]]:
        prompt_ids = encode_chat(self.tokenizer, prompts)
        if options.do_sample:
            import torch

            torch.manual_seed(seed)
        outputs = generate_batched(self.model, self.tokenizer, prompt_ids, max_new_tokens=max_new_tokens,
                                   options=options, on_batch=on_batch)
        if usage is not None:
            usage.requests += len(prompt_ids)
            usage.prompt_tokens += sum(len(ids) for ids in prompt_ids) * options.num_return_sequences
            usage.completion_tokens += sum(len(out.token_ids) + out.finished for outs in outputs for out in outs)
        return outputs

    def classify(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        options: ClassifyOptions,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Classification]:
        return classify(self.model, self.tokenizer, requests, options=options, on_batch=on_batch, usage=usage)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": str(getattr(self.model, "name_or_path", "") or "")}
