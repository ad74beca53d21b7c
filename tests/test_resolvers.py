"""The metric's label -> path resolver and the taxonomy's resolver follow one rule.

``dynamicner_f1.hierarchy.label_paths(...).resolve(label)`` (the metric stands alone, so it has its
own copy of the rule) and ``dynamicner_data.taxonomy.Taxonomy.resolve(label, loose=False)`` must
give the same node, the same "unknown" and the same "ambiguous" for every name of every packaged
and shared taxonomy, written as in the file and in other cases and spacings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dynamicner_data.taxonomy import PACKAGED_TAXONOMY, Taxonomy, TaxonomyError, normalize_name
from dynamicner_f1.hierarchy import label_paths, name_key

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "dynamicner_data" / "data" / PACKAGED_TAXONOMY


def _variants(name: str) -> list[str]:
    spaced = "  " + name.replace(" ", " \t ") + " "
    return [name, name.upper(), name.title(), name.casefold(), spaced, name.replace("s", "ß").upper()]


def _taxonomy_answer(taxonomy: Taxonomy, label: str):
    try:
        node = taxonomy.resolve(label, loose=False)
    except TaxonomyError:
        return "ambiguous"
    return None if node is None else tuple(normalize_name(name) for name in node.path)


def _metric_answer(paths, label: str):
    try:
        return paths.resolve(label)
    except ValueError:
        return "ambiguous"


def _compare(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    taxonomy = Taxonomy.from_file(path)
    paths = label_paths(data)
    labels = {variant for node in taxonomy.nodes for variant in _variants(node.name)}
    labels |= {"banana", "", " ", "musicgenre", "organisation", "other", "OTHER "}
    checked = 0
    for label in sorted(labels):
        assert _metric_answer(paths, label) == _taxonomy_answer(taxonomy, label), f"{path.name}: {label!r}"
        checked += 1
    return checked


def test_packaged_taxonomy_same_answers():
    assert _compare(PACKAGED) > 155 * 5
    # spot checks of the rule itself
    paths = label_paths(json.loads(PACKAGED.read_text(encoding="utf-8")))
    assert paths.resolve("  ADDRESS ") == ("location", "address", "address")  # deepest node of a repeated name
    assert paths.resolve("City") == ("location", "geo-political entity", "city")


@pytest.mark.parametrize("name", ["conll2003", "crossner-ai", "crossner-literature", "crossner-music",
                                  "crossner-politics", "crossner-science", "dynamicner", "fewnerd-coarse", "fewnerd",
                                  "multiconer", "wiki"])
def test_shared_taxonomies_same_answers(shared_data, name):
    assert _compare(shared_data / "taxonomy" / f"{name}.json") > 0


def test_shared_taxonomies_are_all_covered(shared_data):
    listed = {"conll2003", "crossner-ai", "crossner-literature", "crossner-music", "crossner-politics",
              "crossner-science", "dynamicner", "fewnerd-coarse", "fewnerd", "multiconer", "wiki"}
    present = {p.stem for p in (shared_data / "taxonomy").glob("*.json")} - {"dynamicner-nested"}
    assert present <= listed, f"a shared taxonomy the resolver test does not compare: {sorted(present - listed)}"


def test_nested_form_follows_the_same_rule(shared_data):
    """The nested form (title case, its own typo) resolves every name to the authors' file's node."""
    nested = label_paths(json.loads((shared_data / "taxonomy" / "dynamicner-nested.json").read_text(encoding="utf-8")))
    taxonomy = Taxonomy.from_file(shared_data / "taxonomy" / "dynamicner.json")
    agree = 0
    for node in taxonomy.nodes:
        answer = _metric_answer(nested, node.name.upper())
        if answer not in (None, "ambiguous") and answer[-1] == normalize_name(node.name):
            agree += 1
            assert _taxonomy_answer(taxonomy, node.name) == answer or "transortation" in "".join(answer)
    assert agree > 150


def test_one_key_function():
    for name in ("  Other   GPE ", "STRASSE", "Straße", "ǅemal\u00a0Bijedić", "İstanbul"):
        assert name_key(name) == normalize_name(name)
