"""The options of runs that outgrow one process (docs/scale.md): ``--shard I/N`` (``predict``, ``run``,
``evaluate``) and the executor (``predict``): ``--executor local|ray``, ``--workers``,
``--ray-address``, ``--worker-base-url``.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_shard_argument(parser.add_argument_group("input"))
    >>> add_executor_arguments(parser)
    >>> args = parser.parse_args(["--shard", "1/4", "--executor", "ray", "--workers", "2"])
    >>> str(args.shard), args.executor, args.workers
    ('1/4', 'ray', 2)
    >>> check_executor_arguments(parser.parse_args(["--workers", "2"]))
    Traceback (most recent call last):
    ...
    cascadener.cli.common.CliError: --workers only applies with --executor ray
"""

from __future__ import annotations

import argparse
from typing import Any

from cascadener.cli.common import CliError, positive_int
from cascadener.scale.executors import EXECUTORS
from cascadener.scale.shards import Shard

__all__ = ["add_shard_argument", "add_executor_arguments", "check_executor_arguments", "shard_argument"]


def shard_argument(value: str) -> Shard:
    """An ``argparse`` type: ``I/N`` -> :class:`~cascadener.scale.shards.Shard`."""
    try:
        return Shard.parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_shard_argument(group: Any) -> None:
    """``--shard I/N``: the rows ``Dataset.shard(N, I, contiguous=True)`` selects (docs/scale.md)."""
    group.add_argument("--shard", type=shard_argument, default=None, metavar="I/N",
                       help="only part I of N (I from 0): the contiguous rows Dataset.shard(N, I, contiguous=True) "
                            "selects, for every input kind; join the parts with cascadener merge (none: all rows)")


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the chunks are predicted: this process, or Ray Data workers."""
    group = parser.add_argument_group("executor (docs/scale.md)")
    group.add_argument("--executor", choices=EXECUTORS, default=EXECUTORS[0],
                       help="local = this process; ray = Ray Data workers, one model or server client each "
                            '(pip install "dynamicner-kit[ray]")')
    group.add_argument("--workers", type=positive_int, default=None,
                       help="Ray workers, each with its own pipeline (a GPU each for a local model on cuda) "
                            "(none: 2)")
    group.add_argument("--ray-address", default=None,
                       help="an existing Ray cluster, e.g. 10.0.0.1:6379 or auto (none: $RAY_ADDRESS, else a new "
                            "local cluster)")
    group.add_argument("--worker-base-url", action="append", default=None, metavar="URL",
                       help="with --backend openai: one more server for the workers (repeat it); chunk k goes to "
                            "URL k mod their count, so each server takes its share (none: --base-url)")


def check_executor_arguments(args: argparse.Namespace) -> None:
    """Refuse executor flags the chosen executor does not read."""
    if args.executor != "ray":
        given = [flag for flag, value in (("--workers", args.workers), ("--ray-address", args.ray_address),
                                          ("--worker-base-url", args.worker_base_url)) if value]
        if given:
            raise CliError(f"{', '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} with --executor ray")
