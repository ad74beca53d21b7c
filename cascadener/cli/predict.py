"""``cascadener predict``: run CascadeNER over a DynamicNER config/split, a GEIC file or a JSONL file.

Predictions are written to a JSONL file as they are made (one line per input sentence, in input
order, flushed after every chunk), with a progress bar. Each line::

    {"id": "...", "text": "...", "type_list": [...] or null, "entities": [{text, label, start, end, score}],
     "references": [{text, label, start, end, ...}]}        # references only when the input has gold

Beside it, ``<output>.meta.json`` records the source (with its revision), the models' identity
(resolved path and file hashes), options, prompt hash, the chunks written and their counts
(:mod:`cascadener.cli.resume`). ``--resume`` continues an interrupted run: the whole chunks are
kept, whatever follows them (a torn chunk) is cut off (and reported) and predicted again, and the
input, options and models must match the first run's (a difference is named); the resumed file
is byte for byte what an uninterrupted run writes. While a run writes, ``<output>.lock`` holds
an exclusive lock naming its pid and host: a second writer is refused, a dead one's lock taken
over (:class:`cascadener.cli.locking.OutputLock`). See docs/guarantees.md.

Sources (exactly one):

- ``--dataset CONFIG --split SPLIT [--data-dir DIR]``: the DynamicNER builder (``dynamicner.py``),
  e.g. ``--dataset en --split test`` (the embedded sample when no ``--data-dir``);
- ``--hf-dataset PATH_OR_ID --config NAME --split SPLIT``: ``datasets.load_dataset`` (an exported
  Parquet folder or a Hub dataset with DynamicNER features);
- ``--geic FILE [--taxonomy FILE]``: the authors' GEIC JSON (gold placed by alignment; samples
  with an empty sentence are skipped, counted in the printed report and the meta file);
- ``--jsonl FILE``: lines ``{"id"?, "text", "type_list"?, "entities"?}``.

Example:
    >>> parser = build_parser_for_tests()
    >>> args = parser.parse_args(["--jsonl", "in.jsonl", "--extractor", "m", "-o", "out.jsonl"])
    >>> args.batch_size, args.classification, args.type_lists
    (8, 'generative', 'sample')
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from cascadener.backends.base import CLASSIFY_MODES, OFF_LIST_FALLBACKS
from cascadener.backends.local import LocalSettings
from cascadener.methods.base import needs_demonstrations, option_flags
from cascadener.methods.demonstrations import SELECTIONS
from cascadener.methods.gpt_ner import GptNer, GptNerOptions
from cascadener.methods.promptner import PromptNer
from cascadener.cli.backend_args import add_backend_argument, add_server_arguments, backend_settings
from cascadener.cli import resume
from cascadener.cli.common import (CliError, HelpFormatter, check_model_path, int_at_least, locked_output, output_file, positive_int,
                                   probability, write_error)
from cascadener import methods
from cascadener.options import PredictOptions
from cascadener.prompts import STAGE2_TEMPLATES
from cascadener.cli.sources import InputRow, InputSource, add_source_arguments, read_demonstrations, read_inputs
from dynamicner_data.atomic import atomic_write_text
from cascadener.cli.scale_args import add_executor_arguments, add_shard_argument, check_executor_arguments
from cascadener.scale.executors import ExecutorError, LocalExecutor, task_of
from cascadener.scale.shards import ids_digest, pending_chunks, plan_chunks

__all__ = ["InputRow", "InputSource", "read_inputs", "add_source_arguments", "add_parser", "run", "run_identity",
           "META_SUFFIX", "OPTION_KEYS", "method_options", "foreign_method_flags", "check_method_inputs"]

META_SUFFIX = ".meta.json"
_EMPTY_SHA256 = "sha256:" + hashlib.sha256().hexdigest()
#: the default chunk (--chunk-size): this many batches of --batch-size sentences
CHUNK_BATCHES = 4


#: where each input's type list comes from (``--type-lists``)
TYPE_LIST_SOURCES: tuple[str, ...] = ("sample", "cascade")


def add_method_argument(group) -> None:
    """``--method``: one of :data:`cascadener.methods.METHODS` (``predict`` and ``run``)."""
    group.add_argument("--method", choices=tuple(methods.METHODS), default=methods.DEFAULT_METHOD,
                       help="how entities are found: " + "; ".join(f"{name}: {cls.description}"
                                                                   for name, cls in methods.METHODS.items()))


def add_prediction_arguments(group, *, batch_size: int, seed: str = "seed of sampled stage-1 outputs") -> None:
    """How a method predicts: the fields of :class:`cascadener.options.PredictOptions` (CascadeNER) and
    of the prompt methods' options (GPT-NER, PromptNER) that ``run`` and ``predict`` share, their
    choices the library's own constants. A flag only another method reads is refused
    (:func:`method_options`)."""
    group.add_argument("--batch-size", type=positive_int, default=batch_size,
                       help="sentences (stage 1) or questions (stage 2) per forward pass")
    group.add_argument("--classification", choices=CLASSIFY_MODES, default=PredictOptions.classification,
                       help="stage 2: generative = the classifier writes its answer; constrained = the answer is "
                            "kept to the list (every choice scored locally; a choice constraint on a server)")
    group.add_argument("--off-list", choices=OFF_LIST_FALLBACKS, default=PredictOptions.off_list,
                       help="generative answers off the list: constrained = asked again, kept to the list (a server "
                            "must apply choice constraints); closest = the textually closest type")
    group.add_argument("--template", choices=STAGE2_TEMPLATES, default=PredictOptions.template,
                       help="the stage-2 prompt format (released = the authors' SFT data)")
    group.add_argument("--seed", type=int, default=PredictOptions.seed, help=seed)
    group.add_argument("--max-new-tokens", type=positive_int, default=PredictOptions.max_new_tokens,
                       help="cap on each sentence's stage-1 token budget (gpt-ner, promptner: each answer's; none: no "
                            "cap)")
    group.add_argument("--threshold", type=probability, default=PredictOptions.threshold,
                       help="drop every entity scored below this probability (the classifier's probability of the "
                            "chosen type; refused on a server that returns no logprobs; none: keep every entity)")
    group.add_argument("--demonstrations", type=_non_negative_int, default=GptNerOptions.demonstrations,
                       metavar="K",
                       help="gpt-ner, promptner: training sentences shown in each prompt (none: 0 for a model "
                            f"fine-tuned on the method's prompts, else the published {GptNer.default_demonstrations} "
                            f"(gpt-ner) or {PromptNer.default_demonstrations} (promptner))")
    group.add_argument("--selection", choices=SELECTIONS, default=GptNerOptions.selection,
                       help="gpt-ner: how demonstrations are chosen: random = seeded random sentences with the type, "
                            "knn = the most similar first (lexical retriever)")
    group.add_argument("--verify", action="store_true", default=GptNerOptions.verify,
                       help="gpt-ner: ask a yes/no self-verification question about every extracted mention "
                            "(a no drops it)")


def _non_negative_int(value: str) -> int:
    return int_at_least(value, 0)


def foreign_method_flags(args: argparse.Namespace) -> str | None:
    """The flags given that only another method reads, as the user's error (``None``: none)."""
    chosen = option_flags(methods.method_class(args.method).options_type)
    for name, cls in methods.METHODS.items():
        if name == args.method:
            continue
        given = [flag for flag, default in option_flags(cls.options_type).items()
                 if flag not in chosen and getattr(args, flag, default) != default]
        if given:
            flags = ", ".join("--" + flag.replace("_", "-") for flag in given)
            return f"{flags} only appl{'y' if len(given) > 1 else 'ies'} with --method {name}"
    return None


