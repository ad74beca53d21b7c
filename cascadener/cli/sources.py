"""The input sources that ``cascadener predict``, ``train``, ``evaluate`` and ``run`` share.

Exactly one source is named on the command line (:func:`add_source_arguments`) and read into an
:class:`InputSource` of :class:`InputRow`s (:func:`read_inputs`):

- ``--dataset CONFIG --split SPLIT [--data-dir DIR]``: the DynamicNER builder
  (:mod:`dynamicner_data.builder`; the embedded sample when no ``--data-dir``; ``DIR`` is the
  release folder or its archive, e.g. ``AnythingNER.7z``, as the builder takes it);
- ``--hf-dataset PATH_OR_ID --config NAME --split SPLIT``: ``datasets.load_dataset``;
- ``--geic FILE [--taxonomy FILE]``: the authors' GEIC JSON (gold placed by alignment);
- ``--jsonl FILE``: lines ``{"id"?, "text", "type_list"?, "entities"?, "language"?}``.

Bad input raises :class:`cascadener.cli.common.CliError` naming the file, line or sample and field.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_source_arguments(parser).title
    'input'
    >>> args = parser.parse_args(["--dataset", "en", "--split", "dev"])
    >>> args.dataset, args.split, args.data_dir
    ('en', 'dev', None)
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cascadener.cli.common import CliError, existing_file, iter_jsonl, lone_surrogate, positive_int

__all__ = ["InputRow", "InputSource", "add_source_arguments", "read_inputs", "read_jsonl_inputs", "read_geic_inputs",
           "read_builder_inputs", "read_hf_inputs", "read_demonstrations", "pool_of"]


@dataclass(frozen=True)
class InputRow:
    id: str
    text: str
    type_list: tuple[str, ...] | None = None
    references: tuple[dict[str, Any], ...] | None = None
    language: str | None = None


@dataclass
class InputSource:
    kind: str
    description: dict[str, Any] = field(default_factory=dict)
    rows: list[InputRow] = field(default_factory=list)
    report: str | None = None


def _file_revision(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _check_entities(entities: Any, where: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(entities, list):
        raise CliError(f"{where}: field 'entities' must be a list of {{text, label, start, end}} records")
    for position, entity in enumerate(entities):
        if not isinstance(entity, dict) or not {"text", "label", "start", "end"} <= set(entity):
            raise CliError(f"{where}: entities[{position}] must be an object with text, label, start and end")
    return tuple(entities)


def read_jsonl_inputs(path: Path) -> InputSource:
    """``{"id"?, "text", "type_list"?, "entities"?, "language"?}`` per line; errors name the line and field."""
    rows: list[InputRow] = []
    seen: set[str] = set()
    for number, record in iter_jsonl(path):
        where = f"{path}, line {number}"
        text = record.get("text")
        if not isinstance(text, str):
            raise CliError(f"{where}: field 'text' must be a string, got {type(text).__name__}")
        row_id = record.get("id", str(number))
        if not isinstance(row_id, (str, int)) or isinstance(row_id, bool):
            raise CliError(f"{where}: field 'id' must be a string or an integer")
        row_id = str(row_id)
        if row_id in seen:
            raise CliError(f"{where}: duplicate id {row_id!r}")
        seen.add(row_id)
        type_list = record.get("type_list")
        if type_list is not None:
            if not isinstance(type_list, list) or not type_list or not all(isinstance(t, str) and t.strip() for t in type_list):
                raise CliError(f"{where}: field 'type_list' must be a non-empty list of type names")
            type_list = tuple(type_list)
        references = _check_entities(record["entities"], where) if "entities" in record else None
        language = record.get("language")
        if language is not None and not isinstance(language, str):
            raise CliError(f"{where}: field 'language' must be a string, got {type(language).__name__}")
        rows.append(InputRow(id=row_id, text=text, type_list=type_list, references=references, language=language))
    return InputSource(kind="jsonl", description={"name": path.name, "path": str(path),
                                                  "revision": _file_revision(path)}, rows=rows)


def read_geic_inputs(path: Path, taxonomy_path: Path | None) -> InputSource:
    from dynamicner_data.geic import GeicError, read_geic
    from dynamicner_data.taxonomy import Taxonomy, TaxonomyError

    try:
        taxonomy = Taxonomy.from_file(taxonomy_path) if taxonomy_path else Taxonomy.dynamicner()
        samples, report = read_geic(path, taxonomy, unknown_category="catch_all", empty_sentences="skip")
    except (GeicError, TaxonomyError) as error:
        raise CliError(str(error)) from None
    rows = [InputRow(id=sample.key, text=sample.text, references=tuple(e.to_dict() for e in sample.entities))
            for sample in samples]
    for row in rows:
        found = lone_surrogate({"sentence": row.text, "entity": [e["text"] for e in row.references],
                                "category": [e["label"] for e in row.references]})
        if found is not None:
            field, character, position = found
            raise CliError(f"{path}: sample {row.id!r}: field {field} holds a lone surrogate {ascii(character)} at "
                           f"character {position}, which is not Unicode text (half of a cut emoji?); fix or remove it")
    description = {"name": path.name, "path": str(path), "revision": _file_revision(path),
                   "taxonomy": str(taxonomy_path) if taxonomy_path else "dynamicner",
                   "skipped_empty_samples": len(report.skipped_samples)}
    return InputSource(kind="geic", description=description, rows=rows, report=report.summary())


def _rows_from_dataset(dataset, where: str) -> list[InputRow]:
    missing = [column for column in ("id", "text") if column not in dataset.column_names]
    if missing:
        raise CliError(f"{where}: the dataset lacks column(s) {', '.join(missing)}")
    rows = []
    for record in dataset:
        type_list = tuple(record["type_list"]) if record.get("type_list") else None
        references = tuple(record["entities"]) if "entities" in record and record["entities"] is not None else None
        rows.append(InputRow(id=str(record["id"]), text=record["text"], type_list=type_list, references=references,
                             language=record.get("language")))
    return rows


def read_builder_inputs(config: str, split: str, data_dir: str | None) -> InputSource:
    from dynamicner_data.builder import CONFIG_NAMES, SplitUnavailable, builder_hash, prepared_split

    if config not in CONFIG_NAMES:
        raise CliError(f"unknown DynamicNER config {config!r}; choose one of: {', '.join(CONFIG_NAMES)}")
    try:
        builder, dataset = prepared_split(config, split, data_dir=data_dir)
    except SplitUnavailable as error:
        raise CliError(str(error)) from None
    description = {"name": "dynamicner", "config": config, "split": split,
                   "revision": f"builder-{builder_hash()}", "data_dir": data_dir}
    from dynamicner_data.cache import content_digest

    digest = content_digest(builder.cache_dir)  # the files read, by content (None: the embedded sample)
    if digest is not None:
        description["sha256"] = digest
    return InputSource(kind="dynamicner", description=description,
                       rows=_rows_from_dataset(dataset, f"DynamicNER {config}/{split}"))


def read_hf_inputs(path: str, config: str | None, split: str, revision: str | None) -> InputSource:
    import datasets

    try:
        dataset = datasets.load_dataset(path, config, split=split, revision=revision)
    except Exception as error:  # datasets raises many types (FileNotFound, DatasetNotFound, ValueError)
        raise CliError(f"cannot load dataset {path!r} (config {config!r}, split {split!r}): {error}") from None
    version = getattr(dataset.info, "version", None)
    description = {"name": path, "config": config, "split": split,
                   "revision": revision or (str(version) if version is not None else None)}
    return InputSource(kind="hf", description=description,
                       rows=_rows_from_dataset(dataset, f"{path} ({config}, {split})"))


def read_inputs(args: argparse.Namespace) -> InputSource:
    """The rows of whichever source the arguments name (exactly one)."""
    if args.jsonl:
        source = read_jsonl_inputs(existing_file(args.jsonl, "JSONL file"))
    elif args.geic:
        taxonomy = existing_file(args.taxonomy, "taxonomy file") if args.taxonomy else None
        source = read_geic_inputs(existing_file(args.geic, "GEIC file"), taxonomy)
    elif args.hf_dataset:
        source = read_hf_inputs(args.hf_dataset, args.config, args.split, args.dataset_revision)
    else:
        if args.data_dir is not None and not Path(args.data_dir).expanduser().exists():
            raise CliError(f"--data-dir {args.data_dir} does not exist (give the release folder or its archive)")
        source = read_builder_inputs(args.dataset, args.split, args.data_dir)
    if args.limit is not None:
        source.rows = source.rows[: args.limit]
        source.description["limit"] = args.limit
    return source


def add_source_arguments(parser: argparse.ArgumentParser, *, required: bool = True,
                         title: str = "input") -> argparse._ArgumentGroup:
    """The source options, in an argument group named ``title`` (returned: a command adds its own input
    options to it); exactly one of ``--dataset``, ``--hf-dataset``, ``--geic``, ``--jsonl``
    (``required``: one must be given)."""
    group = parser.add_argument_group(title)
    one = group.add_mutually_exclusive_group(required=required)
    one.add_argument("--dataset", metavar="CONFIG", help="a DynamicNER builder config, e.g. en, de-fine, all")
    one.add_argument("--hf-dataset", metavar="PATH_OR_ID", help="datasets.load_dataset path (Parquet folder, Hub id)")
    one.add_argument("--geic", metavar="FILE", help="a GEIC JSON file")
    one.add_argument("--jsonl", metavar="FILE", help='a JSONL file of {"id", "text", "type_list"?, "entities"?}')
    group.add_argument("--split", default="test", help="split of --dataset / --hf-dataset")
    group.add_argument("--config", default=None, help="config name of --hf-dataset")
    group.add_argument("--dataset-revision", default=None, help="revision of --hf-dataset on the Hub (none: its default branch)")
    group.add_argument("--data-dir", default=None,
                       help="local DynamicNER release for --dataset: its folder or its archive (.7z) "
                            "(none: the embedded sample)")
    group.add_argument("--taxonomy", default=None,
                       help="taxonomy file (authors' format) for --geic and the cascade (none: DynamicNER's)")
    group.add_argument("--limit", type=positive_int, default=None, help="only the first N sentences (none: all)")
    return group


def pool_of(source: InputSource, *, flag: str = "--demonstrations-from"):
    """The :class:`~cascadener.methods.demonstrations.DemonstrationPool` of a source's rows (gold needed)."""
    from cascadener.methods.demonstrations import DemonstrationError, DemonstrationPool

    records = []
    for row in source.rows:
        if row.references is None:
            raise CliError(f"{flag}: sample {row.id!r} has no gold entities: demonstrations need annotated sentences")
        records.append({"id": row.id, "text": row.text, "language": row.language,
                        "entities": [dict(entity) for entity in row.references]})
    try:
        return DemonstrationPool(records, source={"kind": source.kind, **source.description}, where=flag)
    except DemonstrationError as error:
        raise CliError(str(error)) from None


