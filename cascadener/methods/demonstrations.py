"""In-context demonstrations: training sentences shown to the model before the question.

GPT-NER shows ``k`` annotated sentences before each (sentence, type) question, PromptNER three
annotated sentences before each paragraph. Both draw them from a :class:`DemonstrationPool`: the
training records (``{id?, text, entities: [{text, label, start, end}], language?}``, the span
record of the whole kit), checked once when the pool is built and identified by the SHA-256 of
their content (what ``--resume`` compares and the results record).

Choosing, always seeded from ``(seed, the query text, ...)`` through ``hashlib``, so a sentence gets
the same demonstrations whatever its batch, chunk or position (resume and concurrency change
nothing); a pool sentence with the query's own text is never shown (a test sentence that is also
in the training data would otherwise be answered from its own demonstration):

- :func:`choose_for_type` (GPT-NER): ``k`` sentences of the query's language that contain the type (an
  entity labelled with it, or with it on its taxonomy path: :class:`Demonstration`),
  at random (``"random"``) or the most similar first (``"knn"``, through a :class:`Retriever`), then,
  when fewer contain it, sentences without it (the published code shows those as they are, no
  marks). Slots the pool cannot fill stay empty and are counted.
- :func:`choose_covering` (PromptNER): sentences that together cover as many of the query's types as
  the pool allows, greedily (the sentence covering most uncovered types next, seeded order on
  ties), then seeded random sentences of the language.

A sentence is "of the query's language" when both languages are known and equal; a record or a
query without a language matches any.

Retrievers rank pool sentences by similarity to the query: :class:`LexicalRetriever` (TF-IDF over
character n-grams, any script, no model) and :class:`EmbeddingRetriever` (any sentence encoder, e.g.
``sentence-transformers``' ``model.encode``; GPT-NER used SimCSE). A retriever is a small interface:
``name`` and ``similarities(query, pool)``.

Example:
    >>> pool = DemonstrationPool([
    ...     {"id": "a", "text": "Ada met Bob in Rome .", "language": "en",
    ...      "entities": [{"text": "Rome", "label": "city", "start": 15, "end": 19}]},
    ...     {"id": "b", "text": "Bob flew to Oslo .", "language": "en",
    ...      "entities": [{"text": "Oslo", "label": "city", "start": 12, "end": 16}]},
    ...     {"id": "c", "text": "We ate .", "language": "en", "entities": []}])
    >>> chosen = choose_for_type(pool, text="Ada flew to Paris .", language="en", type="city", k=2,
    ...                          selection="knn", seed=0, retriever=LexicalRetriever())
    >>> [d.id for d in chosen.demonstrations], chosen.missing
    (['b', 'a'], 0)
    >>> [d.id for d in choose_for_type(pool, text="x", language="en", type="city", k=4, seed=0).demonstrations]
    ['a', 'b', 'c']
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping, Protocol, Sequence, runtime_checkable

__all__ = ["Demonstration", "DemonstrationPool", "demonstration_of", "DemonstrationError", "Chosen", "Selection", "SELECTIONS",
           "Retriever", "LexicalRetriever", "EmbeddingRetriever", "choose_for_type", "choose_covering", "seeded_rng"]

Selection = Literal["random", "knn"]
SELECTIONS: tuple[str, ...] = ("random", "knn")


class DemonstrationError(ValueError):
    """A training record that cannot serve as a demonstration; the message names the record and field."""


@dataclass(frozen=True)
class Demonstration:
    """One training sentence: its placed entities ``(start, end, label)`` (``end`` exclusive), each one's
    taxonomy path (``paths``, root to its gold node, e.g. ``("location", "geo-political entity", "city")``;
    ``(label,)`` when the record gives none), and the labels it holds an entity of that has no offsets
    (``start == -1``: it cannot be marked, so the sentence never demonstrates those labels).

    An entity demonstrates its label and every type on its path: in DynamicNER a sample's label is
    the name its own list offers (it may be a coarse one, or a catch-all such as "miscellaneous"),
    while the path says what the entity is at every level.

    >>> demo = demonstration_of({"text": "NBA fans .", "entities": [{"text": "NBA", "label": "miscellaneous",
    ...     "start": 0, "end": 3, "path": ["group", "commercial organization", "sports team/league"]}]}, 0)
    >>> demo.spans("sports team/league"), sorted(demo.labels)[:2]
    ([(0, 3)], ['commercial organization', 'group'])
    >>> demo.entities_for(["city", "sports team/league"])
    [(0, 3, 'sports team/league')]
    """

    id: str
    text: str
    entities: tuple[tuple[int, int, str], ...]
    language: str | None = None
    unplaced: frozenset[str] = frozenset()
    paths: tuple[tuple[str, ...], ...] = ()

    def _path(self, index: int) -> tuple[str, ...]:
        path = self.paths[index] if index < len(self.paths) else ()
        label = self.entities[index][2]
        return path if label in path else (*path, label)

    @property
    def labels(self) -> frozenset[str]:
        """The types it can demonstrate: its placed entities' labels and paths, but none also unplaced."""
        return frozenset(name for i in range(len(self.entities)) for name in self._path(i)) - self.unplaced

    def spans(self, label: str, *, by_path: bool = True) -> list[tuple[int, int]]:
        """The ``(start, end)`` of its entities of type ``label`` (with ``by_path``, also those with the
        type on their path; without, the label alone), sorted, overlaps resolved longest-first (flat
        markers cannot nest)."""
        wanted = {(s, e) for i, (s, e, lab) in enumerate(self.entities)
                  if lab == label or (by_path and label in self._path(i))}
        chosen: list[tuple[int, int]] = []
        for start, end in sorted(wanted, key=lambda span: (span[0] - span[1], span[0])):
            if not any(start < e and s < end for s, e in chosen):
                chosen.append((start, end))
        return sorted(chosen)

    def entities_in_order(self) -> list[tuple[int, int, str]]:
        """Its placed entities in text order (start, then longer first), with their own labels."""
        return sorted(self.entities, key=lambda entity: (entity[0], -entity[1], entity[2]))

    def entities_for(self, types: Sequence[str]) -> list[tuple[int, int, str]]:
        """Its placed entities in text order, each named by the deepest type of ``types`` on its path
        (its own label when none is listed)."""
        listed = set(types)
        out = []
        for i, (start, end, label) in enumerate(self.entities):
            names = [name for name in self._path(i) if name in listed]
            out.append((start, end, names[-1] if names else label))
        return sorted(out, key=lambda entity: (entity[0], -entity[1], entity[2]))


