"""What the leaderboard Space shows, without Gradio: the source read, the filtered view, the HTML table,
the charts and the CSV (``app.py`` wires them to the page).

Everything put into HTML is escaped (:func:`esc`): model ids, file names, labels and messages come
from results files anyone can write. Chart text is plain text, never mathtext, and stays text in
the inline SVG. Ranking is the reader's (:func:`cascadener.publishing.leaderboard.build` and
:func:`~cascadener.publishing.leaderboard.averages`); this module filters, sorts and draws.

Example:
    >>> esc('<img src=x onerror="alert(7)">')
    '&lt;img src=x onerror=&quot;alert(7)&quot;&gt;'
    >>> read_source(None).problem.startswith("No results source is set")
    True
"""

from __future__ import annotations

import csv
import html
import io
import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timezone
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

from cascadener.publishing import leaderboard as lb
from cascadener.publishing.results import GRANULARITIES

ALL = "all"
AVERAGE = "average"
SOURCE_KINDS = ("results", "benchmark")
TABLE_ID = "leaderboard-table"
HUB = "https://huggingface.co"
#: Seconds a read of the source is reused by a new page before it is read again (``Refresh`` reads at once);
#: the Space's ``--max-age`` / ``LEADERBOARD_MAX_AGE``.
MAX_AGE = 300.0
#: Hub repo ids: ``owner/name`` (a model id without an owner, or a local path, is shown unlinked).
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")


def esc(value: Any) -> str:
    """``value`` as HTML text: every ``<``, ``>``, ``&`` and quote escaped."""
    return html.escape(str(value), quote=True)


def hub_id(model_id: str) -> bool:
    """Whether ``model_id`` reads as a Hub repo id (``owner/name``), so that it gets a link.

    >>> hub_id("org/alpha"), hub_id("cascadener-tiny"), hub_id("runs/models/extractor"), hub_id("../x/y")
    (True, False, False, False)
    """
    return bool(_REPO_ID.match(model_id)) and ".." not in model_id and not model_id.endswith((".", "-"))


# ----------------------------------------------------------------------------------------- the source


@dataclass(frozen=True)
class Snapshot:
    """One read of the source: its entries, other tools' Hub entries, the files skipped as invalid, and
    ``problem``, why there are no runs to show (no source, unreachable, empty)."""

    source: str
    kind: str
    entries: tuple[lb.Entry, ...] = ()
    external: tuple[lb.ExternalEntry, ...] = ()
    skipped: tuple[str, ...] = ()
    problem: str = ""
    read_at: float = field(default_factory=time.monotonic)


NO_SOURCE = ("No results source is set. Set the Space variable LEADERBOARD_SOURCE (or pass --source) to a "
             "results dataset repo id such as me/dynamicner-results, a folder holding results/*.json, or, with "
             "LEADERBOARD_FROM=benchmark, the benchmark dataset's repo id.")


def read_source(source: str | None, kind: str = "results") -> Snapshot:
    """Read ``source``: never raises for a missing, empty or unreachable source (``problem`` says why)."""
    source = (source or "").strip()
    if kind not in SOURCE_KINDS:
        return Snapshot(source=source, kind=kind, problem=f"unknown source kind {kind!r} (one of {', '.join(SOURCE_KINDS)})")
    if not source:
        return Snapshot(source=source, kind=kind, problem=NO_SOURCE)
    try:
        if kind == "benchmark":
            if not _REPO_ID.match(source):
                return Snapshot(source=source, kind=kind,
                                problem=f"{source} is not a Hub dataset repo id (owner/name) of a benchmark")
            entries, external = lb.from_benchmark(source)
            return Snapshot(source=source, kind=kind, entries=tuple(entries), external=tuple(external),
                            problem="" if entries or external else f"the leaderboard of {source} has no entries yet")
        if Path(source).exists():
            entries, skipped = lb.from_folder(source, skip_invalid=True)
        elif _REPO_ID.match(source):
            entries, skipped = lb.from_results_repo(source, skip_invalid=True)
        else:
            return Snapshot(source=source, kind=kind,
                            problem=f"{source} is neither a folder nor a Hub dataset repo id (owner/name)")
    except (lb.LeaderboardError, OSError) as error:
        return Snapshot(source=source, kind=kind, problem=str(error))
    return Snapshot(source=source, kind=kind, entries=tuple(entries), skipped=tuple(skipped),
                    problem="" if entries else f"{source} holds no valid runs")


