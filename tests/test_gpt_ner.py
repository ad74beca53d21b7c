"""GPT-NER: its prompts against the published template text, its answers read by characters, its demonstrations.

The published reference is github ShuheWang1998/GPT-NER at 6b51ea8 (no licence: the template lines
are typed in below as facts to compare with, the code around them is ours). Sentences here are the
project's own.
"""

from __future__ import annotations

import pytest

from cascadener.methods.demonstrations import DemonstrationPool, LexicalRetriever, choose_for_type
from cascadener.methods.gpt_ner import GptNerOptions
from cascadener.methods.gpt_ner import prompts
from cascadener.methods.gpt_ner.parsing import labeled_line, parse_answer, split_markers, verdict
from cascadener.methods.gpt_ner.prompts import extraction_prompt, mark, verification_prompt

# openai_access/dataset_name.py, FULL_DATA["CONLL"]["LOC"]
CONLL_LOC = ("location", "are the name of politically or geographically defined locations such as cities, provinces, "
                         "countries, international regions, bodies of water, mountains, etc")


def published_extraction(context: str, transfered_label: str, sub_prompt: str, examples: list[tuple[str, list[int], list[int]]]) -> str:
    """``mrc2prompt`` of openai_access/get_results_mrc_knn.py (lines 57-80, 89, 101 and 111), typed in: the
    demonstrations' labels are rebuilt from whitespace tokens and inclusive token spans."""
    prompt = (f"You are an excellent linguist. Within the OntoNotes5.0 dataset, the task is to label {transfered_label} "
              f"entities that {sub_prompt}. Below are some examples, and you should make the same prediction as the "
              f"examples.\n")
    for example_context, starts, ends in examples:
        context_list = example_context.strip().split()
        labels = ""
        last_ = 0
        for span_idx in range(len(starts)):
            start_ = starts[span_idx]
            end_ = ends[span_idx] + 1
            if labels != "":
                labels += " "
            if last_ == start_:
                labels += "@@" + " ".join(context_list[start_:end_]) + "##"
            else:
                labels += " ".join(context_list[last_:start_]) + " @@" + " ".join(context_list[start_:end_]) + "##"
            last_ = end_
        if labels != "" and last_ != len(context_list):
            labels += " "
        labels += " ".join(context_list[last_:])
        prompt += f"The given sentence: {example_context}\n"
        prompt += f"The labeled sentence: {labels}\n"
    prompt += f"The given sentence: {context}\nThe labeled sentence:"
    return prompt


def published_verification(context: str, entity: str, transfered_label: str, sub_prompt: str) -> str:
    """``transferPrompt`` of openai_access/verify_results.py (lines 91, 99 and 101), zero-shot, typed in."""
    upper_transfered_label = transfered_label[0].upper() + transfered_label[1:]
    prompt = (f"You are an excellent linguist. The task is to verify whether the word is an {transfered_label} "
              f"entity extracted from the given sentence. {upper_transfered_label} entities {sub_prompt}.\n\n")
    prompt += (f"The given sentence: {context}\nIs the word \"{entity}\" in the given sentence an {transfered_label} "
               f"entity? Please answer with yes or no.\n")
    return prompt


def _char_spans(sentence: str, starts: list[int], ends: list[int]) -> list[tuple[int, int]]:
    """Inclusive token spans of a whitespace-tokenised sentence as character spans."""
    offsets, position = [], 0
    for token in sentence.split(" "):
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    return [(offsets[s][0], offsets[e][1]) for s, e in zip(starts, ends)]


EXAMPLES = [("Talks in New York and Paris ended .", [2, 5], [3, 5]),
            ("Maria Lopez visited Berlin on Monday .", [3], [3]),
            ("Shares rose 5 percent .", [], []),
            ("Bern and Bern .", [0, 2], [0, 2])]