def _record_id(record: Mapping[str, Any], index: int) -> str:
    value = record.get("id", index)
    return str(value)


def demonstration_of(record: Any, index: int, where: str = "records") -> Demonstration:
    """One span record as a :class:`Demonstration`, checked; :class:`DemonstrationError` names the record and field.

    >>> demonstration_of({"text": "Ada .", "entities": [{"text": "Ada", "label": "person", "start": 0, "end": 3}]}, 0)
    Demonstration(id='0', text='Ada .', entities=((0, 3, 'person'),), language=None, unplaced=frozenset(), paths=((),))
    """
    if not isinstance(record, Mapping):
        raise DemonstrationError(f"{where}: record {index} must be an object, got {type(record).__name__}")
    rid = _record_id(record, index)
    text = record.get("text")
    if not isinstance(text, str):
        raise DemonstrationError(f"{where}: record {rid!r}: field 'text' must be a string, got {type(text).__name__}")
    language = record.get("language")
    if language is not None and not isinstance(language, str):
        raise DemonstrationError(f"{where}: record {rid!r}: field 'language' must be a string")
    entities = record.get("entities")
    if not isinstance(entities, (list, tuple)):
        raise DemonstrationError(f"{where}: record {rid!r}: field 'entities' must be a list of "
                                 "{text, label, start, end} records")
    placed: list[tuple[int, int, str]] = []
    paths: list[tuple[str, ...]] = []
    unplaced: set[str] = set()
    for position, entity in enumerate(entities):
        if not isinstance(entity, Mapping):
            raise DemonstrationError(f"{where}: record {rid!r}: entities[{position}] must be an object")
        for key, kind in (("text", str), ("label", str), ("start", int), ("end", int)):
            value = entity.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise DemonstrationError(f"{where}: record {rid!r}: entities[{position}].{key} must be "
                                         f"{kind.__name__}, got {value!r}")
        start, end, label = entity["start"], entity["end"], entity["label"]
        path = entity.get("path") or ()
        if not isinstance(path, (list, tuple)) or not all(isinstance(name, str) for name in path):
            raise DemonstrationError(f"{where}: record {rid!r}: entities[{position}].path must be a list of type "
                                     f"names, got {path!r}")
        if start == -1:
            unplaced.add(label)
            continue
        if not 0 <= start < end <= len(text) or text[start:end] != entity["text"]:
            raise DemonstrationError(f"{where}: record {rid!r}: entities[{position}] span ({start}, {end}) does not "
                                     f"hold {entity['text']!r} in the text")
        placed.append((start, end, label))
        paths.append(tuple(path))
    return Demonstration(id=rid, text=text, entities=tuple(placed), language=language, unplaced=frozenset(unplaced),
                         paths=tuple(paths))


