"""``cascadener leaderboard SOURCE``: rank DynamicNER runs per task and write the tables.

``SOURCE`` is, by default (``--from auto``), a local folder laid out like the results dataset
(``results/<run_id>.json``: the output folder of ``cascadener run``, a ``push-results --dry-run``
folder, a clone of the results repo), else a results dataset repo id on the Hub (fetched with
``snapshot_download``; with ``HF_HUB_OFFLINE=1`` only the local cache is read). ``--from
benchmark`` reads the Hub's leaderboard of a benchmark dataset (``get_dataset_leaderboard``).

For the same model revision, task, metric version and prompt hash only the latest run is kept;
the others are reported. Runs whose metric version or matching differ are not ranked together:
the command stops and names them (``--matching``/``--metric-version`` select one kind). The
tables are printed, and written to ``--output-dir`` as ``leaderboard.md``, ``leaderboard.csv``
and a self-contained ``leaderboard.html``.

Example:
    >>> from cascadener.cli import build_parser
    >>> args = build_parser().parse_args(["leaderboard", "cascadener-run", "--task", "dynamic"])
    >>> args.source, args.origin, args.task, args.output_dir
    ('cascadener-run', 'auto', ['dynamic'], 'cascadener-leaderboard')
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import CliError

__all__ = ["add_parser", "run", "load_board"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("leaderboard", help="rank runs per task from results files or the Hub",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="folder with results/*.json, a results dataset repo id, or (--from "
                                       "benchmark) a benchmark dataset repo id")
    parser.add_argument("--from", dest="origin", choices=("auto", "folder", "results-repo", "benchmark"),
                        default="auto", help="what SOURCE is (default: a folder if it exists, else a results repo)")
    parser.add_argument("--revision", default=None, help="revision of the results repo (default: main)")
    parser.add_argument("--task", nargs="+", default=None, help="only these task ids")
    parser.add_argument("--matching", default=None, help="only runs scored with this matching mode")
    parser.add_argument("--metric-version", default=None, help="only runs scored with this metric version")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="report invalid results files and rank the others (default: stop at the first)")
    parser.add_argument("-o", "--output-dir", default="cascadener-leaderboard",
                        help="folder for leaderboard.md/.csv/.html (default: %(default)s)")
    parser.set_defaults(func=run)
    return parser


def load_board(args: argparse.Namespace):
    """The :class:`cascadener.publishing.leaderboard.Leaderboard` the arguments ask for."""
    from cascadener.publishing import leaderboard

    origin = args.origin
    if origin == "auto":
        origin = "folder" if Path(args.source).exists() or args.source.count("/") != 1 else "results-repo"
    skipped: list[str] = []
    if origin == "folder":
        entries, skipped = leaderboard.from_folder(args.source, skip_invalid=args.skip_invalid)
    elif origin == "results-repo":
        entries, skipped = leaderboard.from_results_repo(args.source, revision=args.revision,
                                                         skip_invalid=args.skip_invalid)
    else:
        entries = leaderboard.from_benchmark(args.source)
    return leaderboard.build(entries, source=args.source, tasks=args.task, matching=args.matching,
                             metric_version=args.metric_version, skipped=skipped)


def run(args: argparse.Namespace) -> int:
    from cascadener.publishing.leaderboard import LeaderboardError
    from cascadener.publishing.leaderboard_formats import text_tables, write_outputs

    try:
        board = load_board(args)
    except LeaderboardError as error:
        raise CliError(str(error)) from None
    if not board.tables:
        raise CliError(f"no runs in {args.source} match the selection (task, matching, metric version)")
    print(text_tables(board))
    try:
        paths = write_outputs(board, args.output_dir)
    except OSError as error:
        raise CliError(f"cannot write to {args.output_dir}: {error.strerror or error}") from None
    runs = sum(len(rows) for rows in board.tables.values())
    print(f"\n{runs} ranked row(s) in {len(board.tables)} task(s); {len(board.duplicates)} duplicate(s) dropped, "
          f"{len(board.skipped)} invalid file(s) skipped", file=sys.stderr)
    print("wrote " + ", ".join(str(path) for path in paths.values()), file=sys.stderr)
    return 0
