"""PromptNER (Ashok & Lipton, 2023) as a method: its prompts (:mod:`~cascadener.methods.promptner.prompts`),
its answers read and placed by characters (:mod:`~cascadener.methods.promptner.parsing`) and the method
(:mod:`~cascadener.methods.promptner.method`). See ``docs/methods.md``."""

from cascadener.methods.promptner.method import DEFAULT_DEMONSTRATIONS, PromptNer, PromptNerOptions

__all__ = ["PromptNer", "PromptNerOptions", "DEFAULT_DEMONSTRATIONS"]
