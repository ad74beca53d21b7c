"""The DynamicNER leaderboard: collect runs, check and de-duplicate them, rank them per task.

Three sources give the same :class:`Entry` rows:

- :func:`from_folder`: a local folder laid out like the results dataset (``results/<run_id>.json``,
  which ``cascadener push-results`` uploads and ``cascadener run`` writes into its output folder);
- :func:`from_results_repo`: that dataset on the Hub, fetched with
  :func:`huggingface_hub.snapshot_download` (with ``HF_HUB_OFFLINE=1`` it reads the local cache);
- :func:`from_benchmark`: the Hub's own leaderboard of the benchmark dataset
  (:meth:`huggingface_hub.HfApi.get_dataset_leaderboard`). Each of its entries links
  (``source.url``) to the results JSON the run published; that file, read through the Hub cache,
  gives the run's identity and every task's scores. An entry that links nowhere readable (another
  tool's result, a file not in the cache offline, a value the linked run does not hold) becomes an
  :class:`ExternalEntry`: shown as the Hub has it, never ranked with ours.

Every score of an :class:`Entry` is in percent with two decimals (:func:`~cascadener.publishing.results.percent`,
the one rounding of every score a person reads); dates are timezone-aware instants; revisions are
kept whole (:func:`revision_labels` gives short labels that stay distinct).

:func:`build` then keeps, for each model revision, task, metric version and prompt hash (and
backend, method and coverage), the latest run (compared as instants) and reports the others as
duplicates; ranks only full runs (every sentence of the split predicted): reduced runs
(``--max-test``, ``--limit``), incomplete ones and schema-2 files without a recorded coverage are
hidden, or listed unranked with their badge on request (``include_unranked``); refuses to rank runs
together whose metric version or matching mode differ, or whose confidence thresholds differ
(``mix_thresholds`` ranks those together) (:class:`LeaderboardError`, naming the files); and ranks each task by F1 (equal scores share a rank), with per-language F1 columns.
:func:`averages` ranks the setups of a board by their mean F1 over several tasks (the cross-task
average of the leaderboard Space).

Example:
    >>> a = Entry(source="a.json", run_id="a", created_at=parse_instant("2026-01-01T00:00:00Z"), model_id="m1",
    ...     model_revision="r1", task="dynamic", f1=50.0, languages={"en": 50.0}, metric_version="0.1.0",
    ...     matching="strict", prompt_hash="p")
    >>> b = replace(a, source="b.json", run_id="b", model_id="m2", f1=70.0)
    >>> old = replace(a, source="old.json", run_id="old", created_at=parse_instant("2025-01-01T00:00:00Z"))
    >>> cut = replace(a, source="cut.json", run_id="cut", model_id="m3", f1=90.0,
    ...     coverage=Coverage(sentences_predicted=2, sentences_in_split=8))
    >>> board = build([a, b, old, cut])
    >>> [(row.rank, row.entry.model_id) for row in board.tables["dynamic"]], [d.entry.source for d in board.duplicates]
    ([(1, 'm2'), (2, 'm1')], ['old.json'])
    >>> [(e.model_id, e.badges) for e in board.hidden]
    [('m3', ('incomplete',))]
    >>> [(row.rank, row.entry.model_id) for row in build([a, b, cut], include_unranked=True).tables["dynamic"]]
    [(1, 'm2'), (2, 'm1'), (None, 'm3')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import unquote, urlparse

from dynamicner_data import LANGUAGES

from cascadener.publishing.results import (
    GRANULARITIES,
    Coverage,
    ResultsError,
    RunResults,
    expanded_task_scores,
    label_scores,
    load_results,
    method_label,
    parse_instant,
    parse_task_id,
    percent,
)

__all__ = ["Entry", "ExternalEntry", "HubInfo", "Row", "Duplicate", "Leaderboard", "LeaderboardError", "BADGES",
           "entries_from_results", "from_folder", "from_results_repo", "from_benchmark", "entries_from_leaderboard",
           "results_json_location", "build", "per_label", "granularity_of", "task_order", "revision_labels",
           "ordered_languages", "parse_instant", "replace", "AverageRow", "averages", "setup_of"]

#: Every badge a row can carry, with what it means (shown in the formats' legends).
BADGES: dict[str, str] = {
    "verified": "the Hub verified the result (a valid verifyToken: a run of inspect-ai in HF Jobs)",
    "community": "published as an open pull request on the model repo, not merged by its owner",
    "source": "the Hub entry links its evidence (the run's results JSON)",
    "reduced": "a deliberate subset of the split (--max-test, --limit): not ranked with full runs",
    "incomplete": "not every sentence of the split was predicted: not ranked with full runs",
    "unrecorded": "a results file of schema 2, written before coverage was recorded: not ranked with full runs",
}
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


class LeaderboardError(ValueError):
    """Runs that cannot be read or ranked together; the message names the files."""


@dataclass(frozen=True)
class HubInfo:
    """What the Hub's benchmark leaderboard says of one published result (``DatasetLeaderboardEntry``)."""

    rank: int
    value: float
    verified: bool = False
    pull_request: int | None = None
    source_url: str | None = None
    filename: str = ""
    notes: str | None = None
    task: str | None = None

    @property
    def badges(self) -> tuple[str, ...]:
        return tuple(name for name, on in (("verified", self.verified), ("community", self.pull_request is not None),
                                           ("source", bool(self.source_url))) if on)


