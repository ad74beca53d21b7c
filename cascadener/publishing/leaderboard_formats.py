"""The leaderboard as a terminal table, Markdown, CSV and one self-contained HTML page.

Every format shows, per task, the rows of :class:`cascadener.publishing.leaderboard.Leaderboard`:
rank, model, revision, F1, precision and recall and one F1 column per language, all in percent
with two decimals (strict micro scores of ``dynamicner_f1`` unless the matching column says
otherwise), the date (UTC), the badges (verified, community, source; reduced, incomplete or
unrecorded for a run shown without a rank), then provenance; after the tables, the runs not ranked
(duplicates, hidden runs, files skipped) and the Hub entries of other tools, each as the Hub has it.
Revisions are cut to short labels that stay distinct (the CSV keeps them whole). Every name, id and
label written into Markdown or HTML is escaped. The HTML page needs nothing from the network: its
style and its column sorting (click a header) are inline.

Example:
    >>> from cascadener.publishing.leaderboard import Entry, build, parse_instant
    >>> board = build([Entry(source="results/a.json", run_id="a", created_at=parse_instant("2026-01-01T00:00:00Z"),
    ...     model_id="me/m", model_revision="local-0123456789abcdef", task="dynamic-en", f1=50.0, precision=40.0,
    ...     recall=66.67, languages={"en": 50.0}, metric_version="dynamicner_f1 0.1.0", matching="strict")])
    >>> print(text_tables(board))
    dynamic-en (1 run)
    rank  model  revision      F1     P      R      en     date        badges  backend  method   matching  metric               prompt  run
    1     me/m   local-012345  50.00  40.00  66.67  50.00  2026-01-01  -       unknown  unknown  strict    dynamicner_f1 0.1.0  -       a
    >>> markdown_escape("<img src=x onerror=alert(7)>|*_")
    '\\\\<img src=x onerror=alert(7)\\\\>\\\\|\\\\*\\\\_'
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timezone
from pathlib import Path

from dynamicner_data.atomic import atomic_paths

from .leaderboard import BADGES, Leaderboard, Row, ordered_languages

__all__ = ["columns", "cells", "notes", "text_tables", "markdown", "markdown_escape", "csv_text", "html_page",
           "write_outputs"]

_BASE = ("rank", "model", "revision", "F1", "P", "R")
_TAIL = ("date", "badges", "backend", "method", "matching", "metric", "prompt", "run")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~&$])")


def _pct(value: float | None) -> str:
    """A percent value of an entry (already rounded to two decimals) as text."""
    return "-" if value is None else f"{value:.2f}"


def _plain(value: str) -> str:
    """Text for the terminal: control characters (escape sequences included) shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", value)


def markdown_escape(value: str) -> str:
    """``value`` as literal Markdown text: every character Markdown (and the HTML it may hold) reads as
    syntax is backslash-escaped, control characters and line breaks replaced.

    >>> markdown_escape("org/model_v1 [beta]")
    'org/model\\\\_v1 \\\\[beta\\\\]'
    """
    return _MARKDOWN.sub(r"\\\1", _plain(value))


def columns(board: Leaderboard, task: str) -> list[str]:
    """Header of ``task``'s table: rank, model, revision, F1, P, R, one column per language, date, badges,
    then provenance."""
    return [*_BASE, *board.languages(task), *_TAIL]


def cells(board: Leaderboard, task: str, row: Row, labels: dict[str, str] | None = None) -> list[str]:
    """One row as strings: scores in percent with two decimals (``-`` where not scored), the revision's
    distinct short label, the UTC date, the badges (``-`` for none), a rank of ``-`` for a run not ranked."""
    e = row.entry
    labels = labels if labels is not None else board.revision_labels()
    return [str(row.rank) if row.rank is not None else "-", e.model_id, labels.get(e.model_revision, e.model_revision),
            _pct(e.f1), _pct(e.precision), _pct(e.recall),
            *[_pct(e.languages.get(lang)) for lang in board.languages(task)],
            e.date or "-", ", ".join(e.badges) or "-", e.backend, e.method, e.matching, e.metric_version,
            e.prompt_hash or "-", e.run_id]


def _title(task: str, rows: list[Row]) -> str:
    ranked = sum(row.rank is not None for row in rows)
    title = f"{task} ({ranked} run{'' if ranked == 1 else 's'}"
    shown = len(rows) - ranked
    return title + (f", {shown} not ranked)" if shown else ")")


