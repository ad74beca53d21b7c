"""The results JSON of one evaluation run: a versioned schema, its dataclass, checks and task ids.

Every run (``cascadener evaluate``, ``cascadener run``) writes one results JSON. Its shape is the
JSON Schema shipped with the package (``cascadener/publishing/schemas/results-3.schema.json``, version
:data:`RESULTS_SCHEMA`): model id and revision, backend and method, dataset id, revision, config,
split and languages, coverage (sentences predicted of the split), metric name, version and
matching, prompt hash, scores per task and per language, the scorer's flat metrics, counts and
``created_at``. :func:`load_results` validates a file against the schema of its version with
``jsonschema`` (version 2, written before coverage was recorded, is still read) and refuses
malformed or incompatible files with an error naming the file and the field; non-finite numbers
(NaN, infinity) are refused too. :meth:`RunResults.save` checks the same before it writes.

Scores are fractions in the JSON. Wherever a person reads one (tables, eval results, model
cards, leaderboards) it is :func:`percent`: percent with two decimals, rounded once, the same way.

Task ids follow the benchmark's ``eval.yaml`` (:mod:`dynamicner_data.eval_yaml`): ``dynamic``
(every language, per-sample type lists), ``dynamic-<lang>``, ``coarse`` / ``medium`` / ``fine``
and ``<granularity>-<lang>``. A run on some but not all languages gets a local id such as
``dynamic[en+ja]``, which the leaderboard ranks but the Hub benchmark does not know.

Example:
    >>> task_id("all", "dynamic"), task_id("de", "dynamic"), task_id("de", "fine"), task_id("en+ja", "coarse")
    ('dynamic', 'dynamic-de', 'fine-de', 'coarse[en+ja]')
    >>> task_scores({"f1": 0.5, "precision": 0.4, "recall": 0.6, "language/en/f1": 0.5})
    {'f1': 0.5, 'precision': 0.4, 'recall': 0.6, 'languages': {'en': 0.5}}
    >>> percent(0.0128), format_percent(1 / 3)
    (1.28, '33.33')
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from dynamicner_data.atomic import atomic_write_text
from dynamicner_data import GRANULARITIES

__all__ = [
    "RESULTS_SCHEMA",
    "READABLE_SCHEMAS",
    "RunResults",
    "Coverage",
    "method_label",
    "percent",
    "format_percent",
    "parse_instant",
    "ResultsError",
    "load_results",
    "validate_results",
    "results_schema",
    "task_id",
    "parse_task_id",
    "task_scores",
    "label_scores",
    "language_scores",
    "expanded_task_scores",
    "model_revision",
    "evaluation_task",
    "dataset_section",
    "new_run_id",
    "now_iso",
]

RESULTS_SCHEMA = "cascadener-results/3"
#: Every version :func:`load_results` reads, with its schema file (package data). Version 2 has no
#: ``coverage``: its runs read as "coverage not recorded" (:class:`Coverage`).
READABLE_SCHEMAS: dict[str, str] = {"cascadener-results/2": "results-2.schema.json",
                                    "cascadener-results/3": "results-3.schema.json"}
SCHEMA_FILE = READABLE_SCHEMAS[RESULTS_SCHEMA]
_TASK_ID = re.compile(rf"^(?P<granularity>{'|'.join(GRANULARITIES)})"
                      r"(?:-(?P<language>[a-z]{2,3})|\[(?P<languages>[a-z]{2,3}(?:\+[a-z]{2,3})+)\])?$")
_RUN_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class ResultsError(ValueError):
    """A results JSON that is malformed, of another schema version, or not publishable."""


_CENT = Decimal("0.01")


def method_label(pipeline: dict[str, Any]) -> str:
    """The method of a run as people read it: ``pipeline.method`` and, where recorded,
    ``pipeline.setting`` (fine-tuned, few-shot, zero-shot) in parentheses.

    >>> method_label({"method": "gpt-ner", "setting": "few-shot"}), method_label({"method": "cascadener-generative"})
    ('gpt-ner (few-shot)', 'cascadener-generative')
    >>> method_label({})
    'unknown'
    """
    method = str(pipeline.get("method") or "unknown")
    setting = pipeline.get("setting")
    return f"{method} ({setting})" if setting else method


def percent(fraction: float) -> float:
    """A score in [0, 1] as percent with two decimals: the one unit and rounding of every score a person
    reads. Rounded half up on the shortest decimal form of the number, so ``0.12345`` gives 12.35
    whatever its binary value (``100 * 0.12345`` is 12.344999...).

    >>> percent(0.0128), percent(0.012849), percent(0.12345), percent(1 / 3), percent(1.0)
    (1.28, 1.28, 12.35, 33.33, 100.0)
    """
    return float(Decimal(repr(float(fraction))).scaleb(2).quantize(_CENT, rounding=ROUND_HALF_UP))


def format_percent(fraction: float | None) -> str:
    """:func:`percent` as text with two decimals, ``-`` for a missing score.

    >>> format_percent(0.0128), format_percent(0.5), format_percent(None)
    ('1.28', '50.00', '-')
    """
    return "-" if fraction is None else f"{percent(fraction):.2f}"


def parse_instant(value: str | None) -> datetime | None:
    """An ISO-8601 date or date-time as a timezone-aware instant (UTC when it names no offset);
    ``None`` for a missing or unreadable value. Compare these, never the strings: the same instant
    has many spellings.

    >>> parse_instant("2026-01-02T01:00:00+09:00") < parse_instant("2026-01-01T20:00:00+00:00")
    True
    >>> parse_instant("2026-01-15"), parse_instant("2026-01-15T10:30:00Z").isoformat(), parse_instant("soon")
    (datetime.datetime(2026, 1, 15, 0, 0, tzinfo=datetime.timezone.utc), '2026-01-15T10:30:00+00:00', None)
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Coverage:
    """How much of its split a run predicted (the results JSON's ``coverage``).

    ``status`` is ``full`` when every sentence of the split has a prediction; ``reduced`` for a
    deliberate subset (``cascadener run --max-test``, ``--limit``); ``incomplete`` for any other
    shortfall (an interrupted run, predictions missing, a split that could not be counted);
    ``unrecorded`` for a results JSON of schema 2, written before coverage was recorded. Only full
    runs are ranked together and published to a benchmark.

    >>> Coverage(sentences_predicted=8, sentences_in_split=8).status
    'full'
    >>> c = Coverage(sentences_predicted=16, sentences_in_split=64, limit=2, limit_per="language")
    >>> c.status, c.describe()
    ('reduced', 'reduced: the first 2 sentences per language, 16 of 64')
    >>> Coverage(sentences_predicted=2, sentences_in_split=8).describe()
    'incomplete: 2 of 8 sentences predicted'
    """

    sentences_predicted: int
    sentences_in_split: int | None
    limit: int | None = None
    limit_per: str | None = None
    recorded: bool = True

    @property
    def status(self) -> str:
        if not self.recorded:
            return "unrecorded"
        if self.sentences_in_split is not None and self.sentences_predicted >= self.sentences_in_split:
            return "full"
        return "reduced" if self.limit is not None else "incomplete"

    def describe(self) -> str:
        """The status in words, with the counts."""
        status = self.status
        of = f" of {self.sentences_in_split}" if self.sentences_in_split is not None else ""
        if status == "full":
            return f"full: {self.sentences_predicted}{of} sentences"
        if status == "reduced":
            per = "per language" if self.limit_per == "language" else "of the input"
            return f"reduced: the first {self.limit} sentences {per}, {self.sentences_predicted}{of}"
        if status == "incomplete":
            if self.sentences_in_split is None:
                return (f"incomplete: {self.sentences_predicted} sentences predicted, the split's size unknown (score "
                        "with the references source, e.g. --dataset, so that evaluate can count it)")
            return f"incomplete: {self.sentences_predicted}{of} sentences predicted"
        return "coverage not recorded (results schema 2): score the predictions again to record it"

    def to_dict(self) -> dict[str, Any]:
        """The ``coverage`` object of the results JSON."""
        limit = None if self.limit is None else {"sentences": self.limit, "per": self.limit_per or "input"}
        return {"sentences_predicted": self.sentences_predicted, "sentences_in_split": self.sentences_in_split,
                "limit": limit}

    @classmethod
    def of(cls, results: "RunResults") -> "Coverage":
        """The coverage of ``results``; for schema 2, what it shows of it (a ``--max-test`` limit, missing
        predictions), else ``unrecorded``."""
        data = results.coverage
        if isinstance(data, dict):
            limit = data.get("limit") or {}
            return cls(sentences_predicted=int(data["sentences_predicted"]),
                       sentences_in_split=data.get("sentences_in_split"),
                       limit=limit.get("sentences"), limit_per=limit.get("per"))
        sentences = results.counts.get("sentences") if isinstance(results.counts, dict) else None
        sentences = sentences if isinstance(sentences, int) else 0
        limit = results.dataset.get("limit_per_language") if isinstance(results.dataset, dict) else None
        if limit is not None:
            return cls(sentences_predicted=sentences, sentences_in_split=None, limit=int(limit), limit_per="language")
        missing = results.counts.get("missing_predictions") if isinstance(results.counts, dict) else None
        if isinstance(missing, int) and missing > 0:
            return cls(sentences_predicted=sentences - missing, sentences_in_split=sentences)
        return cls(sentences_predicted=sentences, sentences_in_split=None, recorded=False)


