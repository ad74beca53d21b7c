"""``cascadener evaluate``: score a predictions JSONL with the dynamicner_f1 scorer, print a table, save JSON.

References come from the predictions' own ``references`` field (written by ``cascadener predict``
when the input had gold entities) or from a source given as for ``predict`` (``--jsonl``,
``--geic``, ``--dataset``, ``--hf-dataset``), matched by ``id``. A reference sentence without a
prediction line is scored as predicting nothing and counted (``missing_predictions``), never
dropped; a prediction whose id is not among the references is an error.

Per-sample ``type_list``s (when every line has one) give the out-of-list counts; ``language``
fields give per-language F1; ``--hierarchical`` adds hierarchical scores over the taxonomy.

The saved JSON is the run's results record (:class:`cascadener.publishing.hub.RunResults`): scores plus the
dataset revision, metric version, prompt hash and pipeline options read from
``<predictions>.meta.json``, and its coverage: the sentences predicted against those of the split
(the references source's, else the count ``predict`` recorded in the meta file). A run that did
not predict every sentence (interrupted, ``--limit``, predictions missing) is saved and scored,
said so on stderr, but ``cascadener push-results`` and the leaderboard's ranking refuse it. An ``-o`` that is one of the
inputs (the predictions, their meta or lock file, the ``--jsonl``/``--geic``/``--taxonomy`` file),
however it is spelled (relative, through a link), is refused before anything is read.

Scores are printed in percent with two decimals, the kit's one unit and rounding
(:func:`cascadener.publishing.results.format_percent`); the saved JSON keeps the scorer's fractions.

Example:
    >>> print(format_table({"precision": 0.5, "recall": 1.0, "f1": 0.666666, "num_predictions": 3.0}))
    metric            value
    ---------------  ------
    precision         50.00
    recall           100.00
    f1                66.67
    num_predictions       3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

from cascadener.backends.registry import DEFAULT_BACKEND
from cascadener.methods import METHODS
from cascadener.cli.common import CliError, iter_jsonl, locked_output, output_file, write_error
from cascadener.cli.locking import lock_path_for
from cascadener.cli.predict import META_SUFFIX
from cascadener.cli.scale_args import add_shard_argument
from cascadener.cli.sources import add_source_arguments, read_inputs

__all__ = ["add_parser", "run", "format_table", "load_predictions", "coverage_of"]

MAIN_KEYS = ("precision", "recall", "f1", "macro_f1", "extraction_precision", "extraction_recall", "extraction_f1",
             "hierarchical_precision", "hierarchical_recall", "hierarchical_f1", "f1_ci_low", "f1_ci_high",
             "out_of_list_rate")


def format_table(rows: dict[str, float], *, header: tuple[str, str] = ("metric", "value")) -> str:
    """A plain two-column table: counts as integers, scores in percent with two decimals."""
    from cascadener.publishing.results import format_percent

    width = max([len(header[0]), *(len(k) for k in rows)])
    values = {k: (f"{v:.0f}" if k.startswith("num_") or k.endswith("support") else format_percent(v))
              for k, v in rows.items()}
    value_width = max([len(header[1]), *(len(v) for v in values.values())])
    lines = [f"{header[0]:<{width}}  {header[1]:>{value_width}}", f"{'-' * width}  {'-' * value_width}"]
    lines += [f"{k:<{width}}  {v:>{value_width}}" for k, v in values.items()]
    return "\n".join(lines)


def pipeline_record(meta: dict[str, Any], method: str | None = None) -> dict[str, Any]:
    """How the results name the run: the policy the method applied as the predictions meta recorded it
    (``applied``: the method's label, its ``setting``, ...); for a meta written before that was
    recorded, CascadeNER's name; without a meta, ``method`` (``--method``) as given, else CascadeNER's.
    A ``method`` that is not the one the meta names is refused.

    >>> pipeline_record({"applied": {"method": "gpt-ner", "setting": "few-shot", "demonstrations": 8}})["setting"]
    'few-shot'
    >>> pipeline_record({"options": {"classification": "constrained"}})
    {'method': 'cascadener-constrained', 'setting': 'fine-tuned'}
    >>> pipeline_record({}, "promptner")
    {'method': 'promptner'}
    """
    recorded = meta.get("applied")
    named = meta.get("options", {}).get("method")
    if method is not None and named is not None and named != method:
        raise CliError(f"--method {method}: the predictions were predicted by --method {named} (their meta file "
                       "says so); drop --method")
    if isinstance(recorded, dict) and isinstance(recorded.get("method"), str):
        return dict(recorded)
    if not meta and method is not None and method != "cascadener":
        return {"method": method}
    options = meta.get("options", {})
    return {"method": f"cascadener-{options.get('classification') or 'generative'}", "setting": "fine-tuned"}


def load_predictions(path: Path) -> list[dict[str, Any]]:
    """Prediction lines; errors name the file, the line and the field."""
    if not path.is_file():
        raise CliError(f"predictions file {path} does not exist")
    records = []
    seen: set[str] = set()
    for number, record in iter_jsonl(path, invalid_json_hint="; an interrupted run? finish it with predict --resume"):
        where = f"{path}, line {number}"
        for key, kind in (("id", str), ("text", str), ("entities", list)):
            if not isinstance(record.get(key), kind):
                raise CliError(f"{where}: field {key!r} must be a {kind.__name__}")
        if record["id"] in seen:
            raise CliError(f"{where}: duplicate id {record['id']!r}")
        seen.add(record["id"])
        records.append(record)
    if not records:
        raise CliError(f"{path} holds no predictions")
    return records


class ScoredSentence(NamedTuple):
    """One sentence as scored: its gold and predicted spans, candidate list and language."""

    id: str
    text: str
    references: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    type_list: list[str] | None
    language: str | None


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("evaluate", help="score predictions with dynamicner_f1",
                                   description=__doc__.split("\n\n")[0])
    from dynamicner_f1 import MATCHING

    inputs = parser.add_argument_group("input")
    inputs.add_argument("predictions", help="predictions JSONL written by cascadener predict")
    inputs.add_argument("--method", choices=tuple(METHODS), default=None,
                        help="the method that predicted them, for predictions without cascadener predict's meta file "
                             "(none: the meta file's; without one, cascadener)")
    references = add_source_arguments(parser, required=False, title="references (for predictions written without them)")
    add_shard_argument(references)
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument("--matching", choices=MATCHING, default=MATCHING[0],
                         help="when a prediction hits a reference: strict = same span and label; text = same "
                              "text and label; partial = overlapping span, same label; boundary = same span")
    scoring.add_argument("--hierarchical", action="store_true",
                         help="add hierarchical scores over --taxonomy (none given: DynamicNER's)")
    scoring.add_argument("--bootstrap", type=int, default=None,
                         help="resamples for a 95%% F1 interval (none: no interval)")
    scoring.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    scoring.add_argument("--labels", type=int, default=10, help="print the N most frequent labels (0: none)")
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output", default=None, help="results JSON (none: <predictions>.results.json)")
    parser.set_defaults(func=run)
    return parser


def coverage_of(*, predicted: int, source: dict[str, Any] | None, meta: dict[str, Any],
                references: int) -> Any:
    """The run's :class:`~cascadener.publishing.results.Coverage`: ``predicted`` sentences against the
    split's, counted from the references source (``references`` rows) when one was given, else from the
    meta file of ``predict`` (its input's sentence count); a ``--limit`` makes it a reduced run.

    >>> coverage_of(predicted=2, source=None, meta={"sentences": 8, "source": {}}, references=2).describe()
    'incomplete: 2 of 8 sentences predicted'
    >>> coverage_of(predicted=3, source={"limit": 3}, meta={}, references=3).status
    'reduced'
    """
    from cascadener.publishing.results import Coverage

    if source is not None:
        limit = source.get("limit")
        counted = source.get("shard", {}).get("input_sentences", references)  # a shard: of the whole input
        return Coverage(sentences_predicted=predicted, sentences_in_split=None if limit else counted,
                        limit=limit, limit_per="input" if limit else None)
    limit = (meta.get("source") or {}).get("limit")
    counted = meta.get("sentences")
    if isinstance(meta.get("shard"), dict):  # a part of a sharded run: of the whole input
        counted = meta["shard"].get("input_sentences")
    split = counted if isinstance(counted, int) and not limit else None
    return Coverage(sentences_predicted=predicted, sentences_in_split=split, limit=limit,
                    limit_per="input" if limit else None)


def _references(args: argparse.Namespace,
                predictions: list[dict[str, Any]]) -> tuple[list[ScoredSentence], int, dict[str, Any] | None]:
    """(sentences in reference order, count of references without a prediction, source description)."""
    if any([args.dataset, args.hf_dataset, args.geic, args.jsonl]):
        source = read_inputs(args)
        shard = None
        if args.shard is not None:  # the rows of that part of the references
            start, end = args.shard.bounds(len(source.rows))
            shard = {"index": args.shard.index, "count": args.shard.count, "start": start, "end": end,
                     "input_sentences": len(source.rows)}
            source.rows = source.rows[start:end]
        by_id = {record["id"]: record for record in predictions}
        reference_ids = {row.id for row in source.rows}
        strays = [i for i in by_id if i not in reference_ids]
        if strays:
            raise CliError(f"{len(strays)} prediction id(s) are not in the references (e.g. {strays[0]!r})")
        rows = []
        missing = 0
        for row in source.rows:
            if row.references is None:
                raise CliError(f"reference {row.id!r} has no gold entities")
            predicted = by_id.get(row.id)
            missing += predicted is None
            if predicted is None:
                type_list = list(row.type_list) if row.type_list else None
                rows.append(ScoredSentence(row.id, row.text, list(row.references), [], type_list, row.language))
            else:
                rows.append(ScoredSentence(row.id, row.text, list(row.references), predicted["entities"],
                                           predicted.get("type_list"), row.language or predicted.get("language")))
        description = {"kind": source.kind, **source.description}
        if shard is not None:
            description["shard"] = shard
        return rows, missing, description
    rows = []
    for record in predictions:
        if not isinstance(record.get("references"), list):
            raise CliError(f"{args.predictions}: prediction {record['id']!r} has no 'references' list; give the "
                           "references with --dataset/--hf-dataset/--geic/--jsonl")
        rows.append(ScoredSentence(record["id"], record["text"], record["references"], record["entities"],
                                   record.get("type_list"), record.get("language")))
    return rows, 0, None


def _inputs(args: argparse.Namespace) -> list[tuple[Path, str]]:
    """Every file this evaluation reads, with what it is: the predictions, their companions (the
    meta file and the lock of ``predict``), the reference and taxonomy files."""
    predictions = Path(args.predictions)
    inputs = [(predictions, f"the predictions file {predictions}"),
              (predictions.with_name(predictions.name + META_SUFFIX), f"the meta file of the predictions {predictions}"),
              (lock_path_for(predictions), f"the lock file of the predictions {predictions}")]
    for flag in ("jsonl", "geic", "taxonomy"):
        value = getattr(args, flag, None)
        if value:
            inputs.append((Path(value), f"the --{flag} file {value}"))
    return inputs


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and a.samefile(b)  # a hard link
    except OSError:
        return False


def _check_not_an_input(output: Path, args: argparse.Namespace) -> None:
    """Refuse an output path that would replace one of the evaluation's inputs (however spelled)."""
    for path, what in _inputs(args):
        if _same_file(output, path):
            raise CliError(f"-o {output} is {what}: an input of this evaluation; give another output path "
                           "(default: <predictions>.results.json)")


def run(args: argparse.Namespace) -> int:
    try:  # before any work
        import dynamicner_f1.scorer  # noqa: F401
    except ImportError:
        raise CliError("the dynamicner_f1 scorer is not installed; install this project (pip install .)") from None

    path = Path(args.predictions)
    output = output_file(args.output if args.output else path.with_name(path.stem + ".results.json"), "-o")
    _check_not_an_input(output, args)
    with locked_output(output):  # one writer: a second evaluation into the same -o is refused
        return _evaluate(args, path, output)


def _evaluate(args: argparse.Namespace, path: Path, output: Path) -> int:
    """Score the predictions at ``path`` and write the results to ``output`` (whose lock is held)."""
    import dynamicner_f1
    from dynamicner_f1.scorer import score_spans

    from cascadener.publishing import hub
    from cascadener.publishing.results import label_scores, language_scores

    predictions = load_predictions(path)
    meta_path = path.with_name(path.name + META_SUFFIX)
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CliError(f"{meta_path} (written by cascadener predict) is not valid JSON: {error}") from None
    if args.shard is not None:
        recorded = meta.get("shard")
        if isinstance(recorded, dict) and (recorded.get("index"), recorded.get("count")) != (args.shard.index,
                                                                                          args.shard.count):
            raise CliError(f"{path} is shard {recorded.get('index')}/{recorded.get('count')} (field shard in its "
                           f"meta), not {args.shard}")
        if not isinstance(recorded, dict) and not any([args.dataset, args.hf_dataset, args.geic, args.jsonl]):
            raise CliError(f"--shard {args.shard}: {path} is not a part of a sharded run (its meta has no field "
                           "'shard'); give the references (--jsonl, --geic, --dataset, --hf-dataset) to score their "
                           "part")
    if meta and not meta.get("complete", False):
        print(f"warning: {meta_path} says the prediction run did not finish; resume it for full scores",
              file=sys.stderr)
    method = pipeline_record(meta, args.method)  # how the results name the run (a contradicting --method refused)
    rows, missing, source = _references(args, predictions)
    type_lists = [row.type_list for row in rows]
    languages = [row.language for row in rows]
    taxonomy = None
    if args.hierarchical:
        from dynamicner_data.taxonomy import Taxonomy, TaxonomyError

        try:
            taxonomy = (Taxonomy.from_file(args.taxonomy) if args.taxonomy else Taxonomy.dynamicner()).to_dict()
        except (TaxonomyError, OSError) as error:
            raise CliError(str(error)) from None
    try:
        metrics = score_spans(
            [row.predictions for row in rows], [row.references for row in rows],
            type_lists=type_lists if all(t for t in type_lists) else None,
            languages=languages if all(languages) else None,
            taxonomy=taxonomy, matching=args.matching, bootstrap=args.bootstrap, seed=args.seed,
            sentences=[row.text for row in rows],
        )
    except ValueError as error:
        raise CliError(f"scoring failed: {error}") from None
    metrics = {key: float(value) for key, value in metrics.items()}

    shown = {key: metrics[key] for key in MAIN_KEYS if key in metrics}
    print(format_table(shown, header=("metric", "value (%)")))
    print(f"\n{metrics['num_predictions']:.0f} predicted, {metrics['num_references']:.0f} gold entities")
    by_language = language_scores(metrics)
    if by_language:
        print()
        print(format_table(by_language, header=("language", "f1 (%)")))
    if args.labels:
        labels = label_scores(metrics)
        top = sorted(labels, key=lambda label: (-labels[label].get("support", 0), label))[: args.labels]
        if top:
            print()
            print(format_table({label: labels[label]["f1"] for label in top}, header=("label", "f1 (%)")))
    if missing:
        print(f"\n{missing} reference sentence(s) had no prediction and were scored as empty", file=sys.stderr)

    coverage = coverage_of(predicted=len(rows) - missing, source=source, meta=meta, references=len(rows))
    if coverage.status != "full":
        print(f"coverage: {coverage.describe()}; the results are saved but not published or ranked with full runs",
              file=sys.stderr)
    options = meta.get("options", {})
    description = dict(source or meta.get("source", {}))
    run_languages = sorted({row.language for row in rows if row.language})
    task = hub.evaluation_task(description, run_languages)
    extractor = options.get("extractor")
    classifier = options.get("classifier") or extractor
    results = hub.RunResults(
        run_id=hub.new_run_id(),
        created_at=hub.now_iso(),
        model={"id": str(extractor or "unknown"), "revision": hub.model_revision(extractor, classifier),
               "extractor": extractor, "classifier": classifier},
        dataset=hub.dataset_section(description, run_languages),
        metric={"name": "dynamicner_f1", "version": dynamicner_f1.__version__, "matching": args.matching,
                "hierarchical": bool(args.hierarchical), "bootstrap": args.bootstrap},
        prompt={"template": options.get("template"), "hash": options.get("prompt_hash")},
        pipeline={**{key: value for key, value in options.items() if key not in ("prompt_hash", "template")},
                  "backend": options.get("backend") or DEFAULT_BACKEND,  # a local run's identity names none
                  # the policy the backends applied (the method's label included, and a prompt method's
                  # setting) and what each backend is (a server's probe), as the predictions meta recorded them
                  **method, **({"backends": meta["backends"]} if meta.get("backends") else {}),
                  **({"server": meta["server"]} if meta.get("server") else {})},
        metrics=metrics,
        scores={task: hub.task_scores(metrics)},
        counts={"sentences": len(rows), "missing_predictions": missing, **meta.get("stats", {})},
        coverage=coverage.to_dict(),
    )
    try:
        results.save(output)
    except OSError as error:
        raise write_error(output, error) from None
    print(f"\nsaved {output}", file=sys.stderr)
    return 0
