"""Every prompt string CascadeNER sends or trains on, in one place.

The released CascadeNER checkpoints (Qwen2.5 family, ChatML) were fine-tuned on exact strings;
inference and SFT data both build them here, so they cannot drift apart.

Stage 1 (extraction): the user turn is the raw sentence; the assistant answers the same sentence
with every entity wrapped as ``##entity##``.

Stage 2 (classification), three formats:

``"released"`` (default): the released classifier's inference format,
    ``The ##{entity}## in the sentence: "{sentence}" belong to which entity in the first list: {types}?``
    ("second list", "third list" for deeper levels of a hierarchical cascade).
``"marked"``: the dynamic-list format, with the mention marked inside the quoted sentence,
    ``The ##{entity}## in the sentence: "...##{entity}##..." belongs to which entity in the list: {types}?``
``"short"``: the context-free variant found in the released SFT data,
    ``##{entity}## belong to which entity in the list: {types}?``

Example:
    >>> stage2_prompt("Paris", "I love Paris .", ["person", "location"])
    'The ##Paris## in the sentence: "I love Paris ." belong to which entity in the first list: person, location?'
    >>> stage2_prompt("Paris", "I love Paris .", ["city", "person"], template="marked", start=7, end=12)
    'The ##Paris## in the sentence: "I love ##Paris## ." belongs to which entity in the list: city, person?'
    >>> stage2_prompt("Paris", "", ["city", "person"], template="short")
    '##Paris## belong to which entity in the list: city, person?'
    >>> mark_entities("I love Paris .", [(7, 12)])
    'I love ##Paris## .'
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal, Sequence

SYSTEM_PROMPT = "You are a helpful assistant."
MARKER = "##"
TYPE_SEPARATOR = ", "

Stage2Template = Literal["released", "marked", "short"]
STAGE2_TEMPLATES: tuple[str, ...] = ("released", "marked", "short")
LEVEL_ORDINALS: tuple[str, ...] = ("first", "second", "third")

_RELEASED = 'The ##{entity}## in the sentence: "{sentence}" belong to which entity in the {ordinal} list: {types}?'
_MARKED = 'The ##{entity}## in the sentence: "{sentence}" belongs to which entity in the list: {types}?'
_SHORT = "##{entity}## belong to which entity in the list: {types}?"


def stage1_prompt(sentence: str) -> str:
    """The extractor's user turn: the raw sentence, unchanged.

    >>> stage1_prompt("EU rejects German call .")
    'EU rejects German call .'
    """
    return sentence


#: The stage-1 answer budget is ``STAGE1_TOKENS_PER_TEXT_TOKEN * n + STAGE1_EXTRA_TOKENS`` for a text of
#: ``n`` tokens (:func:`stage1_budget`).
STAGE1_TOKENS_PER_TEXT_TOKEN = 2
STAGE1_EXTRA_TOKENS = 16


def stage1_budget(text_tokens: int) -> int:
    """The extractor's answer budget (``max_new_tokens``) for a text of ``text_tokens`` tokens: the answer is
    the text again with its entities marked, so twice the text leaves room for the markers, plus a few
    tokens for a short text and the end of the turn. Never the reference code's fixed 512.

    >>> stage1_budget(10), stage1_budget(0)
    (36, 16)
    """
    return STAGE1_TOKENS_PER_TEXT_TOKEN * text_tokens + STAGE1_EXTRA_TOKENS


def mark_entities(sentence: str, spans: Sequence[tuple[int, int]]) -> str:
    """The extractor's target: ``sentence`` with each ``(start, end)`` span wrapped in ``##``.

    Spans are exclusive character offsets; overlapping spans raise ``ValueError``.

    >>> mark_entities("EU rejects German call .", [(11, 17), (0, 2)])
    '##EU## rejects ##German## call .'
    """
    pieces: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if start < cursor:
            raise ValueError(f"overlapping or unordered span ({start}, {end}) in {sentence!r}")
        if not 0 <= start < end <= len(sentence):
            raise ValueError(f"span ({start}, {end}) out of range for a sentence of {len(sentence)} characters")
        pieces += [sentence[cursor:start], MARKER, sentence[start:end], MARKER]
        cursor = end
    pieces.append(sentence[cursor:])
    return "".join(pieces)


def format_type_list(types: Sequence[str]) -> str:
    """Options joined the way the released prompts join them.

    >>> format_type_list(["person", "location"])
    'person, location'
    """
    return TYPE_SEPARATOR.join(types)


def stage2_prompt(
    entity: str,
    sentence: str,
    types: Sequence[str],
    *,
    template: Stage2Template = "released",
    level: int = 1,
    start: int | None = None,
    end: int | None = None,
) -> str:
    """The classifier's user turn for one entity.

    ``level`` (1-3) picks "first"/"second"/"third list" in the released format. The
    ``"marked"`` format needs the mention's ``start``/``end`` in ``sentence``; without them the
    first occurrence of ``entity`` is marked.
    """
    if template not in STAGE2_TEMPLATES:
        raise ValueError(f"unknown stage-2 template {template!r}; allowed: {', '.join(STAGE2_TEMPLATES)}")
    types_text = format_type_list(types)
    if template == "released":
        if not 1 <= level <= len(LEVEL_ORDINALS):
            raise ValueError(f"level must be 1..{len(LEVEL_ORDINALS)}, got {level}")
        return _RELEASED.format(entity=entity, sentence=sentence, ordinal=LEVEL_ORDINALS[level - 1], types=types_text)
    if template == "short":
        return _SHORT.format(entity=entity, types=types_text)
    if start is None or end is None:
        start = sentence.find(entity)
        end = start + len(entity)
    marked = mark_entities(sentence, [(start, end)]) if 0 <= start < end else sentence
    return _MARKED.format(entity=entity, sentence=marked, types=types_text)


def cascade_prompt(
    entity: str,
    sentence: str,
    types: Sequence[str],
    *,
    level: int,
    template: Stage2Template = "released",
    start: int | None = None,
    end: int | None = None,
) -> str:
    """:func:`stage2_prompt` for a question at any depth of a taxonomy, as training (``cascadener.training.sft``)
    and inference (``cascadener.pipeline``) both ask it: the released format names three lists, so
    questions below the third level keep saying "third list".

    >>> cascade_prompt("Ada", "Ada met Bob .", ["poet", "painter"], level=4)
    'The ##Ada## in the sentence: "Ada met Bob ." belong to which entity in the third list: poet, painter?'
    """
    if level < 1:
        raise ValueError(f"level must be >= 1, got {level}")
    return stage2_prompt(entity, sentence, types, template=template, level=min(level, len(LEVEL_ORDINALS)),
                         start=start, end=end)


def chat_messages(user: str, assistant: str | None = None, *, system: str | None = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """ChatML-style ``messages`` for ``tokenizer.apply_chat_template``.

    >>> chat_messages("hi", "hello")
    [{'role': 'system', 'content': 'You are a helpful assistant.'}, {'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'hello'}]
    """
    messages = [] if system is None else [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": user})
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return messages


def prompt_hash(*, template: str = "released") -> str:
    """A short stable hash of the prompt strings in use, recorded with published results.

    >>> len(prompt_hash())
    12
    """
    payload = json.dumps(
        {"system": SYSTEM_PROMPT, "marker": MARKER, "stage2": template,
         "formats": [_RELEASED, _MARKED, _SHORT], "separator": TYPE_SEPARATOR},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]
