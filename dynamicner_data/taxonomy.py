"""Entity type hierarchies: load the authors' category format, address types by path.

A type is a :class:`TypeNode` identified by its *path* from the root, never by its bare name:
seven DynamicNER names occur at more than one level ("miscellaneous", "address", "biological",
...), and FewNERD has "other" under several parents.

The authors' category format (one JSON object per corpus)::

    {"dataset": "conll2003", "first-level": "person, location, organization, miscellaneous"}
    {"dataset": "...", "first-level": "a, b",
     "second-level": {"a": "a1, a2"},           # keys: names of the previous level
     "third-level": {"a1": "x, y"}}

Values are comma-separated names (a JSON list of names is accepted too). Real-world defects are
tolerated with a warning naming the file: empty names (a double comma), stray spaces, parent keys
that differ from the declared name by case or spacing. Unknown parents, duplicate children of one
parent, parent keys that match several nodes and names that loop (``a`` under ``b`` under ``a``;
see :func:`name_cycle`) are a :class:`TaxonomyError`.

Example:
    >>> tax = Taxonomy.dynamicner()
    >>> tax.depth, [len(tax.level(n)) for n in (1, 2, 3)]
    (3, [8, 31, 155])
    >>> [n.path for n in tax.find("biological")]
    [('science entity', 'biological'), ('product', 'weapon', 'biological')]
    >>> tax.resolve("City").path
    ('location', 'geo-political entity', 'city')
    >>> tax.at_level(tax.resolve("city"), 1).name
    'location'
    >>> small = Taxonomy.from_dict({"dataset": "toy", "first-level": "person,, place"})
    >>> [n.name for n in small.nodes], small.warnings
    (['person', 'place'], ["<dict>: 'first-level': empty name skipped (double comma?)"])
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

__all__ = ["TypeNode", "Taxonomy", "TaxonomyError", "LEVEL_KEYS", "normalize_name", "compact_name", "is_catch_all_name",
           "name_cycle"]

LEVEL_KEYS: tuple[str, ...] = ("first-level", "second-level", "third-level", "fourth-level", "fifth-level")
PACKAGED_TAXONOMY = "dynamicner-taxonomy.json"

_SPACES = re.compile(r"\s+")
_T = TypeVar("_T")


def normalize_name(name: str) -> str:
    """The matching key of a type name: case-folded, whitespace collapsed, ends stripped.

    >>> normalize_name("  Other   GPE ")
    'other gpe'
    """
    return _SPACES.sub(" ", name).strip().casefold()


_NON_ALNUM = re.compile(r"[\W_]+")


def compact_name(name: str) -> str:
    """A looser matching key: case-folded, spaces/hyphens/underscores dropped, "-isation" spelled "-ization".

    >>> compact_name("Music-Genre"), compact_name("organisation"), compact_name("political/military")
    ('musicgenre', 'organization', 'politicalmilitary')
    """
    return _NON_ALNUM.sub("", name.casefold()).replace("isation", "ization")


def is_catch_all_name(name: str) -> bool:
    """Whether a type name is an explicit catch-all ("other ...", "miscellaneous ...", "unknown").

    >>> [is_catch_all_name(n) for n in ("other person", "miscellaneous", "Unknown", "city", "otherworld")]
    [True, True, True, False, False]
    """
    key = normalize_name(name)
    return key in ("other", "unknown", "misc") or key.startswith(("other ", "miscellaneous"))


def name_cycle(paths: Iterable[Sequence[str]]) -> list[str] | None:
    """A loop of two or more type names, each listed under the one before (``None`` when none).

    A name under itself ("address" > "address" in DynamicNER) is not a loop: the deeper node is
    the finer type. A loop (``a`` under ``b`` and ``b`` under ``a``) makes a bare name mean two
    nodes whose ancestors contradict each other.

    >>> name_cycle([("a",), ("b",), ("a", "b"), ("b", "a")])
    ['a', 'b', 'a']
    >>> name_cycle([("location",), ("location", "address"), ("location", "address", "address")]) is None
    True
    """
    edges: dict[str, list[str]] = {}
    for path in paths:
        names = [normalize_name(name) for name in path]
        for parent, child in zip(names, names[1:]):
            if parent != child and child not in edges.setdefault(parent, []):
                edges[parent].append(child)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in edges:
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(edges.get(start, ())))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                names = [n for n, _ in stack]
                return names[names.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(edges.get(child, ()))))
    return None


class TaxonomyError(ValueError):
    """A taxonomy file or dict that cannot be loaded; the message names the file and the key."""


@dataclass(frozen=True, order=True)
class TypeNode:
    """One type, identified by its path of names from the root.

    >>> node = TypeNode(("location", "address", "address"))
    >>> node.name, node.level, node.parent_path
    ('address', 3, ('location', 'address'))
    >>> str(node)
    'location > address > address'
    """

    path: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.path or not all(isinstance(p, str) and p for p in self.path):
            raise ValueError(f"TypeNode path must be a non-empty tuple of non-empty names, got {self.path!r}")

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def level(self) -> int:
        """1-based depth: first-level types have level 1."""
        return len(self.path)

    @property
    def parent_path(self) -> tuple[str, ...]:
        return self.path[:-1]

    def is_ancestor_of(self, other: "TypeNode") -> bool:
        """True when ``self`` lies strictly above ``other`` on its root-to-leaf path."""
        return len(self.path) < len(other.path) and other.path[: len(self.path)] == self.path

    def is_catch_all(self) -> bool:
        return is_catch_all_name(self.name)

    def __str__(self) -> str:
        return " > ".join(self.path)


def _split_names(value: Any, *, source: str, where: str, warnings: list[str]) -> list[str]:
    """Split one comma-separated value (or a JSON list) into clean names, warning about defects."""
    if isinstance(value, str):
        raw = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        raw = list(value)
    else:
        raise TaxonomyError(
            f"{source}: {where}: expected a comma-separated string of names or a list of strings, "
            f"got {type(value).__name__}"
        )
    names: list[str] = []
    for piece in raw:
        clean = _SPACES.sub(" ", piece).strip()
        if not clean:
            warnings.append(f"{source}: {where}: empty name skipped (double comma?)")
            continue
        # one space after the comma is the normal layout; anything else is a stray space
        if clean != piece.strip() or piece.rstrip() != piece or piece.startswith("  "):
            warnings.append(f"{source}: {where}: stray spaces in {piece!r} normalised to {clean!r}")
        names.append(clean)
    return names


class Taxonomy:
    """A type hierarchy of :class:`TypeNode` s, loaded from the authors' category format.

    Nodes are kept in pre-order (each first-level type followed by its subtree, in file order).
    """

    def __init__(self, nodes: Sequence[TypeNode], *, name: str, source: str = "<dict>",
                 warnings: Sequence[str] = ()) -> None:
        self.name = name
        self.source = source
        self.warnings: list[str] = list(warnings)
        self._children: dict[tuple[str, ...], list[TypeNode]] = {(): []}
        self._by_path: dict[tuple[str, ...], TypeNode] = {}
        for node in nodes:
            if node.path in self._by_path:
                raise TaxonomyError(f"{source}: duplicate type {node}")
            if node.parent_path not in self._children:
                raise TaxonomyError(f"{source}: type {node} listed before (or without) its parent")
            self._by_path[node.path] = node
            self._children[node.parent_path].append(node)
            self._children[node.path] = []
        self.nodes: tuple[TypeNode, ...] = tuple(self._preorder(()))
        self.depth: int = max((n.level for n in self.nodes), default=0)
        self._by_key: dict[str, list[TypeNode]] = {}
        for node in self.nodes:
            self._by_key.setdefault(normalize_name(node.name), []).append(node)
        self._by_compact: dict[str, list[TypeNode]] = {}
        for node in self.nodes:
            self._by_compact.setdefault(compact_name(node.name), []).append(node)
        self._derived: dict[str, Any] = {}  # tables other modules derive once, see cached()

    def _preorder(self, path: tuple[str, ...]) -> Iterator[TypeNode]:
        for child in self._children[path]:
            yield child
            yield from self._preorder(child.path)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>", name: str | None = None) -> "Taxonomy":
        """Build from the authors' format (see the module docstring)."""
        if not isinstance(data, Mapping):
            raise TaxonomyError(f"{source}: expected a JSON object, got {type(data).__name__}")
        if "first-level" not in data:
            raise TaxonomyError(f"{source}: missing key 'first-level'")
        warnings: list[str] = []
        for key in data:
            if key != "dataset" and key not in LEVEL_KEYS:
                warnings.append(f"{source}: unknown key {key!r} ignored")
        dataset = data.get("dataset")
        if dataset is not None and not isinstance(dataset, str):
            raise TaxonomyError(f"{source}: 'dataset' must be a string, got {type(dataset).__name__}")
        nodes: list[TypeNode] = []
        previous: list[TypeNode] = []
        for depth, key in enumerate(LEVEL_KEYS, start=1):
            if key not in data:
                for later in LEVEL_KEYS[depth:]:
                    if later in data:
                        raise TaxonomyError(f"{source}: {later!r} given without {key!r}")
                break
            value = data[key]
            current: list[TypeNode] = []
            if depth == 1:
                groups = [((), _split_names(value, source=source, where=repr(key), warnings=warnings))]
            else:
                if not isinstance(value, Mapping):
                    raise TaxonomyError(
                        f"{source}: {key!r} must be an object keyed by parent names, got {type(value).__name__}"
                    )
                by_key: dict[str, list[TypeNode]] = {}
                for node in previous:
                    by_key.setdefault(normalize_name(node.name), []).append(node)
                groups = []
                seen_parents: set[tuple[str, ...]] = set()
                for parent_key, names_value in value.items():
                    matches = by_key.get(normalize_name(parent_key), [])
                    if not matches:
                        raise TaxonomyError(
                            f"{source}: {key!r}: unknown parent {parent_key!r} "
                            f"(not a name of the {LEVEL_KEYS[depth - 2]!r} types)"
                        )
                    if len(matches) > 1:
                        raise TaxonomyError(
                            f"{source}: {key!r}: parent {parent_key!r} is ambiguous, it names "
                            + ", ".join(str(m) for m in matches)
                        )
                    parent = matches[0]
                    if parent.path in seen_parents:
                        raise TaxonomyError(f"{source}: {key!r}: parent {parent_key!r} listed twice")
                    seen_parents.add(parent.path)
                    if parent_key != parent.name:
                        warnings.append(
                            f"{source}: {key!r}: parent key {parent_key!r} matched type {parent.name!r} "
                            "(case or spacing differs)"
                        )
                    where = f"{key!r}[{parent_key!r}]"
                    groups.append((parent.path, _split_names(names_value, source=source, where=where, warnings=warnings)))
            for parent_path, names in groups:
                seen: dict[str, str] = {}
                for child in names:
                    norm = normalize_name(child)
                    if norm in seen:
                        where = key if not parent_path else f"{key!r}[{parent_path[-1]!r}]"
                        raise TaxonomyError(
                            f"{source}: {where}: duplicate child {child!r} (already listed as {seen[norm]!r})"
                        )
                    seen[norm] = child
                    current.append(TypeNode(parent_path + (child,)))
            nodes.extend(current)
            previous = current
        if not nodes:
            raise TaxonomyError(f"{source}: 'first-level' lists no types")
        cycle = name_cycle(node.path for node in nodes)
        if cycle:
            raise TaxonomyError(
                f"{source}: type names form a cycle: {' > '.join(map(repr, cycle))} (each is listed under the "
                "one before); a name may repeat directly under itself ('address' > 'address'), not around a loop"
            )
        return cls(nodes, name=name or dataset or source, source=source, warnings=warnings)

    @classmethod
    def from_file(cls, path: str | Path, *, name: str | None = None) -> "Taxonomy":
        """Load a taxonomy file in the authors' format; errors and warnings name the file."""
        source = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise TaxonomyError(f"{source}: cannot read taxonomy file: {exc}") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TaxonomyError(f"{source}: not valid UTF-8 at byte {exc.start}") from exc
        try:
            data = json.loads(text.lstrip("\ufeff"))
        except json.JSONDecodeError as exc:
            raise TaxonomyError(f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
        return cls.from_dict(data, source=source, name=name)

    @classmethod
    def dynamicner(cls) -> "Taxonomy":
        """The DynamicNER hierarchy shipped with the package (8 / 31 / 155 types). Cached."""
        return _packaged(PACKAGED_TAXONOMY)

    # ------------------------------------------------------------------ derived tables
    def cached(self, key: str, build: Callable[["Taxonomy"], _T]) -> _T:
        """The table ``build(self)``, built on first use and kept with this taxonomy under ``key``.

        A taxonomy never changes after loading, so tables computed from it (node indices as
        arrays, the type-list tables, ...) are built once per taxonomy object. Use a key that
        names your module, e.g. ``"typelists.tables"``.

        >>> tax = Taxonomy.from_dict({"first-level": "a, b"})
        >>> sizes = tax.cached("doc.sizes", lambda t: [len(t.level(1))])
        >>> sizes, tax.cached("doc.sizes", lambda t: []) is sizes
        ([2], True)
        """
        try:
            return self._derived[key]
        except KeyError:
            table = self._derived[key] = build(self)
            return table

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[TypeNode]:
        return iter(self.nodes)

    def __contains__(self, node: object) -> bool:
        return isinstance(node, TypeNode) and node.path in self._by_path

    def __repr__(self) -> str:
        sizes = "/".join(str(len(self.level(n))) for n in range(1, self.depth + 1))
        return f"Taxonomy(name={self.name!r}, types={sizes}, source={self.source!r})"

    def level(self, n: int) -> list[TypeNode]:
        """All types at level ``n`` (1-based), in pre-order."""
        return [node for node in self.nodes if node.level == n]

    def cut(self, n: int) -> list[TypeNode]:
        """Types at level ``n`` plus leaves above it: one node on every root-to-leaf path.

        >>> tax = Taxonomy.from_dict({"first-level": "a, b", "second-level": {"a": "a1, a2"}})
        >>> [n.name for n in tax.cut(2)]
        ['a1', 'a2', 'b']
        """
        return [node for node in self.nodes if node.level == n or (node.level < n and not self._children[node.path])]

    def leaves(self) -> list[TypeNode]:
        return [node for node in self.nodes if not self._children[node.path]]

    def children(self, node: TypeNode | None = None) -> list[TypeNode]:
        """Direct children of ``node``; the first-level types for ``None``."""
        path = () if node is None else node.path
        if path not in self._children:
            raise KeyError(f"{self.source}: no type {node} in taxonomy {self.name!r}")
        return list(self._children[path])

    def parent(self, node: TypeNode) -> TypeNode | None:
        self.get(node.path)
        return self._by_path.get(node.parent_path)

    def siblings(self, node: TypeNode) -> list[TypeNode]:
        """The other children of ``node``'s parent (first-level types for a first-level node)."""
        return [n for n in self._children[node.parent_path] if n.path != node.path]

    def ancestors(self, node: TypeNode) -> list[TypeNode]:
        """Root .. ``node`` inclusive."""
        self.get(node.path)
        return [self._by_path[node.path[:i]] for i in range(1, node.level + 1)]

    def get(self, path: Sequence[str] | TypeNode) -> TypeNode:
        """The node with this path (a tuple/list of names, or a node); ``KeyError`` when absent."""
        key = path.path if isinstance(path, TypeNode) else tuple(path)
        try:
            return self._by_path[key]
        except KeyError:
            raise KeyError(
                f"no type with path {' > '.join(key) or '()'} in taxonomy {self.name!r} ({self.source})"
            ) from None

    def find(self, name: str) -> list[TypeNode]:
        """All nodes whose name matches ``name`` (case and spacing ignored), shallowest first."""
        return sorted(self._by_key.get(normalize_name(name), []), key=lambda n: (n.level, n.path))

    def resolve(self, category: str, *, loose: bool = True) -> TypeNode | None:
        """The node an annotation's category name stands for; ``None`` when no type has that name.

        Names match by :func:`normalize_name` (whitespace runs collapsed, ends stripped, case-folded).
        With ``loose=False`` this is the rule of the metric's resolver (``metric/dynamicner_f1/hierarchy.py``,
        ``label_paths(...).resolve``): ``tests/test_resolvers.py`` holds the two to the same answer on every
        packaged and shared taxonomy. With ``loose=True`` (default) a name that still
        does not match is compared with spaces, hyphens and underscores dropped and "-isation"
        read as "-ization" (CrossNER's ``musicgenre``, ``organisation``); callers can tell by
        comparing :func:`normalize_name` of the category and of the node's name.

        Annotations use the finest names, so when a name occurs at several levels the deepest
        match wins ("address" -> location > address > address). Several matches at the deepest
        level (FewNERD's "other") cannot be resolved by name: :class:`TaxonomyError` lists them.

        >>> tax = Taxonomy.from_dict({"first-level": "music genre, organization"})
        >>> tax.resolve("musicgenre").name, tax.resolve("organisation").name, tax.resolve("organisation", loose=False)
        ('music genre', 'organization', None)
        """
        matches = self._by_key.get(normalize_name(category))
        if not matches and loose:
            matches = self._by_compact.get(compact_name(category))
        if not matches:
            return None
        if len(matches) == 1:
            return matches[0]
        deepest = max(n.level for n in matches)
        best = [n for n in matches if n.level == deepest]
        if len(best) > 1:
            raise TaxonomyError(
                f"{self.source}: category {category!r} is ambiguous in taxonomy {self.name!r}: "
                + ", ".join(str(n) for n in best)
            )
        return best[0]

    def at_level(self, node: TypeNode, level: int) -> TypeNode:
        """The ancestor of ``node`` at ``level`` (``node`` itself when it is not deeper)."""
        if level < 1:
            raise ValueError(f"level must be >= 1, got {level}")
        if node.level <= level:
            return node
        return self._by_path[node.path[:level]]

    def triples(self) -> set[tuple[int, str | None, str]]:
        """``(level, parent name, name)`` for every node: compares hierarchies regardless of layout."""
        return {(n.level, n.parent_path[-1] if n.parent_path else None, n.name) for n in self.nodes}

    def to_dict(self) -> dict[str, Any]:
        """The authors' format; round-trips through :meth:`from_dict`.

        >>> tax = Taxonomy.from_dict({"dataset": "toy", "first-level": "a, b", "second-level": {"a": "x, y"}})
        >>> tax.to_dict()
        {'dataset': 'toy', 'first-level': 'a, b', 'second-level': {'a': 'x, y'}}
        """
        out: dict[str, Any] = {"dataset": self.name, "first-level": ", ".join(n.name for n in self.level(1))}
        for depth in range(2, self.depth + 1):
            key = LEVEL_KEYS[depth - 1]
            level: dict[str, str] = {}
            for parent in self.level(depth - 1):
                kids = self._children[parent.path]
                if not kids:
                    continue
                if parent.name in level:
                    raise TaxonomyError(
                        f"{self.source}: cannot write {key!r}: parent name {parent.name!r} is not unique"
                    )
                level[parent.name] = ", ".join(k.name for k in kids)
            out[key] = level
        return out


@lru_cache(maxsize=None)
def _packaged(filename: str) -> Taxonomy:
    ref = resources.files("dynamicner_data").joinpath("data", filename)
    with resources.as_file(ref) as path:
        return Taxonomy.from_file(path, name="DynamicNER")
