"""PromptNER's prompt strings (Ashok & Lipton, 2023; github DhananjayAshok/PromptNER @cc1e3b5), in one place.

The published chat prompt (``algorithms.py``: ``Algorithm.perform_chat_query`` with the defaults of
``run.py``: definition, exemplars, an explanation per candidate and True/False) is

- a system turn: ``"You are an entity recognition system. "`` + the definition + ``" "`` + the
  question :data:`QUESTION` (ending ``"\\nParagraph:"``);
- per exemplar, a user turn (the exemplar's sentence and ``"\\nAnswer:"``) and an assistant turn
  (its numbered list), cut from one exemplar string at ``"Answer:"`` as published
  (:func:`exemplar_turns`);
- the question's user turn: ``"\\nParagraph: {paragraph} \\nAnswer:"``.

Those strings are the published ones, character for character (``tests/test_promptner.py`` types
them in and compares). What this kit puts into them for DynamicNER:

- The definition is built from the sample's own type list (:func:`definition`), in the published
  pattern "An entity is <description> (<label>), ... or <description> (<label>)." (e.g. the CoNLL
  configuration's "An entity is a person (PER), title, named organization (ORG), ..."): the
  description of a DynamicNER type is its name with "a"/"an" (an initial vowel letter takes "an"),
  the label in parentheses its name, which is what the model must write back.
- The exemplars are the project's own: training sentences of the sample's language chosen to cover
  its type list (:func:`cascadener.methods.demonstrations.choose_covering`), each answered in the
  published list format ``N. phrase | True | explanation (type)`` by :func:`exemplar_answer`. The
  published configurations hold three hand-written CoNLL sentences with the authors' own
  explanations (fixed, CoNLL labels) or asks the model to write them (``autogen``, one call per
  token); neither fits a type list that changes with every sample, and the kit copies no dataset's
  sentences. The explanations are therefore templated: "X is an entity of type T (T)" for an entity
  of a listed type (True: T is the deepest listed type on the entity's taxonomy path), "X is an
  entity of type T, which is not among the listed types" for an entity of another type (False). The exemplar string has the published autogen layout
  (``sentence\\nAnswer: \\n\\n1. ...``), without the hand-written exemplars' indentation.

Example:
    >>> print(definition_for(["city", "athlete", "other geographical entity"]))
    An entity is a city (city), an athlete (athlete) or an other geographical entity (other geographical entity).
    >>> exemplar = exemplar_text("Ada flew to Oslo .", [(12, 16, "city"), (0, 3, "person")], ["city"])
    >>> exemplar_turns(exemplar)
    ('Ada flew to Oslo .\\nAnswer:', '1. Ada | False | Ada is an entity of type person, which is not among the listed types\\n2. Oslo | True | Oslo is an entity of type city (city)')
    >>> chat_prompt("Bob met Ann .", ["person"], [exemplar]).messages[-1]
    ('user', '\\nParagraph: Bob met Ann . \\nAnswer:')
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

from cascadener.backends.base import ChatPrompt

__all__ = ["CHATBOT_INIT", "QUESTION", "QUERY", "ANSWER_CUE", "TRUE_ITEM", "FALSE_ITEM", "definition",
           "definition_for", "article", "system_text", "exemplar_text", "exemplar_answer", "exemplar_turns",
           "chat_prompt", "prompt_hash", "answer_budget", "ANSWER_TOKENS_PER_TEXT_TOKEN", "ANSWER_EXTRA_TOKENS"]

CHATBOT_INIT = "You are an entity recognition system. "
QUESTION = ("Q: Given the paragraph below, identify a list of possible entities and for each entry explain why it "
            "either is or is not an entity. \nParagraph:")
QUERY = "\nParagraph: {paragraph} \nAnswer:"
#: where an exemplar string is cut into its user and assistant turns
ANSWER_CUE = "Answer:"
#: the project's exemplar explanations (the published ones are the authors' hand-written prose)
TRUE_ITEM = "{number}. {phrase} | True | {phrase} is an entity of type {type} ({type})"
FALSE_ITEM = "{number}. {phrase} | False | {phrase} is an entity of type {type}, which is not among the listed types"

#: the answer budget is ``ANSWER_TOKENS_PER_TEXT_TOKEN * n + ANSWER_EXTRA_TOKENS`` for a paragraph of
#: ``n`` tokens: a list of candidates, each with a sentence of explanation
ANSWER_TOKENS_PER_TEXT_TOKEN = 8
ANSWER_EXTRA_TOKENS = 128


def article(name: str) -> str:
    """ "an" before an initial vowel letter, else "a" (a heuristic: "an university").

    >>> article("athlete"), article("city")
    ('an', 'a')
    """
    return "an" if name[:1].lower() in "aeiou" else "a"


def definition(items: Sequence[tuple[str, str | None]]) -> str:
    """The published definition pattern over ``(description, label)`` items (label ``None``: the
    description alone, as "title" in the CoNLL definition).

    >>> definition([("a person", "PER"), ("title", None), ("location", "LOC")])
    'An entity is a person (PER), title or location (LOC).'
    """
    if not items:
        raise ValueError("a definition needs at least one type")
    parts = [description if label is None else f"{description} ({label})" for description, label in items]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
    return f"An entity is {listed}."


def definition_for(types: Sequence[str]) -> str:
    """The definition of a sample's type list (see the module doc)."""
    return definition([(f"{article(name)} {name}", name) for name in dict.fromkeys(types)])


