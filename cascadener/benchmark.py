"""The main job: DynamicNER data -> (training) -> prediction by a method -> scores -> results card.

:func:`run_benchmark` does, offline:

1. load the DynamicNER train and test splits of the chosen languages through the ``datasets``
   builder (``dynamicner.py``): the embedded sample, or ``data_dir`` (the full release);
2. unless an extractor is given, train an extractor and a classifier (:func:`cascadener.training.train_cascade`)
   on the train split: from a tiny from-scratch model, or from ``base_model``; the classifier learns both
   the per-sample dynamic lists and the taxonomy levels of the hierarchical cascade;
3. predict the test split once with stage 1, then classify every mention twice: against the sample's
   own ``type_list`` (the **dynamic** column), and down the taxonomy (the hierarchical cascade, read at
   level 1, 2 and 3 for the **coarse**, **medium** and **fine** columns; gold labels are the entity's
   taxonomy ``path`` cut at that level). With ``method`` GPT-NER or PromptNER (``cascadener run
   --method``), step 2 trains one model on the method's own format and step 3 asks the method about
   each sample's ``type_list``: the dynamic column only (they read no taxonomy);
4. score each column with the ``dynamicner_f1`` scorer (strict span + label matching), per language;
5. write ``predictions.jsonl``, ``results.json`` (+ ``results/<run_id>.json``), a model card
   ``README.md`` with ``model-index`` (:mod:`cascadener.publishing.hub`) and ``per_label_f1.png``.

The printed table is F1 in percent with two decimals (:func:`cascadener.publishing.results.percent`,
the rounding of the results card, the eval results and the leaderboard), one row per language
plus ``all`` (micro-averaged over every sentence of the chosen languages).

Example:
    >>> print(format_table({"dynamic": {"f1": 0.5, "language/en/f1": 0.012849}}, ["en"]))
    language   dynamic  coarse  medium    fine
    en            1.28       -       -       -
    all          50.00       -       -       -
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from dynamicner_data import LANGUAGES
from dynamicner_data.typelists import GRANULARITIES, STATIC_LEVELS

from dynamicner_data.atomic import atomic_paths

from cascadener.backends.base import BackendSettings
from cascadener.backends.local import LocalSettings
from cascadener.methods import DEFAULT_METHOD, DemonstrationPool
from cascadener.methods.base import needs_demonstrations
from cascadener.options import PredictOptions
from cascadener.training.recipes import TINY
from cascadener.training.trainer import TrainOptions

COLUMNS: tuple[str, ...] = GRANULARITIES  # one results column per granularity; static ones score STATIC_LEVELS
CARD_METRICS: tuple[str, ...] = ("precision", "recall", "f1", "macro_f1", "extraction_f1",
                                 "coarse/f1", "medium/f1", "fine/f1")


class BenchmarkError(ValueError):
    """A user-facing problem with the benchmark's inputs (bad language, missing split, ...)."""


class OutputWriteError(BenchmarkError):
    """A write into the output folder failed (a full or read-only disk); the message names the
    file, the cause, and what was kept."""

    def __init__(self, path: Path, error: OSError, kept: str) -> None:
        super().__init__(f"cannot write {path}: {error.strerror or error}; {kept}")
        self.errno = error.errno


