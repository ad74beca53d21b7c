"""GEIC reader: alignment rules, the report, and every input error naming file, key and field."""

from __future__ import annotations

import hashlib
import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamicner_data.geic import (
    AlignmentReport,
    GeicAlignmentWarning,
    GeicError,
    align_entities,
    parse_geic,
    read_geic,
)
from dynamicner_data.taxonomy import Taxonomy


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.dynamicner()


def sample(sentence, entity, category):
    return {"sentence": sentence, "entity": entity, "category": category}


def test_repeated_forms_left_to_right():
    s = "Paris is not Paris , says Paris ."
    assert align_entities(s, ["Paris", "Paris", "Paris"]) == [(0, 5, "exact"), (13, 18, "exact"), (26, 31, "exact")]
    # a fourth mention wraps around to the first occurrence instead of being lost
    assert align_entities(s, ["Paris"] * 4)[3] == (0, 5, "exact")
    # independent surface forms keep their own cursors
    assert align_entities("A B A B", ["A", "B", "B", "A"]) == [(0, 1, "exact"), (2, 3, "exact"), (6, 7, "exact"), (4, 5, "exact")]


def test_word_boundaries_preferred():
    s = "Iranian officials met in Iran ."
    assert align_entities(s, ["Iran"]) == [(25, 29, "exact")]
    # inside a word only when there is nothing better
    assert align_entities("Pianists play .", ["Pianist"]) == [(0, 7, "exact")]


def test_free_occurrence_preferred_to_one_inside_another_entity():
    # Japanese: the substance is mentioned on its own after the name of the attack
    s = "地下鉄サリン事件の裁判では、サリンの製造方法が争点になった。"
    free = s.index("サリン", 8)
    for surfaces in (["地下鉄サリン事件", "サリン"], ["サリン", "地下鉄サリン事件"]):
        placed = dict(zip(surfaces, align_entities(s, surfaces)))
        assert placed["地下鉄サリン事件"] == (0, 8, "exact")
        assert placed["サリン"] == (free, free + 3, "exact")
    # Korean: the company (with a topic particle) comes before the stadium named after it
    s = "삼성은 대구 삼성 라이온즈 파크의 명칭 사용권을 가지고 있다."
    for surfaces in (["삼성", "대구 삼성 라이온즈 파크"], ["대구 삼성 라이온즈 파크", "삼성"]):
        placed = dict(zip(surfaces, align_entities(s, surfaces)))
        assert placed["삼성"] == (0, 2, "exact")
        assert placed["대구 삼성 라이온즈 파크"] == (4, 17, "exact")
    # English: a city after a club named after it, listed in either order
    s = "Paris Saint-Germain fans marched through Paris ."
    assert align_entities(s, ["Paris", "Paris Saint-Germain"]) == [(41, 46, "exact"), (0, 19, "exact")]
    assert align_entities(s, ["Paris Saint-Germain", "Paris"]) == [(0, 19, "exact"), (41, 46, "exact")]


def test_nested_annotations_keep_their_only_place():
    s = "He joined Bank of America in 1999 ."
    for surfaces in (["Bank of America", "America"], ["America", "Bank of America"]):
        placed = dict(zip(surfaces, align_entities(s, surfaces)))
        assert placed == {"Bank of America": (10, 25, "exact"), "America": (18, 25, "exact")}
    # with two nested candidates, the other preferences still choose among them
    s = "Bank of America and Bank of America Plaza ."
    out = align_entities(s, ["Bank of America Plaza", "Bank of America", "America"])
    assert out == [(20, 41, "exact"), (0, 15, "exact"), (8, 15, "exact")]


def test_repeated_forms_avoid_other_entities_then_go_left_to_right():
    s = "Luis Milla and Luis Enrique met Luis and Luis ."
    out = align_entities(s, ["Luis Milla", "Luis Enrique", "Luis", "Luis"])
    assert out[2:] == [(32, 36, "exact"), (41, 45, "exact")]
    # a third mention with no free place left goes back to the earliest free one, then anywhere
    assert align_entities(s, ["Luis Milla", "Luis", "Luis", "Luis"])[1:] == [
        (15, 19, "exact"), (32, 36, "exact"), (41, 45, "exact")]
    assert align_entities("Ann met Ann .", ["Ann", "Ann", "Ann"])[2] == (0, 3, "exact")