def check_method_inputs(args: argparse.Namespace) -> None:
    """Refuse, before anything is read or loaded, flags and inputs the chosen method cannot use: another
    method's flags, a classifier for a method that runs one model, and the taxonomy cascade for a
    method that reads no taxonomy."""
    method = methods.method_class(args.method)
    wrong = foreign_method_flags(args)
    if wrong:
        raise CliError(wrong)
    if method.single_model:
        given = [flag for flag, dest in (("--classifier", "classifier"), ("--classifier-model", "classifier_model"))
                 if getattr(args, dest, None)]
        if given:
            raise CliError(f"{', '.join(given)}: --method {method.name} runs one model (--extractor, or --model "
                           "on a server)")
    if not method.reads_taxonomy and getattr(args, "type_lists", None) == "cascade":
        raise CliError(f"--type-lists cascade reads the taxonomy, which --method {method.name} does not: it needs "
                       "each input's type_list")
    if not method.uses_demonstrations and getattr(args, "demonstrations_from", None):
        raise CliError(f"--demonstrations-from: --method {method.name} shows no demonstrations")


def method_options(args: argparse.Namespace, method, *, taxonomy=None, pool=None):
    """The chosen method's options from the command line (``pool``: its training sentences, loaded)."""
    try:
        if method.uses_demonstrations:
            return method.options_type.from_namespace(args, taxonomy=taxonomy, pool=pool)
        return method.options_type.from_namespace(args, taxonomy=taxonomy)
    except ValueError as error:
        raise CliError(str(error)) from None


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    inputs = add_source_arguments(parser)
    add_shard_argument(inputs)
    inputs.add_argument("--type-lists", choices=TYPE_LIST_SOURCES, default=TYPE_LIST_SOURCES[0],
                        help="sample: each input's type_list (the cascade when it has none); cascade: always the "
                             "taxonomy")
    inputs.add_argument("--demonstrations-from", default=None, metavar="SPLIT_OR_FILE",
                        help="gpt-ner, promptner: the training sentences demonstrations are drawn from: a split of "
                             "--dataset/--hf-dataset, or a JSONL/GEIC file with gold entities (none: the train split "
                             "of --dataset/--hf-dataset)")
    model = parser.add_argument_group("model")
    add_method_argument(model)
    add_backend_argument(model)
    model.add_argument("--extractor", default=None,
                       help=f"stage-1 model: a local directory or Hub id (--backend {LocalSettings.backend})")
    model.add_argument("--classifier", default=None, help="stage-2 model (none: the extractor)")
    model.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (none: the best available)")
    model.add_argument("--dtype", default=None, help="torch dtype name, e.g. bfloat16 (none: the checkpoint's)")
    model.add_argument("--trust-remote-code", action="store_true",
                       help="run the model's own code from the Hub (transformers' trust_remote_code)")
    prediction = parser.add_argument_group("prediction")
    add_prediction_arguments(prediction, batch_size=PredictOptions.batch_size)
    prediction.add_argument("--self-consistency", type=positive_int, default=PredictOptions.self_consistency,
                            help="stage-1 samples merged per sentence (1: greedy)")
    prediction.add_argument("--temperature", type=float, default=PredictOptions.temperature,
                            help="sampling temperature of --self-consistency > 1")
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output", required=True, help="predictions JSONL to write")
    output.add_argument("--resume", action="store_true", help="continue an interrupted run into --output")
    output.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    output.add_argument("--chunk-size", type=positive_int, default=None,
                        help="sentences predicted between two writes (none: 4 x --batch-size, whatever the backend "
                             "and --concurrency, so a run's requests never depend on them)")
    output.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_server_arguments(parser)
    add_executor_arguments(parser)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("predict", help="predict entities into a JSONL file",
                                   description=__doc__.split("\n\n")[0])
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def build_parser_for_tests() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cascadener predict", formatter_class=HelpFormatter)
    _add_arguments(parser)
    return parser


