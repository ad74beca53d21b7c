"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

vLLM (``vllm serve``), SGLang, TGI, llama.cpp's server, Ollama, ``transformers serve`` or a hosted
API: the same prompts as the local backend go out as chat messages (system prompt + user turn;
the server applies the model's chat template), one request per prompt, through
:class:`cascadener.backends.http.ChatClient` (bounded concurrency, timeouts, retries).

Requests are deterministic where the server allows: ``temperature: 0`` and ``seed`` (sampled
stage-1 outputs, ``self_consistency > 1``, send ``temperature``/``top_p`` and the seeds
``seed, seed + 1, ...``, one request per sample). ``logprobs: true`` is asked for; where the
server returns token log-probabilities, a classification's score is ``exp(sum)``, the probability
of the answer; where it does not (``transformers serve`` ignores the field), the score is ``None``.
A server that rejects ``logprobs`` or ``seed`` gets requests without them.

Token budgets: without the model's tokenizer, a text's token count is bounded by its UTF-8 byte
length (byte-level BPE never needs more tokens than bytes), so the budgets are upper bounds of
the local ones; generation still stops at the end of the turn.

Stage 2 (``server_constraints``):

- ``"none"``: generative answers only (as released); an off-list answer is counted and resolved
  by the closest option (``off_list="closest"`` behaviour: the server cannot score candidates);
- ``"choice"``: vLLM structured outputs, ``{"structured_outputs": {"choice": [...]}}``
  (vLLM >= 0.10.2); a server that rejects the field is an error;
- ``"guided"``: ``{"guided_choice": [...]}`` (vLLM before 0.12);
- ``"auto"`` (default): ``structured_outputs``, and where the server rejects it,
  ``guided_choice``, and where it rejects that too, no constraint.

Constraints are used for ``classification="constrained"`` (every question asked with the choice
list) and for the ``off_list="constrained"`` fallback (off-list questions asked again with it).
Servers that silently ignore a field they do not know exist, so every answer is checked against
the list, constrained or not, and off-list answers are counted as with the local backend.

Example (no request is sent):
    >>> backend = OpenAIBackend(ChatClient(EndpointOptions("http://127.0.0.1:8000/v1")), "my-model")
    >>> backend.token_counts(["Paris", "Zürich"])
    [5, 7]
    >>> body = backend._body("Who?", max_tokens=8, temperature=0.0, top_p=None, seed=0, choice=("a", "b"),
    ...                      dropped=frozenset())
    >>> body["structured_outputs"], body["temperature"], body["messages"][1]
    ({'choice': ['a', 'b']}, 0.0, {'role': 'user', 'content': 'Who?'})
    >>> "structured_outputs" in backend._body("Who?", max_tokens=8, temperature=0.0, top_p=None, seed=0,
    ...                                       choice=("a", "b"), dropped=frozenset({"structured_outputs"}))
    False
"""

from __future__ import annotations

import math
from typing import Any, Callable, Literal, Sequence

from cascadener.backends.base import (
    Classification,
    ClassifyOptions,
    ClassifyRequest,
    GeneratedText,
    GenerationOptions,
    Usage,
)
from cascadener.backends.http import ChatClient, EndpointOptions
from cascadener.parsing import closest_option, match_answer
from cascadener.prompts import SYSTEM_PROMPT, chat_messages

__all__ = ["OpenAIBackend", "ServerConstraints", "SERVER_CONSTRAINTS", "CONSTRAINT_FIELDS"]

ServerConstraints = Literal["auto", "choice", "guided", "none"]
SERVER_CONSTRAINTS: tuple[str, ...] = ("auto", "choice", "guided", "none")
#: The request field each constraint mode sends, in the order ``auto`` tries them.
CONSTRAINT_FIELDS: dict[str, tuple[str, ...]] = {
    "auto": ("structured_outputs", "guided_choice"), "choice": ("structured_outputs",),
    "guided": ("guided_choice",), "none": (),
}
#: Fields a server may reject without failing the run (dropped from later requests).
OPTIONAL_FIELDS: tuple[str, ...] = ("logprobs", "seed")


class OpenAIBackend:
    """One model behind an OpenAI-compatible endpoint (see the module docstring)."""

    name = "openai"

    def __init__(self, client: ChatClient, model: str, *, server_constraints: ServerConstraints = "auto",
                 system: str | None = SYSTEM_PROMPT, context_tokens: int | None = None) -> None:
        if server_constraints not in SERVER_CONSTRAINTS:
            raise ValueError(f"unknown server_constraints {server_constraints!r}; "
                             f"allowed: {', '.join(SERVER_CONSTRAINTS)}")
        if not model:
            raise ValueError("give the model name the server serves (GET /v1/models lists them)")
        if context_tokens is not None and context_tokens < 1:
            raise ValueError(f"context_tokens must be >= 1, got {context_tokens}")
        self.client = client
        self.model = model
        #: the served model's context, in tokens (``token_counts`` over-counts: UTF-8 bytes), or
        #: ``None``: texts are then sent whole whatever their length
        self.context_tokens = context_tokens
        self.server_constraints = server_constraints
        self.system = system
        negotiable = set(OPTIONAL_FIELDS)
        if server_constraints == "auto":
            negotiable.update(CONSTRAINT_FIELDS["auto"])
        self.client.negotiable = self.client.negotiable | frozenset(negotiable)

    # ------------------------------------------------------------------------------ interface

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(text.encode("utf-8")) for text in texts]

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
        if len(max_new_tokens) != len(prompts):
            raise ValueError(f"{len(max_new_tokens)} budgets for {len(prompts)} prompts")
        n = options.num_return_sequences
        temperature = options.temperature if options.do_sample else 0.0
        top_p = options.top_p if options.do_sample else None
        jobs = [(i, k) for i in range(len(prompts)) for k in range(n)]
        bodies = [self._maker(prompts[i], max_tokens=max_new_tokens[i], temperature=temperature, top_p=top_p,
                              seed=seed + k) for i, k in jobs]
        labels = [self._label(what, i, len(prompts), prompts[i]) + (f", sample {k + 1} of {n}" if n > 1 else "")
                  for i, k in jobs]
        done = None if on_batch is None else _every(n, on_batch)
        responses = self.client.complete(bodies, labels=labels, usage=usage, on_done=done)
        results: list[list[GeneratedText]] = [[] for _ in prompts]
        for (i, _), response in zip(jobs, responses):
            results[i].append(_generated(response))
        return results

    def classify(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        options: ClassifyOptions,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Classification]:
        for index, request in enumerate(requests):
            if not request.choices:
                raise ValueError(f"classification request {index} offers no options")
        if options.mode == "constrained" and self.server_constraints == "none":
            raise ValueError("constrained classification on a server needs choice constraints: "
                             "server_constraints 'auto', 'choice' or 'guided' (or classification 'generative')")
        results: list[Classification | None] = [None] * len(requests)
        todo = []
        for index, request in enumerate(requests):
            if len(request.choices) == 1:
                results[index] = Classification(label=request.choices[0], index=0, score=1.0,
                                                answer=request.choices[0], how="only-option", probabilities=(1.0,))
            else:
                todo.append(index)
        if not todo:
            return [r for r in results if r is not None]
        constrained = options.mode == "constrained"
        answers = self._answer([requests[i] for i in todo], constrain=constrained, usage=usage, on_batch=on_batch)
        # ``auto`` on a server that rejected every constraint field: the answers were free, say so
        constrained = constrained and self.constraint_field() is not None
        off_list = []
        for index, answer in zip(todo, answers):
            match = match_answer(answer.text, requests[index].choices)
            if match.label is None:
                off_list.append((index, answer))
                continue
            results[index] = Classification(label=match.label, index=match.index, score=_probability(answer),
                                            answer=answer.text, how="constrained" if constrained else "generated")
        retry = [(index, answer) for index, answer in off_list]
        if retry and not constrained and options.off_list == "constrained" and self.constraint_field() is not None:
            again = self._answer([requests[i] for i, _ in retry], constrain=True, usage=usage, on_batch=None,
                                 what="stage 2 fallback")
            still = []
            for (index, first), answer in zip(retry, again):
                match = match_answer(answer.text, requests[index].choices)
                if match.label is None:
                    still.append((index, first))
                    continue
                results[index] = Classification(label=match.label, index=match.index, score=_probability(answer),
                                                answer=first.text, how="fallback-constrained")
            retry = still
        for index, answer in retry:
            best = closest_option(answer.text, requests[index].choices)
            results[index] = Classification(label=requests[index].choices[best], index=best, score=0.0,
                                            answer=answer.text, how="fallback-closest")
        return [r for r in results if r is not None]

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "base_url": self.client.options.base_url, "model": self.model,
                "server_constraints": self.server_constraints}

    def constraint_field(self) -> str | None:
        """The choice-constraint field requests carry now (``None``: none; ``auto`` moves down its list
        as the server rejects fields)."""
        for name in CONSTRAINT_FIELDS[self.server_constraints]:
            if name not in self.client.dropped:
                return name
        return None

    # ------------------------------------------------------------------------------ requests

    def _answer(self, requests: Sequence[ClassifyRequest], *, constrain: bool, usage: Usage | None,
                on_batch: Callable[[int], None] | None, what: str = "stage 2") -> list[GeneratedText]:
        budgets = [max(self.token_counts(request.choices)) + 4 for request in requests]
        bodies = [self._maker(request.prompt, max_tokens=budget, temperature=0.0, top_p=None, seed=0,
                              choice=request.choices if constrain else None)
                  for request, budget in zip(requests, budgets)]
        labels = [self._label(what, i, len(requests), request.prompt) for i, request in enumerate(requests)]
        responses = self.client.complete(bodies, labels=labels, usage=usage, on_done=on_batch)
        return [_generated(response) for response in responses]

    def _maker(self, prompt: str, *, max_tokens: int, temperature: float, top_p: float | None, seed: int,
               choice: Sequence[str] | None = None) -> Callable[[frozenset[str]], dict[str, Any]]:
        def make(dropped: frozenset[str]) -> dict[str, Any]:
            return self._body(prompt, max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed,
                              choice=choice, dropped=dropped)

        return make

    def _body(self, prompt: str, *, max_tokens: int, temperature: float, top_p: float | None, seed: int,
              choice: Sequence[str] | None, dropped: frozenset[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": chat_messages(prompt, system=self.system),
                                "max_tokens": int(max_tokens), "temperature": temperature, "seed": seed,
                                "logprobs": True, "stream": False}
        if top_p is not None:
            body["top_p"] = top_p
        if choice is not None:
            field = next((name for name in CONSTRAINT_FIELDS[self.server_constraints] if name not in dropped), None)
            if field == "structured_outputs":
                body[field] = {"choice": list(choice)}
            elif field == "guided_choice":
                body[field] = list(choice)
        for name in dropped:
            body.pop(name, None)
        return body

    @staticmethod
    def _label(what: str, index: int, total: int, prompt: str) -> str:
        head = " ".join(prompt.split())
        head = head if len(head) <= 60 else head[:57] + "..."
        return f"{what} request {index + 1} of {total} ({head!r})"


def _generated(response: dict[str, Any]) -> GeneratedText:
    """A chat completion's first choice as a :class:`GeneratedText` (no token ids: the server keeps them)."""
    choice = response["choices"][0]
    content = (choice.get("message") or {}).get("content") or ""
    logprob = None
    tokens = ((choice.get("logprobs") or {}).get("content")) or None
    if tokens:
        logprob = float(sum(float(token.get("logprob", 0.0)) for token in tokens))
    return GeneratedText(text=content, token_ids=(), logprob=logprob,
                         finished=choice.get("finish_reason") != "length")


def _probability(answer: GeneratedText) -> float | None:
    return None if answer.logprob is None else min(1.0, math.exp(answer.logprob))


def _every(n: int, callback: Callable[[int], None]) -> Callable[[int], None]:
    """A progress callback that reports one prompt per ``n`` finished samples."""
    count = [0]

    def done(_: int) -> None:
        count[0] += 1
        if count[0] % n == 0:
            callback(1)

    return done
