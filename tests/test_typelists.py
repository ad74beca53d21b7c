"""Type lists: the dynamic guarantees over whole corpora, static lists, statistics, synonyms."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import subprocess
import sys
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamicner_data.synonyms import SynonymTable
from dynamicner_data.taxonomy import Taxonomy, TypeNode, normalize_name
from dynamicner_data.typelists import (
    UNKNOWN,
    DynamicOptions,
    LabelStatistics,
    TypeListAssignment,
    check_assignment,
    dynamic_type_list,
    label_statistics,
    label_variation,
    static_type_list,
)

CATCH_ALL_PREFIXES = ("other", "miscellaneous", "unknown")


def on_path(item: TypeNode, node: TypeNode) -> bool:
    return node.path[: len(item.path)] == item.path


def assert_guarantees(nodes, a: TypeListAssignment, options: DynamicOptions) -> None:
    """The issue's guarantees, checked independently of the module's own checker."""
    items, labels, item_nodes = a.type_list, a.labels, a.item_nodes
    assert len(labels) == len(nodes)
    assert len(items) == len(item_nodes) and len(items) <= options.max_types
    assert all(items) and all(labels)
    assert len({normalize_name(i) for i in items}) == len(items), items  # unique, unambiguous strings
    listed = [n for n in item_nodes if n is not None]
    for x, y in combinations(listed, 2):  # no two items on one root-to-leaf path
        assert not on_path(x, y) and not on_path(y, x), (x, y)
    for node, label in zip(nodes, labels):
        assert label in items
        item = item_nodes[items.index(label)]
        mine = [n for n in listed if node is not None and on_path(n, node)]
        if mine:
            assert item == mine[0]  # the (only, hence deepest) listed node of the entity's path
        else:  # an explicit catch-all of the list
            assert item is None and label.startswith(UNKNOWN) or item.name.lower().startswith(CATCH_ALL_PREFIXES)
    assert check_assignment(nodes, a) == []


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.dynamicner()


TAXONOMIES = {
    "fewnerd-like": {"first-level": "art, building, other, person",
                     "second-level": {"art": "film, music, other", "building": "airport, hotel, other",
                                      "other": "award, biologything, god", "person": "actor, athlete, other"}},
    "flat": {"first-level": ", ".join(f"type{i}" for i in range(20)) + ", miscellaneous"},
    "uneven": {"first-level": "a, b, other",
               "second-level": {"a": "a1, a2, other a"},
               "third-level": {"a1": "a1x, a1y, other a1", "a2": "a2x"}},
}


def synthetic_corpus(tax: Taxonomy, n: int, seed: int) -> list[tuple[str, list[TypeNode | None]]]:
    """Random samples: 0-15 entities drawn from all nodes (leaves mostly), some unknown (None)."""
    rnd = random.Random(seed)
    leaves, every = tax.leaves(), list(tax.nodes)
    corpus = []
    for k in range(n):
        size = rnd.choice([0, 1, 1, 2, 3, 4, 6, 15])
        nodes = []
        for _ in range(size):
            r = rnd.random()
            nodes.append(None if r < 0.05 else rnd.choice(every) if r < 0.25 else rnd.choice(leaves))
        corpus.append((f"syn-{seed}-{k}", nodes))
    return corpus


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    DynamicOptions(),
    DynamicOptions(seed=7, p_merge=1.0, p_special=1.0, p_reduce=1.0, p_synonym=1.0),
    DynamicOptions(seed=3, p_merge=0.0, p_special=0.0, p_reduce=0.0, p_synonym=0.0, min_types=1, max_types=4),
    DynamicOptions(seed=1, synonyms=False, max_types=2, min_types=2),
])
def test_guarantees_on_synthetic_corpora(tax, options):
    taxonomies = [tax] + [Taxonomy.from_dict(d, name=name) for name, d in TAXONOMIES.items()]
    for t in taxonomies:
        for sample_id, nodes in synthetic_corpus(t, 400, seed=hash_seed(t.name)):
            assert_guarantees(nodes, dynamic_type_list(sample_id, nodes, t, options), options)


def hash_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@pytest.fixture(scope="module")
def en_sample(shared_data, tax):
    import warnings

    from dynamicner_data.geic import read_geic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples, _ = read_geic(shared_data / "geic" / "dynamicner-example-en.json", tax)
    return samples


@pytest.fixture(scope="module")
def en_assignments(en_sample, tax):
    options = DynamicOptions(seed=0)
    return [dynamic_type_list(f"en-test-{s.key}", [e.node for e in s.entities], tax, options) for s in en_sample]


@pytest.mark.slow
def test_guarantees_on_authors_sample(en_sample, en_assignments):
    for sample, a in zip(en_sample, en_assignments):
        assert_guarantees([e.node for e in sample.entities], a, DynamicOptions())


@pytest.mark.slow
def test_lists_mix_granularities_and_include_distractors(en_sample, en_assignments):
    levels = Counter(n.level for a in en_assignments for n in a.item_nodes if n is not None)
    assert all(levels[lv] > 0.15 * sum(levels.values()) for lv in (1, 2, 3)), levels
    mixed = sum(1 for a in en_assignments if len({n.level for n in a.item_nodes if n is not None}) > 1)
    assert mixed > 0.05 * len(en_assignments)
    lengths = Counter(len(a.type_list) for a in en_assignments)
    assert min(lengths) >= 2 and max(lengths) <= DynamicOptions().max_types and len(lengths) >= 5
    with_sibling_distractor = 0
    for a in en_assignments:
        answered = {a.node_of(label) for label in a.labels} - {None}
        distractors = [n for n in a.item_nodes if n is not None and n not in answered]
        if any(d.parent_path == g.parent_path for d in distractors for g in answered):
            with_sibling_distractor += 1
    assert with_sibling_distractor > 0.5 * len(en_assignments)
    specials = sum(1 for a in en_assignments if any(a.node_of(l) is None or a.node_of(l).is_catch_all() for l in a.labels))
    renamed = sum(1 for a in en_assignments for s, n in zip(a.type_list, a.item_nodes) if n is not None and s != n.name)
    assert specials > 0.1 * len(en_assignments) and renamed > 0.2 * sum(len(a.type_list) for a in en_assignments)


@pytest.mark.slow
def test_repeated_strings_get_different_labels(en_sample, en_assignments):
    variation = label_variation(
        (e.text, label) for s, a in zip(en_sample, en_assignments) for e, label in zip(s.entities, a.labels)
    )
    assert variation.repeated_strings > 100
    assert 0.3 < variation.share <= 1.0
    # with every step off and a fixed level the same string keeps its label: the variation comes from the lists
    flat = DynamicOptions(p_merge=0, p_reduce=0, p_special=0, p_synonym=0)
    tax = Taxonomy.from_dict({"first-level": "person, location, other"})
    nodes = [tax.resolve("person")]
    assert {dynamic_type_list(f"id{k}", nodes, tax, flat).labels for k in range(50)} == {("person",)}


def test_deterministic_and_seeded(tax):
    nodes = [tax.resolve("city"), tax.resolve("author"), None, tax.resolve("protein")]
    a = [dynamic_type_list(f"en-train-s{k}", nodes, tax, DynamicOptions(seed=0)) for k in range(30)]
    b = [dynamic_type_list(f"en-train-s{k}", nodes, tax, DynamicOptions(seed=0)) for k in range(30)]
    c = [dynamic_type_list(f"en-train-s{k}", nodes, tax, DynamicOptions(seed=1)) for k in range(30)]
    assert a == b and a != c
    assert len({x.type_list for x in a}) > 20  # the sample id matters


def _digest_in_subprocess(hash_seed: str) -> str:
    code = (
        "import hashlib, json\n"
        "from dynamicner_data.taxonomy import Taxonomy\n"
        "from dynamicner_data.typelists import DynamicOptions, dynamic_type_list\n"
        "t = Taxonomy.dynamicner()\n"
        "leaves = t.leaves()\n"
        "out = [dynamic_type_list(f'de-test-{k}', [leaves[k % 155], leaves[(7 * k) % 155]], t, DynamicOptions(seed=5))"
        " for k in range(300)]\n"
        "print(hashlib.sha256(json.dumps([(a.type_list, a.labels) for a in out]).encode()).hexdigest())\n"
    )
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))).stdout.strip()


@pytest.mark.slow
def test_same_lists_in_other_processes():
    """No dependence on hash randomisation or process state: two interpreters agree."""
    assert _digest_in_subprocess("1") == _digest_in_subprocess("12345")


def test_name_shared_by_two_listed_types_is_qualified(tax):
    protein, bioweapon = tax.resolve("protein"), tax.get(("product", "weapon", "biological"))
    science_bio = tax.get(("science entity", "biological"))
    opts = DynamicOptions(p_merge=1.0, p_special=0.0, p_synonym=0.0, p_reduce=0.0)
    seen = set()
    for k in range(300):
        a = dynamic_type_list(f"id{k}", [protein, bioweapon], tax, opts)
        assert_guarantees([protein, bioweapon], a, opts)
        if science_bio in a.item_nodes and bioweapon in a.item_nodes:
            seen.add(a.type_list[a.item_nodes.index(bioweapon)])
            assert a.type_list[a.item_nodes.index(science_bio)] != a.type_list[a.item_nodes.index(bioweapon)]
    assert seen == {"biological (weapon)"}


def test_special_answers_with_a_catch_all_and_drops_the_gold_type(tax):
    opts = DynamicOptions(p_special=1.0, p_merge=0.0, p_synonym=0.0)
    politician = tax.resolve("politician")
    catch_alls = Counter()
    for k in range(200):
        a = dynamic_type_list(f"id{k}", [politician], tax, opts)
        assert_guarantees([politician], a, opts)
        answered = a.node_of(a.labels[0])
        assert answered is None or answered.is_catch_all()
        assert not any(n is not None and on_path(n, politician) for n in a.item_nodes)  # gold really absent
        catch_alls[a.labels[0]] += 1
    assert {"other person", "miscellaneous"} <= set(catch_alls)


def test_static_lists(tax):
    nodes = [tax.resolve("city"), tax.resolve("author"), None, tax.get(("person",)), tax.get(("science entity", "biological"))]
    sizes = {1: 8, 2: 31, 3: 155}
    for level, size in sizes.items():
        a = static_type_list(nodes, tax, level)
        assert len(a.type_list) == size and len(set(a.type_list)) == size
        assert [n.level for n in a.item_nodes] == [level] * size
        assert a.labels[0] == tax.at_level(tax.resolve("city"), level).name
        assert a.labels[2] == "miscellaneous"
    assert static_type_list(nodes, tax, 3).labels[3:] == ("miscellaneous", "miscellaneous")
    assert static_type_list(nodes, tax, 2).labels[3:] == ("miscellaneous", "biological")
    assert static_type_list([], tax, 2).type_list == static_type_list(nodes, tax, 2).type_list
    with pytest.raises(ValueError, match="level must be in 1..3"):
        static_type_list(nodes, tax, 4)


def test_static_lists_other_taxonomies():
    fewnerd = Taxonomy.from_dict(TAXONOMIES["fewnerd-like"])
    a = static_type_list([fewnerd.get(("art", "other")), None], fewnerd, 2)
    assert "other (art)" in a.type_list and len(set(a.type_list)) == len(a.type_list)
    assert a.labels[0] == "other (art)" and a.labels[1] == UNKNOWN and a.type_list[-1] == UNKNOWN
    uneven = Taxonomy.from_dict(TAXONOMIES["uneven"])
    cut = static_type_list([uneven.resolve("a2x"), uneven.resolve("b")], uneven, 3)
    assert cut.labels == ("a2x", "b") and "other" in cut.type_list  # leaves above level 3 stay in the list


def test_options_validation_and_adaptation():
    with pytest.raises(ValueError, match="p_merge"):
        DynamicOptions(p_merge=1.5)
    with pytest.raises(ValueError, match="min_types"):
        DynamicOptions(min_types=5, max_types=4)
    low = LabelStatistics(cohesion=0.01, normalized_entropy=0.5, gini=0.5, coefficient_of_variation=2.5)
    high = LabelStatistics(cohesion=0.5, normalized_entropy=0.9, gini=0.1, coefficient_of_variation=0.5)
    assert (DynamicOptions().adapted(low).p_merge, DynamicOptions().adapted(low).p_synonym,
            DynamicOptions().adapted(low).p_reduce) == (0.6, 0.2, 0.24)
    assert DynamicOptions().adapted(high) == DynamicOptions()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 193), min_size=2, max_size=60))
def test_label_statistics_match_formulas(indices):
    tax = Taxonomy.dynamicner()
    nodes = [tax.nodes[i] for i in indices]
    stats = label_statistics(nodes, tax)
    counts = np.array(sorted(Counter(n.path for n in nodes).values()), dtype=float)
    total, k = counts.sum(), len(counts)
    p = counts / total
    assert stats.normalized_entropy == pytest.approx(0.0 if k < 2 else float(-(p * np.log2(p)).sum() / np.log2(k)))
    assert stats.gini == pytest.approx(float((k + 1 - 2 * np.cumsum(counts).sum() / total) / k))
    assert stats.coefficient_of_variation == pytest.approx(float(counts.std() / counts.mean()))
    pairs = list(combinations(nodes, 2))
    same = sum(1 for x, y in pairs if x.level > 1 and x.parent_path == y.parent_path)
    assert stats.cohesion == pytest.approx(same / len(pairs))


def test_label_statistics_from_strings_and_errors(tax):
    by_name = label_statistics(["city", "country", "unknown thing", None], tax)
    by_node = label_statistics([tax.resolve("city"), tax.resolve("country"), None, None], tax)
    assert by_name.cohesion == by_node.cohesion == pytest.approx(1 / 6)
    uniform = label_statistics(["city", "author", "song", "protein"], tax)
    assert uniform.normalized_entropy == pytest.approx(1.0) and uniform.gini == pytest.approx(0.0)
    assert uniform.coefficient_of_variation == 0.0 and math.isfinite(uniform.cohesion)
    with pytest.raises(ValueError, match="at least one label"):
        label_statistics([], tax)
    assert json.loads(json.dumps(uniform.to_dict()))["gini"] == pytest.approx(0.0)


@pytest.mark.slow
def test_statistics_of_authors_sample(en_sample, tax):
    stats = label_statistics([e.node for s in en_sample for e in s.entities], tax)
    assert 0 < stats.cohesion < 0.5 and 0.5 < stats.normalized_entropy < 1 and 0 < stats.gini < 1
    assert stats.coefficient_of_variation > 0


def test_synonym_table_is_sound(tax):
    table = SynonymTable.packaged()
    assert table.problems(tax) == []
    covered = [n for n in tax.nodes if table.for_node(n)]
    non_catch_all = [n for n in tax.nodes if not n.is_catch_all()]
    assert len(covered) > 0.9 * len(non_catch_all)
    assert table.for_node(tax.get(("location", "address"))) != table.for_node(tax.resolve("address"))
    bad = SynonymTable.from_dict({"city": ["country"], "nowhere": ["x"], "biological": ["y"], "road": ["other road"]})
    problems = " ".join(bad.problems(tax))
    assert "is itself a type name" in problems and "not a type" in problems
    assert "key it by path" in problems and "catch-all" in problems
    with pytest.raises(ValueError, match="list of non-empty strings"):
        SynonymTable.from_dict({"city": "town"})


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    DynamicOptions(),
    DynamicOptions(seed=7, p_merge=1.0, p_special=1.0, p_reduce=1.0, p_synonym=1.0),
    DynamicOptions(seed=1, synonyms=False, max_types=2, min_types=2),
])
def test_batch_lists_equal_one_sample_at_a_time(tax, options):
    """A sample's list does not depend on the batch it is built in (shuffled, split differently)."""
    from dynamicner_data.typelists import dynamic_type_lists, node_ids

    for t in [tax] + [Taxonomy.from_dict(d, name=name) for name, d in TAXONOMIES.items()]:
        corpus = synthetic_corpus(t, 300, seed=hash_seed(t.name) + 1)
        random.Random(0).shuffle(corpus)
        offsets = np.cumsum([0] + [len(nodes) for _, nodes in corpus])
        ids = node_ids(t, [n for _, nodes in corpus for n in nodes])
        batch = dynamic_type_lists([sid for sid, _ in corpus], offsets, ids, t, options)
        assert len(batch) == len(corpus)
        for s, (sample_id, nodes) in enumerate(corpus):
            assert batch.assignment(s) == dynamic_type_list(sample_id, nodes, t, options)
        # the empty batch
        empty = dynamic_type_lists([], [0], np.zeros(0, dtype=np.int64), t, options)
        assert len(empty) == 0 and len(empty.item_nodes) == 0


