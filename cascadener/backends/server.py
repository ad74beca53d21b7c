"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

vLLM (``vllm serve``), SGLang, TGI, llama.cpp's server, Ollama, ``transformers serve`` or a hosted
API: the same prompts as the local backend go out as chat messages (system prompt + user turn, or
a :class:`~cascadener.backends.base.ChatPrompt`'s own messages; the server applies the model's chat
template), one request per prompt, through
:class:`cascadener.backends.http.ChatClient` (bounded concurrency, timeouts, retries).

**Probe first.** Before the first request of a run, :meth:`OpenAIBackend.prepare` probes the
server once (:func:`cascadener.backends.probe.probe_server`): is it up, does it serve the model,
which request shape does it take (``max_tokens`` or ``max_completion_tokens``, ``temperature``,
``seed``, ``logprobs``), and, when the run needs answers kept to the choices, which constraint
adapter it **applies** (an answer that obeys, not just a 200). Every later request has that
shape; a field the server refused or ignored is never sent. The profile is recorded
(:meth:`OpenAIBackend.describe`).

Requests are deterministic where the server allows: ``temperature: 0`` and ``seed`` (sampled
stage-1 outputs, ``self_consistency > 1``, send ``temperature``/``top_p`` and the seeds
``seed, seed + 1, ...``, one request per sample). Where the server returns token
log-probabilities, an answer's score is ``exp(sum)``, its probability; where it does not
(``transformers serve``), or for a JSON-shaped constrained answer (whose braces the server scores
too), the score is ``None``.

Token budgets: with the served model's tokenizer (``tokenizer``: its folder or Hub id; by default
the served model's own when its name is a model folder on this machine, as ``transformers serve
DIR`` names it), a text's token count is the local backend's, so the budgets are equal; without
it, a text's count is bounded by its UTF-8 byte length (byte-level BPE never needs more tokens
than bytes), and budgets are upper bounds of the local ones.

