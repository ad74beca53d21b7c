"""The scorer ships in the project's wheel as the `dynamicner_f1` package and imports from it alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds the project wheel with pip in a subprocess
_IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "dist", ".hypothesis", ".pytest_cache", "runs", "outputs")


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the project wheel from a copy of the tree (the checkout stays clean), no network."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(tmp / "dist"), str(src)],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp / "dist").glob("dynamicner_kit-*.whl")
    return wheel


def test_wheel_contains_the_metric_package(built_wheel: Path) -> None:
    names = set(zipfile.ZipFile(built_wheel).namelist())
    for name in ("__init__.py", "options.py", "scorer.py", "bio.py", "counting.py", "hierarchy.py", "spans.py", "dynamicner_f1.py", "README.md", "requirements.txt"):
        assert f"dynamicner_f1/{name}" in names


def test_wheel_holds_every_module_of_every_package(built_wheel: Path) -> None:
    """A new subpackage or module must reach users: pyproject's explicit ``packages`` list is easy to
    forget (``dynamicner_data.typelists`` once was), so compare the wheel with the source tree."""
    names = set(zipfile.ZipFile(built_wheel).namelist())
    sources = {"cascadener": ROOT / "cascadener", "dynamicner_data": ROOT / "dynamicner_data",
               "dynamicner_f1": ROOT / "metric" / "dynamicner_f1"}
    expected = {"dynamicner.py"}
    for package, folder in sources.items():
        expected |= {f"{package}/{path.relative_to(folder).as_posix()}" for path in folder.rglob("*.py")
                     if "__pycache__" not in path.parts}
    for package, pattern in (("cascadener", "**/schemas/*.json"), ("dynamicner_data", "data/**/*.json")):
        expected |= {f"{package}/{path.relative_to(ROOT / package).as_posix()}" for path in (ROOT / package).glob(pattern)}
    assert any(name.startswith("dynamicner_data/data/sample/") for name in expected)
    assert "cascadener/publishing/schemas/results-2.schema.json" in expected
    assert expected - names == set()


def test_scorer_imports_from_the_installed_wheel(built_wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(built_wheel)],
        check=True,
        timeout=300,
    )
    code = (
        "import dynamicner_f1, dynamicner_f1.scorer as s; "
        "g = [[{'text': 'Lyon', 'label': 'city', 'start': 0, 'end': 4}]]; "
        "print(dynamicner_f1.__file__); print(s.score_spans(g, g)['f1'], s.score_tags([['B-X']], [['B-X']])['f1'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=120)
    where, scores = out.stdout.strip().splitlines()
    assert Path(where).is_relative_to(target)
    assert scores == "1.0 1.0"


def test_folder_stands_alone_as_a_space(tmp_path: Path) -> None:
    """A copy of the folder under another name runs its app module as a script (no project, no gradio)."""
    space = tmp_path / "space"
    shutil.copytree(ROOT / "metric" / "dynamicner_f1", space, ignore=_IGNORE)
    code = (
        "import runpy; ns = runpy.run_path('app.py', run_name='space_app'); "
        "print(ns['score_json']('[[\"B-LOC\", \"O\"]]', '[[\"B-LOC\", \"O\"]]', 'bio', 'strict', '')['f1'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=space, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.0"
