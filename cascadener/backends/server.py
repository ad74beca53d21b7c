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

Stage 2: the chain (answer, match, constrained retry, closest) is :func:`cascadener.stage2.classify`,
the same as for the local backend; this backend gives it free answers (:meth:`OpenAIBackend.generate`)
and answers kept to the choices (:meth:`OpenAIBackend.choose`) through a constraint field
(``server_constraints``):

- ``"none"``: no constraint (:attr:`OpenAIBackend.capabilities` ``choice=False``): an off-list
  answer is resolved by the closest choice, and constrained classification is refused;
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
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Literal, Mapping, Sequence

from cascadener.backends.base import (
    Capabilities,
    Choice,
    ClassifyRequest,
    GeneratedText,
    GenerationOptions,
    Usage,
)
from cascadener.backends.http import ChatClient, EndpointOptions
from cascadener.prompts import SYSTEM_PROMPT, chat_messages

__all__ = ["OpenAIBackend", "EndpointSettings", "ServerConstraints", "SERVER_CONSTRAINTS", "CONSTRAINT_FIELDS"]

ServerConstraints = Literal["auto", "choice", "guided", "none"]
SERVER_CONSTRAINTS: tuple[str, ...] = ("auto", "choice", "guided", "none")
#: The request field each constraint mode sends, in the order ``auto`` tries them.
CONSTRAINT_FIELDS: dict[str, tuple[str, ...]] = {
    "auto": ("structured_outputs", "guided_choice"), "choice": ("structured_outputs",),
    "guided": ("guided_choice",), "none": (),
}
#: Fields a server may reject without failing the run (dropped from later requests).
OPTIONAL_FIELDS: tuple[str, ...] = ("logprobs", "seed")
_NO_CONSTRAINT = ("server_constraints 'auto', 'choice' or 'guided' on a server that applies them "
                  "(or classification 'generative')")


@dataclass(frozen=True)
class EndpointSettings:
    """What the ``openai`` backend talks to: ``model`` served at ``endpoint`` for both stages
    (``classifier_model``: another served model for stage 2, at ``classifier_endpoint`` when it is
    another server), with ``server_constraints`` and the served model's ``context_tokens``.

    Every :class:`~cascadener.backends.http.EndpointOptions` field reaches the client as given.
    Known before any request: what ``--resume`` compares (:meth:`identity`: the served models and
    what changes their answers, never a URL or a key) and what is recorded beside it (:meth:`record`).

    >>> settings = EndpointSettings(EndpointOptions("http://127.0.0.1:8000/v1", backoff=0.1), "m")
    >>> settings.identity()
    {'backend': 'openai', 'extractor': 'm', 'classifier': None, 'server_constraints': 'auto', 'context_tokens': None}
    >>> settings.build()[0].client.options.backoff, settings.models()
    (0.1, {})
    """

    endpoint: EndpointOptions
    model: str
    classifier_model: str | None = None
    classifier_endpoint: EndpointOptions | None = None
    server_constraints: ServerConstraints = "auto"
    context_tokens: int | None = None

    #: the registry name of the backend these settings build
    backend: ClassVar[str] = "openai"
    loads_weights: ClassVar[bool] = False
    #: each request is answered alone: a prompt's answer does not depend on the others sent with it
    batch_invariant: ClassVar[bool] = True
    #: the command-line flags (argparse dests) these settings are read from, with their defaults
    flags: ClassVar[Mapping[str, Any]] = MappingProxyType({
        "base_url": None, "model": None, "classifier_model": None, "classifier_base_url": None,
        "api_key_env": EndpointOptions.api_key_env, "concurrency": EndpointOptions.concurrency,
        "timeout": EndpointOptions.timeout, "max_retries": EndpointOptions.max_retries,
        "server_constraints": "auto", "context_tokens": None})
    #: what a flag does, said when it is given to another backend
    hints: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __post_init__(self) -> None:
        if self.server_constraints not in SERVER_CONSTRAINTS:
            raise ValueError(f"unknown server_constraints {self.server_constraints!r}; "
                             f"allowed: {', '.join(SERVER_CONSTRAINTS)}")
        if not self.model:
            raise ValueError("give the model name the server serves (GET /v1/models lists them)")
        if self.context_tokens is not None and self.context_tokens < 1:
            raise ValueError(f"context_tokens must be >= 1, got {self.context_tokens}")
        if self._classifier_client_differs() and self.classifier_model is None:
            raise ValueError("classifier_endpoint needs classifier_model (the model that server serves)")

    @classmethod
    def from_namespace(cls, args: Any) -> "EndpointSettings":
        """The settings of parsed command-line arguments named like :attr:`flags` (``--base-url``,
        ``--model``, ``--classifier-model``, ``--classifier-base-url``, ``--api-key-env``,
        ``--concurrency``, ``--timeout``, ``--max-retries``, ``--server-constraints``,
        ``--context-tokens``); ``ValueError`` naming the flag otherwise."""
        values = {flag: getattr(args, flag, default) for flag, default in cls.flags.items()}
        missing = [flag for flag, name in (("--base-url", "base_url"), ("--model", "model")) if not values[name]]
        if missing:
            raise ValueError(f"--backend {cls.backend} needs {' and '.join(missing)}")
        if values["classifier_base_url"] and not values["classifier_model"]:
            raise ValueError("--classifier-base-url needs --classifier-model (the model that server serves)")
        endpoints = {}
        for flag, name in (("--base-url", "base_url"), ("--classifier-base-url", "classifier_base_url")):
            if values[name] is None:
                continue
            try:
                endpoints[name] = EndpointOptions(values[name], api_key_env=values["api_key_env"],
                                                  concurrency=values["concurrency"], timeout=values["timeout"],
                                                  max_retries=values["max_retries"])
            except ValueError as error:
                raise ValueError(f"{flag}: {error}") from None
        return cls(endpoints["base_url"], values["model"], values["classifier_model"],
                   classifier_endpoint=endpoints.get("classifier_base_url"),
                   server_constraints=values["server_constraints"], context_tokens=values["context_tokens"])

    def _classifier_client_differs(self) -> bool:
        return (self.classifier_endpoint is not None
                and self.classifier_endpoint.base_url.rstrip("/") != self.endpoint.base_url.rstrip("/"))

    def models(self) -> dict[str, str]:
        """Local model files: none (the server holds the weights)."""
        return {}

    def identity(self) -> dict[str, Any]:
        """What ``--resume`` compares: the served models and what changes their answers. The URL is
        not part of it (the same model moved to another host gives the same outputs)."""
        return {"backend": self.backend, "extractor": self.model, "classifier": self.classifier_model,
                "server_constraints": self.server_constraints, "context_tokens": self.context_tokens}

    def record(self) -> dict[str, Any]:
        """The server settings recorded beside the identity (not compared on resume; never a key)."""
        classifier = self.classifier_endpoint.base_url if self.classifier_endpoint is not None else None
        return {"base_url": self.endpoint.base_url, "classifier_base_url": classifier,
                "api_key_env": self.endpoint.api_key_env, "concurrency": self.endpoint.concurrency,
                "timeout": self.endpoint.timeout, "max_retries": self.endpoint.max_retries}

    def capabilities(self) -> Capabilities:
        """What the backend can do before it learns what the server rejects (:attr:`OpenAIBackend.capabilities`)."""
        return _capabilities(CONSTRAINT_FIELDS[self.server_constraints][:1])

    def in_flight(self, batch_size: int) -> int:
        """Prompts processed at once: the requests in flight."""
        return self.endpoint.concurrency

    def build(self) -> tuple["OpenAIBackend", "OpenAIBackend | None"]:
        """The extractor's backend and the classifier's (``None``: the extractor's). Sends nothing."""
        client = ChatClient(self.endpoint)
        extractor = OpenAIBackend(client, self.model, server_constraints=self.server_constraints,
                                  context_tokens=self.context_tokens)
        if self._classifier_client_differs():
            assert self.classifier_endpoint is not None
            client = ChatClient(self.classifier_endpoint)
        if self.classifier_model is None or (self.classifier_model == self.model and client is extractor.client):
            return extractor, None
        return extractor, OpenAIBackend(client, self.classifier_model, server_constraints=self.server_constraints,
                                        context_tokens=self.context_tokens)