@dataclass(frozen=True)
class BenchmarkOptions:
    """What the main job runs. ``max_train``/``max_test`` (per language) give the reduced mode.

    ``train`` trains the extractor (and the one model of ``one_model``), ``classifier_train`` the
    classifier; the defaults are the tiny from-scratch recipe (:func:`cascadener.training.recipes.recipe`
    gives the one for a ``base_model``).
    ``method`` (a name in :data:`cascadener.methods.METHODS`) predicts the test split with the options
    ``predict``, the method's own (:class:`~cascadener.options.PredictOptions` for CascadeNER: its
    ``template`` is also the one trained on, its ``taxonomy`` is replaced by the dataset's; a prompt
    method's draw their demonstrations from the train split); a prompt method (GPT-NER, PromptNER)
    trains one model on its own format with ``train``; ``predict_threads`` sets torch's CPU threads
    while predicting (``None``: torch's default).
    """

    output_dir: Path
    languages: tuple[str, ...] = LANGUAGES
    data_dir: str | None = None
    extractor: str | None = None
    classifier: str | None = None
    base_model: str | None = None
    one_model: bool = False
    max_train: int | None = None
    max_test: int | None = None
    train: TrainOptions = TINY.extractor
    classifier_train: TrainOptions = TINY.classifier
    vocab_size: int = 2000
    method: str = DEFAULT_METHOD
    predict: Any = PredictOptions(batch_size=16)  # the method's options (PredictOptions for CascadeNER)
    predict_threads: int | None = None
    device: str | None = None
    # a backend that holds its own weights (a server, e.g. EndpointSettings): extractor/classifier are
    # the served model names, nothing is trained
    served: BackendSettings | None = None
    # one part of the test split (``cascadener run --shard I/N``): a ``cascadener.scale.shards.Shard``,
    # whose ``bounds(total)`` are the rows ``Dataset.shard(N, I, contiguous=True)`` selects of the
    # test records of every language in order; the part alone is predicted and scored
    shard: Any = None
    retrain: bool = False
    progress: bool = True


@dataclass
class SplitData:
    """Records of one split (``{id, language, text, entities, type_list}``) and where they came from."""

    records: list[dict[str, Any]]
    taxonomy: Any
    description: dict[str, Any]


@dataclass
class BenchmarkResult:
    """Scores per column (flat dicts from the scorer), the printed table and the files written."""

    scores: dict[str, dict[str, float]]
    table: str
    results: Any
    paths: dict[str, Path]
    timings: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- data

def load_split(languages: Sequence[str], split: str, *, data_dir: str | None = None,
               limit: int | None = None) -> SplitData:
    """One split of the dynamic configs of ``languages`` (first ``limit`` sentences per language)."""
    from dynamicner_data.builder import builder_hash, prepare
    from dynamicner_data.cache import content_digest
    from dynamicner_data.errors import describe, user_error

    records: list[dict[str, Any]] = []
    taxonomy = None
    in_split = 0
    contents: dict[str, str | None] = {}
    for language in languages:
        if language not in LANGUAGES:
            raise BenchmarkError(f"unknown language {language!r}; choose from {', '.join(LANGUAGES)}")
        try:
            builder = prepare(language, data_dir=data_dir)
        except Exception as error:  # noqa: BLE001 - the same handling as the dynamicner command
            cause = user_error(error)
            if cause is None:
                raise
            raise BenchmarkError(f"DynamicNER {language}: {describe(cause)}") from None
        splits = list(builder.info.splits or {})
        if split not in splits:
            raise BenchmarkError(f"DynamicNER {language} has no split {split!r} (available: {', '.join(splits)})")
        dataset = builder.as_dataset(split=split)
        contents[language] = content_digest(builder.cache_dir)
        in_split += len(dataset)
        if limit is not None:
            dataset = dataset.select(range(min(limit, len(dataset))))
        taxonomy = taxonomy or builder.taxonomy()
        for row in dataset:
            records.append({"id": row["id"], "language": row["language"], "text": row["text"],
                            "entities": [dict(e) for e in row["entities"]], "type_list": list(row["type_list"])})
    config = "all" if sorted(languages) == sorted(LANGUAGES) else "+".join(languages)
    description = {"name": "dynamicner", "config": config, "split": split,
                   "revision": f"builder-{builder_hash()}",
                   "source": data_dir or "embedded sample", "sentences": len(records),
                   "sentences_in_split": in_split}
    if any(contents.values()):  # the files read (the embedded sample is covered by the builder's revision)
        description["sha256"] = hashlib.sha256(json.dumps(contents, sort_keys=True).encode("utf-8")).hexdigest()
    if limit is not None:
        description["limit_per_language"] = limit
    return SplitData(records=records, taxonomy=taxonomy, description=description)


