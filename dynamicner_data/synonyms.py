"""The project's own synonym table, used to rename items of dynamic type lists.

The paper renames options and answers from a synonym table it does not publish; this table is
written for this project (``dynamicner_data/data/synonyms.json``). Keys are type names, or
``"a > b > c"`` paths for names that occur at several levels ("biological", "address"), so a
synonym always belongs to exactly one node. Catch-all types ("other ...", "miscellaneous") have
no synonyms: renaming them would hide that they are catch-alls.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> table = SynonymTable.packaged()
    >>> tax = Taxonomy.dynamicner()
    >>> table.for_node(tax.resolve("city"))
    ('town', 'municipality')
    >>> [table.for_node(n)[0] for n in tax.find("biological")]
    ['biology', 'biological weapon']
    >>> table.for_node(tax.resolve("other person"))
    ()
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

from .taxonomy import Taxonomy, TypeNode, is_catch_all_name, normalize_name

__all__ = ["SynonymTable", "PATH_SEPARATOR"]

PATH_SEPARATOR = " > "


@dataclass(frozen=True)
class SynonymTable:
    """Synonyms by type path (``"a > b"``) or by type name; look them up with :meth:`for_node`."""

    by_name: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    by_path: Mapping[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[str] | str], *, source: str = "<dict>") -> "SynonymTable":
        """Keys starting with ``_`` are comments; values are lists of synonyms."""
        by_name: dict[str, tuple[str, ...]] = {}
        by_path: dict[tuple[str, ...], tuple[str, ...]] = {}
        for key, value in data.items():
            if key.startswith("_"):
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ValueError(f"{source}: key {key!r}: expected a list of non-empty strings")
            names = tuple(dict.fromkeys(" ".join(v.split()) for v in value))
            if PATH_SEPARATOR.strip() in key:
                path = tuple(normalize_name(p) for p in key.split(PATH_SEPARATOR.strip()))
                by_path[path] = names
            else:
                by_name[normalize_name(key)] = names
        return cls(by_name=by_name, by_path=by_path, source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> "SynonymTable":
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle), source=str(path))

    @classmethod
    def packaged(cls) -> "SynonymTable":
        """The table shipped with the package (cached)."""
        return _packaged()

    def for_node(self, node: TypeNode) -> tuple[str, ...]:
        """Synonyms of ``node`` (path entry first, then name entry); none for catch-alls."""
        if is_catch_all_name(node.name):
            return ()
        hit = self.by_path.get(tuple(normalize_name(p) for p in node.path))
        if hit is not None:
            return hit
        return self.by_name.get(normalize_name(node.name), ())

    def problems(self, taxonomy: Taxonomy) -> list[str]:
        """Entries that could make a type list ambiguous for ``taxonomy`` (empty when the table is sound).

        Checks: every key names a type; bare-name keys name exactly one type; no synonym equals a
        type name or looks like a catch-all; no synonym is shared by two types.
        """
        out: list[str] = []
        type_names = {normalize_name(n.name) for n in taxonomy.nodes}
        paths = {tuple(normalize_name(p) for p in n.path) for n in taxonomy.nodes}
        for key in self.by_name:
            found = taxonomy.find(key)
            if not found:
                out.append(f"{self.source}: {key!r} is not a type of {taxonomy.name}")
            elif len(found) > 1:
                out.append(f"{self.source}: {key!r} names {len(found)} types; key it by path")
        for path in self.by_path:
            if path not in paths:
                out.append(f"{self.source}: path {PATH_SEPARATOR.join(path)!r} is not a type of {taxonomy.name}")
        owner: dict[str, str] = {}
        entries = [(k, v) for k, v in self.by_name.items()] + [(PATH_SEPARATOR.join(k), v) for k, v in self.by_path.items()]
        for key, names in entries:
            for name in names:
                norm = normalize_name(name)
                if norm in type_names:
                    out.append(f"{self.source}: {key!r}: synonym {name!r} is itself a type name")
                if is_catch_all_name(name):
                    out.append(f"{self.source}: {key!r}: synonym {name!r} looks like a catch-all")
                if norm in owner and owner[norm] != key:
                    out.append(f"{self.source}: synonym {name!r} given for both {owner[norm]!r} and {key!r}")
                owner.setdefault(norm, key)
        return out


@lru_cache(maxsize=None)
def _packaged() -> SynonymTable:
    ref = resources.files("dynamicner_data").joinpath("data", "synonyms.json")
    with resources.as_file(ref) as path:
        return SynonymTable.from_file(path)