class Runs:
    """The source's latest read, shared by every visitor: :meth:`current` reuses it for ``max_age`` seconds,
    :meth:`reload` reads again (one reader at a time)."""

    def __init__(self, source: str | None, kind: str = "results", *, max_age: float = MAX_AGE):
        self.source, self.kind, self.max_age = source, kind, max_age
        self._lock = threading.Lock()
        self.snapshot = read_source(source, kind)

    def reload(self) -> Snapshot:
        with self._lock:
            self.snapshot = read_source(self.source, self.kind)
            return self.snapshot

    def current(self) -> Snapshot:
        if time.monotonic() - self.snapshot.read_at > self.max_age:
            return self.reload()
        return self.snapshot


# ------------------------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class Filters:
    """What the visitor asked for. ``task`` is a task id or ``average`` / ``average<scope>`` (the
    cross-task average of one scope: every language, one language, a subset)."""

    task: str = ""
    language: str = ALL
    backend: str = ALL
    scoring: str = ALL
    search: str = ""
    unranked: bool = False


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # rank, model, score, date, number or text
    group: str = ""  # the column selector's name for it; pinned columns have none
    help: str = ""

    @property
    def pinned(self) -> bool:
        return not self.group


@dataclass(frozen=True)
class Line:
    """One row of the table: its rank (``None``: shown, not ranked), the entry behind it, and its cells."""

    rank: int | None
    entry: lb.Entry
    values: dict[str, Any]
    badges: tuple[str, ...] = ()


@dataclass(frozen=True)
class View:
    title: str
    columns: tuple[Column, ...] = ()
    lines: tuple[Line, ...] = ()
    notes: tuple[str, ...] = ()
    problem: str = ""
    external: tuple[lb.ExternalEntry, ...] = ()


#: The column selector: every optional column group, and those shown until the visitor changes them.
GROUPS: tuple[str, ...] = ("precision/recall", "languages", "tasks", "backend", "method", "revision", "matching",
                           "metric", "prompt", "coverage", "run", "source")
DEFAULT_GROUPS: tuple[str, ...] = ("precision/recall", "languages", "tasks", "backend", "method", "revision")


def scoring_of(entry: lb.Entry) -> str:
    """The scoring filter's name for how ``entry`` was scored (metric version and matching)."""
    return f"{entry.metric_version} · {entry.matching}"


def scope_of(task: str) -> str | None:
    """The scope of a benchmark task: ``""`` (every language), ``-de``, ``[en+ja]``; ``None`` for others."""
    granularity = lb.granularity_of(task)
    return task[len(granularity):] if granularity in GRANULARITIES else None


def task_choices(entries: Sequence[lb.Entry], granularity: str = ALL) -> list[tuple[str, str]]:
    """The task selector: the cross-task average of each scope with two or more granularities, then
    every task, in the leaderboard's order."""
    tasks = sorted({e.task for e in entries}, key=lb.task_order)
    choices: list[tuple[str, str]] = []
    if granularity == ALL:
        scopes: dict[str, list[str]] = {}
        for task in tasks:
            scope = scope_of(task)
            if scope is not None:
                scopes.setdefault(scope, []).append(task)
        for scope, members in scopes.items():
            if len(members) > 1:
                choices.append((f"Average{scope}: {', '.join(members)}", AVERAGE + scope))
    choices += [(task, task) for task in tasks if granularity == ALL or lb.granularity_of(task) == granularity]
    return choices


def averaged_tasks(entries: Sequence[lb.Entry], choice: str) -> list[str]:
    scope = choice[len(AVERAGE):]
    present = {e.task for e in entries}
    return [g + scope for g in GRANULARITIES if g + scope in present]