def test_static_batch_equals_static_list(tax):
    from dynamicner_data.typelists import node_ids
    from dynamicner_data.typelists import static_type_lists

    for t in [tax] + [Taxonomy.from_dict(d, name=name) for name, d in TAXONOMIES.items()]:
        corpus = synthetic_corpus(t, 200, seed=3)
        offsets = np.cumsum([0] + [len(nodes) for _, nodes in corpus])
        ids = node_ids(t, [n for _, nodes in corpus for n in nodes])
        for level in range(1, t.depth + 1):
            batch = static_type_lists(offsets, ids, t, level)
            for s, (_, nodes) in enumerate(corpus):
                assert batch.assignment(s) == static_type_list(nodes, t, level)


def test_batch_lists_chunked_for_big_taxonomies(tax, monkeypatch):
    """Above MAX_CELLS the batch is computed chunk by chunk, with identical results."""
    from dynamicner_data.typelists import dynamic as dynamic_lists

    corpus = synthetic_corpus(tax, 120, seed=11)
    offsets = np.cumsum([0] + [len(nodes) for _, nodes in corpus])
    ids = dynamic_lists.node_ids(tax, [n for _, nodes in corpus for n in nodes])
    args = ([sid for sid, _ in corpus], offsets, ids, tax, DynamicOptions(seed=2))
    whole = dynamic_lists.dynamic_type_lists(*args)
    monkeypatch.setattr(dynamic_lists, "MAX_CELLS", (len(tax.nodes) + 1) * 7)  # chunks of 7 samples
    chunked = dynamic_lists.dynamic_type_lists(*args)
    for name in ("offsets", "item_nodes", "item_names", "label_names", "label_nodes", "entity_offsets"):
        assert np.array_equal(getattr(whole, name), getattr(chunked, name)), name


