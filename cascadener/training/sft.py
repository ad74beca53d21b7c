"""Supervised fine-tuning conversations for CascadeNER, built from DynamicNER records.

A record is a dataset row (or any mapping) with ``text``, ``entities`` (span records
``{text, label, start, end}``, optionally ``path``) and, for dynamic configs, ``type_list``.

Stage 1 (extractor): user = the raw sentence, assistant = the sentence with every entity wrapped
as ``##entity##`` (:func:`cascadener.prompts.mark_entities`). An entity that could not be placed
(``start == -1``) cannot be marked: by default its whole sentence is left out of stage 1 (training
on it would teach the model to miss that entity); both are counted in :class:`SftReport`.
Overlapping spans keep the longer one (the reference's rule), counted.

Stage 2 (classifier): one conversation per entity and list, user =
:func:`cascadener.prompts.cascade_prompt`, assistant = the type name. Lists come from

- ``lists="type_list"``: the sample's own ``type_list`` (dynamic configs), answer = the entity's
  ``label``; an entity whose label is not offered is skipped and counted;
- ``lists="hierarchy"``: the taxonomy levels, as the hierarchical cascade asks them: the first list
  is level 1, then the children of the gold level-1 type ("second list"), and so on down the
  entity's gold ``path`` (or the node its ``label`` resolves to);
- ``lists=("type_list", "hierarchy")``: both (a classifier for dynamic lists and the cascade).

Every prompt string comes from :mod:`cascadener.prompts`, the module inference uses.

Conversations are ``datasets.Dataset`` rows with ``messages`` (chat format, system prompt
included), ``stage`` and ``id``; :func:`write_sharegpt` / :func:`read_sharegpt` convert to and
from the ShareGPT JSON of the released CascadeNER training data
(``[{"conversations": [{"from": "user", "value": ...}, {"from": "assistant", "value": ...}]}]``).

Example:
    >>> record = {"id": "s1", "text": "Ada met Babbage in London .", "type_list": ["person", "city"],
    ...           "entities": [{"text": "Ada", "label": "person", "start": 0, "end": 3},
    ...                        {"text": "London", "label": "city", "start": 19, "end": 25}]}
    >>> data = build_sft([record])
    >>> data.stage1[0]["messages"][2]["content"]
    '##Ada## met Babbage in ##London## .'
    >>> data.stage2[1]["messages"][1]["content"]
    'The ##London## in the sentence: "Ada met Babbage in London ." belong to which entity in the first list: person, city?'
    >>> data.stage2[1]["messages"][2]["content"]
    'city'
    >>> data.report.summary()
    '1 records -> 1 stage-1 and 2 stage-2 conversations; 0 unplaced entities (0 sentences left out of stage 1), 0 overlapping, 0 labels not in their list, 0 unresolved'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from cascadener.prompts import SYSTEM_PROMPT, Stage2Template, cascade_prompt, chat_messages, mark_entities, stage1_prompt

ListSource = Literal["type_list", "hierarchy"]
#: where stage-2 lists come from: each sample's own ``type_list``, or the taxonomy levels
LIST_SOURCES: tuple[str, ...] = ("type_list", "hierarchy")
Unplaced = Literal["skip_sentence", "keep_sentence"]
STAGES: tuple[str, ...] = ("extract", "classify")
SHAREGPT_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "system": "system"}


class SftDataError(ValueError):
    """Malformed input: the message names the file (or record), the index and the field."""


@dataclass
class SftReport:
    """What was built and what could not be used (nothing is dropped silently)."""

    records: int = 0
    stage1: int = 0
    stage2: int = 0
    unplaced_entities: int = 0
    stage1_sentences_left_out: int = 0
    overlapping_entities: int = 0
    labels_not_in_list: int = 0
    unresolved_labels: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(message)

    def summary(self) -> str:
        return (f"{self.records} records -> {self.stage1} stage-1 and {self.stage2} stage-2 conversations; "
                f"{self.unplaced_entities} unplaced entities ({self.stage1_sentences_left_out} sentences left out "
                f"of stage 1), {self.overlapping_entities} overlapping, {self.labels_not_in_list} labels not in "
                f"their list, {self.unresolved_labels} unresolved")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SftData:
    """Stage-1 and stage-2 conversations (``datasets.Dataset``) and the build report."""

    stage1: Any
    stage2: Any
    report: SftReport

    def combined(self, *, seed: int | None = None):
        """Both stages in one dataset (to train one model for both), shuffled when ``seed`` is given."""
        from datasets import concatenate_datasets

        data = concatenate_datasets([d for d in (self.stage1, self.stage2) if len(d)])
        return data.shuffle(seed=seed) if seed is not None else data


def _record_id(record: Mapping[str, Any], index: int) -> str:
    return str(record.get("id", index))


def _entities(record: Mapping[str, Any], index: int) -> list[Mapping[str, Any]]:
    rid = _record_id(record, index)
    text = record.get("text")
    if not isinstance(text, str):
        raise SftDataError(f"record {rid}: field 'text' must be a string, got {type(text).__name__}")
    entities = record.get("entities", [])
    if not isinstance(entities, (list, tuple)):
        raise SftDataError(f"record {rid}: field 'entities' must be a list, got {type(entities).__name__}")
    for position, entity in enumerate(entities):
        if not isinstance(entity, Mapping):
            raise SftDataError(f"record {rid}: entities[{position}] must be an object, got {type(entity).__name__}")
        for key, kind in (("text", str), ("label", str), ("start", int), ("end", int)):
            if not isinstance(entity.get(key), kind):
                raise SftDataError(f"record {rid}: entities[{position}].{key} must be {kind.__name__}, "
                                   f"got {entity.get(key)!r}")
        start, end = entity["start"], entity["end"]
        if start != -1 and (not 0 <= start < end <= len(text) or text[start:end] != entity["text"]):
            raise SftDataError(f"record {rid}: entities[{position}] span ({start}, {end}) does not hold "
                               f"{entity['text']!r} in the text")
    return list(entities)


def stage1_target(text: str, entities: Sequence[Mapping[str, Any]], *, report: SftReport | None = None,
                  record_id: str = "") -> str:
    """The extractor's answer: placed entities marked, overlaps resolved longest-first.

    >>> stage1_target("New York City", [{"start": 0, "end": 8}, {"start": 0, "end": 13}])
    '##New York City##'
    """
    spans = sorted({(e["start"], e["end"]) for e in entities if e["start"] >= 0},
                   key=lambda span: (-(span[1] - span[0]), span[0]))
    chosen: list[tuple[int, int]] = []
    for start, end in spans:
        if any(start < c_end and c_start < end for c_start, c_end in chosen):
            if report is not None:
                report.overlapping_entities += 1
                report.note(f"record {record_id}: overlapping span {text[start:end]!r} ({start}, {end}) not marked")
            continue
        chosen.append((start, end))
    return mark_entities(text, chosen)


def _hierarchy_questions(entity: Mapping[str, Any], taxonomy) -> list[tuple[list[str], str]] | None:
    path = entity.get("path")
    node = None
    if path:
        try:
            node = taxonomy.get(tuple(path))
        except KeyError:
            node = None
    if node is None:
        node = taxonomy.resolve(entity["label"])
    if node is None:
        return None
    questions = []
    for ancestor in taxonomy.ancestors(node):
        siblings = taxonomy.children(taxonomy.parent(ancestor))
        questions.append(([n.name for n in siblings], ancestor.name))
    return questions


def build_sft(
    records: Iterable[Mapping[str, Any]],
    *,
    stages: Sequence[str] = STAGES,
    lists: ListSource | Sequence[ListSource] = "type_list",
    taxonomy: Any = None,
    template: Stage2Template = "released",
    unplaced: Unplaced = "skip_sentence",
    system: str | None = SYSTEM_PROMPT,
) -> SftData:
    """Stage-1 and stage-2 conversations from DynamicNER records (see the module docstring).

    ``taxonomy`` (a ``dynamicner_data.taxonomy.Taxonomy``) is used with ``lists="hierarchy"``;
    it defaults to the packaged DynamicNER hierarchy.
    """
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; allowed: {', '.join(STAGES)}")
    sources = (lists,) if isinstance(lists, str) else tuple(lists)
    if not sources or any(source not in LIST_SOURCES for source in sources):
        raise ValueError(f"lists must be 'type_list', 'hierarchy' or a sequence of them, got {lists!r}")
    if unplaced not in ("skip_sentence", "keep_sentence"):
        raise ValueError(f"unplaced must be 'skip_sentence' or 'keep_sentence', got {unplaced!r}")
    if "hierarchy" in sources and taxonomy is None:
        from dynamicner_data.taxonomy import Taxonomy

        taxonomy = Taxonomy.dynamicner()
    report = SftReport()
    rows1: list[dict[str, Any]] = []
    rows2: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        report.records += 1
        rid = _record_id(record, index)
        entities = _entities(record, index)  # checks the text too
        text = record["text"]
        unplaced_here = [e for e in entities if e["start"] < 0]
        report.unplaced_entities += len(unplaced_here)
        for entity in unplaced_here:
            report.note(f"record {rid}: entity {entity['text']!r} has no offsets (start=-1)")
        if "extract" in stages:
            if unplaced_here and unplaced == "skip_sentence":
                report.stage1_sentences_left_out += 1
            else:
                target = stage1_target(text, entities, report=report, record_id=rid)
                rows1.append({"id": rid, "stage": "extract", "level": 0,
                              "messages": chat_messages(stage1_prompt(text), target, system=system)})
        if "classify" not in stages:
            continue
        type_list: Sequence[str] = ()
        if "type_list" in sources:
            type_list = record.get("type_list")
            if not isinstance(type_list, (list, tuple)) or not all(isinstance(t, str) for t in type_list):
                raise SftDataError(f"record {rid}: field 'type_list' must be a list of strings for lists='type_list'")
        for source in sources:
            for entity in entities:
                if template == "marked" and entity["start"] < 0:
                    continue  # counted above as unplaced: the marked template needs offsets
                if source == "type_list":
                    if entity["label"] not in type_list:
                        report.labels_not_in_list += 1
                        report.note(f"record {rid}: label {entity['label']!r} of {entity['text']!r} not in its type_list")
                        continue
                    questions = [(list(dict.fromkeys(type_list)), entity["label"])]  # as the pipeline offers it
                else:
                    questions = _hierarchy_questions(entity, taxonomy)
                    if questions is None:
                        report.unresolved_labels += 1
                        report.note(f"record {rid}: label {entity['label']!r} of {entity['text']!r} not in the taxonomy")
                        continue
                for level, (options, answer) in enumerate(questions, start=1):
                    user = cascade_prompt(entity["text"], text, options, level=level, template=template,
                                          start=entity["start"], end=entity["end"])
                    rows2.append({"id": rid, "stage": "classify", "level": level,
                                  "messages": chat_messages(user, answer, system=system)})
    report.stage1, report.stage2 = len(rows1), len(rows2)
    return SftData(stage1=_dataset(rows1), stage2=_dataset(rows2), report=report)


def conversations_dataset(rows: Sequence[Mapping[str, Any]], *, stage: str = "extract"):
    """A prompt method's conversations (rows ``{"id", "messages"}``,
    :meth:`cascadener.methods.fewshot.PromptMethod.conversations`) as the ``datasets.Dataset`` the
    trainer takes (``stage`` and ``level`` 0 for every row).

    >>> conversations_dataset([{"id": "a", "messages": chat_messages("hi", "yo", system=None)}])[0]["messages"]
    [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}]
    """
    return _dataset([{"id": str(row["id"]), "stage": stage, "level": 0, "messages": list(row["messages"])}
                     for row in rows])


def _dataset(rows: list[dict[str, Any]]):
    from datasets import Dataset, Features, List, Value

    features = Features({
        "id": Value("string"),
        "stage": Value("string"),
        "level": Value("int32"),
        "messages": List({"role": Value("string"), "content": Value("string")}),
    })
    columns = {name: [row[name] for row in rows] for name in features}
    return Dataset.from_dict(columns, features=features)


def to_sharegpt(dataset: Any, *, system: str | None = SYSTEM_PROMPT) -> list[dict[str, list[dict[str, str]]]]:
    """ShareGPT conversations; a leading system turn equal to ``system`` is left out (implicit).

    >>> to_sharegpt([{"messages": chat_messages("hi", "hello")}])
    [{'conversations': [{'from': 'user', 'value': 'hi'}, {'from': 'assistant', 'value': 'hello'}]}]
    """
    out = []
    for row in dataset:
        messages = list(row["messages"])
        if messages and messages[0]["role"] == "system" and messages[0]["content"] == system:
            messages = messages[1:]
        out.append({"conversations": [{"from": m["role"], "value": m["content"]} for m in messages]})
    return out


def write_sharegpt(dataset: Any, path: str | Path, *, system: str | None = SYSTEM_PROMPT) -> Path:
    """Write ``dataset`` as ShareGPT JSON laid out like the released files (UTF-8, indent 4)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_sharegpt(dataset, system=system), ensure_ascii=False, indent=4), encoding="utf-8")
    return path


