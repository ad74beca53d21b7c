"""Backends: what runs the model under the pipeline (see :mod:`cascadener.backends.base`).

- :class:`~cascadener.backends.local.TransformersBackend`: a local ``AutoModelForCausalLM``;
- :class:`~cascadener.backends.server.OpenAIBackend`: an OpenAI-compatible chat-completions
  endpoint, through :class:`~cascadener.backends.http.ChatClient`.

>>> from cascadener.backends import BACKENDS
>>> BACKENDS
('transformers', 'openai')
"""

from cascadener.backends.base import BACKENDS, Backend, Usage

__all__ = ["BACKENDS", "Backend", "Usage"]
