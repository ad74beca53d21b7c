"""``cascadener predict``: run CascadeNER over a DynamicNER config/split, a GEIC file or a JSONL file.

Predictions are written to a JSONL file as they are made (one line per input sentence, in input
order, flushed after every chunk), with a progress bar. Each line::

    {"id": "...", "text": "...", "type_list": [...] or null, "entities": [{text, label, start, end, score}],
     "references": [{text, label, start, end, ...}]}        # references only when the input has gold

Beside it, ``<output>.meta.json`` records the source (with its revision), models, options, prompt
hash and the running counts. ``--resume`` continues an interrupted run: complete lines are kept,
a torn last line is cut off (and reported), already predicted ids are skipped, and the options
must match the first run's; nothing is lost or duplicated.

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
import json
import os
import sys
from pathlib import Path
from typing import Any

from cascadener.cli.backend_args import (
    add_backend_arguments,
    backend_identity,
    check_backend_arguments,
    endpoint_pipeline,
    server_description,
)
from cascadener.cli.common import CliError, check_model_path, positive_int
from cascadener.options import PredictOptions
from cascadener.sources import InputRow, InputSource, add_source_arguments, read_inputs

__all__ = ["InputRow", "InputSource", "read_inputs", "add_source_arguments", "add_parser", "run", "run_identity",
           "META_SUFFIX", "OPTION_KEYS"]

META_SUFFIX = ".meta.json"


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--extractor", default=None,
                        help="stage-1 model: local directory or Hub id (--backend transformers, the default)")
    parser.add_argument("--classifier", default=None, help="stage-2 model (default: the extractor)")
    parser.add_argument("-o", "--output", required=True, help="predictions JSONL to write")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run into --output")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--chunk-size", type=positive_int, default=None,
                        help="sentences predicted between two writes (default: 4 x batch size)")
    parser.add_argument("--classification", choices=("generative", "constrained"), default="generative")
    parser.add_argument("--off-list", choices=("constrained", "closest"), default="constrained",
                        help="fallback for generative answers that are not in the list")
    parser.add_argument("--template", choices=("released", "marked", "short"), default="released")
    parser.add_argument("--type-lists", choices=("sample", "cascade"), default="sample",
                        help="sample: each input's type_list (cascade when it has none); cascade: always the taxonomy")
    parser.add_argument("--self-consistency", type=positive_int, default=1, help="stage-1 samples to merge")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=positive_int, default=None, help="cap on the stage-1 budget")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    parser.add_argument("--dtype", default=None, help="torch dtype name, e.g. bfloat16 (default: the checkpoint's)")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_backend_arguments(parser)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("predict", help="predict entities into a JSONL file",
                                   description=__doc__.split("\n\n")[0])
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def build_parser_for_tests() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cascadener predict")
    _add_arguments(parser)
    return parser


# ------------------------------------------------------------------------------ output / resume

MODEL_KEYS = ("extractor", "classifier")  # which models predict
INPUT_KEYS = ("type_lists",)  # how the inputs are read
# what --resume compares: the models, the input reading and every PredictOptions field that can change a prediction
OPTION_KEYS = (*MODEL_KEYS, *INPUT_KEYS, *PredictOptions.identity_keys())


def run_identity(args: argparse.Namespace, options: PredictOptions) -> dict[str, Any]:
    """The ``options`` of the meta file, compared by ``--resume``: :data:`OPTION_KEYS` as JSON values.

    >>> args = build_parser_for_tests().parse_args(["--jsonl", "in.jsonl", "--extractor", "m", "-o", "o"])
    >>> identity = run_identity(args, PredictOptions.from_namespace(args))
    >>> tuple(identity) == OPTION_KEYS, identity["extractor"], identity["taxonomy"]
    (True, 'm', None)
    """
    return {**{key: getattr(args, key) for key in (*MODEL_KEYS, *INPUT_KEYS)}, **options.identity()}


def _read_done(output: Path) -> tuple[list[str], int]:
    """Ids of complete lines already in ``output``; cuts a torn last line off the file (count returned)."""
    data = output.read_bytes()
    torn = 0
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with output.open("r+b") as handle:
            handle.truncate(cut)
        data = data[:cut]
        torn = 1
    ids = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        try:
            ids.append(str(json.loads(line)["id"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise CliError(f"{output}, line {number}: not a prediction line; cannot resume into this file") from None
    return ids, torn


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Atomic: a run killed mid-write leaves the previous meta file, never a torn one."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, path)


def _prediction_line(row: InputRow, type_list, entities) -> str:
    record: dict[str, Any] = {"id": row.id, "text": row.text, "type_list": list(type_list) if type_list else None,
                              "entities": entities}
    if row.language is not None:
        record["language"] = row.language
    if row.references is not None:
        record["references"] = [dict(entity) for entity in row.references]
    return json.dumps(record, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    from cascadener.prompts import prompt_hash

    output = Path(args.output)
    meta_path = output.with_name(output.name + META_SUFFIX)
    if args.resume and args.overwrite:
        raise CliError("--resume and --overwrite exclude each other")
    if output.exists() and output.stat().st_size > 0 and not (args.resume or args.overwrite):
        raise CliError(f"{output} exists; pass --resume to continue it or --overwrite to replace it")
    if not output.parent.is_dir():
        raise CliError(f"output folder {output.parent} does not exist")
    check_backend_arguments(args)
    if args.backend != "openai":  # a served model is named by the server, not a local path
        try:
            check_model_path(args.extractor, "--extractor")
            check_model_path(args.classifier, "--classifier")
        except CliError as error:
            raise CliError(f"cannot load the model: {error}") from None

    source = read_inputs(args)
    ids = [row.id for row in source.rows]
    if len(set(ids)) != len(ids):
        raise CliError("the input has duplicate ids; predictions could not be resumed safely")
    taxonomy = None
    if args.taxonomy:
        from dynamicner_data.taxonomy import Taxonomy, TaxonomyError

        try:
            taxonomy = Taxonomy.from_file(args.taxonomy)
        except (TaxonomyError, OSError) as error:
            raise CliError(str(error)) from None
    predict_options = PredictOptions.from_namespace(args, taxonomy=taxonomy)
    options = run_identity(args, predict_options)
    options["prompt_hash"] = prompt_hash(template=predict_options.template)
    if args.backend != "transformers":  # the server's model names stand for extractor/classifier
        options.update(backend_identity(args))
    meta: dict[str, Any] = {"source": {"kind": source.kind, **source.description}, "options": options,
                            "stats": {}, "sentences": len(source.rows), "complete": False}
    if args.backend != "transformers":
        meta["server"] = server_description(args)  # not compared by --resume: another host, same outputs
    done: set[str] = set()
    if args.resume and output.exists():
        if not meta_path.is_file():
            raise CliError(f"cannot resume: {meta_path} (written by the first run) is missing")
        try:
            previous = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise CliError(f"cannot resume: {meta_path} is not valid JSON") from None
        for key in ("source", "options"):
            if previous.get(key) != json.loads(json.dumps(meta[key])):
                raise CliError(f"cannot resume: the {key} differ from the first run's ({meta_path}); "
                               "use the same arguments, or --overwrite")
        meta["stats"] = previous.get("stats", {})
        done_ids, torn = _read_done(output)
        input_ids = set(ids)
        unknown = [i for i in done_ids if i not in input_ids]
        if unknown:
            raise CliError(f"cannot resume: {output} holds ids not in the input (e.g. {unknown[0]!r})")
        done = set(done_ids)
        if len(done) != len(done_ids):
            raise CliError(f"cannot resume: {output} holds duplicate ids")
        if torn:
            print(f"resume: cut 1 incomplete last line off {output}", file=sys.stderr)
        print(f"resume: {len(done)} of {len(ids)} sentences already predicted", file=sys.stderr)
    elif output.exists():
        output.unlink()
    if source.report:
        print(source.report, file=sys.stderr)

    from cascadener.backends.http import ServerError
    from cascadener.pipeline import CascadeNER, PredictStats

    if args.backend == "openai":
        ner = endpoint_pipeline(args)
    else:
        try:
            ner = CascadeNER.from_pretrained(args.extractor, args.classifier, device=args.device,
                                             torch_dtype=args.dtype, trust_remote_code=args.trust_remote_code)
        except (OSError, ValueError) as error:  # missing files, unreachable Hub id
            raise CliError(f"cannot load the model: {error}") from None
    _write_meta(meta_path, meta)

    todo = [row for row in source.rows if row.id not in done]
    stats = PredictStats(**meta["stats"]) if meta["stats"] else PredictStats()
    chunk = args.chunk_size or 4 * (args.concurrency if args.backend == "openai" else args.batch_size)
    bar = None
    if not args.no_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(source.rows), initial=len(done), desc="predict", unit="sent")
    with output.open("a", encoding="utf-8") as handle:
        for start in range(0, len(todo), chunk):
            rows = todo[start:start + chunk]
            lists = [None if args.type_lists == "cascade" else row.type_list for row in rows]
            try:
                result = ner.run([row.text for row in rows], lists, **predict_options.keywords())
            except ServerError as error:
                raise CliError(f"{error}; the {len(done) + start} predictions written so far are kept: "
                               "run the same command with --resume to continue") from None
            handle.writelines(_prediction_line(row, lst, prediction.entities)
                              for row, lst, prediction in zip(rows, lists, result.predictions))
            handle.flush()
            os.fsync(handle.fileno())
            stats.add(result.stats)
            meta["stats"] = stats.to_dict()
            _write_meta(meta_path, meta)
            if bar is not None:
                bar.update(len(rows))
    if bar is not None:
        bar.close()
    meta["complete"] = True
    _write_meta(meta_path, meta)
    summary = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in stats.to_dict().items())
    print(f"wrote {len(source.rows)} predictions to {output} ({summary})", file=sys.stderr)
    return 0
