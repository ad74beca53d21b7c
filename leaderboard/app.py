"""The DynamicNER leaderboard Space: a Gradio app over CascadeNER results.

It shows the runs of a results source, ranked by :mod:`cascadener.publishing.leaderboard` (the
Space only filters, sorts and draws what that reader ranks):

- a local folder or a results dataset repo on the Hub holding ``results/<run_id>.json``
  (``--from results``, the default; a repo is fetched with ``snapshot_download``, from the local
  cache with ``HF_HUB_OFFLINE=1``);
- the Hub's own leaderboard of the benchmark dataset (``--from benchmark``), whose entries link
  the results JSONs they were published from; other tools' entries are listed as the Hub has them.

The table pins rank, model (linked to its Hub page), score and date; a column selector adds the
other columns; a click on a header sorts by it. Filters (task or the cross-task average,
language, backend, scoring, search, reduced and incomplete runs) drive the table, the score chart,
the run selector and the per-label chart together. ``Refresh`` reads the source again.

Run it locally against a folder, e.g. the output of ``cascadener run``::

    python leaderboard/app.py --source cascadener-run          # http://127.0.0.1:7860

``--source`` / ``LEADERBOARD_SOURCE`` and ``--from`` / ``LEADERBOARD_FROM`` name the source;
``--host`` and ``--port`` default to ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` (else
127.0.0.1:7860). Without a source, or with one that holds no runs or cannot be reached, the Space
still starts and says so.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import gradio as gr

sys.path.insert(0, str(Path(__file__).resolve().parent))  # leaderboard_view.py beside this file

from cascadener.publishing import leaderboard as lb  # noqa: E402
from dynamicner_data import CITATION  # noqa: E402
from cascadener.publishing.results import GRANULARITIES  # noqa: E402
from leaderboard_view import (  # noqa: E402
    ALL,
    DEFAULT_GROUPS,
    GROUPS,
    MAX_AGE,
    SOURCE_KINDS,
    TABLE_ID,
    Filters,
    Runs,
    Snapshot,
    View,
    build_view,
    csv_of,
    default_descending,
    find_entry,
    label_chart,
    render_external,
    render_status,
    render_table,
    run_choices,
    score_chart,
    scoring_of,
    task_choices,
)


# --------------------------------------------------------------------------------------------- pages

ABOUT = """\
## About

DynamicNER is a multilingual (en, es, fr, ru, de, zh, ja, ko), fine-grained NER benchmark with a
three-level hierarchy of 155 entity types, where each sample brings its own list of candidate
types. This leaderboard ranks systems on its tasks:

| task | scored view |
| --- | --- |
| `dynamic` | every language, each sample's own type list |
| `dynamic-<lang>` | one language |
| `coarse`, `medium`, `fine` | one taxonomy level (8 / 31 / 155 types) |
| `<level>-<lang>` | one language at one level |

**Score**: strict micro-F1 of the `dynamicner_f1` metric (span and label must match), in percent
with two decimals; P and R are its precision and recall, language columns the F1 on one language.
**Average**: the mean F1 over the granularities of one scope (e.g. `dynamic`, `coarse`, `medium`,
`fine`), for setups ranked in every one of them.

**Which runs are ranked**: for one model revision, task, metric version, prompt, backend and
method, the latest run counts and earlier ones are reported as duplicates. Runs scored with
another metric version or matching are never ranked together (pick one in *Scoring*). Only full
runs (every sentence of the test split predicted) are ranked: reduced (`--max-test`) and
incomplete runs are hidden, or listed unranked with their badge when you ask for them.

**Badges**: *verified*: the Hub verified the result; *community*: published as an open pull
request on the model repo; *source*: links the run's results JSON; *reduced*, *incomplete*,
*unrecorded*: not ranked with full runs.
"""

SUBMIT = """\
## How to submit

1. Evaluate your model with the CascadeNER kit on the full test split (no `--max-test`):
   `cascadener run -o my-run` (train and score) or `cascadener evaluate` on your predictions. Each
   run writes `results/<run_id>.json` (schema `cascadener-results/3`).
2. Publish it: `cascadener push-results my-run/results/<run_id>.json --model-id ME/MODEL
   --benchmark-id ORG/DynamicNER --results-repo ORG/dynamicner-results`. This uploads the results
   JSON to the results dataset and writes `.eval_results/` to your model repo, which the Hub
   collects into the benchmark's leaderboard. For a model you do not own, add `--create-pr`: the
   result shows as *community* while the pull request is open. Try it first with `--dry-run`.
