"""Texts longer than the model's context, in overlapping windows that fit: never truncated.

Stage 1 answers with the whole text re-written (entities marked), so a text of ``n`` tokens needs
about ``n`` prompt tokens and :func:`cascadener.prompts.stage1_budget` answer tokens. When that does not fit the model's
context, the pipeline

1. splits the text into units: sentences (after ``. ! ? 。 ！ ？ …`` followed by whitespace, or at
   line breaks); a sentence that alone is too long is split at whitespace, and a single word
   that is still too long is split between characters (the only split inside a word);
2. packs consecutive units into windows of at most ``max_tokens`` tokens; each next window
   starts early enough to repeat the last ``overlap`` share of the previous one, so an entity
   cut by one window's edge is whole in the next;
3. runs stage 1 on every window, shifts each window's mentions back to offsets in the original
   text, and merges them (:func:`merge_windows`): a mention found by two windows counts once;
   where two windows disagree on overlapping spans, the longer span wins (the rule
   self-consistency uses), and the shorter is counted as an overlap;
4. asks each stage-2 question with the window that holds the mention most centrally as the
   sentence (:func:`context_window`), so stage-2 prompts fit too.

The counts ``split_texts`` and ``windows`` go to the run's statistics.

Example (token counts here are word counts; a backend counts with its tokenizer):
    >>> def words(texts):
    ...     return [len(t.split()) for t in texts]
    >>> text = "Ada Lovelace met Charles Babbage in London. They wrote about the engine. It was 1843."
    >>> windows = split_windows(text, max_tokens=8, count_tokens=words, overlap=0.4)
    >>> [text[w.start:w.end] for w in windows]
    ['Ada Lovelace met Charles Babbage in London.', 'They wrote about the engine. It was 1843.']
    >>> split_windows("Short text.", max_tokens=8, count_tokens=words)
    [Window(start=0, end=11)]
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple, Sequence

from cascadener.parsing import ExtractionResult, Mention, merge_mentions
from cascadener.prompts import STAGE1_EXTRA_TOKENS, STAGE1_TOKENS_PER_TEXT_TOKEN

__all__ = ["PROMPT_OVERHEAD", "Window", "context_window", "merge_windows", "split_windows", "window_limit"]

_SENTENCE_BREAK = re.compile(r"(?<=[.!?。！？…])\s+|\n\s*")
_SPACE_BREAK = re.compile(r"\s+")

CountTokens = Callable[[Sequence[str]], list[int]]

#: Tokens kept for the chat template around a stage-1 text (system turn, role markers).
PROMPT_OVERHEAD = 64


class Window(NamedTuple):
    """The characters ``[start, end)`` of the original text (``end`` exclusive)."""

    start: int
    end: int


def _tile(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """``[start, end)`` cut after each match of ``pattern`` (the separator stays with the piece before it)."""
    pieces, cursor = [], start
    for match in pattern.finditer(text, start, end):
        if match.end() > cursor and match.start() > cursor:
            pieces.append((cursor, match.end()))
            cursor = match.end()
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def _split_characters(text: str, start: int, end: int, max_tokens: int, count_tokens: CountTokens) -> list[tuple[int, int]]:
    """A word too long for one window, cut between characters into pieces that fit."""
    pieces, cursor = [], start
    while cursor < end:
        size = end - cursor
        while size > 1 and count_tokens([text[cursor:cursor + size]])[0] > max_tokens:
            size = max(1, size // 2)
        pieces.append((cursor, cursor + size))
        cursor += size
    return pieces


def _units(text: str, max_tokens: int, count_tokens: CountTokens) -> tuple[list[tuple[int, int]], list[int]]:
    """Units that each fit in a window, tiling the text, and their token counts."""
    units: list[tuple[int, int]] = []
    for sentence in _tile(text, 0, len(text), _SENTENCE_BREAK):
        if count_tokens([text[sentence[0]:sentence[1]]])[0] <= max_tokens:
            units.append(sentence)
            continue
        for word in _tile(text, sentence[0], sentence[1], _SPACE_BREAK):
            if count_tokens([text[word[0]:word[1]]])[0] <= max_tokens:
                units.append(word)
            else:
                units += _split_characters(text, word[0], word[1], max_tokens, count_tokens)
    counts = count_tokens([text[a:b] for a, b in units])
    return units, counts


def _trimmed(text: str, start: int, end: int) -> Window:
    while end > start + 1 and text[end - 1].isspace():
        end -= 1
    return Window(start, end)


def split_windows(text: str, *, max_tokens: int, count_tokens: CountTokens, overlap: float = 0.25) -> list[Window]:
    """Windows of at most ``max_tokens`` tokens covering ``text``, consecutive ones sharing about
    ``overlap`` of a window (see the module doc); one window when the text fits."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if count_tokens([text])[0] <= max_tokens:
        return [Window(0, len(text))]
    units, counts = _units(text, max_tokens, count_tokens)
    windows: list[Window] = []
    first = 0
    while first < len(units):
        last, total = first, 0
        while last < len(units) and total + counts[last] <= max_tokens:
            total += counts[last]
            last += 1
        last = max(last, first + 1)
        # tokens need not add up across unit edges: shrink until the window itself fits
        while last > first + 1 and count_tokens([text[units[first][0]:units[last - 1][1]]])[0] > max_tokens:
            last -= 1
        windows.append(_trimmed(text, units[first][0], units[last - 1][1]))
        if last >= len(units):
            break
        shared, nxt = 0, last
        while nxt - 1 > first and shared + counts[nxt - 1] <= overlap * max_tokens:
            nxt -= 1
            shared += counts[nxt]
        first = nxt
    return windows