@dataclass(frozen=True)
class Entry:
    """One task's scores of one run. Scores are percent with two decimals (``None`` where the source does
    not say); ``created_at`` a timezone-aware instant (``None`` when unknown); ``model_revision`` whole."""

    source: str
    run_id: str
    created_at: datetime | None
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
    threshold: float | None = None
    dataset_id: str = ""
    config: str | None = None
    coverage: Coverage = field(default_factory=lambda: Coverage(sentences_predicted=0, sentences_in_split=0))
    source_url: str | None = None
    hub: HubInfo | None = None
    results: RunResults | None = field(default=None, repr=False, compare=False)

    @property
    def granularity(self) -> str:
        return granularity_of(self.task)

    @property
    def status(self) -> str:
        """``full`` (ranked), ``reduced``, ``incomplete`` or ``unrecorded`` (:class:`Coverage`)."""
        return self.coverage.status

    @property
    def badges(self) -> tuple[str, ...]:
        """The Hub's badges (verified, community, source), then the run's status when it is not full."""
        hub = self.hub.badges if self.hub is not None else ()
        return hub + (() if self.status == "full" else (self.status,))

    @property
    def date(self) -> str:
        """``created_at`` as a UTC date, ``YYYY-MM-DD`` (empty when unknown)."""
        return "" if self.created_at is None else self.created_at.astimezone(timezone.utc).date().isoformat()

    @property
    def key(self) -> tuple:
        """What makes two runs the same measurement (the later replaces the earlier): model revision, task,
        metric version and prompt hash, backend and method (another method is another result), the
        confidence threshold (entities scored below it were dropped) and the coverage status (a reduced
        rerun never replaces a full run)."""
        return (self.model_id, self.model_revision, self.task, self.metric_version, self.prompt_hash, self.backend,
                self.method, self.threshold, self.status)


@dataclass(frozen=True)
class ExternalEntry:
    """An entry of the Hub's benchmark leaderboard that is not a CascadeNER run we could read: its own value
    and unit, as the Hub has it, and why it is not ranked with ours."""

    model_id: str
    hub: HubInfo
    created_at: datetime | None
    reason: str

    @property
    def value(self) -> float:
        return self.hub.value

    @property
    def badges(self) -> tuple[str, ...]:
        return self.hub.badges

    @property
    def date(self) -> str:
        return "" if self.created_at is None else self.created_at.astimezone(timezone.utc).date().isoformat()


@dataclass(frozen=True)
class Row:
    """A row of a task's table: ``rank`` is ``None`` for a run shown but not ranked (not full)."""

    rank: int | None
    entry: Entry


@dataclass(frozen=True)
class Duplicate:
    entry: Entry
    kept: Entry


@dataclass
class Leaderboard:
    """Per task, the ranked rows (then the unranked ones when asked for); the duplicates dropped, the runs
    hidden as not comparable (reduced, incomplete, unrecorded), the files skipped (``--skip-invalid``)
    and the Hub entries of other tools (:class:`ExternalEntry`)."""

    source: str
    tables: dict[str, list[Row]]
    duplicates: list[Duplicate] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    hidden: list[Entry] = field(default_factory=list)
    external: list[ExternalEntry] = field(default_factory=list)

    def languages(self, task: str) -> list[str]:
        """The per-language columns of ``task``: every language any of its rows scored, in paper order."""
        return ordered_languages({lang for row in self.tables.get(task, []) for lang in row.entry.languages})

    def revision_labels(self) -> dict[str, str]:
        """Short, distinct labels of every model revision on the board (:func:`revision_labels`)."""
        return revision_labels(row.entry.model_revision for rows in self.tables.values() for row in rows)


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


