"""GPT-NER's prompt strings (Wang et al., 2023; github ShuheWang1998/GPT-NER @6b51ea8), in one place.

The published scripts build them in ``openai_access/get_results_mrc_knn.py`` (``mrc2prompt``,
extraction) and ``openai_access/verify_results.py`` (``transferPrompt``, self-verification); the
templates below are theirs, character for character (``tests/test_gpt_ner.py`` types the published
lines in and compares). What this kit puts into them for DynamicNER:

- ``{dataset}``: the published template names "OntoNotes5.0" for every dataset, CoNLL included
  (hard-coded); here it names the data being labelled, :data:`DATASET` ("DynamicNER").
- ``{label}``: the published code maps each dataset label to a lower-case name ("LOC" ->
  "location"); DynamicNER's types already are such names, so the type is used as it is.
- ``{description}``: the published code completes "... {label} entities that {description}" from
  a hand-written table per dataset ("are the name of politically or geographically defined
  locations ..."). DynamicNER has hundreds of types and no such table, and a type list may hold
  any of them, so every type gets the same honest predicate, :data:`DESCRIPTION`
  (``belong to the type "{type}"``): the type's name is the only description the data gives.
- The article stays "an" before every label ("an city entity"), as published.

An extraction prompt, one per sentence and type of its list::

    You are an excellent linguist. Within the DynamicNER dataset, the task is to label city entities that
    belong to the type "city". Below are some examples, and you should make the same prediction as the examples.
    The given sentence: <demonstration 1>
    The labeled sentence: <demonstration 1 with its city entities wrapped as @@...##>
    ...
    The given sentence: <the sentence>
    The labeled sentence:

The model answers with the sentence, its entities of that type wrapped in ``@@`` and ``##``
(:mod:`cascadener.methods.gpt_ner.parsing`). The prompt goes out as one user turn with no system
text (a chat model's own template may add its default), as the published completion prompt had none.

Example:
    >>> print(extraction_prompt("Ada flew to Oslo .", "city", [("Bob met Ann in Rome .", [(15, 19)])]))
    You are an excellent linguist. Within the DynamicNER dataset, the task is to label city entities that belong to the type "city". Below are some examples, and you should make the same prediction as the examples.
    The given sentence: Bob met Ann in Rome .
    The labeled sentence: Bob met Ann in @@Rome## .
    The given sentence: Ada flew to Oslo .
    The labeled sentence:
    >>> print(verification_prompt("Ada flew to Oslo .", "Oslo", "city"), end="")
    You are an excellent linguist. The task is to verify whether the word is an city entity extracted from the given sentence. City entities belong to the type "city".
    <BLANKLINE>
    The given sentence: Ada flew to Oslo .
    Is the word "Oslo" in the given sentence an city entity? Please answer with yes or no.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

__all__ = ["OPEN", "CLOSE", "DATASET", "DESCRIPTION", "EXTRACTION_INSTRUCTION", "DEMONSTRATION", "QUERY",
           "VERIFICATION_INSTRUCTION", "VERIFICATION_QUESTION", "ANSWER_PREFIX", "mark", "type_description",
           "extraction_prompt", "verification_prompt", "prompt_hash", "answer_budget", "VERIFY_BUDGET"]

#: the markers around an entity in a labeled sentence
OPEN = "@@"
CLOSE = "##"
#: the dataset the instruction names (the published code: "OntoNotes5.0", for every dataset)
DATASET = "DynamicNER"
#: the predicate completing "... {label} entities that {description}" for a DynamicNER type
DESCRIPTION = 'belong to the type "{type}"'

EXTRACTION_INSTRUCTION = ("You are an excellent linguist. Within the {dataset} dataset, the task is to label {label} "
                          "entities that {description}. Below are some examples, and you should make the same "
                          "prediction as the examples.\n")
DEMONSTRATION = "The given sentence: {sentence}\nThe labeled sentence: {labeled}\n"
QUERY = "The given sentence: {sentence}\nThe labeled sentence:"
#: the line of the answer that holds the labeled sentence, when a chat model repeats the cue
ANSWER_PREFIX = "The labeled sentence:"

VERIFICATION_INSTRUCTION = ("You are an excellent linguist. The task is to verify whether the word is an {label} entity "
                            "extracted from the given sentence. {upper_label} entities {description}.\n\n")
VERIFICATION_QUESTION = ("The given sentence: {sentence}\nIs the word \"{entity}\" in the given sentence an {label} "
                         "entity? Please answer with yes or no.\n")

#: the answer budget of a verification question (the answer is read from its first three characters)
VERIFY_BUDGET = 8


def mark(sentence: str, spans: Sequence[tuple[int, int]]) -> str:
    """``sentence`` with each ``(start, end)`` span wrapped as ``@@...##`` (by characters; spans sorted,
    never overlapping: :meth:`cascadener.methods.demonstrations.Demonstration.spans`).

    >>> mark("Talks in New York and Paris ended .", [(9, 17), (22, 27)])
    'Talks in @@New York## and @@Paris## ended .'
    """
    pieces: list[str] = []
    cursor = 0
    for start, end in spans:
        if start < cursor or not 0 <= start < end <= len(sentence):
            raise ValueError(f"span ({start}, {end}) overlaps another or lies outside {sentence!r}")
        pieces += [sentence[cursor:start], OPEN, sentence[start:end], CLOSE]
        cursor = end
    pieces.append(sentence[cursor:])
    return "".join(pieces)


def type_description(type_name: str) -> str:
    """The ``{description}`` of a DynamicNER type (see the module doc).

    >>> type_description("water body")
    'belong to the type "water body"'
    """
    return DESCRIPTION.format(type=type_name)


def extraction_prompt(sentence: str, type_name: str, demonstrations: Sequence[tuple[str, Sequence[tuple[int, int]]]],
                      *, dataset: str = DATASET, description: str | None = None) -> str:
    """The extraction prompt for ``type_name`` in ``sentence``; ``demonstrations``: ``(sentence, spans of
    that type)`` pairs, shown in order. ``description`` overrides :func:`type_description`."""
    prompt = EXTRACTION_INSTRUCTION.format(dataset=dataset, label=type_name,
                                           description=type_description(type_name) if description is None else description)
    for demo, spans in demonstrations:
        prompt += DEMONSTRATION.format(sentence=demo, labeled=mark(demo, spans))
    return prompt + QUERY.format(sentence=sentence)


def verification_prompt(sentence: str, entity: str, type_name: str, *, description: str | None = None) -> str:
    """The zero-shot self-verification question (the published ``verify.sh`` setting) about ``entity``."""
    upper = type_name[:1].upper() + type_name[1:]
    return (VERIFICATION_INSTRUCTION.format(label=type_name, upper_label=upper,
                                            description=type_description(type_name) if description is None
                                            else description)
            + VERIFICATION_QUESTION.format(sentence=sentence, entity=entity, label=type_name))


def answer_budget(text_tokens: int) -> int:
    """The answer budget of an extraction question: the sentence again with markers, as CascadeNER's
    stage 1 (:func:`cascadener.prompts.stage1_budget`; the published scripts asked for 512 tokens).

    >>> answer_budget(10)
    36
    """
    from cascadener.prompts import stage1_budget

    return stage1_budget(text_tokens)


def prompt_hash(*, demonstrations: int | None, selection: str, verify: bool, retriever: str | None = None) -> str:
    """A short stable hash of the prompts sent: the templates, the dataset name, the description and
    what chooses the demonstrations (their number, ``None`` = resolved from the model, and selection).

    >>> len(prompt_hash(demonstrations=8, selection="random", verify=False))
    12
    """
    payload: dict[str, Any] = {
        "method": "gpt-ner", "markers": [OPEN, CLOSE], "dataset": DATASET, "description": DESCRIPTION,
        "extraction": [EXTRACTION_INSTRUCTION, DEMONSTRATION, QUERY],
        "verification": [VERIFICATION_INSTRUCTION, VERIFICATION_QUESTION] if verify else None,
        "demonstrations": demonstrations, "selection": selection, "retriever": retriever,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:12]