def test_extraction_prompt_is_the_published_template():
    label, description = CONLL_LOC
    query = "John flew from London to Tokyo ."
    ours = extraction_prompt(query, label, [(s, _char_spans(s, a, b)) for s, a, b in EXAMPLES[:3]],
                             dataset="OntoNotes5.0", description=description)
    assert ours == published_extraction(query, label, description, EXAMPLES[:3])
    # and the rendering the published mrc2prompt printed for these inputs (methods-research.md, verified)
    assert ours == (
        "You are an excellent linguist. Within the OntoNotes5.0 dataset, the task is to label location entities that "
        "are the name of politically or geographically defined locations such as cities, provinces, countries, "
        "international regions, bodies of water, mountains, etc. Below are some examples, and you should make the "
        "same prediction as the examples.\nThe given sentence: Talks in New York and Paris ended .\nThe labeled "
        "sentence: Talks in @@New York## and @@Paris## ended .\nThe given sentence: Maria Lopez visited Berlin on "
        "Monday .\nThe labeled sentence: Maria Lopez visited @@Berlin## on Monday .\nThe given sentence: Shares rose "
        "5 percent .\nThe labeled sentence: Shares rose 5 percent .\nThe given sentence: John flew from London to "
        "Tokyo .\nThe labeled sentence:")


def test_marks_by_characters_equal_the_published_token_marks():
    for sentence, starts, ends in EXAMPLES:
        published = published_extraction("q", "x", "y", [(sentence, starts, ends)]).split("The labeled sentence: ")[1]
        assert mark(sentence, _char_spans(sentence, starts, ends)) + "\n" == published.split("The given sentence")[0]
    # by characters, an entity next to punctuation is marked where the published code needs a space
    assert mark("Er lebt in Bern, nicht Genf.", [(11, 15), (23, 27)]) == "Er lebt in @@Bern##, nicht @@Genf##."


def test_the_kit_fills_the_template_with_its_own_dataset_and_type_description():
    prompt = extraction_prompt("Ada flew to Oslo .", "water body", [])
    assert prompt == published_extraction("Ada flew to Oslo .", "water body", 'belong to the type "water body"', []).replace(
        "OntoNotes5.0", "DynamicNER")


def test_verification_prompt_is_the_published_template():
    label, description = CONLL_LOC
    ours = verification_prompt("John flew from London to Tokyo .", "London", label, description=description)
    assert ours == published_verification("John flew from London to Tokyo .", "London", label, description)
    assert ours == (
        'You are an excellent linguist. The task is to verify whether the word is an location entity extracted from '
        'the given sentence. Location entities are the name of politically or geographically defined locations such '
        'as cities, provinces, countries, international regions, bodies of water, mountains, etc.\n\nThe given '
        'sentence: John flew from London to Tokyo .\nIs the word "London" in the given sentence an location entity? '
        'Please answer with yes or no.\n')
    assert verification_prompt("Ada ist hier .", "Ada", "athlete") == published_verification(
        "Ada ist hier .", "Ada", "athlete", 'belong to the type "athlete"')


def test_prompt_hash_follows_the_prompts(monkeypatch):
    base = dict(demonstrations=8, selection="random", verify=False)
    assert prompts.prompt_hash(**base) == prompts.prompt_hash(**base)
    assert prompts.prompt_hash(**base) != prompts.prompt_hash(**{**base, "verify": True})
    assert prompts.prompt_hash(**base) != prompts.prompt_hash(**{**base, "demonstrations": 0})
    assert prompts.prompt_hash(**base) != prompts.prompt_hash(**{**base, "selection": "knn"})
    before = prompts.prompt_hash(**base)
    monkeypatch.setattr(prompts, "QUERY", "The given sentence: {sentence}\nThe labelled sentence:")
    assert prompts.prompt_hash(**base) != before


# ------------------------------------------------------------------------------------------ parsing

def _read(sentence: str, answer: str) -> list[tuple[str, int, int]]:
    return [(m.text, m.start, m.end) for m in parse_answer(sentence, answer).mentions]


@pytest.mark.parametrize("answer, stray, ranges", [
    ("@@New York## and @@Paris##", 0, [(0, 8), (13, 18)]),
    ("@@Bank of @@America## rose", 1, [(8, 15)]),  # nested: the inner entity, the outer @@ stray
    ("to @@Paris , then @@Rome##", 1, [(16, 20)]),  # unclosed, then re-opened
    ("Paris## is ## big", 2, []),  # closes with nothing open
    ("a @@Rome", 1, []),  # never closed
    ("@@## and @@  ##", 0, []),  # empty marks mark nothing
    ("", 0, []),
])
def test_markers_read_in_order(answer, stray, ranges):
    plain, found, unbalanced = split_markers(answer)
    assert "@@" not in plain and "##" not in plain
    assert (found, unbalanced) == (ranges, stray)