3. Press **Refresh** here: the run appears without a restart of the Space.

Reduced or interrupted runs are refused by `push-results` and never ranked with full runs.
"""

CSS = """
.lb-scroll { overflow-x: auto; max-height: 70vh; overflow-y: auto; border: 1px solid var(--border-color-primary); }
.lb-table { border-collapse: separate; border-spacing: 0; font-size: 0.9rem; width: max-content; min-width: 100%; }
.lb-table th, .lb-table td { padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--border-color-primary);
  white-space: nowrap; text-align: left; background: var(--background-fill-primary); }
.lb-table thead th { position: sticky; top: 0; z-index: 2; background: var(--background-fill-secondary); }
.lb-table th button { all: unset; cursor: pointer; font-weight: 600; }
.lb-table a, .lb-external a { color: var(--link-text-color); text-decoration: underline; }
.lb-table a.lb-badge { text-decoration: none; }
.lb-table th button:focus-visible { outline: 2px solid var(--color-accent); }
.lb-table td.lb-number, .lb-table td.lb-score, .lb-table td.lb-rank { text-align: right; font-variant-numeric: tabular-nums; }
.lb-table td.lb-score { font-weight: 600; }
.lb-pin { position: sticky; z-index: 1; }
.lb-table thead th.lb-pin { z-index: 3; }
.lb-pin-0 { left: 0; width: 2.5rem; min-width: 2.5rem; max-width: 2.5rem; }
.lb-pin-1 { left: 2.5rem; width: 22rem; min-width: 22rem; max-width: 22rem; white-space: normal !important;
  overflow-wrap: anywhere; }
.lb-pin-2 { left: 24.5rem; width: 5.5rem; min-width: 5.5rem; max-width: 5.5rem; }
.lb-pin-3 { left: 30rem; width: 6.5rem; min-width: 6.5rem; max-width: 6.5rem;
  box-shadow: 2px 0 0 var(--border-color-primary); }
.lb-unranked td { color: var(--body-text-color-subdued); }
.lb-badges { margin-left: 0.4rem; }
.lb-badge { display: inline-block; font-size: 0.7rem; padding: 0 0.35rem; margin-right: 0.2rem; border-radius: 0.6rem;
  border: 1px solid currentColor; text-decoration: none; }