def new_run_id(now: datetime | None = None) -> str:
    """A sortable unique id: UTC time stamp + random suffix, e.g. ``20260101T120000Z-1a2b3c4d``."""
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def now_iso() -> str:
    """The current UTC time as ISO-8601 with an offset, to the millisecond (two runs of one model within
    a second still order by their creation), e.g. ``2026-01-01T12:00:00.123+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def task_id(languages: str, granularity: str) -> str:
    """The task id of a scored view: ``languages`` is ``all``, one code, or codes joined by ``+``."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}; expected one of {', '.join(GRANULARITIES)}")
    if languages == "all":
        return granularity
    if "+" in languages:
        return f"{granularity}[{languages}]"
    return f"{granularity}-{languages}"


def parse_task_id(task: str) -> tuple[str, str] | None:
    """``(languages, granularity)`` of a task id, the inverse of :func:`task_id`; ``None`` for any other id
    (``custom[...]``).

    >>> parse_task_id("dynamic"), parse_task_id("fine-de"), parse_task_id("coarse[en+ja]"), parse_task_id("custom[x]")
    (('all', 'dynamic'), ('de', 'fine'), ('en+ja', 'coarse'), None)
    """
    match = _TASK_ID.match(task)
    if match is None:
        return None
    return match["language"] or match["languages"] or "all", match["granularity"]


