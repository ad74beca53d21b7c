"""``cascadener run``: the main job, DynamicNER end to end (offline by default).

Loads the DynamicNER train/test splits (the embedded sample, or ``--data-dir`` with the full
release), trains a tiny extractor and classifier on the train split unless ``--extractor`` is
given (``--base-model`` fine-tunes that model instead), predicts the test split, scores it with
dynamicner_f1 and prints F1 per language and granularity. Writes to ``--output-dir``:
``results.json``, ``README.md`` (model card with ``model-index``), ``per_label_f1.png``,
``predictions.jsonl`` and, when trained, ``models/``. Re-running with the same options and data
reuses the trained models (``--retrain`` to redo).

One run per output folder: ``OUTPUT.lock`` is held for the whole run and a second ``cascadener
run`` into the same folder is refused, naming the holder. The outputs are replaced as one set
(:func:`cascadener.benchmark.write_outputs`): a run that fails (a full or read-only disk: one
line, no traceback) leaves the earlier run's set as it was.

Example:
    >>> from cascadener.cli import build_parser
    >>> args = build_parser().parse_args(["run", "--languages", "en", "de", "--max-test", "2"])
    >>> args.languages, args.max_test, args.output_dir
    (['en', 'de'], 2, 'cascadener-run')
"""

from __future__ import annotations

import argparse
import errno
import sys
from dataclasses import replace
from pathlib import Path

from .backend_args import add_backend_argument, add_server_arguments, backend_settings, foreign_flags
from .common import CliError, check_model_path, locked_output, positive_int, write_error
from .locking import lock_path_for
from .predict import add_method_argument, add_prediction_arguments, check_method_inputs, method_options
from .scale_args import add_shard_argument
from cascadener.backends.registry import backend_class

# a write that failed for want of room or permission: the user's disk, not a bug
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)

__all__ = ["add_parser", "run", "benchmark_options"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    from cascadener.benchmark import LANGUAGES, BenchmarkOptions
    from cascadener.training.recipes import BASE, LORA_LEARNING_RATE, TINY

    parser = subparsers.add_parser("run", help="the main job: train (optional), predict, score, write the card",
                                   description=__doc__.split("\n\n")[0])
    data = parser.add_argument_group("input")
    data.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES, metavar="LANG",
                      help="languages to run")
    data.add_argument("--data-dir", default=None, help="the full DynamicNER release (none: the embedded sample)")
    data.add_argument("--max-train", type=positive_int, default=None,
                      help="train sentences per language (reduced mode; none: all)")
    data.add_argument("--max-test", type=positive_int, default=None,
                      help="test sentences per language (reduced mode; none: all)")
    add_shard_argument(data)
    model = parser.add_argument_group("model")
    add_method_argument(model)
    add_backend_argument(model)
    model.add_argument("--extractor", default=None,
                       help="a trained stage-1 model (directory or Hub id): skip training (none: train both)")
    model.add_argument("--classifier", default=None, help="a trained stage-2 model (none: the extractor)")
    model.add_argument("--device", default=None, help="cpu, cuda, mps (none: the best available)")
    training = parser.add_argument_group("training (without --extractor)")
    training.add_argument("--base-model", default=None,
                          help="fine-tune this AutoModelForCausalLM (none: a tiny model from scratch)")
    training.add_argument("--one-model", action="store_true", help="train one model for both stages")
    training.add_argument("--lora", action="store_true", help="train LoRA adapters (with --base-model)")
    training.add_argument("--epochs", type=float, default=None,
                          help=f"extractor epochs (none: {TINY.extractor.epochs:g} tiny, {BASE.extractor.epochs:g} "
                               "base)")
    training.add_argument("--classifier-epochs", type=float, default=None,
                          help=f"classifier epochs (none: {TINY.classifier.epochs:g} tiny, "
                               f"{BASE.classifier.epochs:g} base)")
    training.add_argument("--learning-rate", type=float, default=None,
                          help=f"peak learning rate (none: {TINY.extractor.learning_rate:g} tiny, "
                               f"{BASE.extractor.learning_rate:g} base, {LORA_LEARNING_RATE:g} LoRA)")
    training.add_argument("--max-steps", type=positive_int, default=None,
                          help="cap on steps per model (reduced mode; none: the epochs decide)")
    training.add_argument("--threads", type=positive_int, default=None,
                          help="torch CPU threads (none: 1 for tiny models trained here, torch's default otherwise)")
    training.add_argument("--retrain", action="store_true", help="train again even if an identical run left models")
    prediction = parser.add_argument_group("prediction")
    add_prediction_arguments(prediction, batch_size=BenchmarkOptions.predict.batch_size,
                             seed="seed of training and of sampled stage-1 outputs")
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output-dir", default="cascadener-run", help="folder for results")
    output.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_server_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def benchmark_options(args: argparse.Namespace):
    """The :class:`cascadener.benchmark.BenchmarkOptions` the arguments ask for."""
    from cascadener.benchmark import BenchmarkOptions
    from cascadener.methods import method_class
    from cascadener.training.recipes import recipe

    chosen = recipe(base_model=args.base_model is not None, lora=args.lora)
    extractor_train, classifier_train = chosen.extractor, chosen.classifier
    changes: dict = {"seed": args.seed, "lora": args.lora}
    if args.learning_rate is not None:
        changes["learning_rate"] = args.learning_rate
    if args.max_steps is not None:
        changes["max_steps"] = args.max_steps
    if args.threads is not None:
        changes["num_threads"] = args.threads
    extractor_train = replace(extractor_train, **changes)
    classifier_train = replace(classifier_train, **changes)
    if args.epochs is not None:
        extractor_train = replace(extractor_train, epochs=args.epochs)
    if args.classifier_epochs is not None:
        classifier_train = replace(classifier_train, epochs=args.classifier_epochs)
    options = BenchmarkOptions(
        output_dir=Path(args.output_dir), languages=tuple(dict.fromkeys(args.languages)), data_dir=args.data_dir,
        extractor=args.extractor, classifier=args.classifier, base_model=args.base_model, one_model=args.one_model,
        max_train=args.max_train, max_test=args.max_test, train=extractor_train, classifier_train=classifier_train,
        method=args.method, predict=method_options(args, method_class(args.method)), device=args.device,
        predict_threads=args.threads or (1 if args.extractor is None and args.base_model is None else None),
        retrain=args.retrain, progress=not args.no_progress, shard=args.shard,
    )
    return replace(options, **_served_options(args))