def test_word_boundaries_by_script():
    # Hangul: a boundary is the start of an eojeol, whatever particle follows
    assert align_entities("대한국인 한국은 좋다", ["한국"]) == [(5, 7, "exact")]
    assert align_entities("서울은 서울시의 수도", ["서울"]) == [(0, 2, "exact")]
    # Han and kana have no word edges to prefer: the leftmost occurrence wins
    assert align_entities("我在北京工作，「北京」是首都。", ["北京"]) == [(2, 4, "exact")]
    assert align_entities("東京タワーと「東京」", ["東京"]) == [(0, 2, "exact")]
    # a Latin name glued to Han characters is not inside a word
    assert align_entities("Apple发布了新品，Applesauce不是", ["Apple"]) == [(0, 5, "exact")]


SCRIPTS = {  # letters, how words join into a phrase, what separates phrases
    "latin": ("ab", " ", " | "),
    "hangul": ("가나", " ", " , "),
    "han": ("東京", "", "、"),
}


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SCRIPTS)), st.data())
def test_every_entity_gets_a_free_place_when_the_sentence_has_one(script, data):
    """Each mention (a phrase of 1-3 words) has its own occurrence, between separators, among
    distractor phrases that may contain or equal the entities: then no two entities overlap,
    repeated mentions take distinct places, and every span is verbatim."""
    letters, joiner, separator = SCRIPTS[script]
    phrase = st.lists(st.text(alphabet=letters, min_size=1, max_size=3), min_size=1, max_size=3).map(joiner.join)
    mentions = data.draw(st.lists(phrase, min_size=1, max_size=6), label="mentions")
    distractors = data.draw(st.lists(phrase, max_size=6), label="distractors")
    sentence = separator.join(data.draw(st.permutations(mentions + distractors), label="order"))
    out = align_entities(sentence, mentions)
    assert all(how == "exact" and sentence[start:end] == m for m, (start, end, how) in zip(mentions, out))
    spans = sorted((start, end) for start, end, _ in out)
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:])), (sentence, mentions, out)
    if script == "latin":  # in a spaced script every entity lands on whole words
        outside = set(" |")
        assert all((start == 0 or sentence[start - 1] in outside) and (end == len(sentence) or sentence[end] in outside)
                   for start, end in spans)


def test_fuzzy_maps_back_to_original_offsets():
    s = "near Washington , D.C . and ( Ghost ) Riders"
    (a, b) = align_entities(s, ["washington , D.C.", "(Ghost) Riders"])
    assert a[2] == b[2] == "fuzzy"
    assert s[a[0]:a[1]] == "Washington , D.C ."
    assert s[b[0]:b[1]] == "( Ghost ) Riders"
    # case-insensitive repeats continue after the previous (exact) match of the same form
    assert align_entities("EU and eu", ["EU", "Eu"]) == [(0, 2, "exact"), (7, 9, "fuzzy")]


def test_unaligned_kept_counted_and_warned(tax):
    data = {"k1": sample("Pianists play .", ["piano", "Pianists"], ["musical instruments", "musician"])}
    with pytest.warns(GeicAlignmentWarning, match=r"toy.json: 1 entities not found .* k1"):
        samples, report = parse_geic(data, tax, source="toy.json")
    missing, found = samples[0].entities
    assert (missing.start, missing.end, missing.alignment, missing.text) == (-1, -1, "unaligned", "piano")
    assert (found.start, found.end) == (0, 8)
    assert report.unaligned == 1 and report.exact == 1 and report.unaligned_examples == [("k1", "piano")]
    assert "1 unaligned" in report.summary()
    assert found.to_dict() == {"text": "Pianists", "label": "musician", "start": 0, "end": 8,
                               "path": ["person", "real person", "musician"]}


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab AB.,é\u0130ß", max_size=30),
    st.lists(st.text(alphabet="abAB .é", min_size=1, max_size=5), max_size=6),
)
def test_alignment_invariants(sentence, surfaces):
    out = align_entities(sentence, surfaces)
    assert len(out) == len(surfaces)
    for surface, (start, end, how) in zip(surfaces, out):
        if how == "unaligned":
            assert (start, end) == (-1, -1)
            assert "".join(surface.lower().split()) not in "".join(sentence.lower().split()) or not surface.strip()
        else:
            assert 0 <= start < end <= len(sentence)
            if how == "exact":
                assert sentence[start:end] == surface
            else:
                assert surface not in sentence
                assert "".join(sentence[start:end].lower().split()) == "".join(surface.lower().split())


