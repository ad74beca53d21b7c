"""The batch type lists equal the one-sample-at-a-time reference (``tests/reference_typelists.py``).

Random taxonomies (one to four levels, names shared at several levels, "other ..." and
"miscellaneous" catch-alls, a type called "unknown", flat ones wider than ``max_types``) and
random corpora (unknown categories, entities at every level), under every option: the whole
output of every sample must be the reference's, item for item and label for label.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamicner_data.taxonomy import Taxonomy, TypeNode, normalize_name
from dynamicner_data.typelists import (
    DynamicOptions,
    dynamic_type_list,
    dynamic_type_lists,
    node_ids,
    static_type_lists,
)
from reference_typelists import Reference, dynamic_reference, static_reference

# names with synonyms in the packaged table, names of several DynamicNER levels, catch-alls, case variants
NAMES = (
    "person", "location", "city", "country", "author", "politician", "protein", "song", "film", "airport",
    "hotel", "actor", "athlete", "award", "god", "weapon", "address", "biological", "Biological", "City",
    "other", "other person", "other art", "miscellaneous", "Miscellaneous", "misc", "unknown", "product",
    "facility", "art", "group", "river", "mountain", "company", "disease", "software", "vehicle", "food",
)


@st.composite
def taxonomies(draw) -> Taxonomy:
    depth = draw(st.integers(1, 4))
    wide = draw(st.booleans())
    nodes: list[TypeNode] = []

    def grow(parent: tuple[str, ...]) -> None:
        level = len(parent) + 1
        if level > depth:
            return
        most = (30 if wide else 8) if level == 1 else 4
        names = draw(st.lists(st.sampled_from(NAMES), min_size=1 if level == 1 else 0, max_size=most,
                              unique_by=normalize_name))
        if level == 1 and wide:
            names += [f"type{k}" for k in range(draw(st.integers(0, 20)))]
        for name in names:
            nodes.append(TypeNode(parent + (name,)))
            grow(parent + (name,))

    grow(())
    return Taxonomy(nodes, name=draw(st.sampled_from(["toy", "fewnerd-like", "DynamicNER"])))


PROBABILITIES = st.one_of(st.sampled_from([0.0, 0.25, 0.4, 1.0]), st.floats(0.0, 1.0))


@st.composite
def option_sets(draw) -> DynamicOptions:
    min_types = draw(st.integers(1, 6))
    return DynamicOptions(
        seed=draw(st.integers(0, 2**31)),
        p_merge=draw(PROBABILITIES),
        p_synonym=draw(PROBABILITIES),
        p_reduce=draw(PROBABILITIES),
        p_special=draw(PROBABILITIES),
        min_types=min_types,
        max_types=draw(st.one_of(st.integers(max(2, min_types), 16), st.integers(49, 60))),
        synonyms=draw(st.booleans()),
    )


@st.composite
def corpora(draw, taxonomy: Taxonomy) -> list[tuple[str, list[TypeNode | None]]]:
    size = len(taxonomy.nodes)
    entity = st.one_of(st.just(None), st.sampled_from(taxonomy.nodes)) if draw(st.booleans()) else st.sampled_from(taxonomy.nodes)
    samples = draw(st.lists(st.lists(entity, max_size=min(14, 2 * size)), min_size=1, max_size=25))
    ids = draw(st.lists(st.text(min_size=1, max_size=8), min_size=len(samples), max_size=len(samples)))
    return [(f"xx-train-{i}", nodes) for i, nodes in zip(ids, samples)]


def fields(batch, s: int) -> Reference:
    a = batch.assignment(s)
    return Reference(a.type_list, a.labels, a.item_nodes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_dynamic_batch_equals_reference(data):
    taxonomy = data.draw(taxonomies(), label="taxonomy")
    options = data.draw(option_sets(), label="options")
    corpus = data.draw(corpora(taxonomy), label="corpus")
    offsets = np.cumsum([0] + [len(nodes) for _, nodes in corpus])
    ids = node_ids(taxonomy, [n for _, nodes in corpus for n in nodes])
    batch = dynamic_type_lists([sid for sid, _ in corpus], offsets, ids, taxonomy, options)
    assert len(batch) == len(corpus)
    words = {k: getattr(options, k) for k in ("seed", "p_merge", "p_synonym", "p_reduce", "p_special",
                                                "min_types", "max_types", "synonyms")}
    for s, (sample_id, nodes) in enumerate(corpus):
        expected = dynamic_reference(sample_id, nodes, taxonomy, **words)
        assert fields(batch, s) == expected, (sample_id, nodes)
        labels = [batch.names[k] for k in batch.label_names[offsets[s]:offsets[s + 1]].tolist()]
        listed = batch.item_nodes[batch.offsets[s]:batch.offsets[s + 1]].tolist()
        answered = batch.label_nodes[offsets[s]:offsets[s + 1]].tolist()
        assert labels == list(expected.labels)  # label_names and label_nodes agree with the list
        assert [listed.index(k) if k >= 0 else len(listed) - 1 for k in answered] == [
            expected.type_list.index(label) for label in expected.labels]
    first = corpus[0]
    assert fields(batch, 0) == Reference(*dataclass_fields(dynamic_type_list(first[0], first[1], taxonomy, options)))


def dataclass_fields(a):
    return a.type_list, a.labels, a.item_nodes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_static_batch_equals_reference(data):
    taxonomy = data.draw(taxonomies(), label="taxonomy")
    corpus = data.draw(corpora(taxonomy), label="corpus")
    offsets = np.cumsum([0] + [len(nodes) for _, nodes in corpus])
    ids = node_ids(taxonomy, [n for _, nodes in corpus for n in nodes])
    for level in range(1, taxonomy.depth + 1):
        batch = static_type_lists(offsets, ids, taxonomy, level)
        for s, (_, nodes) in enumerate(corpus):
            assert fields(batch, s) == static_reference(nodes, taxonomy, level), (level, nodes)


def test_reference_on_the_dynamicner_taxonomy():
    """The packaged taxonomy with every step forced on, off, and at the paper's rates."""
    tax = Taxonomy.dynamicner()
    rng = np.random.default_rng(5)
    corpus = []
    for k in range(120):
        picks = rng.integers(-1, len(tax.nodes), size=int(rng.integers(0, 16)))
        corpus.append((f"en-test-{k}", [tax.nodes[i] if i >= 0 else None for i in picks.tolist()]))
    offsets = np.cumsum([0] + [len(nodes) for _, nodes in corpus])
    ids = node_ids(tax, [n for _, nodes in corpus for n in nodes])
    for options in (DynamicOptions(), DynamicOptions(seed=3, p_merge=1, p_reduce=1, p_special=1, p_synonym=1),
                    DynamicOptions(seed=4, p_merge=0, p_reduce=0, p_special=0, p_synonym=0, min_types=1, max_types=3),
                    DynamicOptions(seed=9, synonyms=False, max_types=60, min_types=6)):
        batch = dynamic_type_lists([sid for sid, _ in corpus], offsets, ids, tax, options)
        words = {k: getattr(options, k) for k in ("seed", "p_merge", "p_synonym", "p_reduce", "p_special",
                                                    "min_types", "max_types", "synonyms")}
        for s, (sample_id, nodes) in enumerate(corpus):
            assert fields(batch, s) == dynamic_reference(sample_id, nodes, tax, **words), (options, sample_id)


def test_reference_is_not_vacuous():
    """The reference notices a change: another seed or another step probability gives other lists."""
    tax = Taxonomy.dynamicner()
    nodes = [tax.resolve("city"), tax.resolve("author")]
    words = dict(seed=0, p_merge=0.4, p_synonym=0.4, p_reduce=0.3, p_special=0.25, min_types=3, max_types=12,
                 synonyms=True)
    base = [dynamic_reference(f"s{k}", nodes, tax, **words) for k in range(40)]
    assert base != [dynamic_reference(f"s{k}", nodes, tax, **{**words, "seed": 1}) for k in range(40)]
    assert base != [dynamic_reference(f"s{k}", nodes, tax, **{**words, "p_special": 1.0}) for k in range(40)]
