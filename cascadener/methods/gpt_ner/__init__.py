"""GPT-NER (Wang et al., 2023) as a method: its prompts (:mod:`~cascadener.methods.gpt_ner.prompts`), its
answers read by characters (:mod:`~cascadener.methods.gpt_ner.parsing`) and the method
(:mod:`~cascadener.methods.gpt_ner.method`). See ``docs/methods.md``."""

from cascadener.methods.gpt_ner.method import DEFAULT_DEMONSTRATIONS, GptNer, GptNerOptions

__all__ = ["GptNer", "GptNerOptions", "DEFAULT_DEMONSTRATIONS"]