class DemonstrationPool:
    """The training sentences demonstrations are drawn from (see the module doc).

    ``records``: span records; ``source``: where they came from (recorded with the runs, e.g.
    ``{"kind": "dynamicner", "config": "en", "split": "train"}``). Sentences with an empty text are
    left out (counted in ``description["empty"]``).
    """

    def __init__(self, records: Iterable[Mapping[str, Any]], *, source: Mapping[str, Any] | None = None,
                 where: str = "demonstrations") -> None:
        items = list(records)
        demos = [demonstration_of(record, index, where) for index, record in enumerate(items)]
        ids = [demo.id for demo in demos]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i, count in Counter(ids).items() if count > 1)
            raise DemonstrationError(f"{where}: duplicate record id {duplicate!r}")
        self.records: tuple[Demonstration, ...] = tuple(demo for demo in demos if demo.text.strip())
        digest = hashlib.sha256(json.dumps(
            [[d.id, d.text, [list(e) for e in d.entities], d.language, sorted(d.unplaced), [list(p) for p in d.paths]]
             for d in demos], ensure_ascii=False).encode("utf-8")).hexdigest()
        #: where the sentences came from, how many, and the SHA-256 of what was read
        self.description: dict[str, Any] = {**dict(source or {}), "sentences": len(self.records),
                                            "empty": len(demos) - len(self.records), "sha256": digest}
        self._by_label: dict[str, list[int]] = {}
        for index, demo in enumerate(self.records):
            for label in sorted(demo.labels):
                self._by_label.setdefault(label, []).append(index)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"DemonstrationPool({len(self)} sentences, sha256 {self.description['sha256'][:12]})"

    @property
    def digest(self) -> str:
        return self.description["sha256"]

    def identity(self) -> dict[str, Any]:
        """What ``--resume`` compares: the content (SHA-256) and the number of sentences."""
        return {"sha256": self.digest, "sentences": len(self)}

    def candidates(self, language: str | None, *, text: str) -> list[int]:
        """Indices of the sentences of ``language`` (see the module doc), never one whose text is ``text``."""
        return [index for index, demo in enumerate(self.records)
                if demo.text != text and (language is None or demo.language is None or demo.language == language)]

    def holding(self, label: str) -> frozenset[int]:
        """Indices of the sentences with a placed ``label`` entity."""
        return frozenset(self._by_label.get(label, ()))


def seeded_rng(seed: int, *parts: Any) -> random.Random:
    """A ``random.Random`` seeded from ``seed`` and ``parts`` through SHA-256 (never ``hash()``).

    >>> seeded_rng(0, "a").random() == seeded_rng(0, "a").random() != seeded_rng(1, "a").random()
    True
    """
    payload = json.dumps([seed, *parts], ensure_ascii=False, sort_keys=True).encode("utf-8")
    return random.Random(int.from_bytes(hashlib.sha256(payload).digest()[:8], "big"))


# ------------------------------------------------------------------------------------------ retrievers

@runtime_checkable
class Retriever(Protocol):
    """Ranks pool sentences by similarity to a query. ``name`` identifies it in the runs' records."""

    name: str

    def similarities(self, query: str, pool: DemonstrationPool) -> Sequence[float]:
        """One similarity per ``pool.records`` entry (higher: closer)."""
        ...


