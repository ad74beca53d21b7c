"""Publishing a run's results to the Hugging Face Hub: eval results, model card, results dataset.

One evaluation run = one results JSON (:class:`cascadener.publishing.results.RunResults`, validated against
the shipped schema). Publishing (:func:`push_results`) writes, with huggingface_hub's own types:

- ``.eval_results/dynamicner.yaml`` in the model repo: one
  :class:`~huggingface_hub.EvalResultEntry` per benchmark task the run covers (serialised with
  :func:`~huggingface_hub.eval_result_entries_to_yaml`). The Hub collects these files into the
  leaderboard of the benchmark dataset (``--benchmark-id``, the exported dataset with its
  ``eval.yaml``). ``value`` is the task's **strict micro-F1 in percent** (two decimals,
  :func:`~cascadener.publishing.results.percent`); ``dataset.revision`` a 40-hex commit of the
  benchmark repo or absent; ``notes`` a short human line (method, backend, matching);
  ``source.url`` the run's results JSON, which holds its full identity; with ``create_pr=True``
  the file arrives as a pull request (a "community" result);
- the legacy ``model-index`` of the model card (:class:`~huggingface_hub.EvalResult` via
  :func:`~huggingface_hub.metadata_update`), whose ``dataset.type`` is the benchmark id, with the
  same unit (percent, two decimals) and the same dataset revision;
- ``results/<run_id>.json`` in the results dataset repo (one file per run, never overwritten),
  naming the model as published (:func:`published`: the model repo and its commit; the identity
  the run was scored under stays in ``model.local``).

Only runs that predicted their whole split are published (:func:`check_complete`). The token is
never an argument: huggingface_hub reads it from ``HF_TOKEN`` or the stored ``hf auth login``;
this module never writes or prints it. :func:`write_dry_run` and :func:`write_eval_results` write
the same files to a local folder instead, atomically.

Example:
    >>> results = RunResults(run_id="r1", created_at="2026-01-01T00:00:00+00:00",
    ...     model={"id": "me/ext", "revision": "unknown", "extractor": "me/ext", "classifier": "me/ext"},
    ...     dataset={"id": "dynamicner", "config": "en", "split": "test", "revision": "builder-abc", "languages": ["en"]},
    ...     metric={"name": "dynamicner_f1", "version": "0.1.0", "matching": "strict"},
    ...     prompt={"template": "released", "hash": "0123456789ab"}, metrics={"f1": 0.5, "precision": 0.4,
    ...     "recall": 0.6667}, scores={"dynamic-en": {"f1": 0.5, "precision": 0.4, "recall": 0.6667, "languages": {"en": 0.5}}},
    ...     pipeline={"backend": "transformers", "method": "cascadener-generative"},
    ...     coverage={"sentences_predicted": 8, "sentences_in_split": 8, "limit": None})
    >>> [(r.metric_type, r.metric_value, r.dataset_revision) for r in eval_results(results, benchmark_id="me/DynamicNER")]
    [('precision', 40.0, None), ('recall', 66.67, None), ('f1', 50.0, None)]
    >>> entries, skipped = eval_result_entries(results, benchmark_id="me/DynamicNER", tasks=["dynamic-en"])
    >>> [(e.task_id, e.value, e.notes) for e in entries], skipped
    ([('dynamic-en', 50.0, 'method cascadener-generative, backend transformers, strict matching')], [])
    >>> published(results, model_id="me/cascadener-en", model_revision="0" * 40).model["local"]
    {'id': 'me/ext', 'revision': 'unknown'}
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from dynamicner_data.atomic import atomic_path, atomic_write_text

from .leaderboard_formats import markdown_escape

from .results import (
    GRANULARITIES,
    RESULTS_SCHEMA,
    Coverage,
    ResultsError,
    RunResults,
    dataset_section,
    evaluation_task,
    expanded_task_scores,
    load_results,
    method_label,
    model_revision,
    new_run_id,
    now_iso,
    percent,
    task_id,
    task_scores,
)

__all__ = [
    "RESULTS_SCHEMA",
    "DEFAULT_METRIC_KEYS",
    "EVAL_RESULTS_PATH",
    "RunResults",
    "ResultsError",
    "new_run_id",
    "now_iso",
    "load_results",
    "model_revision",
    "evaluation_task",
    "dataset_section",
    "task_id",
    "task_scores",
    "Coverage",
    "check_publishable",
    "check_complete",
    "is_commit",
    "check_commit",
    "cached_commit",
    "published",
    "notes",
    "eval_results",
    "eval_result_entries",
    "eval_results_yaml",
    "model_card",
    "results_url",
    "write_dry_run",
    "write_eval_results",
    "push_results",
]

#: Scores published to ``model-index`` by default (those present in a run's metrics).
DEFAULT_METRIC_KEYS: tuple[str, ...] = ("precision", "recall", "f1", "macro_f1", "extraction_f1", "hierarchical_f1",
                                        "f1_ci_low", "f1_ci_high")
#: Where the Hub looks for eval results in a model repo (any ``.eval_results/*.yaml``); ours.
EVAL_RESULTS_PATH = ".eval_results/dynamicner.yaml"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def is_commit(value: object) -> bool:
    """Whether ``value`` is a full git commit sha (40 lowercase hex digits), what the Hub's ``revision``
    fields hold.

    >>> is_commit("0123456789abcdef0123456789abcdef01234567"), is_commit("main"), is_commit("builder-ca3dcf97")
    (True, False, False)
    """
    return isinstance(value, str) and _COMMIT.match(value) is not None


def check_commit(value: str | None, *, what: str) -> str | None:
    """``value`` lower-cased when it is a 40-hex commit sha (or ``None``); else :class:`ValueError` naming ``what``.

    >>> check_commit("0123456789ABCDEF0123456789ABCDEF01234567", what="--dataset-revision")
    '0123456789abcdef0123456789abcdef01234567'
    >>> check_commit("main", what="--dataset-revision")
    Traceback (most recent call last):
    ...
    ValueError: --dataset-revision 'main' is not a commit: give the full 40-hex sha of the repo's commit ...
    """
    if value is None:
        return None
    if not is_commit(value.lower()):
        raise ValueError(f"{what} {value!r} is not a commit: give the full 40-hex sha of the repo's commit (a branch, "
                         "a tag or a short sha can move or collide), e.g. HfApi().dataset_info(repo_id).sha")
    return value.lower()


def cached_commit(repo_id: str, *, repo_type: str, filenames: Sequence[str]) -> tuple[str, str] | None:
    """``(commit, filename)`` of the first of ``filenames`` found in the local Hub cache of ``repo_id`` (the
    snapshot it belongs to), else ``None``. Reads the cache only: nothing goes to the network."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        try:
            path = try_to_load_from_cache(repo_id, filename, repo_type=repo_type)
        except Exception:  # an id huggingface_hub refuses: nothing cached under it
            return None
        if isinstance(path, str) and is_commit(Path(path).parent.name):
            return Path(path).parent.name, filename
    return None