def system_text(types: Sequence[str]) -> str:
    """The system turn: the init, the definition of ``types`` and the question."""
    return CHATBOT_INIT + definition_for(types) + " " + QUESTION


def exemplar_answer(text: str, entities: Sequence[tuple[int, int, str]], types: Sequence[str]) -> str:
    """The numbered list answering an exemplar: each entity in text order, True when its type is listed.

    >>> exemplar_answer("Ada met Bob", [(8, 11, "person"), (0, 3, "person")], ["person"]).splitlines()[0]
    '1. Ada | True | Ada is an entity of type person (person)'
    """
    listed = set(types)
    lines = []
    for number, (start, end, label) in enumerate(sorted(entities, key=lambda e: (e[0], -e[1], e[2])), start=1):
        template = TRUE_ITEM if label in listed else FALSE_ITEM
        lines.append(template.format(number=number, phrase=text[start:end], type=label))
    return "\n".join(lines)


def exemplar_text(text: str, entities: Sequence[tuple[int, int, str]], types: Sequence[str]) -> str:
    """One exemplar as a string in the published autogen layout: the sentence, ``"\\nAnswer: \\n"``, then
    each list line after a newline."""
    answer = exemplar_answer(text, entities, types)
    return text + "\n" + ANSWER_CUE + " \n" + "".join("\n" + line for line in answer.splitlines())


def exemplar_turns(exemplar: str) -> tuple[str, str]:
    """The user and assistant turns of an exemplar string, cut after its first ``"Answer:"`` and
    stripped, as ``perform_chat_query`` does."""
    cut = exemplar.index(ANSWER_CUE) + len(ANSWER_CUE)
    return exemplar[:cut].strip(), exemplar[cut:].strip()


def chat_prompt(paragraph: str, types: Sequence[str], exemplars: Sequence[str]) -> ChatPrompt:
    """The whole chat for one paragraph: system, the exemplars' turns, the question."""
    messages: list[tuple[str, str]] = [("system", system_text(types))]
    for exemplar in exemplars:
        user, assistant = exemplar_turns(exemplar)
        messages += [("user", user), ("assistant", assistant)]
    messages.append(("user", QUERY.format(paragraph=paragraph)))
    return ChatPrompt(tuple(messages))


def answer_budget(text_tokens: int) -> int:
    """The answer budget of a paragraph of ``text_tokens`` tokens (the published code's local models
    had 200 or 600 new tokens, whatever the paragraph).

    >>> answer_budget(10)
    208
    """
    return ANSWER_TOKENS_PER_TEXT_TOKEN * text_tokens + ANSWER_EXTRA_TOKENS


def prompt_hash(*, demonstrations: int | None) -> str:
    """A short stable hash of the prompts sent: the templates and the number of exemplars (``None``:
    resolved from the model).

    >>> len(prompt_hash(demonstrations=3))
    12
    """
    payload: dict[str, Any] = {"method": "promptner", "init": CHATBOT_INIT, "question": QUESTION, "query": QUERY,
                               "cue": ANSWER_CUE, "items": [TRUE_ITEM, FALSE_ITEM], "definition": definition_for(["T"]),
                               "demonstrations": demonstrations}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:12]
