"""Tokens and IOB2 tags, cross-checked with seqeval's decoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from dynamicner_data.tokenize import Token, TokenColumns, bio_tags, tokenize, tokenize_columns


def decode(tokens, tags):
    """seqeval's IOB2 decoding, mapped back to character spans."""
    return {(tokens[s].start, tokens[e].end, label) for label, s, e in get_entities(list(tags))}


@pytest.mark.parametrize(
    "text, language, expected",
    [
        ("EU rejects German call .", "en", ["EU", "rejects", "German", "call", "."]),
        ("l'Union européenne (UE)", "fr", ["l", "'", "Union", "européenne", "(", "UE", ")"]),
        ("Москва — столица", "ru", ["Москва", "—", "столица"]),
        ("서울은 한국의 수도이다.", "ko", list("서울은한국의수도이다.")),
        ("LG전자 본사", "ko-KR", ["L", "G", "전", "자", "본", "사"]),
        ("北京是中国的首都。", "zh", list("北京是中国的首都。")),
        ("東京 タワー", "ja-JP", ["東", "京", "タ", "ワ", "ー"]),
        ("Cafe\u0301 noir", "es", ["Cafe\u0301", "noir"]),
        ("  \t\n ", "de", []),
    ],
)
def test_tokenize_languages(text, language, expected):
    tokens = tokenize(text, language)
    assert [t.text for t in tokens] == expected
    assert all(text[t.start:t.end] == t.text and t.text.strip() == t.text for t in tokens)


def test_korean_entities_followed_by_particles_are_all_tagged():
    text = "한강은 서울을 가로질러 흐르고, 이순신 장군의 동상은 광화문 광장에 서 있다."
    surfaces = ["한강", "서울", "이순신", "광화문 광장"]
    labels = ["river", "city", "military personnel", "square"]
    spans = {(s, s + len(e), label) for e, label in zip(surfaces, labels) for s in [text.index(e)]}
    tokens = tokenize(text, "ko")
    assert all(not t.text.isspace() and len(t.text) == 1 for t in tokens)
    bio = bio_tags(tokens, sorted(spans))
    assert bio.skipped == 0
    assert decode(tokens, bio.tags) == spans
    # the space-delimited split loses every entity followed by a particle (all but 이순신)
    words = tokenize_columns(text, "en")
    assert bio_tags(words, sorted(spans)).misaligned == 3


def test_tokenize_rejects_non_text():
    with pytest.raises(TypeError, match="needs a str"):
        tokenize(None, "en")  # type: ignore[arg-type]


def test_bio_counts_each_reason():
    text = "Sidney and Beatrice Webb met in New York ."
    tokens = tokenize(text, "en")
    spans = [
        (0, 6, "person"),            # Sidney
        (11, 24, "person"),          # Beatrice Webb
        (20, 24, "person"),          # Webb: overlaps the longer span
        (32, 40, "city"),            # New York
        (33, 40, "city"),            # "ew York": starts inside a token
        (-1, -1, "person"),          # unplaced
        (0, 6, "person"),            # exact duplicate: one entity
    ]
    bio = bio_tags(tokens, spans)
    assert (bio.misaligned, bio.overlapping, bio.unaligned, bio.skipped) == (1, 1, 1, 3)
    assert decode(tokens, bio.tags) == {(0, 6, "person"), (11, 24, "person"), (32, 40, "city")}
    assert bio.tags[:5] == ["B-person", "O", "B-person", "I-person", "O"]


def test_bio_labels_with_dashes_and_spaces_survive_seqeval():
    text = "He flew to the Beijing Capital airport"
    tokens = tokenize(text, "en")
    spans = [(15, 38, "other transportation facility"), (0, 2, "geo-political entity")]
    bio = bio_tags(tokens, spans)
    assert decode(tokens, bio.tags) == set(spans)


def test_bio_rejects_bad_spans():
    tokens = tokenize("a b", "en")
    with pytest.raises(ValueError, match="empty label"):
        bio_tags(tokens, [(0, 1, "")])
    with pytest.raises(ValueError, match="end exclusive"):
        bio_tags(tokens, [(2, 2, "x")])


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="ab .,-", max_size=25),
    st.lists(st.tuples(st.integers(0, 25), st.integers(1, 6), st.sampled_from(["x", "y-z", "w v"])), max_size=6),
    st.sampled_from(["en", "zh", "ko"]),
)
def test_bio_round_trip_property(text, raw_spans, language):
    tokens = tokenize(text, language)
    spans = [(s, min(s + n, len(text)), label) for s, n, label in raw_spans if s < len(text)]
    spans = [sp for sp in spans if sp[0] < sp[1]]
    bio = bio_tags(tokens, spans)
    assert len(bio.tags) == len(tokens)
    decoded = decode(tokens, bio.tags)
    boundaries_start = {t.start for t in tokens}
    boundaries_end = {t.end for t in tokens}
    # every decoded entity is an input span on token boundaries; nothing invented
    assert decoded <= set(spans)
    assert all(s in boundaries_start and e in boundaries_end for s, e, _ in decoded)
    # every distinct span is either decoded or counted
    assert len(decoded) + bio.misaligned + bio.overlapping == len(set(spans))
    on_boundaries = {sp for sp in set(spans) if sp[0] in boundaries_start and sp[1] in boundaries_end}
    assert len(on_boundaries) == len(decoded) + bio.overlapping


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40), st.sampled_from(["en", "ko", "zh", "ja"]))
def test_tokens_cover_every_non_space_character(text, language):
    tokens = tokenize(text, language)
    cols = tokenize_columns(text, language)
    assert cols == TokenColumns([t.text for t in tokens], [t.start for t in tokens], [t.end for t in tokens])
    covered = set()
    for t in tokens:
        assert text[t.start:t.end] == t.text and t.text and not any(ch.isspace() for ch in t.text)
        covered.update(range(t.start, t.end))
    assert covered == {i for i, ch in enumerate(text) if not ch.isspace()}
    assert [t.start for t in tokens] == sorted(t.start for t in tokens)
    spans = [(t.start, t.end, "x") for t in tokens[:3]]
    assert bio_tags(cols, spans) == bio_tags(tokens, spans)