def test_report_merge_and_dict():
    a = AlignmentReport(file="a.json", samples=2, entities=3, exact=2, unaligned=1,
                        unaligned_examples=[("s1", "x")], repeated_surface_forms=1, unknown_categories={"foo": 1})
    b = AlignmentReport(file="b.json", samples=1, entities=1, fuzzy=1, unknown_categories={"foo": 2})
    m = a.merge(b)
    assert (m.file, m.samples, m.entities, m.exact, m.fuzzy, m.unaligned) == ("a.json, b.json", 3, 4, 2, 1, 1)
    assert m.unknown_categories == {"foo": 3}
    assert json.loads(json.dumps(m.to_dict()))["unaligned_examples"] == [["s1", "x"]]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"s1": sample("A b .", ["A"], [])}, r"sample 's1': fields 'entity' \(1 items\) and 'category' \(0 items\)"),
        ({"s1": sample("A b .", ["A"], ["nonsense"])}, r"sample 's1': field 'category'\[0\]: unknown category 'nonsense'"),
        ({"s1": sample("   ", [], [])}, r"sample 's1': field 'sentence' is empty"),
        ({"s1": sample(3, [], [])}, r"sample 's1': field 'sentence' must be a string"),
        ({"s1": sample("A", "A", ["city"])}, r"sample 's1': field 'entity' must be a list"),
        ({"s1": sample("A", [1], ["city"])}, r"sample 's1': field 'entity'\[0\] must be a string"),
        ({"s1": sample("A", [""], ["city"])}, r"sample 's1': field 'entity'\[0\] is empty"),
        ({"s1": {"sentence": "A", "entity": []}}, r"sample 's1': missing field 'category'"),
        ({"s1": ["A"]}, r"sample 's1': expected an object"),
    ],
)
def test_errors_name_file_key_and_field(tax, data, message):
    with pytest.raises(GeicError, match=message) as info:
        parse_geic(data, tax, source="in.json")
    assert str(info.value).startswith("in.json: ")


def test_unknown_categories_to_catch_all(tax):
    data = {"s1": sample("Foo met Bar .", ["Foo", "Bar"], ["gizmo", "city"])}
    samples, report = parse_geic(data, tax, source="x", unknown_category="catch_all", catch_all="miscellaneous")
    assert samples[0].entities[0].node.path == ("miscellaneous",) * 3
    assert samples[0].entities[0].category == "gizmo"
    assert report.unknown_categories == {"gizmo": 1}
    samples, _ = parse_geic(data, tax, source="x", unknown_category="catch_all")
    assert samples[0].entities[0].node is None
    with pytest.raises(ValueError, match="not a type"):
        parse_geic(data, tax, source="x", unknown_category="catch_all", catch_all="gizmo")


def test_empty_sentences_skipped_and_counted(tax):
    data = {"s1": sample("", ["A"], ["city"]), "s2": sample("A .", ["A"], ["city"])}
    samples, report = parse_geic(data, tax, source="x", empty_sentences="skip")
    assert [s.key for s in samples] == ["s2"]
    assert report.skipped_samples == ["s1"] and report.skipped_entities == 1
    assert "skipped 1 samples (1 entities)" in report.summary()


