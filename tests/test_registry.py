"""The backend registry: one place knows the backends' names; everything else looks them up.

- every module of the package and ``bench/`` is read with ``ast``: no comparison with a backend's
  name (``==``, ``!=``, ``in``, ``match``) outside ``cascadener/backends/registry.py``;
- ``--backend``'s choices, default and help come from the registry, and every flag a backend's
  settings read is an option of ``predict`` (and of ``run``, but the local model flags ``run`` has
  not);
- settings own what ``--resume`` compares and what is recorded beside it.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from cascadener.backends.http import EndpointOptions
from cascadener.backends.local import LocalSettings
from cascadener.backends.registry import BACKENDS, DEFAULT_BACKEND, backend_class
from cascadener.backends.server import EndpointSettings

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "cascadener" / "backends" / "registry.py"


def _strings(node: ast.AST) -> set[str]:
    """The string constants a comparison operand stands for (itself, or the items of a literal container)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {item.value for item in node.elts if isinstance(item, ast.Constant) and isinstance(item.value, str)}
    return set()


def name_comparisons(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """``(line, name)`` of every comparison of something with one of ``names`` written as a literal."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                found.extend((node.lineno, name) for name in sorted(_strings(operand) & names))
        elif isinstance(node, ast.match_case):
            for pattern in ast.walk(node.pattern):
                if isinstance(pattern, ast.MatchValue):
                    found.extend((pattern.lineno, name) for name in sorted(_strings(pattern.value) & names))
    return found


def test_the_checker_finds_name_comparisons():
    source = ("if args.backend == 'openai': pass\n"
              "x = backend != \"transformers\"\n"
              "y = name in ('openai', 'other')\n"
              "match name:\n    case 'openai': pass\n"
              "z = {'openai': 1}\nw = backend.name == other.name\n")
    assert name_comparisons(ast.parse(source), {"openai", "transformers"}) == [
        (1, "openai"), (2, "transformers"), (3, "openai"), (5, "openai")]


def test_no_backend_name_is_compared_outside_the_registry():
    names = set(BACKENDS)
    files = [*sorted((ROOT / "cascadener").rglob("*.py")), *sorted((ROOT / "bench").glob("*.py"))]
    wrong = [f"{path.relative_to(ROOT)}:{line} compares with {name!r}"
             for path in files if path != REGISTRY
             for line, name in name_comparisons(ast.parse(path.read_text(encoding="utf-8")), names)]
    assert not wrong, "look the backend up in cascadener.backends.registry instead:\n" + "\n".join(wrong)


def test_registry_names_classes_and_refuses_unknown_names():
    assert DEFAULT_BACKEND in BACKENDS
    for name, cls in BACKENDS.items():
        assert cls.name == name == cls.settings_type.backend and backend_class(name) is cls
        assert cls.description
    with pytest.raises(ValueError, match="unknown backend 'vllm'; allowed: transformers, openai"):
        backend_class("vllm")
    with pytest.raises(TypeError):
        BACKENDS["other"] = object  # type: ignore[index]


@pytest.mark.parametrize("command", ["predict", "run"])
def test_backend_option_and_flags_come_from_the_registry(command):
    from cascadener.cli import build_parser

    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]  # noqa: SLF001 - argparse keeps them there
    actions = {action.dest: action for action in sub._actions}
    assert tuple(actions["backend"].choices) == tuple(BACKENDS) and actions["backend"].default == DEFAULT_BACKEND
    assert all(cls.description in actions["backend"].help for cls in BACKENDS.values())
    for cls in BACKENDS.values():
        flags = cls.settings_type.flags
        if command == "run" and cls.settings_type.loads_weights:  # run trains or takes --extractor/--classifier
            flags = {flag: default for flag, default in flags.items() if flag in ("extractor", "classifier")}
        for flag, default in flags.items():
            assert flag in actions, f"cascadener {command} has no flag for {cls.name}'s {flag}"
            if command == "predict":
                assert actions[flag].default == default, flag


def _namespace(**values) -> argparse.Namespace:
    from cascadener.cli.predict import build_parser_for_tests

    return build_parser_for_tests().parse_args(["--jsonl", "in.jsonl", "-o", "out.jsonl"]) if not values else \
        argparse.Namespace(**{**vars(_namespace()), **values})


def test_settings_from_the_command_line():
    from cascadener.cli.backend_args import backend_settings

    local = backend_settings(_namespace(extractor="models/e", device="cpu"))
    assert local == LocalSettings("models/e", device="cpu")
    assert (local.identity(), local.record(), local.in_flight(5)) == ({}, None, 5)
    served = backend_settings(_namespace(backend="openai", base_url="http://127.0.0.1:8000/v1", model="m",
                                         classifier_model="c", classifier_base_url="http://127.0.0.1:8001/v1",
                                         concurrency=3, server_constraints="none"))
    assert served == EndpointSettings(EndpointOptions("http://127.0.0.1:8000/v1", concurrency=3), "m", "c",
                                      classifier_endpoint=EndpointOptions("http://127.0.0.1:8001/v1", concurrency=3),
                                      server_constraints="none")
    assert served.identity() == {"backend": "openai", "extractor": "m", "classifier": "c",
                                 "server_constraints": "none", "context_tokens": None, "tokenizer": None}
    assert served.record()["classifier_base_url"] == "http://127.0.0.1:8001/v1" and served.in_flight(5) == 3
    assert served.models() == {} and served.capabilities().choice is False


@pytest.mark.parametrize("values, message", [
    ({"backend": "transformers", "extractor": "e", "concurrency": 2}, "--concurrency only applies with --backend openai"),
    ({"backend": "transformers", "extractor": "e", "base_url": "http://h/v1", "model": "m"},
     "--base-url, --model only apply with --backend openai"),
    ({"backend": "openai", "base_url": "http://h/v1", "model": "m", "device": "cpu"},
     "--device only applies with --backend transformers"),
    ({"backend": "openai", "base_url": "http://h/v1", "model": "m", "classifier": "c"},
     "--classifier loads a local model; it only applies with --backend transformers"),
])
def test_a_flag_of_another_backend_is_refused(values, message):
    from cascadener.cli.backend_args import backend_settings
    from cascadener.cli.common import CliError

    with pytest.raises(CliError, match=message):
        backend_settings(_namespace(**values))


def test_the_served_main_job_keeps_every_endpoint_option():
    """The main job predicts on the settings it is given: every endpoint option reaches the client."""
    from cascadener.benchmark import BenchmarkOptions, prediction_backend
    from cascadener.pipeline import CascadeNER

    endpoint = EndpointOptions("http://127.0.0.1:9/v1", concurrency=2, backoff=0.125, max_backoff=2.0)
    options = BenchmarkOptions(Path("out"), served=EndpointSettings(endpoint, "m"))
    ner = CascadeNER.from_settings(prediction_backend(options, "m", "m"))
    assert ner.extractor_backend.client.options == endpoint and ner.classifier_backend is ner.extractor_backend
