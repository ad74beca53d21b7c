"""The layering of the project, read from every module's imports with ``ast`` (nothing is imported).

- ``dynamicner_data`` at the bottom: it imports nothing of ours above it;
- ``dynamicner.py`` (the builder script) and ``cascadener`` above it; the metric folder
  (``dynamicner_f1``) imports nothing of ours at all (it is published alone as a Hub Space);
- ``bench/`` on top. Nothing in the packages imports the top-level script ``dynamicner.py``.
- No import cycle between modules, counting imports inside functions and imports under
  ``if TYPE_CHECKING:`` (they never run, but a type-only circle is still a circle in the design).
- Inside ``cascadener``, rooms by concern (:data:`ROOMS`, bottom to top): text (prompts, parsing,
  windows) < backends < core (options, stage 2, pipeline, methods) < training, publishing (siblings:
  neither imports the other) < the main job and integrations < cli < the package's entry points.
  A module imports only its own room and the rooms below it; ``cascadener.testing`` (test and bench
  support) may import any room but cli, and no room imports it. Nothing outside ``cascadener.cli``
  imports ``cascadener.cli`` but ``python -m cascadener`` (``cascadener.__main__``).

Checked: the package modules, ``bench/`` and ``dynamicner.py`` (``tests/`` is not).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# top-level name -> the folder of its package (or the file of a top-level module)
PACKAGES = {"dynamicner_data": ROOT / "dynamicner_data", "cascadener": ROOT / "cascadener",
            "dynamicner_f1": ROOT / "metric" / "dynamicner_f1"}
SCRIPTS = {"dynamicner": ROOT / "dynamicner.py"}
OURS = {*PACKAGES, *SCRIPTS, "bench"}
# what each layer may import of ours (its own modules always)
ALLOWED = {
    "dynamicner_data": set(),
    "dynamicner_f1": set(),
    "dynamicner": {"dynamicner_data"},
    "cascadener": {"dynamicner_data", "dynamicner_f1"},
    "bench": {"dynamicner_data", "dynamicner_f1", "cascadener", "dynamicner"},
}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    out: dict[str, tuple[Path, bool]] = {}
    for top, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            out[".".join([top, *parts])] = (path, is_package)
    for name, path in SCRIPTS.items():
        out[name] = (path, False)
    for path in sorted((ROOT / "bench").glob("*.py")):
        out[f"bench.{path.stem}"] = (path, False)
    return out


MODULES = _modules()


def _target(name: str) -> str | None:
    """The longest known module ``name`` starts with (``a.b.c`` -> ``a.b`` when ``c`` is a function)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> ast.AST:
    """Each file parsed once per session (many tests walk the same modules; callers only read)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imports_of(module: str, *, runtime_only: bool = False) -> list[tuple[int, str]]:
    """``(line, imported name)`` for every import statement of ``module``, anywhere in the file
    (``runtime_only``: not those under ``if TYPE_CHECKING:``).

    Relative imports are resolved; ``from package import name`` yields ``package.name``.
    """
    path, is_package = MODULES[module]
    tree = _parse(path)
    package = module if is_package else module.rpartition(".")[0]
    skip = _type_checking_lines(tree) if runtime_only else set()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            found.extend((node.lineno, f"{prefix}.{alias.name}" if alias.name != "*" else prefix)
                         for alias in node.names)
    return found


def _layer(module: str) -> str:
    return module.split(".")[0]


def edges(*, runtime_only: bool = False) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (``runtime_only``: without ``TYPE_CHECKING`` imports)."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module in MODULES:
        for _, name in imports_of(module, runtime_only=runtime_only):
            target = _target(name)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def test_the_checker_sees_the_modules_and_resolves_imports():
    assert {"dynamicner_data.taxonomy", "dynamicner_data.builder", "cascadener.pipeline", "cascadener.cli.predict",
            "dynamicner_f1.scorer", "dynamicner", "bench.bench_dataset"} <= set(MODULES)
    graph = edges()
    assert "dynamicner_data.builder" in graph["dynamicner"]  # the script only exposes the builder
    assert "dynamicner_f1.spans" in graph["dynamicner_f1.scorer"]  # relative import resolved
    assert "cascadener.options" in graph["cascadener.pipeline"]
    assert "dynamicner_data.taxonomy" in graph["cascadener.cli.sources"]  # an import inside a function counts


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layering(module):
    layer = _layer(module)
    wrong = []
    for line, name in imports_of(module):
        top = name.split(".")[0]
        if top in OURS and top != layer and top not in ALLOWED[layer]:
            wrong.append(f"{MODULES[module][0].relative_to(ROOT)}:{line} imports {name}")
    assert not wrong, f"{layer} may import only {sorted(ALLOWED[layer]) or 'nothing of ours'}:\n" + "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    cycles = _cycles(edges())
    assert not cycles, "import cycles (function-level and TYPE_CHECKING imports included):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles)


def test_a_type_checking_import_closes_a_cycle():
    """The cycle check reads ``if TYPE_CHECKING:`` imports: the graph it walks holds the project's type-only
    arrows, and one such arrow is enough to close a circle."""
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import b\n")
    assert _type_checking_lines(tree) == {3}
    full, runtime = edges(), edges(runtime_only=True)
    assert all(runtime[module] <= full[module] for module in MODULES)
    type_only = {(module, target) for module in MODULES for target in full[module] - runtime[module]}
    assert type_only, "the project has TYPE_CHECKING imports of its own modules: edges() must count them"
    module, target = sorted(type_only)[0]
    # that arrow plus a runtime arrow back is a circle the checker reports
    assert _cycles({module: {target}, target: {module}}) == [sorted([module, target])]


# Rooms of the cascadener wing, bottom to top: (rank, room, module prefixes). A module belongs to the
# room of its longest matching prefix; rooms of equal rank are siblings and never import each other.
ROOMS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (0, "text", ("cascadener.prompts", "cascadener.parsing", "cascadener.windows")),
    (1, "backends", ("cascadener.backends",)),
    (2, "core", ("cascadener.options", "cascadener.stage2", "cascadener.pipeline", "cascadener.methods")),
    (3, "training", ("cascadener.training",)),
    (3, "publishing", ("cascadener.publishing",)),
    (4, "main job", ("cascadener.benchmark",)),
    (4, "integrations", ("cascadener.integrations", "cascadener.scale")),
    (5, "cli", ("cascadener.cli",)),
    (6, "entry points", ("cascadener", "cascadener.__main__")),
)
SUPPORT = "cascadener.testing"


def room_of(module: str) -> tuple[int, str] | None:
    """``(rank, room)`` of a ``cascadener`` module (``None`` for the test-support room)."""
    if module == SUPPORT or module.startswith(SUPPORT + "."):
        return None
    best: tuple[int, int, str] | None = None
    for rank, room, prefixes in ROOMS:
        for prefix in prefixes:
            # "cascadener" itself names only the package's __init__, not everything under it
            within = "." in prefix and module.startswith(prefix + ".")
            if (module == prefix or within) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank, room)
    if best is None:
        raise AssertionError(f"{module} belongs to no room of tests/test_layering.py ROOMS: give it one")
    return best[1], best[2]


def test_room_of():
    assert room_of("cascadener.backends.scoring") == (1, "backends")
    assert room_of("cascadener.cli.sources") == (5, "cli")
    assert room_of("cascadener") == (6, "entry points") and room_of("cascadener.testing.launch") is None
    with pytest.raises(AssertionError, match="belongs to no room"):
        room_of("cascadener.somewhere_new")


CASCADENER = sorted(module for module in MODULES if module.split(".")[0] == "cascadener")


@pytest.mark.parametrize("module", CASCADENER)
def test_rooms_import_only_downward(module):
    """No upward import and no import between sibling rooms, TYPE_CHECKING imports included."""
    mine = room_of(module)
    wrong = []
    for line, name in imports_of(module):
        target = _target(name)
        if target is None or target.split(".")[0] != "cascadener" or target == module:
            continue
        theirs = room_of(target)
        where = f"{MODULES[module][0].relative_to(ROOT)}:{line} imports {name}"
        if theirs is None:
            if mine is not None:
                wrong.append(f"{where}: only tests and benchmarks use {SUPPORT}")
        elif mine is None:
            if theirs[1] == "cli":
                wrong.append(f"{where}: {SUPPORT} may not import the cli")
        elif theirs[1] != mine[1] and theirs[0] >= mine[0]:
            wrong.append(f"{where}: room {mine[1]!r} (rank {mine[0]}) may not import room {theirs[1]!r} "
                         f"(rank {theirs[0]})")
    assert not wrong, "\n".join(wrong)


def test_nothing_outside_the_cli_imports_the_cli():
    """The library never reaches up into the command line (``bench/``, on top of everything, may run it)."""
    wrong = [f"{module} imports {name}" for module in MODULES if not module.startswith(("cascadener.cli", "bench."))
             and module != "cascadener.__main__" for _, name in imports_of(module)
             if (_target(name) or "").startswith("cascadener.cli")]
    assert not wrong, "\n".join(wrong)


def test_at_most_ten_modules_stand_directly_in_the_wing(project_root):
    direct = sorted(path.name for path in (project_root / "cascadener").glob("*.py"))
    assert len(direct) <= 10, direct