_SPACES = re.compile(r"\s+")


def _ngrams(text: str, sizes: Sequence[int]) -> Counter[str]:
    folded = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    padded = f" {folded} "
    grams: Counter[str] = Counter()
    for size in sizes:
        grams.update(padded[i:i + size] for i in range(max(0, len(padded) - size + 1)))
    return grams


class LexicalRetriever:
    """TF-IDF cosine over character n-grams (2- and 3-grams by default): no model, any script.

    Pool vectors are built once per pool (by its SHA-256), query similarities cached per query text.

    >>> pool = DemonstrationPool([{"text": "Paris is big .", "entities": []}, {"text": "Tokyo is far .", "entities": []}])
    >>> [round(s, 2) for s in LexicalRetriever().similarities("Paris is far .", pool)]
    [0.67, 0.57]
    """

    name = "lexical"

    def __init__(self, sizes: Sequence[int] = (2, 3), *, cache_size: int = 4096) -> None:
        self.sizes = tuple(sizes)
        self.cache_size = cache_size
        self._index: dict[str, tuple[dict[str, list[tuple[int, float]]], dict[str, float], int]] = {}
        self._cache: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def _built(self, pool: DemonstrationPool):
        built = self._index.get(pool.digest)
        if built is None:
            counts = [_ngrams(demo.text, self.sizes) for demo in pool.records]
            frequency: Counter[str] = Counter()
            for grams in counts:
                frequency.update(grams.keys())
            idf = {gram: math.log((1 + len(counts)) / (1 + df)) + 1.0 for gram, df in frequency.items()}
            postings: dict[str, list[tuple[int, float]]] = {}
            for index, grams in enumerate(counts):
                weights = {gram: count * idf[gram] for gram, count in grams.items()}
                norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
                for gram, weight in weights.items():
                    postings.setdefault(gram, []).append((index, weight / norm))
            built = (postings, idf, len(counts))
            self._index[pool.digest] = built
        return built

    def similarities(self, query: str, pool: DemonstrationPool) -> list[float]:
        key = (pool.digest, query)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        postings, idf, size = self._built(pool)
        grams = _ngrams(query, self.sizes)
        default = math.log(1 + size) + 1.0  # an n-gram no pool sentence has
        weights = {gram: count * idf.get(gram, default) for gram, count in grams.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        scores = [0.0] * size
        for gram, weight in weights.items():
            for index, value in postings.get(gram, ()):
                scores[index] += weight / norm * value
        self._cache[key] = scores
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return scores


class EmbeddingRetriever:
    """Cosine similarity of sentence embeddings from ``encode`` (texts -> one vector each, e.g.
    ``SentenceTransformer(...).encode``); pool embeddings computed once per pool.

    >>> import numpy as np
    >>> def encode(texts):  # a toy encoder: counts of a, b and c
    ...     return np.array([[t.count(ch) for ch in "abc"] for t in texts], dtype=float)
    >>> pool = DemonstrationPool([{"text": "aab", "entities": []}, {"text": "ccc", "entities": []}])
    >>> [round(s, 2) for s in EmbeddingRetriever(encode, name="toy").similarities("ab", pool)]
    [0.95, 0.0]
    """

    def __init__(self, encode: Callable[[Sequence[str]], Any], *, name: str) -> None:
        if not name:
            raise ValueError("an embedding retriever needs a name (the encoder's, e.g. its model id)")
        self.encode = encode
        self.name = name
        self._pools: dict[str, Any] = {}

    @staticmethod
    def _normalised(vectors: Any):
        import numpy as np

        matrix = np.asarray(vectors, dtype=float)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1.0, norms)

    def similarities(self, query: str, pool: DemonstrationPool) -> list[float]:
        matrix = self._pools.get(pool.digest)
        if matrix is None:
            matrix = self._normalised(self.encode([demo.text for demo in pool.records]))
            self._pools[pool.digest] = matrix
        vector = self._normalised(self.encode([query]))[0]
        return [float(value) for value in matrix @ vector]


# ------------------------------------------------------------------------------------------ choosing