def _selected(entries: Sequence[lb.Entry], filters: Filters, tasks: Sequence[str]) -> list[lb.Entry]:
    chosen = [e for e in entries if e.task in tasks and (filters.backend == ALL or e.backend == filters.backend)
              and (filters.scoring == ALL or scoring_of(e) == filters.scoring)]
    if filters.language != ALL:  # rank by the language's F1 (runs that did not score it are left out)
        chosen = [replace(e, f1=e.languages[filters.language]) for e in chosen if filters.language in e.languages]
    return chosen


def _matches(entry: lb.Entry, search: str) -> bool:
    words = search.lower().split()
    text = " ".join((entry.model_id, entry.run_id, entry.backend, entry.method)).lower()
    return all(word in text for word in words)


def _identity(entry: lb.Entry, labels: dict[str, str]) -> dict[str, Any]:
    return {"backend": entry.backend, "method": entry.method, "revision": labels.get(entry.model_revision,
                                                                                      entry.model_revision),
            "matching": entry.matching, "metric": entry.metric_version, "prompt": entry.prompt_hash,
            "coverage": entry.coverage.describe(), "run": entry.run_id,
            "source": entry.source_url or entry.source}


_TAIL = (Column("backend", "backend", group="backend"), Column("method", "method", group="method"),
         Column("revision", "revision", group="revision", help="model revision (Hub commit or local weights hash)"),
         Column("matching", "matching", group="matching"), Column("metric", "metric", group="metric"),
         Column("prompt", "prompt", group="prompt", help="prompt hash"),
         Column("coverage", "coverage", group="coverage", help="sentences of the split predicted"),
         Column("run", "run", group="run"), Column("source", "source", group="source"))


def build_view(snapshot: Snapshot, filters: Filters) -> View:
    """The rows the filters select, ranked by the reader (:func:`lb.build`, :func:`lb.averages`)."""
    if snapshot.problem:
        return View(title="No runs yet", problem=snapshot.problem, external=snapshot.external)
    entries = snapshot.entries
    average = filters.task.startswith(AVERAGE)
    tasks = averaged_tasks(entries, filters.task) if average else [filters.task]
    notes = [f"invalid results file skipped: {skipped}" for skipped in snapshot.skipped]
    score = "Average" if average else "F1"
    if filters.language != ALL:
        score += f" ({filters.language})"
    title = f"{score} on {', '.join(tasks) if tasks else filters.task}"
    selected = _selected(entries, filters, tasks)
    try:
        board = lb.build(selected, source=snapshot.source, include_unranked=filters.unranked)
    except lb.LeaderboardError as error:
        return View(title=title, notes=tuple(notes), external=snapshot.external,
                    problem=f"Not ranked: {error}. Pick one scoring in the Scoring filter.")
    labels = board.revision_labels()
    columns = [Column("rank", "#", "rank"), Column("model", "model", "model"),
               Column("score", score, "score", help="strict micro-F1 of dynamicner_f1, percent"),
               Column("date", "date", "date", help="when the run was scored (UTC)")]
    lines: list[Line] = []
    if average:
        columns += [Column(f"task:{task}", task, "number", group="tasks") for task in tasks]
        for row in lb.averages(board, tasks):
            e = row.entry
            lines.append(Line(rank=row.rank, entry=e, badges=tuple(dict.fromkeys(
                b for entry in row.entries.values() for b in entry.badges)),
                values={"score": row.average, "date": row.date, "model": e.model_id,
                        **{f"task:{task}": entry.f1 for task, entry in row.entries.items()},
                        **_identity(e, labels), "missing": row.missing}))
    else:
        languages = board.languages(filters.task) if filters.language == ALL else []
        if filters.language == ALL:
            columns += [Column("P", "P", "number", group="precision/recall", help="precision, percent"),
                        Column("R", "R", "number", group="precision/recall", help="recall, percent")]
        columns += [Column(f"lang:{lang}", lang, "number", group="languages", help=f"F1 on {lang}, percent")
                    for lang in languages]
        for row in board.tables.get(filters.task, []):
            e = row.entry
            lines.append(Line(rank=row.rank, entry=e, badges=e.badges, values={
                "score": e.f1, "date": e.date, "model": e.model_id, "P": e.precision, "R": e.recall,
                **{f"lang:{lang}": e.languages.get(lang) for lang in languages}, **_identity(e, labels)}))
    columns += _TAIL
    shown = [line for line in lines if _matches(line.entry, filters.search)]
    if filters.search.strip() and len(shown) < len(lines):
        notes.append(f"{len(lines) - len(shown)} row(s) do not match the search")
    if board.duplicates:
        notes.append(f"{len(board.duplicates)} earlier duplicate run(s) hidden (the latest run of a setup counts)")
    hidden = [e for e in board.hidden]
    if hidden:
        kinds = sorted({e.status for e in hidden})
        notes.append(f"{len(hidden)} {'/'.join(kinds)} run(s) hidden: tick 'Show reduced and incomplete runs'")
    external = tuple(x for x in snapshot.external if x.hub.task is None or x.hub.task in tasks)
    return View(title=title, columns=tuple(columns), lines=tuple(shown), notes=tuple(notes), external=external)


