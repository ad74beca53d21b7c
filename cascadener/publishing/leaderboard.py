"""The DynamicNER leaderboard: collect runs, check and de-duplicate them, rank them per task.

Three sources give the same :class:`Entry` rows:

- :func:`from_folder`: a local folder laid out like the results dataset (``results/<run_id>.json``,
  which ``cascadener push-results`` uploads and ``cascadener run`` writes into its output folder);
- :func:`from_results_repo`: that dataset on the Hub, fetched with
  :func:`huggingface_hub.snapshot_download` (with ``HF_HUB_OFFLINE=1`` it reads the local cache);
- :func:`from_benchmark`: the Hub's own leaderboard of the benchmark dataset
  (:meth:`huggingface_hub.HfApi.get_dataset_leaderboard`), built from the models'
  ``.eval_results`` files; :func:`entries_from_leaderboard` reads the ``notes`` we write there.

:func:`build` then keeps, for each model revision, task, metric version and prompt hash (and
backend and method), the latest run and reports the others as duplicates; refuses to rank runs
together whose metric version or matching mode differ (:class:`LeaderboardError`, naming the
files); and ranks each task by F1 (equal scores share a rank), with per-language F1 columns.

Example:
    >>> a = Entry(source="a.json", run_id="a", created_at="2026-01-01T00:00:00Z", model_id="m1", model_revision="r1",
    ...     task="dynamic", f1=0.5, languages={"en": 0.5}, metric_version="0.1.0", matching="strict", prompt_hash="p")
    >>> b = Entry(**{**a.__dict__, "source": "b.json", "run_id": "b", "model_id": "m2", "f1": 0.7})
    >>> old = Entry(**{**a.__dict__, "source": "old.json", "run_id": "old", "created_at": "2025-01-01T00:00:00Z"})
    >>> board = build([a, b, old])
    >>> [(row.rank, row.entry.model_id) for row in board.tables["dynamic"]], [d.entry.source for d in board.duplicates]
    ([(1, 'm2'), (2, 'm1')], ['old.json'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from dynamicner_data import LANGUAGES

from cascadener.publishing.results import (GRANULARITIES, ResultsError, RunResults, label_scores, load_results,
                                           parse_task_id)

__all__ = ["Entry", "Row", "Duplicate", "Leaderboard", "LeaderboardError", "entries_from_results", "from_folder",
           "from_results_repo", "from_benchmark", "entries_from_leaderboard", "parse_notes", "build", "per_label",
           "granularity_of", "task_order", "ordered_languages"]



class LeaderboardError(ValueError):
    """Runs that cannot be read or ranked together; the message names the files."""


@dataclass
class Entry:
    """One task's score of one run (F1 etc. as fractions; ``None`` where the source does not say)."""

    source: str
    run_id: str
    created_at: str
    model_id: str
    model_revision: str
    task: str
    f1: float
    precision: float | None = None
    recall: float | None = None
    languages: dict[str, float] = field(default_factory=dict)
    metric_version: str = "unknown"
    matching: str = "unknown"
    prompt_hash: str | None = None
    backend: str = "unknown"
    method: str = "unknown"
    dataset_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    results: RunResults | None = field(default=None, repr=False, compare=False)

    @property
    def granularity(self) -> str:
        return granularity_of(self.task)

    @property
    def key(self) -> tuple:
        """What makes two runs the same measurement (the later replaces the earlier): model revision, task,
        metric version and prompt hash, and also the backend and method (another method is another result)."""
        return (self.model_id, self.model_revision, self.task, self.metric_version, self.prompt_hash, self.backend,
                self.method)


@dataclass
class Row:
    rank: int
    entry: Entry


@dataclass
class Duplicate:
    entry: Entry
    kept: Entry


@dataclass
class Leaderboard:
    """Ranked rows per task, the duplicates dropped, and the files skipped (``--skip-invalid``)."""

    source: str
    tables: dict[str, list[Row]]
    duplicates: list[Duplicate] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def languages(self, task: str) -> list[str]:
        """The per-language columns of ``task``: every language any of its rows scored, in paper order."""
        return ordered_languages({lang for row in self.tables.get(task, []) for lang in row.entry.languages})


def ordered_languages(languages: Iterable[str]) -> list[str]:
    """``languages`` without repeats: DynamicNER's in the paper's order (:data:`dynamicner_data.LANGUAGES`),
    then any other in alphabetical order.

    >>> ordered_languages(["ko", "xx", "en", "de", "en"])
    ['en', 'de', 'ko', 'xx']
    """
    seen = set(languages)
    return [lang for lang in LANGUAGES if lang in seen] + sorted(seen - set(LANGUAGES))