def test_answers_are_aligned_by_characters():
    sentence = "John flew from London to Tokyo."
    assert _read(sentence, "John flew from @@London## to @@Tokyo##.") == [("London", 15, 21), ("Tokyo", 25, 30)]
    # a tokenised copy (the published data's spaces), odd case, a changed word: still placed
    assert _read(sentence, "john  flew from @@london## to @@Tokyo## .") == [("London", 15, 21), ("Tokyo", 25, 30)]
    assert _read(sentence, "Jonathan flew from @@London## to Tokyo.") == [("London", 15, 21)]
    # punctuation glued to the marker (the published parser drops this entity)
    assert _read("In Bern, then Genf.", "In @@Bern##, then @@Genf##.") == [("Bern", 3, 7), ("Genf", 14, 18)]


def test_repeated_phrases_land_on_their_own_occurrences():
    sentence = "Graz played Graz ."
    assert _read(sentence, "@@Graz## played @@Graz## .") == [("Graz", 0, 4), ("Graz", 12, 16)]
    assert _read(sentence, "Graz played @@Graz## .") == [("Graz", 12, 16)]
    assert _read("New York and York", "@@New York## and @@York##") == [("New York", 0, 8), ("York", 13, 17)]


def test_cjk_text_without_spaces_is_read():
    assert _read("小米在北京发布了小米14。", "@@小米##在@@北京##发布了@@小米14##。") == [
        ("小米", 0, 2), ("北京", 3, 5), ("小米14", 8, 12)]
    assert _read("アマゾンはペルーを流れる。", "アマゾンは@@ペルー##を流れる。") == [("ペルー", 5, 8)]


def test_nested_unclosed_and_invented_marks():
    nested = parse_answer("Bank of America rose", "@@Bank of @@America## rose")
    assert [(m.text, m.start) for m in nested.mentions] == [("America", 8)] and nested.unbalanced == 1
    unclosed = parse_answer("to Paris , then Rome", "to @@Paris , then @@Rome##")
    assert [m.text for m in unclosed.mentions] == ["Rome"] and unclosed.unbalanced == 1
    invented = parse_answer("Ada met Bob .", "@@Ada## met @@Obama## .")
    assert [m.text for m in invented.mentions] == ["Ada"] and invented.invented == ["Obama"]


def test_the_labeled_line_of_an_answer():
    assert labeled_line(" John flew from @@London## .") == "John flew from @@London## ."
    assert labeled_line("The labeled sentence: @@Oslo## .\nThe given sentence: x") == "@@Oslo## ."
    assert labeled_line("\n\n@@Oslo## .\nThe labeled sentence") == "@@Oslo## ."
    assert labeled_line("") == "" and parse_answer("Ada .", "").mentions == []
    assert parse_answer("Ada .", "   \n ").mentions == []


@pytest.mark.parametrize("answer, expected", [
    ("Yes", "yes"), (" yes, it is.", "yes"), ("YES", "yes"), ("No.", "no"), ("no, it is not", "no"), ("Not", "no"),
    ("None", "no"), ("nope", "no"), ("Maybe", ""), ("", ""), ("It is", ""), ("Ye", ""),
])
def test_verification_answers_are_read_by_their_prefix(answer, expected):
    assert verdict(answer) == expected


# ------------------------------------------------------------------------------------------ demonstrations

POOL = [
    {"id": "r1", "language": "en", "text": "Ada met Bob in Rome .", "entities": [
        {"text": "Ada", "label": "person", "start": 0, "end": 3}, {"text": "Rome", "label": "city", "start": 15, "end": 19}]},
    {"id": "r2", "language": "en", "text": "Bob flew to Oslo .", "entities": [
        {"text": "Oslo", "label": "city", "start": 12, "end": 16}]},
    {"id": "r3", "language": "en", "text": "We ate soup .", "entities": []},
    {"id": "r4", "language": "de", "text": "Wir flogen nach Graz .", "entities": [
        {"text": "Graz", "label": "city", "start": 16, "end": 20}]},
    {"id": "r5", "language": "en", "text": "Lima is far .", "entities": [
        {"text": "Lima", "label": "city", "start": -1, "end": -1}]},
]


