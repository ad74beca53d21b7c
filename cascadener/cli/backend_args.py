"""The backend options ``cascadener predict`` and ``cascadener run`` share: which backend runs the
model (``--backend``, one of :data:`cascadener.backends.registry.BACKENDS`), and for a server,
where it is and how to talk to it.

``--backend transformers`` (default) loads ``--extractor``/``--classifier`` locally;
``--backend openai --base-url URL --model NAME [--classifier-model NAME]`` sends the same prompts
to an OpenAI-compatible ``/v1/chat/completions`` server. The API key is read from the environment
variable named by ``--api-key-env`` (none named: ``OPENAI_API_KEY``, for OpenAI's own host only; no
key to any other host): there is no option that takes the key itself, so it never lands in a shell
history, a process list, a meta file or a results JSON.

Each backend reads its own flags into its settings (``settings_type.from_namespace``); a flag of
another backend, given, is refused (:func:`backend_settings`).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_backend_argument(parser)
    >>> add_server_arguments(parser)
    >>> args = parser.parse_args(["--backend", "openai", "--base-url", "http://127.0.0.1:8000/v1", "--model", "m"])
    >>> backend_settings(args).identity()
    {'backend': 'openai', 'extractor': 'm', 'classifier': None, 'server_constraints': 'auto', 'context_tokens': None, 'tokenizer': None}
"""

from __future__ import annotations

import argparse
from typing import Any

from cascadener.backends.base import BackendSettings
from cascadener.backends.http import EndpointOptions, require_aiohttp
from cascadener.backends.registry import BACKENDS, DEFAULT_BACKEND, backend_class
from cascadener.backends.server import SERVER_CONSTRAINTS, EndpointSettings
from cascadener.cli.common import CliError, int_at_least, positive_int

__all__ = ["add_backend_argument", "add_server_arguments", "backend_settings", "foreign_flags"]


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return number


def _non_negative_int(value: str) -> int:
    return int_at_least(value, 0)


def add_backend_argument(group: Any) -> None:
    """``--backend``: one of :data:`cascadener.backends.registry.BACKENDS`, described from it."""
    group.add_argument("--backend", choices=tuple(BACKENDS), default=DEFAULT_BACKEND,
                       help="where the models run: " + "; ".join(f"{name}: {cls.description}"
                                                                 for name, cls in BACKENDS.items()))


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options, in a group of their own (defaults: :class:`EndpointSettings`'s)."""
    defaults = EndpointSettings.flags
    group = parser.add_argument_group(f"server (--backend {EndpointSettings.backend}; docs/serving.md)")
    group.add_argument("--base-url", default=defaults["base_url"],
                       help="the server's URL up to /v1, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--model", default=defaults["model"], help="the served model name, for both stages")
    group.add_argument("--classifier-model", default=defaults["classifier_model"],
                       help="another served model for stage 2")
    group.add_argument("--classifier-base-url", default=defaults["classifier_base_url"],
                       help="the URL of the server of --classifier-model, when it is another server")
    group.add_argument("--api-key-env", default=defaults["api_key_env"],
                       help="the environment variable holding the API key (none: OPENAI_API_KEY for "
                            "https://api.openai.com only, no key to any other host)")
    group.add_argument("--concurrency", type=positive_int, default=defaults["concurrency"], help="requests in flight")
    group.add_argument("--timeout", type=_positive_float, default=defaults["timeout"],
                       help="seconds per request attempt")
    group.add_argument("--max-retries", type=_non_negative_int, default=defaults["max_retries"],
                       help="retries on 429, 5xx, timeouts and connection errors")
    group.add_argument("--context-tokens", type=positive_int, default=defaults["context_tokens"],
                       help="the served model's context length; longer texts are read in overlapping windows "
                            "(none: sent whole)")
    group.add_argument("--server-constraints", choices=SERVER_CONSTRAINTS, default=defaults["server_constraints"],
                       help="how stage 2 keeps answers to the choices on the server: auto = the first adapter the "
                            "probe sees the server apply; choice = vLLM structured_outputs, guided = vLLM "
                            "guided_choice, regex = SGLang, grammar = llama.cpp, tgi-json = TGI response_format, "
                            "json-schema = OpenAI/hosted response_format (each still checked by the probe); none = "
                            "no constraint (then --off-list closest)")
    group.add_argument("--tokenizer", default=defaults["tokenizer"],
                       help="the served model's tokenizer (a folder or Hub id) for exact token budgets, equal to "
                            "the local backend's (none: UTF-8 bytes, an upper bound)")
    assert EndpointOptions.api_key_env == defaults["api_key_env"]  # the settings' defaults are the client's


def foreign_flags(args: argparse.Namespace) -> str | None:
    """The flags given that only another backend reads, as the user's error (``None``: none)."""
    chosen = backend_class(args.backend).settings_type
    for name, cls in BACKENDS.items():
        other = cls.settings_type
        if other is chosen:
            continue
        given = [flag for flag, default in other.flags.items()
                 if flag not in chosen.flags and getattr(args, flag, default) not in (None, False, default)]
        if not given:
            continue
        first = given[0]
        flags = ", ".join("--" + flag.replace("_", "-") for flag in given)
        if first in other.hints:
            return f"--{first.replace('_', '-')} {other.hints[first]}; it only applies with --backend {name}"
        return f"{flags} only appl{'y' if len(given) > 1 else 'ies'} with --backend {name}"
    return None


def backend_settings(args: argparse.Namespace) -> BackendSettings:
    """The settings of the chosen backend (:data:`cascadener.backends.registry.BACKENDS`) from the
    command line, checked before anything loads or is sent; a :class:`CliError` naming the flag otherwise."""
    chosen = backend_class(args.backend).settings_type
    try:
        settings = chosen.from_namespace(args)
    except ValueError as error:
        raise CliError(str(error)) from None
    wrong = foreign_flags(args)
    if wrong:
        raise CliError(wrong)
    if not settings.loads_weights:  # a server's client: its transport must be installed before any work
        try:
            require_aiohttp()
        except ImportError as error:
            raise CliError(str(error)) from None
    return settings
