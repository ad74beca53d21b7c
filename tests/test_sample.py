"""Quality checks for the embedded DynamicNER sample (``dynamicner_data/data/sample/<lang>/<split>.json``).

The sample is written by this project in the authors' GEIC format::

    {"sentence1": {"sentence": "...", "entity": ["...", ...], "category": ["...", ...]}, ...}

These tests read it through ``importlib.resources`` (so they check what the installed package
carries, with no file outside it) and never need ``../shared``; the cross-checks against the
real data there are separate tests that use the ``shared_data`` fixture.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from importlib import resources
from pathlib import Path

import pytest

from dynamicner_data.geic import read_geic
from dynamicner_data.taxonomy import Taxonomy
from dynamicner_data.tokenize import bio_tags, tokenize

LANGUAGES = ("en", "es", "fr", "ru", "de", "zh", "ja", "ko")
SPLITS = ("train", "validation", "test")
MIN_SPLIT_SIZES = {"train": 32, "validation": 8, "test": 8}
# Languages written without spaces between words.
UNSPACED = {"zh", "ja"}


# --- the DynamicNER hierarchy: third-level name -> first-level name (third-level names are unique) ---
def _names(csv: str) -> list[str]:
    return [name.strip() for name in csv.split(",")]


def _third_to_first(second_level: dict[str, str], third_level: dict[str, str]) -> dict[str, str]:
    """Map every third-level name to its first-level ancestor (third-level names are unique)."""
    second_to_first = {second: first for first, csv in second_level.items() for second in _names(csv)}
    mapping: dict[str, str] = {}
    for second, csv in third_level.items():
        for third in _names(csv):
            assert third not in mapping, f"third-level name {third!r} occurs twice"
            mapping[third] = second_to_first[second]
    return mapping


TAXONOMY = Taxonomy.dynamicner()
THIRD_TO_FIRST = {node.name: node.path[0] for node in TAXONOMY.level(3)}
FIRST_LEVEL = frozenset(node.name for node in TAXONOMY.level(1))


# --- loading ---------------------------------------------------------------------------------
def _sample_dir():
    return resources.files("dynamicner_data") / "data" / "sample"


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys {duplicates}")
    return dict(pairs)


def load_split(lang: str, split: str) -> dict[str, dict]:
    """Parse one sample file strictly: UTF-8, JSON, no duplicate keys at any depth."""
    path = _sample_dir() / lang / f"{split}.json"
    try:
        text = path.read_bytes().decode("utf-8")  # strict: raises on any invalid byte
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors too
        raise AssertionError(f"sample file {lang}/{split}.json: {exc}") from exc


@pytest.fixture(scope="module")
def sample() -> dict[str, dict[str, dict[str, dict]]]:
    return {lang: {split: load_split(lang, split) for split in SPLITS} for lang in LANGUAGES}


def place_left_to_right(sentence: str, entities: list[str]) -> list[tuple[int, int]]:
    """Character spans of ``entities`` in order, each searched from the end of the previous one."""
    spans, position = [], 0
    for entity in entities:
        start = sentence.find(entity, position)
        if start < 0:
            raise AssertionError(f"{entity!r} not found at or after offset {position} in {sentence!r}")
        spans.append((start, start + len(entity)))
        position = start + len(entity)
    return spans


def occurrences(sentence: str, entity: str) -> list[int]:
    found, start = [], sentence.find(entity)
    while start >= 0:
        found.append(start)
        start = sentence.find(entity, start + 1)
    return found


# --- the checks --------------------------------------------------------------------------------
def test_language_folders_are_exactly_the_written_languages():
    folders = sorted(entry.name for entry in _sample_dir().iterdir() if entry.is_dir())
    assert folders == sorted(LANGUAGES)
    for lang in LANGUAGES:
        files = sorted(entry.name for entry in (_sample_dir() / lang).iterdir())
        assert files == sorted(f"{split}.json" for split in SPLITS), lang


def test_third_level_names_identify_their_node():
    """Categories are bare third-level names: that is only safe while no two level-3 nodes share a name."""
    assert len(THIRD_TO_FIRST) == len(TAXONOMY.level(3)) == 155
    assert len(FIRST_LEVEL) == 8


def test_strict_loader_rejects_duplicate_keys_and_bad_bytes():
    with pytest.raises(ValueError, match="duplicate keys"):
        json.loads('{"sentence1": {}, "sentence1": {}}', object_pairs_hook=_reject_duplicate_keys)
    with pytest.raises(UnicodeDecodeError):
        b'{"sentence1": "\xff"}'.decode("utf-8")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("split", SPLITS)
def test_split_is_well_formed(sample, lang, split):
    data = sample[lang][split]
    assert len(data) >= MIN_SPLIT_SIZES[split], f"{lang}/{split}: {len(data)} sentences"
    assert list(data) == [f"sentence{i}" for i in range(1, len(data) + 1)], f"{lang}/{split}: keys out of order"
    for key, record in data.items():
        where = f"{lang}/{split}.json {key}"
        assert set(record) == {"sentence", "entity", "category"}, where
        sentence, entities, categories = record["sentence"], record["entity"], record["category"]
        assert isinstance(sentence, str) and sentence == sentence.strip() and sentence, where
        assert "  " not in sentence and "\n" not in sentence, where
        if lang in UNSPACED:
            assert " " not in sentence, f"{where}: {lang} is written without spaces"
        assert len(entities) == len(categories), f"{where}: entity/category lengths differ"
        assert entities, f"{where}: no entities"
        for entity, category in zip(entities, categories):
            assert isinstance(entity, str) and entity == entity.strip() and entity, where
            assert entity in sentence, f"{where}: entity {entity!r} not verbatim in the sentence"
            assert category in THIRD_TO_FIRST, f"{where}: {category!r} is not a DynamicNER third-level type"
        # Listed left to right, and a repeated surface form once per occurrence (not counting
        # occurrences inside a longer entity, e.g. "Paris" inside "Paris Saint-Germain").
        spans = place_left_to_right(sentence, entities)
        for entity in set(entities):
            free = [
                start
                for start in occurrences(sentence, entity)
                if not any(a <= start and start + len(entity) <= b and b - a > len(entity) for a, b in spans)
            ]
            assert len(free) == entities.count(entity), (
                f"{where}: {entity!r} occurs {len(free)} times but is listed {entities.count(entity)} times"
            )
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end <= start, f"{where}: overlapping entities"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_language_coverage(sample, lang):
    records = [record for split in SPLITS for record in sample[lang][split].values()]
    assert len(records) >= 40
    categories = [category for record in records for category in record["category"]]
    assert len(categories) / len(records) >= 2.5, "aim for about 3 entities per sentence"
    assert {THIRD_TO_FIRST[c] for c in categories} == FIRST_LEVEL
    assert len(set(categories)) >= 60, f"{lang}: only {len(set(categories))} third-level types"
    for split in ("validation", "test"):
        firsts = {THIRD_TO_FIRST[c] for record in sample[lang][split].values() for c in record["category"]}
        assert len(firsts) >= 4, f"{lang}/{split}: only first-level types {sorted(firsts)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_repeated_strings_take_different_types(sample, lang):
    types_of = defaultdict(set)
    for split in SPLITS:
        for record in sample[lang][split].values():
            for entity, category in zip(record["entity"], record["category"]):
                types_of[entity].add(category)
    ambiguous = {entity: sorted(types) for entity, types in types_of.items() if len(types) > 1}
    assert len(ambiguous) >= 4, f"{lang}: {ambiguous}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_test_split_shares_entities_with_train(sample, lang):
    train = {entity for record in sample[lang]["train"].values() for entity in record["entity"]}
    test = [entity for record in sample[lang]["test"].values() for entity in record["entity"]]
    shared = sum(entity in train for entity in test)
    assert shared / len(test) >= 0.3, f"{lang}: {shared}/{len(test)} test entities seen in train"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_sentence_repeats_within_a_language(sample, lang):
    sentences = [record["sentence"] for split in SPLITS for record in sample[lang][split].values()]
    assert len(set(sentences)) == len(sentences)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_project_reader_places_every_entity_exactly_where_listed(sample, lang, recwarn):
    """The project's GEIC reader finds every entity verbatim, at the left-to-right spans, with its path."""
    for split in SPLITS:
        path = _sample_dir() / lang / f"{split}.json"
        samples, report = read_geic(path, TAXONOMY)
        assert (report.samples, report.fuzzy, report.unaligned) == (len(sample[lang][split]), 0, 0), report.summary()
        assert report.exact == report.entities
        for parsed in samples:
            record = sample[lang][split][parsed.key]
            expected = place_left_to_right(record["sentence"], record["entity"])
            assert [(e.start, e.end) for e in parsed.entities] == expected, f"{lang}/{split} {parsed.key}"
            assert [e.node.path[0] for e in parsed.entities] == [THIRD_TO_FIRST[c] for c in record["category"]]
    assert not [w for w in recwarn if "unaligned" in str(w.message).lower()]


