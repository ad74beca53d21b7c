"""The DynamicNER leaderboard Space: a Gradio app over the results dataset.

It reads the runs (``results/<run_id>.json``) of a local folder or of a results dataset repo on
the Hub (``LEADERBOARD_SOURCE``; ``snapshot_download`` with the offline cache honoured), keeps the
latest run per model revision, task, metric version and prompt hash, and shows one ranked table
per task (:mod:`cascadener.publishing.leaderboard`): filters for task, language, granularity and backend,
sortable columns (click a header), and the per-label F1 of a selected run.

Run it locally against a folder, e.g. the output of ``cascadener run``::

    pip install ".[leaderboard]"
    python leaderboard/app.py --source cascadener-run          # http://127.0.0.1:7860

``--source`` (or ``LEADERBOARD_SOURCE``) also takes a results dataset repo id; ``--host`` and
``--port`` default to ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` (else 127.0.0.1:7860).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import gradio as gr
import pandas as pd

from cascadener.publishing import leaderboard as lb
from cascadener.publishing.results import GRANULARITIES

ALL = "all"
TABLE_ID = "leaderboard-table"


def load_entries(source: str) -> tuple[list[lb.Entry], list[str]]:
    """Every run of ``source`` (a folder, else a results dataset repo id); invalid files are skipped
    and reported, never silently."""
    if Path(source).exists():
        return lb.from_folder(source, skip_invalid=True)
    return lb.from_results_repo(source, skip_invalid=True)


def tasks_of(entries: list[lb.Entry], granularity: str = ALL) -> list[str]:
    """Task ids present, in the leaderboard's order, optionally of one granularity."""
    tasks = {e.task for e in entries if granularity == ALL or e.granularity == granularity}
    return sorted(tasks, key=lb.task_order)


def table(entries: list[lb.Entry], *, task: str, language: str = ALL, backend: str = ALL) -> tuple[pd.DataFrame, str]:
    """The ranked table of ``task`` (scores in percent) and a status line. With a ``language``, only runs
    scored on it are kept and they are ranked by that language's F1."""
    selected = [e for e in entries if e.task == task and (backend == ALL or e.backend == backend)]
    if language != ALL:
        selected = [lb.replace(e, f1=e.languages[language]) for e in selected if language in e.languages]
    try:
        board = lb.build(selected, source="")
    except lb.LeaderboardError as error:
        return pd.DataFrame(), f"**Not ranked:** {error}"
    rows = board.tables.get(task, [])
    languages = board.languages(task)
    score = f"F1 ({language})" if language != ALL else "F1"
    records = []
    for row in rows:
        e = row.entry
        records.append({"rank": row.rank, "model": e.model_id, score: e.f1,
                        "P": None if language != ALL else e.precision,
                        "R": None if language != ALL else e.recall,
                        **{lang: e.languages.get(lang) for lang in languages},
                        "backend": e.backend, "method": e.method, "matching": e.matching,
                        "metric": e.metric_version, "revision": e.model_revision, "run": e.run_id,
                        "date": e.date})
    status = f"{len(rows)} run(s) ranked on **{task}**"
    if board.duplicates:
        status += f"; {len(board.duplicates)} earlier duplicate run(s) hidden"
    return pd.DataFrame.from_records(records), status


def label_figure(entries: list[lb.Entry], run_task: str | None, top: int = 25):
    """A bar chart of the per-label F1 (gold support in brackets) of the selected ``run::task``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    match = [e for e in entries if f"{e.run_id}::{e.task}" == run_task]
    rows = lb.per_label(match[0])[:top] if match else []
    if not rows:
        ax.text(0.5, 0.5, "no per-label scores for this run", ha="center", va="center")
        ax.axis("off")
        return fig
    rows = rows[::-1]
    ax.barh([f"{label} ({support})" for label, _, support in rows], [f1 for _, f1, _ in rows], color="#4c72b0")
    ax.set_xlim(0, 100)
    ax.set_xlabel("F1 (%)")
    ax.set_title(f"{match[0].model_id}, {match[0].task}: per-label F1 (gold support)", fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    fig.set_size_inches(7, max(2.5, 0.24 * len(rows) + 1))
    fig.tight_layout()
    return fig


def build_app(source: str) -> gr.Blocks:
    entries, skipped = load_entries(source)
    tasks = tasks_of(entries)
    languages = lb.ordered_languages(lang for e in entries for lang in e.languages)
    backends = sorted({e.backend for e in entries})
    first_task = tasks[0] if tasks else None

    def runs_of(task: str | None) -> list[tuple[str, str]]:
        """The ranked runs of ``task``, best first (every run of it when they are not comparable)."""
        candidates = [e for e in entries if e.task == task]
        try:
            ranked = [row.entry for row in lb.build(candidates).tables.get(task, [])]
        except lb.LeaderboardError:
            ranked = candidates
        return [(f"{e.model_id} · {e.run_id}", f"{e.run_id}::{e.task}") for e in ranked]

    def refresh(task, language, backend):
        frame, status = table(entries, task=task, language=language, backend=backend) if task else (pd.DataFrame(), "")
        choices = runs_of(task)
        value = choices[0][1] if choices else None
        return frame, status, gr.update(choices=choices, value=value), label_figure(entries, value)

    def pick_granularity(granularity):
        choices = tasks_of(entries, granularity)
        return gr.update(choices=choices, value=choices[0] if choices else None)

    with gr.Blocks(title="DynamicNER leaderboard") as app:
        gr.Markdown(
            "# DynamicNER leaderboard\n"
            f"Runs from `{source}`. Scores are percent: strict micro-F1, precision and recall of `dynamicner_f1` "
            "(span and label must match); language columns are F1. Tasks: `dynamic` uses each sample's own type "
            "list, `coarse`/`medium`/`fine` one taxonomy level; `-de` etc. one language. Click a column header "
            "to sort." + (f"\n\n{len(skipped)} invalid results file(s) skipped." if skipped else ""))
        with gr.Row():
            granularity = gr.Dropdown([ALL, *GRANULARITIES], value=ALL, label="Granularity", elem_id="granularity")
            task = gr.Dropdown(tasks, value=first_task, label="Task", elem_id="task")
            language = gr.Dropdown([ALL, *languages], value=ALL, label="Language", elem_id="language")
            backend = gr.Dropdown([ALL, *backends], value=ALL, label="Backend", elem_id="backend")
        initial, status_text = table(entries, task=first_task) if first_task else (pd.DataFrame(), "no runs")
        status = gr.Markdown(status_text, elem_id="status")
        board = gr.Dataframe(value=initial, interactive=False, elem_id=TABLE_ID, label="Ranking",
                             show_search="search", wrap=False)
        choices = runs_of(first_task)
        run = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Run (per-label F1)",
                          elem_id="run")
        plot = gr.Plot(label_figure(entries, choices[0][1] if choices else None), label="Per-label F1",
                       elem_id="per-label")
        granularity.change(pick_granularity, granularity, task)
        for control in (task, language, backend):
            control.change(refresh, [task, language, backend], [board, status, run, plot])
        run.change(lambda value: label_figure(entries, value), run, plot)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=os.environ.get("LEADERBOARD_SOURCE", "results-dataset"),
                        help="folder with results/*.json or a results dataset repo id (env LEADERBOARD_SOURCE)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    args = parser.parse_args()
    # System fonts: the default theme would fetch Google Fonts, which a closed network cannot reach.
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    build_app(args.source).launch(server_name=args.host, server_port=args.port, theme=theme, show_error=True)


if __name__ == "__main__":
    main()