def granularity_of(task: str) -> str:
    """``dynamic``, ``coarse``, ``medium``, ``fine`` (or ``custom``) of a task id.

    >>> granularity_of("fine-de"), granularity_of("dynamic[en+ja]"), granularity_of("custom[x]")
    ('fine', 'dynamic', 'custom')
    """
    parts = parse_task_id(task)
    return "custom" if parts is None else parts[1]


def entries_from_results(results: RunResults, *, source: str) -> list[Entry]:
    """One :class:`Entry` per task in the run's ``scores``."""
    return [
        Entry(source=source, run_id=results.run_id, created_at=results.created_at,
              model_id=str(results.model.get("id")), model_revision=str(results.model.get("revision")),
              task=task, f1=float(score["f1"]), precision=float(score["precision"]), recall=float(score["recall"]),
              languages={k: float(v) for k, v in score.get("languages", {}).items()},
              metric_version=f"{results.metric.get('name')} {results.metric.get('version')}",
              matching=str(results.metric.get("matching")), prompt_hash=results.prompt.get("hash"),
              backend=str(results.pipeline.get("backend")), method=str(results.pipeline.get("method")),
              dataset_id=str(results.dataset.get("id")),
              extra={"config": results.dataset.get("config"), "limit": results.dataset.get("limit_per_language")},
              results=results)
        for task, score in results.scores.items()
    ]


def per_label(entry: Entry) -> list[tuple[str, float, int]]:
    """``(label, F1, gold support)`` of the run behind ``entry`` for its task, most frequent first
    (empty when the source has no per-label scores, e.g. the Hub leaderboard). The main job stores
    the coarse/medium/fine columns under a ``<granularity>/`` prefix, the dynamic column without one.

    >>> r = RunResults(run_id="r", created_at="2026-01-01T00:00:00Z", model={}, dataset={}, metric={}, prompt={},
    ...     metrics={"label/city/f1": 0.5, "label/city/support": 2.0, "fine/label/poet/f1": 1.0,
    ...              "fine/label/poet/support": 1.0, "fine/f1": 1.0})
    >>> per_label(Entry(source="", run_id="r", created_at="", model_id="m", model_revision="x", task="fine", f1=1.0,
    ...     results=r))
    [('poet', 1.0, 1)]
    """
    if entry.results is None:
        return []
    metrics = entry.results.metrics
    granularity = entry.granularity
    prefix = f"{granularity}/" if granularity not in ("dynamic", "custom") and f"{granularity}/f1" in metrics else ""
    rows = [(label, scores["f1"], int(scores.get("support", 0)))
            for label, scores in label_scores(metrics, prefix=prefix).items() if "f1" in scores]
    return sorted(rows, key=lambda row: (-row[2], row[0]))