def merge_windows(text: str, windows: Sequence[Window], results: Sequence[ExtractionResult]) -> ExtractionResult:
    """One :class:`ExtractionResult` on ``text`` from the results of its windows (see module doc).

    >>> text = "Ada met Bob in Rome."
    >>> a = ExtractionResult(sentence=text[0:11], mentions=[Mention(0, 3, "Ada"), Mention(8, 11, "Bob")])
    >>> b = ExtractionResult(sentence=text[8:20], mentions=[Mention(0, 3, "Bob"), Mention(7, 11, "Rome")])
    >>> merge_windows(text, [Window(0, 11), Window(8, 20)], [a, b]).mentions
    [Mention(start=0, end=3, text='Ada'), Mention(start=8, end=11, text='Bob'), Mention(start=15, end=19, text='Rome')]
    """
    if len(windows) != len(results):
        raise ValueError(f"{len(results)} results for {len(windows)} windows")
    merged = ExtractionResult(sentence=text)
    pool: list[Mention] = []
    for window, result in zip(windows, results):
        for mention in result.mentions:
            shifted = Mention(mention.start + window.start, mention.end + window.start, mention.text)
            if text[shifted.start:shifted.end] != mention.text:
                raise ValueError(f"a window's mention {mention.text!r} does not map back to the text at {shifted.start}")
            pool.append(shifted)
        merged.invented += result.invented
        merged.duplicates += result.duplicates
        merged.overlaps += result.overlaps
        merged.unbalanced += result.unbalanced
        merged.raw_outputs += result.raw_outputs
    merged.mentions, _, seam_overlaps = merge_mentions(pool)
    merged.overlaps += seam_overlaps
    merged.windows = [Window(*window) for window in windows]
    return merged


def window_limit(context_tokens: int | None) -> int | None:
    """The most text tokens one stage-1 window may hold in a context of ``context_tokens``:
    the prompt (text + :data:`PROMPT_OVERHEAD` tokens of chat template) and the answer
    (:func:`cascadener.prompts.stage1_budget` tokens) must fit; ``None`` when unknown.

    >>> from cascadener.prompts import stage1_budget
    >>> n = window_limit(1024)
    >>> n, n + PROMPT_OVERHEAD + stage1_budget(n) <= 1024 < n + 1 + PROMPT_OVERHEAD + stage1_budget(n + 1)
    (314, True)
    >>> window_limit(None) is None
    True
    """
    if context_tokens is None:
        return None
    # n + PROMPT_OVERHEAD + (PER_TOKEN * n + EXTRA) <= context_tokens, solved for the largest n
    limit = (context_tokens - PROMPT_OVERHEAD - STAGE1_EXTRA_TOKENS) // (1 + STAGE1_TOKENS_PER_TEXT_TOKEN)
    if limit < 1:
        raise ValueError(f"a context of {context_tokens} tokens leaves no room for text")
    return limit


def context_window(windows: Sequence[Window], mention: Mention) -> Window:
    """The window that holds ``mention`` furthest from its edges (the whole text for one window).

    >>> context_window([Window(0, 11), Window(8, 20)], Mention(9, 10, "o"))
    Window(start=0, end=11)
    """
    holding = [w for w in windows if w.start <= mention.start and mention.end <= w.end]
    if not holding:
        raise ValueError(f"no window holds the mention {mention!r}")
    return max(holding, key=lambda w: (min(mention.start - w.start, w.end - mention.end), -w.start))