# ------------------------------------------------------------------------------ output / resume

METHOD_KEYS = ("method",)  # how entities are found
MODEL_KEYS = ("extractor", "classifier")  # which models predict
INPUT_KEYS = ("type_lists",)  # how the inputs are read
# what --resume compares: the method, the models, the input reading and every field of the method's
# options that can change a prediction (the default method's here)
OPTION_KEYS = (*METHOD_KEYS, *MODEL_KEYS, *INPUT_KEYS,
               *methods.method_class(methods.DEFAULT_METHOD).options_type.identity_keys())


def run_identity(args: argparse.Namespace, options: PredictOptions) -> dict[str, Any]:
    """The ``options`` of the meta file, compared by ``--resume``: the method, the models, the input
    reading and ``options.identity()`` (:data:`OPTION_KEYS` for the default method), as JSON values.

    >>> args = build_parser_for_tests().parse_args(["--jsonl", "in.jsonl", "--extractor", "m", "-o", "o"])
    >>> identity = run_identity(args, PredictOptions.from_namespace(args))
    >>> tuple(identity) == OPTION_KEYS, identity["method"], identity["extractor"], identity["taxonomy"]
    (True, 'cascadener', 'm', None)
    """
    return {**{key: getattr(args, key) for key in (*METHOD_KEYS, *MODEL_KEYS, *INPUT_KEYS)}, **options.identity()}


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Atomic: a run killed mid-write leaves the previous meta file, never a torn one."""
    try:
        atomic_write_text(path, json.dumps(meta, indent=2, ensure_ascii=False))
    except OSError as error:  # name the meta file, not its temporary sibling
        raise OSError(error.errno, error.strerror, str(path)) from error


def _append(handle, data: bytes) -> None:
    """Write all of ``data`` (a raw file may take it in parts) and make it durable."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        view = view[written:]
    os.fsync(handle.fileno())