def shard_of(test: SplitData, shard: Any) -> SplitData:
    """The part ``shard`` (a :class:`cascadener.scale.shards.Shard`) of ``test``: its rows, and its
    description saying which (``shard``: index, count, rows, the digest of its ids).

    >>> class Half:  # the first half, as Shard(0, 2) has it
    ...     def bounds(self, total): return 0, (total + 1) // 2
    ...     def to_dict(self, total, ids): return {"rows": [0, (total + 1) // 2], "of": total}
    >>> part = shard_of(SplitData([{"id": "a"}, {"id": "b"}, {"id": "c"}], None, {"sentences": 3}), Half())
    >>> [r["id"] for r in part.records], part.description
    (['a', 'b'], {'sentences': 2, 'shard': {'rows': [0, 2], 'of': 3}})
    """
    start, end = shard.bounds(len(test.records))
    records = test.records[start:end]
    description = test.description | {"sentences": len(records),
                                      "shard": shard.to_dict(len(test.records), [r["id"] for r in records])}
    return SplitData(records=records, taxonomy=test.taxonomy, description=description)


def gold_at_level(entity: dict[str, Any], level: int) -> str:
    """The gold type of ``entity`` at taxonomy ``level`` (its path cut there; the label without a path).

    >>> gold_at_level({"label": "novelist", "path": ["person", "real person", "author"]}, 2)
    'real person'
    """
    path = entity.get("path") or []
    if not path:
        return entity["label"]
    return path[min(level, len(path)) - 1]


# ----------------------------------------------------------------------------------------- models

def _train_fingerprint(options: BenchmarkOptions, train: SplitData) -> dict[str, Any]:
    """What the models of ``output_dir/models`` were trained from: reused only when all is equal. The
    data by content (the SHA-256 of the source files, the builder's revision), not by path; a local
    base model by the SHA-256 of its files."""
    from cascadener.training.model_files import model_identity

    data = {key: value for key, value in train.description.items() if key != "source"}
    base_model = model_identity(options.base_model) if options.base_model is not None else None
    fingerprint = {"languages": list(options.languages), "max_train": options.max_train, "data": data,
                   "base_model": base_model, "one_model": options.one_model,
                   "template": getattr(options.predict, "template", None), "vocab_size": options.vocab_size,
                   "train": [o.to_dict() | {"progress": None} for o in (options.train, options.classifier_train)]}
    if options.method != DEFAULT_METHOD:  # a prompt method trains one model on its own format
        from cascadener.methods import method_class

        cls = method_class(options.method)
        fingerprint |= {"method": options.method, "format": cls.prompt_hash(cls.options_type()),
                        "one_model": True, "train": [options.train.to_dict() | {"progress": None}]}
    return fingerprint


MODELS_DIR = "models"
STAGED_MODELS_DIR = "models.next"  # trained by a run whose outputs are not written yet
STAMP = "benchmark_train.json"


@dataclass(frozen=True)
class ModelChoice:
    """The models a run predicts with: where to load them from now (``extractor``, ``classifier``),
    what the results record (``info``, with the paths they have once the run's outputs are in
    place), and ``staged``: the ``models.next`` folder that replaces ``models`` with the outputs."""

    extractor: str
    classifier: str
    info: dict[str, Any]
    staged: Path | None = None


def _matching_stamp(folder: Path, fingerprint: dict[str, Any], names: tuple[str, str]) -> dict[str, Any] | None:
    """The stamp of ``folder`` when it vouches for models trained from ``fingerprint``."""
    from cascadener.training.model_files import folder_state

    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("fingerprint") != fingerprint:
        return None
    return stamp if all(folder_state(folder / name) == "model" for name in names) else None


