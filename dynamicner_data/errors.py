"""What a user did wrong, told in one line: the error handling every command that builds shares.

``datasets`` wraps an error raised while generating a split in a ``DatasetGenerationError``
chained to the real cause (the GEIC reader's ``GeicError`` naming the file, sample and field, a
``TaxonomyError``, an ``ArchiveError`` of a corrupt ``.7z``, ...). :func:`user_error` unwraps it
and decides whether it is the user's input (``ValueError`` and its subclasses, ``OSError``: a
missing file, a full or read-only disk) or a bug (anything else: let the traceback show).
The ``dynamicner`` command, ``cascadener predict/train/evaluate/run --dataset ... --data-dir``
and the main job all print :func:`describe` of it after ``<command>: error:``.

Example:
    >>> import datasets
    >>> try:
    ...     try:
    ...         raise ValueError("en/test.json: sample 's1': field 'entity' must be a list")
    ...     except ValueError as cause:
    ...         raise datasets.exceptions.DatasetGenerationError("An error occurred") from cause
    ... except Exception as error:
    ...     print(describe(user_error(error)))
    ValueError: en/test.json: sample 's1': field 'entity' must be a list
    >>> user_error(KeyError("a bug")) is None
    True
"""

from __future__ import annotations

import os
from typing import Optional

__all__ = ["USER_ERRORS", "describe", "user_error"]

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)
"""Errors caused by the input or the machine (bad files, missing paths, full disks), not by a bug."""


def _unwrap(error: BaseException) -> BaseException:
    import datasets

    seen = set()
    while isinstance(error, datasets.exceptions.DatasetGenerationError) and error.__cause__ is not None:
        if id(error) in seen:  # pragma: no cover - a cause chain cannot loop, but be safe
            break
        seen.add(id(error))
        error = error.__cause__
    return error


def user_error(error: BaseException) -> Optional[BaseException]:
    """The user-facing cause of ``error`` (unwrapped from ``datasets``), ``None`` for a bug."""
    cause = _unwrap(error)
    return cause if isinstance(cause, USER_ERRORS) else None


def describe(error: BaseException, *, path: Optional[str | os.PathLike] = None) -> str:
    """``"<type>: <message>"``; an ``OSError`` without a file name gets ``path`` (what was being
    written) so the message always names a path."""
    text = str(error) or repr(error)
    if isinstance(error, OSError) and not error.filename and path is not None:
        text = f"{text} (writing {path})"
    return f"{type(error).__name__}: {text}"
