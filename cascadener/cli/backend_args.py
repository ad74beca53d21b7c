"""The backend options ``cascadener predict`` and ``cascadener run`` share: which backend runs the
model, and for ``--backend openai``, where the server is and how to talk to it.

``--backend transformers`` (default) loads ``--extractor``/``--classifier`` locally;
``--backend openai --base-url URL --model NAME [--classifier-model NAME]`` sends the same prompts
to an OpenAI-compatible ``/v1/chat/completions`` server. The API key is read from the environment
variable named by ``--api-key-env`` (default ``OPENAI_API_KEY``): there is no option that takes the
key itself, so it never lands in a shell history, a process list, a meta file or a results JSON.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_backend_arguments(parser)
    >>> args = parser.parse_args(["--backend", "openai", "--base-url", "http://127.0.0.1:8000/v1", "--model", "m"])
    >>> check_backend_arguments(args)
    >>> backend_identity(args)
    {'backend': 'openai', 'extractor': 'm', 'classifier': None, 'server_constraints': 'auto', 'context_tokens': None}
"""

from __future__ import annotations

import argparse
from typing import Any

from cascadener.cli.common import CliError, int_at_least, positive_int

__all__ = ["add_backend_arguments", "check_backend_arguments", "backend_identity", "endpoint_pipeline",
           "server_description"]


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


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    from cascadener.backends.registry import BACKENDS
    from cascadener.backends.server import SERVER_CONSTRAINTS

    group = parser.add_argument_group("backend (docs/serving.md)")
    group.add_argument("--backend", choices=BACKENDS, default="transformers",
                       help="transformers: load the models here; openai: an OpenAI-compatible server (default: %(default)s)")
    group.add_argument("--base-url", default=None, help="openai: the server's URL up to /v1, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--model", default=None, help="openai: the served model name for both stages")
    group.add_argument("--classifier-model", default=None, help="openai: another served model for stage 2")
    group.add_argument("--classifier-base-url", default=None,
                       help="openai: the URL of the server of --classifier-model, when it is another server")
    group.add_argument("--api-key-env", default="OPENAI_API_KEY",
                       help="openai: the environment variable holding the API key (unset: no key) (default: %(default)s)")
    group.add_argument("--concurrency", type=positive_int, default=8,
                       help="openai: requests in flight (default: %(default)s)")
    group.add_argument("--timeout", type=_positive_float, default=120.0,
                       help="openai: seconds per request attempt (default: %(default)s)")
    group.add_argument("--max-retries", type=_non_negative_int, default=5,
                       help="openai: retries on 429, 5xx, timeouts and connection errors (default: %(default)s)")
    group.add_argument("--context-tokens", type=positive_int, default=None,
                       help="openai: the served model's context length; longer texts are read in overlapping "
                            "windows (default: sent whole)")
    group.add_argument("--server-constraints", choices=SERVER_CONSTRAINTS, default="auto",
                       help="openai, stage 2: choice constraints; choice = vLLM structured_outputs, guided = "
                            "guided_choice (vLLM < 0.12), auto = the first the server accepts (default: %(default)s)")


def check_backend_arguments(args: argparse.Namespace) -> None:
    """User errors of the backend options, before anything is loaded or sent."""
    if args.backend == "openai":
        missing = [flag for flag, value in (("--base-url", args.base_url), ("--model", args.model)) if not value]
        if missing:
            raise CliError(f"--backend openai needs {' and '.join(missing)}")
        if args.classifier_base_url and not args.classifier_model:
            raise CliError("--classifier-base-url needs --classifier-model (the model that server serves)")
        for flag in ("extractor", "classifier"):
            if getattr(args, flag, None):
                raise CliError(f"--{flag} loads a local model; with --backend openai use --model/--classifier-model")
        if getattr(args, "classification", None) == "constrained" and args.server_constraints == "none":
            raise CliError("--classification constrained on a server needs choice constraints: "
                           "--server-constraints auto, choice or guided")
        from cascadener.backends.http import EndpointOptions

        for flag, url in (("--base-url", args.base_url), ("--classifier-base-url", args.classifier_base_url)):
            if url is None:
                continue
            try:
                EndpointOptions(url, api_key_env=args.api_key_env)
            except ValueError as error:
                raise CliError(f"{flag}: {error}") from None
    else:
        used = [flag for flag, value in (("--base-url", args.base_url), ("--model", args.model),
                                         ("--classifier-model", args.classifier_model),
                                         ("--context-tokens", args.context_tokens),
                                         ("--classifier-base-url", args.classifier_base_url)) if value]
        if used:
            raise CliError(f"{', '.join(used)} only appl{'y' if len(used) > 1 else 'ies'} with --backend openai")
        if getattr(args, "extractor", None) is None and getattr(args, "requires_extractor", True):
            raise CliError("--extractor is required with --backend transformers (or use --backend openai)")


def backend_identity(args: argparse.Namespace) -> dict[str, Any]:
    """What identifies the backend's predictions (compared by ``--resume``): never a URL's secret or a key.

    The server's URL is not part of it: the same model moved to another host gives the same outputs.
    """
    if args.backend == "openai":
        return {"backend": "openai", "extractor": args.model, "classifier": args.classifier_model,
                "server_constraints": args.server_constraints, "context_tokens": args.context_tokens}
    return {"backend": "transformers"}


def server_description(args: argparse.Namespace) -> dict[str, Any] | None:
    """The server settings recorded beside the options (not compared on resume)."""
    if args.backend != "openai":
        return None
    return {"base_url": args.base_url, "classifier_base_url": args.classifier_base_url,
            "api_key_env": args.api_key_env, "concurrency": args.concurrency,
            "timeout": args.timeout, "max_retries": args.max_retries}


def endpoint_pipeline(args: argparse.Namespace):
    """The :class:`cascadener.pipeline.CascadeNER` of ``--backend openai``."""
    from cascadener.pipeline import CascadeNER

    try:
        return CascadeNER.from_endpoint(args.base_url, args.model, args.classifier_model,
                                        classifier_base_url=args.classifier_base_url, api_key_env=args.api_key_env, concurrency=args.concurrency,
                                        timeout=args.timeout, max_retries=args.max_retries,
                                        server_constraints=args.server_constraints, context_tokens=args.context_tokens)
    except (ValueError, ImportError) as error:
        raise CliError(str(error)) from None