.lb-badge-verified { color: #1a7f37; } .lb-badge-community { color: #9a6700; } .lb-badge-source { color: #0969da; }
.lb-badge-reduced, .lb-badge-incomplete, .lb-badge-unrecorded { color: #cf222e; }
.lb-missing { margin-left: 0.4rem; font-size: 0.75rem; color: var(--body-text-color-subdued); }
.lb-empty { padding: 1.5rem; text-align: center; color: var(--body-text-color-subdued);
  border: 1px dashed var(--border-color-primary); }
.lb-status ul { margin: 0.2rem 0 0 1.2rem; font-size: 0.85rem; } .lb-source { font-size: 0.8rem; }
.lb-chart svg { max-width: 100%; height: auto; }
"""

#: System fonts: the default theme would fetch web fonts, which a closed network cannot reach.
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])

SORT_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('th[data-column] button');
  if (button) trigger('sort', {column: button.closest('th').dataset.column});
});
"""


def _csv_file(view: View, folder: Path, sort: tuple[str, bool] | None = None) -> str:
    text = csv_of(view, sort)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", view.title).strip("-")[:60] or "leaderboard"
    path = folder / f"dynamicner-leaderboard-{slug}-{hashlib.sha256(text.encode()).hexdigest()[:10]}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return str(path)


def build_app(source: str | None = None, *, kind: str = "results", max_age: float = MAX_AGE,
              runs: Runs | None = None) -> gr.Blocks:
    """The Space over ``source`` (or an already read ``runs``). It never raises for the source: without
    runs it shows why. Launch it with :data:`THEME` and :data:`CSS` (:func:`main` does)."""
    runs = runs or Runs(source, kind, max_age=max_age)
    downloads = Path(tempfile.mkdtemp(prefix="dynamicner-leaderboard-"))

    def options(snapshot: Snapshot, granularity: str = ALL) -> dict[str, Any]:
        entries = snapshot.entries
        tasks = task_choices(entries, granularity)
        languages = lb.ordered_languages(lang for e in entries for lang in e.languages)
        return {"tasks": tasks, "languages": [ALL, *languages], "backends": [ALL, *sorted({e.backend for e in entries})],
                "scorings": [ALL, *sorted({scoring_of(e) for e in entries})]}

    def outputs(snapshot: Snapshot, filters: Filters, groups: Sequence[str], sort: tuple[str, bool] | None,
                run_value: str | None = None):
        view = build_view(snapshot, filters) if filters.task or snapshot.problem else View(
            title="No task", problem="Pick a task.")
        choices = run_choices(view)
        values = [value for _, value in choices]
        chosen = run_value if run_value in values else (values[0] if values else None)
        return (render_status(view, snapshot), render_table(view, groups, sort), render_external(view),
                score_chart(view), gr.update(choices=choices, value=chosen),
                label_chart(find_entry(snapshot, chosen)), gr.update(value=_csv_file(view, downloads, sort)))

    snapshot = runs.snapshot
    first = options(snapshot)
    first_task = first["tasks"][0][1] if first["tasks"] else ""
    with gr.Blocks(title="DynamicNER leaderboard") as app:
        gr.Markdown("# DynamicNER leaderboard\nNamed entity recognition systems ranked on DynamicNER: "
                    "strict micro-F1 in percent. See *About* for what is ranked and *How to submit* to add a run.")
        sort_state = gr.State(("rank", False))
        with gr.Tabs():
            with gr.Tab("Leaderboard", id="leaderboard"):
                with gr.Row():
                    granularity = gr.Dropdown([ALL, *GRANULARITIES], value=ALL, label="Granularity",
                                              elem_id="granularity", scale=1)
                    task = gr.Dropdown(first["tasks"], value=first_task or None, label="Task", elem_id="task", scale=2)
                    language = gr.Dropdown(first["languages"], value=ALL, label="Language", elem_id="language",
                                           scale=1)
                    backend = gr.Dropdown(first["backends"], value=ALL, label="Backend", elem_id="backend", scale=1)
                    scoring = gr.Dropdown(first["scorings"], value=ALL, label="Scoring", elem_id="scoring", scale=1)
                with gr.Row():
                    search = gr.Textbox(label="Search", placeholder="model, run, backend or method",
                                        elem_id="search", scale=3)
                    unranked = gr.Checkbox(False, label="Show reduced and incomplete runs", elem_id="unranked",
                                           scale=1)
                    refresh = gr.Button("↻ Refresh", elem_id="refresh", scale=0, min_width=120)
                    download = gr.DownloadButton("⬇ CSV", elem_id="download", scale=0, min_width=120)
                columns = gr.CheckboxGroup(list(GROUPS), value=list(DEFAULT_GROUPS), label="Columns",
                                           elem_id="columns")
                status = gr.HTML(elem_id="status", js_on_load=None)
                table = gr.HTML(elem_id=TABLE_ID, js_on_load=SORT_JS, apply_default_css=False)
                external = gr.HTML(elem_id="external", js_on_load=None, apply_default_css=False)
                with gr.Row():
                    with gr.Column():
                        scores = gr.HTML(elem_id="score-chart", elem_classes=["lb-chart"], js_on_load=None)
                    with gr.Column():
                        run = gr.Dropdown([], label="Run (per-label F1)", elem_id="run")
                        per_label = gr.HTML(elem_id="per-label", elem_classes=["lb-chart"], js_on_load=None)
            with gr.Tab("About", id="about"):
                gr.Markdown(ABOUT)
            with gr.Tab("How to submit", id="submit"):
                gr.Markdown(SUBMIT)
            with gr.Tab("Citation", id="citation"):
                gr.Markdown("Please cite the DynamicNER paper when you use this benchmark:")
                gr.Code(CITATION.strip(), language=None, label="BibTeX", elem_id="citation", interactive=False)

        filter_inputs = [task, language, backend, scoring, search, unranked]
        view_outputs = [status, table, external, scores, run, per_label, download]

        def filters_of(task_value, language_value, backend_value, scoring_value, search_value, unranked_value):
            return Filters(task=task_value or "", language=language_value or ALL, backend=backend_value or ALL,
                           scoring=scoring_value or ALL, search=search_value or "", unranked=bool(unranked_value))

        def on_filters(*values):
            *filter_values, groups, sort, run_value = values
            return outputs(runs.snapshot, filters_of(*filter_values), groups, sort, run_value)

        def on_sort(task_value, language_value, backend_value, scoring_value, search_value, unranked_value, groups,
                    sort, evt: gr.EventData):
            view = build_view(runs.snapshot, filters_of(task_value, language_value, backend_value, scoring_value,
                                                          search_value, unranked_value))
            by_key = {c.key: c for c in view.columns}
            column = getattr(evt, "column", None)
            column = column if column in by_key else "rank"
            current, descending = sort
            sort = (column, not descending if column == current else default_descending(by_key[column]))
            return sort, render_table(view, groups, sort), gr.update(value=_csv_file(view, downloads, sort))

        def on_granularity(value, current):
            choices = task_choices(runs.snapshot.entries, value or ALL)
            values = [v for _, v in choices]
            return gr.update(choices=choices, value=current if current in values else (values[0] if values else None))

        def on_reload(granularity_value, *values, fresh: bool):
            snapshot = runs.reload() if fresh else runs.current()
            *filter_values, groups, sort, run_value = values
            opts = options(snapshot, granularity_value or ALL)
            task_values = [v for _, v in opts["tasks"]]
            task_value = filter_values[0] if filter_values[0] in task_values else (task_values[0] if task_values else "")
            keep = {"language": "languages", "backend": "backends", "scoring": "scorings"}
            picked = [value if value in opts[name] else ALL
                      for value, name in zip(filter_values[1:4], keep.values())]
            filters = filters_of(task_value, *picked, *filter_values[4:])
            return (gr.update(choices=opts["tasks"], value=task_value or None),
                    gr.update(choices=opts["languages"], value=picked[0]),
                    gr.update(choices=opts["backends"], value=picked[1]),
                    gr.update(choices=opts["scorings"], value=picked[2]),
                    *outputs(snapshot, filters, groups, sort, run_value))

        reload_inputs = [granularity, *filter_inputs, columns, sort_state, run]
        reload_outputs = [task, language, backend, scoring, *view_outputs]
        # One queue for every event that renders the view: each runs after the ones triggered before it, so a
        # filter change that starts before a refresh never overwrites the refreshed table with the old runs.
        serial = {"concurrency_id": "view", "concurrency_limit": 1}
        app.load(lambda *v: on_reload(*v, fresh=False), reload_inputs, reload_outputs, **serial)
        refresh.click(lambda *v: on_reload(*v, fresh=True), reload_inputs, reload_outputs, **serial)
        granularity.change(on_granularity, [granularity, task], task, **serial)
        for control in (task, language, backend, scoring, unranked, columns):
            control.change(on_filters, [*filter_inputs, columns, sort_state, run], view_outputs, **serial)
        search.submit(on_filters, [*filter_inputs, columns, sort_state, run], view_outputs, **serial)
        search.blur(on_filters, [*filter_inputs, columns, sort_state, run], view_outputs, **serial)
        table.sort(on_sort, [*filter_inputs, columns, sort_state], [sort_state, table, download], **serial)
        run.change(lambda value: label_chart(find_entry(runs.snapshot, value)), run, per_label, **serial)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=os.environ.get("LEADERBOARD_SOURCE"),
                        help="a folder with results/*.json, a results dataset repo id, or with --from benchmark the "
                             "benchmark dataset's repo id (env LEADERBOARD_SOURCE)")
    parser.add_argument("--from", dest="kind", choices=SOURCE_KINDS,
                        default=os.environ.get("LEADERBOARD_FROM", "results"),
                        help="results (a folder or results dataset) or benchmark (the Hub's leaderboard of the "
                             "benchmark dataset); env LEADERBOARD_FROM")
    # string defaults go through type=, so a bad environment value is a usage error, not a traceback
    parser.add_argument("--max-age", type=float, default=os.environ.get("LEADERBOARD_MAX_AGE", str(MAX_AGE)),
                        help="seconds a read of the source serves new pages before it is read again "
                             "(env LEADERBOARD_MAX_AGE; Refresh reads at once)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=os.environ.get("GRADIO_SERVER_PORT", "7860"))
    args = parser.parse_args(argv)
    if args.kind not in SOURCE_KINDS:  # argparse checks choices on the command line, not on a default
        parser.error(f"LEADERBOARD_FROM: invalid choice {args.kind!r} (choose from {', '.join(SOURCE_KINDS)})")
    runs = Runs(args.source, args.kind, max_age=args.max_age)
    if runs.snapshot.problem:
        print(f"leaderboard: no runs yet: {runs.snapshot.problem}", flush=True)
    build_app(runs=runs).launch(server_name=args.host, server_port=args.port, show_error=True, theme=THEME, css=CSS)


if __name__ == "__main__":
    main()