def task_scores(metrics: dict[str, float], *, prefix: str = "") -> dict[str, Any]:
    """The ``scores`` entry of one task from the scorer's flat dict (keys under ``prefix``)."""
    return {"f1": float(metrics[f"{prefix}f1"]), "precision": float(metrics[f"{prefix}precision"]),
            "recall": float(metrics[f"{prefix}recall"]),
            "languages": dict(sorted(language_scores(metrics, prefix=prefix).items()))}


def label_scores(metrics: dict[str, float], *, prefix: str = "") -> dict[str, dict[str, float]]:
    """The per-label scores in the scorer's flat dict (keys ``<prefix>label/<label>/<name>``, ``name`` one of
    precision, recall, f1, support): label -> name -> value. A label may itself contain ``/``.

    >>> label_scores({"f1": 0.5, "label/a/b/f1": 1.0, "label/a/b/support": 2, "fine/label/x/f1": 0.0})
    {'a/b': {'f1': 1.0, 'support': 2.0}}
    >>> label_scores({"fine/label/x/f1": 0.0}, prefix="fine/")
    {'x': {'f1': 0.0}}
    """
    start = f"{prefix}label/"
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if key.startswith(start):
            label, _, name = key[len(start):].rpartition("/")
            out.setdefault(label, {})[name] = float(value)
    return out


def language_scores(metrics: dict[str, float], *, prefix: str = "") -> dict[str, float]:
    """The per-language F1 in the scorer's flat dict (keys ``<prefix>language/<lang>/f1``): language -> F1.

    >>> language_scores({"f1": 0.5, "language/en/f1": 0.5, "fine/language/de/f1": 0.25}, prefix="fine/")
    {'de': 0.25}
    """
    start = f"{prefix}language/"
    return {key[len(start):-len("/f1")]: float(value) for key, value in metrics.items()
            if key.startswith(start) and key.endswith("/f1")}