def test_demonstrations_contain_the_type_are_of_the_language_and_seeded():
    pool = DemonstrationPool(POOL)
    chosen = [choose_for_type(pool, text="Ann flew to Lima .", language="en", type="city", k=2, seed=seed)
              for seed in range(8)]
    assert all({d.id for d in c.demonstrations} == {"r1", "r2"} for c in chosen)  # with the type, English
    assert len({tuple(d.id for d in c.demonstrations) for c in chosen}) == 2  # the seed orders them
    again = choose_for_type(pool, text="Ann flew to Lima .", language="en", type="city", k=2, seed=3)
    assert again == chosen[3]
    # fewer sentences with the type: then sentences without it (shown unmarked); never one whose entity of
    # that type has no offsets (r5), never another language (r4), never the query itself
    more = choose_for_type(pool, text="Bob flew to Oslo .", language="en", type="city", k=4, seed=0)
    assert [d.id for d in more.demonstrations][:1] == ["r1"] and {d.id for d in more.demonstrations} == {"r1", "r3"}
    assert more.missing == 2
    assert choose_for_type(pool, text="x", language="de", type="city", k=1, seed=0).demonstrations[0].id == "r4"
    assert choose_for_type(None, text="x", language="en", type="city", k=3, seed=0).missing == 3


def test_knn_demonstrations_come_most_similar_first():
    pool = DemonstrationPool(POOL)
    chosen = choose_for_type(pool, text="Bob flew to Rome .", language="en", type="city", k=2, seed=0,
                             selection="knn", retriever=LexicalRetriever())
    assert [d.id for d in chosen.demonstrations] == ["r2", "r1"]
    assert chosen == choose_for_type(pool, text="Bob flew to Rome .", language="en", type="city", k=2, seed=9,
                                     selection="knn", retriever=LexicalRetriever())  # no randomness


def test_a_retriever_is_a_small_interface():
    class Reversed:
        name = "reversed"

        def similarities(self, query, pool):
            return [-index for index in range(len(pool))]

    chosen = choose_for_type(DemonstrationPool(POOL), text="q", language="en", type="city", k=2, seed=0,
                             selection="knn", retriever=Reversed())
    assert [d.id for d in chosen.demonstrations] == ["r1", "r2"]
    assert GptNerOptions(selection="knn", retriever=Reversed()).identity()["retriever"] == "reversed"
    assert GptNerOptions(selection="knn").identity()["retriever"] == "lexical"
    with pytest.raises(TypeError, match="retriever must be a Retriever"):
        GptNerOptions(selection="knn", retriever=object())


@pytest.mark.parametrize("record, message", [
    ({"text": 3, "entities": []}, r"record '0': field 'text' must be a string"),
    ({"text": "Ada .", "entities": {}}, r"record '0': field 'entities' must be a list"),
    ({"text": "Ada .", "entities": [{"text": "Ada", "label": "person", "start": 0}]}, r"entities\[0\]\.end must be int"),
    ({"text": "Ada .", "entities": [{"text": "Bob", "label": "person", "start": 0, "end": 3}]},
     r"entities\[0\] span \(0, 3\) does not hold 'Bob'"),
])
def test_bad_training_sentences_are_refused_naming_the_record_and_field(record, message):
    from cascadener.methods.demonstrations import DemonstrationError

    with pytest.raises(DemonstrationError, match=message):
        DemonstrationPool([record], where="train.jsonl")


@pytest.mark.parametrize("changes, message", [
    ({"demonstrations": -1}, "demonstrations must be >= 0"),
    ({"selection": "bm25"}, "unknown selection 'bm25'"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"max_new_tokens": 0}, "max_new_tokens must be >= 1"),
])
def test_bad_options_are_refused_when_built(changes, message):
    with pytest.raises(ValueError, match=message):
        GptNerOptions(**changes)


def test_a_type_on_an_entitys_taxonomy_path_is_demonstrated():
    """A DynamicNER training sample labels an entity with the name its own list offers; its path says what
    it is at every level: it demonstrates every type on that path, marked as such."""
    pool = DemonstrationPool([{"id": "p1", "language": "en", "text": "The Velden Lions won again .", "entities": [
        {"text": "Velden Lions", "label": "miscellaneous", "start": 4, "end": 16,
         "path": ["group", "commercial organization", "sports team/league"]}]}])
    chosen = choose_for_type(pool, text="q", language="en", type="sports team/league", k=1, seed=0)
    [demo] = chosen.demonstrations
    assert mark(demo.text, demo.spans("sports team/league")) == "The @@Velden Lions## won again ."
    assert demo.spans("city") == [] and demo.spans("sports team/league", by_path=False) == []