def read_demonstrations(args: argparse.Namespace) -> "Any":
    """The training sentences demonstrations are drawn from (``--demonstrations-from``): a JSONL or GEIC
    file, or a split of the ``--dataset``/``--hf-dataset`` being predicted (by default its ``train``
    split). A ``--jsonl``/``--geic`` input names no other split: it needs a file.

    The pool is read whole (``--limit`` applies to the input, not to it).
    """
    spec = getattr(args, "demonstrations_from", None)
    if spec is not None and (Path(spec).suffix.lower() in (".jsonl", ".json") or Path(spec).is_file()):
        path = existing_file(spec, "--demonstrations-from file")
        if path.suffix.lower() == ".jsonl":
            source = read_jsonl_inputs(path)
        else:
            taxonomy = existing_file(args.taxonomy, "taxonomy file") if args.taxonomy else None
            source = read_geic_inputs(path, taxonomy)
        return pool_of(source)
    split = spec or "train"
    if args.hf_dataset:
        source = read_hf_inputs(args.hf_dataset, args.config, split, args.dataset_revision)
    elif args.dataset:
        source = read_builder_inputs(args.dataset, split, args.data_dir)
    else:
        given = "--jsonl" if args.jsonl else "--geic"
        raise CliError(f"{given} inputs have no training split to draw demonstrations from: give "
                       "--demonstrations-from FILE (JSONL or GEIC with gold entities), or --demonstrations 0")
    return pool_of(source)
