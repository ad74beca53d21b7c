"""PromptNER: its chat prompt against the published template text, its numbered lists read and placed by
characters, its exemplars.

The published reference is github DhananjayAshok/PromptNER at cc1e3b5 (no licence: the template lines
are typed in below as facts to compare with, the code around them is ours). The exemplar sentences
are the project's own; the published hand-written exemplars (CoNLL sentences) are not copied.
"""

from __future__ import annotations

import pytest

from cascadener.methods.demonstrations import DemonstrationPool, choose_covering
from cascadener.methods.promptner import PromptNerOptions
from cascadener.methods.promptner import prompts
from cascadener.methods.promptner.parsing import place_items, read_list
from cascadener.methods.promptner.prompts import (
    chat_prompt,
    definition,
    definition_for,
    exemplar_text,
    exemplar_turns,
    system_text,
)

# algorithms.py: BaseAlgorithm.chatbot_init (line 14) and Config.set_config's whole_task for
# exemplar=True, coT=True, tf=True (lines 507-508), typed in
CHATBOT_INIT = "You are an entity recognition system. "
WHOLE_TASK = ("Q: Given the paragraph below, identify a list of possible entities "
              "and for each entry explain why it either is or is not an entity. \nParagraph:")


def published_chat(defn: str, exemplars: list[str], para: str) -> list[tuple[str, str]]:
    """``Algorithm.perform_chat_query`` (algorithms.py lines 204-212), typed in: ``(content, role)`` pairs."""
    system_msg = CHATBOT_INIT + defn + " " + WHOLE_TASK
    msgs = [(system_msg, "system")]
    for exemplar in exemplars:
        if "Answer:" not in exemplar:
            raise ValueError(f"Something is wrong, exemplar: \n{exemplar} \n Does not have an 'Answer:'")
        ans_index = exemplar.index("Answer:")
        msgs.append((exemplar[:ans_index + 7].strip(), "user"))
        msgs.append((exemplar[ans_index + 7:].strip(), "assistant"))
    msgs.append((f"\nParagraph: {para} \nAnswer:", "user"))
    return msgs


def published_autogen_layout(text: str, lines: list[str]) -> str:
    """The exemplar string of ``Config.autogenerate_annotations`` / ``generate_annotations`` (lines 261-276
    and 550), typed in: the sentence, ``"\\n"``, ``"Answer: \\n"``, then ``"\\n" + line`` per item."""
    annot_str = "Answer: \n"
    for line in lines:
        annot_str = annot_str + "\n" + line
    return text + "\n" + annot_str


TYPES = ["city", "athlete", "mountain"]
EXEMPLAR = ("Anja Moreau climbed Mont Vidal after a week in Lyon .",
            [(0, 11, "athlete"), (20, 30, "mountain"), (47, 51, "city")])


def test_chat_is_the_published_template():
    exemplars = [exemplar_text(EXEMPLAR[0], EXEMPLAR[1], TYPES),
                 exemplar_text("Ravi Sen visited Quito .", [(0, 8, "politician"), (17, 22, "city")], TYPES)]
    ours = chat_prompt("Tova Brandt crossed the Alps .", TYPES, exemplars)
    published = published_chat(definition_for(TYPES), exemplars, "Tova Brandt crossed the Alps .")
    assert list(ours.messages) == [(role, content) for content, role in published]
    assert ours.messages[0][1] == (
        "You are an entity recognition system. An entity is a city (city), an athlete (athlete) or a mountain "
        "(mountain). Q: Given the paragraph below, identify a list of possible entities and for each entry explain "
        "why it either is or is not an entity. \nParagraph:")
    assert ours.messages[1] == ("user", "Anja Moreau climbed Mont Vidal after a week in Lyon .\nAnswer:")
    assert ours.messages[-1] == ("user", "\nParagraph: Tova Brandt crossed the Alps . \nAnswer:")
    # without exemplars: the system turn and the question
    assert list(chat_prompt("x", TYPES, []).messages) == [(r, c) for c, r in published_chat(definition_for(TYPES), [], "x")]


def test_definition_follows_the_published_pattern():
    # ConllConfig.defn's first sentence (algorithms.py line 558), the pattern the definitions follow
    assert definition([("a person", "PER"), ("title", None), ("named organization", "ORG"), ("location", "LOC"),
                       ("country", "LOC"), ("nationality", "MISC")]) == (
        "An entity is a person (PER), title, named organization (ORG), location (LOC), country (LOC) or "
        "nationality (MISC).")
    assert definition_for(["city"]) == "An entity is a city (city)."
    assert definition_for(["city", "city", "island"]) == "An entity is a city (city) or an island (island)."
    assert system_text(["city"]).startswith(CHATBOT_INIT + "An entity is a city (city). Q: Given")


def test_exemplars_have_the_published_autogen_layout():
    text, entities = EXEMPLAR
    lines = ["1. Anja Moreau | True | Anja Moreau is an entity of type athlete (athlete)",
             "2. Mont Vidal | True | Mont Vidal is an entity of type mountain (mountain)",
             "3. Lyon | False | Lyon is an entity of type city, which is not among the listed types"]
    exemplar = exemplar_text(text, entities, ["athlete", "mountain"])
    assert exemplar == published_autogen_layout(text, lines)
    assert exemplar_turns(exemplar) == (text + "\nAnswer:", "\n".join(lines))