def expanded_task_scores(results: "RunResults") -> dict[str, float]:
    """Task id -> F1 (fraction) of every task the run covers: its ``scores``, and the one-language task of
    each language column of a multi-language task (``dynamic``'s ``en`` column is task ``dynamic-en``).

    >>> r = RunResults(run_id="r", created_at="2026-01-01T00:00:00Z", model={}, dataset={}, metric={}, prompt={},
    ...     metrics={}, scores={"dynamic": {"f1": 0.5, "precision": 0.5, "recall": 0.5, "languages": {"en": 0.25}}})
    >>> expanded_task_scores(r)
    {'dynamic': 0.5, 'dynamic-en': 0.25}
    """
    out: dict[str, float] = {}
    for name, score in results.scores.items():
        out[name] = float(score["f1"])
        parts = parse_task_id(name)
        if parts is None or (parts[0] != "all" and "+" not in parts[0]):  # custom, or a single language already
            continue
        for language, value in score.get("languages", {}).items():
            out.setdefault(task_id(language, parts[1]), float(value))
    return out


def model_revision(extractor: str | None, classifier: str | None = None) -> str:
    """The revision of the extractor, and ``+`` the classifier's when it is another model.

    >>> model_revision(None)
    'unknown'
    """
    first = _one_revision(extractor)
    if classifier is None or classifier == extractor:
        return first
    return f"{first}+{_one_revision(classifier)}"


def _one_revision(model: str | None) -> str:
    """What identifies a model's weights: the Hub commit sha of a cached Hub model, or
    ``local-<sha256 prefix>`` of a local folder's config and weight files, else ``unknown``."""
    if not model:
        return "unknown"
    path = Path(model)
    if path.is_dir():
        digest = hashlib.sha256()
        names = ("config.json", "adapter_config.json", "tokenizer.json", "generation_config.json")
        files = sorted(p for p in path.iterdir() if p.is_file() and (
            p.name in names or p.suffix in (".safetensors", ".bin", ".pt")))
        if not files:
            return "unknown"
        for file in files:
            digest.update(file.name.encode() + b"\0")
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return f"local-{digest.hexdigest()[:16]}"
    if model.count("/") == 1 and not path.exists():
        try:
            from huggingface_hub import snapshot_download

            folder = snapshot_download(model, local_files_only=True)
            return Path(folder).name
        except Exception:  # not in the cache (offline) or not a repo id: identity unknown
            return "unknown"
    return "unknown"


_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def evaluation_task(description: dict[str, Any], languages: list[str]) -> str:
    """The task id of an evaluation on ``description`` (a prediction source): the benchmark's id for the
    test split of a DynamicNER config (the builder's, or an exported copy's), else ``custom[<name>]``.

    >>> evaluation_task({"name": "dynamicner", "config": "de-fine"}, ["de"])
    'fine-de'
    >>> evaluation_task({"name": "my.jsonl"}, ["en"])
    'custom[my.jsonl]'
    >>> evaluation_task({"name": "dynamicner", "config": "en", "split": "train"}, ["en"])  # not the benchmark's split
    'custom[en-train]'
    """
    from dynamicner_data.builder import CONFIG_NAMES
    from dynamicner_data.eval_yaml import task_for_config

    config = description.get("config")
    split = description.get("split") or "test"
    if config and split == "test" and config in CONFIG_NAMES:
        return task_for_config(str(config))
    if config and split != "test":
        config = f"{config}-{split}"
    name = _SAFE.sub("_", str(config or description.get("name") or "unnamed")).strip("_") or "unnamed"
    return f"custom[{name}]"


def dataset_section(description: dict[str, Any], languages: list[str]) -> dict[str, Any]:
    """The ``dataset`` section from a prediction source's description: ``id``, ``revision``, ``config``,
    ``split``, ``languages`` first, the source's other fields after them."""
    return {"id": str(description.get("name") or description.get("path") or "unknown"),
            "revision": description.get("revision"),
            "config": str(description.get("config") or "default"),
            "split": str(description.get("split") or "test"),
            "languages": list(languages),
            **{k: v for k, v in description.items() if k not in ("revision", "config", "split", "languages")}}


