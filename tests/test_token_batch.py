"""Whole-batch tokens and IOB2 tags equal the per-text reference functions, text by text."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamicner_data.geic import read_geic
from dynamicner_data.taxonomy import Taxonomy
from dynamicner_data.tokenize import bio_batch, bio_tags, tokenize_batch, tokenize_columns

TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
# word characters, spaces, punctuation, a combining mark, Han and Hangul: every tokenizer branch
SMALL_ALPHABET = st.text(alphabet=st.sampled_from(list("ab1 .,\u0301東京한국\t\n-")), max_size=25)


def per_text(texts, language, spans_per_text):
    """The reference: tokenize_columns and bio_tags, one text at a time."""
    columns = [tokenize_columns(t, language) for t in texts]
    tags = [bio_tags(c, spans) for c, spans in zip(columns, spans_per_text)]
    return columns, tags


def batched(texts, language, spans_per_text):
    batch = tokenize_batch(texts, language)
    offsets = [0]
    starts, ends, labels = [], [], []
    for spans in spans_per_text:
        for s, e, label in spans:
            starts.append(s)
            ends.append(e)
            labels.append(label)
        offsets.append(len(labels))
    return batch, bio_batch(batch, offsets, starts, ends, labels)


def assert_same(texts, language, spans_per_text):
    columns, tags = per_text(texts, language, spans_per_text)
    batch, bio = batched(texts, language, spans_per_text)
    assert [batch.row(r) for r in range(len(texts))] == columns
    assert batch.texts == [tok for c in columns for tok in c.texts]
    for r, reference in enumerate(tags):
        a, b = batch.row_offsets[r], batch.row_offsets[r + 1]
        assert [bio.names[c] for c in bio.codes[a:b]] == reference.tags
    assert bio.misaligned == sum(t.misaligned for t in tags)
    assert bio.overlapping == sum(t.overlapping for t in tags)
    assert bio.unaligned == sum(t.unaligned for t in tags)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS, max_size=6), st.sampled_from(["en", "de", "zh", "ja", "ko"]))
def test_tokenize_batch_equals_tokenize_columns(texts, language):
    batch = tokenize_batch(texts, language)
    assert [batch.row(r) for r in range(len(texts))] == [tokenize_columns(t, language) for t in texts]
    assert batch.row_offsets[-1] == len(batch.texts) == len(batch.starts) == len(batch.ends)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            SMALL_ALPHABET,
            st.lists(st.tuples(st.integers(-1, 26), st.integers(0, 8), st.sampled_from(["x", "y", "w v"])), max_size=5),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["en", "zh", "ko"]),
)
def test_bio_batch_equals_bio_tags(rows, language):
    """Random spans: on and off token boundaries, nested, repeated, unplaced, past the text's end."""
    texts = [text for text, _ in rows]
    spans_per_text = []
    for text, raw in rows:
        spans = []
        for s, n, label in raw:
            if s == -1:
                spans.append((-1, -1, label))
            elif n and s + n <= len(text) + 2:  # a few ends past the text (no token there: misaligned)
                spans.append((s, s + n, label))
        spans_per_text.append(spans)
    assert_same(texts, language, spans_per_text)


def test_bio_batch_nested_and_repeated_spans_follow_bio_tags():
    texts = ["Bank of America rose .", "New York New York", "Ana met Bo"]
    spans = [
        [(8, 15, "country"), (0, 15, "company"), (0, 4, "org")],  # nested: longest first
        [(0, 8, "city"), (0, 8, "city"), (9, 17, "state"), (9, 17, "city")],  # repeated, relabelled
        [(0, 3, "person"), (1, 3, "person"), (-1, -1, "person")],  # misaligned, unaligned
    ]
    assert_same(texts, "en", spans)
    _, bio = batched(texts, "en", spans)
    assert (bio.misaligned, bio.overlapping, bio.unaligned) == (1, 3, 1)