def test_file_level_errors(tmp_path, tax):
    dup = tmp_path / "dup.json"
    dup.write_text('{"s1": {"sentence": "A", "entity": [], "category": []},'
                   ' "s1": {"sentence": "B", "entity": [], "category": []}}', encoding="utf-8")
    with pytest.raises(GeicError, match=r"dup.json: duplicate sample key 's1'"):
        read_geic(dup, tax)
    dup_field = tmp_path / "dupfield.json"
    dup_field.write_text('{"s7": {"sentence": "A", "sentence": "B", "entity": [], "category": []}}', encoding="utf-8")
    with pytest.raises(GeicError, match=r"dupfield.json: sample 's7': field 'sentence' given twice"):
        read_geic(dup_field, tax)
    broken = tmp_path / "broken.json"
    broken.write_text('{"s1": {"sentence": "A",', encoding="utf-8")
    with pytest.raises(GeicError, match=r"broken.json: malformed JSON at line 1"):
        read_geic(broken, tax)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"s1": {"sentence": "café", "entity": [], "category": []}}'.encode("latin-1"))
    with pytest.raises(GeicError, match=r"latin.json: not valid UTF-8 at byte 24"):
        read_geic(latin, tax)
    with pytest.raises(GeicError, match=r"missing.json: cannot read"):
        read_geic(tmp_path / "missing.json", tax)
    good = tmp_path / "good.json"
    good.write_text("\ufeff" + json.dumps({"s1": sample("Berlin .", ["Berlin"], ["city"])}), encoding="utf-8")
    samples, report = read_geic(good, tax)
    assert report.file == str(good) and samples[0].entities[0].end == 6


def test_no_warning_when_everything_aligns(tax):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_geic({"s": sample("Rome .", ["Rome"], ["city"])}, tax, source="x")


def test_errors_name_the_right_sample_in_a_longer_file():
    """Items and categories are checked for the whole file at once; the error still names its sample."""
    from dynamicner_data.geic import GeicError, parse_geic

    tax = Taxonomy.dynamicner()
    good = {"sentence": "Ana met Bo .", "entity": ["Ana", "Bo"], "category": ["person", "person"]}
    bad_item = {"sentence": "Ana met Bo .", "entity": ["Ana", 7], "category": ["person", "person"]}
    blank_item = {"sentence": "Ana met Bo .", "entity": ["Ana", "Bo"], "category": ["person", "  "]}
    unknown = {"sentence": "Ana met Bo .", "entity": ["Ana", "Bo"], "category": ["person", "wizard"]}
    with pytest.raises(GeicError, match=r"f\.json: sample 's3': field 'entity'\[1\] must be a string, got int"):
        parse_geic({"s1": good, "s2": good, "s3": bad_item}, tax, source="f.json")
    with pytest.raises(GeicError, match=r"sample 's2': field 'category'\[1\] is empty"):
        parse_geic({"s1": good, "s2": blank_item, "s3": good}, tax, source="f.json")
    with pytest.raises(GeicError, match=r"sample 's4': field 'category'\[1\]: unknown category 'wizard'"):
        parse_geic({"s1": good, "s2": good, "s3": good, "s4": unknown, "s5": unknown}, tax, source="f.json")
    samples, report = parse_geic({"s1": good, "s2": unknown, "s3": unknown}, tax, source="f.json",
                                 unknown_category="catch_all")
    assert report.unknown_categories == {"wizard": 2} and samples[1].entities[1].node is None


# --- the column-wise reader (chunks of samples, checked while json decodes) against the sample-by-sample one


def _longer_file(n: int = 2600) -> dict:
    """``n`` samples crossing chunk boundaries: unique, repeated, nested, fuzzy and unplaceable forms."""
    kinds = [
        sample("Ana met Bo in Lima .", ["Ana", "Bo", "Lima"], ["person", "person", "city"]),
        sample("Paris is not Paris , says Paris .", ["Paris", "Paris"], ["city", "city"]),
        sample("He joined Bank of America in 1999 .", ["America", "Bank of America"], ["country", "company"]),
        sample("near Washington , D.C . today", ["washington , D.C."], ["city"]),
        sample("Pianists play .", ["piano", "Pianists"], ["musical instruments", "musician"]),
        sample("Iranian officials met in Iran .", ["Iran"], ["country"]),
        sample("No entities here .", [], []),
        sample("NYNY fans .", ["NY"], ["city"]),  # two occurrences that touch: a repeated form
        sample("NY and NYC .", ["NY", "NYC"], ["city", "city"]),
    ]
    return {f"k{i}": dict(kinds[i % len(kinds)]) for i in range(n)}


