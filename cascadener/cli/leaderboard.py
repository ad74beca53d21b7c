"""``cascadener leaderboard SOURCE``: rank DynamicNER runs per task and write the tables.

``SOURCE`` is, by default (``--from auto``), a local folder laid out like the results dataset
(``results/<run_id>.json``: the output folder of ``cascadener run``, a ``push-results --dry-run``
folder, a clone of the results repo), else a results dataset repo id on the Hub (fetched with
``snapshot_download``; with ``HF_HUB_OFFLINE=1`` only the local cache is read). ``--from
benchmark`` reads the Hub's leaderboard of a benchmark dataset (``get_dataset_leaderboard``) and
follows each entry's ``source.url`` to the results JSON it links (through the Hub cache); entries
of other tools are listed as the Hub has them, never ranked with ours.

For the same model revision, task, metric version and prompt hash only the latest run is kept
(compared as instants); the others are reported. Only runs that predicted their whole split are
ranked: reduced (``--max-test``, ``--limit``), incomplete and unrecorded runs are listed below the
tables, or shown in them without a rank and with their badge (``--include-unranked``). Runs whose
metric version or matching differ are not ranked together: the command stops and names them
(``--matching``/``--metric-version`` select one kind); nor are runs predicted with different
confidence thresholds (``cascadener predict --threshold``): ``--threshold`` selects one,
``--mix-thresholds`` ranks them together. Scores are percent with two decimals. The
tables are printed, and written to ``--output-dir`` as ``leaderboard.md``, ``leaderboard.csv``
and a self-contained ``leaderboard.html``.

Example:
    >>> from cascadener.cli import build_parser
    >>> args = build_parser().parse_args(["leaderboard", "cascadener-run", "--task", "dynamic"])
    >>> args.source, args.origin, args.task, args.output_dir, args.include_unranked
    ('cascadener-run', 'auto', ['dynamic'], 'cascadener-leaderboard', False)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .common import CliError, locked_output, probability

__all__ = ["add_parser", "run", "load_board"]


#: what ``--from`` says the source is (``auto``: decided from the source)
ORIGINS: tuple[str, ...] = ("auto", "folder", "results-repo", "benchmark")


def _threshold(value: str) -> tuple[float | None]:
    """``--threshold``: a probability, or ``none`` (runs without a threshold), as a one-item tuple (so
    that ``none`` differs from the option left out)."""
    if value.strip().lower() == "none":
        return (None,)
    return (probability(value),)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("leaderboard", help="rank runs per task from results files or the Hub",
                                   description=__doc__.split("\n\n")[0])
    from dynamicner_f1 import MATCHING

    inputs = parser.add_argument_group("input")
    inputs.add_argument("source", help="folder with results/*.json, a results dataset repo id, or (--from "
                                       "benchmark) a benchmark dataset repo id")
    inputs.add_argument("--from", dest="origin", choices=ORIGINS, default=ORIGINS[0],
                        help="what SOURCE is (auto: a folder if it exists or is not shaped owner/name, "
                             "else a results repo)")
    inputs.add_argument("--revision", default=None, help="revision of the results repo (none: main)")
    filters = parser.add_argument_group("filters")
    filters.add_argument("--task", nargs="+", default=None, help="only these task ids (none: every task)")
    filters.add_argument("--matching", choices=MATCHING, default=None,
                         help="only runs scored with this matching mode (none: any)")
    filters.add_argument("--metric-version", default=None, help="only runs scored with this metric version (none: any)")
    filters.add_argument("--threshold", type=_threshold, default=None,
                         help="only runs predicted with this confidence threshold (a probability, or 'none' for runs "
                              "without one; default: any)")
    filters.add_argument("--mix-thresholds", action="store_true",
                         help="rank runs of different confidence thresholds together (without it: refused)")
    filters.add_argument("--include-unranked", action="store_true",
                         help="show reduced, incomplete and unrecorded runs in the tables, without a rank, with a "
                              "badge (without it: listed below the tables)")
    filters.add_argument("--skip-invalid", action="store_true",
                         help="report invalid results files and rank the others (without it: stop at the first)")
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output-dir", default="cascadener-leaderboard",
                        help="folder for leaderboard.md/.csv/.html")
    parser.set_defaults(func=run)
    return parser


def load_board(args: argparse.Namespace):
    """The :class:`cascadener.publishing.leaderboard.Leaderboard` the arguments ask for."""
    from cascadener.publishing import leaderboard

    origin = args.origin
    if origin == "auto":
        # a repo id is "owner/name": anything else, or a path spelled as one ("/x", "./x", "~/x"), is a folder
        looks_like_path = args.source.startswith(("/", ".", "~")) or args.source.count("/") != 1
        origin = "folder" if Path(args.source).exists() or looks_like_path else "results-repo"
    skipped: list[str] = []
    external: list = []
    if origin == "folder":
        entries, skipped = leaderboard.from_folder(args.source, skip_invalid=args.skip_invalid)
    elif origin == "results-repo":
        entries, skipped = leaderboard.from_results_repo(args.source, revision=args.revision,
                                                         skip_invalid=args.skip_invalid)
    else:
        entries, external = leaderboard.from_benchmark(args.source)
    return leaderboard.build(entries, source=args.source, tasks=args.task, matching=args.matching,
                             metric_version=args.metric_version, skipped=skipped,
                             include_unranked=args.include_unranked, external=external,
                             thresholds=None if args.threshold is None else [args.threshold[0]],
                             mix_thresholds=args.mix_thresholds)


def run(args: argparse.Namespace) -> int:
    def cannot_write(error: OSError) -> CliError:
        return CliError(f"cannot write to {args.output_dir}: {error.strerror or error}")

    # one writer per folder: a second leaderboard into the same -o is refused before any work
    with locked_output(os.path.abspath(args.output_dir), lock_error=cannot_write, make_parent=True):
        return _write_board(args, cannot_write)


def _write_board(args: argparse.Namespace, cannot_write) -> int:
    """Rank the runs, print the tables and write them to ``args.output_dir`` (whose lock is held)."""
    from cascadener.publishing.leaderboard import LeaderboardError
    from cascadener.publishing.leaderboard_formats import text_tables, write_outputs

    try:
        board = load_board(args)
    except LeaderboardError as error:
        raise CliError(str(error)) from None
    if not board.tables and not board.hidden and not board.external:
        raise CliError(f"no runs in {args.source} match the selection (task, matching, metric version, threshold)")
    print(text_tables(board))
    try:
        paths = write_outputs(board, args.output_dir)
    except OSError as error:
        raise cannot_write(error) from None
    ranked = sum(row.rank is not None for rows in board.tables.values() for row in rows)
    unranked = len(board.hidden) + sum(row.rank is None for rows in board.tables.values() for row in rows)
    summary = (f"\n{ranked} ranked row(s) in {len(board.tables)} task(s); {unranked} row(s) not ranked (reduced, "
               f"incomplete or unrecorded runs); {len(board.duplicates)} duplicate(s) dropped, {len(board.skipped)} "
               "invalid file(s) skipped")
    if args.origin == "benchmark" or board.external:
        summary += f"; {len(board.external)} Hub entr{'y' if len(board.external) == 1 else 'ies'} of other tools"
    print(summary, file=sys.stderr)
    print("wrote " + ", ".join(str(path) for path in paths.values()), file=sys.stderr)
    return 0
