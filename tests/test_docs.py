"""The documentation stays true: the README's commands, its runnable example, links, the suite's map."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def block(path: Path, name: str) -> str:
    """The text between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    assert text.count(begin) == 1 and text.count(end) == 1, f"{path.name}: needs one {begin} ... {end} block"
    return text[text.index(begin) + len(begin) : text.index(end)]


def bash_commands(text: str) -> list[str]:
    """The contents of the ```bash fences of ``text``, stripped."""
    return [m.strip() for m in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_quick_start_is_two_commands_install_and_main_job_then_install_and_every_test() -> None:
    commands = bash_commands(block(README, "quickstart"))
    assert len(commands) == 2 and all("\n" not in c for c in commands), commands
    main_job, tests = commands
    assert main_job.startswith("pip install torch==") and main_job.endswith("&& cascadener run")
    assert tests.startswith("pip install torch==") and '".[test]"' in tests and tests.endswith("python -m pytest -q")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    command = bash_commands(block(README, "quickstart"))[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci, f".ci/run must run the README's test command verbatim: {command!r}"
    before = ci[:ci.index(command)]
    assert "export DYNAMICNER_PIP_FREEZE=1" in before, ".ci/run must have the tests print pip freeze first"


@pytest.mark.slow
def test_the_suite_prints_pip_freeze_first_when_asked() -> None:
    """``DYNAMICNER_PIP_FREEZE=1`` makes the session print ``pip freeze`` before any test (a red CI run
    can then be traced to a version)."""
    import subprocess
    import sys

    env = {**os.environ, "DYNAMICNER_PIP_FREEZE": "1"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--co",
                          str(ROOT / "tests" / "test_docs.py")], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    frozen = out.stdout[out.stdout.index("--- pip freeze"):out.stdout.index("--- end of pip freeze ---")]
    assert "pytest==" in frozen and "datasets==" in frozen


def test_readme_dataset_example_runs_and_prints_what_it_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    section = block(README, "dataset-example")
    test = doctest.DocTestParser().get_doctest(section, {}, "README.md#dataset-example", str(README), 0)
    assert len(test.examples) >= 4
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    monkeypatch.chdir(ROOT)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_readme_stays_a_front_door() -> None:
    size = len(README.read_bytes())
    assert size <= 12_000, f"README.md is {size} bytes: keep it short, move details into docs/*.md"


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lowercase, punctuation dropped, spaces -> hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_files_and_headings_that_exist(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        if not path.exists():
            broken.append(f"{target} (no file {path})")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target} (no heading #{anchor} in {path.name})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {broken}"


def test_every_test_file_is_described_in_development_md() -> None:
    """docs/development.md maps the suite; a new test file gets a line there (a glob such as
    ``test_metric_*.py`` covers a group)."""
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    patterns = set(re.findall(r"`(?:tests/)?(test_[\w*]+\.py)`", text))
    missing = [
        f.name for f in sorted((ROOT / "tests").glob("test_*.py")) if not any(Path(f.name).match(p) for p in patterns)
    ]
    assert not missing, f"add a line for these test files to docs/development.md: {missing}"


def test_every_module_with_examples_runs_them() -> None:
    """Every Python file of the project that holds a ``>>>`` example lies under one of pytest's ``testpaths``,
    which ``--doctest-modules`` collects: no module's examples are left out of the suite."""
    import tomllib

    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    addopts = options["addopts"].split()
    assert "--doctest-modules" in addopts
    collected = [ROOT / path for path in options["testpaths"]]
    ignored = {ROOT / option.split("=", 1)[1] for option in addopts if option.startswith("--ignore=")}
    skipped = {ROOT / "build"}
    with_examples = [path for path in ROOT.rglob("*.py")
                     if not any(part.startswith(".") or part.endswith(".egg-info") for part in path.relative_to(ROOT).parts)
                     and not any(path.is_relative_to(folder) for folder in skipped)
                     and ">>> " in path.read_text(encoding="utf-8")]
    assert len(with_examples) > 50
    missed = [str(path.relative_to(ROOT)) for path in with_examples
              if not any(path == place or path.is_relative_to(place) for place in collected)
              or any(path == place or path.is_relative_to(place) for place in ignored)]
    assert not missed, f"examples no test runs (add their folder to testpaths in pyproject.toml): {missed}"


def _printed_stats() -> list[tuple[str, list[str]]]:
    """``(where, keys)`` of every run's counts the docs print: a ``PredictStats(...)`` repr, and the
    ``wrote N predictions to F (key value, ...)`` line of ``cascadener predict``."""
    found = []
    for path in (README, *DOCS):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"PredictStats\(([^)]*)\)", text):
            found.append((f"{path.name}: PredictStats(...)", re.findall(r"(\w+)=", match.group(1))))
        for match in re.finditer(r"wrote \d+ predictions to \S+ \(([^)]*)\)", text):
            keys = [item.rsplit(" ", 1)[0].replace(" ", "_") for item in match.group(1).split(", ")]
            found.append((f"{path.name}: 'wrote N predictions'", keys))
    return found


def test_printed_stats_are_the_fields_of_predict_stats() -> None:
    """A doc that prints a run's counts prints every field of ``PredictStats``, in order: regenerate it with
    ``python docs/regenerate.py`` when the dataclass changes."""
    import dataclasses

    from cascadener.pipeline import PredictStats

    fields = [field.name for field in dataclasses.fields(PredictStats)]
    printed = _printed_stats()
    assert len(printed) >= 3, printed  # pipeline.md (Python and the command line) and serving.md
    stale = [where for where, keys in printed if keys != fields]
    assert not stale, f"printed counts that are not PredictStats' fields {fields}: {stale}"


def test_every_regenerated_section_has_its_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("docs_regenerate", ROOT / "docs" / "regenerate.py")
    regenerate = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, regenerate)  # dataclasses look their module up there
    spec.loader.exec_module(regenerate)
    assert {section.name for section in regenerate.SECTIONS} >= {"pipeline-session", "pipeline-python",
                                                                 "serving-session", "suite-counts"}
    for section in regenerate.SECTIONS:
        block(section.doc, section.name)  # exactly one pair of markers


def test_the_record_dataset_md_shows_is_what_its_command_prints(capsys: pytest.CaptureFixture) -> None:
    import json

    from dynamicner_data import cli

    text = (ROOT / "docs" / "dataset.md").read_text(encoding="utf-8")
    command = re.search(r"One real record \(`(dynamicner example [^`]*)`", text).group(1)
    shown = re.search(r"```json\n(.*?)\n```", text[text.index(command):], flags=re.S).group(1)
    assert cli.main(command.split()[1:]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(shown)


def _tables(printed: str) -> dict[str, tuple[int, float, list[tuple[int, float, float]]]]:
    """``docs/calibration.py``'s tables: title -> (entities, ECE, [(entities, mean score, right)] per bin)."""
    tables, rows = {}, None
    for line in printed.splitlines():
        head = re.match(r"^(typing|entity) .*: (\d+) entities, ECE (\d\.\d{3})$", line)
        if head:
            rows = []
            tables[head[1]] = (int(head[2]), float(head[3]), rows)
        elif rows is not None and line.startswith("["):
            count, mean, right, _ = line.split("]" if "]" in line else ")", 1)[1].split()
            rows.append((int(count), float(mean), float(right)))
    return tables


@pytest.mark.slow
def test_the_calibration_script_bins_every_entity_of_a_real_run(tiny_cascade, memorised_release, monkeypatch,
                                                                  capsys) -> None:
    """``docs/calibration.py`` (the reliability tables of pipeline.md) on a release folder of memorised
    sentences: stage 1 finds exactly the gold spans, so both readings hold every gold entity and agree;
    the tables' right fraction is the strict precision ``dynamicner_f1`` gives the same predictions,
    and the ECE is the bins' gaps weighted by their entities."""
    import importlib.util
    import sys

    import dynamicner
    from dynamicner_f1 import score_spans

    from cascadener import CascadeNER

    spec = importlib.util.spec_from_file_location("docs_calibration", ROOT / "docs" / "calibration.py")
    calibration = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, calibration)  # dataclasses look their module up there
    spec.loader.exec_module(calibration)
    assert calibration.main(["--extractor", str(tiny_cascade.extractor), "--data-dir", str(memorised_release),
                             "--languages", "en", "de", "--split", "test", "--bins", "5"]) == 0
    printed = capsys.readouterr().out
    rows = [row for language in ("en", "de")
            for row in dynamicner.prepare(language, data_dir=str(memorised_release)).as_dataset(split="test")]
    gold = [row["entities"] for row in rows]
    assert printed.startswith(f"## test ({len(rows)} sentences)\n")
    tables = _tables(printed)
    assert set(tables) == {"typing", "entity"} and tables["typing"] == tables["entity"]
    count, ece, bins = tables["entity"]
    assert count == sum(map(len, gold)) == sum(n for n, _, _ in bins)
    assert ece == pytest.approx(sum(n / count * abs(right - mean) for n, mean, right in bins), abs=2e-3)
    predicted = CascadeNER.from_pretrained(str(tiny_cascade.extractor), device="cpu").predict(
        [row["text"] for row in rows], [row["type_list"] for row in rows], batch_size=16)
    precision = score_spans(predicted, gold)["precision"]
    assert sum(n * right for n, _, right in bins) / count == pytest.approx(precision, abs=2e-3)


def test_the_readme_pipeline_output_is_the_regenerated_run_of_docs_pipeline_md() -> None:
    """The README's pipeline example asks what docs/pipeline.md's Python example asks (its first text and
    type list) and shows the first two entities that ``python docs/regenerate.py pipeline-python``
    printed there: regenerating pipeline.md without copying them into the README fails here."""
    import ast

    readme = README.read_text(encoding="utf-8")
    code = re.search(r"## The pipeline\n.*?```python\n(.*?)```", readme, flags=re.S).group(1)
    shown = re.search(r"print\(ner\.predict\(\[text\], \[types\]\)\[0\]\[:2\]\)\n```\n.*?```\n(.*?)\n```", readme,
                      flags=re.S).group(1)
    doc = (ROOT / "docs" / "pipeline.md").read_text(encoding="utf-8")
    doc_code = re.search(r"## Python\n\n```python\n(.*?)```", doc, flags=re.S).group(1)
    printed = block(ROOT / "docs" / "pipeline.md", "pipeline-python").strip().strip("`").strip().splitlines()

    def value(source: str, name: str):
        return next(ast.literal_eval(node.value) for node in ast.parse(source).body
                    if isinstance(node, ast.Assign) and node.targets[0].id == name)

    assert value(code, "text") == value(doc_code, "texts")[0]
    assert value(code, "types") == value(doc_code, "types")[0]
    assert ast.literal_eval(shown) == ast.literal_eval(printed[0])[:2]