def check_publishable(results: RunResults, *, metric_keys: Sequence[str] | None = None, where: str = "results") -> None:
    """Refuse what must not reach a model card: no scores, NaN/infinite or missing headline scores."""
    if not results.metrics:
        raise ResultsError(f"{where}: field 'metrics' is empty: nothing to publish")
    if not results.scores:
        raise ResultsError(f"{where}: field 'scores' is empty: nothing to publish")
    keys = list(metric_keys) if metric_keys is not None else [k for k in DEFAULT_METRIC_KEYS if k in results.metrics]
    if not keys:
        raise ResultsError(f"{where}: field 'metrics' holds none of the headline scores "
                           f"({', '.join(DEFAULT_METRIC_KEYS)})")
    missing = [k for k in keys if k not in results.metrics]
    if missing:
        raise ResultsError(f"metric(s) {', '.join(missing)} not in the results (have: {', '.join(results.metrics)})")
    for key in keys:
        if not math.isfinite(float(results.metrics[key])):
            raise ResultsError(f"{where}: field 'metrics/{key}' is {results.metrics[key]!r}: refusing to publish a "
                               "non-finite score")
    for task, score in results.scores.items():
        for name in ("f1", "precision", "recall"):
            value = score.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ResultsError(f"{where}: field 'scores/{task}/{name}' is {value!r}: refusing to publish it")