def _one_by_one(data: dict, tax: Taxonomy, source: str, **options):
    """parse_geic through its sample-by-sample path (samples that are mappings, not dicts)."""
    from types import MappingProxyType

    return parse_geic({k: MappingProxyType(v) if isinstance(v, dict) else v for k, v in data.items()}, tax,
                      source=source, **options)


def _by_the_rules(data: dict, tax: Taxonomy, source: str, empty_sentences: str = "error",
                  unknown_category: str = "error", catch_all: str | None = None):
    """What the reader must give for well-formed ``data``: every sentence alone through align_entities."""
    from dynamicner_data.geic import GeicEntity, GeicSample
    from dynamicner_data.taxonomy import normalize_name

    report = AlignmentReport(file=source)
    samples = []
    fallback = tax.resolve(catch_all) if catch_all else None
    for key, value in data.items():
        sentence, surfaces = value["sentence"], value["entity"]
        if not sentence.strip():
            assert empty_sentences == "skip"
            report.skipped_samples.append(key)
            report.skipped_entities += len(surfaces)
            continue
        entities = []
        for surface, category, (start, end, how) in zip(surfaces, value["category"], align_entities(sentence, surfaces)):
            node = tax.resolve(category)
            if node is None:
                assert unknown_category == "catch_all"
                report.unknown_categories[category] = report.unknown_categories.get(category, 0) + 1
                node = fallback
            elif normalize_name(node.name) != normalize_name(category):
                report.category_variants[category] = str(node)
            entities.append(GeicEntity(sentence[start:end] if how == "fuzzy" else surface, category, start, end, node, how))
            setattr(report, how, getattr(report, how) + 1)
            if how == "unaligned":
                report.unaligned_examples.append((key, surface))
            report.repeated_surface_forms += sentence.count(surface) > 1
        samples.append(GeicSample(key, sentence, tuple(entities)))
    report.samples, report.entities = len(samples), sum(len(s.entities) for s in samples)
    return samples, report


def _outcome(read):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            samples, report = read()
        except GeicError as exc:
            return str(exc)
    return samples, report.to_dict(), len(caught)


@pytest.mark.parametrize("variant", ["plain", "blank sentences", "field order", "extra fields", "unknown categories",
                                     "bad item", "bad category", "missing field", "not an object"])
def test_column_reader_agrees_with_the_rules_sample_by_sample(tmp_path, tax, variant):
    data = _longer_file()
    options: dict = {}
    if variant == "blank sentences":
        for i in (5, 1030, 2047, 2048):
            data[f"k{i}"] = sample(" " if i % 2 else "", ["Ana"], ["person"])
        options = {"empty_sentences": "skip"}
    elif variant == "field order":
        data = {k: {"entity": v["entity"], "category": v["category"], "sentence": v["sentence"]} for k, v in data.items()}
    elif variant == "extra fields":
        for i in range(0, len(data), 7):
            data[f"k{i}"] = {"id": {"n": i}, **data[f"k{i}"]}
    elif variant == "unknown categories":
        data["k1500"] = sample("Foo met Ana .", ["Foo", "Ana"], ["gizmo", "person"])
        options = {"unknown_category": "catch_all", "catch_all": "miscellaneous"}
    elif variant == "bad item":
        data["k1500"] = sample("Foo met Ana .", ["Foo", 7], ["person", "person"])
    elif variant == "bad category":
        data["k1500"] = sample("Foo met Ana .", ["Foo", "Ana"], ["gizmo", "person"])
        data["k2100"] = sample("Foo met Ana .", ["Foo", "Ana"], ["person", "   "])
    elif variant == "missing field":
        del data["k1800"]["category"]
    elif variant == "not an object":
        data["k1100"] = ["Ana", "Bo"]
    path = tmp_path / "long.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    first_bad = {"bad item": "k1500", "bad category": "k1500", "missing field": "k1800", "not an object": "k1100"}
    if variant in first_bad:  # the sample-by-sample path names the first bad sample; so do the others
        expected = _outcome(lambda: _one_by_one(data, tax, str(path), **options))
        assert expected.startswith(f"{path}: sample '{first_bad[variant]}': ")
    else:
        samples, report = _by_the_rules(data, tax, str(path), **options)
        expected = samples, report.to_dict(), 1  # one warning: the unplaceable "piano"
        assert _outcome(lambda: _one_by_one(data, tax, str(path), **options)) == expected
    assert _outcome(lambda: read_geic(path, tax, **options)) == expected
    assert _outcome(lambda: parse_geic(data, tax, source=str(path), **options)) == expected


