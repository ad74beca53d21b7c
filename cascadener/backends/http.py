"""An async client for OpenAI-compatible servers (``aiohttp``): chat completions in bulk, and single exchanges.

:meth:`ChatClient.complete` sends a list of ``/chat/completions`` request bodies and returns the
responses **in input order**, whatever order they finish in:

- at most ``concurrency`` requests in flight (an ``asyncio.Semaphore``), one connection pool;
- each attempt bounded by ``timeout`` seconds in total (connect + wait + read);
- retried on HTTP 408, 409, 425, 429 and 5xx, timeouts and connection errors, up to
  ``max_retries`` times, after ``backoff * 2**attempt`` seconds (capped at ``max_backoff``) with
  jitter (a uniform draw between half and all of it); a ``Retry-After`` header (seconds or an
  HTTP date) is honoured instead when the server sends one;
- any other HTTP error fails at once (a bad request does not get better by repeating it);
- every answer is checked: a body that is not a chat completion (``{"choices": [null]}``, a
  ``usage`` that is not an object, ...) is a :class:`ServerError` naming the request and the
  field; an answer larger than its token budget allows (:func:`answer_limit`: a server sending
  megabytes for ``max_tokens: 8``) is cut off and refused;
- after the last retry, :class:`ServerError` names the request (its label, e.g.
  ``stage 1 request 3 of 32``), the URL and the last error (``retryable``: whether running the
  same requests later may succeed); every request still in flight is cancelled and awaited
  before it is raised, so nothing is left running and no exception goes unretrieved.

:meth:`ChatClient.exchange` sends one request (a ``GET`` of ``/models``, a probe's chat
completion) with the same retries and returns the server's final answer whatever its status, for
:mod:`cascadener.backends.probe` to read; a refused connection fails at once
(:class:`ServerUnreachable`: "is the server running at URL?").

The API key (:meth:`EndpointOptions.api_key`) is read from the environment variable the user
names (``api_key_env``) when a request is sent, or, with none named, from ``OPENAI_API_KEY`` for
OpenAI's own host only: a key is never sent to another host unless its variable is named. It goes
only into the ``Authorization`` header, and is replaced by ``[redacted]`` in every message this
client raises, whatever a server echoes back.

Proxies and certificates: the standard environment variables (``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``, ``SSL_CERT_DIR``) are honoured, except for
loopback addresses (``localhost``, ``127.0.0.0/8``, ``::1``), which are always reached directly.

``complete`` and ``exchange`` are synchronous (each runs its own event loop; inside a running
loop, e.g. a notebook, in a worker thread), so the pipeline above stays synchronous.

The transport is ``aiohttp``: one ``ClientSession`` per call, its connection pool as large as the
concurrency, kept alive between requests, the TLS context built once per client (and only for
https). Redirects are answered as errors, never followed. ``httpx`` was measured first and left:
its connection pool rescans every connection on each request, so its rate falls as more requests
are in flight (``bench/bench_client.py`` measures both against a plain aiohttp client;
docs/performance.md has the numbers).

Example (no server needed to build one):
    >>> client = ChatClient(EndpointOptions("http://127.0.0.1:8000/v1", concurrency=4))
    >>> client.url, client.options.loopback
    ('http://127.0.0.1:8000/v1/chat/completions', True)
    >>> retry_after_seconds("7"), retry_after_seconds("soon")
    (7.0, None)
    >>> answer_limit({"max_tokens": 8})
    98304
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from cascadener.backends.base import Usage

__all__ = ["ChatClient", "EndpointOptions", "Reply", "ServerError", "ServerUnreachable", "retry_after_seconds",
           "answer_limit", "require_aiohttp", "RETRY_STATUS", "OPENAI_HOST", "OPENAI_KEY_ENV"]

#: HTTP statuses worth another attempt (besides every 5xx).
RETRY_STATUS: frozenset[int] = frozenset({408, 409, 425, 429})
#: OpenAI's own host, the only one ``OPENAI_API_KEY`` goes to without being named.
OPENAI_HOST = "api.openai.com"
OPENAI_KEY_ENV = "OPENAI_API_KEY"
#: an answer's size limit: this much, plus :data:`BYTES_PER_TOKEN` per token of its budget
ANSWER_BASE_BYTES = 64 * 1024
#: room per budget token: the text of a long token escaped as JSON, and its log-probability entry
BYTES_PER_TOKEN = 4 * 1024
REDACTED = "[redacted]"


class ServerError(RuntimeError):
    """A request that failed for good (after its retries, or at once for a non-retryable error).

    ``retryable``: whether sending the same requests later may succeed (a server that was down,
    overloaded or too slow), so that ``--resume`` is worth suggesting; ``False`` for an answer
    that will not change (a rejected request, a malformed or oversized answer)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ServerUnreachable(ServerError):
    """Nothing listens at the URL (the connection was refused), or its host name does not resolve."""


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class EndpointOptions:
    """Where and how to send requests. ``base_url`` ends before ``/chat/completions``
    (e.g. ``http://127.0.0.1:8000/v1``); ``api_key_env`` names the environment variable holding
    the key (the key itself is never an option; ``None``: ``OPENAI_API_KEY`` for OpenAI's own host,
    no key for any other).

    >>> EndpointOptions("https://api.openai.com/v1").key_source
    'OPENAI_API_KEY'
    >>> EndpointOptions("http://10.0.0.5:8000/v1").key_source is None
    True
    """

    base_url: str
    api_key_env: str | None = None
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, got {self.base_url!r}")
        if parts.username or parts.password:
            raise ValueError("base_url must not carry credentials; put the key in an environment variable and "
                             "name it with api_key_env (--api-key-env)")
        if self.api_key_env is not None and (not self.api_key_env
                                             or not self.api_key_env.replace("_", "").isalnum()):
            raise ValueError(f"api_key_env must be an environment variable name, got {self.api_key_env!r}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff and max_backoff must be >= 0")

    @property
    def host(self) -> str:
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def loopback(self) -> bool:
        """Whether the server is on this machine's loopback (reached directly, never through a proxy)."""
        return _is_loopback(self.host)

    @property
    def key_source(self) -> str | None:
        """The environment variable the key is read from: the one named, else ``OPENAI_API_KEY`` for
        OpenAI's own host; ``None``: no key is sent."""
        if self.api_key_env is not None:
            return self.api_key_env
        return OPENAI_KEY_ENV if self.host == OPENAI_HOST else None

    def api_key(self) -> str | None:
        """The key to send now (read from the environment each time), or ``None``."""
        source = self.key_source
        return (os.environ.get(source) or None) if source else None


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), else ``None``.

    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    10.0
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def answer_limit(body: Mapping[str, Any]) -> int:
    """The most bytes an answer to ``body`` may take: :data:`ANSWER_BASE_BYTES` plus
    :data:`BYTES_PER_TOKEN` per token of its budget (``max_tokens`` or ``max_completion_tokens``;
    a body without one gets the room of 4096 tokens)."""
    budget = body.get("max_tokens", body.get("max_completion_tokens"))
    tokens = budget if isinstance(budget, int) and budget > 0 else 4096
    return ANSWER_BASE_BYTES + BYTES_PER_TOKEN * tokens