def check_complete(results: RunResults, *, where: str = "results") -> None:
    """Refuse what must not reach a benchmark: a run that did not predict its whole split (reduced by
    ``--max-test``/``--limit``, interrupted, predictions missing) or whose coverage was never recorded."""
    coverage = Coverage.of(results)
    if coverage.status == "full":
        return
    if coverage.status == "unrecorded":
        raise ResultsError(f"{where}: run {results.run_id} is a results file of schema 2, which does not record how "
                           "much of the split was predicted: score its predictions again with cascadener evaluate "
                           "(or rerun cascadener run) to publish it")
    raise ResultsError(f"{where}: run {results.run_id} is {coverage.describe()}: only runs that predicted the whole "
                       "test split can be published to a benchmark")


def notes(results: RunResults) -> str:
    """The ``notes`` of an eval result: a short human line, how the number was obtained (method, backend,
    matching, and the confidence threshold when entities scored below one were dropped). The run's full
    identity is in its results JSON, which ``source.url`` links.

    >>> r = RunResults(run_id="r", created_at="2026-01-01T00:00:00Z", model={}, dataset={},
    ...     metric={"name": "dynamicner_f1", "version": "0.1.0", "matching": "strict"}, prompt={"hash": "ab"},
    ...     metrics={}, pipeline={"backend": "openai", "method": "cascadener-constrained"})
    >>> notes(r)
    'method cascadener-constrained, backend openai, strict matching'
    >>> notes(replace(r, pipeline={"backend": "openai", "method": "gpt-ner-verify", "setting": "few-shot"}))
    'method gpt-ner-verify (few-shot), backend openai, strict matching'
    >>> notes(replace(r, pipeline={**r.pipeline, "threshold": 0.5}))
    'method cascadener-constrained, backend openai, strict matching, confidence threshold 0.5'
    """
    threshold = results.pipeline.get("threshold")
    return (f"method {method_label(results.pipeline)}, backend {results.pipeline.get('backend', 'unknown')}, "
            f"{results.metric.get('matching', 'unknown')} matching"
            + ("" if threshold is None else f", confidence threshold {threshold}"))


def published(results: RunResults, *, model_id: str, model_revision: str | None) -> RunResults:
    """``results`` as published for the model repo ``model_id`` at commit ``model_revision`` (``unknown``
    when not known): ``model.id`` and ``model.revision`` name the published model; the identity the run
    was scored under stays in ``model.local``. Unchanged when it already names that model."""
    revision = model_revision or "unknown"
    model = dict(results.model)
    if model.get("id") == model_id and (model_revision is None or model.get("revision") == revision):
        return results
    local = model.get("local") or {"id": str(model.get("id")), "revision": str(model.get("revision"))}
    model.update(id=model_id, revision=revision, local=local)
    return replace(results, model=model)


def eval_results(results: RunResults, *, metric_keys: Sequence[str] | None = None,
                 benchmark_id: str | None = None, dataset_revision: str | None = None,
                 source_url: str | None = None) -> list:
    """One legacy :class:`huggingface_hub.EvalResult` per headline score (:data:`DEFAULT_METRIC_KEYS`
    present in the results, or ``metric_keys``), in percent with two decimals like every published score;
    ``dataset_type`` is ``benchmark_id`` when given; ``dataset_revision`` a 40-hex commit or absent (a
    builder hash stays in the results JSON)."""
    from huggingface_hub import EvalResult

    check_publishable(results, metric_keys=metric_keys)
    revision = check_commit(dataset_revision, what="the dataset revision")
    keys = list(metric_keys) if metric_keys is not None else [k for k in DEFAULT_METRIC_KEYS if k in results.metrics]
    dataset = results.dataset
    metric_args = {"matching": results.metric.get("matching"), "prompt_hash": results.prompt.get("hash"),
                   "metric_version": results.metric.get("version"), "unit": "percent",
                   "threshold": results.pipeline.get("threshold")}
    dataset_type = benchmark_id or str(dataset.get("id") or dataset.get("name", "dynamicner"))
    return [
        EvalResult(
            task_type="token-classification",
            task_name="Named Entity Recognition",
            dataset_type=dataset_type,
            dataset_name=str(dataset.get("pretty_name") or "DynamicNER"),
            dataset_config=dataset.get("config"),
            dataset_split=dataset.get("split"),
            dataset_revision=revision,
            metric_type=key,
            metric_name=f"{results.metric.get('name', 'dynamicner_f1')} {key} (%)",
            metric_value=percent(results.metrics[key]),
            metric_config=results.metric.get("matching"),
            metric_args={k: v for k, v in metric_args.items() if v is not None},
            source_name="CascadeNER results JSON" if source_url else None,
            source_url=source_url,
        )
        for key in keys
    ]