@dataclass(frozen=True)
class Chosen:
    """The demonstrations chosen for one question, in the order they are shown, and the slots left
    empty (``missing``: the pool had fewer sentences of the language)."""

    demonstrations: tuple[Demonstration, ...] = ()
    missing: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _ranked(pool: DemonstrationPool, indices: Sequence[int], *, selection: str, rng: random.Random, query: str,
            retriever: Retriever | None) -> list[int]:
    if selection == "random":
        order = sorted(indices)
        rng.shuffle(order)
        return order
    if retriever is None:
        raise ValueError("knn selection needs a retriever")
    scores = retriever.similarities(query, pool)
    return sorted(indices, key=lambda index: (-scores[index], index))


def choose_for_type(pool: DemonstrationPool | None, *, text: str, language: str | None, type: str, k: int,
                    seed: int, selection: Selection = "random", retriever: Retriever | None = None) -> Chosen:
    """GPT-NER's ``k`` demonstrations for the question "label ``type`` in ``text``" (see the module doc):
    sentences containing the type first (random or most similar first), then sentences without it."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; allowed: {', '.join(SELECTIONS)}")
    if k == 0:
        return Chosen()
    if pool is None:
        return Chosen(missing=k)
    candidates = pool.candidates(language, text=text)
    holding = pool.holding(type)
    # a sentence whose entity of this type has no offsets cannot be shown with the type marked
    with_type = [i for i in candidates if i in holding]
    without = [i for i in candidates if i not in holding and type not in pool.records[i].unplaced]
    rng = seeded_rng(seed, "gpt-ner", text, type)
    order = _ranked(pool, with_type, selection=selection, rng=rng, query=text, retriever=retriever)
    if len(order) < k:
        order += _ranked(pool, without, selection=selection, rng=rng, query=text, retriever=retriever)[:k - len(order)]
    chosen = tuple(pool.records[i] for i in order[:k])
    return Chosen(chosen, missing=k - len(chosen))


def choose_covering(pool: DemonstrationPool | None, *, text: str, language: str | None, types: Sequence[str], k: int,
                    seed: int) -> Chosen:
    """PromptNER's ``k`` exemplars for a paragraph whose list is ``types`` (see the module doc).

    >>> pool = DemonstrationPool([
    ...     {"id": "r", "text": "Rome .", "entities": [{"text": "Rome", "label": "city", "start": 0, "end": 4}]},
    ...     {"id": "a", "text": "Ada .", "entities": [{"text": "Ada", "label": "person", "start": 0, "end": 3}]},
    ...     {"id": "b", "text": "Ada in Rome .", "entities": [{"text": "Ada", "label": "person", "start": 0, "end": 3},
    ...                                                     {"text": "Rome", "label": "city", "start": 7, "end": 11}]}])
    >>> chosen = choose_covering(pool, text="x", language=None, types=["person", "city"], k=2, seed=0)
    >>> chosen.demonstrations[0].id, chosen.extra["uncovered"]
    ('b', [])
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    wanted = list(dict.fromkeys(types))
    if k == 0:
        return Chosen(extra={"uncovered": []})
    if pool is None:
        return Chosen(missing=k, extra={"uncovered": wanted})
    rng = seeded_rng(seed, "promptner", text, wanted)
    order = pool.candidates(language, text=text)
    rng.shuffle(order)
    uncovered = set(wanted)
    chosen: list[int] = []
    while len(chosen) < k and uncovered:
        gains = [(len(pool.records[i].labels & uncovered), -position) for position, i in enumerate(order)
                 if i not in chosen]
        if not gains or max(gains)[0] == 0:
            break
        best = order[-max(gains)[1]]
        chosen.append(best)
        uncovered -= pool.records[best].labels
    listed = set(wanted)
    # then sentences with any of the list's types, then any sentence of the language
    for i in sorted((i for i in order if i not in chosen), key=lambda i: not (pool.records[i].labels & listed)):
        if len(chosen) >= k:
            break
        chosen.append(i)
    return Chosen(tuple(pool.records[i] for i in chosen), missing=k - len(chosen),
                  extra={"uncovered": [t for t in wanted if t in uncovered]})
