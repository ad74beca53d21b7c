"""Probe a server before any work: is it up, does it serve the model, what does it apply?

:func:`probe_server` sends, once per server and model, before the first sentence:

1. ``GET /v1/models``: the server is up (a refused connection is an immediate error asking
   whether the server runs at that URL) and lists what it serves. Its entries' ``owned_by``
   and a few cheap ``GET``\\ s of the server's root identify the family where they can
   (``/version``: vLLM, ``/info``: TGI, ``/api/version``: Ollama, ``/props``: llama.cpp,
   ``/server_info``: SGLang; ``transformers serve`` lists a ``status`` per model);
2. one small chat completion with the run's request shape (``max_tokens``, ``temperature: 0``,
   ``seed``, ``logprobs``): the model answers (a model it does not serve is an error listing the
   served names), and a field the server refuses (HTTP 400/422 naming it) is adjusted once, for
   the whole run: ``max_completion_tokens`` instead of ``max_tokens`` and no ``temperature`` for
   reasoning models, no ``logprobs`` or ``seed`` where refused. Whether log-probabilities come back
   decides whether scores are probabilities or ``null``;
3. when the run needs answers kept to the choices (``--classification constrained``, or the
   default ``--off-list constrained``), one request per candidate constraint adapter
   (:mod:`cascadener.backends.constraints`; the family's own first) with two nonsense choices and
   an unrelated question: the adapter is **applied** only when the answer is one of them; a
   server that answers freely **ignored** it, one that answers 400/422 **rejected** it. The first
   applied adapter is used for the whole run; one never applied is never sent again.

The result, a :class:`ServerProfile`, is what the backend sends from then on and what the
predictions meta and the results JSON record (:meth:`ServerProfile.record`).

Example (what a profile records):
    >>> profile = ServerProfile(base_url="http://127.0.0.1:8000/v1", model="m", served=("m",), family="vllm",
    ...                         version="0.12.0", constraint="choice", tried=(("choice", "applied"),), requests=4)
    >>> profile.record()["constraint"], profile.record()["max_tokens_field"], profile.scores
    ('choice (structured_outputs)', 'max_tokens', True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Sequence

from cascadener.backends.constraints import ADAPTER_NAMES, ADAPTERS
from cascadener.backends.http import OPENAI_HOST, ChatClient, Reply, ServerError, completion_problem
from cascadener.prompts import SYSTEM_PROMPT, chat_messages

__all__ = ["ServerProfile", "ProbeError", "probe_server", "family_adapters", "FAMILIES", "PROBE_CHOICES"]

#: the server families the probe tells apart (``None``: not identified)
FAMILIES: tuple[str, ...] = ("vllm", "sglang", "llama.cpp", "tgi", "ollama", "openai", "transformers-serve")
#: choices no model writes unasked: an answer among them was kept to them
PROBE_CHOICES: tuple[str, ...] = ("qzx", "vwk")
PROBE_QUESTION = "Write one sentence about the sea."
#: the budget of probe answers: room for a JSON answer's braces and whitespace
PROBE_TOKENS = 24
#: request fields the probe may adjust when the server refuses them, and how
ADJUSTABLE = ("max_tokens", "temperature", "top_logprobs", "logprobs", "seed")


class ProbeError(ServerError):
    """The server cannot run what was asked (the model not served, a constraint it does not apply,
    an answer the probe could not read); nothing was predicted."""


@dataclass(frozen=True)
class ServerProfile:
    """What the probe learned about one server and model, and so what every request sends.

    ``served``: the names ``GET /v1/models`` listed (``listed``: ``model`` among them; an unpinned
    ``transformers serve`` answers for models it has not loaded yet); ``family``/``version``: the
    server as identified (``None``: not identified); ``max_tokens_field``, ``temperature``,
    ``seed``, ``logprobs``: the request shape the server takes (``temperature=False``: the server
    only takes its default, so answers are sampled); ``scores``: whether answers come back with
    log-probabilities; ``constraint``: the adapter applied (``None``: none, or not probed:
    ``choice_probed``); ``tried``: each adapter tried and what the server did with it; ``requests``:
    the requests the probe sent.
    """

    base_url: str
    model: str
    served: tuple[str, ...] = ()
    listed: bool = True
    family: str | None = None
    version: str | None = None
    max_tokens_field: str = "max_tokens"
    temperature: bool = True
    seed: bool = True
    logprobs: bool = True
    scores: bool = True
    constraint: str | None = None
    choice_probed: bool = True
    tried: tuple[tuple[str, str], ...] = ()
    requests: int = 0

    def record(self) -> dict[str, Any]:
        """The profile as JSON values (the predictions meta's and the results JSON's ``probe``)."""
        return {"base_url": self.base_url, "model": self.model, "listed": self.listed,
                "served_models": list(self.served[:20]), "family": self.family, "version": self.version,
                "max_tokens_field": self.max_tokens_field,
                "temperature": 0 if self.temperature else "server default (refused temperature 0)",
                "seed": self.seed, "logprobs": self.scores,
                "constraint": None if self.constraint is None else ADAPTERS[self.constraint].describe(),
                "constraint_probed": self.choice_probed, "tried": {name: outcome for name, outcome in self.tried},
                "requests": self.requests}


def family_adapters(family: str | None, version: str | None = None) -> tuple[str, ...]:
    """The adapters to try on a server of ``family``, best first (every adapter when unidentified).

    >>> family_adapters("vllm", "0.10.2"), family_adapters("vllm", "0.11.1"), family_adapters("vllm", "0.12.0")
    (('guided',), ('choice', 'guided'), ('choice',))
    >>> family_adapters("tgi"), family_adapters(None) == ADAPTER_NAMES
    (('tgi-json',), True)
    """
    if family == "vllm":
        numbers = _version(version)
        if numbers is None:
            return ("choice", "guided")
        if numbers < (0, 11):
            return ("guided",)
        return ("choice", "guided") if numbers < (0, 12) else ("choice",)
    return {"sglang": ("regex", "json-schema"), "llama.cpp": ("grammar", "json-schema"), "tgi": ("tgi-json",),
            "ollama": ("json-schema",), "openai": ("json-schema",)}.get(family or "", ADAPTER_NAMES)


def _version(text: str | None) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+)\.(\d+)", text or "")
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def _names_field(text: str, name: str) -> bool:
    """Whether an error text names the request field ``name`` (as a word: ``logprobs`` is not named
    by ``top_logprobs``)."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def _refused_fields(reply: Reply) -> list[str]:
    """The adjustable fields a 400/422 refuses: the OpenAI error's ``param`` where it names one, else
    every one its text names."""
    error = reply.data.get("error") if isinstance(reply.data, dict) else None
    param = error.get("param") if isinstance(error, dict) else None
    if isinstance(param, str) and param in ADJUSTABLE:
        return [param]
    return [name for name in ADJUSTABLE if _names_field(reply.text, name)]


