"""Integrations: the kit's methods inside other frameworks.

- :mod:`cascadener.integrations.inspect_task`: DynamicNER as an Inspect AI task
  (``inspect eval cascadener/dynamicner``; ``pip install "dynamicner-kit[inspect]"``), its methods
  run on the evaluated model through :mod:`cascadener.integrations.inspect_backend`.
- :mod:`cascadener.integrations.spacy_component`: the ``cascadener`` spaCy component
  (``nlp.add_pipe("cascadener", config=...)``; ``pip install "dynamicner-kit[spacy]"``), found by
  spaCy through the ``spacy_factories`` entry point.
"""