def test_repeated_keys_and_fields_found_in_any_chunk(tmp_path, tax):
    body = ", ".join(f'"k{i}": {json.dumps(sample("Ana met Bo .", ["Ana"], ["person"]))}' for i in range(2500))
    path = tmp_path / "dup.json"
    path.write_text("{" + body + ', "k1999": {"sentence": "x", "entity": [], "category": []}}', encoding="utf-8")
    with pytest.raises(GeicError, match=r"dup.json: duplicate sample key 'k1999'"):
        read_geic(path, tax)
    path.write_text("{" + body.replace('"k2100": {"sentence": "Ana met Bo ."', '"k2100": {"sentence": "A", "sentence": "B"')
                    + "}", encoding="utf-8")
    with pytest.raises(GeicError, match=r"dup.json: sample 'k2100': field 'sentence' given twice"):
        read_geic(path, tax)
    path.write_text("{" + body[:-40] + "}", encoding="utf-8")  # cut inside the last sample
    with pytest.raises(GeicError, match=r"dup.json: malformed JSON at line 1"):
        read_geic(path, tax)


# --- pinned: what the reader gives (samples, report, warnings); a refactor must keep all of it


def _digest(read, path) -> str:
    """sha256 (16 hex digits) of the samples, the report and the warnings of ``read()``, the path made relative."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples, report = read()
    rows = [[s.key, s.text, [[e.text, e.category, e.start, e.end, e.node.path if e.node else None, e.alignment]
                             for e in s.entities]] for s in samples]
    blob = json.dumps([rows, report.to_dict(), [str(w.message) for w in caught]], ensure_ascii=False)
    return hashlib.sha256(blob.replace(str(path), path.name).encode()).hexdigest()[:16]


def test_reader_pinned_on_the_embedded_samples(tax):
    from dynamicner_data.builder import _embedded_sample_dir

    root = _embedded_sample_dir()
    got = {f"{p.parent.name}/{p.name}": _digest(lambda: read_geic(p, tax), p) for p in sorted(root.glob("*/*.json"))}
    assert len(got) == 24
    assert hashlib.sha256(json.dumps(got, sort_keys=True).encode()).hexdigest()[:16] == PINNED_EMBEDDED


PINNED_EMBEDDED = "6e5c5a0c302e6349"  # the 24 embedded files
PINNED_REAL = {  # with the DynamicNER taxonomy (other corpora: unknown categories to "miscellaneous", blanks skipped)
    "dynamicner-example-en.json": "ec3e29f0aba08c46",
    "conll2003-test.json": "b0c895d5056af382",
    "crossner-ai-test.json": "35ed61e08e9b07be",
    "crossner-music-test.json": "db89598956725cd0",
    "crossner-science-test.json": "2f72e2ae8077ab37",
}


@pytest.mark.slow  # whole real files
@pytest.mark.parametrize("name", ["dynamicner-example-en.json", "conll2003-test.json", "crossner-ai-test.json",
                                  "crossner-music-test.json", "crossner-science-test.json"])
def test_reader_pinned_on_real_files(shared_data, tax, name):
    path = shared_data / "geic" / name
    options = {} if name.startswith("dynamicner") else {"unknown_category": "catch_all", "catch_all": "miscellaneous",
                                                          "empty_sentences": "skip"}
    assert _digest(lambda: read_geic(path, tax, **options), path) == PINNED_REAL[name]


_GOOD = '{"sentence": "Ana met Bo .", "entity": ["Ana", "Bo"], "category": ["person", "person"]}'
_AMBIGUOUS = {"first-level": "art, product", "second-level": {"art": "other, music", "product": "other, car"}}


@pytest.mark.parametrize("text, options, message", [
    ("[1]", {}, "in.json: expected a JSON object of samples, got list"),
    ('{"s1": 3}', {}, "in.json: sample 's1': expected an object with 'sentence', 'entity', 'category', got int"),
    ("", {}, "in.json: malformed JSON at line 1, column 1: Expecting value"),
    ('{"s1": ', {"unknown_category": "bogus"}, "in.json: malformed JSON at line 1, column 8: Expecting value"),
    ("{}", {"unknown_category": "bogus"}, "unknown_category must be 'error' or 'catch_all', got 'bogus'"),
    ("{}", {"empty_sentences": "never"}, "empty_sentences must be 'error' or 'skip', got 'never'"),
    ('{"a": 1, "a": 2}', {"unknown_category": "catch_all", "catch_all": "gizmo"}, "in.json: duplicate sample key 'a'"),
    ("{}", {"unknown_category": "catch_all", "catch_all": "gizmo"},
     "catch_all='gizmo' is not a type of taxonomy 'DynamicNER'"),
    ('{"s1": {"sentence": " ", "entity": ["A"], "category": [" "]}}', {"empty_sentences": "skip"},
     "in.json: sample 's1': field 'category'[0] is empty"),
    ('{"s1": %s, "s2": {"sentence": "A", "entity": ["A"], "category": ["wizard"]}, "s3": {"sentence": "A"}}' % _GOOD,
     {}, "in.json: sample 's2': field 'category'[0]: unknown category 'wizard' (not a type of taxonomy 'DynamicNER'; "
         "pass unknown_category='catch_all' to map it to a catch-all)"),
    ('{"s1": %s, "s2": {"sentence": "A"}, "s3": {"sentence": "A", "entity": ["A"], "category": ["wizard"]}}' % _GOOD,
     {}, "in.json: sample 's2': missing field 'entity'"),
    ('{"s1": {"entity": [], "sentence": "A", "entity": [3], "category": []}}', {},
     "in.json: sample 's1': field 'entity' given twice"),
    ('{"s1": {"sentence": "A", "entity": ["A", "B"], "category": ["city", 3]}}', {},
     "in.json: sample 's1': field 'category'[1] must be a string, got int"),
    ('{"s1": {"sentence": "Ana", "entity": ["Ana"], "category": ["other"]}}', {"taxonomy": _AMBIGUOUS},
     "in.json: sample 's1': field 'category'[0]: <dict>: category 'other' is ambiguous in taxonomy 'toy': "
     "art > other, product > other"),
])
def test_reader_errors_pinned(tmp_path, tax, text, options, message):
    path = tmp_path / "in.json"
    path.write_text(text, encoding="utf-8")
    taxonomy = Taxonomy.from_dict(options.pop("taxonomy"), name="toy") if "taxonomy" in options else tax
    with pytest.raises(ValueError) as info:
        read_geic(path, taxonomy, **options)
    assert str(info.value).replace(str(path), "in.json") == message
    assert isinstance(info.value, GeicError) == message.startswith("in.json")


@pytest.mark.parametrize("extra", [{}, {"id": {"n": 1}}, {"sentence": " "}])
def test_unaligned_warning_points_at_the_callers_line(tmp_path, tax, extra):
    """Whichever pass reads the file (an object inside a sample or a skipped blank sentence sends a chunk
    to the sample-by-sample checks), the warning names the line that called the reader."""
    data = {"s1": sample("Pianists play .", ["piano"], ["musical instruments"]), "s2": {**sample("A .", [], []), **extra}}
    path = tmp_path / "in.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for read in (read_geic, lambda p, t, **o: parse_geic(json.loads(p.read_text()), t, source=str(p), **o)):
        with pytest.warns(GeicAlignmentWarning, match="1 entities not found") as caught:
            read(path, tax, empty_sentences="skip")
        assert [w.filename for w in caught] == [__file__]