def _prediction_line(row: InputRow, type_list, entities) -> str:
    record: dict[str, Any] = {"id": row.id, "text": row.text, "type_list": list(type_list) if type_list else None,
                              "entities": entities}
    if row.language is not None:
        record["language"] = row.language
    if row.references is not None:
        record["references"] = [dict(entity) for entity in row.references]
    return json.dumps(record, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.resume and args.overwrite:
        raise CliError("--resume and --overwrite exclude each other")
    output = output_file(args.output, "-o")
    check_executor_arguments(args)
    check_method_inputs(args)
    settings = backend_settings(args)
    try:
        for role, path in settings.models().items():  # local files; a served model is named by the server
            check_model_path(path, f"--{role}")
    except CliError as error:
        raise CliError(f"cannot load the model: {error}") from None
    method = methods.method_class(args.method)
    capabilities = settings.capabilities()
    try:  # what the backend cannot do is refused before any work
        method.check_capabilities(method_options(args, method), extractor=capabilities, classifier=capabilities)
    except ValueError as error:
        raise CliError(str(error)) from None
    with locked_output(output):
        return _run_locked(args, output, settings)


def _run_locked(args: argparse.Namespace, output: Path, settings) -> int:
    """:func:`run` while this process holds the output's lock."""
    meta_path = output.with_name(output.name + META_SUFFIX)
    if output.exists() and output.stat().st_size > 0 and not (args.resume or args.overwrite):
        raise CliError(f"{output} exists; pass --resume to continue it or --overwrite to replace it")

    source = read_inputs(args)
    ids = [row.id for row in source.rows]
    if len(set(ids)) != len(ids):
        raise CliError("the input has duplicate ids; predictions could not be resumed safely")
    source.description["ids_sha256"] = ids_digest(ids)  # the input's identity: its ids in order
    start, end = args.shard.bounds(len(ids)) if args.shard is not None else (0, len(ids))
    taxonomy = None
    if args.taxonomy:
        from dynamicner_data.taxonomy import Taxonomy, TaxonomyError

        try:
            taxonomy = Taxonomy.from_file(args.taxonomy)
        except (TaxonomyError, OSError) as error:
            raise CliError(str(error)) from None
    method = methods.method_class(args.method)
    if not method.reads_taxonomy and args.type_lists == "sample":
        missing = next((row.id for row in source.rows if row.type_list is None), None)
        if missing is not None:
            raise CliError(f"sample {missing!r} has no type_list: --method {method.name} needs one for every input "
                           "(the taxonomy cascade is cascadener's)")
    pool = None
    if needs_demonstrations(method, method_options(args, method), settings.models().get("extractor")):
        pool = read_demonstrations(args)
    predict_options = method_options(args, method, taxonomy=taxonomy, pool=pool)
    options = run_identity(args, predict_options)
    options["prompt_hash"] = method.prompt_hash(predict_options)
    options.update(settings.identity())  # a server's model names stand for extractor/classifier
    chunk = args.chunk_size or CHUNK_BATCHES * args.batch_size
    meta: dict[str, Any] = {"format": resume.FORMAT, "source": {"kind": source.kind, **source.description},
                            "options": options, "layout": {"batch_size": args.batch_size, "chunk_size": chunk}}
    if args.shard is not None:
        meta["shard"] = args.shard.to_dict(len(ids), ids[start:end])
    meta = json.loads(json.dumps(meta))  # JSON values, as read back on resume
    meta["resolved"] = resume.resolved_paths(meta)
    meta |= {"models": {}, "committed": {"sentences": 0, "bytes": 0, "sha256": _EMPTY_SHA256}, "stats": {},
             "sentences": end - start,
             "complete": False}
    record = settings.record()
    if record is not None:
        meta["server"] = record  # not compared by --resume: another host, same outputs
    previous = None
    if args.resume and output.exists():
        previous = resume.read_meta(meta_path)
        difference = resume.compare(previous, meta)
        if difference:
            raise CliError(f"cannot resume: {difference} ({meta_path}); use the same arguments, or --overwrite")
    if source.report:
        print(source.report, file=sys.stderr)

    from cascadener.backends.http import ServerError
    from cascadener.training.model_files import describe_identity_change, model_identity
    from cascadener.pipeline import EmptyAnswersError, PredictStats

    executor, built = _executor(args, method, settings, predict_options)
    meta["executor"] = executor.describe()  # not compared by --resume: any executor writes the same bytes
    try:  # before any work: a server is probed; what the backends cannot apply is refused
        meta |= json.loads(json.dumps(_applied(method, settings, built, predict_options)))
    except ValueError as error:
        raise CliError(str(error)) from None
    except ServerError as error:
        raise CliError(f"{_sentence(str(error))} Nothing was predicted.") from None
    if previous is not None:
        difference = resume.compare_applied(previous, meta)
        if difference:
            raise CliError(f"cannot resume: {difference} ({meta_path}); use the same server, or --overwrite")
    for role, path in settings.models().items():  # local weights: identified by their files
        meta["models"][role] = model_identity(path, commit=_commit(built, role, path, settings))
    committed = resume.Committed(0, 0, [], 0)
    if previous is not None:
        for role in meta["models"]:
            change = describe_identity_change(role, previous.get("models", {}).get(role), meta["models"][role])
            if change:
                raise CliError(f"cannot resume: {change} ({meta_path}); use the same model, or --overwrite")
        committed = resume.committed_prefix(output, previous, ids[start:end])
        meta["committed"] = {**previous["committed"], "sha256": "sha256:" + committed.digest.hexdigest()}
        meta["stats"] = previous.get("stats", {})
    plan = plan_chunks(len(ids), (start, end), chunk, aligned=not settings.batch_invariant)
    try:
        todo = pending_chunks(plan, committed.sentences)
    except ValueError as error:
        raise CliError(f"cannot resume: {meta_path} records {committed.sentences} sentences: {error}; start again "
                       "with --overwrite") from None
    if previous is not None:
        if committed.cut:
            print(f"resume: cut {committed.cut} bytes written after the last complete chunk off {output} "
                  "(those sentences are predicted again)", file=sys.stderr)
        print(f"resume: {committed.sentences} of {end - start} sentences already predicted", file=sys.stderr)
    elif output.exists():
        output.unlink()
    try:
        _write_meta(meta_path, meta)
        _predict_chunks(args, executor, source.rows, todo, meta, meta_path, output, committed.digest, PredictStats,
                        (ServerError, EmptyAnswersError))
    except OSError as error:
        done = meta["committed"]["sentences"]
        raise CliError(f"{write_error(output, error)}; the {done} sentences predicted before are kept: "
                       "make room and continue with --resume") from None
    summary = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in meta["stats"].items())
    if args.shard is not None:
        print(f"shard {args.shard}: rows {start} to {end} of the input's {len(ids)}", file=sys.stderr)
    print(f"wrote {end - start} predictions to {output} ({summary})", file=sys.stderr)
    empty = {stage: meta["stats"].get(f"{stage}_empty_answers", 0) for stage in ("stage1", "stage2")}
    if any(empty.values()):
        print(f"warning: {empty['stage1']} stage-1 and {empty['stage2']} stage-2 answers were empty (\"\" or null); "
              "their sentences have no entities from them", file=sys.stderr)
    return 0


