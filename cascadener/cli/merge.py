"""``cascadener merge -o OUT PARTS...``: the parts of ``cascadener predict --shard I/N`` as one file.

The merged file holds the exact bytes an unsharded run writes, and its meta (``OUT.meta.json``)
the unsharded run's: the whole input, every part's counts and usage added up, the parts named
under ``merged``. ``cascadener evaluate OUT`` then scores it like any other predictions file.

Nothing is written (no output, no meta) when a part is missing or given twice, when the parts are
of different inputs, options, models or chunk layouts, or when one is unfinished: the error names
the part and the meta field (:mod:`cascadener.scale.merge`). ``OUT`` is written whole or not at
all, under the same output lock as ``predict`` (a second writer is refused), and never over a
part or an existing file without ``--overwrite``.

Example:
    >>> from cascadener.cli import build_parser
    >>> args = build_parser().parse_args(["merge", "-o", "all.jsonl", "p0.jsonl", "p1.jsonl"])
    >>> args.output, args.parts
    ('all.jsonl', ['p0.jsonl', 'p1.jsonl'])
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cascadener.cli.common import CliError, locked_output, output_file, write_error
from cascadener.cli.locking import lock_path_for
from cascadener.cli.predict import META_SUFFIX
from cascadener.scale.merge import MergeError, Part, merge_parts

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("merge", help="join the parts of predict --shard I/N into one predictions file",
                                   description=__doc__.split("\n\n")[0])
    inputs = parser.add_argument_group("input")
    inputs.add_argument("parts", nargs="+", metavar="PART",
                        help="the predictions files of cascadener predict --shard I/N, every I of one N, any order")
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output", required=True, help="the merged predictions JSONL (and its .meta.json)")
    output.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.set_defaults(func=run)
    return parser


def _read_part(value: str) -> Part:
    path = Path(value)
    if not path.is_file():
        raise CliError(f"part {path} does not exist or is not a file")
    meta_path = path.with_name(path.name + META_SUFFIX)
    if not meta_path.is_file():
        raise CliError(f"part {path}: its meta file {meta_path} is missing (written by cascadener predict beside "
                       "its output)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CliError(f"part {path}: its meta file {meta_path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict):
        raise CliError(f"part {path}: its meta file {meta_path} holds a JSON {type(meta).__name__}, not an object")
    return Part(path, meta)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    output = output_file(args.output, "-o")
    meta_path = output.with_name(output.name + META_SUFFIX)
    parts = [_read_part(value) for value in args.parts]
    for part in parts:
        path = Path(part.path)
        for mine, what in ((output, "-o"), (meta_path, "its meta file"), (lock_path_for(output), "its lock file")):
            for theirs in (path, path.with_name(path.name + META_SUFFIX)):
                if _same_file(mine, theirs):
                    raise CliError(f"{what} {mine} is the part {path} or its meta file; give another -o")
    with locked_output(output):
        if output.exists() and not args.overwrite:
            raise CliError(f"{output} exists; pass --overwrite to replace it")
        try:
            meta = merge_parts(parts, output, meta_path)
        except MergeError as error:
            raise CliError(f"nothing was written: {error}") from None
        except OSError as error:
            raise CliError(f"{write_error(output, error)}; nothing was written") from None
    count = meta["merged"]["parts"][0]["shard"].split("/")[1]
    print(f"merged {len(parts)} of {count} parts into {output}: {meta['sentences']} predictions, "
          f"{meta['committed']['bytes']} bytes (meta: {meta_path})", file=sys.stderr)
    return 0
