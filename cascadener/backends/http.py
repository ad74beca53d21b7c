"""An async client for OpenAI-compatible ``/v1/chat/completions`` endpoints (``httpx``).

:meth:`ChatClient.complete` sends a list of request bodies and returns the responses **in input
order**, whatever order they finish in:

- at most ``concurrency`` requests in flight (an ``asyncio.Semaphore``), one connection pool;
- each attempt bounded by ``timeout`` seconds in total (connect + wait + read);
- retried on HTTP 408, 409, 425, 429 and 5xx, timeouts and connection errors, up to
  ``max_retries`` times, after ``backoff * 2**attempt`` seconds (capped at ``max_backoff``) with
  jitter (a uniform draw between half and all of it); a ``Retry-After`` header (seconds or an
  HTTP date) is honoured instead when the server sends one;
- any other HTTP error fails at once (a bad request does not get better by repeating it);
- after the last retry, :class:`ServerError` names the request (its label, e.g.
  ``stage 1 request 3 of 32``), the URL and the last error; the requests still in flight are
  cancelled.

A body field listed in ``negotiable`` that the server rejects (HTTP 400/422 whose message names
the field: transformers serve answers ``Unexpected fields in the request: {'logprobs'}``) is
dropped from that request and every later one; :attr:`ChatClient.dropped` records which.

The API key is read from the environment variable named ``api_key_env`` when a request is sent,
and goes only into the ``Authorization`` header: never into an error message, a log or a file.
No key (the variable unset or empty) sends no header, as local servers expect.

``complete`` is synchronous (it runs its own event loop; inside a running loop, e.g. a notebook,
in a worker thread), so the pipeline above stays synchronous.

Example (no server needed to build one):
    >>> client = ChatClient(EndpointOptions("http://127.0.0.1:8000/v1", concurrency=4))
    >>> client.url
    'http://127.0.0.1:8000/v1/chat/completions'
    >>> retry_after_seconds("7"), retry_after_seconds("soon")
    (7.0, None)
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from cascadener.backends.base import Usage

__all__ = ["ChatClient", "EndpointOptions", "ServerError", "retry_after_seconds", "RETRY_STATUS"]

#: HTTP statuses worth another attempt (besides every 5xx).
RETRY_STATUS: frozenset[int] = frozenset({408, 409, 425, 429})


class ServerError(RuntimeError):
    """A request that failed for good (after its retries, or at once for a non-retryable error)."""


@dataclass(frozen=True)
class EndpointOptions:
    """Where and how to send requests. ``base_url`` ends before ``/chat/completions``
    (e.g. ``http://127.0.0.1:8000/v1``); ``api_key_env`` names the environment variable holding
    the key (the key itself is never an option)."""

    base_url: str
    api_key_env: str = "OPENAI_API_KEY"
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
            raise ValueError("base_url must not carry credentials; put the key in the environment variable "
                             f"named by api_key_env ({self.api_key_env})")
        if not self.api_key_env or not self.api_key_env.replace("_", "").isalnum():
            raise ValueError(f"api_key_env must be an environment variable name, got {self.api_key_env!r}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff and max_backoff must be >= 0")


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


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class ChatClient:
    """See the module docstring. One client may serve both stages (one concurrency limit)."""

    def __init__(self, options: EndpointOptions, *, negotiable: Sequence[str] = ()) -> None:
        self.options = options
        self.url = options.base_url.rstrip("/") + "/chat/completions"
        self.negotiable = frozenset(negotiable)
        self.dropped: set[str] = set()
        self._sleep = asyncio.sleep  # tests may speed the backoff up

    # -------------------------------------------------------------------------- public

    def complete(
        self,
        bodies: Sequence[Callable[[frozenset[str]], dict[str, Any]]],
        *,
        labels: Sequence[str],
        usage: Usage | None = None,
        on_done: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """The JSON response of every request, in input order.

        ``bodies[i](dropped)`` builds request ``i``'s JSON body without the fields the server
        rejected so far; ``labels[i]`` names it in errors. ``on_done(1)`` is called as each finishes.
        """
        if len(labels) != len(bodies):
            raise ValueError(f"{len(labels)} labels for {len(bodies)} requests")
        if not bodies:
            return []
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._complete_all(bodies, labels, usage, on_done))
        # inside a running event loop (a notebook): run ours in a worker thread
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = asyncio.run(self._complete_all(bodies, labels, usage, on_done))
            except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = error

        thread = threading.Thread(target=work, name="cascadener-chat-client")
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["result"]

    # -------------------------------------------------------------------------- internals

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.options.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    async def _complete_all(self, bodies, labels, usage, on_done) -> list[dict[str, Any]]:
        try:
            import httpx
        except ImportError:  # pragma: no cover - httpx comes with huggingface_hub
            raise ImportError('the openai backend needs httpx: pip install "dynamicner-kit[serving]"') from None
        semaphore = asyncio.Semaphore(self.options.concurrency)
        limits = httpx.Limits(max_connections=self.options.concurrency,
                              max_keepalive_connections=self.options.concurrency)
        results: list[dict[str, Any] | None] = [None] * len(bodies)
        async with httpx.AsyncClient(timeout=httpx.Timeout(self.options.timeout), limits=limits,
                                     trust_env=False) as client:

            async def one(index: int) -> None:
                async with semaphore:
                    results[index] = await self._with_retries(client, bodies[index], labels[index], usage)
                if on_done is not None:
                    on_done(1)

            tasks = [asyncio.ensure_future(one(index)) for index in range(len(bodies))]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            for task in tasks:  # the first failure in input order
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()
        return [result for result in results if result is not None]

    async def _with_retries(self, client, make_body, label: str, usage: Usage | None) -> dict[str, Any]:
        import httpx

        options = self.options
        attempt = 0
        while True:
            body = make_body(frozenset(self.dropped))
            try:
                response = await asyncio.wait_for(
                    client.post(self.url, content=json.dumps(body), headers=self._headers()), options.timeout)
                self._raise_for_status(response, body, label)
                data = response.json()
                if not isinstance(data, dict) or not data.get("choices"):
                    raise ServerError(f"{label}: {self.url} answered without choices: {_short(response.text)}")
                if usage is not None:
                    usage.requests += 1
                    usage.retries += attempt
                    counted = data.get("usage") or {}
                    usage.prompt_tokens += int(counted.get("prompt_tokens") or 0)
                    usage.completion_tokens += int(counted.get("completion_tokens") or 0)
                return data
            except _Dropped:
                continue  # resend without the rejected field; not a retry
            except (_Retryable, asyncio.TimeoutError, httpx.TimeoutException, httpx.TransportError) as error:
                if isinstance(error, _Retryable):
                    reason, retry_after = str(error), error.retry_after
                elif isinstance(error, (asyncio.TimeoutError, httpx.TimeoutException)):
                    reason, retry_after = f"no answer within {options.timeout:g} s", None
                else:
                    reason, retry_after = f"{type(error).__name__}: {error}", None
                if attempt >= options.max_retries:
                    raise ServerError(f"{label}: {self.url} failed after {attempt + 1} attempt(s) "
                                      f"({options.max_retries} retries allowed); last error: {reason}") from None
                delay = min(options.max_backoff, options.backoff * 2 ** attempt)
                delay = random.uniform(delay / 2, delay)
                if retry_after is not None:
                    delay = retry_after + random.uniform(0, 0.1 * retry_after)
                attempt += 1
                await self._sleep(delay)
            except ValueError as error:  # JSON decoding
                raise ServerError(f"{label}: {self.url} answered with invalid JSON: {error}") from None

    def _raise_for_status(self, response, body: dict[str, Any], label: str) -> None:
        status = response.status_code
        if status < 400:
            return
        text = response.text
        if status in (400, 422):
            rejected = [name for name in self.negotiable if name in body and name in text]
            if rejected:
                self.dropped.update(rejected)
                raise _Dropped()
        if status in RETRY_STATUS or status >= 500:
            raise _Retryable(f"HTTP {status}: {_short(text)}", retry_after_seconds(response.headers.get("retry-after")))
        hint = ""
        if status in (401, 403):
            hint = f" (is the key in the environment variable {self.options.api_key_env}?)"
        elif status == 404:
            hint = " (is base_url right, ending in /v1, and the model name one the server serves?)"
        raise ServerError(f"{label}: {self.url} answered HTTP {status}{hint}: {_short(text)}")


class _Dropped(Exception):
    """The server rejected a negotiable field; it is dropped and the request sent again."""