def revision_labels(revisions: Iterable[str], *, minimum: int = 12) -> dict[str, str]:
    """Short labels for model revisions that stay distinct: each ``+``-joined part (extractor, classifier)
    is cut to its shortest prefix of at least ``minimum`` characters that no other part shares.

    >>> labels = revision_labels(["local-507d6fa4afa97176+local-2361aa00bb11cc22", "local-507d6fa4afa97176",
    ...                           "local-507d6fa4afa9ffff"])
    >>> sorted(labels.values())
    ['local-507d6fa4afa97', 'local-507d6fa4afa97+local-2361aa', 'local-507d6fa4afa9f']
    >>> revision_labels(["0123456789abcdef0123456789abcdef01234567", "unknown"])["0123456789abcdef0123456789abcdef01234567"]
    '0123456789ab'
    """
    revisions = list(dict.fromkeys(revisions))
    parts = sorted({part for revision in revisions for part in revision.split("+")})
    short: dict[str, str] = {}
    for part in parts:
        length = min(minimum, len(part))
        while length < len(part) and any(other != part and other.startswith(part[:length]) for other in parts):
            length += 1
        short[part] = part[:length]
    return {revision: "+".join(short[part] for part in revision.split("+")) for revision in revisions}


def entries_from_results(results: RunResults, *, source: str, source_url: str | None = None,
                         hub: HubInfo | None = None, model_id: str | None = None) -> list[Entry]:
    """One :class:`Entry` per task in the run's ``scores`` (``model_id`` overrides the run's own id: the
    Hub's model repo that published it)."""
    coverage = Coverage.of(results)
    created = results.created
    return [
        Entry(source=source, run_id=results.run_id, created_at=created,
              model_id=model_id or str(results.model.get("id")), model_revision=str(results.model.get("revision")),
              task=task, f1=percent(score["f1"]), precision=percent(score["precision"]),
              recall=percent(score["recall"]),
              languages={k: percent(v) for k, v in score.get("languages", {}).items()},
              metric_version=f"{results.metric.get('name')} {results.metric.get('version')}",
              matching=str(results.metric.get("matching")), prompt_hash=results.prompt.get("hash"),
              backend=str(results.pipeline.get("backend")), method=method_label(results.pipeline),
              threshold=results.pipeline.get("threshold"), dataset_id=str(results.dataset.get("id")),
              config=results.dataset.get("config"), coverage=coverage,
              source_url=source_url, hub=hub, results=results)
        for task, score in results.scores.items()
    ]


def per_label(entry: Entry) -> list[tuple[str, float, int]]:
    """``(label, F1 in percent, gold support)`` of the run behind ``entry`` for its task, most frequent first
    (empty when the source has no per-label scores). The main job stores the coarse/medium/fine columns
    under a ``<granularity>/`` prefix, the dynamic column without one.

    >>> r = RunResults(run_id="r", created_at="2026-01-01T00:00:00Z", model={}, dataset={}, metric={}, prompt={},
    ...     metrics={"label/city/f1": 0.5, "label/city/support": 2.0, "fine/label/poet/f1": 0.125,
    ...              "fine/label/poet/support": 1.0, "fine/f1": 1.0})
    >>> per_label(Entry(source="", run_id="r", created_at=None, model_id="m", model_revision="x", task="fine", f1=100.0,
    ...     results=r))
    [('poet', 12.5, 1)]
    """
    if entry.results is None:
        return []
    metrics = entry.results.metrics
    granularity = entry.granularity
    prefix = f"{granularity}/" if granularity not in ("dynamic", "custom") and f"{granularity}/f1" in metrics else ""
    rows = [(label, percent(scores["f1"]), int(scores.get("support", 0)))
            for label, scores in label_scores(metrics, prefix=prefix).items() if "f1" in scores]
    return sorted(rows, key=lambda row: (-row[2], row[0]))


def from_folder(folder: str | Path, *, skip_invalid: bool = False,
                url_of: Callable[[str], str] | None = None) -> tuple[list[Entry], list[str]]:
    """Entries of every ``results/*.json`` under ``folder`` and the files skipped as invalid
    (only with ``skip_invalid``; otherwise the first invalid file raises). ``url_of`` maps a file's path
    in the folder to its address (a results repo on the Hub)."""
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
        name = path.relative_to(folder).as_posix()
        entries.extend(entries_from_results(results, source=name, source_url=url_of(name) if url_of else None))
    return entries, skipped