def test_bio_batch_rejects_bad_spans_like_bio_tags():
    batch = tokenize_batch(["Ana met Bo"], "en")
    with pytest.raises(ValueError, match="empty label"):
        bio_batch(batch, [0, 1], [0], [3], [""])
    with pytest.raises(ValueError, match="need 0 <= start < end"):
        bio_batch(batch, [0, 1], [3], [3], ["x"])
    with pytest.raises(ValueError, match="describe 2 texts"):
        bio_batch(batch, [0, 0, 1], [0], [3], ["x"])


def test_real_sample_batches_equal_the_reference(shared_data):
    """The authors' English sample and CoNLL-2003: every token, tag and count as text by text."""
    cases = [
        ("geic/dynamicner-example-en.json", Taxonomy.dynamicner()),
        ("geic/conll2003-test.json", Taxonomy.from_file(shared_data / "taxonomy" / "conll2003.json")),
    ]
    for name, taxonomy in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples, _ = read_geic(shared_data / name, taxonomy, empty_sentences="skip")
        texts = [s.text for s in samples]
        spans = [[(e.start, e.end, e.category) for e in s.entities] for s in samples]
        assert_same(texts, "en", spans)
        _, bio = batched(texts, "en", spans)
        assert bio.codes.dtype == np.int64 and len(bio.codes) > 0


# combining marks everywhere (text start, after spaces, after punctuation, in words), joiners,
# astral characters, Unicode spaces: the classes the vectorized split derives from the regexes
MARKS_ALPHABET = st.text(
    alphabet=st.sampled_from(list("aZ_9² !-.\u0301\u0483\u200d\u200c\u0e31\ufe0f\u00a0\u3000\u2028\t\n東한")
                             + ["\U0001F600", "\U00020000", "\U0001D400"]),
    max_size=20,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(MARKS_ALPHABET, max_size=5), st.sampled_from(["en", "ru", "zh", "ja", "ko"]))
def test_tokenize_batch_marks_and_astral_characters(texts, language):
    batch = tokenize_batch(texts, language)
    assert [batch.row(r) for r in range(len(texts))] == [tokenize_columns(t, language) for t in texts]
    assert batch.tokens.type == "string"


@pytest.mark.parametrize("language", ["en", "es", "fr", "ru", "de", "zh", "ja", "ko"])
def test_tokenize_batch_on_embedded_sample(language):
    import json
    from pathlib import Path

    import dynamicner_data

    root = Path(dynamicner_data.__file__).parent / "data" / "sample" / language
    texts = [v["sentence"] for split in ("train", "validation", "test")
             for v in json.loads((root / f"{split}.json").read_text(encoding="utf-8")).values()]
    batch = tokenize_batch(texts, language)
    assert batch.texts == [tok for t in texts for tok in tokenize_columns(t, language).texts]
    assert [batch.row(r) for r in range(len(texts))] == [tokenize_columns(t, language) for t in texts]


def test_bio_batch_labels_as_indices_into_a_table():
    texts = ["New York City", "Ana met Bo .", "x"]
    batch = tokenize_batch(texts, "en")
    offsets, starts, ends = [0, 2, 4, 4], [0, 0, 0, 8], [8, 13, 3, 10]
    table = ["unused", "city", "person"]
    strings = bio_batch(batch, offsets, starts, ends, ["city", "city", "person", "person"])
    indexed = bio_batch(batch, offsets, starts, ends, np.array([1, 1, 2, 2]), label_table=table)
    assert [strings.names[c] for c in strings.codes] == [indexed.names[c] for c in indexed.codes]
    assert (strings.overlapping, strings.misaligned) == (indexed.overlapping, indexed.misaligned) == (1, 0)
    with pytest.raises(ValueError, match="empty label"):
        bio_batch(batch, offsets, starts, ends, np.array([1, 0, 2, 2]), label_table=["city", "", "person"])