def parse_sharegpt(data: Any, *, source: str = "<data>", system: str | None = SYSTEM_PROMPT) -> list[list[dict[str, str]]]:
    """ShareGPT conversations -> chat ``messages`` lists (``system`` prepended unless one is present).

    Roles ``user``/``human``, ``assistant``/``gpt`` and ``system`` are accepted.

    >>> parse_sharegpt([{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}], system=None)
    [[{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}]]
    >>> parse_sharegpt([{"conversations": [{"from": "bot", "value": "x"}]}], source="a.json")
    Traceback (most recent call last):
    ...
    cascadener.training.sft.SftDataError: a.json: item 0: conversations[0].from is 'bot'; allowed: user, human, assistant, gpt, system
    """
    if not isinstance(data, list):
        raise SftDataError(f"{source}: expected a JSON list of {{'conversations': [...]}} items, got {type(data).__name__}")
    out = []
    for index, item in enumerate(data):
        turns = item.get("conversations") if isinstance(item, dict) else None
        if not isinstance(turns, list) or not turns:
            raise SftDataError(f"{source}: item {index}: field 'conversations' must be a non-empty list")
        messages = []
        for position, turn in enumerate(turns):
            if not isinstance(turn, dict):
                raise SftDataError(f"{source}: item {index}: conversations[{position}] must be an object")
            role = SHAREGPT_ROLES.get(turn.get("from"))
            if role is None:
                raise SftDataError(f"{source}: item {index}: conversations[{position}].from is {turn.get('from')!r}; "
                                   f"allowed: {', '.join(SHAREGPT_ROLES)}")
            if not isinstance(turn.get("value"), str):
                raise SftDataError(f"{source}: item {index}: conversations[{position}].value must be a string")
            messages.append({"role": role, "content": turn["value"]})
        if system is not None and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": system})
        out.append(messages)
    return out


def read_sharegpt(path: str | Path, *, system: str | None = SYSTEM_PROMPT):
    """Read a ShareGPT JSON file (this module's export or the released CascadeNER SFT data) into a
    ``datasets.Dataset`` with ``messages``, ``stage`` (guessed: ``classify`` when the user turn is a
    stage-2 question), ``level`` (0 = unknown) and ``id`` (the item index)."""
    from cascadener.prompts import MARKER

    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SftDataError(f"{path}: not UTF-8 JSON ({error})") from error
    rows = []
    for index, messages in enumerate(parse_sharegpt(data, source=str(path), system=system)):
        user = next((m["content"] for m in messages if m["role"] == "user"), "")
        stage = "classify" if user.startswith(("The " + MARKER, MARKER)) and "which entity in the" in user else "extract"
        rows.append({"id": str(index), "stage": stage, "level": 0, "messages": messages})
    return _dataset(rows)