def _executor(args: argparse.Namespace, method, settings, options):
    """The executor the arguments ask for, and the method built here (``None`` when the workers build
    their own)."""
    if args.executor == "ray":
        from cascadener.scale.ray_executor import RayExecutor, import_ray

        try:
            import_ray()  # missing: said before any work
            executor = RayExecutor(method.name, settings, options, workers=args.workers,
                                   address=args.ray_address, endpoints=tuple(args.worker_base_url or ()))
        except (ExecutorError, ValueError) as error:
            raise CliError(str(error)) from None
        return executor, None
    try:
        ner = method.from_settings(settings)
    except (OSError, ValueError, ImportError) as error:  # missing files, unreachable Hub id
        raise CliError(f"cannot load the model: {error}") from None
    return LocalExecutor(ner, options=options), ner


def _applied(method, settings, built, options) -> dict[str, Any]:
    """What the predictions meta records of the policy applied (``applied``, compared by ``--resume``)
    and of the backends (``backends``: a server's probe), learnt before any work by the method's
    ``check`` (a server probed). Where the workers load local weights themselves, their capabilities
    are known without them (``applied_policy``; a prompt method also reads from the model folder
    whether it was fine-tuned on the method's prompts)."""
    checker = built
    if checker is None and not settings.loads_weights:  # a server: probed here, before the workers start
        checker = method.from_settings(settings)
    if checker is None:
        model = {"model": settings.models().get("extractor")} if method.uses_demonstrations else {}
        return {"applied": method.applied_policy(options, classifier=settings.capabilities(), **model)}
    return {"applied": checker.check(options), "backends": checker.describe()}