class _Probe:
    def __init__(self, client: ChatClient, model: str) -> None:
        self.client = client
        self.model = model
        self.requests = 0

    def get(self, path: str) -> Reply | None:
        """A best-effort ``GET`` of the server's root (identification): ``None`` when it fails."""
        self.requests += 1
        try:
            reply = self.client.exchange("GET", path, label=f"probe GET {path}", max_retries=0)
        except ServerError:
            return None
        return reply if reply.ok else None

    def post(self, body: dict[str, Any], what: str) -> Reply:
        self.requests += 1
        return self.client.exchange("POST", "chat/completions", body, label=f"probe {what}")

    # ------------------------------------------------------------------------------ steps

    def models(self) -> tuple[list[dict[str, Any]], str]:
        url = self.client.endpoint("models")
        self.requests += 1
        reply = self.client.exchange("GET", "models", label="probe GET /models")
        if reply.status in (401, 403):
            raise ProbeError(f"{url} answered HTTP {reply.status}: {self._key_hint()}: {reply.text[:300]}")
        if reply.status == 404:
            raise ProbeError(f"{url} answered HTTP 404: is --base-url right? It is the server's URL up to /v1, "
                             f"e.g. http://127.0.0.1:8000/v1 ({reply.text[:200]})")
        if not reply.ok:
            raise ProbeError(f"{url} answered HTTP {reply.status}: {reply.text[:300]}")
        data = reply.data
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("id"), str)
                                                    for e in entries):
            raise ProbeError(f"{url} did not answer a model list ({{\"data\": [{{\"id\": ...}}, ...]}}): "
                             f"{reply.text[:300]}")
        return entries, url

    def identify(self, entries: list[dict[str, Any]]) -> tuple[str | None, str | None]:
        owners = {str(entry.get("owned_by") or "") for entry in entries}
        if self.client.options.host == OPENAI_HOST:
            return "openai", None
        if "vllm" in owners:
            reply = self.get("/version")
            return "vllm", _text(reply, "version")
        if "sglang" in owners:
            reply = self.get("/server_info") or self.get("/get_server_info")
            return "sglang", _text(reply, "version")
        if "llamacpp" in owners:
            reply = self.get("/props")
            return "llama.cpp", _text(reply, "build_info")
        if any(isinstance(entry.get("status"), dict) and "value" in entry["status"] for entry in entries):
            return "transformers-serve", None
        reply = self.get("/version")
        if reply is not None and isinstance(reply.data, dict) and set(reply.data) == {"version"}:
            return "vllm", _text(reply, "version")
        reply = self.get("/info")
        if reply is not None and isinstance(reply.data, dict) and reply.data.get("router") == "text-generation-router":
            return "tgi", _text(reply, "version")
        reply = self.get("/api/version")
        if reply is not None and isinstance(reply.data, dict) and "version" in reply.data:
            return "ollama", _text(reply, "version")
        return None, None

    def body(self, profile: ServerProfile, *, max_tokens: int = PROBE_TOKENS) -> dict[str, Any]:
        return request_body(profile, chat_messages(PROBE_QUESTION, system=SYSTEM_PROMPT), max_tokens=max_tokens)

    def generation(self, profile: ServerProfile, served: Sequence[str], url: str) -> ServerProfile:
        """The request shape the server takes, learned from one small completion (adjusted at most once per field)."""
        adjusted: set[str] = set()
        while True:
            reply = self.post(self.body(profile), "chat completion")
            if reply.ok:
                problem = completion_problem(reply.data)
                if problem is not None:
                    raise ProbeError(f"{self.client.url} answered a malformed chat completion to the probe: {problem}")
                choice = reply.data["choices"][0]
                tokens = (choice.get("logprobs") or {}).get("content")
                return replace(profile, scores=profile.logprobs and bool(tokens))
            if reply.status in (401, 403):
                raise ProbeError(f"{self.client.url} answered HTTP {reply.status}: {self._key_hint()}: "
                                 f"{reply.text[:300]}")
            refused = [name for name in _refused_fields(reply) if name not in adjusted]
            if reply.status in (400, 422) and refused:
                for name in refused:
                    adjusted.add(name)
                    if name == "max_tokens":
                        profile = replace(profile, max_tokens_field="max_completion_tokens")
                    elif name == "temperature":
                        profile = replace(profile, temperature=False)
                    elif name in ("logprobs", "top_logprobs"):
                        adjusted.update(("logprobs", "top_logprobs"))
                        profile = replace(profile, logprobs=False, scores=False)
                    elif name == "seed":
                        profile = replace(profile, seed=False)
                continue
            listed = ", ".join(served) if served else "none"
            if reply.status in (400, 404, 422) and not profile.listed:
                raise ProbeError(f"the server at {self.client.options.base_url} does not serve the model "
                                 f"{self.model!r} (HTTP {reply.status}: {reply.text[:200]}); {url} lists: {listed}")
            raise ProbeError(f"{self.client.url} answered HTTP {reply.status} to the probe's chat completion "
                             f"for the model {self.model!r}: {reply.text[:300]}")

    def constraint(self, profile: ServerProfile, candidates: Sequence[str]) -> ServerProfile:
        """The first of ``candidates`` the server applies (or none), each tried once."""
        tried = list(profile.tried)
        for name in candidates:
            chosen = ADAPTERS[name]
            body = chosen.apply(self.body(profile), PROBE_CHOICES)
            reply = self.post(body, f"constraint {name}")
            if reply.ok:
                problem = completion_problem(reply.data)
                if problem is not None:
                    raise ProbeError(f"{self.client.url} answered a malformed chat completion to the probe of "
                                     f"{chosen.describe()}: {problem}")
                content = reply.data["choices"][0]["message"].get("content") or ""
                answer = chosen.read(content.strip()).strip()
                if answer in PROBE_CHOICES:
                    tried.append((name, "applied"))
                    return replace(profile, constraint=name, tried=tuple(tried))
                tried.append((name, f"ignored (answered {_clip(content)!r})"))
            elif reply.status in (400, 404, 415, 422):
                tried.append((name, f"rejected (HTTP {reply.status}: {_clip(reply.text, 120)})"))
            else:
                raise ProbeError(f"{self.client.url} answered HTTP {reply.status} to the probe of "
                                 f"{chosen.describe()}: {reply.text[:300]}")
        return replace(profile, constraint=None, tried=tuple(tried))

    def _key_hint(self) -> str:
        source = self.client.options.key_source
        if source is None:
            return "the server wants a key; none was sent: name the environment variable that holds it with --api-key-env"
        return f"is the key in the environment variable {source}?"