def ensure_models(options: BenchmarkOptions, train: SplitData | None) -> ModelChoice:
    """The extractor and classifier to use: given; reused from an identical earlier run (its
    ``output_dir/models``, or the ``models.next`` of one that trained them and then failed to
    write its outputs); or trained now into ``models.next``, which replaces ``models`` together
    with the run's other outputs (:func:`write_outputs`), so the results in the folder always
    describe the models beside them."""
    if options.extractor is not None:
        classifier = options.classifier or options.extractor
        return ModelChoice(options.extractor, classifier, {"extractor": options.extractor, "classifier": classifier,
                                                           "trained": False})
    import shutil

    from dynamicner_data.atomic import atomic_write_text

    from cascadener.methods import method_class
    from cascadener.training.trainer import as_os_error, train_cascade, train_method

    assert train is not None
    output_dir = Path(options.output_dir)
    models_dir, staged_dir = output_dir / MODELS_DIR, output_dir / STAGED_MODELS_DIR
    fingerprint = _train_fingerprint(options, train)
    single = method_class(options.method).single_model
    names = ("model", "model") if options.one_model or single else ("extractor", "classifier")
    final = {"extractor": str(models_dir / names[0]), "classifier": str(models_dir / names[1])}
    if not options.retrain:
        for folder in (models_dir, staged_dir):
            stamp = _matching_stamp(folder, fingerprint, names)
            if stamp is not None:
                print(f"reusing the models trained by an identical earlier run in {folder} (--retrain to redo)",
                      file=sys.stderr)
                return ModelChoice(str(folder / names[0]), str(folder / names[1]),
                                   final | {"trained": True, "reused": True, "base_model": options.base_model,
                                            "training": stamp["training"]},
                                   staged=folder if folder == staged_dir else None)
    try:
        if staged_dir.exists():  # models of other options, or a training that was interrupted
            shutil.rmtree(staged_dir)
        if single:  # a prompt method: one model on its own format (marked as fine-tuned for it)
            result = train_method(train.records, staged_dir, method=options.method, base_model=options.base_model,
                                  options=replace(options.train, progress=options.progress),
                                  vocab_size=options.vocab_size)
        else:
            result = train_cascade(train.records, staged_dir, base_model=options.base_model,
                                   one_model=options.one_model, lists=("type_list", "hierarchy"),
                                   taxonomy=train.taxonomy, template=options.predict.template,
                                   options=replace(options.train, progress=options.progress),
                                   classifier_options=replace(options.classifier_train, progress=options.progress),
                                   vocab_size=options.vocab_size)
        training = {"sft": result.sft_report.to_dict(),
                    "runs": {name: run.to_dict(with_history=False) for name, run in result.runs.items()}}
        # the stamp vouches for the models beside it: written last, once both are whole
        atomic_write_text(staged_dir / STAMP, json.dumps({"fingerprint": fingerprint, "training": training},
                                                         indent=2, ensure_ascii=False) + "\n")
    except Exception as error:
        disk = as_os_error(error)
        if disk is None:
            raise
        kept = (f"the outputs of the earlier run in {output_dir} are unchanged" if models_dir.exists()
                else "no partial model was left")
        raise OutputWriteError(Path(disk.filename) if disk.filename else staged_dir, disk, kept) from None
    print(result.summary(), file=sys.stderr)
    return ModelChoice(str(result.extractor), str(result.classifier),
                       final | {"trained": True, "base_model": options.base_model, "training": training},
                       staged=staged_dir)


# ----------------------------------------------------------------------------------------- predict

def prediction_backend(options: BenchmarkOptions, extractor: str, classifier: str) -> BackendSettings:
    """The backend the test split is predicted on: the served models (``options.served``, as given),
    or the local models ``extractor`` and ``classifier`` (given or just trained).

    >>> prediction_backend(BenchmarkOptions(Path("out"), device="cpu"), "models/e", "models/c").models()
    {'extractor': 'models/e', 'classifier': 'models/c'}
    """
    if options.served is not None:
        return options.served
    return LocalSettings(extractor, classifier, device=options.device)


