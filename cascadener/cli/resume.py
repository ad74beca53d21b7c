"""What ``cascadener predict`` keeps beside its output so that ``--resume`` loses nothing and mixes nothing.

The meta file (``<output>.meta.json``, written atomically) records:

- ``source``, ``options``: the input (with its revision) and every option that can change a
  prediction, as given; ``resolved``: the absolute form of each of those that names a file, so a
  relative and an absolute spelling of one file are the same;
- ``models``: each local stage's identity (:func:`cascadener.training.model_files.model_identity`:
  resolved path and file hashes, or Hub id and commit); a served model is compared by the name the
  server serves it under (``options``: ``extractor``, ``classifier``, given as ``--model`` and
  ``--classifier-model``);
- ``applied``: the stage-2 policy the backends applied (for a server, what its probe found: the
  constraint adapter, whether scores come back), compared by :func:`compare_applied`; ``backends``:
  what each backend is (a server's probe), recorded only;
- ``layout``: ``batch_size`` and ``chunk_size``. Chunk ``k`` is always the input rows
  ``[k * chunk_size, (k + 1) * chunk_size)``, whatever was done before, so a resumed run composes
  exactly the batches of an uninterrupted one and writes the same bytes;
- ``committed``: the sentences and bytes of the output that belong to whole chunks (and the
  SHA-256 of those bytes), with the counts (``stats``) of exactly those sentences. Anything after them (a chunk cut by a crash or a
  full disk) is cut off on resume and predicted again, so counts never drift from the output.

:func:`compare` names the first difference between two runs (an option by its flag).

Example:
    >>> before = {"source": {"path": "in.jsonl"}, "options": {"seed": 0}, "resolved": {}, "layout": {}}
    >>> compare(before, {**before, "options": {"seed": 1}})
    "the options differ from the first run's: --seed was 0, now 1"
    >>> compare(before, before) is None
    True
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cascadener.cli.common import CliError

__all__ = ["FORMAT", "PATH_FIELDS", "Committed", "compare", "compare_applied", "read_meta", "resolved_paths",
           "committed_prefix"]

FORMAT = 3
# (section, key) of the meta values that name a local file or folder
PATH_FIELDS = (("options", "extractor"), ("options", "classifier"), ("options", "taxonomy"),
               ("source", "path"), ("source", "data_dir"), ("source", "taxonomy"))
# compared through ``models`` (their identity), not their spelling
MODEL_FIELDS = (("options", "extractor"), ("options", "classifier"))


def resolved_paths(meta: dict[str, Any]) -> dict[str, str]:
    """``{"section.key": absolute path}`` for each :data:`PATH_FIELDS` value that is an existing path.

    >>> import os
    >>> resolved_paths({"source": {"path": "."}, "options": {"taxonomy": None}}) == {"source.path": os.getcwd()}
    True
    """
    out = {}
    for section, key in PATH_FIELDS:
        value = meta.get(section, {}).get(key)
        if isinstance(value, str) and value and Path(value).expanduser().exists():
            out[f"{section}.{key}"] = str(Path(value).expanduser().resolve())
    return out


SOURCE_NAMES = {"kind": "the kind of input", "name": "its name", "path": "the input file", "limit": "--limit",
                "split": "--split", "config": "--config", "data_dir": "--data-dir", "taxonomy": "--taxonomy",
                "sha256": "the SHA-256 of its files", "ids_sha256": "the ids of its sentences, in order"}


#: digests of the input, compared after the flags that change them
DERIVED_FIELDS = {("source", "sha256"), ("source", "ids_sha256")}


#: the flags that name a served model (the options' ``extractor``/``classifier`` of a server's run)
SERVED_NAMES = {"extractor": "the served model (--model)", "classifier": "the served classifier (--classifier-model)"}
#: the options of the prompt methods named by what they are (they are loaded, not a flag's value)
OPTION_NAMES = {"pool": "the training sentences of the demonstrations (--demonstrations-from)",
                "retriever": "the retriever of --selection knn"}


def _flag(section: str, key: str, served: bool = False) -> str:
    if section == "source":
        return SOURCE_NAMES.get(key, f"its {key}")
    if served and key in SERVED_NAMES:
        return SERVED_NAMES[key]
    return OPTION_NAMES.get(key, "--" + key.replace("_", "-"))


def compare(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    """``None`` when ``now`` may continue ``before``, else what differs, naming the option."""
    then_shard, here_shard = _shard_name(before.get("shard")), _shard_name(now.get("shard"))
    if then_shard != here_shard:
        return f"the first run predicted {then_shard}, this one {here_shard} (--shard)"
    # local models are compared through ``models`` (their files); a served model by its name
    served = not before.get("models") and not now.get("models")
    for section, kind in (("source", "the input differs"), ("options", "the options differ"),
                          ("layout", "the batches differ")):
        old, new = before.get(section, {}), now.get(section, {})
        # a flag the user gave is named before the digests it changes (--limit before the ids' SHA-256)
        for key in sorted(dict.fromkeys([*old, *new]), key=lambda key: (section, key) in DERIVED_FIELDS):
            if (section, key) in MODEL_FIELDS and not served:
                continue
            then, here = old.get(key), new.get(key)
            if (section, key) in PATH_FIELDS:
                then = before.get("resolved", {}).get(f"{section}.{key}", then)
                here = now.get("resolved", {}).get(f"{section}.{key}", here)
            if json.dumps(then, sort_keys=True) == json.dumps(here, sort_keys=True):
                continue
            if section == "source" and key == "revision":
                return f"the input changed since the first run: revision {then} then, {here} now"
            if key == "prompt_hash":
                return "the prompts differ from the first run's (another cascadener version?)"
            name = _flag(section, key, served)
            detail = ("; batches would be composed differently and scores could differ in their last digits"
                      if section == "layout" else "")
            return f"{kind} from the first run's: {name} was {then!r}, now {here!r}{detail}"
    return None


def _shard_name(shard: Any) -> str:
    """``"shard 1/3"``, or ``"every row"`` for an unsharded run.

    >>> _shard_name({"index": 1, "count": 3}), _shard_name(None)
    ('shard 1/3', 'every row')
    """
    if not isinstance(shard, dict):
        return "every row"
    return f"shard {shard.get('index')}/{shard.get('count')}"


def compare_applied(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    """``None`` when the backends now apply what they applied in the first run (``applied``: the
    stage-2 policy, a server's constraint adapter), else what differs.

    >>> compare_applied({"applied": {"choice_constraint": "choice (structured_outputs)"}},
    ...                 {"applied": {"choice_constraint": None}})
    "the backends apply another policy than in the first run: choice_constraint was 'choice (structured_outputs)', now None"
    """
    old, new = before.get("applied") or {}, now.get("applied") or {}
    for key in list(dict.fromkeys([*old, *new])):
        if json.dumps(old.get(key), sort_keys=True) != json.dumps(new.get(key), sort_keys=True):
            return (f"the backends apply another policy than in the first run: {key} was {old.get(key)!r}, "
                    f"now {new.get(key)!r}")
    return None


def read_meta(path: Path) -> dict[str, Any]:
    """The first run's meta file; a :class:`CliError` saying what is wrong with it otherwise."""
    if not path.is_file():
        raise CliError(f"cannot resume: {path} (written by the first run) is missing")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CliError(f"cannot resume: {path} is not valid UTF-8") from None
    except json.JSONDecodeError as error:
        raise CliError(f"cannot resume: {path} is not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(meta, dict):
        raise CliError(f"cannot resume: {path} holds a JSON {type(meta).__name__}, not the object cascadener "
                       "predict writes")
    if meta.get("format") != FORMAT or not isinstance(meta.get("committed"), dict):
        raise CliError(f"cannot resume: {path} was written by another version of cascadener predict; "
                       "start again with --overwrite")
    return meta


class Committed:
    """The whole chunks already in the output: ``sentences`` rows, ``bytes`` bytes, their ``ids``;
    ``digest``: the running SHA-256 of those bytes (``hashlib`` object) to continue."""

    def __init__(self, sentences: int, size: int, ids: list[str], cut: int, digest=None) -> None:
        self.sentences, self.bytes, self.ids, self.cut = sentences, size, ids, cut
        self.digest = digest if digest is not None else hashlib.sha256()


def committed_prefix(output: Path, meta: dict[str, Any], input_ids: list[str]) -> Committed:
    """Check the output's committed part against the meta and the input; cut off what follows it.

    The committed lines must be the first input rows, in order. ``cut`` is the count of bytes
    after them (a torn or unfinished chunk) removed from the file, to be predicted again.
    """
    sentences = int(meta["committed"].get("sentences", 0))
    size = int(meta["committed"].get("bytes", 0))
    data = output.read_bytes() if output.exists() else b""
    if len(data) < size:
        raise CliError(f"cannot resume: {output} holds {len(data)} bytes, fewer than the {size} its meta file "
                       "records as written; was it edited? Start again with --overwrite")
    head = data[:size]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        line = head[:error.start].count(b"\n") + 1
        raise CliError(f"cannot resume: {output}, line {line} is not valid UTF-8 (byte {error.start}); "
                       "the file was changed after it was written. Start again with --overwrite") from None
    digest = hashlib.sha256(head)
    recorded = meta["committed"].get("sha256")
    if recorded is not None and recorded != "sha256:" + digest.hexdigest():
        raise CliError(f"cannot resume: the first {size} bytes of {output} are not those its meta file records "
                       "(committed.sha256): the file was changed after it was written. Start again with --overwrite")
    ids = []
    for number, line in enumerate(text.split("\n"), start=1):  # JSON Lines: "\n" only
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            ids.append(str(record["id"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise CliError(f"cannot resume: {output}, line {number} is not a prediction line") from None
    if len(ids) != sentences:
        raise CliError(f"cannot resume: {output} holds {len(ids)} predictions where its meta file records "
                       f"{sentences}; start again with --overwrite")
    for position, (found, expected) in enumerate(zip(ids, input_ids), start=1):
        if found != expected:
            raise CliError(f"cannot resume: {output}, line {position} holds id {found!r} where the input's "
                           f"sentence {position} is {expected!r}")
    if len(ids) > len(input_ids):
        raise CliError(f"cannot resume: {output} holds more predictions than the input has sentences")
    cut = len(data) - size
    if cut:
        with output.open("r+b") as handle:
            handle.truncate(size)
    return Committed(sentences, size, ids, cut, digest)