# ------------------------------------------------------------------------------------------- sorting


def default_descending(column: Column) -> bool:
    """The first click on a header sorts scores and dates best or newest first, text and rank ascending."""
    return column.kind in ("score", "number", "date")


def sort_lines(lines: Sequence[Line], key: str, descending: bool) -> list[Line]:
    """``lines`` ordered by column ``key``; empty cells always last, ties kept in rank order.

    >>> e = lb.Entry(source="", run_id="r", created_at=None, model_id="m", model_revision="x", task="t", f1=1.0)
    >>> lines = [Line(1, e, {"score": 3.0}), Line(2, e, {"score": None}), Line(None, e, {"score": 5.0})]
    >>> [line.values["score"] for line in sort_lines(lines, "score", True)], [l.rank for l in sort_lines(lines, "rank", True)]
    ([5.0, 3.0, None], [2, 1, None])
    """
    def value(line: Line) -> Any:
        raw = line.rank if key == "rank" else line.values.get(key)
        return raw.lower() if isinstance(raw, str) else raw

    present = [line for line in lines if value(line) not in (None, "")]
    empty = [line for line in lines if value(line) in (None, "")]
    return sorted(present, key=value, reverse=descending) + empty


# ----------------------------------------------------------------------------------------- rendering


def _number(value: Any) -> str:
    return "" if value is None else f"{value:.2f}"


def _badges(badges: Sequence[str], source_url: str | None) -> str:
    parts = []
    for badge in badges:
        title = esc(lb.BADGES.get(badge, badge))
        if badge == "source" and source_url:
            parts.append(f'<a class="lb-badge lb-badge-source" href="{esc(source_url)}" target="_blank" '
                         f'rel="noopener noreferrer" title="{title}">source</a>')
        else:
            parts.append(f'<span class="lb-badge lb-badge-{esc(badge)}" title="{title}">{esc(badge)}</span>')
    return f'<span class="lb-badges">{"".join(parts)}</span>' if parts else ""


def _cell(column: Column, line: Line) -> str:
    if column.kind == "rank":
        return esc(line.rank) if line.rank is not None else '<span title="not ranked">–</span>'
    if column.kind == "model":
        model = line.entry.model_id
        name = (f'<a href="{HUB}/{quote(model, safe="/")}" target="_blank" rel="noopener noreferrer">{esc(model)}</a>'
                if hub_id(model) else esc(model))
        missing = line.values.get("missing")
        lack = f'<span class="lb-missing">no {esc(", ".join(missing))}</span>' if missing else ""
        return name + _badges(line.badges, line.entry.source_url) + lack
    value = line.values.get(column.key)
    if column.kind in ("score", "number"):
        return _number(value)
    if column.key == "source" and isinstance(value, str) and value.startswith(("https://", "http://")):
        return f'<a href="{esc(value)}" target="_blank" rel="noopener noreferrer">{esc(value.rsplit("/", 1)[-1])}</a>'
    return esc("" if value is None else value)