@dataclass
class SplitPredictions:
    """Per test sentence: dynamic-list entities, and cascade entities with their label per level (``None``
    for a method that reads no taxonomy: it is scored on the dynamic column only)."""

    dynamic: list[list[dict[str, Any]]]
    cascade: list[list[dict[str, Any]]] | None
    stats: dict[str, int]


def _needs_pool(method: Any, options: BenchmarkOptions) -> bool:
    """Whether the run shows demonstrations (a prompt method): as many as its options say, or, left to
    the method, unless the model is fine-tuned on its prompts (trained here, or a given folder marked so).

    >>> from cascadener.methods import GptNer, GptNerOptions
    >>> trained_here = BenchmarkOptions(Path("o"), predict=GptNerOptions())
    >>> given = BenchmarkOptions(Path("o"), extractor="m", predict=GptNerOptions())
    >>> _needs_pool(GptNer, trained_here), _needs_pool(GptNer, given)
    (False, True)
    """
    if not method.uses_demonstrations:
        return False
    if options.served is None and options.extractor is None:  # trained here, on the method's format
        return bool(options.predict.demonstrations)
    return needs_demonstrations(method, options.predict, None if options.served is not None else options.extractor)


def _check(ner: Any, options: Any) -> dict[str, Any]:
    """The method's :meth:`~cascadener.methods.Method.check` (a server probed once), its refusal or a
    server's failure as a :class:`BenchmarkError` (nothing has been run)."""
    from cascadener.backends.http import ServerError

    try:
        return ner.check(options)
    except (ValueError, ServerError) as error:
        raise BenchmarkError(f"{error}; nothing was run") from None


def predict_test(ner: Any, test: SplitData, options: Any) -> SplitPredictions:
    """The method's run (:class:`cascadener.methods.Method`) with the method's ``options``: for CascadeNER,
    with ``cascade=True`` (stage 1 once, stage 2 against each sample's ``type_list`` and down the
    taxonomy); a method that reads no taxonomy answers each sample's ``type_list`` only."""
    texts = [r["text"] for r in test.records]
    lists = [r["type_list"] for r in test.records]
    languages = [r["language"] for r in test.records]
    if ner.reads_taxonomy:
        run = ner.run(texts, lists, options=replace(options.predict, taxonomy=test.taxonomy), languages=languages,
                      cascade=True, progress=options.progress)
        cascade = [p.cascade_entities for p in run.predictions]
    else:
        run = ner.run(texts, lists, options=options.predict, languages=languages, progress=options.progress)
        cascade = None
    return SplitPredictions(dynamic=[p.entities for p in run.predictions], cascade=cascade, stats=run.stats.to_dict())


# ----------------------------------------------------------------------------------------- score

def score_columns(test: SplitData, predictions: SplitPredictions) -> dict[str, dict[str, float]]:
    """``dynamicner_f1`` scores (strict) for the dynamic column and each cascade level."""
    from dynamicner_f1 import score_spans

    texts = [r["text"] for r in test.records]
    languages = [r["language"] for r in test.records]
    scores = {"dynamic": score_spans(predictions.dynamic, [r["entities"] for r in test.records],
                                     type_lists=[r["type_list"] for r in test.records], languages=languages,
                                     sentences=texts)}
    if predictions.cascade is None:
        return scores
    for column, level in STATIC_LEVELS.items():
        gold = [[{**e, "label": gold_at_level(e, level)} for e in r["entities"]] for r in test.records]
        pred = [[{**e, "label": e["levels"][min(level, len(e["levels"])) - 1]} for e in sentence]
                for sentence in predictions.cascade]
        scores[column] = score_spans(pred, gold, languages=languages, sentences=texts)
    return scores