def _capabilities(fields: Sequence[str]) -> Capabilities:
    """Answers are kept to the choices where a constraint field is sent (``None``: every answer is
    checked against the list, a server may ignore the field); scores where logprobs come back."""
    if not fields:
        return Capabilities(choice=False, scores=None, constraint=None, remedy=_NO_CONSTRAINT)
    return Capabilities(choice=None, scores=None, constraint=fields[0])


class OpenAIBackend:
    """One model behind an OpenAI-compatible endpoint (see the module docstring)."""

    name = EndpointSettings.backend
    description = "an OpenAI-compatible /v1/chat/completions server (vLLM, SGLang, TGI, llama.cpp, transformers serve)"
    settings_type = EndpointSettings

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

    @property
    def capabilities(self) -> Capabilities:
        """Answers are kept to the choices where the server applies the constraint field (``None``:
        every answer is checked against the list); not at all with ``server_constraints="none"``, or
        once the server rejected every field ``auto`` tries. Scores where the server returns logprobs."""
        field = self.constraint_field()
        return _capabilities(() if field is None else (field,))

    def choose(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        batch_size: int = 8,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
        what: str = "stage 2",
    ) -> list[Choice]:
        """Each question asked with its choices in the constraint field (greedy, budget: the longest
        choice's token bound + 4). The answers are text: the server may have ignored the field.
        ``batch_size`` is unused (requests go out ``concurrency`` at a time)."""
        if self.server_constraints == "none":
            raise ValueError(f"constrained classification on a server needs choice constraints: {_NO_CONSTRAINT}")
        budgets = [max(self.token_counts(request.choices)) + 4 for request in requests]
        bodies = [self._maker(request.prompt, max_tokens=budget, temperature=0.0, top_p=None, seed=0,
                              choice=request.choices)
                  for request, budget in zip(requests, budgets)]
        labels = [self._label(what, i, len(requests), request.prompt) for i, request in enumerate(requests)]
        responses = self.client.complete(bodies, labels=labels, usage=usage, on_done=on_batch)
        # ``auto`` on a server that rejected every constraint field: the answers were free, say so
        constrained = self.constraint_field() is not None
        return [Choice(answer=answer.text, score=_probability(answer), constrained=constrained)
                for answer in map(_generated, responses)]

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