def render_table(view: View, groups: Sequence[str], sort: tuple[str, bool] | None = None) -> str:
    """The table as HTML: pinned columns first (sticky), the selected groups after, headers that sort.
    No rows gives a sentence, never an empty header."""
    if view.problem or not view.lines:
        reason = view.problem or "No runs match these filters."
        return f'<div class="lb-empty" id="leaderboard-empty">{esc(reason)}</div>'
    columns = [c for c in view.columns if c.pinned or c.group in groups]
    key, descending = sort or ("rank", False)
    lines = sort_lines(view.lines, key, descending)
    head = []
    for index, column in enumerate(columns):
        classes = [f"lb-{column.kind}"] + ([f"lb-pin lb-pin-{index}"] if column.pinned else [])
        state = ("descending" if descending else "ascending") if column.key == key else "none"
        arrow = {"ascending": "▲", "descending": "▼"}.get(state, "")
        head.append(f'<th class="{" ".join(classes)}" data-column="{esc(column.key)}" aria-sort="{state}" '
                    f'title="{esc(column.help or column.header)}"><button type="button">{esc(column.header)}'
                    f'<span class="lb-arrow">{arrow}</span></button></th>')
    body = []
    for line in lines:
        cells = []
        for index, column in enumerate(columns):
            classes = [f"lb-{column.kind}"] + ([f"lb-pin lb-pin-{index}"] if column.pinned else [])
            cells.append(f'<td class="{" ".join(classes)}">{_cell(column, line)}</td>')
        status = "" if line.rank is not None else ' class="lb-unranked"'
        body.append(f'<tr{status} data-run="{esc(line.entry.run_id)}">{"".join(cells)}</tr>')
    return (f'<div class="lb-scroll" tabindex="0" role="region" aria-label="{esc(view.title)}">'
            f'<table class="lb-table"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def render_status(view: View, snapshot: Snapshot) -> str:
    """The line above the table (what is ranked, what is hidden and why), escaped."""
    if view.problem and not snapshot.problem:
        head = f"<strong>{esc(view.title)}</strong>"
    elif view.problem:
        head = "<strong>No runs yet.</strong>"
    else:
        ranked = sum(line.rank is not None for line in view.lines)
        head = f"<strong>{esc(view.title)}</strong>: {ranked} ranked run(s)"
        if len(view.lines) > ranked:
            head += f", {len(view.lines) - ranked} shown unranked"
    notes = "".join(f"<li>{esc(note)}</li>" for note in view.notes)
    source = f'<div class="lb-source">Source: <code>{esc(snapshot.source or "not set")}</code> ({esc(snapshot.kind)})</div>'
    return f'<div class="lb-status">{head}{f"<ul>{notes}</ul>" if notes else ""}{source}</div>'


def render_external(view: View) -> str:
    """Other tools' entries of the Hub benchmark leaderboard: their own value, never ranked with ours."""
    if not view.external:
        return ""
    rows = "".join(
        f"<tr><td>{esc(x.hub.rank)}</td><td>{esc(x.model_id)}{_badges(x.badges, x.hub.source_url)}</td>"
        f"<td>{esc(x.value)}</td><td>{esc(x.hub.task or '')}</td><td>{esc(x.date)}</td><td>{esc(x.reason)}</td></tr>"
        for x in view.external)
    return ('<details class="lb-external" open><summary>Other results on the Hub leaderboard '
            f'({len(view.external)}), as the Hub lists them: not CascadeNER runs, not ranked here</summary>'
            '<table class="lb-table"><thead><tr><th>Hub rank</th><th>model</th><th>value</th><th>task</th>'
            f'<th>date</th><th>why not ranked</th></tr></thead><tbody>{rows}</tbody></table></details>')


def csv_of(view: View, sort: tuple[str, bool] | None = None) -> str:
    """Every column of the view's rows (selected or not) in the table's order, scores in percent, revisions
    and dates whole."""
    keys = [c for c in view.columns if c.kind not in ("rank", "model", "score", "date")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "model", view.columns[2].header if view.columns else "score", "created_at", "badges",
                     *[c.header for c in keys if c.key != "revision"], "revision"])
    for line in sort_lines(view.lines, *(sort or ("rank", False))):
        e = line.entry
        writer.writerow(["" if line.rank is None else line.rank, e.model_id, _number(line.values.get("score")),
                         "" if e.created_at is None else e.created_at.astimezone(timezone.utc).isoformat(),
                         " ".join(line.badges),
                         *[_number(line.values.get(c.key)) if c.kind == "number" else
                           ("" if line.values.get(c.key) is None else line.values.get(c.key))
                           for c in keys if c.key != "revision"], e.model_revision])
    return out.getvalue()


