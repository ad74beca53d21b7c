"""Methods: what turns texts and their type lists into entities, on any backend.

A method is a class registered in :data:`METHODS` under its name (``--method``); everything that
predicts (``cascadener predict``, the main job) looks it up here and talks to the object through
:class:`Method`, so methods share the backends (:mod:`cascadener.backends`), the records (the span
record, :class:`~cascadener.pipeline.PredictionRun` with its
:class:`~cascadener.pipeline.PredictStats` and usage), resume, the output lock and the scoring.

Three methods are registered, the three of the DynamicNER paper's comparison (``docs/methods.md``):

- ``cascadener``: CascadeNER's two stages (:class:`cascadener.pipeline.CascadeNER`);
- ``gpt-ner``: GPT-NER, one question per type (:class:`cascadener.methods.gpt_ner.GptNer`);
- ``promptner``: PromptNER, one chat per sentence (:class:`cascadener.methods.promptner.PromptNer`).

The prompt methods share :mod:`cascadener.methods.fewshot` (one model, windows, the setting) and draw
their demonstrations from training sentences (:mod:`cascadener.methods.demonstrations`).

>>> tuple(METHODS), DEFAULT_METHOD
(('cascadener', 'gpt-ner', 'promptner'), 'cascadener')
>>> method_class("promptner").__name__
'PromptNer'
>>> method_class("gpt_ner")
Traceback (most recent call last):
...
ValueError: unknown method 'gpt_ner'; allowed: cascadener, gpt-ner, promptner
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from cascadener.methods.base import Method, MethodOptions, option_flags
from cascadener.methods.demonstrations import DemonstrationPool
from cascadener.methods.gpt_ner import GptNer, GptNerOptions
from cascadener.methods.promptner import PromptNer, PromptNerOptions
from cascadener.pipeline import CascadeNER

__all__ = ["METHODS", "DEFAULT_METHOD", "Method", "MethodOptions", "method_class", "option_flags", "CascadeNER",
           "GptNer", "GptNerOptions", "PromptNer", "PromptNerOptions", "DemonstrationPool"]

#: name -> method class, in the order ``--method`` lists them
METHODS: Mapping[str, type[Method]] = MappingProxyType({cls.name: cls for cls in (CascadeNER, GptNer, PromptNer)})
#: the method of a run that names none
DEFAULT_METHOD: str = CascadeNER.name


def method_class(name: str) -> type[Method]:
    """The method class registered as ``name``; ``ValueError`` listing the names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}") from None