def from_folder(folder: str | Path, *, skip_invalid: bool = False) -> tuple[list[Entry], list[str]]:
    """Entries of every ``results/*.json`` under ``folder`` and the files skipped as invalid
    (only with ``skip_invalid``; otherwise the first invalid file raises)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LeaderboardError(f"{folder} is not a folder")
    files = sorted((folder / "results").glob("*.json"))
    if not files:
        raise LeaderboardError(f"{folder} holds no results/*.json (the layout of a results dataset; "
                               "cascadener run and push-results --dry-run write it)")
    entries: list[Entry] = []
    skipped: list[str] = []
    for path in files:
        try:
            results = load_results(path)
        except (ResultsError, OSError) as error:
            if not skip_invalid:
                raise LeaderboardError(f"{error} (pass --skip-invalid to rank the other runs)") from None
            skipped.append(str(error))
            continue
        entries.extend(entries_from_results(results, source=str(path.relative_to(folder))))
    return entries, skipped


def from_results_repo(repo_id: str, *, revision: str | None = None,
                      skip_invalid: bool = False) -> tuple[list[Entry], list[str]]:
    """Entries of a results dataset repo on the Hub (``snapshot_download``; offline: the cache)."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=["results/*.json"])
    except Exception as error:  # offline without a cached copy, unknown repo, network errors
        raise LeaderboardError(f"cannot get the results dataset {repo_id} ({type(error).__name__}): {error}") from None
    return from_folder(folder, skip_invalid=skip_invalid)


def parse_notes(notes: str | None) -> dict[str, str]:
    """The ``key=value`` pairs of an eval result's ``notes`` (as :func:`cascadener.publishing.hub.notes` writes them).

    >>> parse_notes("task=dynamic; matching=strict; metric=dynamicner_f1 0.1.0")
    {'task': 'dynamic', 'matching': 'strict', 'metric': 'dynamicner_f1 0.1.0'}
    """
    out = {}
    for part in (notes or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            out[key.strip()] = value.strip()
    return out


def entries_from_leaderboard(items: Iterable[Any], *, dataset_id: str) -> list[Entry]:
    """Entries from :class:`huggingface_hub.hf_api.DatasetLeaderboardEntry` objects. ``value`` is taken
    as percent (what ``push-results`` publishes); the task, matching, metric and prompt hash come from
    the entry's fields when the Hub sends them, else from its ``notes``."""
    entries = []
    for item in items:
        info = parse_notes(getattr(item, "notes", None))
        task = getattr(item, "task_id", None) or getattr(item, "taskId", None) or info.get("task") or "unknown"
        source = getattr(item, "source", None) or {}
        entries.append(Entry(
            source=str(source.get("url") or item.filename), run_id=info.get("run", item.filename),
            created_at=str(getattr(item, "date", None) or ""), model_id=item.model_id,
            model_revision=str(getattr(item, "revision", None) or "hub"), task=task, f1=float(item.value) / 100.0,
            metric_version=info.get("metric", "unknown"), matching=info.get("matching", "unknown"),
            prompt_hash=info.get("prompt_hash"), backend=info.get("backend", "unknown"),
            method=info.get("method", "unknown"), dataset_id=dataset_id,
            extra={"hub_rank": item.rank, "verified": bool(item.verified),
                   "community_pr": getattr(item, "pull_request", None)},
        ))
    return entries


def from_benchmark(repo_id: str) -> list[Entry]:
    """Entries of the Hub leaderboard of the benchmark dataset ``repo_id``."""
    from huggingface_hub import HfApi

    try:
        items = HfApi().get_dataset_leaderboard(repo_id, base_model_only=False)
    except Exception as error:  # offline, unknown repo, no leaderboard
        raise LeaderboardError(f"cannot get the leaderboard of {repo_id} ({type(error).__name__}): {error}") from None
    return entries_from_leaderboard(items, dataset_id=repo_id)


def _deduplicate(entries: Sequence[Entry]) -> tuple[list[Entry], list[Duplicate]]:
    latest: dict[tuple, Entry] = {}
    for entry in entries:
        current = latest.get(entry.key)
        if current is None or (entry.created_at, entry.run_id) > (current.created_at, current.run_id):
            latest[entry.key] = entry
    kept = [e for e in entries if latest[e.key] is e]
    dropped = [Duplicate(entry=e, kept=latest[e.key]) for e in entries if latest[e.key] is not e]
    return kept, dropped


def _check_comparable(task: str, entries: Sequence[Entry]) -> None:
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        groups.setdefault((entry.metric_version, entry.matching), []).append(entry.source)
    if len(groups) > 1:
        parts = [f"metric {version}, matching {matching}: {', '.join(sources[:3])}"
                 + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")
                 for (version, matching), sources in sorted(groups.items())]
        raise LeaderboardError(f"task {task}: runs scored differently cannot be ranked together ("
                               + "; ".join(parts) + "); select one with --metric-version and --matching")


def build(entries: Iterable[Entry], *, source: str = "", tasks: Sequence[str] | None = None,
          matching: str | None = None, metric_version: str | None = None,
          skipped: Sequence[str] = ()) -> Leaderboard:
    """De-duplicate, check comparability and rank ``entries`` per task (see the module doc).
    ``metric_version`` matches the version number or ``"<metric name> <version>"``."""
    selected = [e for e in entries
                if (tasks is None or e.task in tasks) and (matching is None or e.matching == matching)
                and (metric_version is None or metric_version in (e.metric_version, e.metric_version.split(" ")[-1]))]
    kept, dropped = _deduplicate(selected)
    by_task: dict[str, list[Entry]] = {}
    for entry in kept:
        by_task.setdefault(entry.task, []).append(entry)
    tables: dict[str, list[Row]] = {}
    for task in sorted(by_task, key=task_order):
        rows = by_task[task]
        _check_comparable(task, rows)
        rows.sort(key=lambda e: (-e.f1, e.created_at, e.model_id))
        ranked: list[Row] = []
        for position, entry in enumerate(rows, start=1):
            rank = ranked[-1].rank if ranked and ranked[-1].entry.f1 == entry.f1 else position
            ranked.append(Row(rank=rank, entry=entry))
        tables[task] = ranked
    return Leaderboard(source=source, tables=tables, duplicates=dropped, skipped=list(skipped))


def task_order(task: str) -> tuple:
    """Sort key of task ids: by granularity, every language before one, DynamicNER's languages in the paper's
    order, custom ids last.

    >>> sorted(["custom[x]", "fine-de", "dynamic-de", "fine", "dynamic-en", "dynamic"], key=task_order)
    ['dynamic', 'dynamic-en', 'dynamic-de', 'fine', 'fine-de', 'custom[x]']
    """
    languages, granularity = parse_task_id(task) or (task, None)
    rank = GRANULARITIES.index(granularity) if granularity else len(GRANULARITIES)
    language = LANGUAGES.index(languages) if languages in LANGUAGES else len(LANGUAGES)
    return (rank, languages != "all", language, task)