# -------------------------------------------------------------------------------------------- charts


def _svg(figure) -> str:
    """A matplotlib figure as inline SVG whose text stays text (readable, searchable, never mathtext)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dynamicner-leaderboard"}):
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _figure(height: float):
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        figure = Figure(figsize=(7.5, height))
        return figure, figure.subplots()


def _empty_chart(message: str) -> str:
    return f'<div class="lb-empty">{esc(message)}</div>'


def score_chart(view: View, top: int = 25) -> str:
    """Bars of the score of the view's rows, best first (the filters' rows, ranked ones first)."""
    lines = [line for line in view.lines if line.values.get("score") is not None][:top]
    if not lines:
        return _empty_chart("No scores to draw for these filters.")
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.entry.model_id] = counts.get(line.entry.model_id, 0) + 1
    names = [f"{line.entry.model_id} · {line.entry.method} · {line.entry.run_id}"
             if counts[line.entry.model_id] > 1 else line.entry.model_id for line in lines]
    figure, axes = _figure(max(2.2, 0.32 * len(lines) + 1.2))
    positions = list(range(len(lines)))[::-1]
    values = [line.values["score"] for line in lines]
    bars = axes.barh(positions, values, color=["#4c72b0" if line.rank is not None else "#b0b0b0" for line in lines])
    axes.set_yticks(positions, names, parse_math=False)
    for bar, value in zip(bars, values):
        axes.text(bar.get_width() + 0.5, bar.get_y() + bar.get_height() / 2, f"{value:.2f}", va="center",
                  fontsize=7, parse_math=False)
    axes.set_xlim(0, 105)
    axes.set_xlabel(f"{view.columns[2].header} (%)", parse_math=False)
    axes.set_title(view.title, fontsize=9, parse_math=False)
    axes.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    return _svg(figure)


def label_chart(entry: lb.Entry | None, top: int = 25) -> str:
    """The per-label F1 (gold support in brackets) of one run on its task, most frequent label on top."""
    if entry is None:
        return _empty_chart("No run selected.")
    rows = lb.per_label(entry)[:top]
    if not rows:
        return _empty_chart(f"No per-label scores for {entry.model_id} ({entry.run_id}).")
    rows = rows[::-1]
    figure, axes = _figure(max(2.5, 0.24 * len(rows) + 1.2))
    positions = list(range(len(rows)))
    axes.barh(positions, [f1 for _, f1, _ in rows], color="#4c72b0")
    axes.set_yticks(positions, [f"{label} ({support})" for label, _, support in rows], parse_math=False)
    axes.set_xlim(0, 100)
    axes.set_xlabel("F1 (%)", parse_math=False)
    axes.set_title(f"{entry.model_id} · {entry.run_id} · {entry.task}: per-label F1 (gold support)", fontsize=9,
                   parse_math=False)
    axes.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    return _svg(figure)


def run_choices(view: View) -> list[tuple[str, str]]:
    """The run selector: the view's rows in rank order (``run_id::task``)."""
    return [(f"{'-' if line.rank is None else line.rank}. {line.entry.model_id} · {line.entry.method} · "
             f"{line.entry.run_id}", f"{line.entry.run_id}::{line.entry.task}") for line in view.lines]


def find_entry(snapshot: Snapshot, value: str | None) -> lb.Entry | None:
    for entry in snapshot.entries:
        if f"{entry.run_id}::{entry.task}" == value:
            return entry
    return None