def results_url(results_repo: str | None, run_id: str) -> str | None:
    """The Hub address of ``results/<run_id>.json`` in the results dataset repo."""
    if results_repo is None:
        return None
    return f"https://huggingface.co/datasets/{results_repo}/blob/main/results/{run_id}.json"


def eval_result_entries(results: RunResults, *, benchmark_id: str, tasks: Iterable[str],
                        dataset_revision: str | None = None, results_repo: str | None = None) -> tuple[list, list[str]]:
    """``(entries, skipped)``: one :class:`huggingface_hub.EvalResultEntry` per task of ``tasks`` (the
    benchmark's ``eval.yaml`` task ids) that the run covers; ``skipped`` lists the run's tasks the
    benchmark does not declare. ``value`` is the strict micro-F1 in percent (two decimals); the run must
    have predicted its whole split (:func:`check_complete`)."""
    from huggingface_hub import EvalResultEntry

    check_publishable(results)
    check_complete(results)
    revision = check_commit(dataset_revision, what="the dataset revision")
    declared = list(tasks)
    covered = expanded_task_scores(results)
    entries = [
        EvalResultEntry(
            dataset_id=benchmark_id,
            task_id=name,
            value=percent(covered[name]),
            dataset_revision=revision,
            date=results.created_at,
            source_url=results_url(results_repo, results.run_id),
            source_name="CascadeNER results JSON" if results_repo else None,
            notes=notes(results),
        )
        for name in declared if name in covered
    ]
    skipped = [name for name in covered if name not in declared]
    return entries, skipped


def eval_results_yaml(entries: Sequence) -> str:
    """The text of a ``.eval_results/*.yaml`` file (huggingface_hub's serialisation, then YAML)."""
    import yaml
    from huggingface_hub import eval_result_entries_to_yaml

    return yaml.safe_dump(eval_result_entries_to_yaml(list(entries)), sort_keys=False, allow_unicode=True)


def _model_name(results: RunResults, model_id: str | None) -> str:
    return model_id or str(results.model.get("id") or results.model.get("extractor") or "cascadener")


def model_card(results: RunResults, *, model_id: str | None = None, metric_keys: Sequence[str] | None = None,
               benchmark_id: str | None = None, dataset_revision: str | None = None, source_url: str | None = None):
    """A :class:`huggingface_hub.ModelCard` whose YAML ``model-index`` carries the run's scores (percent)."""
    from huggingface_hub import ModelCard, ModelCardData

    name = _model_name(results, model_id)
    data = ModelCardData(
        model_name=name,
        eval_results=eval_results(results, metric_keys=metric_keys, benchmark_id=benchmark_id,
                                  dataset_revision=dataset_revision, source_url=source_url),
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["named-entity-recognition", "cascadener", "dynamicner"],
        datasets=[benchmark_id or str(results.dataset.get("id") or results.dataset.get("name", "dynamicner"))],
    )
    description = markdown_escape(
        f"Model evaluated with method {method_label(results.pipeline)} on "
        f"{results.dataset.get('id') or results.dataset.get('name')} "
        f"({results.dataset.get('config')}, {results.dataset.get('split')}) with "
        f"{results.metric.get('name')} {results.metric.get('version')}; prompt hash {results.prompt.get('hash')}. "
        + ("" if results.pipeline.get("threshold") is None else
           f"Entities scored below the confidence threshold {results.pipeline['threshold']} were dropped. ")
        + "Scores in percent."
    )
    rows = "\n".join(f"| {key} | {percent(results.metrics[key]):.2f} |" for key in DEFAULT_METRIC_KEYS
                     if key in results.metrics)
    return ModelCard.from_template(data, template_str=_CARD_TEMPLATE, model_id=markdown_escape(name),
                                   model_summary=description, results_table=rows, run_id=results.run_id)


