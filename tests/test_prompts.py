"""The prompt module rebuilds the released CascadeNER SFT strings byte for byte."""

from __future__ import annotations

import json
import re

import pytest

from cascadener.parsing import split_marked
from cascadener.prompts import (
    LEVEL_ORDINALS,
    chat_messages,
    mark_entities,
    prompt_hash,
    stage1_prompt,
    stage2_prompt,
)

RELEASED = re.compile(
    r'^The ##(?P<entity>.*?)## in the sentence: "(?P<sentence>.*)" belong to which entity in the '
    r"(?P<ordinal>first|second|third) list: (?P<types>.*)\?$",
    re.DOTALL,
)
SHORT = re.compile(r"^##(?P<entity>.*?)## belong to which entity in the list: (?P<types>.*)\?$", re.DOTALL)


def _load(shared_data, name):
    return json.loads((shared_data / "sft" / name).read_text(encoding="utf-8"))


def test_stage1_user_and_assistant_rebuilt(shared_data):
    data = _load(shared_data, "conll2003-stage1-dev.json")
    assert len(data) == 3250
    for index, item in enumerate(data):
        user, assistant = (turn["value"] for turn in item["conversations"])
        plain, ranges, unbalanced = split_marked(assistant)
        assert not unbalanced, index
        assert stage1_prompt(plain) == user, index
        assert mark_entities(plain, ranges) == assistant, index


def test_stage2_user_strings_rebuilt(shared_data):
    data = _load(shared_data, "conll2003-stage2-dev.json")
    counts = {"released": 0, "short": 0}
    for index, item in enumerate(data):
        user = item["conversations"][0]["value"]
        if match := RELEASED.match(user):
            level = LEVEL_ORDINALS.index(match["ordinal"]) + 1
            rebuilt = stage2_prompt(match["entity"], match["sentence"], match["types"].split(", "), level=level)
            counts["released"] += 1
        elif match := SHORT.match(user):
            rebuilt = stage2_prompt(match["entity"], "", match["types"].split(", "), template="short")
            counts["short"] += 1
        else:
            pytest.fail(f"stage-2 item {index} matches no known format: {user!r}")
        assert rebuilt == user, index
    assert counts == {"released": 5938 - 34, "short": 34}


def test_marked_template_marks_the_given_occurrence():
    sentence = "Paris Hilton visited Paris ."
    prompt = stage2_prompt("Paris", sentence, ["city", "person"], template="marked", start=21, end=26)
    assert prompt == ('The ##Paris## in the sentence: "Paris Hilton visited ##Paris## ." '
                      "belongs to which entity in the list: city, person?")


def test_bad_template_and_level():
    with pytest.raises(ValueError, match="unknown stage-2 template"):
        stage2_prompt("a", "a b", ["x"], template="other")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level must be"):
        stage2_prompt("a", "a b", ["x"], level=4)


def test_prompt_hash_depends_on_template():
    assert prompt_hash(template="released") != prompt_hash(template="marked")
    assert chat_messages("x")[0]["content"] == "You are a helpful assistant."
