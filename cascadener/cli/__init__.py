"""The ``cascadener`` command line: one sub-command per module of this package.

Each sub-command module defines ``add_parser(subparsers)`` (registers its arguments, each with
help, in named groups: input, model, output, ...; sets ``func``; returns the parser) and a function
``run(args) -> int``. Register a new module by adding its name to ``SUBCOMMANDS``. Every help
shows the options' defaults (:class:`cascadener.cli.common.HelpFormatter`), and every ``choices=``
comes from the library's constants and registries, never literals (``tests/test_cli_help.py``). A sub-command reports bad input by raising
:class:`cascadener.cli.common.CliError`: :func:`main` prints ``cascadener <command>: error: <message>``
and returns 2. The console script is :func:`console`: an interrupt (Ctrl-C) is one line and status 130.

Example:
    >>> parser = build_parser()
    >>> parser.prog
    'cascadener'
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from cascadener.cli.common import CliError, HelpFormatter

SUBCOMMANDS: tuple[str, ...] = ("predict", "merge", "evaluate", "push_results", "train", "run", "leaderboard")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="cascadener",
        description="CascadeNER on DynamicNER: predict, evaluate, train, publish.",
        formatter_class=HelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(subparsers).formatter_class = HelpFormatter  # every option shows its default
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cascadener`` console script and ``python -m cascadener``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as error:
        print(f"{parser.prog} {args.command}: error: {error}", file=sys.stderr)
        return 2


def console(argv: Sequence[str] | None = None) -> int:
    """The ``cascadener`` console script and ``python -m cascadener``: :func:`main`, with Ctrl-C (or
    SIGINT) said in one line and exit status 130 instead of a traceback. What an interrupted command
    leaves is what a killed one leaves (outputs replaced whole or not at all; ``predict --resume``
    continues). :func:`main` itself lets ``KeyboardInterrupt`` through, for callers that handle it."""
    from dynamicner_data.interrupts import interrupts_outside_finalisers

    try:
        with interrupts_outside_finalisers():  # never lost inside a __del__ (pyarrow's writers close there)
            return main(argv)
    except KeyboardInterrupt:
        print("cascadener: interrupted (outputs are replaced whole or not at all; cascadener predict --resume "
              "continues an interrupted prediction)", file=sys.stderr)
        return 130