_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_id }}

{{ model_summary }}

## Evaluation (run {{ run_id }})

| metric | value (%) |
| --- | ---: |
{{ results_table }}

Scored with `cascadener evaluate`; published with `cascadener push-results`.
"""


def _prepare_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} exists and is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)


def write_dry_run(results: RunResults, output_dir: str | Path, *, model_id: str | None = None,
                  metric_keys: Sequence[str] | None = None, benchmark_id: str | None = None,
                  dataset_revision: str | None = None, source_url: str | None = None,
                  appendix: str = "") -> tuple[Path, Path]:
    """Write ``README.md`` (the card, ``appendix`` added to its text) and ``results/<run_id>.json`` under
    ``output_dir`` (each atomically); return both paths."""
    output_dir = Path(output_dir)
    card = model_card(results, model_id=model_id, metric_keys=metric_keys, benchmark_id=benchmark_id,
                      dataset_revision=dataset_revision, source_url=source_url)
    _prepare_folder(output_dir)
    _prepare_folder(output_dir / "results")
    card_path = atomic_write_text(output_dir / "README.md", str(card) + appendix)
    json_path = results.save(output_dir / "results" / f"{results.run_id}.json")
    return card_path, json_path


def write_eval_results(entries: Sequence, output_dir: str | Path) -> Path:
    """Write ``.eval_results/dynamicner.yaml`` under ``output_dir`` atomically; return its path."""
    target = Path(output_dir) / EVAL_RESULTS_PATH
    _prepare_folder(target.parent)
    with atomic_path(target) as partial:
        partial.write_text(eval_results_yaml(entries), encoding="utf-8")
    return target


def push_results(results: RunResults, *, model_id: str, results_repo: str | None = None,
                 metric_keys: Sequence[str] | None = None, create_results_repo: bool = True,
                 benchmark_id: str | None = None, dataset_revision: str | None = None, entries: Sequence = (),
                 create_pr: bool = False) -> dict[str, str]:
    """Publish: ``model-index`` of ``model_id`` via ``metadata_update`` (``dataset.type`` = ``benchmark_id``),
    ``entries`` as ``.eval_results/dynamicner.yaml`` to the model repo (a pull request with ``create_pr``),
    ``results/<run_id>.json`` to the ``results_repo`` dataset (``results`` as given: pass
    :func:`published` results). Authentication: ``HF_TOKEN`` or the stored login (never passed here)."""
    from huggingface_hub import HfApi, metadata_update
    from huggingface_hub.repocard_data import eval_results_to_model_index

    index = eval_results_to_model_index(_model_name(results, model_id),
                                        eval_results(results, metric_keys=metric_keys, benchmark_id=benchmark_id,
                                                     dataset_revision=dataset_revision,
                                                     source_url=results_url(results_repo, results.run_id)))
    message = f"Add CascadeNER results {results.run_id}"
    # a newer run of the same model replaces the scores of an earlier one (the eval results file is replaced too)
    update = {"repo_type": "model", "commit_message": message, "overwrite": True}
    if create_pr:
        update["create_pr"] = True
    info = metadata_update(model_id, {"model-index": index}, **update)
    out = {"model_card": str(getattr(info, "pr_url", None) or getattr(info, "commit_url", info))}
    api = None
    if entries:
        api = HfApi()
        info = api.upload_file(path_or_fileobj=eval_results_yaml(entries).encode("utf-8"),
                               path_in_repo=EVAL_RESULTS_PATH, repo_id=model_id, repo_type="model",
                               commit_message=message, create_pr=create_pr)
        out["eval_results"] = str(getattr(info, "pr_url", None) or getattr(info, "commit_url", info))
    if results_repo is not None:
        api = api or HfApi()
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


__all__ += ["GRANULARITIES"]