def test_prompt_hash_follows_the_prompts(monkeypatch):
    assert prompts.prompt_hash(demonstrations=3) == prompts.prompt_hash(demonstrations=3)
    assert prompts.prompt_hash(demonstrations=3) != prompts.prompt_hash(demonstrations=None)
    before = prompts.prompt_hash(demonstrations=3)
    monkeypatch.setattr(prompts, "QUESTION", prompts.QUESTION.replace("possible ", ""))
    assert prompts.prompt_hash(demonstrations=3) != before


# ------------------------------------------------------------------------------------------ parsing

def _placed(text: str, answer: str, types=TYPES):
    result = place_items(text, read_list(answer).items, types)
    return [(e.text, e.label, e.start, e.end) for e in result.entities], result


def test_true_items_become_typed_spans():
    entities, result = _placed("Anja Moreau climbed Mont Vidal in May .",
                               "1. Anja Moreau | True | a climber (athlete)\n2. climbed | False | a verb\n"
                               "3. Mont Vidal | True | a summit (mountain)\n4. May | False | a month (date)")
    assert entities == [("Anja Moreau", "athlete", 0, 11), ("Mont Vidal", "mountain", 20, 30)]
    assert result.invented == [] and result.off_list == 0


def test_repeated_phrases_take_their_occurrences_in_turn():
    text = "Graz played Graz twice , and Graz loved it ."
    entities, result = _placed(text, "1. Graz | True | x (city)\n2. Graz | True | x (city)")
    assert entities == [("Graz", "city", 0, 4), ("Graz", "city", 12, 16)]
    entities, result = _placed(text, "\n".join(f"{n}. Graz | True | x (city)" for n in range(1, 5)))
    assert len(entities) == 3 and result.duplicates == 1  # listed four times, three occurrences
    # the longer phrase first: "Paris" after "Paris Hilton" takes the other occurrence
    entities, _ = _placed("Paris Hilton lives in Paris .", "1. Paris | True | x (city)\n2. Paris Hilton | True | x (athlete)")
    assert entities == [("Paris Hilton", "athlete", 0, 12), ("Paris", "city", 22, 27)]
    # whole words before parts of words
    entities, _ = _placed("Lyonnais food in Lyon .", "1. Lyon | True | x (city)")
    assert entities == [("Lyon", "city", 17, 21)]


def test_phrases_are_found_by_characters():
    entities, result = _placed("小米在北京发布了小米14。", "1. 北京 | True | 城市 (city)\n2. 小米14 | True | 手机 (athlete)",
                               ["city", "athlete"])
    assert entities == [("北京", "city", 3, 5), ("小米14", "athlete", 8, 12)]
    entities, _ = _placed("He flew to rome .", "1. Rome. | True | the capital (city)")
    assert entities == [("rome", "city", 11, 15)]
    entities, _ = _placed("He flew to the U.S.", "1. U.S. | True | a country (city)")
    assert entities == [("U.S.", "city", 15, 19)]
    entities, _ = _placed("New  York is big", "1. new york | True | a city (city)")
    assert entities == [("New  York", "city", 0, 9)]
    _, result = _placed("Ada met Bob .", "1. Obama | True | a person (athlete)")
    assert result.invented == ["Obama"]


def test_types_in_odd_cases_match_the_list_and_others_are_kept_as_off_list():
    entities, result = _placed("Oslo and Lima .", "1. Oslo | True | a place (City)\n2. Lima | True | a place (capital)")
    assert entities == [("Oslo", "city", 0, 4), ("Lima", "capital", 9, 13)]
    assert result.off_list == 1 and [e.off_list for e in result.entities] == [False, True]
    entities, _ = _placed("Rhine .", "1. Rhine | True | a river (WATER-body)", ["water body"])
    assert entities == [("Rhine", "water body", 0, 5)]
    # the LAST parentheses hold the type, not an acronym before it
    entities, _ = _placed("NF-kB binds .", "1. NF-kB | True | Nuclear factor (NF-kB) is a protein (protein)", ["protein"])
    assert entities == [("NF-kB", "protein", 0, 5)]