@dataclass
class RunResults:
    """The results JSON of one run (see the module doc); ``metrics`` is the scorer's flat dict of floats."""

    run_id: str
    created_at: str
    model: dict[str, Any]
    dataset: dict[str, Any]
    metric: dict[str, Any]
    prompt: dict[str, Any]
    metrics: dict[str, float]
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    pipeline: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, Any] | None = None
    schema: str = RESULTS_SCHEMA

    def __post_init__(self) -> None:
        if not _RUN_ID.match(self.run_id):
            raise ValueError(f"run_id {self.run_id!r} may only use letters, digits, '.', '_' and '-'")
        for key, value in self.metrics.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"metrics[{key!r}] is {value!r}: metrics must be numbers")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["coverage"] is None:  # schema 2 has none; a schema-3 file without one fails validation
            del data["coverage"]
        return {"schema": data.pop("schema"), **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the JSON to ``path`` atomically (a temporary sibling renamed into place), after checking it
        against its schema (:class:`ResultsError` names the field): no file is written that would not load."""
        validate_results(json.loads(self.to_json()), where=f"results for {path}")
        return atomic_write_text(path, self.to_json())

    @property
    def created(self) -> datetime | None:
        """``created_at`` as a timezone-aware instant."""
        return parse_instant(self.created_at)

    @property
    def tasks(self) -> list[str]:
        return list(self.scores)


@lru_cache(maxsize=None)
def results_schema(version: str = RESULTS_SCHEMA) -> dict[str, Any]:
    """The JSON Schema of results ``version`` (default :data:`RESULTS_SCHEMA`; package data)."""
    name = READABLE_SCHEMAS[version]
    text = resources.files("cascadener.publishing").joinpath("schemas", name).read_text(encoding="utf-8")
    return json.loads(text)


def _field(path) -> str:
    parts = [str(p) for p in path]
    return "/".join(parts) if parts else "(top level)"


def _non_finite(value: Any, path: tuple = ()) -> tuple | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _non_finite(item, (*path, index))
            if found is not None:
                return found
    return None


def validate_results(data: Any, *, where: str) -> None:
    """Check ``data`` (a parsed results JSON) against the schema; errors name ``where`` and the field."""
    import jsonschema

    if not isinstance(data, dict):
        raise ResultsError(f"{where}: expected a JSON object, got {type(data).__name__}")
    version = data.get("schema")
    if version not in READABLE_SCHEMAS:
        hint = ""
        if isinstance(version, str) and version.startswith("cascadener-results/"):
            hint = " (written by another version of cascadener; score the predictions again with this one)"
        expected = " or ".join(repr(v) for v in READABLE_SCHEMAS)
        raise ResultsError(f"{where}: field 'schema' is {version!r}, expected {expected}{hint}")
    schema = results_schema(version)
    required = schema["required"]
    missing = [key for key in ("run_id", "created_at", *required) if key not in data]
    if missing:
        raise ResultsError(f"{where}: missing field(s) {', '.join(dict.fromkeys(missing))}")
    bad = _non_finite(data)
    if bad is not None:
        raise ResultsError(f"{where}: field '{_field(bad)}' is {_get(data, bad)!r}: scores and counts must be finite "
                           "numbers (a NaN usually means an empty reference or prediction set)")
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        error = errors[0]
        raise ResultsError(f"{where}: field '{_field(error.absolute_path)}' {_describe(error)}")


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _describe(error) -> str:
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        article = "an" if expected[0] in "aeiou" else "a"
        return f"must be {article} {expected}, got {type(error.instance).__name__}"
    if error.validator == "required":
        return f"is missing {error.message.split(' is a required')[0]}"
    if error.validator == "minProperties":
        return "is empty"
    if error.validator == "additionalProperties" and not error.absolute_path:
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    return error.message


def load_results(path: str | Path) -> RunResults:
    """Read and validate a results JSON; errors name the file and the field.

    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "r.json"
    >>> _ = bad.write_text('{"schema": "cascadener-results/1"}')
    >>> load_results(bad)
    Traceback (most recent call last):
    ...
    cascadener.publishing.results.ResultsError: ...r.json: field 'schema' is 'cascadener-results/1', expected ...
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"results file {path} does not exist") from None
    except IsADirectoryError:
        raise ResultsError(f"results file {path} is a folder, not a JSON file") from None
    except UnicodeDecodeError as error:
        raise ResultsError(f"results file {path} is not valid UTF-8 JSON: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsError(f"results file {path} is not valid UTF-8 JSON: {error}") from None
    where = f"results file {path}"
    validate_results(data, where=where)
    try:
        return RunResults(**data)
    except (TypeError, ValueError) as error:
        raise ResultsError(f"{where}: {error}") from None
