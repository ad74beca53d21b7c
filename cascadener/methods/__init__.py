"""Methods: what turns texts and their type lists into entities, on any backend.

A method is a class registered in :data:`METHODS` under its name (``--method``); everything that
predicts (``cascadener predict``, the main job) looks it up here and talks to the object through
:class:`Method`, so methods share the backends (:mod:`cascadener.backends`), the records (the span
record, :class:`~cascadener.pipeline.PredictionRun` with its
:class:`~cascadener.pipeline.PredictStats` and usage), resume, the output lock and the scoring.

Today one method is registered: CascadeNER's two stages (:class:`cascadener.pipeline.CascadeNER`).

>>> tuple(METHODS), DEFAULT_METHOD
(('cascadener',), 'cascadener')
>>> method_class("cascadener").__name__
'CascadeNER'
>>> method_class("gpt-ner")
Traceback (most recent call last):
...
ValueError: unknown method 'gpt-ner'; allowed: cascadener
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from cascadener.methods.base import Method, MethodOptions
from cascadener.pipeline import CascadeNER

__all__ = ["METHODS", "DEFAULT_METHOD", "Method", "MethodOptions", "method_class"]

#: name -> method class, in the order ``--method`` lists them
METHODS: Mapping[str, type[Method]] = MappingProxyType({cls.name: cls for cls in (CascadeNER,)})
#: the method of a run that names none
DEFAULT_METHOD: str = CascadeNER.name


def method_class(name: str) -> type[Method]:
    """The method class registered as ``name``; ``ValueError`` listing the names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}") from None
