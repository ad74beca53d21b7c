"""The ``transformers`` backend: a local ``AutoModelForCausalLM`` and its tokenizer.

Prompts are rendered with the tokenizer's chat template; :meth:`TransformersBackend.generate` runs
batched left-padded generation with per-prompt budgets and the shared-prefix KV cache
(:mod:`cascadener.backends.generation`); :meth:`TransformersBackend.choose` scores every choice on
the KV cache (:mod:`cascadener.backends.scoring`), so answers are always kept to the choices and
always scored. Usage counts the prompts run and their tokens (scoring counts no completion
tokens); there are no retries.

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
    Capabilities,
    Choice,
    ClassifyRequest,
    GeneratedText,
    GenerationOptions,
    Usage,
)
from cascadener.backends.generation import encode_chat, generate_batched
from cascadener.backends.scoring import score_choices

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
    description = "load the models here (AutoModelForCausalLM)"
    #: every choice scored: answers always on the list, always with a probability
    capabilities = Capabilities(choice=True, scores=True, constraint="candidate scoring")

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
        what: str = "stage 1",
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

    def choose(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        batch_size: int = 8,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
        what: str = "stage 2",
    ) -> list[Choice]:
        if not requests:
            return []
        prompt_ids = encode_chat(self.tokenizer, [request.prompt for request in requests])
        chosen = score_choices(self.model, self.tokenizer, prompt_ids, [request.choices for request in requests],
                               batch_size=batch_size)
        if usage is not None:
            usage.requests += len(prompt_ids)
            usage.prompt_tokens += sum(len(ids) for ids in prompt_ids)
        if on_batch is not None:
            on_batch(len(requests))
        return chosen

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": str(getattr(self.model, "name_or_path", "") or "")}