def _text(reply: Reply | None, key: str) -> str | None:
    if reply is None or not isinstance(reply.data, dict) or reply.data.get(key) is None:
        return None
    return str(reply.data[key])[:80]


def _clip(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def request_body(profile: ServerProfile, messages: list[dict[str, str]], *, max_tokens: int,
                 temperature: float = 0.0, top_p: float | None = None, seed: int = 0) -> dict[str, Any]:
    """A chat-completion body in the shape ``profile`` says the server takes.

    >>> request_body(ServerProfile("u", "m"), [], max_tokens=8)
    {'model': 'm', 'messages': [], 'stream': False, 'max_tokens': 8, 'temperature': 0.0, 'seed': 0, 'logprobs': True, 'top_logprobs': 1}
    >>> request_body(ServerProfile("u", "m", max_tokens_field="max_completion_tokens", temperature=False, logprobs=False),
    ...              [], max_tokens=8)
    {'model': 'm', 'messages': [], 'stream': False, 'max_completion_tokens': 8, 'seed': 0}
    """
    body: dict[str, Any] = {"model": profile.model, "messages": messages, "stream": False,
                            profile.max_tokens_field: int(max_tokens)}
    if profile.temperature:
        body["temperature"] = temperature
        if top_p is not None:
            body["top_p"] = top_p
    if profile.seed:
        body["seed"] = seed
    if profile.logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = 1  # the chosen token's; llama.cpp computes 20 candidates unless told
    return body


def probe_server(client: ChatClient, model: str, *, constraints: str = "auto", choice: bool = True,
                 known: ServerProfile | None = None) -> ServerProfile:
    """The :class:`ServerProfile` of ``model`` at ``client``'s server (see the module docstring).

    ``constraints``: ``"auto"`` (the family's adapters, or every one on a server not identified),
    an adapter's name (only that one, still checked), or ``"none"``. ``choice``: whether the run
    needs answers kept to the choices (else no constraint is probed, ``choice_probed=False``).
    ``known``: an earlier profile of the same server and model: only what it did not probe is sent.
    :class:`ProbeError` (a :class:`~cascadener.backends.http.ServerError`) when the server cannot run
    the model; :class:`~cascadener.backends.http.ServerUnreachable` when nothing answers.
    """
    probe = _Probe(client, model)
    if known is None:
        entries, url = probe.models()
        served = tuple(entry["id"] for entry in entries)
        family, version = probe.identify(entries)
        profile = ServerProfile(base_url=client.options.base_url, model=model, served=served, listed=model in served,
                                family=family, version=version, choice_probed=False)
        profile = probe.generation(profile, served, url)
    else:
        profile = known
    if choice and not profile.choice_probed:
        if constraints == "none":
            profile = replace(profile, constraint=None)
        else:
            candidates = family_adapters(profile.family, profile.version) if constraints == "auto" else (constraints,)
            profile = probe.constraint(profile, candidates)
        profile = replace(profile, choice_probed=True)
    return replace(profile, requests=(0 if known is None else known.requests) + probe.requests)