Stage 2: the chain (answer, match, constrained retry, closest) is :func:`cascadener.stage2.classify`,
the same as for the local backend; this backend gives it free answers (:meth:`OpenAIBackend.generate`)
and answers kept to the choices (:meth:`OpenAIBackend.choose`) through the constraint adapter
the probe found (:mod:`cascadener.backends.constraints`; ``server_constraints``: ``"auto"``, an
adapter's name to use only that one, still checked, or ``"none"``). A server that applies none
cannot keep answers to the choices (:attr:`Capabilities.choice <cascadener.backends.base.Capabilities>`
``False``): a run that needs it is refused before any work.

Example (no request is sent; a profile as the probe of a vLLM server would leave it):
    >>> from cascadener.backends.probe import ServerProfile
    >>> client = ChatClient(EndpointOptions("http://127.0.0.1:8000/v1"))
    >>> backend = OpenAIBackend(client, "m", profile=ServerProfile(client.options.base_url, "m", constraint="choice"))
    >>> backend.token_counts(["Paris", "Zürich"])
    [5, 7]
    >>> body = backend._body("Who?", max_tokens=8, choices=("a", "b"))
    >>> body["structured_outputs"], body["temperature"], body["messages"][1]
    ({'choice': ['a', 'b']}, 0.0, {'role': 'user', 'content': 'Who?'})
    >>> backend.capabilities.choice, backend.capabilities.constraint
    (True, 'choice (structured_outputs)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Mapping, Sequence

from cascadener.backends.base import (
    Capabilities,
    ChatPrompt,
    Choice,
    ClassifyRequest,
    GeneratedText,
    GenerationOptions,
    Prompt,
    Usage,
    prompt_head,
)
from cascadener.backends.constraints import ADAPTER_NAMES, ADAPTERS
from cascadener.backends.http import ChatClient, EndpointOptions
from cascadener.backends.probe import ServerProfile, probe_server, request_body
from cascadener.prompts import SYSTEM_PROMPT, chat_messages

__all__ = ["OpenAIBackend", "EndpointSettings", "ServerConstraints", "SERVER_CONSTRAINTS"]

ServerConstraints = str
#: ``--server-constraints``: ``auto`` (the probe picks), one adapter (only it, still checked), or ``none``
SERVER_CONSTRAINTS: tuple[str, ...] = ("auto", *ADAPTER_NAMES, "none")
_NO_CONSTRAINT = ("a server that applies choice constraints (vLLM, SGLang, llama.cpp's server, TGI, or a hosted API "
                  "with structured outputs; docs/serving.md)")


@dataclass(frozen=True)
class EndpointSettings:
    """What the ``openai`` backend talks to: ``model`` served at ``endpoint`` for both stages
    (``classifier_model``: another served model for stage 2, at ``classifier_endpoint`` when it is
    another server), with ``server_constraints``, the served model's ``context_tokens`` and its
    ``tokenizer`` (a folder or Hub id: exact token budgets).

    Every :class:`~cascadener.backends.http.EndpointOptions` field reaches the client as given.
    Known before any request: what ``--resume`` compares (:meth:`identity`: the served models and
    what changes their answers, never a URL or a key) and what is recorded beside it (:meth:`record`).

    >>> settings = EndpointSettings(EndpointOptions("http://127.0.0.1:8000/v1", backoff=0.1), "m")
    >>> settings.identity()
    {'backend': 'openai', 'extractor': 'm', 'classifier': None, 'server_constraints': 'auto', 'context_tokens': None, 'tokenizer': None}
    >>> settings.build()[0].client.options.backoff, settings.models()
    (0.1, {})
    """

    endpoint: EndpointOptions
    model: str
    classifier_model: str | None = None
    classifier_endpoint: EndpointOptions | None = None
    server_constraints: ServerConstraints = "auto"
    context_tokens: int | None = None
    tokenizer: str | None = None

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
        "server_constraints": "auto", "context_tokens": None, "tokenizer": None})
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
        ``--context-tokens``, ``--tokenizer``); ``ValueError`` naming the flag otherwise."""
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
                   server_constraints=values["server_constraints"], context_tokens=values["context_tokens"],
                   tokenizer=values["tokenizer"])

    def _classifier_client_differs(self) -> bool:
        return (self.classifier_endpoint is not None
                and self.classifier_endpoint.base_url.rstrip("/") != self.endpoint.base_url.rstrip("/"))

    def models(self) -> dict[str, str]:
        """Local model files: none (the server holds the weights)."""
        return {}

    def identity(self) -> dict[str, Any]:
        """What ``--resume`` compares: the served models and what changes their answers (the
        constraints asked for, the context, the tokenizer of the budgets). Not the URL (the same
        model moved to another host gives the same outputs), nor the requests in flight or the timeout."""
        return {"backend": self.backend, "extractor": self.model, "classifier": self.classifier_model,
                "server_constraints": self.server_constraints, "context_tokens": self.context_tokens,
                "tokenizer": self.tokenizer}

    def record(self) -> dict[str, Any]:
        """The server settings recorded beside the identity (not compared on resume; never a key:
        ``api_key_env`` is the variable named, ``key_from`` the one read, ``None``: no key sent)."""
        classifier = self.classifier_endpoint.base_url if self.classifier_endpoint is not None else None
        return {"base_url": self.endpoint.base_url, "classifier_base_url": classifier,
                "api_key_env": self.endpoint.api_key_env, "key_from": self.endpoint.key_source,
                "concurrency": self.endpoint.concurrency, "timeout": self.endpoint.timeout,
                "max_retries": self.endpoint.max_retries}

    def capabilities(self) -> Capabilities:
        """What the backend can do before the probe (:attr:`OpenAIBackend.capabilities`): nothing kept to
        the choices with ``server_constraints="none"``, else not known yet (``None``)."""
        return _capabilities(self.server_constraints, None)

    def in_flight(self, batch_size: int) -> int:
        """Prompts processed at once: the requests in flight."""
        return self.endpoint.concurrency

    def build(self) -> tuple["OpenAIBackend", "OpenAIBackend | None"]:
        """The extractor's backend and the classifier's (``None``: the extractor's). Sends nothing."""
        client = ChatClient(self.endpoint)
        extractor = OpenAIBackend(client, self.model, server_constraints=self.server_constraints,
                                  context_tokens=self.context_tokens, tokenizer=self.tokenizer)
        if self._classifier_client_differs():
            assert self.classifier_endpoint is not None
            client = ChatClient(self.classifier_endpoint)
        if self.classifier_model is None or (self.classifier_model == self.model and client is extractor.client):
            return extractor, None
        return extractor, OpenAIBackend(client, self.classifier_model, server_constraints=self.server_constraints,
                                        context_tokens=self.context_tokens, tokenizer=self.tokenizer)


def _capabilities(server_constraints: str, profile: ServerProfile | None) -> Capabilities:
    """Kept to the choices where the probe found an adapter the server applies (``None``: not probed
    yet); scores where log-probabilities came back."""
    if server_constraints == "none":
        return Capabilities(choice=False, scores=None if profile is None else profile.scores, constraint=None,
                            remedy=f"server_constraints 'auto' on {_NO_CONSTRAINT}")
    if profile is None:
        return Capabilities(choice=None, scores=None)
    if not profile.choice_probed:
        return Capabilities(choice=None, scores=profile.scores)
    if profile.constraint is None:
        found = "; ".join(f"{name}: {outcome}" for name, outcome in profile.tried) or "none tried"
        family = f" ({profile.family})" if profile.family else ""
        return Capabilities(choice=False, scores=profile.scores, constraint=None,
                            remedy=f"the server at {profile.base_url}{family} applied no choice constraint "
                                   f"({found}): use {_NO_CONSTRAINT}")
    adapter = ADAPTERS[profile.constraint]
    # a JSON-shaped answer's log-probabilities cover its braces and key too: those answers carry no score
    return Capabilities(choice=True, scores=profile.scores and not adapter.json_answer, constraint=adapter.describe())


class OpenAIBackend:
    """One model behind an OpenAI-compatible endpoint (see the module docstring).

    ``profile``: what a probe learned (:class:`~cascadener.backends.probe.ServerProfile`); ``None``:
    the server is probed before the first request (:meth:`prepare`)."""

    name = EndpointSettings.backend
    description = "an OpenAI-compatible /v1/chat/completions server (vLLM, SGLang, TGI, llama.cpp, transformers serve)"
    settings_type = EndpointSettings

    def __init__(self, client: ChatClient, model: str, *, server_constraints: ServerConstraints = "auto",
                 system: str | None = SYSTEM_PROMPT, context_tokens: int | None = None, tokenizer: Any = None,
                 profile: ServerProfile | None = None) -> None:
        if server_constraints not in SERVER_CONSTRAINTS:
            raise ValueError(f"unknown server_constraints {server_constraints!r}; "
                             f"allowed: {', '.join(SERVER_CONSTRAINTS)}")
        if not model:
            raise ValueError("give the model name the server serves (GET /v1/models lists them)")
        if context_tokens is not None and context_tokens < 1:
            raise ValueError(f"context_tokens must be >= 1, got {context_tokens}")
        self.client = client
        self.model = model
        #: the served model's context, in tokens, or ``None``: texts are then sent whole whatever their length
        self.context_tokens = context_tokens
        self.server_constraints = server_constraints
        self.system = system
        #: the served model's tokenizer (a folder or Hub id, loaded when first counted; or a tokenizer);
        #: by default the model's own when the served name is a model folder here (``transformers serve DIR``)
        self.tokenizer = tokenizer if tokenizer is not None else _local_tokenizer(model)
        self._tokenizer = None if isinstance(tokenizer, (str, type(None))) else tokenizer
        self.profile = profile

    # ------------------------------------------------------------------------------ interface

    def prepare(self, *, choice: bool) -> Capabilities:
        """Probe the server (once; the constraint part only when ``choice`` is first needed) and say
        what the backend can do (:attr:`capabilities`). :class:`~cascadener.backends.http.ServerError`
        when the server is unreachable or does not serve the model."""
        if self.profile is None:
            try:  # the budgets' tokenizer, before any request: a wrong one is the user's error, said now
                self._load_tokenizer()
            except (OSError, ValueError) as error:
                raise ValueError(f"cannot load the tokenizer {self.tokenizer!r} of the served model {self.model!r} "
                                 f"(--tokenizer): {error}") from None
        if self.profile is None or (choice and not self.profile.choice_probed):
            self.profile = probe_server(self.client, self.model, constraints=self.server_constraints, choice=choice,
                                        known=self.profile)
        return self.capabilities

    @property
    def capabilities(self) -> Capabilities:
        """Kept to the choices where the probe found an adapter the server applies (``None``: not
        probed yet; ``False``: none applies, or ``server_constraints="none"``); scores where the
        server returns log-probabilities."""
        return _capabilities(self.server_constraints, self.profile)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Each text's tokens with the served model's tokenizer; without one, its UTF-8 bytes (an upper bound)."""
        if not texts:
            return []
        tokenizer = self._load_tokenizer()
        if tokenizer is None:
            return [len(text.encode("utf-8")) for text in texts]
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def generate(
        self,
        prompts: Sequence[Prompt],
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
        if not prompts:
            return []
        self.prepare(choice=False)
        n = options.num_return_sequences
        temperature = options.temperature if options.do_sample else 0.0
        top_p = options.top_p if options.do_sample else None
        jobs = [(i, k) for i in range(len(prompts)) for k in range(n)]
        bodies = [self._body(prompts[i], max_tokens=max_new_tokens[i], temperature=temperature, top_p=top_p,
                             seed=seed + k) for i, k in jobs]
        labels = [self._label(what, i, len(prompts), prompts[i]) + (f", sample {k + 1} of {n}" if n > 1 else "")
                  for i, k in jobs]
        done = None if on_batch is None else _every(n, on_batch)
        responses = self.client.complete(bodies, labels=labels, usage=usage, on_done=done)
        results: list[list[GeneratedText]] = [[] for _ in prompts]
        for (i, _), response in zip(jobs, responses):
            results[i].append(_generated(response))
        return results

    def choose(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        batch_size: int = 8,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
        what: str = "stage 2",
    ) -> list[Choice]:
        """Each question asked with its choices through the adapter the probe found (greedy, budget:
        the longest choice's tokens + 4, + the adapter's room for JSON). The answers are text, matched
        to the list by the chain. ``batch_size`` is unused (requests go out ``concurrency`` at a time).
        ``ValueError`` when the server applies no choice constraint."""
        if not requests:
            return []
        capabilities = self.prepare(choice=True)
        if not capabilities.choice:
            raise ValueError(f"answers kept to the choices need choice constraints, which this server cannot "
                             f"apply: {capabilities.remedy}")
        assert self.profile is not None and self.profile.constraint is not None
        chosen = ADAPTERS[self.profile.constraint]
        distinct = list(dict.fromkeys(choice for request in requests for choice in request.choices))
        counts = dict(zip(distinct, self.token_counts(distinct)))
        bodies = [self._body(request.prompt, max_tokens=max(counts[c] for c in request.choices) + 4 + chosen.extra_tokens,
                             choices=request.choices) for request in requests]
        labels = [self._label(what, i, len(requests), request.prompt) for i, request in enumerate(requests)]
        responses = self.client.complete(bodies, labels=labels, usage=usage, on_done=on_batch)
        out = []
        for response in responses:
            answer = _generated(response)
            text = chosen.read(answer.text.strip())
            out.append(Choice(answer=text, score=None if chosen.json_answer else _probability(answer)))
        return out

    def describe(self) -> dict[str, Any]:
        """The backend as recorded: URL, model, the constraints asked for and, once probed, what the probe found."""
        return {"backend": self.name, "base_url": self.client.options.base_url, "model": self.model,
                "server_constraints": self.server_constraints,
                "token_counts": "utf-8 bytes (upper bound)" if self.tokenizer is None else str(
                    self.tokenizer if isinstance(self.tokenizer, str) else type(self.tokenizer).__name__),
                "probe": None if self.profile is None else self.profile.record()}

    # ------------------------------------------------------------------------------ requests

    def _load_tokenizer(self):
        if self._tokenizer is None and isinstance(self.tokenizer, str):
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer)
        return self._tokenizer

    def _body(self, prompt: Prompt, *, max_tokens: int, temperature: float = 0.0, top_p: float | None = None,
              seed: int = 0, choices: Sequence[str] | None = None) -> dict[str, Any]:
        profile = self.profile or ServerProfile(self.client.options.base_url, self.model)
        messages = prompt.as_messages() if isinstance(prompt, ChatPrompt) else chat_messages(prompt, system=self.system)
        body = request_body(profile, messages, max_tokens=max_tokens,
                            temperature=temperature, top_p=top_p, seed=seed)
        if choices is not None and profile.constraint is not None:
            body = ADAPTERS[profile.constraint].apply(body, choices)
        return body

    @staticmethod
    def _label(what: str, index: int, total: int, prompt: Prompt) -> str:
        return f"{what} request {index + 1} of {total} ({prompt_head(prompt)!r})"


def _local_tokenizer(model: str) -> str | None:
    """``model`` when it names a model folder here that holds a tokenizer (``transformers serve DIR``
    serves a folder under its path), else ``None``."""
    from pathlib import Path

    folder = Path(model).expanduser()
    try:
        return model if (folder / "tokenizer_config.json").is_file() else None
    except OSError:
        return None


def _generated(response: dict[str, Any]) -> GeneratedText:
    """A checked chat completion's first choice as a :class:`GeneratedText` (no token ids: the server
    keeps them; ``null`` content is the empty answer)."""
    choice = response["choices"][0]
    content = choice["message"].get("content") or ""
    logprob = None
    tokens = (choice.get("logprobs") or {}).get("content") or None
    if tokens:
        logprob = float(sum(float(token["logprob"]) for token in tokens))
    return GeneratedText(text=content, token_ids=(), logprob=logprob, finished=choice.get("finish_reason") != "length")


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