@pytest.mark.parametrize("answer, read, unreadable", [
    ("", [], 0),
    ("Answer:", [], 0),
    ("There are no entities.", [], 0),
    ("1.", [], 0),  # a bare number (the published reader raised IndexError)
    ("1) Oslo | True | a city (city)", [("Oslo", True, "city")], 0),
    ("1. Oslo | TRUE. | a city (city)", [("Oslo", True, "city")], 0),
    ("1. Oslo (city)", [("Oslo", None, "city")], 0),  # no status field: kept, typed after the phrase
    ("1. Oslo | a city (city)", [("Oslo", None, "city")], 0),  # two fields: the second is the explanation
    ("1. Oslo | True", [], 1),  # kept but untyped
    ("1. Oslo", [], 1),
    ("1. | True | nothing (city)", [], 1),  # no phrase
    ("1. Oslo | True | a city (city) | extra", [("Oslo", True, "city")], 0),
    ("1. Oslo | False", [("Oslo", False, None)], 0),
    ("1. Oslo | True | a city (city) 2. Lima | True | founded in 1535. (city)",
     [("Oslo", True, "city"), ("Lima", True, "city")], 0),  # one line, 1535. is no item
    ("1. Oslo | True | a city\n   on a fjord (city)\n2. Lima | True | x (city)",
     [("Oslo", True, "city"), ("Lima", True, "city")], 0),  # an item over two lines
])
def test_numbered_lists_with_missing_fields(answer, read, unreadable):
    listed = read_list(answer)
    assert [(i.phrase, i.status, i.type) for i in listed.items] == read
    assert len(listed.unreadable) == unreadable


def test_a_bad_item_never_shifts_the_types_of_the_others():
    # the published reader pairs Bob with Acme's type and Acme with none (methods-research.md, verified)
    answer = "1. Paris | True | a city (LOC)\n2. flew | False | verb\n3. Bob (PER)\n4. Acme | True | company (ORG)"
    entities, _ = _placed("Bob flew from Paris to Acme .", answer, ["LOC", "PER", "ORG"])
    assert entities == [("Bob", "PER", 0, 3), ("Paris", "LOC", 14, 19), ("Acme", "ORG", 23, 27)]


# ------------------------------------------------------------------------------------------ exemplars

POOL = [
    {"id": "c1", "language": "en", "text": "Lyon is big .", "entities": [{"text": "Lyon", "label": "city", "start": 0, "end": 4}]},
    {"id": "c2", "language": "en", "text": "Quito is high .", "entities": [{"text": "Quito", "label": "city", "start": 0, "end": 5}]},
    {"id": "a1", "language": "en", "text": "Ravi Sen ran .", "entities": [{"text": "Ravi Sen", "label": "athlete", "start": 0, "end": 8}]},
    {"id": "m1", "language": "en", "text": "Ivo climbed Mont Vidal .", "entities": [
        {"text": "Ivo", "label": "athlete", "start": 0, "end": 3}, {"text": "Mont Vidal", "label": "mountain", "start": 12, "end": 22}]},
    {"id": "x1", "language": "en", "text": "We ate soup .", "entities": []},
    {"id": "d1", "language": "de", "text": "Wir sahen Graz .", "entities": [{"text": "Graz", "label": "city", "start": 10, "end": 14}]},
]


def test_exemplars_cover_the_type_list_where_the_data_allows():
    pool = DemonstrationPool(POOL)
    for seed in range(6):
        chosen = choose_covering(pool, text="q", language="en", types=TYPES, k=3, seed=seed)
        covered = set().union(*(d.labels for d in chosen.demonstrations))
        assert set(TYPES) <= covered and chosen.extra["uncovered"] == []
        assert chosen.demonstrations[0].id == "m1"  # covers two of the three types
        assert all(d.language == "en" for d in chosen.demonstrations)
    assert choose_covering(pool, text="q", language="en", types=TYPES, k=3, seed=1) == \
        choose_covering(pool, text="q", language="en", types=TYPES, k=3, seed=1)
    # a type no sentence holds stays uncovered; the slots are filled with sentences of the language
    chosen = choose_covering(pool, text="q", language="en", types=["volcano", "city"], k=3, seed=0)
    assert chosen.extra["uncovered"] == ["volcano"] and len(chosen.demonstrations) == 3 and chosen.missing == 0
    assert choose_covering(pool, text="q", language="de", types=["city"], k=3, seed=0).missing == 2


@pytest.mark.parametrize("changes, message", [
    ({"demonstrations": -2}, "demonstrations must be >= 0"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"pool": [1]}, "pool must be a DemonstrationPool"),
])
def test_bad_options_are_refused_when_built(changes, message):
    with pytest.raises((ValueError, TypeError), match=message):
        PromptNerOptions(**changes)


def test_exemplar_entities_show_the_listed_type_on_their_path():
    pool = DemonstrationPool([{"id": "p1", "language": "en", "text": "The Velden Lions won in Graz .", "entities": [
        {"text": "Velden Lions", "label": "miscellaneous", "start": 4, "end": 16,
         "path": ["group", "commercial organization", "sports team/league"]},
        {"text": "Graz", "label": "city", "start": 24, "end": 28, "path": ["location", "gpe", "city"]}]}])
    [demo] = choose_covering(pool, text="q", language="en", types=["sports team/league", "athlete"], k=1,
                             seed=0).demonstrations
    answer = exemplar_turns(exemplar_text(demo.text, demo.entities_for(["sports team/league", "athlete"]),
                                          ["sports team/league", "athlete"]))[1]
    assert answer.splitlines() == [
        "1. Velden Lions | True | Velden Lions is an entity of type sports team/league (sports team/league)",
        "2. Graz | False | Graz is an entity of type city, which is not among the listed types"]
