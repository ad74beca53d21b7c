"""Each shared fact is defined in one place and read from there, never copied: found BY VALUE.

Every module of the project is read with ``ast`` (nothing is imported for the search) and searched
for what a copy looks like, whatever its name: a tuple, list or set literal of the languages, the
granularities or the config names; a ``dynamic|coarse|medium|fine`` alternation in a regex; the
stage-1 budget written out as ``2 * n + 16``; a dataset ``Version(...)`` or a package version
literal; a training recipe (``TrainOptions(epochs=...)``) outside the training recipes; the
metric's per-label and per-language key prefixes parsed outside :mod:`cascadener.publishing.results`;
the builder module imported under the name of the builder script. Each finder is checked on a
planted copy first, so a finder that sees nothing cannot pass silently.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
from pathlib import Path

import pytest

import dynamicner_data
from dynamicner_data.builder import CONFIG_NAMES
from dynamicner_data.typelists import GRANULARITIES, STATIC_LEVELS

ROOT = Path(__file__).resolve().parents[1]
# every module that ships or runs: the packages, the script, the benchmarks, the Space and the docs' script
# (not tests/, which may state expected values)
SOURCES = sorted([*ROOT.glob("dynamicner_data/**/*.py"), *ROOT.glob("cascadener/**/*.py"),
                  *ROOT.glob("metric/dynamicner_f1/*.py"), ROOT / "dynamicner.py", *ROOT.glob("bench/*.py"),
                  *ROOT.glob("leaderboard/*.py"), *ROOT.glob("docs/*.py")])
VERSION = importlib.metadata.version(dynamicner_data.DISTRIBUTION)


def _docstrings(tree: ast.AST) -> set[int]:
    """``id()`` of the docstring constants (examples in docstrings may show any value)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _strings(node: ast.AST) -> list[str] | None:
    """The items of a tuple/list/set literal (or a dict's keys) when all of them are string constants."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = node.elts
    elif isinstance(node, ast.Dict):
        items = node.keys
    else:
        return None
    if items and all(isinstance(item, ast.Constant) and isinstance(item.value, str) for item in items):
        return [item.value for item in items]
    return None


def copies(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every copy of a shared fact in ``source`` (Python text)."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    languages, granularities, static = set(dynamicner_data.LANGUAGES), set(GRANULARITIES), set(STATIC_LEVELS)
    levelled = {name for name in CONFIG_NAMES if "-" in name}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        items = _strings(node)
        if items is not None:
            if len(set(items) & languages) >= 4:
                found.append((line, f"the languages, copied: {items}"))
            if set(items) in (granularities, static):
                found.append((line, f"the granularities, copied: {items}"))
            if len(set(items) & levelled) >= 2:
                found.append((line, f"config names, copied: {items}"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            alternatives = set(re.split(r"[|()?:<>^$\[\]]", node.value))
            if len(alternatives & granularities) >= 3:
                found.append((line, f"the granularities in a pattern: {node.value!r}"))
            if node.value == VERSION:
                found.append((line, f"the package version {VERSION!r} as a literal"))
            if node.value in ("label/", "language/"):
                found.append((line, f"the metric's {node.value!r} keys parsed by hand"))
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith("Version") and node.args:
                found.append((line, f"a dataset version: {ast.unparse(node)}"))
            if name.endswith("TrainOptions") and any(k.arg in ("epochs", "learning_rate") for k in node.keywords):
                found.append((line, f"a training recipe: {ast.unparse(node)}"))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            sides = (node.left, node.right)
            if any(isinstance(s, ast.Constant) and s.value == 16 for s in sides) and any(
                    isinstance(s, ast.BinOp) and isinstance(s.op, ast.Mult)
                    and any(isinstance(x, ast.Constant) and x.value == 2 for x in (s.left, s.right)) for s in sides):
                found.append((line, f"the stage-1 budget written out: {ast.unparse(node)}"))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dynamicner_data"):
            for alias in node.names:
                if alias.asname == "dynamicner":
                    found.append((line, "the builder imported as `dynamicner` (reads as the builder script)"))
    return found


# where each fact is defined: (file, what a finder reports there)
HOMES = {
    ("dynamicner_data/__init__.py", "the languages"),  # LANGUAGES
    ("dynamicner_data/builder.py", "a dataset version"),  # DATASET_VERSION
    ("dynamicner_data/__init__.py", "the granularities"),  # STATIC_LEVELS (GRANULARITIES derives from it)
    ("cascadener/training/recipes.py", "a training recipe"),  # TINY, BASE, MEMORISE
    ("cascadener/publishing/results.py", "the metric's"),  # label_scores, language_scores
    # the metric defines its own keys and stands alone (it imports nothing of ours)
    ("metric/dynamicner_f1/scorer.py", "the metric's"),
}


PLANTED = '''
ORDER = ("en", "es", "fr", "ru", "de", "zh", "ja", "ko")
LEVELS = ["dynamic", "coarse", "medium", "fine"]
STATIC = {"coarse": 1, "medium": 2, "fine": 3}
TASK = re.compile(r"^(?P<g>dynamic|coarse|medium|fine)-")
NAMES = ["en", "en-coarse", "en-medium"]
budgets = [2 * n + 16 for n in lengths]
VERSION = datasets.Version("1.0.0")
TINY = TrainOptions(epochs=12.0)
label, _, name = key[len("label/"):].rpartition("/")
from dynamicner_data import builder as dynamicner
'''


def test_the_finders_see_planted_copies():
    found = sorted(copies(PLANTED))
    assert [line for line, _ in found] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], found
    assert any(what.startswith("the package version")
               for _, what in copies(PLANTED.replace('"1.0.0"', repr(VERSION)).replace("datasets.Version", "str")))
    # what is not a copy: one or two codes, a subset of granularities, a docstring that shows a value
    assert copies('"""Example: ("en", "es", "fr", "ru")."""\nx = ("en", "de")\ny = ("coarse", "fine")\n') == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shared_facts_are_not_copied_by_value(path):
    relative = str(path.relative_to(ROOT))
    found = [(line, what) for line, what in copies(path.read_text(encoding="utf-8"))
             if not any(relative == home and what.startswith(kind) for home, kind in HOMES)]
    assert not found, "\n".join(f"{relative}:{line}: {what}" for line, what in found)


def test_the_homes_hold_their_fact():
    """Each home is where the finder meets its fact (a moved definition must move its home too)."""
    for home, kind in HOMES:
        assert any(what.startswith(kind) for _, what in copies((ROOT / home).read_text(encoding="utf-8"))), home


def test_the_space_requirements_do_not_pin_the_version(project_root):
    """The leaderboard Space's requirements name no version of this package (pyproject.toml is its one source)."""
    requirements = (project_root / "leaderboard" / "requirements.txt").read_text(encoding="utf-8")
    assert VERSION not in requirements


def test_languages_and_version_are_defined_once(project_root):
    """LANGUAGES and __version__ have one definition each, by name (the version comes from pyproject.toml
    through the installed distribution's metadata)."""
    import cascadener
    import dynamicner_f1
    from cascadener import benchmark
    from dynamicner_data import records

    assert records.LANGUAGES is dynamicner_data.LANGUAGES and benchmark.LANGUAGES is dynamicner_data.LANGUAGES
    assert cascadener.__version__ == dynamicner_data.__version__ == dynamicner_f1.__version__ == VERSION
    sources = [path for folder in ("dynamicner_data", "cascadener", "metric") for path in (project_root / folder).rglob("*.py")]
    assigned = [str(path.relative_to(project_root)) for path in sources
                if re.search(r"^(LANGUAGES|__version__)\s*(:[^=]*)?=\s*[(\"']", path.read_text(encoding="utf-8"), re.M)]
    assert assigned == ["dynamicner_data/__init__.py"], assigned