def from_results_repo(repo_id: str, *, revision: str | None = None,
                      skip_invalid: bool = False) -> tuple[list[Entry], list[str]]:
    """Entries of a results dataset repo on the Hub (``snapshot_download``; offline: the cache). Each links
    to its file at the snapshot's commit."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=["results/*.json"])
    except Exception as error:  # offline without a cached copy, unknown repo, network errors
        raise LeaderboardError(f"cannot get the results dataset {repo_id} ({type(error).__name__}): {error}") from None
    commit = Path(folder).name
    return from_folder(folder, skip_invalid=skip_invalid,
                       url_of=lambda name: f"https://huggingface.co/datasets/{repo_id}/blob/{commit}/{name}")


_RESULTS_URL = re.compile(r"^/datasets/(?P<repo>[^/]+/[^/]+)/(?:blob|resolve)/(?P<revision>[^/]+)/(?P<path>.+\.json)$")


def results_json_location(url: str | None) -> tuple[str, str, str] | None:
    """``(dataset repo id, revision, path)`` of a results JSON address on the Hub, else ``None``.

    >>> results_json_location("https://huggingface.co/datasets/me/res/blob/main/results/r1.json")
    ('me/res', 'main', 'results/r1.json')
    >>> results_json_location("https://huggingface.co/spaces/me/logs") is None
    True
    """
    if not url:
        return None
    from huggingface_hub import constants

    parsed = urlparse(url)
    hosts = {"huggingface.co", "hf.co", urlparse(constants.ENDPOINT).netloc}
    match = _RESULTS_URL.match(parsed.path)
    if parsed.scheme not in ("http", "https") or parsed.netloc not in hosts or match is None:
        return None
    return match.group("repo"), unquote(match.group("revision")), unquote(match.group("path"))


def _read_linked_results(url: str) -> RunResults:
    """The results JSON at ``url`` (a file of a dataset repo), through the Hub cache (offline: only the cache)."""
    from huggingface_hub import hf_hub_download

    repo_id, revision, path = results_json_location(url)  # type: ignore[misc]
    try:
        local = hf_hub_download(repo_id, path, repo_type="dataset", revision=revision)
    except Exception as error:  # offline and not cached, deleted file, network errors
        raise LeaderboardError(f"its results JSON cannot be read ({type(error).__name__}: {error})") from None
    try:
        return load_results(local)
    except (ResultsError, OSError) as error:
        raise LeaderboardError(f"its results JSON is not a valid CascadeNER results file: {error}") from None


def _hub_info(item: Any) -> HubInfo:
    source = getattr(item, "source", None) or {}
    task = getattr(item, "task_id", None) or getattr(item, "taskId", None)
    return HubInfo(rank=int(item.rank), value=float(item.value), verified=bool(getattr(item, "verified", False)),
                   pull_request=getattr(item, "pull_request", None), source_url=source.get("url"),
                   filename=str(getattr(item, "filename", "") or ""), notes=getattr(item, "notes", None),
                   task=str(task) if task else None)


def entries_from_leaderboard(items: Iterable[Any], *, dataset_id: str,
                             read: Callable[[str], RunResults] = _read_linked_results,
                             ) -> tuple[list[Entry], list[ExternalEntry]]:
    """``(entries, external)`` from :class:`huggingface_hub.hf_api.DatasetLeaderboardEntry` objects.

    An item whose ``source.url`` is a results JSON on the Hub is read (``read``; by default
    through the Hub cache) and gives one :class:`Entry` per task of that run, under the model repo the
    Hub lists and with the Hub's badges, provided the item's ``value`` is one of the run's task scores
    in percent (of its own task when the Hub names it). Every other item is an :class:`ExternalEntry`,
    kept as the Hub has it, with the reason."""
    entries: list[Entry] = []
    external: list[ExternalEntry] = []
    read_cache: dict[str, RunResults | LeaderboardError] = {}
    seen: set[tuple[str, str]] = set()
    for item in items:
        hub = _hub_info(item)
        created = parse_instant(getattr(item, "date", None))
        url = hub.source_url
        if results_json_location(url) is None:
            reason = ("it links no source" if not url else
                      "its source is not a results JSON in a Hub dataset repo (another tool's result)")
            external.append(ExternalEntry(model_id=item.model_id, hub=hub, created_at=created, reason=reason))
            continue
        assert url is not None
        if url not in read_cache:
            try:
                read_cache[url] = read(url)
            except LeaderboardError as error:
                read_cache[url] = error
        results = read_cache[url]
        if isinstance(results, LeaderboardError):
            external.append(ExternalEntry(model_id=item.model_id, hub=hub, created_at=created, reason=str(results)))
            continue
        scores = {task: percent(value) for task, value in expanded_task_scores(results).items()}
        matched = [task for task, value in scores.items() if value == round(hub.value, 2)]
        if hub.task is not None:
            matched = [task for task in matched if task == hub.task]
        if not matched:
            where = f"task {hub.task}" if hub.task else "any task"
            external.append(ExternalEntry(model_id=item.model_id, hub=hub, created_at=created,
                                          reason=f"its value {hub.value} is not the linked run's F1 (%) of {where}"))
            continue
        if (url, item.model_id) in seen:  # the same run listed again (another task of it)
            continue
        seen.add((url, item.model_id))
        entries.extend(entries_from_results(results, source=url, source_url=url, hub=hub, model_id=item.model_id))
    return entries, external


def from_benchmark(repo_id: str) -> tuple[list[Entry], list[ExternalEntry]]:
    """Entries of the Hub leaderboard of the benchmark dataset ``repo_id`` (every model, fine-tuned ones
    included), with the linked results JSONs read (:func:`entries_from_leaderboard`)."""
    from huggingface_hub import HfApi

    try:
        items = HfApi().get_dataset_leaderboard(repo_id, base_model_only=False)
    except Exception as error:  # offline, unknown repo, no leaderboard
        raise LeaderboardError(f"cannot get the leaderboard of {repo_id} ({type(error).__name__}): {error}") from None
    return entries_from_leaderboard(items, dataset_id=repo_id)


def _instant(entry: Entry) -> datetime:
    return entry.created_at or _EARLIEST


def _deduplicate(entries: Sequence[Entry]) -> tuple[list[Entry], list[Duplicate]]:
    latest: dict[tuple, Entry] = {}
    for entry in entries:
        current = latest.get(entry.key)
        if current is None or (_instant(entry), entry.run_id) > (_instant(current), current.run_id):
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


def threshold_text(threshold: float | None) -> str:
    """A run's confidence threshold as a person reads it (``none``: every entity kept).

    >>> threshold_text(None), threshold_text(0.5)
    ('none', '0.5')
    """
    return "none" if threshold is None else f"{threshold:g}"


def _check_thresholds(task: str, entries: Sequence[Entry]) -> None:
    groups: dict[float | None, list[str]] = {}
    for entry in entries:
        groups.setdefault(entry.threshold, []).append(entry.source)
    if len(groups) > 1:
        parts = [f"threshold {threshold_text(threshold)}: {', '.join(sources[:3])}"
                 + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")
                 for threshold, sources in sorted(groups.items(), key=lambda item: (item[0] is not None, item[0] or 0))]
        raise LeaderboardError(f"task {task}: runs with different confidence thresholds are not ranked together ("
                               + "; ".join(parts) + "); select one with --threshold, or rank them together with "
                               "--mix-thresholds")


def _order(entry: Entry) -> tuple:
    return (-entry.f1, _instant(entry), entry.model_id, entry.run_id)


def build(entries: Iterable[Entry], *, source: str = "", tasks: Sequence[str] | None = None,
          matching: str | None = None, metric_version: str | None = None, skipped: Sequence[str] = (),
          include_unranked: bool = False, external: Sequence[ExternalEntry] = (),
          thresholds: Sequence[float | None] | None = None, mix_thresholds: bool = False) -> Leaderboard:
    """De-duplicate, check comparability and rank ``entries`` per task (see the module doc).
    ``metric_version`` matches the version number or ``"<metric name> <version>"``. Runs that are not
    full are hidden, or listed after the ranked rows without a rank with ``include_unranked``.
    ``thresholds``: only runs with one of these confidence thresholds (``None`` in it: runs without one;
    ``thresholds=None``: any); runs of different thresholds are refused together unless ``mix_thresholds``."""
    selected = [e for e in entries
                if (tasks is None or e.task in tasks) and (matching is None or e.matching == matching)
                and (metric_version is None or metric_version in (e.metric_version, e.metric_version.split(" ")[-1]))
                and (thresholds is None or e.threshold in thresholds)]
    kept, dropped = _deduplicate(selected)
    by_task: dict[str, list[Entry]] = {}
    for entry in kept:
        by_task.setdefault(entry.task, []).append(entry)
    tables: dict[str, list[Row]] = {}
    hidden: list[Entry] = []
    for task in sorted(by_task, key=task_order):
        full = sorted((e for e in by_task[task] if e.status == "full"), key=_order)
        others = sorted((e for e in by_task[task] if e.status != "full"), key=_order)
        _check_comparable(task, full)
        if not mix_thresholds:
            _check_thresholds(task, full)
        ranked: list[Row] = []
        for position, entry in enumerate(full, start=1):
            rank = ranked[-1].rank if ranked and ranked[-1].entry.f1 == entry.f1 else position
            ranked.append(Row(rank=rank, entry=entry))
        if include_unranked:
            ranked += [Row(rank=None, entry=entry) for entry in others]
        else:
            hidden += others
        if ranked:
            tables[task] = ranked
    external = list(external)
    if tasks is not None:
        external = [e for e in external if e.hub.task is None or e.hub.task in tasks]
    return Leaderboard(source=source, tables=tables, duplicates=dropped, skipped=list(skipped), hidden=hidden,
                       external=external)


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


@dataclass(frozen=True)
class AverageRow:
    """One setup's F1 over several tasks: the mean in percent (two decimals), ranked among the setups
    ranked in every task; ``rank`` and ``average`` are ``None`` for a setup that lacks a task (``missing``)
    or is not full in one of them."""

    rank: int | None
    average: float | None
    entries: dict[str, Entry]
    missing: tuple[str, ...] = ()

    @property
    def entry(self) -> Entry:
        """The entry of the first task it has: the setup's model, revision, backend, method and run."""
        return next(iter(self.entries.values()))

    @property
    def date(self) -> str:
        """The latest date of its entries."""
        return max(entry.date for entry in self.entries.values())