def _commit(built, role: str, path: str, settings) -> str | None:
    """The Hub commit of a model given by Hub id: the loaded backend's, or (models loaded by the
    workers) its config's; ``None`` for a local folder."""
    if Path(path).expanduser().is_dir():
        return None
    if built is not None:
        backend = built.extractor_backend if role == "extractor" else built.classifier_backend
        return getattr(backend, "commit", None)
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=getattr(settings, "trust_remote_code", False))
    except (OSError, ValueError) as error:
        raise CliError(f"cannot load the model: {error}") from None
    return getattr(config, "_commit_hash", None)


def _predict_chunks(args, executor, rows, todo, meta, meta_path: Path, output: Path, digest, stats_type,
                    server_errors: tuple) -> None:
    """Predict the chunks ``todo`` through ``executor``, committing each (its rows' lines, then the
    meta, with ``digest`` the running SHA-256 of the output) as its result comes back, in order."""
    stats = stats_type(**meta["stats"]) if meta["stats"] else stats_type()
    first = meta["committed"]["sentences"]
    bar = None
    if not args.no_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=meta["sentences"], initial=first, desc="predict", unit="sent")

    def type_list(row: InputRow):
        return None if args.type_lists == "cascade" else row.type_list

    tasks = (task_of(number, [row.text for row in rows[slice(*chunk.predict)]],
                     [type_list(row) for row in rows[slice(*chunk.predict)]],
                     [row.language for row in rows[slice(*chunk.predict)]]) for number, chunk in enumerate(todo))
    with output.open("ab", buffering=0) as handle:
        results = executor.run(tasks)
        for chunk in todo:
            try:
                result = next(results)
            except (*server_errors, ExecutorError) as error:
                done = meta["committed"]["sentences"]
                kept = f"the {done} predictions written so far are kept"
                if isinstance(error, ExecutorError) or getattr(error, "retryable", False):  # later may work
                    raise CliError(f"{error}; {kept}: run the same command with --resume to continue") from None
                raise CliError(f"{error}; {kept} (sentences {chunk.write[0] + 1} to {chunk.write[1]} were not "
                               "written)") from None
            except ValueError as error:  # e.g. a threshold on answers that came back without scores
                raise CliError(f"{error}; the {meta['committed']['sentences']} predictions written so far are kept") \
                    from None
            low = chunk.write[0] - chunk.predict[0]
            part = rows[slice(*chunk.write)]
            data = "".join(_prediction_line(row, type_list(row), entities)
                           for row, entities in zip(part, result.entities[low:low + len(part)])).encode("utf-8")
            _append(handle, data)
            digest.update(data)
            if chunk.counted:
                stats.add(stats_type(**result.stats))
            meta["stats"] = stats.to_dict()
            meta["committed"] = {"sentences": meta["committed"]["sentences"] + len(part),
                                 "bytes": meta["committed"]["bytes"] + len(data), "sha256": "sha256:" + digest.hexdigest()}
            _write_meta(meta_path, meta)
            if bar is not None:
                bar.update(len(part))
    if bar is not None:
        bar.close()
    meta["complete"] = True
    _write_meta(meta_path, meta)


def _sentence(text: str) -> str:
    """``text`` ended as a sentence: a full stop added unless it ends with ``.``, ``?`` or ``!``.

    >>> _sentence("is the server running at http://127.0.0.1:8000/v1?")
    'is the server running at http://127.0.0.1:8000/v1?'
    >>> _sentence("http://127.0.0.1:8000/v1 answered HTTP 500: overloaded")
    'http://127.0.0.1:8000/v1 answered HTTP 500: overloaded.'
    """
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."
