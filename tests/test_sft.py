"""SFT conversations from DynamicNER records, and the ShareGPT format of the released data."""

from __future__ import annotations

import json
import re

import pytest

from cascadener.prompts import SYSTEM_PROMPT, mark_entities, stage2_prompt
from cascadener.training.sft import SftDataError, build_sft, parse_sharegpt, read_sharegpt, to_sharegpt, write_sharegpt

# The shape of the released stage-2 questions, read off ../shared/data/sft.
RELEASED_STAGE2 = re.compile(r'^The ##(.+?)## in the sentence: "(.*)" belong to which entity in the (first|second|third) list: (.*)\?$',
                             re.S)


def _record(text, entities, type_list, rid="r"):
    spans = []
    for surface, label, *start in entities:
        s = start[0] if start else text.find(surface)
        spans.append({"text": surface, "label": label, "start": s, "end": s + len(surface) if s >= 0 else -1})
    return {"id": rid, "text": text, "entities": spans, "type_list": type_list}


def test_stage1_and_stage2_use_the_prompt_module(tiny_corpus):
    data = build_sft(tiny_corpus)
    assert data.report.stage1 == len(tiny_corpus) == len(data.stage1)
    assert len(data.stage2) == sum(len(r["entities"]) for r in tiny_corpus)
    questions = iter(data.stage2)
    for record, row in zip(tiny_corpus, data.stage1):
        system, user, assistant = row["messages"]
        assert system == {"role": "system", "content": SYSTEM_PROMPT}
        assert user["content"] == record["text"]
        assert assistant["content"] == mark_entities(record["text"], [(e["start"], e["end"]) for e in record["entities"]])
        assert assistant["content"].replace("##", "") == record["text"]
        for entity in record["entities"]:
            q = next(questions)
            assert q["id"] == record["id"] and q["stage"] == "classify" and q["level"] == 1
            assert q["messages"][1]["content"] == stage2_prompt(entity["text"], record["text"], record["type_list"])
            assert q["messages"][2]["content"] == entity["label"]
            match = RELEASED_STAGE2.match(q["messages"][1]["content"])
            assert match and match.group(1) == entity["text"] and match.group(4).split(", ") == record["type_list"]


def test_unplaced_entities_are_counted_and_never_marked():
    record = _record("Ada met Babbage .", [("Ada", "person"), ("Lovelace", "person", -1)], ["person", "city"])
    data = build_sft([record])
    assert data.report.unplaced_entities == 1 and data.report.stage1_sentences_left_out == 1
    assert len(data.stage1) == 0
    # the released question needs no offsets: both entities are still asked about
    assert [row["messages"][2]["content"] for row in data.stage2] == ["person", "person"]
    assert any("'Lovelace' has no offsets" in note for note in data.report.examples)
    kept = build_sft([record], unplaced="keep_sentence")
    assert kept.stage1[0]["messages"][2]["content"] == "##Ada## met Babbage ."
    marked = build_sft([record], template="marked")
    assert len(marked.stage2) == 1
    assert marked.stage2[0]["messages"][1]["content"] == (
        'The ##Ada## in the sentence: "##Ada## met Babbage ." belongs to which entity in the list: person, city?')


def test_overlapping_spans_keep_the_longer_and_are_counted():
    record = _record("New York City is big .", [("New York", "state or province"), ("New York City", "city")],
                     ["city", "state or province"])
    data = build_sft([record])
    assert data.stage1[0]["messages"][2]["content"] == "##New York City## is big ."
    assert data.report.overlapping_entities == 1


def test_labels_outside_the_type_list_are_skipped_and_counted():
    record = _record("Ada met Babbage .", [("Ada", "person"), ("Babbage", "scholar")], ["person", "city"])
    data = build_sft([record])
    assert data.report.labels_not_in_list == 1 and len(data.stage2) == 1


def test_hierarchy_lists_follow_the_taxonomy_levels(tiny_corpus):
    from dynamicner_data.taxonomy import Taxonomy

    taxonomy = Taxonomy.dynamicner()
    data = build_sft(tiny_corpus, lists="hierarchy", stages=("classify",))
    assert len(data.stage1) == 0
    assert len(data.stage2) == 3 * sum(len(r["entities"]) for r in tiny_corpus)
    first = data.stage2.select(range(3))
    entity = tiny_corpus[0]["entities"][0]
    ordinals = ["first", "second", "third"]
    for level, row in enumerate(first, start=1):
        match = RELEASED_STAGE2.match(row["messages"][1]["content"])
        assert match.group(1) == entity["text"] and match.group(3) == ordinals[level - 1]
        node = taxonomy.get(tuple(entity["path"][:level]))
        assert match.group(4).split(", ") == [n.name for n in taxonomy.children(taxonomy.parent(node))]
        assert row["messages"][2]["content"] == entity["path"][level - 1] and row["level"] == level
    # a label without path resolves through the taxonomy; an unknown one is counted
    unknown = _record("Ada met Zork .", [("Ada", "politician"), ("Zork", "no such type")], [])
    report = build_sft([unknown], lists="hierarchy").report
    assert report.stage2 == 3 and report.unresolved_labels == 1