def notes(board: Leaderboard) -> list[str]:
    """What is not ranked, one line each: duplicates, hidden runs (reduced, incomplete, unrecorded),
    files skipped, then the Hub entries of other tools with their own value."""
    lines = []
    for duplicate in board.duplicates:
        lines.append(f"duplicate: {duplicate.entry.source} ({duplicate.entry.task}, {duplicate.entry.date or 'no date'}) "
                     f"replaced by the later {duplicate.kept.source}")
    for entry in board.hidden:
        lines.append(f"not ranked: {entry.source} ({entry.task}, {entry.model_id}): {entry.coverage.describe()}")
    for skipped in board.skipped:
        lines.append(f"skipped: {skipped}")
    for item in board.external:
        task = f", task {item.hub.task}" if item.hub.task else ""
        badges = f" [{', '.join(item.badges)}]" if item.badges else ""
        lines.append(f"on the Hub, not ranked here: {item.model_id}: {item.value} (Hub rank {item.hub.rank}{task}, "
                     f"{item.date or 'no date'}){badges}, {item.hub.filename or 'no file'}"
                     + (f", source {item.hub.source_url}" if item.hub.source_url else "")
                     + (f", notes {item.hub.notes!r}" if item.hub.notes else "") + f": {item.reason}")
    return lines


def _hidden_hint(board: Leaderboard) -> list[str]:
    if not board.hidden:
        return []
    runs = len({entry.run_id for entry in board.hidden})
    return [f"{len(board.hidden)} row(s) of {runs} run(s) not ranked (not every sentence of the split predicted): "
            "listed above; --include-unranked shows them in the tables, without a rank"]


def text_tables(board: Leaderboard) -> str:
    """Aligned plain-text tables, one per task, for the terminal."""
    blocks = []
    labels = board.revision_labels()
    for task, rows in board.tables.items():
        table = [columns(board, task), *[[_plain(c) for c in cells(board, task, row, labels)] for row in rows]]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in table]
        blocks.append("\n".join([_title(task, rows), *lines]))
    extra = [_plain(line) for line in notes(board)] + _hidden_hint(board)
    if extra:
        blocks.append("\n".join(extra))
    return "\n\n".join(blocks)


def _legend(board: Leaderboard) -> list[str]:
    used = {badge for rows in board.tables.values() for row in rows for badge in row.entry.badges}
    used |= {badge for item in board.external for badge in item.badges}
    return [f"{name}: {meaning}" for name, meaning in BADGES.items() if name in used]


def markdown(board: Leaderboard) -> str:
    """A Markdown document: one section and table per task, then what is not ranked. Every value escaped."""
    parts = ["# DynamicNER leaderboard", "",
             f"Source: {markdown_escape(board.source)}. Scores are percent with two decimals; F1/P/R are strict "
             "micro scores of dynamicner\\_f1 (span and label must match) unless the matching column says "
             "otherwise; language columns are F1. Dates are UTC.", ""]
    legend = _legend(board)
    if legend:
        parts += ["Badges: " + "; ".join(markdown_escape(line) for line in legend) + ".", ""]
    labels = board.revision_labels()
    for task, rows in board.tables.items():
        header = columns(board, task)
        right = {"rank", "F1", "P", "R", *board.languages(task)}
        parts += [f"## {markdown_escape(_title(task, rows))}", "",
                  "| " + " | ".join(markdown_escape(h) for h in header) + " |",
                  "|" + "|".join(" ---: " if name in right else " --- " for name in header) + "|"]
        parts += ["| " + " | ".join(markdown_escape(c) for c in cells(board, task, row, labels)) + " |" for row in rows]
        parts.append("")
    extra = notes(board) + _hidden_hint(board)
    if extra:
        parts += ["## Not ranked", "", *[f"- {markdown_escape(note)}" for note in extra], ""]
    return "\n".join(parts)


def csv_text(board: Leaderboard) -> str:
    """One CSV for every task: ``task`` first, then rank (empty for a run not ranked), model, the whole
    revision, F1/precision/recall and ``f1_percent_<lang>`` in percent with two decimals, the date (ISO,
    UTC), status and badges, provenance and the source."""
    languages = ordered_languages(lang for task in board.tables for lang in board.languages(task))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["task", "rank", "model", "revision", "f1_percent", "precision_percent", "recall_percent",
                     *[f"f1_percent_{lang}" for lang in languages], "created_at", "status", "badges", "backend",
                     "method", "matching", "metric", "prompt_hash", "run_id", "source"])
    for task, rows in board.tables.items():
        for row in rows:
            e = row.entry
            created = "" if e.created_at is None else e.created_at.astimezone(timezone.utc).isoformat()
            writer.writerow([task, "" if row.rank is None else row.rank, e.model_id, e.model_revision, _num(e.f1),
                             _num(e.precision), _num(e.recall), *[_num(e.languages.get(lang)) for lang in languages],
                             created, e.status, " ".join(e.badges), e.backend, e.method, e.matching, e.metric_version,
                             e.prompt_hash or "", e.run_id, e.source_url or e.source])
    return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:left;white-space:nowrap}
