"""What the pipeline asks of a backend, and the usage it counts.

A backend runs ONE model (the extractor or the classifier; one object may serve both). The
pipeline (:class:`cascadener.pipeline.CascadeNER`) builds every prompt, parses every answer and
keeps the order; a backend only

- counts tokens (:meth:`Backend.token_counts`, for the per-prompt budgets),
- generates (:meth:`Backend.generate`: stage 1, and any free-text answer), and
- answers stage-2 questions (:meth:`Backend.classify`: generative answers mapped to the list,
  off-list answers resolved, and constrained choice where the backend can: candidate scoring on a
  local model, server-side choice constraints on a server).

Anything above that (windows over long texts, chunking for ``--resume``, the cascade over a
taxonomy) stays in the pipeline, the same for every backend.

Two implementations: :class:`cascadener.backends.local.TransformersBackend` (a local
``AutoModelForCausalLM``) and :class:`cascadener.backends.server.OpenAIBackend` (any
OpenAI-compatible ``/v1/chat/completions`` endpoint).

Example:
    >>> usage = Usage(requests=2, prompt_tokens=30, completion_tokens=8)
    >>> usage.add(Usage(requests=1, retries=2, prompt_tokens=10, completion_tokens=3))
    >>> usage.as_stats("stage1")
    {'stage1_requests': 3, 'stage1_retries': 2, 'stage1_prompt_tokens': 40, 'stage1_completion_tokens': 11}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from cascadener.classify import Classification, ClassifyOptions, ClassifyRequest
from cascadener.generation import GeneratedText, GenerationOptions

__all__ = ["Backend", "Usage", "BACKENDS"]

#: Names accepted by ``--backend``.
BACKENDS: tuple[str, ...] = ("transformers", "openai")


@dataclass
class Usage:
    """What one stage cost: requests answered (prompts run, locally), extra attempts after a failure,
    and the prompt and completion tokens (as the server reports them; counted locally otherwise)."""

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: "Usage") -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_stats(self, stage: str) -> dict[str, int]:
        """The counts as flat ``<stage>_<count>`` keys (how :class:`cascadener.pipeline.PredictStats` holds them)."""
        return {f"{stage}_{key}": value for key, value in asdict(self).items()}


@runtime_checkable
class Backend(Protocol):
    """The interface the pipeline talks to (see the module docstring)."""

    name: str
    #: the model's context length in tokens, ``None`` when unknown: a text whose stage-1 prompt and
    #: answer would not fit is read in windows (:mod:`cascadener.windows`)
    context_tokens: int | None

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Token count of each text (an upper bound where the tokenizer is not at hand)."""
        ...

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
        """For each user prompt (chat-formatted with the system prompt), in input order,
        ``options.num_return_sequences`` answers within the prompt's own token budget."""
        ...

    def classify(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        options: ClassifyOptions,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Classification]:
        """One :class:`cascadener.classify.Classification` per request, in order; off-list
        answers are resolved and marked (``Classification.off_list``), never dropped."""
        ...

    def describe(self) -> dict[str, Any]:
        """What identifies the backend's outputs, for the predictions meta (never a credential)."""
        ...
