"""``cascadener train``: fine-tune a CascadeNER extractor and classifier (or one model for both), or one
model on GPT-NER's or PromptNER's own prompts (``--method``).

Training data: any source ``cascadener predict`` reads, with gold entities (a DynamicNER
config/split, an exported dataset, a GEIC file or a JSONL file); ``--split`` defaults to ``train``.
Or ``--sharegpt FILE...``: ready-made conversations (ShareGPT JSON), trained into one model.
Stage-2 lists come from each sample's ``type_list`` and/or the taxonomy levels (``--lists``).

``--method gpt-ner`` or ``--method promptner`` trains ONE model (``OUTPUT/model``) on that method's
conversations (:meth:`cascadener.methods.fewshot.PromptMethod.conversations`: GPT-NER one per
sentence and type of its list, PromptNER one per sentence; asked without demonstrations) and marks
the folder as fine-tuned for it, so ``cascadener predict --method`` asks it without demonstrations
and the results record the run as fine-tuned. ``--export-sft`` writes the conversations as
``<method>.json``.

Start from ``--base-model`` (any ``AutoModelForCausalLM`` directory or Hub id with a chat template),
or, without it, from a tiny from-scratch Qwen2 with a tokenizer trained on the training text
(offline; it memorises rather than generalises). ``--lora`` trains a peft LoRA adapter, merged
into the saved weights. Saves ``OUTPUT/extractor`` and ``OUTPUT/classifier`` (or ``OUTPUT/model``
with ``--one-model``) plus ``OUTPUT/train_summary.json``; both load with
``CascadeNER.from_pretrained``.

One training per output folder: ``OUTPUT.lock`` (:class:`cascadener.cli.locking.OutputLock`) is held
for the whole run, and a second ``cascadener train`` into the same folder is refused, naming the
holder. A finished model is never replaced without ``--overwrite``. With ``--save-steps``, the run
first records its base model, data and recipe in ``OUTPUT/train_identity.json``; ``--resume``
continues only a run with the same three, and names the first difference otherwise.

Example:
    >>> from cascadener.cli import build_parser
    >>> args = build_parser().parse_args(["train", "--dataset", "en", "-o", "out"])
    >>> args.split, args.lists, args.base_model, args.lora
    ('train', 'auto', None, False)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from .common import CliError, check_model_path, existing_file, locked_output, positive_int, write_error
from cascadener.cli.sources import add_source_arguments, read_inputs
from cascadener.methods import DEFAULT_METHOD, METHODS, method_class
from cascadener.options import PredictOptions
from cascadener.prompts import STAGE2_TEMPLATES
from cascadener.training.sft import LIST_SOURCES

__all__ = ["add_parser", "run", "records_from_source", "train_options"]


#: ``--lists``: the stage-2 list sources of :func:`cascadener.training.sft.build_sft`, each, both, or
#: chosen from the data (``auto``)
LIST_CHOICES: tuple[str, ...] = ("auto", *LIST_SOURCES, "both")


def add_parser(subparsers) -> argparse.ArgumentParser:
    from cascadener.training.recipes import BASE, LORA_LEARNING_RATE, TINY
    from cascadener.training.trainer import TrainOptions

    parser = subparsers.add_parser("train", help="fine-tune an extractor and a classifier",
                                   description=__doc__.split("\n\n")[0])
    data = add_source_arguments(parser, required=False)
    data.add_argument("--sharegpt", nargs="+", metavar="FILE", default=None,
                      help="train ONE model (OUTPUT/model) on ShareGPT conversation files instead "
                           "(e.g. exported with --export-sft, or the released CascadeNER SFT data)")
    data.add_argument("--lists", choices=LIST_CHOICES, default="auto",
                      help="stage-2 lists: each sample's type_list, the taxonomy levels, or both "
                           "(auto: type_list when every sample has one, else hierarchy)")
    data.add_argument("--template", choices=STAGE2_TEMPLATES, default=PredictOptions.template,
                      help="the stage-2 prompt format trained on (predict with the same)")
    data.add_argument("--max-length", type=positive_int, default=TrainOptions.max_length,
                      help="longer conversations (in tokens) are skipped and reported")
    parser.set_defaults(split="train", func=run)
    model = parser.add_argument_group("model")
    model.add_argument("--method", choices=tuple(METHODS), default=DEFAULT_METHOD,
                       help="the prompts trained on: cascadener = an extractor and a classifier (two stages); "
                            "gpt-ner, promptner = one model on that method's own format")
    model.add_argument("--base-model", default=None,
                       help="AutoModelForCausalLM directory or Hub id (none: a tiny model from scratch)")
    model.add_argument("--one-model", action="store_true", help="one model for both stages")
    model.add_argument("--vocab-size", type=positive_int, default=2000, help="tokenizer size of a tiny model")
    model.add_argument("--lora", action="store_true", help="train a LoRA adapter (peft) instead of all weights")
    model.add_argument("--lora-r", type=positive_int, default=TrainOptions.lora_r, help="LoRA rank")
    model.add_argument("--lora-alpha", type=positive_int, default=TrainOptions.lora_alpha, help="LoRA scaling alpha")
    model.add_argument("--lora-dropout", type=float, default=0.05,
                       help="dropout on the LoRA layers, in [0, 1)")
    model.add_argument("--no-merge-lora", action="store_true",
                       help="save the adapter instead of merged weights (loading then needs peft)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=float, default=None,
                          help=f"passes over the data, both models (none: the recipe's: "
                               f"{TINY.extractor.epochs:g} extractor / {TINY.classifier.epochs:g} classifier tiny, "
                               f"{BASE.extractor.epochs:g} / {BASE.classifier.epochs:g} base)")
    training.add_argument("--max-steps", type=positive_int, default=None,
                          help="optimizer steps per model, overrides --epochs (none: the epochs decide)")
    training.add_argument("--learning-rate", type=float, default=None,
                          help=f"peak learning rate (none: {TINY.extractor.learning_rate:g} tiny, "
                               f"{BASE.extractor.learning_rate:g} base, {LORA_LEARNING_RATE:g} LoRA)")
    training.add_argument("--batch-size", type=positive_int, default=None,
                          help=f"conversations per step (none: {TINY.extractor.batch_size} tiny, "
                               f"{BASE.extractor.batch_size} base)")
    training.add_argument("--gradient-accumulation-steps", type=positive_int,
                          default=TrainOptions.gradient_accumulation_steps,
                          help="batches summed into one optimizer step")
    training.add_argument("--seed", type=int, default=TrainOptions.seed, help="seed of initialisation and shuffling")
    training.add_argument("--threads", type=positive_int, default=None,
                          help="torch CPU threads while training (none: the recipe's: 1 tiny, torch's default base)")
    training.add_argument("--save-steps", type=positive_int, default=None,
                          help="checkpoint every N steps into OUTPUT/<model>/checkpoints (none: no checkpoints)")
    training.add_argument("--resume", action="store_true",
                          help="continue an interrupted run from its last checkpoint (written with --save-steps); "
                               "models that had finished are kept")
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output-dir", required=True, help="folder for the trained model(s)")
    output.add_argument("--overwrite", action="store_true", help="replace models already in --output-dir")
    output.add_argument("--export-sft", default=None, metavar="DIR",
                        help="also write the conversations as ShareGPT JSON (stage1.json, stage2.json)")
    output.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def records_from_source(rows) -> list[dict[str, Any]]:
    """``InputRow``s with gold entities -> training records; a row without gold is an error."""
    records = []
    for row in rows:
        if row.references is None:
            raise CliError(f"sample {row.id!r} has no gold entities: training needs annotated data")
        records.append({"id": row.id, "text": row.text, "entities": [dict(e) for e in row.references],
                        "type_list": list(row.type_list) if row.type_list is not None else None})
    if not records:
        raise CliError("the training source has no samples")
    return records


def resolve_lists(choice: str, records: list[dict[str, Any]]) -> tuple[str, ...]:
    """``--lists`` -> the list sources of :func:`cascadener.training.sft.build_sft`.

    >>> resolve_lists("auto", [{"type_list": ["a"]}, {"type_list": None}])
    ('hierarchy',)
    """
    if choice == "both":
        return ("type_list", "hierarchy")
    if choice == "auto":
        return ("type_list",) if all(r.get("type_list") for r in records) else ("hierarchy",)
    if choice == "type_list":
        missing = [r["id"] for r in records if not r.get("type_list")]
        if missing:
            raise CliError(f"--lists type_list: {len(missing)} samples have no type_list (first: {missing[0]!r}); "
                           "use --lists hierarchy or a dynamic config")
    return (choice,)


def train_options(args: argparse.Namespace):
    """The :class:`cascadener.training.recipes.Recipe` the arguments ask for: the recipe of the starting point
    (:func:`cascadener.training.recipes.recipe`), the options given overriding it for both models.

    >>> from cascadener.cli import build_parser
    >>> from cascadener.training.recipes import TINY
    >>> options = train_options(build_parser().parse_args(["train", "--dataset", "en", "-o", "out"]))
    >>> options.extractor.epochs == TINY.extractor.epochs and options.classifier.epochs == TINY.classifier.epochs
    True
    >>> train_options(build_parser().parse_args(["train", "--dataset", "en", "-o", "out", "--epochs", "4"])).classifier.epochs
    4.0
    """
    from cascadener.training.recipes import recipe

    changes: dict[str, Any] = {
        "gradient_accumulation_steps": args.gradient_accumulation_steps, "seed": args.seed,
        "max_length": args.max_length, "lora": args.lora, "lora_r": args.lora_r, "lora_alpha": args.lora_alpha,
        "lora_dropout": args.lora_dropout, "merge_lora": not args.no_merge_lora, "progress": not args.no_progress,
        "save_steps": args.save_steps, "resume": args.resume}
    given = {"epochs": args.epochs, "max_steps": args.max_steps, "learning_rate": args.learning_rate,
             "batch_size": args.batch_size, "num_threads": args.threads}
    changes.update({name: value for name, value in given.items() if value is not None})
    return recipe(base_model=args.base_model is not None, lora=args.lora).replace(**changes)


def _run_sharegpt(args: argparse.Namespace, output_dir: Path) -> int:
    from datasets import concatenate_datasets

    from cascadener.training.sft import SftDataError, read_sharegpt
    from cascadener.training.trainer import TrainingDataError, train_conversations

    parts = []
    for name in args.sharegpt:
        try:
            parts.append(read_sharegpt(existing_file(name, "ShareGPT file")))
        except SftDataError as error:
            raise CliError(str(error)) from None
    dataset = concatenate_datasets(parts)
    recipe = train_options(args)
    options = recipe.extractor  # one model, trained like an extractor
    import hashlib

    digest = hashlib.sha256()
    for name in args.sharegpt:
        digest.update(hashlib.sha256(Path(name).read_bytes()).digest())
    data = {"source": {"sharegpt": [str(Path(name).resolve()) for name in args.sharegpt]}, "sha256": digest.hexdigest()}
    _record_identity(args, output_dir, run_identity(args, recipe, data=data, lists=()))
    print(f"training one model on {len(dataset)} conversations from {len(parts)} ShareGPT file(s), start: "
          f"{args.base_model or 'tiny model from scratch'}", file=sys.stderr)
    with _training_errors(args, output_dir):
        result = train_conversations(dataset, output_dir / "model", base_model=args.base_model, options=options,
                                     vocab_size=args.vocab_size)
    summary = {"source": {"sharegpt": list(args.sharegpt)}, "base_model": args.base_model,
               "extractor": str(result.output_dir), "classifier": str(result.output_dir),
               "options": {"model": options.to_dict()},
               "runs": {"model": result.to_dict()}}
    _write_summary(output_dir, summary)
    print(f"model: {result.summary()}")
    print(f"next: cascadener predict --extractor {result.output_dir} --dataset <config> --split test "
          "-o predictions.jsonl")
    return 0


def _run_method(args: argparse.Namespace, output_dir: Path, method, source, records: list[dict[str, Any]]) -> int:
    """One model on a prompt method's own format (``--method gpt-ner|promptner``)."""
    from cascadener.training.trainer import train_method

    recipe = train_options(args)
    options = recipe.extractor  # one model
    data = {"source": {"kind": source.kind, **source.description}, "sha256": records_digest(records)}
    _record_identity(args, output_dir, run_identity(args, recipe, data=data, lists=()))
    print(f"training one {method.name} model on {len(records)} samples from {source.kind} "
          f"{source.description.get('name')} ({source.description.get('config') or ''} "
          f"{source.description.get('split') or ''}), start: {args.base_model or 'tiny model from scratch'}",
          file=sys.stderr)
    with _training_errors(args, output_dir):
        try:
            result = train_method(records, output_dir, method=method.name, base_model=args.base_model,
                                  options=options, vocab_size=args.vocab_size, export_sft=args.export_sft)
        except ValueError as error:  # a record the method's format cannot hold (names the record and field)
            from cascadener.training.trainer import TrainingDataError

            if isinstance(error, TrainingDataError):
                raise
            raise CliError(str(error)) from None
    summary = {"method": method.name, "source": source.description, "base_model": args.base_model,
               "extractor": str(result.extractor), "classifier": str(result.classifier),
               "options": {"model": options.to_dict()}, "sft": result.sft_report.to_dict(),
               "runs": {name: run.to_dict() for name, run in result.runs.items()}}
    _write_summary(output_dir, summary)
    print(result.summary())
    print(f"next: cascadener predict --method {method.name} --extractor {result.extractor} --dataset <config> "
          "--split test -o predictions.jsonl")
    return 0


