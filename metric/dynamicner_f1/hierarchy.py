"""Label -> taxonomy path, for hierarchical scores. Stands alone (no project imports).

A type is identified by its path (names root..node), never by its bare name: DynamicNER has seven
names at more than one level. ``taxonomy`` may be

* a mapping ``label -> path`` (a list of names, root first), the unambiguous form;
* the authors' category format: ``{"first-level": "a, b", "second-level": {"a": "c, d"}, ...}``;
* a nested mapping ``{"A": {"B": ["C", "D"]}}`` (dict = children, list = leaves; the top-level
  values must be mappings, else it reads as ``label -> path``).

The resolution rule (the same as ``dynamicner_data.taxonomy.Taxonomy.resolve(label, loose=False)``
in the DynamicNER kit; a test holds the two to the same answer on every packaged and shared taxonomy):

1. names compare by their key (:func:`name_key`): runs of whitespace collapsed to one space, ends
   stripped, case-folded (``str.casefold``: "STRASSE" and "straße" are one name); paths are keys;
2. for the two tree forms a bare label resolves to its DEEPEST node: DynamicNER's gold labels are
   third-level types, and its repeated names nest inside themselves ("address" under "address");
3. a label that names several nodes at that deepest level (few-nerd's "other") is ambiguous: scoring
   it raises ``ValueError`` naming the candidates; pass a ``label -> path`` mapping instead;
4. a label that names no node is unknown (``None``).
Empty names (a double comma in the authors' files) name no type and are skipped.

Example:
    >>> tree = {"first-level": "location, miscellaneous",
    ...         "second-level": {"location": "city, address", "miscellaneous": "event, miscellaneous"},
    ...         "third-level": {"address": "address, road"}}
    >>> paths = label_paths(tree)
    >>> paths.resolve("city")
    ('location', 'city')
    >>> paths.resolve("Miscellaneous")
    ('miscellaneous', 'miscellaneous')
    >>> paths.resolve("address")
    ('location', 'address', 'address')
    >>> paths.resolve("banana") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

_SPACES = re.compile(r"\s+")

_LEVEL_KEYS = ("first-level", "second-level", "third-level", "fourth-level", "fifth-level")


def name_key(name: str) -> str:
    """The key a name is compared by: whitespace runs collapsed, ends stripped, case-folded.

    >>> name_key("  Other   GPE "), name_key("Straße") == name_key("STRASSE")
    ('other gpe', True)
    """
    return _SPACES.sub(" ", name).strip().casefold()


@dataclass
class LabelPaths:
    """``label key -> path of keys`` (see :func:`name_key`), with the ambiguous names kept apart."""

    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ambiguous: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    def resolve(self, label: str) -> tuple[str, ...] | None:
        """The path of ``label`` (name keys), ``None`` when unknown; ``ValueError`` if ambiguous."""
        key = name_key(label)
        path = self.paths.get(key)
        if path is None and key in self.ambiguous:
            candidates = ", ".join("/".join(p) for p in self.ambiguous[key])
            raise ValueError(
                f"label {label!r} names several taxonomy nodes at the same level ({candidates}); "
                "pass taxonomy as a mapping label -> path to choose one"
            )
        return path


def _split(names: str, where: str) -> list[str]:
    if not isinstance(names, str):
        raise ValueError(f"taxonomy {where}: expected a comma-separated string of names, got {names!r}")
    return [name_key(name) for name in names.split(",") if name.strip()]


def _category_nodes(tree: Mapping) -> list[tuple[str, ...]]:
    level_nodes = [tuple([name]) for name in _split(tree["first-level"], "'first-level'")]
    nodes = list(level_nodes)
    for key in _LEVEL_KEYS[1:]:
        if key not in tree:
            break
        children = tree[key]
        if not isinstance(children, Mapping):
            raise ValueError(f"taxonomy {key!r}: expected a mapping parent -> names, got {type(children).__name__}")
        by_name: dict[str, list[tuple[str, ...]]] = {}
        for node in level_nodes:
            by_name.setdefault(node[-1], []).append(node)
        next_level: list[tuple[str, ...]] = []
        for parent, names in children.items():
            parents = by_name.get(name_key(str(parent)), [])
            if len(parents) != 1:
                found = "no" if not parents else "several"
                raise ValueError(f"taxonomy {key!r}: parent {parent!r} matches {found} node of the level above")
            next_level.extend(parents[0] + (name,) for name in _split(names, f"{key!r}[{parent!r}]"))
        nodes.extend(next_level)
        level_nodes = next_level
    return nodes


def _nested_nodes(tree: object, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(tree, Mapping):
        out: list[tuple[str, ...]] = []
        for name, sub in tree.items():
            node = prefix + (name_key(str(name)),)
            out.append(node)
            out.extend(_nested_nodes(sub, node))
        return out
    if isinstance(tree, (list, tuple)):
        return [prefix + (name_key(str(name)),) for name in tree if str(name).strip()]
    raise ValueError(f"taxonomy under {'/'.join(prefix)!r}: expected a mapping or a list, got {tree!r}")


def label_paths(taxonomy: Mapping) -> LabelPaths:
    """Parse any of the three accepted taxonomy forms (see the module docstring)."""
    if not isinstance(taxonomy, Mapping):
        raise ValueError(f"taxonomy must be a mapping, got {type(taxonomy).__name__}")
    result = LabelPaths()
    values = list(taxonomy.values())
    if "first-level" in taxonomy:
        nodes = _category_nodes(taxonomy)
    elif values and all(isinstance(v, Mapping) for v in values):
        nodes = _nested_nodes(taxonomy, ())
    elif values and all(isinstance(v, (list, tuple)) and v and all(isinstance(n, str) for n in v) for v in values):
        for label, path in taxonomy.items():
            result.paths[name_key(str(label))] = tuple(name_key(name) for name in path)
        _refuse_cycle(result.paths.values())
        return result
    else:
        raise ValueError(
            "taxonomy must be a mapping label -> path (non-empty lists of names, root first), the authors' "
            "category format (with 'first-level') or a nested mapping of names (mapping values at the top)"
        )
    _refuse_cycle(nodes)
    by_name: dict[str, list[tuple[str, ...]]] = {}
    for node in nodes:
        by_name.setdefault(node[-1], []).append(node)
    for name, candidates in by_name.items():
        deepest = max(len(p) for p in candidates)
        at_depth = sorted({p for p in candidates if len(p) == deepest})
        if len(at_depth) == 1:
            result.paths[name] = at_depth[0]
        else:
            result.ambiguous[name] = at_depth
    return result


def _refuse_cycle(paths) -> None:
    """``ValueError`` when type names loop (``a`` under ``b`` and ``b`` under ``a``); a name directly
    under itself ("address" > "address") is fine.

    >>> _refuse_cycle([("a",), ("b",), ("a", "b"), ("b", "a")])
    Traceback (most recent call last):
    ...
    ValueError: taxonomy: type names form a cycle: 'a' > 'b' > 'a' (each is listed under the one before)
    """
    edges: dict[str, set[str]] = {}
    for path in paths:
        names = [name_key(str(name)) for name in path]
        for parent, child in zip(names, names[1:]):
            if parent != child:
                edges.setdefault(parent, set()).add(child)
    state: dict[str, int] = {}
    for start in sorted(edges):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(edges[start])))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                loop = [n for n, _ in stack]
                loop = loop[loop.index(child):] + [child]
                raise ValueError(
                    f"taxonomy: type names form a cycle: {' > '.join(map(repr, loop))} (each is listed under the one before)"
                )
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(edges.get(child, ())))))


def expand(path: Sequence[str]) -> list[tuple[str, ...]]:
    """The node and its ancestors, root first: what hierarchical scores add to both sides.

    Example:
        >>> expand(("location", "city"))
        [('location',), ('location', 'city')]
    """
    return [tuple(path[: d + 1]) for d in range(len(path))]
