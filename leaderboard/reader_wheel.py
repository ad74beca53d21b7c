"""Build ``dynamicner-leaderboard``, the leaderboard reader as a small wheel for the Space.

The Space needs :mod:`cascadener.publishing.leaderboard` (and what it imports: the results schema
and checks, ``dynamicner_data``'s version and atomic writes), not the pipeline: installing the kit
would pull torch and transformers into the Space. This script packs exactly those modules of the
checkout into a wheel named ``dynamicner-leaderboard`` with the same version, whose dependencies
are the reader's own (huggingface_hub, jsonschema, pyyaml, at the kit's floors). It builds with
setuptools, offline (no build isolation)::

    python leaderboard/reader_wheel.py leaderboard/     # then upload the folder as the Space

``leaderboard/requirements.txt`` finds the wheel by name (``--find-links .``). It is meant for the Space
alone: it ships ``cascadener`` and ``dynamicner_data`` modules, so do not install it beside the kit.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "dynamicner-leaderboard"
#: Every module the reader imports (tests/test_space.py imports the Space from this wheel alone with torch,
#: transformers, datasets and the rest of the kit out of reach).
MODULES = ("cascadener/__init__.py", "cascadener/publishing/__init__.py", "cascadener/publishing/results.py",
           "cascadener/publishing/leaderboard.py", "cascadener/publishing/leaderboard_formats.py",
           "dynamicner_data/__init__.py", "dynamicner_data/atomic.py")
DATA = ("cascadener/publishing/schemas",)
#: The kit's dependencies the reader needs (their floors come from pyproject.toml).
DEPENDENCIES = ("huggingface_hub", "jsonschema", "pyyaml")


def kit_metadata(root: Path = ROOT) -> tuple[str, list[str], str]:
    """The kit's version, the reader's dependency lines, and ``requires-python``, from ``pyproject.toml``."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = []
    for name in DEPENDENCIES:
        lines = [line for line in project["dependencies"]
                 if re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower().replace("-", "_") == name]
        if len(lines) != 1:
            raise SystemExit(f"pyproject.toml: expected one dependency {name}, found {lines}")
        wanted.append(lines[0])
    return project["version"], wanted, project["requires-python"]


def wheel_name(root: Path = ROOT) -> str:
    """The file name of the wheel this script builds (what requirements.txt names)."""
    return f"{NAME.replace('-', '_')}-{kit_metadata(root)[0]}-py3-none-any.whl"


def build(out_dir: Path, root: Path = ROOT) -> Path:
    """Build the wheel into ``out_dir`` and return its path."""
    import setuptools

    if tuple(int(part) for part in setuptools.__version__.split(".")[:2]) < (70, 1):
        raise SystemExit(f"setuptools {setuptools.__version__} cannot build wheels by itself: "
                         "pip install 'setuptools>=70.1' (the build runs offline, without build isolation)")
    version, dependencies, python = kit_metadata(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dynamicner-leaderboard-") as tmp:
        project = Path(tmp)
        for module in MODULES:
            (project / module).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / module, project / module)
        for folder in DATA:
            shutil.copytree(root / folder, project / folder)
        packages = sorted({str(Path(m).parent).replace("/", ".") for m in MODULES})
        deps = ", ".join(f'"{d}"' for d in dependencies)
        (project / "pyproject.toml").write_text(f"""\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "{NAME}"
version = "{version}"
description = "The DynamicNER leaderboard reader (cascadener.publishing.leaderboard) without the pipeline, for the leaderboard Space."
requires-python = "{python}"
license = {{ text = "Apache-2.0" }}
dependencies = [{deps}]

[tool.setuptools]
packages = [{", ".join(f'"{p}"' for p in packages)}]

[tool.setuptools.package-data]
"cascadener.publishing" = ["schemas/*.json"]
""", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "--quiet", "--wheel-dir", str(out_dir), str(project)], check=True)
    path = out_dir / wheel_name(root)
    if not path.is_file():
        raise SystemExit(f"pip wheel did not write {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path(__file__).resolve().parent,
                        help="where to write the wheel (default: the Space folder, leaderboard/)")
    args = parser.parse_args(argv)
    path = build(args.out_dir)
    print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
