"""The leaderboard Space (leaderboard/): its view of the runs (filters, the reader's ranking, the
cross-task average, sorting, CSV), escaping and plain-text charts, a clean start without runs, the
reader wheel that installs it without torch, and the page itself in headless Chromium at 1600 px
(pinned columns, sorting by a header click, filters that drive the table, the charts and the run
list, the empty state, a refresh, no injected HTML; the About, How to submit and Citation tabs)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from cascadener.publishing import leaderboard as lb
from cascadener.publishing.results import RESULTS_SCHEMA, RunResults

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "leaderboard"
EVIL = "<img src=x onerror=alert(7)>"
MATHTEXT = r"price in $\bar$"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, SPACE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


view = _load("leaderboard_view")
reader_wheel = _load("reader_wheel")


def record(run_id: str, *, model: str, scores: dict, created: str = "2026-01-01T00:00:00+00:00",
           revision: str = "a" * 40, backend: str = "transformers", method: str = "cascadener-generative",
           labels: dict | None = None, predicted: int = 40, limit: int | None = None) -> dict:
    """A valid results JSON: ``scores`` maps a task to (F1, {language: F1}) as fractions; the run predicted
    ``predicted`` of 40 sentences (fewer with ``limit``: a reduced run, else an incomplete one)."""
    tasks = {task: {"f1": f1, "precision": f1, "recall": f1, "languages": langs} for task, (f1, langs) in scores.items()}
    first = next(iter(tasks.values()))
    metrics = {"f1": first["f1"], "precision": first["f1"], "recall": first["f1"]}
    for label, (f1, support) in (labels or {"person": (first["f1"], 4), "city": (first["f1"] / 2, 2)}).items():
        metrics[f"label/{label}/f1"] = f1
        metrics[f"label/{label}/support"] = float(support)
    return {
        "schema": RESULTS_SCHEMA, "run_id": run_id, "created_at": created,
        "model": {"id": model, "revision": revision, "extractor": model, "classifier": model},
        "pipeline": {"backend": backend, "method": method},
        "dataset": {"id": "dynamicner", "revision": "builder-1", "config": "all", "split": "test",
                    "languages": sorted({lang for t in tasks.values() for lang in t["languages"]})},
        "coverage": {"sentences_predicted": predicted, "sentences_in_split": 40,
                     "limit": None if limit is None else {"sentences": limit, "per": "language"}},
        "metric": {"name": "dynamicner_f1", "version": "0.1.0", "matching": "strict"},
        "prompt": {"template": "released", "hash": "0123456789ab"},
        "scores": tasks, "metrics": metrics, "counts": {"sentences": predicted},
    }


RUNS = [
    record("r1-alpha-old", model="org/alpha", scores={"dynamic": (0.60, {"en": 0.70, "de": 0.50})}),
    record("r2-alpha", model="org/alpha", created="2026-01-03T00:00:00+00:00",
           scores={"dynamic": (0.62, {"en": 0.72, "de": 0.52}), "coarse": (0.70, {"en": 0.75, "de": 0.65}),
                   "fine": (0.30, {"en": 0.35, "de": 0.25})}),
    record("r3-beta", model="org/beta", revision="b" * 40, backend="openai-server",
           created="2026-01-02T00:00:00+00:00",
           scores={"dynamic": (0.71, {"en": 0.75, "de": 0.67}), "coarse": (0.60, {"en": 0.62, "de": 0.58}),
                   "fine": (0.33, {"en": 0.40, "de": 0.26})},
           labels={"organization": (0.8, 9), "person": (0.7, 5)}),
    record("r4-evil", model=EVIL, created="2026-01-02T06:00:00+00:00",
           scores={"dynamic": (0.20, {"en": 0.20})}, labels={MATHTEXT: (0.5, 3), "<b>bold</b>": (0.25, 1)}),
    record("r5-cut", model="org/cut", scores={"dynamic": (0.90, {"en": 0.90})}, predicted=8, limit=4),
]
#: The `dynamic` ranking: r1 is replaced by the later r2 of the same setup; the reduced r5 is hidden.
DYNAMIC = ["org/beta", "org/alpha", EVIL]


def seed(folder: Path, runs=RUNS) -> Path:
    (folder / "results").mkdir(parents=True, exist_ok=True)
    for run in runs:
        (folder / "results" / f"{run['run_id']}.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    (folder / "results" / f"{EVIL}.json").write_text("{}", encoding="utf-8")  # invalid: skipped and reported
    return folder


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    return view.read_source(str(seed(tmp_path_factory.mktemp("space-view"))))


# ---------------------------------------------------------------------------------------- the view


def test_space_view_ranks_with_the_reader_and_reports_what_it_hides(snapshot):
    assert snapshot.problem == "" and len(snapshot.skipped) == 1 and EVIL in snapshot.skipped[0]
    board = view.build_view(snapshot, view.Filters(task="dynamic"))
    assert [(line.rank, line.entry.model_id) for line in board.lines] == [(1, "org/beta"), (2, "org/alpha"),
                                                                           (3, EVIL)]
    assert [line.values["score"] for line in board.lines] == [71.0, 62.0, 20.0]  # percent, from the reader
    assert [c.key for c in board.columns if c.pinned] == ["rank", "model", "score", "date"]
    notes = " | ".join(board.notes)
    assert "invalid results file skipped" in notes and "1 earlier duplicate" in notes
    assert "1 reduced run(s) hidden" in notes

    shown = view.build_view(snapshot, view.Filters(task="dynamic", unranked=True))
    assert [(line.rank, line.entry.model_id, line.badges) for line in shown.lines][-1] == (None, "org/cut",
                                                                                          ("reduced",))


def test_space_filters_select_rerank_and_search(snapshot):
    by_backend = view.build_view(snapshot, view.Filters(task="dynamic", backend="transformers"))
    assert [(line.rank, line.entry.model_id) for line in by_backend.lines] == [(1, "org/alpha"), (2, EVIL)]
    german = view.build_view(snapshot, view.Filters(task="dynamic", language="de"))
    assert [(line.entry.model_id, line.values["score"]) for line in german.lines] == [("org/beta", 67.0),
                                                                                       ("org/alpha", 52.0)]
    assert german.columns[2].header == "F1 (de)"
    found = view.build_view(snapshot, view.Filters(task="dynamic", search="BETA"))
    assert [(line.rank, line.entry.model_id) for line in found.lines] == [(1, "org/beta")]  # keeps its rank
    nothing = view.build_view(snapshot, view.Filters(task="dynamic", search="no-such-model"))
    assert nothing.lines == () and view.render_table(nothing, view.DEFAULT_GROUPS) == (
        '<div class="lb-empty" id="leaderboard-empty">No runs match these filters.</div>')


def test_space_cross_task_average_ranks_setups_present_in_every_task(snapshot):
    choices = view.task_choices(snapshot.entries)
    assert choices[0] == ("Average: dynamic, coarse, fine", "average")
    board = view.build_view(snapshot, view.Filters(task="average"))
    rows = [(line.rank, line.entry.model_id, line.values["score"], line.values["missing"]) for line in board.lines]
    # beta (71 + 60 + 33) / 3 = 54.67, alpha (62 + 70 + 30) / 3 = 54.0; the run on dynamic alone is not averaged
    assert rows == [(1, "org/beta", 54.67, ()), (2, "org/alpha", 54.0, ()), (None, EVIL, None, ("coarse", "fine"))]
    assert [c.header for c in board.columns if c.group == "tasks"] == ["dynamic", "coarse", "fine"]


def test_space_sorts_any_column_with_empty_cells_last(snapshot):
    board = view.build_view(snapshot, view.Filters(task="average"))
    by_score = view.sort_lines(board.lines, "score", False)
    assert [line.entry.model_id for line in by_score] == ["org/alpha", "org/beta", EVIL]  # ascending, empty last
    by_model = view.sort_lines(board.lines, "model", True)
    assert [line.entry.model_id for line in by_model] == ["org/beta", "org/alpha", EVIL]
    html = view.render_table(board, view.DEFAULT_GROUPS, ("score", True))
    assert 'data-column="score" aria-sort="descending"' in html and 'data-column="rank" aria-sort="none"' in html


def test_space_csv_holds_every_column_in_percent_in_table_order(snapshot):
    board = view.build_view(snapshot, view.Filters(task="dynamic"))
    rows = list(csv.DictReader(io.StringIO(view.csv_of(board, ("model", False)))))
    assert [row["model"] for row in rows] == [EVIL, "org/alpha", "org/beta"]
    beta = rows[2]
    assert beta["rank"] == "1" and beta["F1"] == "71.00" and beta["de"] == "67.00" and beta["P"] == "71.00"
    assert beta["revision"] == "b" * 40 and beta["run"] == "r3-beta" and beta["created_at"].startswith("2026-01-02T")
    assert beta["coverage"] == "full: 40 of 40 sentences"


def test_space_escapes_ids_file_names_and_labels(snapshot):
    board = view.build_view(snapshot, view.Filters(task="dynamic"))
    page = "".join([view.render_status(board, snapshot), view.render_table(board, view.GROUPS),
                    view.score_chart(board), view.label_chart(view.find_entry(snapshot, "r4-evil::dynamic"))])
    assert "<img" not in page and "<b>" not in page
    assert "&lt;img src=x onerror=alert(7)&gt;" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    # Hub ids link to their model page; a name that is not a Hub id is not a link
    assert '<a href="https://huggingface.co/org/beta"' in page and 'href="https://huggingface.co/&lt;' not in page


def test_space_chart_labels_are_text_never_mathtext(snapshot):
    svg = view.label_chart(view.find_entry(snapshot, "r4-evil::dynamic"))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert f"{MATHTEXT} (3)" in texts and "&lt;b&gt;bold&lt;/b&gt; (1)" in texts


@pytest.mark.parametrize("source, says", [
    (None, "No results source is set"),
    ("results-dataset", "results-dataset is neither a folder nor a Hub dataset repo id"),
    ("{empty}", "holds no results/*.json"),
    ("nobody/no-such-results", "cannot get the results dataset nobody/no-such-results"),
])
def test_space_without_runs_says_why_instead_of_raising(tmp_path, monkeypatch, source, says):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    (tmp_path / "empty").mkdir()
    snapshot = view.read_source(source and source.replace("{empty}", str(tmp_path / "empty")))
    assert says in snapshot.problem and snapshot.entries == ()
    board = view.build_view(snapshot, view.Filters(task=""))
    assert view.render_table(board, view.GROUPS).startswith('<div class="lb-empty"')
    assert "No runs yet." in view.render_status(board, snapshot)


def test_space_reads_the_hub_benchmark_and_lists_other_tools_apart(monkeypatch):
    from types import SimpleNamespace

    ours = SimpleNamespace(rank=1, model_id="org/beta", value=71.0, filename=".eval_results/dynamicner.yaml",
                           verified=False, pull_request=12, notes=None,
                           source={"url": "https://huggingface.co/datasets/org/res/blob/main/results/r3-beta.json"})
    other = SimpleNamespace(rank=2, model_id="org/other", value=0.55, filename=".eval_results/x.yaml", verified=True,
                            pull_request=None, notes="tools", source={"url": "https://example.org/paper"})

    def leaderboard(repo_id):
        results = RunResults(**RUNS[2])
        return lb.entries_from_leaderboard([ours, other], dataset_id=repo_id, read=lambda url: results)

    monkeypatch.setattr(lb, "from_benchmark", leaderboard)
    snapshot = view.read_source("org/DynamicNER", "benchmark")
    board = view.build_view(snapshot, view.Filters(task="dynamic"))
    assert [(line.entry.model_id, line.badges) for line in board.lines] == [("org/beta", ("community", "source"))]
    external = view.render_external(board)
    assert "org/other" in external and "0.55" in external and "verified" in external


# ------------------------------------------------------------------------------- packaging the Space


def test_space_requirements_install_the_reader_wheel_not_the_kit():
    lines = [line.strip() for line in (SPACE / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert "--find-links ." in lines and reader_wheel.NAME in lines  # the wheel reader_wheel.py builds, by name
    assert not any(re.match(r"(torch|transformers|datasets|evaluate|accelerate|dynamicner[-_]kit)\b", line)
                   for line in lines)
    front = yaml.safe_load((SPACE / "README.md").read_text().split("---")[1])
    assert f"gradio=={front['sdk_version']}" in lines and front["app_file"] == "app.py"


BLOCKER = """
import importlib.abc, sys
BLOCKED = {"torch", "transformers", "datasets", "evaluate", "accelerate", "tokenizers", "pyarrow", "seqeval",
           "peft", "dynamicner", "dynamicner_f1"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed in the Space")
        return None
sys.meta_path.insert(0, Blocker())
"""


@pytest.mark.slow  # builds a wheel with pip and starts a Python process
def test_space_runs_from_the_reader_wheel_without_torch_or_transformers(tmp_path):
    pytest.importorskip("gradio", reason="the Space needs gradio: pip install '.[leaderboard]'")
    wheel = reader_wheel.build(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cascadener/publishing/leaderboard.py" in names and "cascadener/pipeline.py" not in names
    metadata = zipfile.ZipFile(wheel).read(f"dynamicner_leaderboard-{reader_wheel.kit_metadata()[0]}.dist-info/METADATA")
    requires = sorted(line.split(":", 1)[1].strip() for line in metadata.decode().splitlines()
                      if line.startswith("Requires-Dist:"))
    assert [re.split(r"[<>=]", r)[0] for r in requires] == ["huggingface_hub", "jsonschema", "pyyaml"]
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                    str(wheel)], check=True)
    seed(tmp_path / "runs")
    script = BLOCKER + textwrap.dedent(f"""
        sys.path[:0] = [{str(site)!r}, {str(SPACE)!r}]
        import app  # the Space itself, its reader from the wheel
        import cascadener.publishing.leaderboard as lb
        assert lb.__file__.startswith({str(site)!r}), lb.__file__
        runs = app.Runs({str(tmp_path / "runs")!r})
        board = app.build_view(runs.snapshot, app.Filters(task="dynamic"))
        print([line.entry.model_id for line in board.lines])
        app.build_app(runs=runs)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        ours = sorted(m for m in sys.modules if m.split(".")[0] in ("cascadener", "dynamicner_data"))
        assert not leaked, leaked
        assert all(sys.modules[m].__file__.startswith({str(site)!r}) for m in ours), ours
        print("ok", ours)
    """)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONNOUSERSITE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[0].replace("'", '"')) == DYNAMIC
    assert done.stdout.splitlines()[1].startswith("ok")


@pytest.mark.slow  # starts a Python process
def test_import_cascadener_loads_no_torch_or_transformers():
    """`import cascadener` and the reader (`cascadener.publishing.leaderboard`) stay clear of the pipeline's
    heavy dependencies (checked in a fresh interpreter, where nothing else imported them yet)."""
    script = BLOCKER + "import cascadener, cascadener.publishing.leaderboard, cascadener.publishing.leaderboard_formats\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow  # starts a Python process that imports gradio
@pytest.mark.parametrize("argv, env, says", [
    (["--port", "http"], {}, "argument --port: invalid int value: 'http'"),
    ([], {"LEADERBOARD_MAX_AGE": "soon"}, "argument --max-age: invalid float value: 'soon'"),
    ([], {"LEADERBOARD_FROM": "hub"}, "LEADERBOARD_FROM: invalid choice 'hub' (choose from results, benchmark)"),
])
def test_space_command_line_refuses_bad_settings_without_a_traceback(argv, env, says):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LEADERBOARD_", "GRADIO_SERVER"))},
           "GRADIO_ANALYTICS_ENABLED": "False", **env}
    done = subprocess.run([sys.executable, str(SPACE / "app.py"), *argv], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


# ------------------------------------------------------------------------------ the page, in Chromium

CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1600,1200")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def space(tmp_path_factory):
    """leaderboard/app.py on 127.0.0.1 over the seeded runs, one process for the session, stopped by its pid."""
    pytest.importorskip("gradio", reason="the Space needs gradio: pip install '.[leaderboard]'")
    root = tmp_path_factory.mktemp("space")
    folder = seed(root / "results-dataset")
    port = _free_port()
    log_path = root / "space.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "LEADERBOARD_MAX_AGE": "3600"}
    env.pop("LEADERBOARD_SOURCE", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, str(SPACE / "app.py"), "--source", str(folder),
                                    "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                   env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Space exited with {process.returncode}: {log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the Space did not listen within 180 s: {log_path.read_text()}")
                time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}/", "folder": folder, "log": log_path}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """Headless Debian Chromium driven by selenium through chromedriver (skips with the reason when absent)."""
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip("Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(120)
    driver.set_window_size(1600, 1200)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception:  # the page is still rendering: elements come and go
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def _rows(driver) -> list[list[str]]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#leaderboard-table tbody tr')]"
        ".map(r => [...r.querySelectorAll('td')].map(c => c.innerText.trim()))")


def _models(driver) -> list[str]:
    return [row[1].split("\n")[0] for row in _rows(driver)]


def _svg_texts(driver, elem_id: str) -> list[str]:
    return driver.execute_script(
        f"return [...document.querySelectorAll('#{elem_id} svg text')].map(t => t.textContent)")


def _choose(driver, elem_id: str, label: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input").click()
    option = _wait(lambda: [o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]")
                            if o.get_attribute("aria-label") == label], f"option {label} of #{elem_id}")[0]
    option.click()


def _open(driver, space, task: str | None = "dynamic") -> None:
    driver.get(space["url"])
    _wait(lambda: _rows(driver), "the ranked table")
    if task:
        _choose(driver, "task", task)
        _wait(lambda: f"F1 on {task}" in driver.find_element("id", "status").text, f"the {task} table")


@pytest.mark.slow
def test_space_page_pins_rank_model_score_and_date_at_1600_px(space, chromium, tmp_path):
    from selenium.webdriver.common.by import By

    _open(chromium, space)
    assert _models(chromium) == DYNAMIC
    for label in chromium.find_elements(By.CSS_SELECTOR, "#columns label"):  # every optional column on
        if not label.find_element(By.CSS_SELECTOR, "input").is_selected():
            label.click()
    _wait(lambda: chromium.find_elements(By.CSS_SELECTOR, "#leaderboard-table th[data-column=source]"), "all columns")
    scroller = chromium.find_element(By.CSS_SELECTOR, "#leaderboard-table .lb-scroll")
    assert chromium.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", scroller)
    chromium.execute_script("arguments[0].scrollLeft = arguments[0].scrollWidth", scroller)
    chromium.save_screenshot(str(tmp_path / "space-scrolled.png"))
    for key in ("rank", "model", "score", "date"):  # still on screen, and not covered by the scrolled columns
        header = chromium.find_element(By.CSS_SELECTOR, f"#leaderboard-table th[data-column={key}]")
        box = header.rect
        assert 0 <= box["x"] and box["x"] + box["width"] <= 1600, (key, box)
        on_top = chromium.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return arguments[0].contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2))",
            header)
        assert on_top, key
    first = _rows(chromium)[0]
    assert first[0] == "1" and first[1].startswith("org/beta") and first[2] == "71.00" and first[3] == "2026-01-02"
    link = chromium.find_element(By.CSS_SELECTOR, "#leaderboard-table tbody tr td.lb-model a")
    assert link.get_attribute("href") == "https://huggingface.co/org/beta"


@pytest.mark.slow
def test_space_page_sorts_when_a_header_is_clicked(space, chromium, tmp_path):
    from selenium.webdriver.common.by import By

    _open(chromium, space)

    def click(key):
        chromium.find_element(By.CSS_SELECTOR, f"#leaderboard-table th[data-column={key}] button").click()

    def sorted_as(key):
        return chromium.find_element(By.CSS_SELECTOR, f"#leaderboard-table th[data-column={key}]").get_attribute(
            "aria-sort")

    click("model")
    _wait(lambda: _models(chromium) == sorted(DYNAMIC, key=str.lower), "model order, ascending")
    assert sorted_as("model") == "ascending" and sorted_as("rank") == "none"
    click("score")
    _wait(lambda: sorted_as("score") == "descending", "F1 sorted best first")
    assert _models(chromium) == DYNAMIC
    click("score")
    _wait(lambda: _models(chromium) == DYNAMIC[::-1], "F1 ascending")
    assert [row[0] for row in _rows(chromium)] == ["3", "2", "1"]  # ranks stay the reader's
    chromium.save_screenshot(str(tmp_path / "space-sorted.png"))


@pytest.mark.slow
def test_space_page_filters_drive_the_table_the_charts_and_the_run_list(space, chromium, tmp_path):
    from selenium.webdriver.common.by import By

    _open(chromium, space)
    _wait(lambda: "org/beta" in _svg_texts(chromium, "score-chart"), "the score chart")
    assert {"org/beta", "org/alpha", EVIL} <= set(_svg_texts(chromium, "score-chart"))
    assert any(t.startswith("org/beta · r3-beta") for t in _svg_texts(chromium, "per-label"))
    _choose(chromium, "backend", "transformers")
    _wait(lambda: _models(chromium) == ["org/alpha", EVIL], "the backend filter")
    _wait(lambda: "org/beta" not in _svg_texts(chromium, "score-chart"), "the score chart to follow")
    assert {"org/alpha", EVIL} <= set(_svg_texts(chromium, "score-chart"))
    _wait(lambda: any(t.startswith("org/alpha · r2-alpha") for t in _svg_texts(chromium, "per-label")),
          "the per-label chart of the first run left")
    chromium.find_element(By.CSS_SELECTOR, "#run input").click()
    runs = _wait(lambda: [o.get_attribute("aria-label") for o in chromium.find_elements(By.CSS_SELECTOR,
                                                                                          "[role=option]")],
                 "the run list")
    assert runs == ["1. org/alpha · cascadener-generative · r2-alpha",
                    f"2. {EVIL} · cascadener-generative · r4-evil"]
    chromium.save_screenshot(str(tmp_path / "space-backend-filter.png"))


@pytest.mark.slow
def test_space_page_empty_state_escaping_and_refresh(space, chromium, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(chromium, space)
    # what anyone can write into a results file stays text
    status = chromium.find_element(By.ID, "status").text
    assert f"{EVIL}.json" in status
    assert chromium.execute_script(
        "return document.querySelectorAll('#status img, #leaderboard-table img, #per-label img, b').length") == 0
    assert EVIL in _models(chromium)
    _choose(chromium, "run", f"3. {EVIL} · cascadener-generative · r4-evil")
    _wait(lambda: f"{MATHTEXT} (3)" in _svg_texts(chromium, "per-label"), "the label drawn as text")

    # a search matching nothing: a sentence, no header
    search = chromium.find_element(By.CSS_SELECTOR, "#search textarea, #search input")
    search.send_keys("no-such-model", Keys.ENTER)
    empty = _wait(lambda: chromium.find_element(By.ID, "leaderboard-empty"), "the empty state")
    assert empty.text == "No runs match these filters."
    assert chromium.find_elements(By.CSS_SELECTOR, "#leaderboard-table th") == []
    chromium.save_screenshot(str(tmp_path / "space-empty.png"))
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE, Keys.ENTER)
    _wait(lambda: _models(chromium) == DYNAMIC, "the table back")

    # a new run appears after Refresh, without a restart
    new = record("r6-gamma", model="org/gamma", created="2026-01-04T00:00:00+00:00",
                 scores={"dynamic": (0.80, {"en": 0.80})})
    (space["folder"] / "results" / "r6-gamma.json").write_text(json.dumps(new), encoding="utf-8")
    try:
        chromium.find_element(By.ID, "refresh").click()
        _wait(lambda: _models(chromium) == ["org/gamma", *DYNAMIC], "the new run after a refresh")
    finally:
        (space["folder"] / "results" / "r6-gamma.json").unlink()
    chromium.find_element(By.ID, "refresh").click()
    _wait(lambda: _models(chromium) == DYNAMIC, "the run gone after a refresh")


def _open_tab(driver, name: str):
    """Click the tab button ``name`` and return its panel once it shows (the other panels hidden)."""
    from selenium.webdriver.common.by import By

    button = _wait(lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]")
                            if b.text.strip() == name], f"the {name} tab button")[0]
    button.click()
    _wait(lambda: button.get_attribute("aria-selected") == "true", f"the {name} tab selected")
    return _wait(lambda: [p for p in driver.find_elements(By.CSS_SELECTOR, "[role=tabpanel]") if p.is_displayed()],
                 f"the {name} panel")


@pytest.mark.slow
def test_space_page_about_tab_explains_the_tasks_and_hides_the_table(space, chromium):
    from selenium.webdriver.common.by import By

    _open(chromium, space, task=None)
    [panel] = _open_tab(chromium, "About")
    assert panel.find_element(By.CSS_SELECTOR, "h2").text == "About"
    tasks = [[code.text for code in cell.find_elements(By.CSS_SELECTOR, "code")]
             for cell in panel.find_elements(By.CSS_SELECTOR, "table tbody tr td:first-child")]
    assert tasks == [["dynamic"], ["dynamic-<lang>"], ["coarse", "medium", "fine"], ["<level>-<lang>"]]
    assert "Which runs are ranked" in panel.text and not chromium.find_element(By.ID, "leaderboard-table").is_displayed()


@pytest.mark.slow
def test_space_page_submit_tab_gives_the_commands_in_order(space, chromium):
    from selenium.webdriver.common.by import By

    _open(chromium, space, task=None)
    [panel] = _open_tab(chromium, "How to submit")
    steps = [item.text for item in panel.find_elements(By.CSS_SELECTOR, "ol > li")]
    assert len(steps) == 3 and steps[0].startswith("Evaluate your model with the CascadeNER kit")
    assert "cascadener push-results my-run/results/<run_id>.json" in steps[1] and "--dry-run" in steps[1]
    assert steps[2].startswith("Press Refresh here")


@pytest.mark.slow
def test_space_page_citation_tab_shows_the_bibtex_of_the_paper(space, chromium):
    from selenium.webdriver.common.by import By

    from dynamicner_data import CITATION

    _open(chromium, space, task=None)
    [panel] = _open_tab(chromium, "Citation")
    assert "Please cite the DynamicNER paper" in panel.text
    shown = panel.find_element(By.CSS_SELECTOR, "#citation .cm-content").text
    assert shown.split() == CITATION.split()  # every line of the entry, as the kit's CITATION holds it
