"""The ``dynamicner`` command line: prepare, export, infos, stats, example.

- ``dynamicner prepare [CONFIG ...]``: prepare configs in the ``datasets`` cache, after which
  ``datasets.load_dataset("dynamicner", CONFIG)`` works offline (datasets 5.x);
- ``dynamicner export OUT_DIR [--configs ...]``: a Hub-ready folder (Parquet + card);
- ``dynamicner infos [--output dataset_infos.json]``: regenerate ``dataset_infos.json``;
- ``dynamicner stats [CONFIG ...]``: build and print statistics per config (the interim main job);
- ``dynamicner example [CONFIG]``: print one row as JSON.

Source options (``prepare``, ``export``, ``stats``, ``example``): ``--data-dir`` (local copy or
``.7z``), ``--data-files SPLIT=PATH`` (repeatable; ``taxonomy=PATH`` for the taxonomy),
``--release`` (the official archive). Without them: the embedded sample.

>>> parser = build_parser()
>>> args = parser.parse_args(["stats", "de", "--data-files", "test=a.json", "--data-files", "taxonomy=t.json"])
>>> args.configs, source_options(args).data_files
(['de'], {'test': ['a.json'], 'taxonomy': ['t.json']})
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from dynamicner_data.atomic import atomic_write_text
from dynamicner_data.errors import describe, user_error
from dynamicner_data.export import SourceOptions

DEFAULT_INFOS = "dataset_infos.json"
_SPLIT_ALIASES = {"dev": "validation", "valid": "validation"}
#: the exit status of a user error (bad arguments or input, an unwritable output), as argparse's and ``cascadener``'s
USER_ERROR = 2


class UsageError(Exception):
    """A bad argument the parser cannot see (an unknown config, a malformed ``--data-files``): said in
    one line as ``dynamicner COMMAND: error: ...`` with exit status 2."""


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data source (default: the embedded sample)")
    group.add_argument("--data-dir", help="unpacked local copy of the release (GEIC layout) or the .7z archive")
    group.add_argument(
        "--data-files",
        action="append",
        metavar="SPLIT=PATH",
        help="GEIC file of a split (train, validation, test) or taxonomy=PATH; repeatable",
    )
    group.add_argument("--release", action="store_true", help="download the official AnythingNER.7z archive")


def source_options(args: argparse.Namespace) -> SourceOptions:
    """The :class:`SourceOptions` of parsed arguments (``SPLIT=PATH`` pairs grouped by split)."""
    data_files: dict[str, list[str]] | None = None
    for item in args.data_files or []:
        split, sep, path = item.partition("=")
        if not sep or not split or not path:
            raise UsageError(f"--data-files expects SPLIT=PATH, got {item!r}")
        data_files = data_files or {}
        data_files.setdefault(split, []).append(path)
    return SourceOptions(data_dir=args.data_dir, data_files=data_files, release=args.release)


def _chosen_configs(names: Sequence[str] | None) -> list[str]:
    """The configs ``names`` (each checked), or every config when none is named."""
    from dynamicner_data.builder import CONFIG_NAMES

    if not names:
        return list(CONFIG_NAMES)
    unknown = [n for n in names if n not in CONFIG_NAMES]
    if unknown:
        raise UsageError(f"unknown config(s) {', '.join(unknown)}; "
                         f"expected names among {', '.join(CONFIG_NAMES)}")
    return list(names)


def run_prepare(args: argparse.Namespace) -> int:
    from dynamicner_data.builder import prepare

    source = source_options(args)
    for name in _chosen_configs(args.configs):
        builder = prepare(
            name,
            cache_dir=args.cache_dir,
            data_dir=source.data_dir,
            data_files=source.data_files,
            release=source.release,
            download_mode="force_redownload" if args.force else None,
        )
        if builder.rebuilt_because:
            print(f"rebuilding {name}: {builder.rebuilt_because}")
        if builder.build_summary is not None:
            print(builder.build_summary.text())
        print(f"prepared {name}: {builder.cache_dir}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from dynamicner_data.export import export

    configs = _chosen_configs(args.configs)
    from dynamicner_data.card import statistics_table

    reports = export(args.out_dir, configs, source=source_options(args))
    print(statistics_table(reports))
    print(f"wrote {len(reports)} config(s) to {args.out_dir} (build summaries in statistics.json)")
    return 0


def generate_infos(configs: Sequence[str] | None = None) -> dict:
    """``dataset_infos.json`` content: the stable part of each config's ``DatasetInfo``.

    Features are written in the python-list form that datasets 3.6 and 5.x both read; split
    sizes are example counts (byte sizes are left out: they change with any text edit).
    """
    from dynamicner_data.builder import CONFIG_NAMES, DynamicNER

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="dynamicner-infos-") as cache_dir:
        for name in configs or CONFIG_NAMES:
            builder = DynamicNER(config_name=name, cache_dir=cache_dir)
            builder.download_and_prepare()
            info = builder.info
            out[name] = {
                "description": info.description,
                "citation": info.citation,
                "homepage": info.homepage,
                "license": info.license,
                "features": legacy_features_dict(info.features.to_dict()),
                "builder_name": "dynamicner",
                "dataset_name": "dynamicner",
                "config_name": name,
                "version": {"version_str": str(info.version), "major": info.version.major,
                            "minor": info.version.minor, "patch": info.version.patch},
                "splits": {
                    split: {"name": split, "num_examples": s.num_examples, "dataset_name": "dynamicner"}
                    for split, s in info.splits.items()
                },
            }
    return out


def legacy_features_dict(value):
    """Rewrite datasets 5 ``{"_type": "List", "feature": x}`` as ``[x]`` (read by 3.6 and 5.x).

    >>> legacy_features_dict({"a": {"_type": "List", "feature": {"dtype": "string", "_type": "Value"}}})
    {'a': [{'dtype': 'string', '_type': 'Value'}]}
    """
    if isinstance(value, dict):
        if value.get("_type") == "List" and value.get("length", -1) == -1:
            return [legacy_features_dict(value["feature"])]
        return {key: legacy_features_dict(item) for key, item in value.items()}
    if isinstance(value, list):
        return [legacy_features_dict(item) for item in value]
    return value


def infos_text(infos: dict) -> str:
    return json.dumps(infos, indent=2, ensure_ascii=False) + "\n"


def run_infos(args: argparse.Namespace) -> int:
    path = Path(args.output)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "the output is a folder, not a file", str(path))
    text = infos_text(generate_infos())
    if args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            print(f"{path} is out of date: run `dynamicner infos --output {path}`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    atomic_write_text(path, text)
    print(f"wrote {path}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from dynamicner_data.card import statistics_table
    from dynamicner_data.export import build_config

    source = source_options(args)
    reports = []
    with tempfile.TemporaryDirectory(prefix="dynamicner-stats-") as cache_dir:
        for name in _chosen_configs(args.configs):
            built = build_config(name, source=source, cache_dir=cache_dir)
            reports.append(built.report)
            if args.json:
                continue
            print(built.summary.text())
            r = built.report
            print(
                f"  {name}: rows {r.rows}, entities {r.entities}, labels {r.labels}, type list length "
                f"{r.type_list_min}-{r.type_list_max} (mean {r.type_list_mean:g}), "
                f"repeated strings with different labels {r.repeated_with_different_labels}/{r.repeated_strings} "
                f"({100 * r.repeated_share:.1f}%)"
            )
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False))
    else:
        print()
        print(statistics_table(reports))
    return 0


def run_example(args: argparse.Namespace) -> int:
    from dynamicner_data.export import build_config

    _chosen_configs([args.config])
    with tempfile.TemporaryDirectory(prefix="dynamicner-example-") as cache_dir:
        built = build_config(args.config, source=source_options(args), cache_dir=cache_dir)
        split = _SPLIT_ALIASES.get(args.split, args.split)
        if split not in built.dataset:
            raise UsageError(
                f"{args.config} has no split {args.split!r}; "
                f"choose one of {', '.join(built.dataset)} (dev = validation)"
            )
        part = built.dataset[split]
        if not 0 <= args.index < part.num_rows:
            raise UsageError(f"index {args.index} out of range for {args.config}/{args.split} ({part.num_rows} rows)")
        row = part[args.index]
    print(json.dumps(row, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dynamicner`` console script."""
    parser = argparse.ArgumentParser(prog="dynamicner", description="DynamicNER on Hugging Face datasets.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the builder's progress")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("prepare", help="prepare configs so load_dataset('dynamicner', CONFIG) works offline")
    p.add_argument("configs", nargs="*", help="config names (default: all 36)")
    p.add_argument("--cache-dir", help="datasets cache (default: HF_DATASETS_CACHE)")
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    _add_source_options(p)
    p.set_defaults(func=run_prepare)

    p = sub.add_parser("export", help="write a Hub-ready folder: Parquet per config and split + README.md card")
    p.add_argument("out_dir")
    p.add_argument("--configs", nargs="+", help="config names (default: all 36)")
    _add_source_options(p)
    p.set_defaults(func=run_export)

    p = sub.add_parser("infos", help="regenerate dataset_infos.json from the builder")
    p.add_argument("--output", default=DEFAULT_INFOS)
    p.add_argument("--check", action="store_true", help="exit 1 if the file differs instead of writing it")
    p.set_defaults(func=run_infos)

    p = sub.add_parser("stats", help="build configs and print their statistics")
    p.add_argument("configs", nargs="*", help="config names (default: all 36)")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    _add_source_options(p)
    p.set_defaults(func=run_stats)

    p = sub.add_parser("example", help="print one row of a config as JSON")
    p.add_argument("config", nargs="?", default="en")
    p.add_argument("--split", default="train", help="train, validation (or dev) or test")
    p.add_argument("--index", type=int, default=0)
    _add_source_options(p)
    p.set_defaults(func=run_example)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dynamicner`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    import datasets

    datasets.logging.set_verbosity_info() if args.verbose else datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        return int(args.func(args) or 0)
    except UsageError as error:
        print(f"dynamicner {args.command}: error: {error}", file=sys.stderr)
        return USER_ERROR
    except Exception as exc:  # noqa: BLE001 - user errors are reported, bugs re-raised below
        # datasets wraps errors raised while generating; show the cause (file, sample, field)
        cause = user_error(exc)
        if cause is None or args.verbose:
            raise
        print(f"dynamicner {args.command}: error: {describe(cause, path=_output_path(args))}", file=sys.stderr)
        return USER_ERROR


def console(argv: Sequence[str] | None = None) -> int:
    """The ``dynamicner`` console script and ``python -m dynamicner_data.cli``: :func:`main`, with Ctrl-C
    (SIGINT) said in one line and exit status 130 instead of a traceback (outputs are replaced whole or
    not at all, so an interrupted command leaves what was there)."""
    from dynamicner_data.interrupts import interrupts_outside_finalisers

    try:
        with interrupts_outside_finalisers():
            return main(argv)
    except KeyboardInterrupt:
        print("dynamicner: interrupted (outputs are replaced whole or not at all)", file=sys.stderr)
        return 130


def _output_path(args: argparse.Namespace) -> str | None:
    """What the command writes (named in disk errors that carry no file name)."""
    if args.command == "export":
        return args.out_dir
    if args.command == "infos":
        return args.output
    if args.command == "prepare":
        import datasets

        return args.cache_dir or str(datasets.config.HF_DATASETS_CACHE)
    return None


if __name__ == "__main__":
    raise SystemExit(console())
