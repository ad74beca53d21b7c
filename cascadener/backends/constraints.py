"""Choice constraints per server family: how a request asks for an answer kept to a list of choices.

Every OpenAI-compatible server spells a choice constraint its own way, and most of them silently
ignore the spellings they do not know (vLLM, SGLang, llama.cpp's server, TGI, Ollama answer HTTP
200 with a free answer; ``transformers serve`` and the OpenAI API reject unknown fields). So an
adapter is never trusted on its name: :mod:`cascadener.backends.probe` sends one small request
with it and checks that the answer obeys.

===================  ======================================================  ==========================
adapter              request field(s)                                        servers
===================  ======================================================  ==========================
``choice``           ``"structured_outputs": {"choice": [...]}``             vLLM >= 0.11
``guided``           ``"guided_choice": [...]``                              vLLM < 0.12
``regex``            ``"regex": "(a|b)"``                                    SGLang
``grammar``          ``"grammar": 'root ::= "a" | "b"'`` (GBNF)              llama.cpp's server
``tgi-json``         ``"response_format": {"type": "json", "value": S}``     TGI
``json-schema``      ``"response_format": {"type": "json_schema", ...}``     OpenAI and hosted APIs, Ollama
===================  ======================================================  ==========================

``S`` is a JSON schema of one object whose ``label`` field is an ``enum`` of the choices; the JSON
adapters' answers (``{"label": "city"}``, whitespace as the server writes it) are read back to the
label (:meth:`Adapter.read`). The bare adapters' answers are the choice itself.

>>> ADAPTERS["choice"].apply({"model": "m"}, ("city", "person"))
{'model': 'm', 'structured_outputs': {'choice': ['city', 'person']}}
>>> ADAPTERS["grammar"].apply({}, ('say "hi"', "a\\\\b"))["grammar"]
'root ::= "say \\\\"hi\\\\"" | "a\\\\\\\\b"'
>>> ADAPTERS["regex"].apply({}, ("St. Kitts (island)", "city"))["regex"]
'(St\\\\. Kitts \\\\(island\\\\)|city)'
>>> ADAPTERS["tgi-json"].read('{ "label": "city" }'), ADAPTERS["json-schema"].read('{"label": 3}')
('city', '{"label": 3}')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

__all__ = ["Adapter", "ADAPTERS", "ADAPTER_NAMES", "adapter", "choice_schema", "choice_regex", "choice_grammar"]

#: the field of the JSON answers
LABEL_FIELD = "label"


def choice_schema(choices: Sequence[str]) -> dict[str, Any]:
    """A JSON schema of one object whose ``label`` is one of ``choices`` (strict-mode valid:
    every property required, no others)."""
    return {"type": "object", "properties": {LABEL_FIELD: {"type": "string", "enum": list(choices)}},
            "required": [LABEL_FIELD], "additionalProperties": False}


_REGEX_SPECIAL = set("\\.^$|?*+()[]{}")


def choice_regex(choices: Sequence[str]) -> str:
    """An alternation matching exactly one of ``choices``, metacharacters escaped (spaces and ``-``
    are literal outside a class in every regex dialect these servers use)."""
    return "(" + "|".join("".join("\\" + c if c in _REGEX_SPECIAL else c for c in choice) for choice in choices) + ")"


def choice_grammar(choices: Sequence[str]) -> str:
    """A GBNF grammar (llama.cpp) whose root is one of ``choices`` (``"`` and ``\\`` escaped)."""
    literals = ['"' + choice.replace("\\", "\\\\").replace('"', '\\"') + '"' for choice in choices]
    return "root ::= " + " | ".join(literals)


def _read_bare(content: str) -> str:
    return content


def _read_json(content: str) -> str:
    """The ``label`` of a JSON answer; the text itself when it is not one (then it is off the list)."""
    try:
        value = json.loads(content)
    except ValueError:
        return content
    if isinstance(value, dict) and isinstance(value.get(LABEL_FIELD), str):
        return value[LABEL_FIELD]
    return content


@dataclass(frozen=True)
class Adapter:
    """One way of asking a server for an answer kept to the choices.

    ``name``: the ``--server-constraints`` value; ``field``: the request field it sets (what a
    server's rejection names); ``servers``: where it applies; ``build(choices)``: the field's
    value; ``read(content)``: the chosen text of an answer; ``extra_tokens``: budget beyond the
    longest choice (a JSON answer's braces, key and whitespace).
    """

    name: str
    field: str
    servers: str
    build: Callable[[Sequence[str]], Any]
    read: Callable[[str], str] = _read_bare
    extra_tokens: int = 0

    def apply(self, body: dict[str, Any], choices: Sequence[str]) -> dict[str, Any]:
        """``body`` with the constraint set (a new dict)."""
        return {**body, self.field: self.build(tuple(choices))}

    @property
    def json_answer(self) -> bool:
        """Whether answers are JSON objects (their log-probabilities cover the braces and key too)."""
        return self.read is _read_json

    def describe(self) -> str:
        """The adapter as recorded: ``choice (structured_outputs)``."""
        return f"{self.name} ({self.field})"


_ADAPTERS = (
    Adapter("choice", "structured_outputs", "vLLM >= 0.11", lambda c: {"choice": list(c)}),
    Adapter("guided", "guided_choice", "vLLM < 0.12", list),
    Adapter("regex", "regex", "SGLang", choice_regex),
    Adapter("grammar", "grammar", "llama.cpp server", choice_grammar),
    Adapter("tgi-json", "response_format", "TGI", lambda c: {"type": "json", "value": choice_schema(c)},
            _read_json, extra_tokens=16),
    Adapter("json-schema", "response_format", "OpenAI, hosted APIs, Ollama",
            lambda c: {"type": "json_schema", "json_schema": {"name": LABEL_FIELD, "strict": True,
                                                              "schema": choice_schema(c)}},
            _read_json, extra_tokens=16),
)
#: name -> adapter, in the order a probe tries them on a server it cannot identify
ADAPTERS: Mapping[str, Adapter] = MappingProxyType({a.name: a for a in _ADAPTERS})
ADAPTER_NAMES: tuple[str, ...] = tuple(ADAPTERS)


def adapter(name: str) -> Adapter:
    """The adapter named ``name``; ``ValueError`` listing the names otherwise."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown constraint adapter {name!r}; allowed: {', '.join(ADAPTERS)}") from None
