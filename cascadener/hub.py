"""Results JSON, model card ``model-index`` and publishing to the Hugging Face Hub.

One evaluation run = one results JSON (:class:`RunResults`): the scores plus what is needed to
reproduce and compare them (models, dataset name/config/split/revision, metric name/version and
matching mode, prompt template and :func:`cascadener.prompts.prompt_hash`, pipeline options, counts).

Publishing (:func:`push_results`):

- the model repo's card gets the scores in its ``model-index``, through huggingface_hub's
  :class:`~huggingface_hub.EvalResult` and :func:`~huggingface_hub.metadata_update` (which merges
  with results already there);
- the results dataset repo gets ``results/<run_id>.json`` (one file per run, never overwritten)
  via :meth:`~huggingface_hub.HfApi.upload_file`.

The token is never an argument: huggingface_hub reads it from ``HF_TOKEN`` or the stored
``hf auth login``; this module never writes or prints it. :func:`write_dry_run` renders the
same card (:class:`~huggingface_hub.ModelCard`) and JSON to a local folder instead.

Example:
    >>> results = RunResults(run_id="r1", created_at="2026-01-01T00:00:00+00:00",
    ...     model={"extractor": "me/ext", "classifier": "me/ext"},
    ...     dataset={"name": "dynamicner", "config": "en", "split": "test", "revision": "abc"},
    ...     metric={"name": "dynamicner_f1", "version": "0.1.0", "matching": "strict"},
    ...     prompt={"template": "released", "hash": "0123456789ab"}, metrics={"f1": 0.5, "precision": 0.4})
    >>> [(r.metric_type, r.metric_value, r.dataset_revision) for r in eval_results(results)]
    [('precision', 0.4, 'abc'), ('f1', 0.5, 'abc')]
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

__all__ = [
    "RESULTS_SCHEMA",
    "DEFAULT_METRIC_KEYS",
    "RunResults",
    "new_run_id",
    "eval_results",
    "model_card",
    "write_dry_run",
    "push_results",
    "load_results",
]

RESULTS_SCHEMA = "cascadener-results/1"
REQUIRED_SECTIONS = ("model", "dataset", "metric", "prompt", "metrics")
#: Scores published to ``model-index`` by default (those present in a run's metrics).
DEFAULT_METRIC_KEYS: tuple[str, ...] = ("precision", "recall", "f1", "macro_f1", "extraction_f1", "hierarchical_f1",
                                        "f1_ci_low", "f1_ci_high")
_RUN_ID = re.compile(r"^[A-Za-z0-9._-]+$")


def new_run_id(now: datetime | None = None) -> str:
    """A sortable unique id: UTC time stamp + random suffix, e.g. ``20260101T120000Z-1a2b3c4d``."""
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


@dataclass
class RunResults:
    """The results JSON of one run (see module doc); ``metrics`` is a flat dict of floats."""

    run_id: str
    created_at: str
    model: dict[str, Any]
    dataset: dict[str, Any]
    metric: dict[str, Any]
    prompt: dict[str, Any]
    metrics: dict[str, float]
    pipeline: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    schema: str = RESULTS_SCHEMA

    def __post_init__(self) -> None:
        if not _RUN_ID.match(self.run_id):
            raise ValueError(f"run_id {self.run_id!r} may only use letters, digits, '.', '_' and '-'")
        for key, value in self.metrics.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"metrics[{key!r}] is {value!r}: metrics must be numbers")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def load_results(path: str | Path) -> RunResults:
    """Read a results JSON written by ``cascadener evaluate``; errors name the file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"results file {path} does not exist") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"results file {path} is not valid UTF-8 JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"results file {path}: expected a JSON object")
    if data.get("schema") != RESULTS_SCHEMA:
        raise ValueError(f"results file {path}: field 'schema' is {data.get('schema')!r}, expected {RESULTS_SCHEMA!r}")
    missing = [key for key in ("run_id", "created_at", *REQUIRED_SECTIONS) if key not in data]
    if missing:
        raise ValueError(f"results file {path}: missing field(s) {', '.join(missing)}")
    for key in (*REQUIRED_SECTIONS, "pipeline", "counts"):
        if key in data and not isinstance(data[key], dict):
            raise ValueError(f"results file {path}: field {key!r} must be an object, got {type(data[key]).__name__}")
    known = {f for f in RunResults.__dataclass_fields__}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"results file {path}: unknown field(s) {', '.join(unknown)}")
    try:
        return RunResults(**data)
    except ValueError as error:
        raise ValueError(f"results file {path}: {error}") from None