def _served_options(args: argparse.Namespace) -> dict:
    """A backend that holds its own weights (a server): its settings; the served model names stand for
    the extractor and classifier, nothing is trained."""
    if backend_class(args.backend).settings_type.loads_weights:
        return {}
    served = backend_settings(args)
    identity = served.identity()
    return {"extractor": identity["extractor"], "classifier": identity["classifier"], "served": served}


def run(args: argparse.Namespace) -> int:
    from cascadener.backends.http import ServerError
    from cascadener.benchmark import BenchmarkError, run_benchmark
    from cascadener.pipeline import EmptyAnswersError

    wrong = foreign_flags(args)
    if wrong:
        raise CliError(wrong)
    check_method_inputs(args)
    from cascadener.methods import method_class

    if method_class(args.method).single_model:
        given = [flag for flag, value in (("--one-model", args.one_model),
                                          ("--classifier-epochs", args.classifier_epochs is not None)) if value]
        if given:
            raise CliError(f"{', '.join(given)}: --method {args.method} trains one model (on its own format)")
    local = backend_class(args.backend).settings_type.loads_weights
    if not local:
        backend_settings(args)  # its own checks, before anything else
        trained = [flag for flag, value in (("--base-model", args.base_model), ("--lora", args.lora),
                                            ("--one-model", args.one_model)) if value]
        if trained:
            raise CliError(f"{', '.join(trained)}: --backend {args.backend} trains nothing (it scores the served "
                           "models)")
    if args.classifier is not None and args.extractor is None:
        raise CliError("--classifier needs --extractor (or neither, to train both)")
    if args.extractor is not None and args.base_model is not None:
        raise CliError("--extractor skips training; --base-model only applies when training")
    if args.lora and args.base_model is None:
        raise CliError("--lora needs --base-model (a tiny model from scratch trains all its weights)")
    if args.data_dir is not None and not Path(args.data_dir).exists():
        raise CliError(f"--data-dir {args.data_dir} does not exist")
    for flag, value in (("--extractor", args.extractor), ("--classifier", args.classifier),
                        ("--base-model", args.base_model)):
        if local:  # served models are named by the server
            check_model_path(value, flag)
    output_dir = Path(args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise CliError(f"--output-dir {output_dir} is a file; give a folder")
    def not_writable(error: OSError) -> CliError:
        return CliError(f"--output-dir {output_dir} is not writable: {error.strerror or error} (cannot create its "
                        f"lock file {lock_path_for(output_dir)})")

    with locked_output(output_dir, lock_error=not_writable):
        try:
            result = run_benchmark(benchmark_options(args))
        except (BenchmarkError, FileNotFoundError) as error:
            raise CliError(str(error)) from None
        except (ServerError, EmptyAnswersError) as error:  # mid-run: the earlier run's outputs are left as they were
            raise CliError(f"{error}; nothing was written") from None
        except OSError as error:
            if error.errno not in DISK_ERRORS:
                raise
            raise write_error(error.filename or output_dir, error) from None
    from cascadener.publishing.results import Coverage, format_percent

    scores = result.scores
    coverage = Coverage.of(result.results)
    if coverage.status != "full":
        print(f"\n{coverage.describe()}: neither ranked with full runs nor publishable", file=sys.stderr)
    from cascadener.publishing.results import method_label

    if "coarse" in scores:
        print("\nDynamicNER test, F1 (%) of CascadeNER, strict span + label matching; dynamic = per-sample type lists, "
              "coarse/medium/fine = hierarchical cascade at taxonomy level 1/2/3")
    else:
        print(f"\nDynamicNER test, F1 (%) of {method_label(result.results.pipeline)}, strict span + label matching; "
              "dynamic = per-sample type lists (the method reads no taxonomy)")
    print(result.table)
    dynamic = scores["dynamic"]
    print(f"\ndynamic: precision {format_percent(dynamic['precision'])}  recall {format_percent(dynamic['recall'])}  "
          f"f1 {format_percent(dynamic['f1'])}  extraction f1 {format_percent(dynamic['extraction_f1'])}  "
          f"({int(dynamic['num_predictions'])} predicted, {int(dynamic['num_references'])} gold entities)")
    counts = result.results.counts
    print(f"time: load {counts['load_seconds']:.0f}s, train {counts['train_seconds']:.0f}s, "
          f"predict {counts['predict_seconds']:.0f}s, total {counts['total_seconds']:.0f}s")
    for name in ("results", "card", "plot", "predictions"):
        print(f"{name}: {result.paths[name]}")
    return 0