def setup_of(entry: Entry) -> tuple:
    """What one line of a cross-task table stands for: :attr:`Entry.key` without the task."""
    return (entry.model_id, entry.model_revision, entry.metric_version, entry.matching, entry.prompt_hash,
            entry.backend, entry.method, entry.status)


def averages(board: Leaderboard, tasks: Sequence[str]) -> list[AverageRow]:
    """The cross-task average of ``board``'s rows over ``tasks`` (as on the Open LLM Leaderboard): one row
    per setup (:func:`setup_of`), ranked by the mean of its F1 over every task, equal means sharing a rank;
    setups that miss a task or are not ranked in one follow, unranked.

    >>> a = Entry(source="a.json", run_id="a", created_at=parse_instant("2026-01-01T00:00:00Z"), model_id="m1",
    ...     model_revision="r1", task="dynamic", f1=50.0, metric_version="0.1.0", matching="strict", prompt_hash="p")
    >>> rows = [a, replace(a, task="fine", f1=20.0), replace(a, model_id="m2", f1=40.0),
    ...         replace(a, model_id="m2", task="fine", f1=40.0), replace(a, model_id="m3", f1=90.0)]
    >>> [(row.rank, row.entry.model_id, row.average, row.missing) for row in averages(build(rows), ["dynamic", "fine"])]
    [(1, 'm2', 40.0, ()), (2, 'm1', 35.0, ()), (None, 'm3', None, ('fine',))]
    """
    setups: dict[tuple, dict[str, Row]] = {}
    for task in tasks:
        for row in board.tables.get(task, []):
            setups.setdefault(setup_of(row.entry), {})[task] = row
    complete: list[tuple[float, dict[str, Row]]] = []
    rest: list[AverageRow] = []
    for rows in setups.values():
        ordered = {task: rows[task] for task in tasks if task in rows}
        missing = tuple(task for task in tasks if task not in rows)
        entries = {task: row.entry for task, row in ordered.items()}
        if missing or any(row.rank is None for row in ordered.values()):
            rest.append(AverageRow(rank=None, average=None, entries=entries, missing=missing))
        else:
            complete.append((round(sum(row.entry.f1 for row in ordered.values()) / len(tasks), 2), ordered))
    complete.sort(key=lambda item: (-item[0], *_order(next(iter(item[1].values())).entry)[1:]))
    ranked: list[AverageRow] = []
    for position, (mean, rows) in enumerate(complete, start=1):
        rank = ranked[-1].rank if ranked and ranked[-1].average == mean else position
        ranked.append(AverageRow(rank=rank, average=mean, entries={t: r.entry for t, r in rows.items()}))
    rest.sort(key=lambda row: (len(row.missing), _order(row.entry)))
    return ranked + rest