th{background:#f6f8fa;cursor:pointer;user-select:none}th:hover{background:#eaeef2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fbfcfd}
tr.unranked td{color:#57606a;font-style:italic}
.badge{display:inline-block;border:1px solid #d0d7de;border-radius:1em;padding:0 .45em;margin-right:.2em;font-size:.75rem}
.note{color:#57606a;font-size:.85rem}
"""

_SCRIPT = """
document.querySelectorAll("table.board").forEach(function(table){
  table.querySelectorAll("th").forEach(function(th, index){
    th.addEventListener("click", function(){
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var ascending = th.dataset.order !== "asc";
      th.dataset.order = ascending ? "asc" : "desc";
      rows.sort(function(a, b){
        var x = a.cells[index].innerText, y = b.cells[index].innerText;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? c : -c;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});
"""


def _e(value: str) -> str:
    return html.escape(_plain(value), quote=True)


def html_page(board: Leaderboard) -> str:
    """A self-contained HTML page (inline style and sorting script, no external resources). Every value is
    escaped; the revision cell's title holds the whole revision, the date cell's the whole instant."""
    body = ["<h1>DynamicNER leaderboard</h1>",
            f"<p class=\"note\">Source: <code>{_e(board.source)}</code>. Scores in percent with two decimals; F1/P/R "
            "are strict micro scores of dynamicner_f1 unless the matching column says otherwise. Dates are UTC. Click "
            "a header to sort.</p>"]
    legend = _legend(board)
    if legend:
        body.append("<p class=\"note\">Badges: " + "; ".join(_e(line) for line in legend) + ".</p>")
    labels = board.revision_labels()
    for task, rows in board.tables.items():
        header = columns(board, task)
        numeric = {"rank", "F1", "P", "R", *board.languages(task)}
        body.append(f"<h2 id=\"{_e(task)}\">{_e(_title(task, rows))}</h2>")
        body.append(f"<table class=\"board\" data-task=\"{_e(task)}\"><thead><tr>"
                    + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for row in rows:
            e = row.entry
            values = cells(board, task, row, labels)
            out = []
            for name, value in zip(header, values):
                if name == "revision":
                    out.append(f"<td title=\"{_e(e.model_revision)}\"><code>{_e(value)}</code></td>")
                elif name == "date" and e.created_at is not None:
                    out.append(f"<td title=\"{_e(e.created_at.astimezone(timezone.utc).isoformat())}\">{_e(value)}</td>")
                elif name == "badges":
                    out.append("<td>" + "".join(f"<span class=\"badge\" title=\"{_e(BADGES[b])}\">{_e(b)}</span>"
                                                for b in e.badges) + "</td>")
                elif name in numeric:
                    out.append(f"<td class=\"num\">{_e(value)}</td>")
                else:
                    out.append(f"<td>{_e(value)}</td>")
            css = "" if row.rank is not None else " class=\"unranked\""
            body.append(f"<tr{css}>" + "".join(out) + "</tr>")
        body.append("</tbody></table>")
    extra = notes(board) + _hidden_hint(board)
    if extra:
        body.append("<h2>Not ranked</h2><ul class=\"note\">" + "".join(f"<li>{_e(n)}</li>" for n in extra) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>DynamicNER leaderboard</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + f"\n<script>{_SCRIPT}</script></body></html>\n")


def write_outputs(board: Leaderboard, output_dir: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.html`` as one set: all three
    replace the earlier ones together, or (on any error) none does."""
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"markdown": markdown(board), "csv": csv_text(board), "html": html_page(board)}
    paths = {"markdown": folder / "leaderboard.md", "csv": folder / "leaderboard.csv",
             "html": folder / "leaderboard.html"}
    with atomic_paths(list(paths.values())) as partials:
        for partial, text in zip(partials, texts.values()):
            partial.write_text(text, encoding="utf-8")
    return paths
