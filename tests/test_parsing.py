"""Stage-1 output -> spans on the original sentence; stage-2 answers -> list items."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadener.parsing import (
    Mention,
    closest_option,
    match_answer,
    merge_extractions,
    parse_extraction,
    split_marked,
)
from cascadener.prompts import mark_entities


def spans(result):
    return [(m.text, m.start, m.end) for m in result.mentions]


SENTENCE = "Angela Merkel met Emmanuel Macron in Berlin on Monday ."


@pytest.mark.parametrize(
    "output, expected",
    [
        # perfect copy
        ("##Angela Merkel## met ##Emmanuel Macron## in ##Berlin## on Monday .",
         [("Angela Merkel", 0, 13), ("Emmanuel Macron", 18, 33), ("Berlin", 37, 43)]),
        # changed whitespace
        ("##Angela  Merkel##  met ##Emmanuel Macron##in ##Berlin## on Monday.",
         [("Angela Merkel", 0, 13), ("Emmanuel Macron", 18, 33), ("Berlin", 37, 43)]),
        # spaces inside the markers are trimmed off the span
        ("## Angela Merkel ## met Emmanuel Macron in Berlin on Monday .", [("Angela Merkel", 0, 13)]),
        # a few changed characters and case
        ("##angela merkle## met ##Emanuel Macron## in ##BERLIN## on Monday .",
         [("Angela Merkel", 0, 13), ("Emmanuel Macron", 18, 33), ("Berlin", 37, 43)]),
        # unbalanced marker: the unmatched last one is ignored
        ("##Angela Merkel## met ##Emmanuel Macron in Berlin on Monday .", [("Angela Merkel", 0, 13)]),
        # a truncated answer keeps what it closed; the unclosed tail is plain text
        ("##Angela Merkel## met ##Emma", [("Angela Merkel", 0, 13)]),
        # no markers, empty mention
        (SENTENCE, []),
        ("#### met", []),
        # model drops the sentence tail
        ("##Angela Merkel## met", [("Angela Merkel", 0, 13)]),
    ],
)
def test_canned_outputs(output, expected):
    assert spans(parse_extraction(SENTENCE, output)) == expected


def test_invented_entity_is_dropped_and_counted():
    result = parse_extraction(SENTENCE, "##Angela Merkel## met ##Joe Biden## in ##Berlin## on Monday .")
    assert spans(result) == [("Angela Merkel", 0, 13), ("Berlin", 37, 43)]
    assert result.invented == ["Joe Biden"]


def test_entity_moved_elsewhere_is_found_by_search():
    # The model reorders the sentence: alignment fails for the moved mention, the search finds it.
    result = parse_extraction(SENTENCE, "In ##Berlin## , ##Angela Merkel## met Emmanuel Macron on Monday .")
    assert ("Berlin", 37, 43) in spans(result)
    assert ("Angela Merkel", 0, 13) in spans(result)
    assert result.invented == []


def test_repeated_mentions_land_on_their_own_occurrence():
    sentence = "Paris beat Lyon , and Paris then lost to Paris FC ."
    result = parse_extraction(sentence, "##Paris## beat ##Lyon## , and ##Paris## then lost to ##Paris FC## .")
    assert spans(result) == [("Paris", 0, 5), ("Lyon", 11, 15), ("Paris", 22, 27), ("Paris FC", 41, 49)]


def test_repeated_mention_echoed_twice_collapses():
    sentence = "Berlin is big ."
    result = parse_extraction(sentence, "##Berlin## ##Berlin## is big .")
    assert spans(result) == [("Berlin", 0, 6)]
    assert result.duplicates == 1 and result.invented == []


def test_nested_markers_resolve_to_non_overlapping_spans():
    sentence = "the University of New York City campus"
    result = parse_extraction(sentence, "the ##University of ##New York## City## campus")
    texts = [m.text for m in result.mentions]
    assert texts == ["University of", "City"]
    ends = [(m.start, m.end) for m in result.mentions]
    assert all(a[1] <= b[0] for a, b in zip(ends, ends[1:]))


def test_split_marked_reports_ranges():
    plain, ranges, unbalanced = split_marked("a ##b## c ##d")
    assert plain == "a b c d" and ranges == [(2, 3)] and unbalanced


def test_self_consistency_longest_overlap_wins():
    sentence = "Bank of America raised rates in New York ."
    a = parse_extraction(sentence, "##Bank## of America raised rates in ##New York## .")
    b = parse_extraction(sentence, "##Bank of America## raised rates in New York .")
    merged = merge_extractions([a, b])
    assert spans(merged) == [("Bank of America", 0, 15), ("New York", 32, 40)]


# ---------------------------------------------------------------------------------- fuzzing

WORDS = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F), min_size=0, max_size=12)


@st.composite
def sentence_and_output(draw):
    words = draw(st.lists(WORDS, min_size=0, max_size=12))
    sentence = " ".join(words)
    # a marked copy of the sentence, then random edits: insert/delete characters and markers
    chars = list(sentence)
    spans_ = []
    for _ in range(draw(st.integers(0, 4))):
        if len(sentence) < 2:
            break
        start = draw(st.integers(0, len(sentence) - 1))
        end = draw(st.integers(start + 1, len(sentence)))
        if all(end <= s or start >= e for s, e in spans_):
            spans_.append((start, end))
    output = mark_entities(sentence, spans_) if spans_ else "".join(chars)
    edits = draw(st.lists(st.tuples(st.sampled_from(["ins", "del", "mark", "junk"]), st.integers(0, 10_000),
                                    st.text(max_size=6)), max_size=8))
    for kind, position, text in edits:
        position = position % (len(output) + 1)
        if kind == "ins":
            output = output[:position] + text + output[position:]
        elif kind == "del":
            output = output[:position] + output[position + len(text):]
        elif kind == "mark":
            output = output[:position] + "##" + output[position:]
        else:
            output = output[:position] + "##" + text + "##" + output[position:]
    return sentence, output


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sentence_and_output())
def test_fuzz_spans_always_on_the_sentence(case):
    sentence, output = case
    result = parse_extraction(sentence, output)
    for mention in result.mentions:
        assert 0 <= mention.start < mention.end <= len(sentence)
        assert mention.text == sentence[mention.start:mention.end]
        assert mention.text == mention.text.strip()
    ordered = result.mentions
    assert all(a.end <= b.start for a, b in zip(ordered, ordered[1:]))


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40), st.text(max_size=60))
def test_fuzz_arbitrary_text(sentence, output):
    result = parse_extraction(sentence, output)
    for mention in result.mentions:
        assert mention.text == sentence[mention.start:mention.end] and mention.text


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=6, unique=True), st.data())
def test_fuzz_answer_maps_regardless_of_case_space_punctuation(options, data):
    index = data.draw(st.integers(0, len(options) - 1))
    option = options[index]
    noisy = data.draw(st.sampled_from([option.upper(), f"  {option}. ", f"{option.title()}!", option.lower()]))
    match = match_answer(noisy, options)
    if match.on_list:
        assert match.label in options
    # unambiguous options (unique normalized forms) always map back to themselves
    from cascadener.parsing import normalize_answer

    normalized = [normalize_answer(o) for o in options]
    if normalized[index] and normalized.count(normalized[index]) == 1 and noisy.strip() != "":
        if normalize_answer(noisy) == normalized[index]:
            assert match.label == option


def test_answer_matching_cases():
    options = ["person", "sports team/league", "city", "other gpe"]
    assert match_answer("Sports Team / League", options).label == "sports team/league"
    assert match_answer("Other GPE.", options).label == "other gpe"
    assert match_answer("city", options).how == "exact"
    assert match_answer("It is a city", options).how == "contained"
    off = match_answer("vehicle", options)
    assert off.label is None and not off.on_list and off.how == "off-list"
    assert closest_option("citty", options) == 2


# ---------------------------------------------------------------------------------- real data


def test_released_stage1_targets_parse_back_exactly(shared_data):
    """Every released stage-1 target, parsed against its user sentence, gives back its marked spans."""
    data = json.loads((shared_data / "sft" / "conll2003-stage1-dev.json").read_text(encoding="utf-8"))
    mismatches = []
    for index, item in enumerate(data):
        user, assistant = (turn["value"] for turn in item["conversations"])
        result = parse_extraction(user, assistant)
        # the expected spans: walk the markers over the exact copy
        plain, ranges, _ = split_marked(assistant)
        assert plain == user, index
        expected = [Mention(s, e, user[s:e]) for s, e in ranges]
        expected = [Mention(*_strip(user, m.start, m.end)) for m in expected]
        if result.mentions != expected or result.invented:
            mismatches.append(index)
    assert mismatches == []


def _strip(text, start, end):
    while text[start].isspace():
        start += 1
    while text[end - 1].isspace():
        end -= 1
    return start, end, text[start:end]


def test_released_stage2_answers_on_and_off_list(shared_data):
    """Answers of the released classifier data map to their list; the 902 noisy ones are off-list."""
    import re

    data = json.loads((shared_data / "sft" / "conll2003-stage2-dev.json").read_text(encoding="utf-8"))
    off = 0
    for item in data:
        user, answer = (turn["value"] for turn in item["conversations"])
        types = re.search(r"list: (.*)\?$", user).group(1).split(", ")
        match = match_answer(answer, types)
        if match.on_list:
            assert match.label.casefold() == answer.casefold()
        else:
            off += 1
            assert 0 <= closest_option(answer, types) < len(types)
    assert off == 902


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="aAbß İ.", max_size=12))
def test_copied_sentence_shortcut_equals_the_alignment(text):
    """When the answer's plain text is the sentence (up to case), ``_char_map`` skips difflib; the
    result must be what the alignment itself gives."""
    import difflib

    from cascadener.parsing import _char_map, _fold

    for plain in (text, text.upper(), text.lower()):
        matcher = difflib.SequenceMatcher(None, _fold(plain), _fold(text), autojunk=False)
        if _fold(plain) != _fold(text):
            continue
        intervals, exact = [None] * len(plain), [False] * len(plain)
        for tag, i1, i2, j1, _ in matcher.get_opcodes():
            assert tag == "equal"
            for offset in range(i2 - i1):
                intervals[i1 + offset], exact[i1 + offset] = (j1 + offset, j1 + offset + 1), True
        assert _char_map(plain, text) == (intervals, exact)