def test_batch_lists_reject_malformed_inputs(tax):
    from dynamicner_data.typelists import dynamic_type_lists

    options = DynamicOptions()
    with pytest.raises(ValueError, match="entity_offsets must run from 0 to 2 over 2 samples"):
        dynamic_type_lists(["a", "b"], [0, 1], [0, 1], tax, options)  # one offset short
    with pytest.raises(ValueError, match="entity_offsets must run from 0 to 2 over 2 samples"):
        dynamic_type_lists(["a", "b"], [0, 2, 1], [0, 1], tax, options)  # decreasing
    with pytest.raises(ValueError, match=r"entity node ids must lie in -1\.\.193"):
        dynamic_type_lists(["a"], [0, 1], [len(tax.nodes)], tax, options)
    with pytest.raises(ValueError, match="sample 'x': type .* is not in taxonomy"):
        other = Taxonomy.from_dict({"first-level": "wizard"}, name="other")
        dynamic_type_list("x", [other.resolve("wizard")], tax, options)


def test_static_catch_all_named_unknown_is_not_listed_twice():
    """A level whose catch-all is a type named "unknown" answers with it; no second "unknown" is appended."""
    from dynamicner_data.typelists import node_ids
    from dynamicner_data.typelists import static_type_lists

    tax = Taxonomy.from_dict({"first-level": "person, location, unknown"})
    a = static_type_list([None, tax.resolve("person")], tax, 1)
    assert a.type_list == ("person", "location", "unknown") and a.labels == ("unknown", "person")
    assert a.node_of("unknown") == tax.resolve("unknown") and check_assignment([None, tax.resolve("person")], a) == []
    batch = static_type_lists([0, 2], node_ids(tax, [None, tax.resolve("person")]), tax, 1)
    assert batch.assignment(0) == a


