"""The backends by name: what ``--backend`` chooses, and the one place that knows their names.

:data:`BACKENDS` maps each name to its backend class; everything that picks a backend looks it up
here (:func:`backend_class`) instead of comparing names.

>>> tuple(BACKENDS), DEFAULT_BACKEND
(('transformers', 'openai'), 'transformers')
>>> backend_class("openai").__name__
'OpenAIBackend'
>>> backend_class("vllm")
Traceback (most recent call last):
...
ValueError: unknown backend 'vllm'; allowed: transformers, openai
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from cascadener.backends.local import TransformersBackend
from cascadener.backends.server import OpenAIBackend

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "backend_class"]

#: name -> backend class, in the order ``--backend`` lists them
BACKENDS: Mapping[str, type] = MappingProxyType({cls.name: cls for cls in (TransformersBackend, OpenAIBackend)})
#: the backend of a run that names none
DEFAULT_BACKEND: str = TransformersBackend.name


def backend_class(name: str) -> type:
    """The backend class registered as ``name``; ``ValueError`` listing the names otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; allowed: {', '.join(BACKENDS)}") from None