def eval_results(results: RunResults, *, metric_keys: Sequence[str] | None = None) -> list:
    """One :class:`huggingface_hub.EvalResult` per headline score (:data:`DEFAULT_METRIC_KEYS` present
    in the results), or per key of ``metric_keys``."""
    from huggingface_hub import EvalResult

    keys = list(metric_keys) if metric_keys is not None else [k for k in DEFAULT_METRIC_KEYS if k in results.metrics]
    missing = [k for k in keys if k not in results.metrics]
    if missing:
        raise ValueError(f"metric(s) {', '.join(missing)} not in the results (have: {', '.join(results.metrics)})")
    dataset = results.dataset
    metric_args = {"matching": results.metric.get("matching"), "prompt_hash": results.prompt.get("hash"),
                   "metric_version": results.metric.get("version")}
    return [
        EvalResult(
            task_type="token-classification",
            task_name="Named Entity Recognition",
            dataset_type=str(dataset.get("name", "dynamicner")),
            dataset_name=str(dataset.get("pretty_name") or dataset.get("name", "dynamicner")),
            dataset_config=dataset.get("config"),
            dataset_split=dataset.get("split"),
            dataset_revision=dataset.get("revision"),
            metric_type=key,
            metric_name=f"{results.metric.get('name', 'dynamicner_f1')} {key}",
            metric_value=float(results.metrics[key]),
            metric_config=results.metric.get("matching"),
            metric_args={k: v for k, v in metric_args.items() if v is not None},
        )
        for key in keys
    ]


def _model_name(results: RunResults, model_id: str | None) -> str:
    return model_id or str(results.model.get("extractor", "cascadener"))


def model_card(results: RunResults, *, model_id: str | None = None, metric_keys: Sequence[str] | None = None):
    """A :class:`huggingface_hub.ModelCard` whose YAML ``model-index`` carries the run's scores."""
    from huggingface_hub import ModelCard, ModelCardData

    name = _model_name(results, model_id)
    data = ModelCardData(
        model_name=name,
        eval_results=eval_results(results, metric_keys=metric_keys),
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["named-entity-recognition", "cascadener", "dynamicner"],
        datasets=[str(results.dataset.get("name", "dynamicner"))],
    )
    description = (
        f"CascadeNER model evaluated on {results.dataset.get('name')} "
        f"({results.dataset.get('config')}, {results.dataset.get('split')}) with "
        f"{results.metric.get('name')} {results.metric.get('version')}; prompt hash {results.prompt.get('hash')}."
    )
    rows = "\n".join(f"| {key} | {results.metrics[key]:.4f} |" for key in DEFAULT_METRIC_KEYS if key in results.metrics)
    return ModelCard.from_template(data, template_str=_CARD_TEMPLATE, model_id=name, model_summary=description,
                                   results_table=rows, run_id=results.run_id)


_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_id }}

{{ model_summary }}

## Evaluation (run {{ run_id }})

| metric | value |
| --- | --- |
{{ results_table }}

Scored with `cascadener evaluate`; published with `cascadener push-results`.
"""


def write_dry_run(results: RunResults, output_dir: str | Path, *, model_id: str | None = None,
                  metric_keys: Sequence[str] | None = None) -> tuple[Path, Path]:
    """Write ``README.md`` (the card) and ``results/<run_id>.json`` under ``output_dir``; return both paths."""
    output_dir = Path(output_dir)
    (output_dir / "results").mkdir(parents=True, exist_ok=True)
    card_path = output_dir / "README.md"
    model_card(results, model_id=model_id, metric_keys=metric_keys).save(card_path)
    json_path = output_dir / "results" / f"{results.run_id}.json"
    json_path.write_text(results.to_json(), encoding="utf-8")
    return card_path, json_path


def push_results(results: RunResults, *, model_id: str, results_repo: str | None = None,
                 metric_keys: Sequence[str] | None = None, create_results_repo: bool = True) -> dict[str, str]:
    """Publish: ``model-index`` of ``model_id`` via ``metadata_update``; ``results/<run_id>.json`` to the
    ``results_repo`` dataset. Authentication: ``HF_TOKEN`` or the stored login (never passed here)."""
    from huggingface_hub import HfApi, metadata_update
    from huggingface_hub.repocard_data import eval_results_to_model_index

    index = eval_results_to_model_index(_model_name(results, model_id), eval_results(results, metric_keys=metric_keys))
    out = {"model_card": metadata_update(model_id, {"model-index": index}, repo_type="model",
                                         commit_message=f"Add CascadeNER results {results.run_id}")}
    if results_repo is not None:
        api = HfApi()
        if create_results_repo:
            api.create_repo(results_repo, repo_type="dataset", exist_ok=True)
        info = api.upload_file(
            path_or_fileobj=results.to_json().encode("utf-8"),
            path_in_repo=f"results/{results.run_id}.json",
            repo_id=results_repo,
            repo_type="dataset",
            commit_message=f"Add results {results.run_id}",
        )
        out["results_json"] = str(getattr(info, "commit_url", info))
    return out


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