# Korean particles attach to nouns ("한강은" = "한강" + topic particle): Korean is tokenized per
# character, so its entities start and end on token edges too.
@pytest.mark.parametrize("lang", LANGUAGES)
def test_entities_start_and_end_on_token_boundaries(sample, lang):
    for split in SPLITS:
        for key, record in sample[lang][split].items():
            spans = place_left_to_right(record["sentence"], record["entity"])
            tags = bio_tags(tokenize(record["sentence"], lang), [(a, b, c) for (a, b), c in zip(spans, record["category"])])
            assert tags.skipped == 0, f"{lang}/{split} {key}: {tags}"


# --- cross-checks against the real data in ../shared/data -------------------------------------
def test_hierarchy_used_here_matches_shared_taxonomy(shared_data: Path):
    """The packaged taxonomy the checks rely on, against the authors' file read with plain JSON."""
    official = json.loads((shared_data / "taxonomy" / "dynamicner.json").read_text(encoding="utf-8"))
    assert set(_names(official["first-level"])) == FIRST_LEVEL
    assert _third_to_first(official["second-level"], official["third-level"]) == THIRD_TO_FIRST
    assert len(THIRD_TO_FIRST) == 155


def _normalise(sentence: str) -> str:
    return re.sub(r"\s+", "", sentence).casefold()


def test_no_sentence_is_copied_from_shared_data(sample, shared_data: Path):
    files = sorted((shared_data / "geic").glob("*.json"))
    assert files, f"no GEIC files in {shared_data / 'geic'}"
    real = set()
    for path in files:
        for record in json.loads(path.read_text(encoding="utf-8")).values():
            real.add(_normalise(record["sentence"]))
    ours = [
        (lang, split, key, record["sentence"])
        for lang in LANGUAGES
        for split in SPLITS
        for key, record in sample[lang][split].items()
    ]
    copied = [item for item in ours if _normalise(item[3]) in real]
    assert not copied, copied
