"""Real data from ../shared/data: the authors' English sample, CoNLL-2003 and CrossNER test files."""

from __future__ import annotations

import json
import warnings
from collections import Counter

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from dynamicner_data.geic import GeicAlignmentWarning, read_geic
from dynamicner_data.taxonomy import Taxonomy
from dynamicner_data.tokenize import bio_tags, tokenize

CORPORA = {  # GEIC test file -> its taxonomy file, its entity types
    "conll2003-test.json": ("conll2003.json", 4),
    "crossner-ai-test.json": ("crossner-ai.json", 14),
    "crossner-music-test.json": ("crossner-music.json", 13),
    "crossner-science-test.json": ("crossner-science.json", 17),
}

pytestmark = pytest.mark.slow  # whole real corpora: read, aligned and round-tripped file by file


@pytest.fixture(scope="module")
def en(shared_data):
    path = shared_data / "geic" / "dynamicner-example-en.json"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples, report = read_geic(path, Taxonomy.dynamicner())
    raw = json.loads(path.read_text(encoding="utf-8"))
    return samples, report, raw, caught


def test_authors_sample_counts_add_up(en):
    samples, report, raw, _ = en
    assert (report.samples, report.entities) == (900, 2805) == (len(samples), sum(len(s.entities) for s in samples))
    assert report.exact + report.fuzzy + report.unaligned == report.entities
    # the 17 entities that are not verbatim in their sentence are exactly the fuzzy + unaligned ones
    not_verbatim = [(k, e) for k, v in raw.items() for e in v["entity"] if e not in v["sentence"]]
    assert len(not_verbatim) == 17 == report.fuzzy + report.unaligned
    placed_differently = Counter(s.key for s in samples for e in s.entities if e.alignment != "exact")
    assert Counter(k for k, _ in not_verbatim) == placed_differently
    # "88 repeated surface forms": entity annotations whose string occurs more than once in its sentence
    assert report.repeated_surface_forms == 88
    assert report.unknown_categories == {} and report.skipped_samples == []
    assert all(s.entities[i].node.name == raw[s.key]["category"][i] for s in samples for i in range(len(s.entities)))


def test_authors_sample_offsets_and_reporting(en):
    samples, report, raw, caught = en
    unaligned = []
    for s in samples:
        assert s.text == raw[s.key]["sentence"]
        for e, surface in zip(s.entities, raw[s.key]["entity"]):
            if e.alignment == "unaligned":
                assert (e.start, e.end) == (-1, -1) and e.text == surface
                unaligned.append((s.key, surface))
            else:
                assert 0 <= e.start < e.end <= len(s.text) and s.text[e.start:e.end] == e.text
                if e.alignment == "exact":
                    assert e.text == surface
    assert report.unaligned_examples == unaligned and len(unaligned) == report.unaligned
    messages = [str(w.message) for w in caught if issubclass(w.category, GeicAlignmentWarning)]
    assert len(messages) == 1 and f"{report.unaligned} entities not found" in messages[0]
    assert all(key in messages[0] for key, _ in unaligned)
    # repeated mentions of one string land on distinct occurrences, left to right, when the sentence has them
    for s in samples:
        by_text: dict[str, list[int]] = {}
        for e in s.entities:
            if e.alignment == "exact":
                by_text.setdefault(e.text, []).append(e.start)
        for text, starts in by_text.items():
            if s.text.count(text) >= len(starts):
                assert len(set(starts)) == len(starts), (s.key, text)


@pytest.mark.parametrize("geic_file", sorted(CORPORA))
def test_other_corpora_build_with_their_taxonomies(shared_data, geic_file):
    taxonomy_file, n_types = CORPORA[geic_file]
    taxonomy = Taxonomy.from_file(shared_data / "taxonomy" / taxonomy_file)
    raw = json.loads((shared_data / "geic" / geic_file).read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every entity is placed: no alignment warning
        samples, report = read_geic(shared_data / "geic" / geic_file, taxonomy, empty_sentences="skip")
    assert len(taxonomy.level(1)) == n_types
    empty = [k for k, v in raw.items() if not v["sentence"].strip()]
    assert report.skipped_samples == empty
    assert report.skipped_entities == sum(len(raw[k]["entity"]) for k in empty)
    assert report.samples + len(empty) == len(raw)
    assert report.entities + report.skipped_entities == sum(len(v["entity"]) for v in raw.values())
    assert report.exact + report.fuzzy + report.unaligned == report.entities and report.unaligned == 0
    assert {e.node for s in samples for e in s.entities} <= set(taxonomy.nodes)
    assert all(e.node is not None for s in samples for e in s.entities)


def test_conll_counts(shared_data):
    taxonomy = Taxonomy.from_file(shared_data / "taxonomy" / "conll2003.json")
    samples, report = read_geic(shared_data / "geic" / "conll2003-test.json", taxonomy, empty_sentences="skip")
    # the shared README's "4 entities not found verbatim" are the entities of the one empty sentence
    assert report.skipped_entities == 4 and report.repeated_surface_forms == 149


@pytest.mark.parametrize("geic_file, taxonomy_file, language", [
    ("dynamicner-example-en.json", None, "en"),
    ("conll2003-test.json", "conll2003.json", "en"),
    ("crossner-science-test.json", "crossner-science.json", "en"),
    ("dynamicner-example-en.json", None, "zh"),  # per-character tokens: every placed span is on boundaries
])
def test_bio_round_trip_with_seqeval(shared_data, geic_file, taxonomy_file, language):
    taxonomy = Taxonomy.dynamicner() if taxonomy_file is None else Taxonomy.from_file(shared_data / "taxonomy" / taxonomy_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples, _ = read_geic(shared_data / "geic" / geic_file, taxonomy, empty_sentences="skip")
    totals = Counter()
    for s in samples:
        tokens = tokenize(s.text, language)
        spans = [(e.start, e.end, e.node.name) for e in s.entities]
        bio = bio_tags(tokens, spans)
        decoded = {(tokens[a].start, tokens[b].end, label) for label, a, b in get_entities(bio.tags)}
        starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
        placed = {sp for sp in spans if sp[0] >= 0}
        on_boundaries = {sp for sp in placed if sp[0] in starts and sp[1] in ends}
        assert decoded <= on_boundaries
        assert len(on_boundaries) - len(decoded) == bio.overlapping
        assert len(placed) - len(on_boundaries) == bio.misaligned
        totals.update(spans=len(placed), misaligned=bio.misaligned, overlapping=bio.overlapping, unaligned=bio.unaligned)
    if language == "zh":
        assert totals["misaligned"] == 0
    assert totals["misaligned"] < 0.02 * totals["spans"]
