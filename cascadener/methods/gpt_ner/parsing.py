"""GPT-NER's answers -> spans on the original sentence, by characters (pure text).

The model answers an extraction question with the sentence rewritten, its entities of the asked
type wrapped as ``@@entity##``. :func:`parse_answer`

1. takes the labeled sentence: the first line that starts with "The labeled sentence:" (cut off),
   else the first non-empty line (the published scripts keep the completion's one line; a chat
   model may repeat the cue, or go on with another "The given sentence:");
2. removes the markers (:func:`split_markers`), reading them in order: ``@@`` opens, ``##`` closes
   the open entity. A second ``@@`` before a close re-opens at the later one (the inner entity of
   ``@@Bank of @@America##`` is read, as the published ``get_words`` does); a ``##`` with nothing
   open, and an ``@@`` never closed, are dropped as markers and their text stays plain; each such
   stray marker counts in ``unbalanced``. An empty ``@@##`` marks nothing;
3. aligns the unmarked answer to the ORIGINAL sentence character by character, case-insensitively
   (:func:`cascadener.parsing.place_marked`, CascadeNER's alignment), so a copy with changed
   spacing or a few changed characters still places each entity; an entity absent from the
   sentence is *invented* (dropped, counted); duplicates collapse and of overlapping spans the
   longest wins (counted).

Where this differs from the published parser (``openai_access/compute_f1.py``), which splits the
answer and the sentence on spaces and walks the two token lists together:

- it cannot read text without spaces between words (Chinese, Japanese): the published data
  space-separated every Chinese character first; here the raw text is aligned by characters;
- a marker must be glued to a whole token there (``@@Paris##,`` does not close, ``@@ Paris ##`` is
  no entity); here markers are found anywhere;
- its token pointer lags one entity behind, so a repeated entity (``@@A## @@A##``) lands twice on
  the first occurrence, and after an entity it cannot match (a word the model changed, an unclosed
  ``@@``, nested markers) every later entity of the answer is lost; here each entity is placed
  where it was copied, independently;
- spans are character offsets (``{text, label, start, end}``), not token indices.

The self-verification answer is read as published (``construct_results.justify``): "yes" when it
starts with "yes", "no" when it starts with "no" (any case, after stripping: "No.", "nope",
"Not" are no), otherwise unclear, which keeps the entity.

Example:
    >>> answer = parse_answer("John flew from London to Tokyo .", " John flew from @@London## to @@Tokyo## .")
    >>> [(m.text, m.start, m.end) for m in answer.mentions]
    [('London', 15, 21), ('Tokyo', 25, 30)]
    >>> [(m.text, m.start) for m in parse_answer("北京和上海", "@@北京##和@@上海##").mentions]
    [('北京', 0), ('上海', 3)]
    >>> verdict("No, it is not."), verdict(" yes"), verdict("Maybe")
    ('no', 'yes', '')
"""

from __future__ import annotations

import re

from cascadener.methods.gpt_ner.prompts import ANSWER_PREFIX, CLOSE, OPEN
from cascadener.parsing import ExtractionResult, merge_mentions, place_marked

__all__ = ["split_markers", "labeled_line", "parse_answer", "verdict"]

_MARKERS = re.compile(re.escape(OPEN) + "|" + re.escape(CLOSE))


def split_markers(answer: str) -> tuple[str, list[tuple[int, int]], int]:
    """The answer without markers, the marked ``(start, end)`` ranges in it, and the stray markers.

    >>> split_markers("@@New York## and @@Paris## ended")
    ('New York and Paris ended', [(0, 8), (13, 18)], 0)
    >>> split_markers("@@Bank of @@America## rose")
    ('Bank of America rose', [(8, 15)], 1)
    >>> split_markers("to @@Paris , then @@Rome##")
    ('to Paris , then Rome', [(16, 20)], 1)
    >>> split_markers("a ## b @@c")
    ('a  b c', [], 2)
    """
    plain = ""
    ranges: list[tuple[int, int]] = []
    cursor = 0
    open_at: int | None = None
    stray = 0
    for match in _MARKERS.finditer(answer):
        plain += answer[cursor:match.start()]
        cursor = match.end()
        if match.group() == OPEN:
            if open_at is not None:
                stray += 1  # re-opened: the earlier @@ stays plain
            open_at = len(plain)
        elif open_at is None:
            stray += 1
        else:
            if plain[open_at:].strip():  # an empty @@## marks nothing
                ranges.append((open_at, len(plain)))
            open_at = None
    plain += answer[cursor:]
    if open_at is not None:
        stray += 1
    return plain, ranges, stray


def labeled_line(answer: str) -> str:
    """The labeled sentence of an answer (step 1 of the module doc).

    >>> labeled_line("The labeled sentence: @@Oslo## is cold .\\nThe given sentence: ...")
    '@@Oslo## is cold .'
    >>> labeled_line("\\n\\n @@Oslo## is cold .\\nmore")
    '@@Oslo## is cold .'
    """
    lines = answer.splitlines()
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(ANSWER_PREFIX):
            return stripped[len(ANSWER_PREFIX):].strip()
    return next((line.strip() for line in lines if line.strip()), "")


def parse_answer(sentence: str, answer: str) -> ExtractionResult:
    """The ``@@...##`` entities of one extraction answer placed on ``sentence`` (see the module doc)."""
    result = ExtractionResult(sentence=sentence, raw_outputs=[answer])
    plain, ranges, stray = split_markers(labeled_line(answer))
    result.unbalanced = stray
    if not ranges:
        return result
    placed, result.invented = place_marked(sentence, plain, ranges)
    result.mentions, result.duplicates, result.overlaps = merge_mentions(placed)
    return result


def verdict(answer: str) -> str:
    """``"yes"``, ``"no"`` or ``""`` (unclear) for a self-verification answer (see the module doc)."""
    text = answer.strip()
    if text[:3].lower() == "yes":
        return "yes"
    if text[:2].lower() == "no":
        return "no"
    return ""
