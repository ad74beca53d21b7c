"""Model folders on disk: what a finished model is, what a folder holds instead, and a model's identity.

- :func:`folder_state`: ``"missing"``, ``"empty"``, ``"model"`` (``config.json`` or
  ``adapter_config.json`` plus weights), ``"checkpoints"`` (Trainer checkpoints of an interrupted
  ``cascadener train``, no model yet), ``"incomplete"`` (a config without weights) or ``"other"``.
- :func:`check_model_argument`: a ``--extractor`` / ``--base-model`` value as a local model folder
  or a Hub id, with a message saying what is wrong (a path that does not exist, a folder without
  a model, a weights file that is corrupt or truncated: :func:`unreadable_weights`) instead of the
  Hub's "Repo id must be in the form..." or a safetensors traceback.
- :func:`model_identity`: what ``cascadener predict --resume`` compares: a local folder by its
  resolved path and the SHA-256 of each of its top-level files (config, weights, tokenizer); a Hub
  model by its id and commit.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> folder_state(folder / "extractor"), folder_state(folder)
    ('missing', 'empty')
    >>> _ = (folder / "config.json").write_text("{}")
    >>> folder_state(folder)
    'incomplete'
    >>> _ = (folder / "model.safetensors").write_bytes(b"weights")
    >>> folder_state(folder)
    'model'
    >>> sorted(model_identity(str(folder))["files"])
    ['config.json', 'model.safetensors']
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

__all__ = ["FolderState", "check_model_argument", "describe_identity_change", "folder_state", "has_checkpoints",
           "looks_like_hub_id", "model_identity", "unreadable_weights"]

FolderState = Literal["missing", "empty", "model", "checkpoints", "incomplete", "other"]

CONFIG_FILES = ("config.json", "adapter_config.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")


def has_checkpoints(folder: str | Path) -> bool:
    """Whether ``folder/checkpoints`` holds at least one Trainer ``checkpoint-N`` folder."""
    checkpoints = Path(folder) / "checkpoints"
    return checkpoints.is_dir() and any(p.is_dir() and p.name.startswith("checkpoint-") for p in checkpoints.iterdir())


def folder_state(folder: str | Path) -> FolderState:
    """What ``folder`` holds (see the module docstring)."""
    folder = Path(folder)
    if not folder.exists():
        return "missing"
    if not folder.is_dir():
        return "other"
    names = {p.name for p in folder.iterdir()}
    has_config = any(name in names for name in CONFIG_FILES)
    has_weights = any(name.endswith(WEIGHT_SUFFIXES) for name in names)
    if has_config and has_weights:
        return "model"
    if has_config:
        return "incomplete"
    if has_checkpoints(folder):
        return "checkpoints"
    if not names or names == {"checkpoints"} and not any((folder / "checkpoints").iterdir()):
        return "empty"
    return "other"


def looks_like_hub_id(value: str) -> bool:
    """``owner/name`` as the Hub spells repository ids (never an absolute or dotted path).

    >>> looks_like_hub_id("Qwen/Qwen2.5-0.5B-Instruct"), looks_like_hub_id("./models/x"), looks_like_hub_id("model")
    (True, False, False)
    """
    if value.startswith((".", "/", "~")) or value.count("/") != 1 or "\\" in value:
        return False
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def check_model_argument(value: str, flag: str) -> str:
    """``value`` unchanged when it is a local model folder or could be a Hub id; else ``ValueError``
    saying what is wrong, naming ``flag`` (``"--extractor"``).

    >>> check_model_argument("/no/such/folder", "--extractor")
    Traceback (most recent call last):
    ...
    ValueError: --extractor /no/such/folder does not exist: it is neither a directory nor a Hub id (owner/name)
    """
    path = Path(value).expanduser()
    state = folder_state(path)
    if state == "model":
        problem = unreadable_weights(path)
        if problem is not None:
            weights, reason = problem
            raise ValueError(f"{flag} {value}: {weights} is not a loadable model: its weights are corrupt or "
                             f"truncated ({reason}); train or copy the model again")
        return value
    if state == "missing":
        if looks_like_hub_id(value):
            return value
        raise ValueError(f"{flag} {value} does not exist: it is neither a directory nor a Hub id (owner/name)")
    if not path.is_dir():
        raise ValueError(f"{flag} {value} is a file; give a model directory or a Hub id")
    if state == "checkpoints":
        raise ValueError(f"{flag} {value} holds no model yet, only the checkpoints of an interrupted training run; "
                         "finish it with cascadener train --resume")
    if state == "incomplete":
        raise ValueError(f"{flag} {value} holds a config but no weights (an unfinished save?); "
                         "give a complete model directory")
    raise ValueError(f"{flag} {value} is a directory but holds no model (no config.json with weights); "
                     "give the folder cascadener train or save_pretrained wrote")


def unreadable_weights(folder: str | Path) -> tuple[Path, str] | None:
    """The first ``*.safetensors`` file of a model folder whose header cannot be read, with the
    reason; ``None`` when every one reads. Only the header is read (a few kilobytes, however large
    the weights): it catches a truncated, empty or overwritten file, not flipped bytes in the
    tensors (the format has no checksum).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "model.safetensors").write_bytes(b"\\xff" * 64)
    >>> weights, reason = unreadable_weights(folder)
    >>> weights.name, reason
    ('model.safetensors', 'header too large')
    """
    from safetensors import SafetensorError, safe_open

    for weights in sorted(Path(folder).glob("*.safetensors")):
        try:
            with safe_open(str(weights), "np"):
                pass
        except (SafetensorError, OSError) as error:
            return weights, str(error).removeprefix("Error while deserializing header: ")
    return None


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def model_identity(value: str, *, commit: str | None = None) -> dict[str, Any]:
    """What a model is, for comparing two runs: a local folder by its resolved path and the SHA-256
    of each top-level file (hidden files and ``*.md`` left out); otherwise the Hub id and the
    ``commit`` it was loaded at (``config._commit_hash``)."""
    path = Path(value).expanduser()
    if path.is_dir():
        files = {p.name: _sha256(p) for p in sorted(path.iterdir())
                 if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".md")}
        return {"path": str(path.resolve()), "files": files}
    return {"hub_id": value, "commit": commit}


def describe_identity_change(role: str, before: dict[str, Any] | None, now: dict[str, Any]) -> str | None:
    """``None`` when two :func:`model_identity` records are the same model, else what differs.

    >>> describe_identity_change("extractor", {"path": "/m", "files": {"a": "1"}}, {"path": "/m", "files": {"a": "2"}})
    'the extractor /m changed since the first run: a differs'
    """
    if before == now:
        return None
    if not before or not now:
        return f"the {role} of the first run is not recorded in its meta file"
    if "files" in before and "files" in now:
        if before["path"] != now["path"]:
            return f"the {role} is another folder: {before['path']} then, {now['path']} now"
        names = sorted(set(before["files"]) | set(now["files"]))
        changed = [name for name in names if before["files"].get(name) != now["files"].get(name)]
        verb = "differs" if len(changed) == 1 else "differ"
        return f"the {role} {now['path']} changed since the first run: {', '.join(changed)} {verb}"
    then = before.get("path") or f"{before.get('hub_id')} at commit {before.get('commit')}"
    here = now.get("path") or f"{now.get('hub_id')} at commit {now.get('commit')}"
    return f"the {role} is another model: {then} then, {here} now"
