"""Integrations: the kit's methods inside other frameworks.

- :mod:`cascadener.integrations.inspect_task`: DynamicNER as an Inspect AI task
  (``inspect eval cascadener/dynamicner``; ``pip install "dynamicner-kit[inspect]"``), its methods
  run on the evaluated model through :mod:`cascadener.integrations.inspect_backend`.
"""