def _write_summary(output_dir: Path, summary: dict[str, Any]) -> None:
    from dynamicner_data.atomic import atomic_write_text

    path = output_dir / "train_summary.json"
    try:
        atomic_write_text(path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    except OSError as error:
        raise write_error(path, error) from None


@contextlib.contextmanager
def _training_errors(args: argparse.Namespace, output_dir: Path) -> Iterator[None]:
    """Training failures as the user's errors, each naming its real cause."""
    from cascadener.training.sft import SftDataError
    from cascadener.training.trainer import BaseModelError, ResumeError, TrainingDataError, as_os_error

    try:
        yield
    except (SftDataError, TrainingDataError, ResumeError) as error:
        raise CliError(str(error)) from None
    except BaseModelError as error:
        raise CliError(f"--base-model: {error}") from None
    except Exception as error:
        disk = as_os_error(error)  # a read-only or full disk, found while writing checkpoints or the model
        if disk is None:
            raise
        raise CliError(f"{write_error(output_dir, disk)}; no partial model was left in {output_dir}") from None


def check_targets(targets: list[Path], *, resume: bool, overwrite: bool) -> list[Path]:
    """Refuse what would lose work; returns the targets that ``--resume`` keeps as finished.

    A finished model is never replaced without ``--overwrite``; checkpoints of an interrupted run
    are never discarded without it; ``--resume`` needs a checkpoint (or a finished model) for each.
    """
    from cascadener.training.model_files import folder_state

    states = {target: folder_state(target) for target in targets}
    kept = [target for target, state in states.items() if state == "model"]
    if resume:
        for target, state in states.items():
            if state not in ("model", "checkpoints"):
                raise CliError(f"cannot resume: {target} holds no checkpoint to continue from "
                               f"({target / 'checkpoints'} has none; checkpoints are written with --save-steps); "
                               "run without --resume to train from the start")
    elif not overwrite:
        interrupted = [target for target, state in states.items() if state == "checkpoints"]
        if interrupted:  # the most useful advice first: continuing keeps what is finished
            raise CliError(f"{interrupted[0]} holds the checkpoints of an interrupted run; pass --resume to continue "
                           "it or --overwrite to start again")
        for target, state in states.items():
            if state == "model":
                raise CliError(f"{target} already holds a trained model; pass --overwrite to replace it")
            if state in ("incomplete", "other") and not target.is_dir():
                raise CliError(f"{target} exists and is not a folder; remove it or choose another --output-dir")
            if state in ("incomplete", "other"):
                raise CliError(f"{target} exists and holds no complete model; pass --overwrite to replace it")
    if resume and len(kept) == len(targets):
        raise CliError(f"nothing to resume: {', '.join(map(str, targets))} had finished; "
                       "pass --overwrite (without --resume) to train again")
    return kept


def _check_output_dir(output_dir: Path) -> None:
    """The output folder exists (created now) and is writable, else an error naming the cause."""
    import tempfile

    if output_dir.exists() and not output_dir.is_dir():
        raise CliError(f"--output-dir {output_dir} is a file; give a folder")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except OSError as error:
        raise CliError(f"--output-dir {output_dir} is not writable: {error.strerror or error}") from None


IDENTITY_FILE = "train_identity.json"
IDENTITY_FORMAT = 1
# TrainOptions fields that do not change what is trained (how often to log or checkpoint, threads...)
NOT_RECIPE = ("progress", "num_threads", "save_steps", "resume", "logging_steps")


def records_digest(records: list[dict[str, Any]]) -> str:
    """SHA-256 of the training records as JSON (what is trained on, whatever file it came from).

    >>> records_digest([{"id": "a", "text": "x"}]) == records_digest([{"text": "x", "id": "a"}])
    True
    """
    import hashlib

    return hashlib.sha256(json.dumps(records, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def run_identity(args: argparse.Namespace, recipe, *, data: dict[str, Any], lists: tuple[str, ...]) -> dict[str, Any]:
    """What ``--resume`` compares: the base model (resolved folder and file hashes, or Hub id), the
    data (its source and the digest of what is trained on) and the recipe (every option that
    changes the trained weights, for each model)."""
    from cascadener.training.model_files import model_identity

    def weights_options(options) -> dict[str, Any]:
        return {key: value for key, value in options.to_dict().items() if key not in NOT_RECIPE}

    one_model = bool(args.one_model or args.sharegpt or method_class(args.method).single_model)
    models = {"model": recipe.extractor} if one_model else {"extractor": recipe.extractor,
                                                            "classifier": recipe.classifier}
    return json.loads(json.dumps({
        "format": IDENTITY_FORMAT,
        "base_model": model_identity(args.base_model) if args.base_model is not None else None,
        "data": data,
        "recipe": {**({"method": args.method} if args.method != DEFAULT_METHOD else {}),
                   "one_model": one_model, "lists": list(lists), "template": args.template,
                   "vocab_size": args.vocab_size if args.base_model is None else None,
                   "models": {name: weights_options(options) for name, options in models.items()}},
    }))


def _describe_base(identity: dict[str, Any] | None) -> str:
    if identity is None:
        return "a tiny model from scratch"
    return identity.get("path") or identity.get("hub_id") or "?"


def _flag(key: str) -> str:
    return "--no-merge-lora" if key == "merge_lora" else "--" + key.replace("_", "-")


def identity_difference(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    """``None`` when ``now`` continues the run recorded as ``before``, else what differs.

    >>> first = {"base_model": None, "data": {"sha256": "a"}, "recipe": {"models": {"model": {"seed": 0}}}}
    >>> identity_difference(first, {**first, "recipe": {"models": {"model": {"seed": 1}}}})
    "the recipe differs from the first run's: --seed was 0, now 1"
    >>> identity_difference(first, first) is None
    True
    """
    from cascadener.training.model_files import describe_identity_change

    then, here = before.get("base_model"), now.get("base_model")
    if then != here:
        if then and here:
            return f"the base model differs from the first run's: {describe_identity_change('base model', then, here)}"
        return f"the base model differs from the first run's: {_describe_base(then)} then, {_describe_base(here)} now"
    then, here = before.get("data") or {}, now.get("data") or {}
    if then != here:
        if then.get("source") != here.get("source"):
            return f"the training data differs from the first run's: {then.get('source')} then, {here.get('source')} now"
        return ("the training data differs from the first run's: the same source, other samples "
                f"(SHA-256 {str(then.get('sha256'))[:12]} then, {str(here.get('sha256'))[:12]} now)")
    old, new = before.get("recipe") or {}, now.get("recipe") or {}
    pairs = [(key, old.get(key), new.get(key)) for key in dict.fromkeys([*old, *new]) if key != "models"]
    old_models, new_models = old.get("models") or {}, new.get("models") or {}
    for name in dict.fromkeys([*old_models, *new_models]):
        first, second = old_models.get(name) or {}, new_models.get(name) or {}
        pairs += [(key, first.get(key), second.get(key)) for key in dict.fromkeys([*first, *second])]
    for key, first, second in pairs:
        if first != second:
            return f"the recipe differs from the first run's: {_flag(key)} was {first!r}, now {second!r}"
    return None


def _check_resume_identity(output_dir: Path, identity: dict[str, Any]) -> None:
    """Refuse a ``--resume`` whose base model, data or recipe is not the interrupted run's."""
    path = output_dir / IDENTITY_FILE
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"cannot resume {output_dir}: {path}, which records the first run's base model, data and "
                       "recipe, is missing (a run of an older version?); start again with --overwrite") from None
    except (OSError, ValueError) as error:
        raise CliError(f"cannot resume {output_dir}: {path} is not readable ({error}); "
                       "start again with --overwrite") from None
    if not isinstance(before, dict) or before.get("format") != IDENTITY_FORMAT:
        raise CliError(f"cannot resume {output_dir}: {path} was written by another version of cascadener train; "
                       "start again with --overwrite")
    difference = identity_difference(before, identity)
    if difference:
        raise CliError(f"cannot resume {output_dir}: {difference}; resume with the first run's arguments, or start "
                       "again with --overwrite")


def _record_identity(args: argparse.Namespace, output_dir: Path, identity: dict[str, Any]) -> None:
    """``--resume``: check ``identity`` against the first run's. A run that writes checkpoints
    (``--save-steps``, what ``--resume`` continues) records it before anything is trained; any
    other run removes the record of an earlier one."""
    path = output_dir / IDENTITY_FILE
    if args.resume:
        _check_resume_identity(output_dir, identity)
        return
    from dynamicner_data.atomic import atomic_write_text

    try:
        if args.save_steps:
            atomic_write_text(path, json.dumps(identity, indent=2, ensure_ascii=False) + "\n")
        else:
            path.unlink(missing_ok=True)
    except OSError as error:
        raise write_error(path, error) from None


def run(args: argparse.Namespace) -> int:
    output_dir = Path(args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise CliError(f"--output-dir {output_dir} is a file; give a folder")
    def not_writable(error: OSError) -> CliError:
        return CliError(f"--output-dir {output_dir} is not writable: {error.strerror or error}")

    with locked_output(output_dir, lock_error=not_writable):
        return _run_locked(args, output_dir)


def _run_locked(args: argparse.Namespace, output_dir: Path) -> int:
    """:func:`run` while this process holds the output folder's lock: nothing checked here can
    change under it (two trainings into one folder never both pass :func:`check_targets`)."""
    from cascadener.training.trainer import train_cascade

    sources = [flag for flag, value in (("--dataset", args.dataset), ("--hf-dataset", args.hf_dataset),
                                        ("--geic", args.geic), ("--jsonl", args.jsonl), ("--sharegpt", args.sharegpt))
               if value]
    if len(sources) != 1:
        raise CliError("give exactly one training source: --dataset, --hf-dataset, --geic, --jsonl or --sharegpt"
                       + (f" (got {', '.join(sources)})" if sources else ""))
    method = method_class(args.method)
    if method.single_model:
        given = [flag for flag, value in (("--one-model", args.one_model), ("--sharegpt", args.sharegpt),
                                          ("--lists", args.lists != "auto"),
                                          ("--template", args.template != PredictOptions.template)) if value]
        if given:
            raise CliError(f"{', '.join(given)}: cascadener's; --method {method.name} trains one model on its own "
                           "format")
    one_model = args.one_model or bool(args.sharegpt) or method.single_model
    targets = [output_dir / "model"] if one_model else [output_dir / "extractor", output_dir / "classifier"]
    if args.resume and args.overwrite:
        raise CliError("--resume and --overwrite exclude each other")
    check_targets(targets, resume=args.resume, overwrite=args.overwrite)
    check_model_path(args.base_model, "--base-model")
    if args.lora_dropout < 0 or args.lora_dropout >= 1:
        raise CliError(f"--lora-dropout must be in [0, 1), got {args.lora_dropout}")
    if args.learning_rate is not None and args.learning_rate <= 0:
        raise CliError(f"--learning-rate must be > 0, got {args.learning_rate}")
    if args.lora:
        try:
            import peft  # noqa: F401
        except ImportError:
            raise CliError("--lora needs peft: pip install 'dynamicner-kit[lora]'") from None
    _check_output_dir(output_dir)
    if args.sharegpt:
        return _run_sharegpt(args, output_dir)
    source = read_inputs(args)
    records = records_from_source(source.rows)
    if method.single_model:
        return _run_method(args, output_dir, method, source, records)
    lists = resolve_lists(args.lists, records)
    recipe = train_options(args)
    data = {"source": {"kind": source.kind, **source.description}, "sha256": records_digest(records)}
    _record_identity(args, output_dir, run_identity(args, recipe, data=data, lists=lists))
    print(f"training on {len(records)} samples from {source.kind} {source.description.get('name')} "
          f"({source.description.get('config') or ''} {source.description.get('split') or ''}), lists: "
          f"{', '.join(lists)}, start: {args.base_model or 'tiny model from scratch'}", file=sys.stderr)
    with _training_errors(args, output_dir):
        result = train_cascade(records, output_dir, base_model=args.base_model, one_model=one_model,
                               lists=lists, template=args.template, options=recipe.extractor,
                               classifier_options=recipe.classifier, vocab_size=args.vocab_size,
                               export_sft=args.export_sft)
    summary = {
        "source": source.description,
        "base_model": args.base_model,
        "extractor": str(result.extractor),
        "classifier": str(result.classifier),
        "lists": list(lists),
        "template": args.template,
        "options": {name: (recipe.classifier if name == "classifier" else recipe.extractor).to_dict()
                    for name in result.runs},
        "sft": result.sft_report.to_dict(),
        "runs": {name: run.to_dict() for name, run in result.runs.items()},
    }
    _write_summary(output_dir, summary)
    print(result.summary())
    classifier = "" if result.classifier == result.extractor else f" --classifier {result.classifier}"
    print(f"next: cascadener predict --extractor {result.extractor}{classifier} --dataset <config> --split test "
          "-o predictions.jsonl")
    return 0