def test_deep_taxonomy_questions_match_the_pipeline_prompts():
    """A four-level taxonomy: training asks level 4 the way the pipeline's cascade asks it ("third list")."""
    from dynamicner_data.taxonomy import Taxonomy

    from cascadener.parsing import Mention
    from cascadener.pipeline import CascadeNER

    taxonomy = Taxonomy.from_dict({"first-level": "person, place", "second-level": {"person": "artist, scholar"},
                                   "third-level": {"artist": "writer, painter"},
                                   "fourth-level": {"writer": "poet, novelist"}})
    record = {"id": "r", "text": "Ada met Bob .", "entities": [
        {"text": "Ada", "label": "poet", "start": 0, "end": 3, "path": ["person", "artist", "writer", "poet"]}]}
    data = build_sft([record], lists="hierarchy", taxonomy=taxonomy, stages=("classify",))
    questions = [row["messages"][1]["content"] for row in data.stage2]
    assert [row["level"] for row in data.stage2] == [1, 2, 3, 4]
    assert [row["messages"][2]["content"] for row in data.stage2] == ["person", "artist", "writer", "poet"]
    options = [("person", "place"), ("artist", "scholar"), ("writer", "painter"), ("poet", "novelist")]
    mention = Mention(start=0, end=3, text="Ada")
    for level, (question, offered) in enumerate(zip(questions, options), start=1):
        assert question == CascadeNER._request(record["text"], mention, offered, level, "released").prompt
    assert "in the third list: poet, novelist?" in questions[3]


@pytest.mark.parametrize("record, message", [
    ({"id": "x", "text": 3}, "record x: field 'text' must be a string"),
    ({"id": "x", "text": "a", "entities": {}}, "record x: field 'entities' must be a list"),
    ({"id": "x", "text": "ab", "entities": [{"text": "a", "label": "p", "start": 0}]}, r"record x: entities\[0\].end"),
    ({"id": "x", "text": "ab", "entities": [{"text": "b", "label": "p", "start": 0, "end": 1}]},
     r"record x: entities\[0\] span \(0, 1\) does not hold 'b'"),
    ({"id": "x", "text": "ab", "entities": [], "type_list": "p, q"}, "record x: field 'type_list' must be a list"),
    ({"id": "x", "text": "ab", "entities": ["a"]}, r"record x: entities\[0\] must be an object, got str"),
])
def test_bad_records_name_the_record_and_field(record, message):
    with pytest.raises(SftDataError, match=message):
        build_sft([record])


def test_export_round_trips_through_the_reader(tiny_corpus, tmp_path):
    data = build_sft(tiny_corpus)
    combined = data.combined()
    path = write_sharegpt(combined, tmp_path / "sft.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw[0] == {"conversations": [{"from": "user", "value": tiny_corpus[0]["text"]},
                                        {"from": "assistant", "value": combined[0]["messages"][2]["content"]}]}
    back = read_sharegpt(path)
    assert back["messages"] == combined["messages"]
    assert back["stage"] == combined["stage"]
    assert "Kölner" in path.read_text(encoding="utf-8")  # UTF-8, not \\u escapes, as the released files


@pytest.mark.slow
@pytest.mark.parametrize("name, stage", [("conll2003-stage1-dev.json", "extract"), ("conll2003-stage2-dev.json", "classify")])
def test_released_sft_files_parse_with_the_same_reader_and_rewrite_byte_for_byte(shared_data, tmp_path, name, stage):
    source = shared_data / "sft" / name
    dataset = read_sharegpt(source)
    assert len(dataset) == len(json.loads(source.read_text(encoding="utf-8")))
    assert set(dataset["stage"]) == {stage}
    assert all(m[0] == {"role": "system", "content": SYSTEM_PROMPT} and [x["role"] for x in m[1:]] == ["user", "assistant"]
               for m in dataset["messages"])
    assert write_sharegpt(dataset, tmp_path / name).read_bytes() == source.read_bytes()
    if stage == "classify":
        released = sum(bool(RELEASED_STAGE2.match(m[1]["content"])) for m in dataset["messages"])
        assert released == len(dataset) - 34  # 34 use the short "in the list" form


def test_reader_reports_the_file_and_item(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"conversations": [{"from": "user", "value": "hi"}]}, {"conversations": []}]))
    with pytest.raises(SftDataError, match=r"bad.json: item 1: field 'conversations' must be a non-empty list"):
        read_sharegpt(path)
    path.write_bytes(b"\xff\xfe[]")
    with pytest.raises(SftDataError, match="bad.json: not UTF-8 JSON"):
        read_sharegpt(path)
    with pytest.raises(SftDataError, match=r"x.json: item 0: conversations\[0\].value must be a string"):
        parse_sharegpt([{"conversations": [{"from": "user", "value": 1}]}], source="x.json")
    assert to_sharegpt([]) == []
