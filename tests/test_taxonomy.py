"""Taxonomy: the packaged DynamicNER hierarchy, the authors' format, defects and errors."""

from __future__ import annotations

import json

import pytest

from dynamicner_data.taxonomy import Taxonomy, TaxonomyError, TypeNode


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.dynamicner()


def test_packaged_equals_authors_hierarchy(tax, shared_data):
    theirs = Taxonomy.from_file(shared_data / "taxonomy" / "dynamicner.json")
    assert tax.triples() == theirs.triples()
    assert theirs.warnings == []


def test_packaged_sizes_and_shared_names(tax):
    assert [len(tax.level(n)) for n in (1, 2, 3)] == [8, 31, 155]
    assert len(tax.nodes) == 194 and tax.depth == 3 and tax.warnings == []
    multi = {n.name for n in tax.nodes if len(tax.find(n.name)) > 1}
    assert multi == {"miscellaneous", "address", "biological", "other product", "other facility",
                     "other art", "other scientific entity"}
    # paths keep them apart
    assert len({n.path for n in tax.find("miscellaneous")}) == 3
    assert tax.resolve("miscellaneous").path == ("miscellaneous",) * 3
    assert tax.resolve("Biological").path == ("product", "weapon", "biological")
    assert tax.resolve("other scientific entity").level == 3
    assert tax.resolve("no such type") is None


def test_preorder_and_navigation(tax):
    nodes = tax.nodes
    for i, node in enumerate(nodes):
        parent = tax.parent(node)
        if parent is not None:
            assert nodes.index(parent) < i
    city = tax.get(("location", "geo-political entity", "city"))
    assert [a.name for a in tax.ancestors(city)] == ["location", "geo-political entity", "city"]
    assert tax.at_level(city, 2).path == ("location", "geo-political entity")
    assert tax.at_level(city, 5) is city
    assert [c.name for c in tax.children(None)][:2] == ["person", "location"]
    assert tax.children(tax.get(("person",)))[1].name == "fictional figure"
    assert tax.get(["person"]).is_ancestor_of(tax.resolve("politician"))
    assert not tax.resolve("politician").is_ancestor_of(tax.resolve("politician"))
    with pytest.raises(KeyError, match="no type with path person > nobody"):
        tax.get(("person", "nobody"))
    assert len(tax.cut(2)) == 31 and len(tax.cut(3)) == 155


def test_to_dict_round_trip(tax):
    again = Taxonomy.from_dict(json.loads(json.dumps(tax.to_dict())))
    assert again.nodes == tax.nodes


def test_typenode_order_and_errors():
    assert TypeNode(("a",)) < TypeNode(("a", "b")) < TypeNode(("b",))
    with pytest.raises(ValueError):
        TypeNode(())
    with pytest.raises(ValueError):
        TypeNode(("a", ""))


def test_defects_tolerated_with_warnings_naming_the_file(shared_data):
    ai = Taxonomy.from_file(shared_data / "taxonomy" / "crossner-ai.json")
    assert len(ai.level(1)) == 14 and "" not in {n.name for n in ai.nodes}
    assert any("crossner-ai.json" in w and "empty name" in w for w in ai.warnings)

    fewnerd = Taxonomy.from_file(shared_data / "taxonomy" / "fewnerd.json")
    others = fewnerd.find("other")
    assert len(others) == 8 and others[0].path == ("other",)
    assert fewnerd.resolve("gpe").path == ("location", "GPE")
    with pytest.raises(TaxonomyError, match="ambiguous"):
        fewnerd.resolve("other")


def test_stray_spaces_and_case_variants():
    tax = Taxonomy.from_dict(
        {"first-level": "Person ,  place", "second-level": {"person": "a  b", " PLACE": ["city"]}},
        source="mine.json",
    )
    assert [n.path for n in tax.nodes] == [("Person",), ("Person", "a b"), ("place",), ("place", "city")]
    assert all(w.startswith("mine.json: ") for w in tax.warnings)
    joined = " ".join(tax.warnings)
    assert "stray spaces" in joined and "case or spacing differs" in joined


@pytest.mark.parametrize(
    "data, message",
    [
        ({"first-level": "a, b", "second-level": {"c": "x"}}, r"unknown parent 'c'"),
        ({"first-level": "a, b", "second-level": {"a": "x, y, X"}}, r"duplicate child 'X'"),
        ({"first-level": "a, a"}, r"duplicate child 'a'"),
        ({"first-level": "a, b", "second-level": {"a": "o", "b": "o"}, "third-level": {"o": "z"}}, "ambiguous"),
        ({"second-level": {}}, "missing key 'first-level'"),
        ({"first-level": 3}, "expected a comma-separated string"),
        ({"first-level": "a", "third-level": {"a": "x"}}, "given without 'second-level'"),
        ({"first-level": ", ,"}, "lists no types"),
    ],
)
def test_errors_name_the_source(data, message):
    with pytest.raises(TaxonomyError, match=message) as info:
        Taxonomy.from_dict(data, source="bad.json")
    assert str(info.value).startswith("bad.json: ")


def test_from_file_errors(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"first-level": "a", }', encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"broken.json: malformed JSON at line 1"):
        Taxonomy.from_file(bad)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"first-level": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(TaxonomyError, match=r"latin.json: not valid UTF-8"):
        Taxonomy.from_file(latin)


def test_every_shared_taxonomy_loads(shared_data):
    for path in sorted((shared_data / "taxonomy").glob("*.json")):
        if path.name == "dynamicner-nested.json":
            continue  # nested JSON, not the authors' category format
        tax = Taxonomy.from_file(path)
        assert len(tax.level(1)) >= 3, path.name
        assert Taxonomy.from_dict(tax.to_dict()).triples() == tax.triples(), path.name
