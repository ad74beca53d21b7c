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
import copy
import json
import math
import re
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["CliError", "HelpFormatter", "check_model_path", "existing_file", "iter_jsonl", "lone_surrogate", "output_file", "int_at_least", "positive_int", "probability", "write_error"]


class CliError(Exception):
    """A user-facing error: printed as ``cascadener <command>: error: <message>``, exit status 2."""


def existing_file(value: str | Path, what: str) -> Path:
    """``value`` as a path to an existing file, else a :class:`CliError` naming ``what`` it should be."""
    path = Path(value)
    if not path.is_file():
        raise CliError(f"{what} {path} does not exist or is not a file")
    return path


def output_file(value: str | Path, flag: str) -> Path:
    """``value`` as a file path to write: not a folder, in a folder that exists; else a :class:`CliError`.

    >>> output_file(".", "-o")
    Traceback (most recent call last):
    ...
    cascadener.cli.common.CliError: -o . is a folder; give a file path to write
    """
    path = Path(value)
    if path.is_dir():
        raise CliError(f"{flag} {path} is a folder; give a file path to write")
    if not path.parent.is_dir():
        raise CliError(f"{flag} {path}: folder {path.parent} does not exist")
    return path


def write_error(path: str | Path, error: OSError) -> CliError:
    """The :class:`CliError` for a failed write (read-only or full disk, a folder in the way...).

    >>> import errno, os
    >>> str(write_error("out.json", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    'cannot write out.json: No space left on device'
    """
    where = error.filename if error.filename else path
    return CliError(f"cannot write {where}: {error.strerror or error}")


@contextmanager
def locked_output(output: str | Path, *, lock_error: Callable[[OSError], CliError] | None = None,
                  make_parent: bool = False) -> Iterator[Any]:
    """Hold ``output``'s :class:`~cascadener.cli.locking.OutputLock` (a file or a folder) while the
    block writes it: a second writer gets a :class:`CliError` naming the holder's pid and the lock
    file; a lock file that cannot be created is ``lock_error(error)`` (default: :func:`write_error`
    on the lock file); a dead writer's stale lock is taken over, and said so on stderr.
    ``make_parent`` creates the folder of ``output`` (and of its lock file) first, for commands that
    create their output folder with its parents.

    >>> import pathlib, tempfile
    >>> output = pathlib.Path(tempfile.mkdtemp()) / "scores.json"
    >>> with locked_output(output):  # doctest: +ELLIPSIS
    ...     with locked_output(output):
    ...         pass
    Traceback (most recent call last):
    ...
    cascadener.cli.common.CliError: ... is being written by pid ... (lock file .../scores.json.lock); ...
    """
    import sys

    from cascadener.cli.locking import OutputLock, OutputLocked

    lock = OutputLock(output)
    try:
        if make_parent:
            lock.lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OutputLocked as error:
        raise CliError(str(error)) from None
    except OSError as error:
        raise (lock_error(error) if lock_error else write_error(lock.lock_path, error)) from None
    try:
        if lock.stale_holder is not None:
            print(f"took over the stale lock of {lock.stale_holder.describe()} (no longer running) on {output}",
                  file=sys.stderr)
        yield lock
    finally:
        lock.release()


def check_model_path(value: str | None, flag: str) -> str | None:
    """A ``--extractor`` / ``--base-model`` value: a local model folder or a Hub id (``owner/name``);
    a :class:`CliError` saying what is wrong otherwise (see :func:`cascadener.training.model_files.check_model_argument`)."""
    if value is None:
        return None
    from cascadener.training.model_files import check_model_argument

    try:
        return check_model_argument(value, flag)
    except ValueError as error:
        raise CliError(str(error)) from None


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """The help of every ``cascadener`` command: each option's default is shown (``(default: 8)``),
    except where there is none to show (``None``, or a flag's ``False``): there the option's own
    help says what happens without it.

    >>> parser = argparse.ArgumentParser(prog="p", formatter_class=HelpFormatter)
    >>> _ = parser.add_argument("--batch-size", type=int, default=8, help="sentences per batch")
    >>> _ = parser.add_argument("--device", default=None, help="cpu, cuda (none: the best available)")
    >>> print(parser.format_help().split("options:")[1].strip())  # doctest: +NORMALIZE_WHITESPACE
    -h, --help            show this help message and exit
    --batch-size BATCH_SIZE
                          sentences per batch (default: 8)
    --device DEVICE       cpu, cuda (none: the best available)
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)

    def _expand_help(self, action: argparse.Action) -> str:
        if isinstance(action.default, (list, tuple)):  # as typed on the command line: en de, not ['en', 'de']
            action = copy.copy(action)
            action.default = " ".join(map(str, action.default))
        return super()._expand_help(action)


def int_at_least(value: str, minimum: int) -> int:
    """``value`` as an integer >= ``minimum``, else an ``argparse.ArgumentTypeError`` saying why.

    >>> int_at_least("0", 0)
    0
    """
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{value} must be >= {minimum}")
    return number


def positive_int(value: str) -> int:
    """An ``argparse`` type: an integer >= 1.

    >>> positive_int("3")
    3
    """
    return int_at_least(value, 1)


def probability(value: str) -> float:
    """An ``argparse`` type: a probability in [0, 1] (``--threshold``).

    >>> probability("0.5")
    0.5
    >>> probability("2")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a probability in [0, 1], got '2'
    """
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:  # NaN fails both comparisons
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {value!r}")
    return number


def iter_jsonl(path: Path, *, invalid_json_hint: str = "") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a UTF-8 JSONL file (numbers from 1).

    A UTF-8 byte-order mark at the start of the file is accepted (as the GEIC reader does).

    Records are separated by ``"\\n"`` only (JSON Lines), never at the other Unicode line breaks a
    JSON string may hold raw (U+2028, U+0085, ...). Errors name the file and the line: not UTF-8,
    invalid JSON (followed by ``invalid_json_hint``), a line that is not a JSON object, or a lone
    surrogate in any string (naming its field). Other field checks are the caller's
    (``f"{path}, line {n}"``).
    """
    try:
        # JSON Lines ends a record at "\n" only: U+2028, U+0085... are valid raw inside a JSON
        # string (predict writes them so), and str.splitlines() would cut the record there
        lines = path.read_text(encoding="utf-8-sig").split("\n")
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
        found = lone_surrogate(record)
        if found is not None:
            field, character, position = found
            raise CliError(f"{where}: field {field} holds a lone surrogate {ascii(character)} at character "
                           f"{position}, which is not Unicode text (half of a cut emoji?); fix or remove it")
        yield number, record


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any, field: str = "") -> tuple[str, str, int] | None:
    """The first lone surrogate in the strings of a JSON value: ``(field, character, position)``.

    JSON's ``\\ud83d`` escape decodes to a surrogate that no UTF-8 writer accepts: text holding
    one cannot be written back, so readers refuse it up front, naming the field.

    >>> lone_surrogate({"text": "ok", "entities": [{"label": "ci\\ud83dty"}]})
    ("'entities'[0]['label']", '\\ud83d', 2)
    >>> lone_surrogate({"text": "\U0001F600 a whole emoji"}) is None
    True
    """
    if isinstance(value, str):
        found = None if value.isascii() else _SURROGATE.search(value)
        return None if found is None else (field, found.group(), found.start())
    if isinstance(value, dict):
        for key, item in value.items():
            found = lone_surrogate(key, f"{field} key" if field else "key") or lone_surrogate(
                item, f"{field}[{key!r}]" if field else repr(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate(item, f"{field}[{index}]")
            if found is not None:
                return found
    return None
