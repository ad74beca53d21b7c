"""Whole-batch tokens and IOB2 tags equal the per-text reference functions, text by text."""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dynamicner_data
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


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS, max_size=6), st.sampled_from(["en", "de", "zh", "ja", "ko"]))
def test_tokenize_batch_equals_tokenize_columns(texts, language):
    batch = tokenize_batch(texts, language)
    assert [batch.row(r) for r in range(len(texts))] == [tokenize_columns(t, language) for t in texts]
    assert batch.row_offsets[-1] == len(batch.texts) == len(batch.starts) == len(batch.ends)


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(MARKS_ALPHABET, max_size=5), st.sampled_from(["en", "ru", "zh", "ja", "ko"]))
def test_tokenize_batch_marks_and_astral_characters(texts, language):
    batch = tokenize_batch(texts, language)
    assert [batch.row(r) for r in range(len(texts))] == [tokenize_columns(t, language) for t in texts]
    assert batch.tokens.type == "string"


# ---------------------------------------------------------------------------- token strings as Arrow
UNITS = ["auto", "bytes", "characters"]


def assert_tokens_like_reference(texts, language, units="auto"):
    """tokenize_batch equals tokenize_columns text by text: strings (one Arrow array), starts, ends, rows."""
    batch = tokenize_batch(texts, language, units=units)
    reference = [tokenize_columns(t, language) for t in texts]
    assert [batch.row(r) for r in range(len(texts))] == reference
    assert batch.tokens.type == pa.string()
    batch.tokens.validate(full=True)  # offsets and UTF-8 of the buffers built by hand
    assert batch.tokens.to_pylist() == [tok for c in reference for tok in c.texts]
    assert batch.starts.dtype == batch.ends.dtype == np.int64
    bases = [int(b) for b in batch.text_starts]
    assert batch.starts.tolist() == [base + s for c, base in zip(reference, bases) for s in c.starts]
    assert batch.ends.tolist() == [base + e for c, base in zip(reference, bases) for e in c.ends]
    assert batch.row_offsets.tolist() == [0, *itertools.accumulate(len(c.texts) for c in reference)]
    assert batch.text_lengths.tolist() == [len(t) for t in texts]
    return batch


# pieces of text: ASCII, Latin with combining marks, marks at text start / after spaces / after
# punctuation / doubled, joiners and variation selectors, CJK, kana, Hangul, emoji and other astral
# characters, tabs, newlines, NBSP and other Unicode spaces (and C0 separators \x1c-\x1f, which \s matches)
PIECES = [
    "a", "Zy", "_", "42", "²", "don't", "D.C.", ",", "(", "-", "\u2014",
    "e\u0301", "Cafe\u0301", "\u0301", "\u0301\u0302", "!\u0301", ".\u20dd", "\u0483", "\u0e31", "\u0e2a\u0e31",
    "\u200d", "\u200c", "\ufe0f", "\u2764\ufe0f", "\U0001F469\u200d\U0001F4BB",
    "東京", "中", "。", "タワー", "한강은", "서울", "\u3099",
    "\U0001F600", "\U00020000", "\U0001D400", "\U000E0100", "\U0001F1EB\U0001F1F7",
    " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u2003", "\u0085", "\x1c", "\x1f", "\x0b",
]
MIXED_TEXTS = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.sampled_from(["", " ", "\t\n", "\u00a0\u3000", "\u0301", " \u0301", "\u0301a"]),  # empty, whitespace-only
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(MIXED_TEXTS, max_size=6), st.sampled_from(["en", "fr-CA", "zh", "ko", "ja_JP"]), st.sampled_from(UNITS))
def test_tokenize_batch_tokens_equal_reference_on_mixed_unicode(texts, language, units):
    assert_tokens_like_reference(texts, language, units)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(["word", "Word", " ", ",", ".", "1999", *PIECES]), max_size=40).map("".join),
             max_size=8),
    st.sampled_from(["en", "ko"]),
)
def test_mostly_ascii_batches_split_over_bytes_and_characters_alike(texts, language):
    """Mostly ASCII text (what units="auto" splits over bytes) with a few multi-byte characters."""
    by_bytes = assert_tokens_like_reference(texts, language, "bytes")
    by_characters = tokenize_batch(texts, language, units="characters")
    assert by_characters.tokens.equals(by_bytes.tokens)
    assert np.array_equal(by_characters.starts, by_bytes.starts) and np.array_equal(by_characters.ends, by_bytes.ends)


@pytest.mark.parametrize("units", UNITS)
@pytest.mark.parametrize("language", ["en", "zh", "ko"])
def test_tokenize_batch_edge_cases(language, units):
    for texts in ([], [""], ["", ""], [" "], ["\n", "\t "], ["\u0301"], [" \u0301x", "!\u0301\u0302y"], ["\U0001F600"],
                  ["a" * 1000 + "\u00e9"], ["x\u00a0y\u3000z"]):
        assert_tokens_like_reference(texts, language, units)
    empty = tokenize_batch([], language, units=units)
    assert len(empty.tokens) == 0 and empty.row_offsets.tolist() == [0] and empty.texts == []


def test_tokenize_batch_marks_attach_like_the_regex():
    batch = tokenize_batch(["\u0301a b!\u0301c .\u0301\u0302 \u0301"], "en")
    assert batch.texts == ["\u0301a", "b", "!\u0301", "c", ".\u0301\u0302", "\u0301"]
    assert batch.starts.tolist() == [0, 3, 4, 6, 8, 12]
    chars = tokenize_batch(["\u0301a b!\u0301c"], "zh")
    assert chars.texts == ["\u0301", "a", "b", "!\u0301", "c"]


def test_tokenize_batch_rejects_bad_input():
    with pytest.raises(TypeError, match="needs strings, got int at index 1"):
        tokenize_batch(["a", 3], "en")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="units must be"):
        tokenize_batch(["a"], "en", units="words")  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8 (nor an Arrow string)
        tokenize_batch(["a\ud800b"], "en")


def test_tokenize_batch_texts_are_cached_python_strings():
    batch = tokenize_batch(["Ana met Bo ."], "en")
    assert batch.texts is batch.texts and batch.texts == ["Ana", "met", "Bo", "."]


@pytest.mark.parametrize("units", UNITS)
@pytest.mark.parametrize("language", ["en", "es", "fr", "ru", "de", "zh", "ja", "ko"])
def test_embedded_sample_tokens_equal_reference(language, units):
    root = Path(dynamicner_data.__file__).parent / "data" / "sample" / language
    texts = [v["sentence"] for split in ("train", "validation", "test")
             for v in json.loads((root / f"{split}.json").read_text(encoding="utf-8")).values()]
    assert texts
    assert_tokens_like_reference(texts, language, units)


@pytest.mark.slow
def test_shared_geic_files_tokens_equal_reference(shared_data):
    """Every GEIC file of ../shared/data/geic, split both ways (words and characters), over bytes and characters."""
    files = sorted((shared_data / "geic").glob("*.json"))
    if not files:
        pytest.skip(f"no GEIC files in {shared_data / 'geic'}")
    for path in files:
        texts = [v["sentence"] for v in json.loads(path.read_text(encoding="utf-8")).values()]
        for language in ("en", "zh"):
            for units in UNITS:
                assert_tokens_like_reference(texts, language, units)