@dataclass(frozen=True)
class Reply:
    """A server's final answer to :meth:`ChatClient.exchange`: the status, the headers (lower-case
    names), the JSON body (``None`` when it is not JSON) and the text (redacted, shortened)."""

    status: int
    data: Any
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def completion_problem(data: Any) -> str | None:
    """What is wrong with a chat completion's JSON (``None``: nothing), naming the field.

    >>> completion_problem({"choices": [None]}), completion_problem({"choices": "abc"})
    ('choices[0] is null, not an object', "choices is a string, not a list ('abc')")
    >>> completion_problem({"choices": [{"message": {"content": "x"}}], "usage": "lots"})
    "usage is a string, not an object ('lots')"
    >>> completion_problem({"choices": [{"message": {"content": None}, "finish_reason": "stop"}]}) is None
    True
    """

    def kind(value: Any) -> str:
        return "null" if value is None else {str: "a string", int: "a number", float: "a number", bool: "a boolean",
                                             list: "a list", dict: "an object"}.get(type(value), type(value).__name__)

    def wrong(name: str, value: Any, expected: str) -> str:
        shown = "" if value is None or isinstance(value, (dict, list)) else f" ({_short(repr(value), 60)})"
        return f"{name} is {kind(value)}, not {expected}{shown}"

    if not isinstance(data, dict):
        return wrong("the answer", data, "a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list):
        return "no choices" if choices is None else wrong("choices", choices, "a list")
    if not choices:
        return "choices is an empty list"
    first = choices[0]
    if not isinstance(first, dict):
        return wrong("choices[0]", first, "an object")
    message = first.get("message")
    if not isinstance(message, dict):
        return wrong("choices[0].message", message, "an object")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        return wrong("choices[0].message.content", content, "a string")
    reason = first.get("finish_reason")
    if reason is not None and not isinstance(reason, str):
        return wrong("choices[0].finish_reason", reason, "a string")
    logprobs = first.get("logprobs")
    if logprobs is not None:
        if not isinstance(logprobs, dict):
            return wrong("choices[0].logprobs", logprobs, "an object")
        tokens = logprobs.get("content")
        if tokens is not None:
            if not isinstance(tokens, list):
                return wrong("choices[0].logprobs.content", tokens, "a list")
            for index, token in enumerate(tokens):
                if not isinstance(token, dict):
                    return wrong(f"choices[0].logprobs.content[{index}]", token, "an object")
                value = token.get("logprob")
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    return wrong(f"choices[0].logprobs.content[{index}].logprob", value, "a number")
    usage = data.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            return wrong("usage", usage, "an object")
        for key in ("prompt_tokens", "completion_tokens"):
            value = usage.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                return wrong(f"usage.{key}", value, "a count")
    return None


class ChatClient:
    """See the module docstring. One client may serve both stages (one concurrency limit)."""

    def __init__(self, options: EndpointOptions) -> None:
        self.options = options
        self.url = options.base_url.rstrip("/") + "/chat/completions"
        self._sleep = asyncio.sleep  # tests may speed the backoff up
        self._ssl = None  # built once (https only): loading the CA bundle costs ~0.1 s, per session otherwise

    # -------------------------------------------------------------------------- public

    def complete(
        self,
        bodies: Sequence[Mapping[str, Any]],
        *,
        labels: Sequence[str],
        usage: Usage | None = None,
        on_done: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """The checked chat completion of every request body, in input order.

        ``labels[i]`` names request ``i`` in errors; ``usage`` counts answered requests, retries and
        the tokens the server reports; ``on_done(1)`` is called as each finishes.
        """
        if len(labels) != len(bodies):
            raise ValueError(f"{len(labels)} labels for {len(bodies)} requests")
        if not bodies:
            return []
        return _run(self._complete_all(bodies, labels, usage, on_done))

    def exchange(self, method: str, path: str, body: Mapping[str, Any] | None = None, *, label: str,
                 max_retries: int | None = None) -> Reply:
        """One request to ``path`` (relative to ``base_url``, e.g. ``"models"``; from the server's root
        when it starts with ``/``, e.g. ``"/version"``), retried like :meth:`complete` on 408, 409,
        425, 429, 5xx and timeouts (at most ``max_retries`` times; ``None``: the options'); the final
        answer is returned whatever its status. :class:`ServerUnreachable` at once when the
        connection is refused or the host unknown."""
        retries = self.options.max_retries if max_retries is None else max_retries
        return _run(self._exchange(method, path, body, label, retries))

    def redact(self, text: str) -> str:
        """``text`` with the API key (if one is sent) replaced by ``[redacted]``."""
        key = self.options.api_key()
        return text.replace(key, REDACTED) if key and len(key) >= 4 else text

    def endpoint(self, path: str) -> str:
        """The URL of ``path`` (see :meth:`exchange`).

        >>> ChatClient(EndpointOptions("http://h:1/v1/")).endpoint("/version")
        'http://h:1/version'
        """
        base = self.options.base_url.rstrip("/")
        if path.startswith("/"):
            parts = urlsplit(base)
            root = f"{parts.scheme}://{parts.netloc}"
            prefix = parts.path.rstrip("/")
            if prefix.endswith("/v1"):  # the server's root: the base URL less its /v1
                root += prefix[: -len("/v1")]
            else:
                root += prefix
            return root + path
        return f"{base}/{path}"

    # -------------------------------------------------------------------------- internals

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = self.options.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _client(self) -> "_Session":
        """A session for one call: a pool of ``concurrency`` kept-alive connections, the environment's
        proxies except on loopback (``ALL_PROXY`` too, which aiohttp does not read), the client's TLS
        context."""
        aiohttp = require_aiohttp()
        trust_env = not self.options.loopback  # proxies and CA bundles from the environment; loopback: direct
        https = urlsplit(self.options.base_url).scheme == "https"  # plain http needs no TLS context
        connector = aiohttp.TCPConnector(limit=self.options.concurrency, ssl=self._verified() if https else True)
        session = aiohttp.ClientSession(connector=connector, trust_env=trust_env,
                                        timeout=aiohttp.ClientTimeout(total=self.options.timeout))
        return _Session(session, _all_proxy(self.options.base_url) if trust_env else None)

    def _verified(self):
        """The TLS context servers are verified with (built once; see :func:`_ssl_context`)."""
        if self._ssl is None:
            self._ssl = _ssl_context(not self.options.loopback)
        return self._ssl

    async def _complete_all(self, bodies, labels, usage, on_done) -> list[dict[str, Any]]:
        semaphore = asyncio.Semaphore(self.options.concurrency)
        results: list[dict[str, Any] | None] = [None] * len(bodies)
        async with self._client() as client:

            async def one(index: int) -> None:
                async with semaphore:
                    results[index] = await self._complete_one(client, bodies[index], labels[index], usage)
                if on_done is not None:
                    on_done(1)

            tasks = [asyncio.ensure_future(one(index)) for index in range(len(bodies))]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for task in tasks:  # on a failure (or an interrupt): stop the rest, then wait for every one
                    if not task.done():
                        task.cancel()
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)  # retrieves every exception
        for outcome in outcomes:  # the first failure in input order
            if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                raise outcome
        return [result for result in results if result is not None]

    async def _complete_one(self, client, body, label: str, usage: Usage | None) -> dict[str, Any]:
        attempt = 0
        limit = answer_limit(body)
        while True:
            try:
                status, headers, raw = await self._send(client, "POST", self.url, body, limit, label)
                self._raise_for_status(status, headers, raw, label)
                data = self._json(raw, label)
                problem = completion_problem(data)
                if problem is not None:
                    raise ServerError(self.redact(f"{label}: {self.url} answered a malformed chat completion: "
                                                  f"{problem}"))
                if usage is not None:
                    usage.requests += 1
                    usage.retries += attempt
                    counted = data.get("usage") or {}
                    usage.prompt_tokens += counted.get("prompt_tokens") or 0
                    usage.completion_tokens += counted.get("completion_tokens") or 0
                    usage.empty_answers += not data["choices"][0]["message"].get("content")
                return data
            except ServerError:
                raise
            except Exception as error:  # noqa: BLE001 - sorted into retryable or not by _retry_delay
                attempt = await self._retry(error, attempt, label, self.url)

    async def _exchange(self, method: str, path: str, body, label: str, max_retries: int) -> Reply:
        aiohttp = require_aiohttp()

        url = self.endpoint(path)
        attempt = 0
        async with self._client() as client:
            while True:
                try:
                    status, headers, raw = await self._send(client, method, url, body,
                                                            answer_limit(body or {}), label)
                    if status in RETRY_STATUS or status >= 500:
                        text = raw.decode("utf-8", errors="replace")
                        raise _Retryable(f"HTTP {status}: {_short(self.redact(text))}",
                                         retry_after_seconds(headers.get("retry-after")))
                    text = self.redact(raw.decode("utf-8", errors="replace"))
                    try:
                        data = json.loads(raw) if raw else None
                    except ValueError:
                        data = None
                    return Reply(status=status, data=data, text=_short(text, 2000), headers=headers)
                except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as error:
                    raise ServerUnreachable(self.redact(
                        f"{label}: cannot connect to {url} ({_transport_error(error)}); is the server "
                        f"running at {self.options.base_url}?")) from None
                except ServerError:
                    raise
                except Exception as error:  # noqa: BLE001
                    attempt = await self._retry(error, attempt, label, url, max_retries)

    async def _send(self, client, method: str, url: str, body, limit: int, label: str):
        """One attempt: ``(status, lower-case headers, body bytes)``, the body cut off (and refused)
        beyond ``limit`` bytes, the whole attempt (connection, request, answer) bounded by the
        session's total timeout."""
        content = None if body is None else json.dumps(body).encode("utf-8")
        # redirects are answers, never followed: a key goes only to the host it was given for
        async with client.session.request(method, url, data=content, headers=self._headers(), proxy=client.proxy,
                                          allow_redirects=False) as response:
            headers = {key.lower(): value for key, value in response.headers.items()}
            declared = headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise self._oversized(label, url, limit, body)
            chunks, size = [], 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise self._oversized(label, url, limit, body)
                chunks.append(chunk)
            return response.status, headers, b"".join(chunks)

    def _oversized(self, label: str, url: str, limit: int, body) -> ServerError:
        budget = (body or {}).get("max_tokens", (body or {}).get("max_completion_tokens"))
        room = f"a budget of {budget} tokens" if budget else "an answer"
        return ServerError(f"{label}: {url} answered more than {limit} bytes, more than {room} allows; "
                           "the answer was cut off (is the server honouring max_tokens?)")

    async def _retry(self, error: Exception, attempt: int, label: str, url: str, max_retries: int | None = None) -> int:
        """Wait before the next attempt after ``error``, or raise the final :class:`ServerError`."""
        aiohttp = require_aiohttp()

        options = self.options
        max_retries = options.max_retries if max_retries is None else max_retries
        if isinstance(error, _Retryable):
            reason, retry_after = str(error), error.retry_after
        elif isinstance(error, asyncio.TimeoutError):  # aiohttp's timeouts are asyncio's too
            reason, retry_after = f"no answer within {options.timeout:g} s", None
        elif isinstance(error, aiohttp.ClientError):  # refused or lost connections, a cut answer
            reason, retry_after = _transport_error(error), None
        else:
            raise error
        if attempt >= max_retries:
            raise ServerError(self.redact(f"{label}: {url} failed after {attempt + 1} attempt(s) "
                                          f"({max_retries} retries allowed); last error: {reason}"),
                              retryable=True) from None
        delay = min(options.max_backoff, options.backoff * 2 ** attempt)
        delay = random.uniform(delay / 2, delay)
        if retry_after is not None:
            delay = retry_after + random.uniform(0, 0.1 * retry_after)
        await self._sleep(delay)
        return attempt + 1

    def _json(self, raw: bytes, label: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError as error:
            raise ServerError(self.redact(f"{label}: {self.url} answered with invalid JSON ({error}): "
                                          f"{_short(raw.decode('utf-8', errors='replace'))}")) from None

    def _raise_for_status(self, status: int, headers: Mapping[str, str], raw: bytes, label: str) -> None:
        if 200 <= status < 300:
            return
        text = _short(self.redact(raw.decode("utf-8", errors="replace")))
        if status in RETRY_STATUS or status >= 500:
            raise _Retryable(f"HTTP {status}: {text}", retry_after_seconds(headers.get("retry-after")))
        hint = ""
        if status in (401, 403):
            source = self.options.key_source
            hint = (f" (is the key in the environment variable {source}?)" if source else
                    " (no key was sent: name the environment variable that holds it with --api-key-env)")
        elif status == 404:
            hint = " (is base_url right, ending in /v1, and the model name one the server serves?)"
        elif 300 <= status < 400:  # never followed: the key goes only to the host it was given for
            hint = (f" (a redirect to {self.redact(headers.get('location', '?'))}, not followed: give that server's "
                    "/v1 URL as base_url)")
        raise ServerError(f"{label}: {self.url} answered HTTP {status}{hint}: {text}")


def require_aiohttp():
    """The ``aiohttp`` module, or an ``ImportError`` saying which extra installs it."""
    try:
        import aiohttp
    except ImportError:
        raise ImportError('the openai backend needs aiohttp: pip install "dynamicner-kit[serving]"') from None
    return aiohttp


class _Session:
    """An aiohttp session for one call and the proxy its requests go through (``None``: direct, or
    the one aiohttp takes from the environment itself)."""

    def __init__(self, session, proxy: str | None) -> None:
        self.session = session
        self.proxy = proxy

    async def __aenter__(self) -> "_Session":
        await self.session.__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.session.__aexit__(*exc)


def _all_proxy(url: str) -> str | None:
    """``ALL_PROXY`` (or ``all_proxy``) for ``url`` when no variable of its scheme names a proxy and
    ``NO_PROXY`` does not exempt its host (aiohttp reads the scheme's variables itself, not this one).

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"ALL_PROXY": "http://proxy:3128", "NO_PROXY": "intra"}, clear=True):
    ...     _all_proxy("http://api.example/v1"), _all_proxy("http://intra/v1")
    ('http://proxy:3128', None)
    >>> with mock.patch.dict(os.environ, {"ALL_PROXY": "http://a:1", "HTTP_PROXY": "http://b:2"}, clear=True):
    ...     _all_proxy("http://api.example/v1")  # aiohttp takes HTTP_PROXY itself
    """
    import urllib.request

    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    if parts.scheme in proxies or "all" not in proxies or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxies["all"]


def _transport_error(error: Exception) -> str:
    """A transport failure in words: ``ConnectError: ...`` when no connection could be made, else the
    error's own type and message.

    >>> _transport_error(ConnectionResetError("reset by peer"))
    'ConnectionResetError: reset by peer'
    """
    aiohttp = require_aiohttp()

    kind = "ConnectError" if isinstance(error, aiohttp.ClientConnectorError) else type(error).__name__
    return f"{kind}: {error}"


def _ssl_context(trust_env: bool):
    """The certificates to verify servers with: ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when the
    environment is trusted and sets one, else certifi's bundle."""
    import ssl

    for name, keyword in (("SSL_CERT_FILE", "cafile"), ("SSL_CERT_DIR", "capath")):
        if trust_env and os.environ.get(name):
            try:
                return ssl.create_default_context(**{keyword: os.environ[name]})
            except (OSError, ssl.SSLError) as error:
                raise ServerError(f"cannot load the certificates of {name}={os.environ[name]}: {error}") from None
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _run(coroutine):
    """Run ``coroutine`` to its end on a new event loop (in a worker thread when this thread already runs one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = asyncio.run(coroutine)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=work, name="cascadener-chat-client")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
