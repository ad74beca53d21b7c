"""What every ``cascadener`` sub-command shares: the user-facing error, argument types, JSONL reading.

A sub-command raises :class:`CliError`; :func:`cascadener.cli.main` prints it as
``cascadener <command>: error: <message>`` and exits with status 2.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "in.jsonl"
    >>> _ = path.write_text('{"text": "a"}\\n\\n{"text": "b"}\\n', encoding="utf-8")
    >>> [(number, record["text"]) for number, record in iter_jsonl(path)]
    [(1, 'a'), (3, 'b')]
    >>> _ = path.write_text('{"text": "a"}\\n[1]\\n', encoding="utf-8")
    >>> list(iter_jsonl(path))
    Traceback (most recent call last):
    ...
    cascadener.cli.common.CliError: ...in.jsonl, line 2: expected a JSON object
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Iterator

__all__ = ["CliError", "existing_file", "iter_jsonl", "positive_int"]


class CliError(Exception):
    """A user-facing error: printed as ``cascadener <command>: error: <message>``, exit status 2."""


def existing_file(value: str | Path, what: str) -> Path:
    """``value`` as a path to an existing file, else a :class:`CliError` naming ``what`` it should be."""
    path = Path(value)
    if not path.is_file():
        raise CliError(f"{what} {path} does not exist or is not a file")
    return path


def positive_int(value: str) -> int:
    """An ``argparse`` type: an integer >= 1.

    >>> positive_int("3")
    3
    """
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return number


def iter_jsonl(path: Path, *, invalid_json_hint: str = "") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a UTF-8 JSONL file (numbers from 1).

    Errors name the file and the line: not UTF-8, invalid JSON (followed by ``invalid_json_hint``),
    or a line that is not a JSON object. Field checks are the caller's (``f"{path}, line {n}"``).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise CliError(f"{path} is not valid UTF-8: {error}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CliError(f"{where}: invalid JSON ({error.msg}){invalid_json_hint}") from None
        if not isinstance(record, dict):
            raise CliError(f"{where}: expected a JSON object")
        yield number, record
