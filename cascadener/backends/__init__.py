"""Backends: what runs the model under the methods (see :mod:`cascadener.backends.base`).

- :class:`~cascadener.backends.local.TransformersBackend`: a local ``AutoModelForCausalLM``;
- :class:`~cascadener.backends.server.OpenAIBackend`: an OpenAI-compatible chat-completions
  endpoint, through :class:`~cascadener.backends.http.ChatClient`.

They are registered by name in :mod:`cascadener.backends.registry`:

>>> from cascadener.backends import BACKENDS
>>> tuple(BACKENDS)
('transformers', 'openai')
"""

from cascadener.backends.base import Backend, BackendSettings, Capabilities, Choice, Usage
from cascadener.backends.http import EndpointOptions
from cascadener.backends.local import LocalSettings
from cascadener.backends.registry import BACKENDS, DEFAULT_BACKEND, backend_class
from cascadener.backends.server import EndpointSettings

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Backend", "BackendSettings", "Capabilities", "Choice", "EndpointOptions",
           "EndpointSettings", "LocalSettings", "Usage", "backend_class"]
