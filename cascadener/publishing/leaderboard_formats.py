"""The leaderboard as a terminal table, Markdown, CSV and one self-contained HTML page.

Every format shows, per task, the ranked rows of :class:`cascadener.publishing.leaderboard.Leaderboard` with
F1, precision and recall and one F1 column per language, in percent (strict micro scores of
``dynamicner_f1`` unless the matching column says otherwise), then the de-duplicated runs.
The HTML page needs nothing from the network: its style and its column sorting (click a header)
are inline.

Example:
    >>> from cascadener.publishing.leaderboard import Entry, build
    >>> board = build([Entry(source="results/a.json", run_id="a", created_at="2026-01-01T00:00:00Z",
    ...     model_id="me/m", model_revision="local-0123456789abcdef", task="dynamic-en", f1=0.5, precision=0.4,
    ...     recall=0.6667, languages={"en": 0.5}, metric_version="dynamicner_f1 0.1.0", matching="strict")])
    >>> print(text_tables(board))
    dynamic-en (1 run)
    rank  model  revision      F1     P      R      en     backend  method   matching  metric               prompt  run
    1     me/m   local-012345  50.00  40.00  66.67  50.00  unknown  unknown  strict    dynamicner_f1 0.1.0  -       a
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from dynamicner_data.atomic import atomic_write_text

from .leaderboard import Leaderboard, Row, ordered_languages

__all__ = ["columns", "cells", "text_tables", "markdown", "csv_text", "html_page", "write_outputs"]

_BASE = ("rank", "model", "revision", "F1", "P", "R")
_TAIL = ("backend", "method", "matching", "metric", "prompt", "run")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def columns(board: Leaderboard, task: str) -> list[str]:
    """Header of ``task``'s table: rank, model, revision, F1, P, R, one column per language, then provenance."""
    return [*_BASE, *board.languages(task), *_TAIL]


def cells(board: Leaderboard, task: str, row: Row) -> list[str]:
    """One row as strings (scores in percent, two decimals; ``-`` where not scored)."""
    e = row.entry
    revision = e.model_revision[:12] if len(e.model_revision) > 12 else e.model_revision
    return [str(row.rank), e.model_id, revision, _pct(e.f1), _pct(e.precision), _pct(e.recall),
            *[_pct(e.languages.get(lang)) for lang in board.languages(task)],
            e.backend, e.method, e.matching, e.metric_version, e.prompt_hash or "-", e.run_id]


def _title(task: str, rows: list) -> str:
    return f"{task} ({len(rows)} run{'' if len(rows) == 1 else 's'})"


def _notes(board: Leaderboard) -> list[str]:
    lines = []
    for duplicate in board.duplicates:
        lines.append(f"duplicate: {duplicate.entry.source} ({duplicate.entry.task}, {duplicate.entry.created_at}) "
                     f"replaced by the later {duplicate.kept.source}")
    for skipped in board.skipped:
        lines.append(f"skipped: {skipped}")
    return lines


def text_tables(board: Leaderboard) -> str:
    """Aligned plain-text tables, one per task, for the terminal."""
    blocks = []
    for task, rows in board.tables.items():
        table = [columns(board, task), *[cells(board, task, row) for row in rows]]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in table]
        blocks.append("\n".join([_title(task, rows), *lines]))
    notes = _notes(board)
    if notes:
        blocks.append("\n".join(notes))
    return "\n\n".join(blocks)


def _md_escape(value: str) -> str:
    return value.replace("|", "\\|")


def markdown(board: Leaderboard) -> str:
    """A Markdown document: one section and table per task, then the duplicates and skips."""
    parts = ["# DynamicNER leaderboard", "",
             f"Source: `{board.source}`. Scores are percent; F1/P/R are strict micro scores of `dynamicner_f1` "
             "(span and label must match) unless the matching column says otherwise; language columns are F1.", ""]
    for task, rows in board.tables.items():
        header = columns(board, task)
        right = {"rank", "F1", "P", "R", *board.languages(task)}
        parts += [f"## {_title(task, rows)}", "", "| " + " | ".join(header) + " |",
                  "|" + "|".join(" ---: " if name in right else " --- " for name in header) + "|"]
        parts += ["| " + " | ".join(_md_escape(c) for c in cells(board, task, row)) + " |" for row in rows]
        parts.append("")
    notes = _notes(board)
    if notes:
        parts += ["## Not ranked", "", *[f"- {_md_escape(note)}" for note in notes], ""]
    return "\n".join(parts)


def csv_text(board: Leaderboard) -> str:
    """One CSV for every task: ``task`` first, then the columns of :func:`columns` (languages as ``f1_<lang>``);
    scores as fractions with full precision."""
    languages = ordered_languages(lang for task in board.tables for lang in board.languages(task))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["task", "rank", "model", "revision", "f1", "precision", "recall",
                     *[f"f1_{lang}" for lang in languages], "backend", "method", "matching", "metric", "prompt_hash",
                     "run_id", "created_at", "source"])
    for task, rows in board.tables.items():
        for row in rows:
            e = row.entry
            writer.writerow([task, row.rank, e.model_id, e.model_revision, e.f1,
                             "" if e.precision is None else e.precision, "" if e.recall is None else e.recall,
                             *["" if lang not in e.languages else e.languages[lang] for lang in languages],
                             e.backend, e.method, e.matching, e.metric_version, e.prompt_hash or "", e.run_id,
                             e.created_at, e.source])
    return out.getvalue()


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:left;white-space:nowrap}
th{background:#f6f8fa;cursor:pointer;user-select:none}th:hover{background:#eaeef2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fbfcfd}
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


def html_page(board: Leaderboard) -> str:
    """A self-contained HTML page (inline style and sorting script, no external resources)."""
    body = ["<h1>DynamicNER leaderboard</h1>",
            f"<p class=note>Source: <code>{html.escape(board.source)}</code>. Scores in percent; F1/P/R are strict "
            "micro scores of dynamicner_f1 unless the matching column says otherwise. Click a header to sort.</p>"]
    numeric = {"rank", "F1", "P", "R"}
    for task, rows in board.tables.items():
        header = columns(board, task)
        languages = set(board.languages(task))
        body.append(f"<h2 id='{html.escape(task)}'>{html.escape(_title(task, rows))}</h2>")
        body.append(f"<table class=board data-task='{html.escape(task)}'><thead><tr>"
                    + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for row in rows:
            values = cells(board, task, row)
            body.append("<tr>" + "".join(
                f"<td class=num>{html.escape(v)}</td>" if h in numeric or h in languages else f"<td>{html.escape(v)}</td>"
                for h, v in zip(header, values)) + "</tr>")
        body.append("</tbody></table>")
    notes = _notes(board)
    if notes:
        body.append("<h2>Not ranked</h2><ul class=note>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                    + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>DynamicNER leaderboard</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + f"\n<script>{_SCRIPT}</script></body></html>\n")


def write_outputs(board: Leaderboard, output_dir: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.html`` (each atomically)."""
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return {"markdown": atomic_write_text(folder / "leaderboard.md", markdown(board)),
            "csv": atomic_write_text(folder / "leaderboard.csv", csv_text(board)),
            "html": atomic_write_text(folder / "leaderboard.html", html_page(board))}
