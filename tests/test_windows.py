"""cascadener.windows: long texts in overlapping windows, spans mapped back, seams de-duplicated."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadener.parsing import parse_extraction
from cascadener.windows import Window, context_window, merge_windows, split_windows


def words(texts):
    """A stand-in tokenizer for the window arithmetic: one token per word or punctuation mark."""
    return [len(re.findall(r"\w+|[^\w\s]", text)) for text in texts]


NAMES = ["Ada Lovelace", "Charles Babbage", "Mary Somerville", "London", "Analytical Engine", "Royal Society"]
FILLER = ["the committee met again", "a letter arrived in spring", "they argued about numbers",
          "the weather was cold", "nobody expected the result"]


def long_text(rng: random.Random, length: int = 20_000) -> tuple[str, list[tuple[int, int, str]]]:
    """Clauses until ``length`` characters, each naming one or two entities; returns gold spans."""
    parts, gold, cursor = [], [], 0
    while cursor < length:
        names = rng.sample(NAMES, rng.choice((1, 2)))
        sentence = f"{rng.choice(FILLER).capitalize()} and {names[0]}"
        spans = [(cursor + len(sentence) - len(names[0]), cursor + len(sentence), names[0])]
        if len(names) == 2:
            sentence += f" wrote to {names[1]}"
            spans.append((cursor + len(sentence) - len(names[1]), cursor + len(sentence), names[1]))
        draw = rng.random()  # mostly commas: long sentences, split at whitespace, cut through names
        sentence += ". " if draw < 0.15 else "\n" if draw < 0.2 else ", "
        parts.append(sentence)
        gold += spans
        cursor += len(sentence)
    return "".join(parts), gold


def mark(window_text: str) -> str:
    """A rule-based stage-1 "model": marks every known name, and, like a real model at a cut,
    a name whose beginning ends the window (its first word or more)."""
    spans = []
    for name in NAMES:
        spans += [(m.start(), m.end()) for m in re.finditer(re.escape(name), window_text)]
        for cut in range(len(name) - 1, 2, -1):
            if window_text.endswith(name[:cut]) and (cut == len(name) or name[cut] == " "):
                spans.append((len(window_text) - cut, len(window_text)))
                break
    out, cursor = [], 0
    for start, end in sorted(set(spans)):
        if start < cursor:
            continue
        out += [window_text[cursor:start], "##", window_text[start:end], "##"]
        cursor = end
    return "".join(out) + window_text[cursor:]


def run_windows(text: str, max_tokens: int, overlap: float):
    windows = split_windows(text, max_tokens=max_tokens, count_tokens=words, overlap=overlap)
    results = [parse_extraction(text[w.start:w.end], mark(text[w.start:w.end])) for w in windows]
    return windows, merge_windows(text, windows, results)


def test_a_20000_character_text_keeps_every_entity_at_its_offsets():
    text, gold = long_text(random.Random(7))
    assert len(text) >= 20_000
    windows, merged = run_windows(text, max_tokens=24, overlap=0.25)
    assert len(windows) > 20
    assert all(words([text[w.start:w.end]])[0] <= 24 for w in windows)
    # entities cut by a window edge: they exist, and the merge still finds them whole
    cut = [g for g in gold if any(g[0] < w.end < g[1] for w in windows)]
    assert cut, "the fixture must put entities across window edges"
    assert [(m.start, m.end, m.text) for m in merged.mentions] == sorted(gold)
    assert all(text[m.start:m.end] == m.text for m in merged.mentions)
    assert merged.overlaps >= len(cut)  # the cut halves lost to the whole mentions, counted


def test_entities_placed_exactly_on_the_seams():
    """Every sentence boundary is a possible seam; put names right at the start and end of sentences."""
    sentences = [f"{NAMES[i % len(NAMES)]} met the committee {'again ' * (i % 4)}in {NAMES[(i + 2) % len(NAMES)]}."
                 for i in range(400)]
    text = " ".join(sentences)
    assert len(text) >= 20_000
    gold = sorted((m.start(), m.end(), m.group()) for name in NAMES for m in re.finditer(re.escape(name), text))
    for overlap in (0.0, 0.3):
        windows, merged = run_windows(text, max_tokens=40, overlap=overlap)
        assert [(m.start, m.end, m.text) for m in merged.mentions] == gold
        starts = {w.start for w in windows}
        assert any(start == g[0] for g in gold for start in starts), "some seam falls on an entity"


def test_a_sentence_longer_than_a_window_splits_at_whitespace_and_a_huge_word_between_characters():
    text = "word " * 50 + "x" * 300 + " end."
    windows = split_windows(text, max_tokens=10, count_tokens=lambda ts: [max(len(t.split()), len(t) // 20) for t in ts])
    covered = set()
    for window in windows:
        covered.update(range(window.start, window.end))
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered
    assert all(w.start < w.end for w in windows)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["Ada", "met", "Bob", ".", "!", "\n", "in", "Rome", "x" * 30, "。"]), min_size=1, max_size=200),
       st.integers(min_value=1, max_value=30), st.sampled_from([0.0, 0.25, 0.5]))
def test_windows_cover_the_text_in_order_and_fit(tokens, max_tokens, overlap):
    text = " ".join(tokens)
    count = lambda ts: [max(1, len(t) // 4) if t.strip() else 0 for t in ts]  # noqa: E731
    windows = split_windows(text, max_tokens=max_tokens, count_tokens=count, overlap=overlap)
    covered = set()
    for window in windows:
        covered.update(range(window.start, window.end))
        if len(windows) > 1 and window.end - window.start > 1:
            assert count([text[window.start:window.end]])[0] <= max_tokens or window.end - window.start <= 1
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered
    assert [w.start for w in windows] == sorted({w.start for w in windows})  # strictly increasing: progress


def test_context_window_and_bad_inputs():
    import pytest

    from cascadener.parsing import ExtractionResult, Mention

    assert context_window([Window(0, 10), Window(6, 20)], Mention(12, 14, "ab")) == Window(6, 20)
    with pytest.raises(ValueError, match="no window holds"):
        context_window([Window(0, 5)], Mention(4, 8, "abcd"))
    with pytest.raises(ValueError, match="max_tokens"):
        split_windows("a b", max_tokens=0, count_tokens=words)
    with pytest.raises(ValueError, match="does not map back"):
        merge_windows("abc def", [Window(4, 7)], [ExtractionResult(sentence="def", mentions=[Mention(0, 3, "xyz")])])


# ----------------------------------------------------------------------------- in the pipeline


def test_stage2_questions_quote_the_window_around_each_mention():
    from cascadener.parsing import Mention
    from cascadener.pipeline import _in_context

    text = "Ada met Bob. Bob met Eve."
    mentions = [[Mention(0, 3, "Ada"), Mention(21, 24, "Eve")], [Mention(0, 2, "Hi")]]
    quoted, placed = _in_context([text, "Hi"], mentions, [[(0, 12), (13, 25)], []])
    assert quoted == [["Ada met Bob.", "Bob met Eve."], ["Hi"]]
    assert placed[0] == [Mention(0, 3, "Ada"), Mention(8, 11, "Eve")]
    assert [q[p.start:p.end] for q, p in zip(quoted[0], placed[0])] == ["Ada", "Eve"]


def test_backends_know_their_context():
    from cascadener.backends.http import ChatClient, EndpointOptions
    from cascadener.backends.server import OpenAIBackend
    from cascadener.pipeline import CascadeNER

    ner = CascadeNER.from_endpoint("http://127.0.0.1:9/v1", "m", context_tokens=4096)
    assert ner.extractor_backend.context_tokens == 4096
    assert OpenAIBackend(ChatClient(EndpointOptions("http://127.0.0.1:9/v1")), "m").context_tokens is None


@pytest.mark.slow
def test_the_real_model_reads_a_long_text_in_windows(tiny_cascade, tiny_corpus, monkeypatch):
    """The memorising tiny model on a text of its sentences repeated: read in windows of one
    sentence each, it finds every sentence's mentions at their offsets in the long text."""
    from cascadener.pipeline import CascadeNER

    ner = CascadeNER.from_pretrained(str(tiny_cascade.extractor), device="cpu")
    backend = ner.extractor_backend
    assert backend.context_tokens is not None  # the tiny Qwen2's max_position_embeddings
    sentences = [record["text"] for record in tiny_corpus]
    text = " ".join(sentences * 4)
    counts = backend.token_counts([s + " " for s in sentences])
    limit = max(counts)
    pairs = [counts[i] + counts[(i + 1) % len(counts)] for i in range(len(counts))]
    assert limit < min(pairs) and 0.25 * limit < min(counts), "windows must hold exactly one sentence"
    single, _ = ner.extract(sentences)
    expected, offset = [], 0
    for _ in range(4):
        for sentence, result in zip(sentences, single):
            expected += [(m.start + offset, m.end + offset, m.text) for m in result.mentions]
            offset += len(sentence) + 1
    assert expected, "the fixture sentences have entities"
    (long_result,), _ = ner.extract([text], max_text_tokens=limit)
    assert len(long_result.windows) == 4 * len(sentences)
    assert [(m.start, m.end, m.text) for m in long_result.mentions] == expected

    # the whole run: windows from the backend's context; stage-2 questions quote one sentence
    from cascadener.prompts import stage1_budget
    from cascadener.windows import PROMPT_OVERHEAD

    monkeypatch.setattr(backend, "context_tokens", limit + PROMPT_OVERHEAD + stage1_budget(limit))
    quoted = []
    request = CascadeNER._request
    monkeypatch.setattr(CascadeNER, "_request", staticmethod(lambda t, m, *a: quoted.append(t) or request(t, m, *a)))
    run = ner.run([text], [["person", "city"]])
    assert run.stats.split_texts == 1 and run.stats.windows == 4 * len(sentences)
    assert [(e["start"], e["end"], e["text"]) for e in run.predictions[0].entities] == expected
    assert quoted and set(quoted) <= set(sentences)