def format_table(scores: dict[str, dict[str, float]], languages: Sequence[str]) -> str:
    """F1 in percent with two decimals: one row per language and ``all``, one column per granularity."""
    from cascadener.publishing.results import format_percent, language_scores

    header = f"{'language':<10}" + "".join(f"{c:>8}" for c in COLUMNS)
    lines = [header]
    by_language = {column: language_scores(scores.get(column, {})) for column in COLUMNS}
    for language in [*languages, "all"]:
        cells = []
        for column in COLUMNS:
            value = scores.get(column, {}).get("f1") if language == "all" else by_language[column].get(language)
            cells.append(f"{format_percent(value):>8}" if value is not None else f"{'-':>8}")
        lines.append(f"{language:<10}" + "".join(cells))
    return "\n".join(lines)


def flat_metrics(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """One flat dict for the results JSON: the dynamic column's keys as they are, the others prefixed.

    >>> flat_metrics({"dynamic": {"f1": 0.5}, "fine": {"f1": 0.25, "label/x/f1": 0.1}})
    {'f1': 0.5, 'fine/f1': 0.25, 'fine/label/x/f1': 0.1}
    """
    metrics = {key: float(value) for key, value in scores.get("dynamic", {}).items()}
    for column in COLUMNS[1:]:
        metrics.update({f"{column}/{key}": float(value) for key, value in scores.get(column, {}).items()})
    return metrics


def plot_per_label_f1(scores: dict[str, float], path: Path, *, title: str, top: int = 40) -> Path:
    """A horizontal bar chart of per-label F1 (the ``top`` labels by gold support), saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cascadener.publishing.results import label_scores

    rows = sorted(label_scores(scores).items(), key=lambda item: (-item[1].get("support", 0), item[0]))[:top]
    rows.reverse()
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.22 * len(rows) + 1)))
    ax.barh([f"{label} ({int(v.get('support', 0))})" for label, v in rows], [100 * v.get("f1", 0) for _, v in rows],
            color="#4c72b0")
    ax.set_xlim(0, 100)
    ax.set_xlabel("F1 (%)")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def card_section(table: str, test: SplitData, model_info: dict[str, Any], *,
                 method: dict[str, Any] | None = None) -> str:
    """Markdown appended to the model card: the per-language table and what the numbers mean (names escaped).
    ``method``: the run's ``pipeline`` record (its method and setting)."""
    from cascadener.publishing.leaderboard_formats import markdown_escape
    from cascadener.publishing.results import method_label

    method = method or {"method": f"{DEFAULT_METHOD}-generative"}
    cascade = str(method.get("method", "")).startswith(DEFAULT_METHOD)

    name = "CascadeNER" if cascade else markdown_escape(str(method.get("method")))
    if not model_info.get("trained"):
        origin = (f"the given models (extractor {markdown_escape(str(model_info['extractor']))}, classifier "
                  f"{markdown_escape(str(model_info['classifier']))})")
    elif model_info.get("base_model"):
        origin = (f"{markdown_escape(str(model_info['base_model']))} fine-tuned on the DynamicNER train split "
                  f"({markdown_escape(str(test.description['source']))})")
    else:
        origin = (f"tiny (~0.5M parameters) Qwen2 models trained from scratch on the train split of the "
                  f"{markdown_escape(str(test.description['source']))}: they mostly memorise and are no estimate of "
                  f"{name}'s quality")
    columns = ("`dynamic`: each sentence's own type list; `coarse`/`medium`/`fine`: the hierarchical cascade read at "
               "taxonomy level 1/2/3" if cascade else
               "`dynamic`: each sentence's own type list (the method reads no taxonomy: no coarse/medium/fine)")
    return (
        "\n\n## DynamicNER F1 (%) per language and granularity\n\n"
        f"Method: {markdown_escape(method_label(method))}. Models: {origin}. Test split: "
        f"{test.description['sentences']} sentences ({markdown_escape(str(test.description['source']))}). "
        f"{columns}. Strict span + label matching.\n\n"
        f"```\n{table}\n```\n"
    )


# ----------------------------------------------------------------------------------------- outputs

def write_outputs(output_dir: Path, *, test: SplitData, predictions: SplitPredictions, results: Any, card: str,
                  plot_scores: dict[str, float], staged_models: Path | None = None) -> dict[str, Path]:
    """Write the run's outputs as one set (:func:`dynamicner_data.atomic.atomic_paths`):
    ``predictions.jsonl``, ``results.json`` and its copy ``results/<run_id>.json``, the card
    ``README.md``, ``per_label_f1.png`` and, when this run trained them, ``models`` (from
    ``staged_models``). Each is written in full to a temporary sibling first; only then do they
    replace the earlier run's, together. A failed write (a full or read-only disk) raises
    :class:`OutputWriteError` and leaves the earlier set as it was (and trained models in
    ``staged_models``, reused by the next run)."""
    paths = {"predictions": output_dir / "predictions.jsonl", "results": output_dir / "results.json",
             "run_json": output_dir / "results" / f"{results.run_id}.json", "card": output_dir / "README.md",
             "plot": output_dir / "per_label_f1.png"}
    if staged_models is not None:
        paths["models"] = output_dir / MODELS_DIR
    earlier = any(path.exists() for key, path in paths.items() if key != "run_json")
    kept = (f"the outputs of the earlier run in {output_dir} are unchanged" if earlier
            else f"no output was written to {output_dir}")
    if staged_models is not None:
        kept += f"; the trained models are kept in {staged_models} for the next run with the same options"
    try:
        (output_dir / "results").mkdir(exist_ok=True)
        staged = {paths["models"]: staged_models} if staged_models is not None else {}
        with atomic_paths(list(paths.values()), staged=staged) as partials:
            partial = dict(zip(paths, partials))
            with partial["predictions"].open("w", encoding="utf-8") as out:
                cascades = predictions.cascade or [None] * len(test.records)
                for record, dynamic, cascade in zip(test.records, predictions.dynamic, cascades):
                    line = {"id": record["id"], "language": record["language"], "text": record["text"],
                            "type_list": record["type_list"], "entities": dynamic}
                    if cascade is not None:
                        line["cascade_entities"] = cascade
                    out.write(json.dumps({**line, "references": record["entities"]}, ensure_ascii=False) + "\n")
            partial["results"].write_text(results.to_json(), encoding="utf-8")
            partial["run_json"].write_text(results.to_json(), encoding="utf-8")
            partial["card"].write_text(card, encoding="utf-8")
            plot_per_label_f1(plot_scores, partial["plot"],
                              title=f"DynamicNER test ({test.description['config']}), dynamic lists: "
                                    "per-label F1 (support)")
    except OSError as error:
        failed = Path(error.filename) if isinstance(error.filename, str) else output_dir
        for key, path in paths.items():  # name the output, not its temporary sibling
            if failed.name.startswith(f".{path.name}.partial-"):
                failed = path
        raise OutputWriteError(failed, error, kept) from None
    return paths


# ----------------------------------------------------------------------------------------- main

def run_benchmark(options: BenchmarkOptions) -> BenchmarkResult:
    """The whole job (see the module docstring); returns the scores and the paths written."""
    from dynamicner_f1 import __version__ as metric_version

    from cascadener.publishing import hub
    from cascadener.methods import method_class

    output_dir = Path(options.output_dir)
    started = time.perf_counter()
    method = method_class(options.method)
    train = None
    if _needs_pool(method, options):  # a prompt method's demonstrations: training sentences of its languages
        train = load_split(options.languages, "train", data_dir=options.data_dir, limit=options.max_train)
        pool = DemonstrationPool(train.records, source={key: train.description[key] for key in
                                                        ("name", "config", "split", "revision", "source")})
        options = replace(options, predict=replace(options.predict, pool=pool))
    served = None
    if options.served is not None:  # a server is probed, and what it cannot apply refused, before any work
        served = method.from_settings(options.served)
        applied = _check(served, options.predict)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputWriteError(output_dir, error, "nothing was written") from None
    timings: dict[str, float] = {}
    test = load_split(options.languages, "test", data_dir=options.data_dir, limit=options.max_test)
    if options.shard is not None:
        test = shard_of(test, options.shard)
    if options.extractor is None and train is None:
        train = load_split(options.languages, "train", data_dir=options.data_dir, limit=options.max_train)
    timings["load_seconds"] = time.perf_counter() - started

    mark = time.perf_counter()
    models = ensure_models(options, train)
    extractor, classifier, model_info = models.extractor, models.classifier, models.info
    timings["train_seconds"] = time.perf_counter() - mark

    mark = time.perf_counter()
    import torch

    threads_before = torch.get_num_threads()
    if options.predict_threads:
        torch.set_num_threads(options.predict_threads)
    try:
        settings = prediction_backend(options, extractor, classifier)
        ner = served if served is not None else method.from_settings(settings)
        if served is None:
            applied = _check(ner, options.predict)
        predictions = predict_test(ner, test, options)
    finally:
        torch.set_num_threads(threads_before)
    timings["predict_seconds"] = time.perf_counter() - mark

    scores = score_columns(test, predictions)
    table = format_table(scores, options.languages)

    timings["total_seconds"] = time.perf_counter() - started
    model_id = None if model_info.get("trained") is False else "cascadener-tiny-dynamicner"
    if options.base_model is not None and model_info.get("trained"):
        model_id = f"cascadener-{Path(options.base_model).name}-dynamicner"
    results = hub.RunResults(
        run_id=hub.new_run_id(),
        created_at=hub.now_iso(),
        model=model_info | {"id": model_id or model_info["extractor"],
                            "revision": hub.model_revision(extractor, classifier),
                            "base_model": options.base_model},
        dataset=test.description | {"id": "dynamicner", "languages": list(options.languages),
                                    "pretty_name": "DynamicNER"},
        metric={"name": "dynamicner_f1", "version": metric_version, "matching": "strict"},
        prompt={"template": getattr(options.predict, "template", None), "hash": method.prompt_hash(options.predict)},
        metrics=flat_metrics(scores),
        scores={hub.task_id(test.description["config"], column): hub.task_scores(scores[column])
                for column in COLUMNS if column in scores},
        pipeline={"backend": settings.backend, **applied,
                  "batch_size": options.predict.batch_size,
                  **({"threshold": options.predict.threshold} if ner.reads_taxonomy else {}),
                  **({"server": options.served.record(), "backends": ner.describe()} if served is not None else {}),
                  "columns": {"dynamic": "per-sample type_list",
                              **({c: f"hierarchical cascade, level {lvl}" for c, lvl in STATIC_LEVELS.items()}
                                 if predictions.cascade is not None else {})},
                  "languages": list(options.languages), "max_train": options.max_train,
                  "max_test": options.max_test},
        counts=predictions.stats | {key: round(value, 2) for key, value in timings.items()},
        coverage=hub.Coverage(sentences_predicted=len(test.records),
                              sentences_in_split=test.description["sentences_in_split"], limit=options.max_test,
                              limit_per="language" if options.max_test is not None else None).to_dict(),
    )
    card = hub.model_card(results, model_id=model_id, metric_keys=[k for k in CARD_METRICS if k in results.metrics])
    paths = write_outputs(output_dir, test=test, predictions=predictions, results=results,
                          card=str(card) + card_section(table, test, model_info, method=results.pipeline),
                          plot_scores=scores["dynamic"], staged_models=models.staged)
    return BenchmarkResult(scores=scores, table=table, results=results, paths=paths, timings=timings)