def test_granularity_table_is_defined_once():
    """The builder, the records and the main job's results share the typelists package's table."""
    from cascadener import benchmark
    from dynamicner_data import builder, records
    from dynamicner_data import typelists

    assert typelists.GRANULARITIES == ("dynamic", "coarse", "medium", "fine")
    assert dict(typelists.STATIC_LEVELS) == {"coarse": 1, "medium": 2, "fine": 3}
    assert records.STATIC_LEVELS is typelists.STATIC_LEVELS and records.GRANULARITIES is typelists.GRANULARITIES
    assert builder.GRANULARITIES is typelists.GRANULARITIES
    assert benchmark.STATIC_LEVELS is typelists.STATIC_LEVELS and benchmark.COLUMNS is typelists.GRANULARITIES
    assert {c.granularity for c in builder.DynamicNER.BUILDER_CONFIGS} == set(typelists.GRANULARITIES)
    with pytest.raises(TypeError):
        typelists.STATIC_LEVELS["finest"] = 4  # read-only: one table for everyone


def test_taxonomy_tables_are_cached_with_the_taxonomy():
    from dynamicner_data.typelists.tables import name_tables, type_tables

    t = Taxonomy.from_dict(TAXONOMIES["uneven"])
    tables = type_tables(t)
    assert type_tables(t) is tables and t.cached("typelists.tables", lambda _: None) is tables
    assert name_tables(t, True) is name_tables(t, True) and name_tables(t, True) is not name_tables(t, False)
    assert type_tables(Taxonomy.from_dict(TAXONOMIES["uneven"])) is not tables  # per taxonomy object


def test_static_unknown_item_is_qualified_when_a_type_has_that_name():
    """A listed type called "unknown" that is no catch-all of the level: the appended item is "unknown (<taxonomy>)"."""
    from dynamicner_data.typelists import node_ids, static_type_lists

    tax = Taxonomy.from_dict({"first-level": "person, place", "second-level": {"person": "unknown, actor"}}, name="toy")
    a = static_type_list([None, tax.resolve("actor")], tax, 2)
    assert a.type_list == ("unknown", "actor", "place", "unknown (toy)") and a.labels == ("unknown (toy)", "actor")
    assert a.node_of("unknown (toy)") is None and check_assignment([None, tax.resolve("actor")], a) == []
    assert static_type_lists([0, 2], node_ids(tax, [None, tax.resolve("actor")]), tax, 2).assignment(0) == a
