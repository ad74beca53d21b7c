"""What every method provides: the :class:`Method` protocol and its options' :class:`MethodOptions`.

A method turns texts and their type lists into span records ``{text, label, start, end, score}``,
one list per text, on the backends it is built from. The command line and the main job use
only what is written here, so a method plugs in by implementing it and registering its class in
:data:`cascadener.methods.METHODS` (CascadeNER, GPT-NER and PromptNER do):

- ``name`` (``--method``, the predictions meta, the results) and ``description`` (``--method``'s help);
- ``options_type``: its options, a frozen dataclass checked when built (:class:`MethodOptions`);
  the command line builds them with ``from_namespace`` from the flags named like its fields
  (:func:`option_flags`; a flag only another method reads is refused) and ``--resume`` compares
  ``identity()``;
- ``reads_taxonomy``: whether ``run(cascade=True)`` reads every mention down the taxonomy, and
  whether a text without a type list is read that way (CascadeNER); a method without it needs a type
  list for every text, and the main job scores its dynamic column only;
- ``uses_demonstrations``: whether it shows the model training sentences in its prompts; its
  options then take a :class:`~cascadener.methods.demonstrations.DemonstrationPool` (``pool``);
- ``single_model``: whether it runs one model only (no classifier);
- ``from_backends(extractor, classifier=None)`` and ``from_settings(settings)``: the method on
  built backends, or on a registered backend's settings (:mod:`cascadener.backends.registry`);
- ``check_capabilities(options, extractor=..., classifier=...)``: refuse (``ValueError``), before
  any work, options that backends with these :class:`~cascadener.backends.base.Capabilities`
  cannot apply (the command line calls it with the settings' capabilities before loading
  anything; ``run`` calls it again with the built backends' own);
- ``check(options)``: prepare the built backends for a run with ``options`` (a server is probed
  once, before any work: :mod:`cascadener.backends.probe`), refuse (``ValueError``) what they
  cannot apply (and what else the options need, e.g. training sentences for demonstrations), and
  return the policy applied as recorded (``{"method": label, ...}``: the label results and
  leaderboards compare, e.g. ``cascadener-generative-closest`` or ``gpt-ner-verify``, and a prompt
  method's ``setting``, :data:`SETTINGS`: ``fine-tuned``, ``few-shot`` or ``zero-shot``, with what
  it rests on); ``run`` calls it too;
- ``applied_policy(options, *, classifier=...)``: that record for a classifier with these
  capabilities, without building anything (the command line's workers load local weights
  themselves, whose capabilities are known beforehand; a prompt method also takes ``model``, the
  local folder, to read whether it is fine-tuned on its prompts);
- ``prompt_hash(options)``: the hash of the prompts it sends (compared by ``--resume``);
- ``run(texts, type_lists, *, options, languages=None, cascade=False, progress=False)``: a
  :class:`~cascadener.pipeline.PredictionRun`: one :class:`~cascadener.pipeline.Prediction` per text,
  in order (``entities``: the span records; empty texts give ``[]``; ``languages[i]``: text ``i``'s
  language, where a method's prompts depend on it), and the run's
  :class:`~cascadener.pipeline.PredictStats` (counts and per-stage usage, nothing dropped silently).
  ``cascade=True`` also reads every mention down the taxonomy (``Prediction.cascade_entities``, the
  main job's coarse/medium/fine columns); a method without that reading raises ``ValueError``;
- ``describe()``: its backends as recorded in the predictions meta; ``extractor_backend`` and
  ``classifier_backend``: the backends it runs on (the same object when one model does both).

Example: CascadeNER is a method.
    >>> from cascadener.pipeline import CascadeNER
    >>> from cascadener.backends import EndpointOptions
    >>> ner = CascadeNER.from_endpoint(EndpointOptions("http://127.0.0.1:8000/v1"), "m")
    >>> isinstance(ner, Method), CascadeNER.name, CascadeNER.options_type.__name__
    (True, 'cascadener', 'PredictOptions')
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Sequence, runtime_checkable

from cascadener.backends.base import Backend, BackendSettings, Capabilities

if TYPE_CHECKING:
    from cascadener.pipeline import PredictionRun

__all__ = ["Method", "MethodOptions", "SETTINGS", "TRAINED_FOR_FILE", "option_flags", "setting_of", "trained_for",
           "trained_for_text", "needs_demonstrations", "fine_tuned_for"]

#: how a run's model came to the task: trained on the method's own prompts (``fine-tuned``, the
#: paper's "supervised" rows), shown demonstrations in its prompts (``few-shot``), or neither
SETTINGS: tuple[str, ...] = ("fine-tuned", "few-shot", "zero-shot")
#: the file a model folder trained on a method's prompts holds (``cascadener train --method``)
TRAINED_FOR_FILE = "cascadener_method.json"


def setting_of(*, fine_tuned: bool, demonstrations: int) -> str:
    """The run's setting (:data:`SETTINGS`).

    >>> setting_of(fine_tuned=False, demonstrations=8), setting_of(fine_tuned=True, demonstrations=0)
    ('few-shot', 'fine-tuned')
    """
    if fine_tuned:
        return "fine-tuned"
    return "few-shot" if demonstrations > 0 else "zero-shot"


def option_flags(options_type: type) -> dict[str, Any]:
    """The command-line flags (argparse dests) a method's options are read from, with their defaults:
    the dataclass fields, but those marked ``metadata={"flag": False}`` (given loaded, e.g. a taxonomy).

    >>> from cascadener.options import PredictOptions
    >>> sorted(option_flags(PredictOptions))[:3]
    ['batch_size', 'classification', 'max_new_tokens']
    """
    if not is_dataclass(options_type):
        raise TypeError(f"{options_type.__name__} is not a dataclass")
    return {f.name: f.default for f in fields(options_type) if f.metadata.get("flag", True)}


def trained_for(model: str | Path | None) -> dict[str, Any] | None:
    """What a local model folder was fine-tuned for (``{"method": ..., "prompt_hash": ...}``,
    :func:`trained_for_text`), ``None`` for anything else (a Hub id, a folder without it).

    >>> trained_for("no/such/folder") is None
    True
    """
    if model is None:
        return None
    path = Path(model) / TRAINED_FOR_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("method"), str) else None


def trained_for_text(method: str, *, prompt_hash: str) -> str:
    """The content of :data:`TRAINED_FOR_FILE` for a model fine-tuned on ``method``'s prompts (written
    into the model folder with the weights, by :func:`cascadener.training.trainer.train_method`).

    >>> print(trained_for_text("gpt-ner", prompt_hash="ab12"), end="")
    {
      "method": "gpt-ner",
      "prompt_hash": "ab12"
    }
    """
    return json.dumps({"method": method, "prompt_hash": prompt_hash}, indent=2) + "\n"


def fine_tuned_for(method: str, model: str | Path | None) -> bool:
    """Whether the local ``model`` folder was fine-tuned on ``method``'s prompts (:func:`trained_for`).

    >>> fine_tuned_for("gpt-ner", None)
    False
    """
    trained = trained_for(model)
    return bool(trained and trained.get("method") == method)


def needs_demonstrations(method: type, options: Any, model: str | None) -> bool:
    """Whether a run of ``method`` with ``options`` on the local ``model`` folder (``None``: a served
    model) shows demonstrations: as many as ``options.demonstrations`` says, or, left to the method,
    unless the model was fine-tuned on the method's prompts (:func:`trained_for`)."""
    if not getattr(method, "uses_demonstrations", False):
        return False
    if options.demonstrations is not None:
        return options.demonstrations > 0
    return not fine_tuned_for(method.name, model)


class MethodOptions(Protocol):
    """A method's options: a frozen dataclass whose values are checked when it is built
    (:class:`cascadener.options.PredictOptions` for CascadeNER)."""

    @classmethod
    def from_namespace(cls, args: Any, *, taxonomy: Any = None) -> "MethodOptions":
        """The options of parsed command-line arguments named like the fields (``taxonomy`` given loaded;
        a method that ``uses_demonstrations`` also takes ``pool``, its training sentences, loaded)."""
        ...

    @classmethod
    def identity_keys(cls) -> tuple[str, ...]:
        """The names of the fields that can change a prediction."""
        ...

    def identity(self) -> dict[str, Any]:
        """Those fields as JSON values: what ``--resume`` compares."""
        ...


@runtime_checkable
class Method(Protocol):
    """See the module docstring."""

    name: ClassVar[str]
    description: ClassVar[str]
    options_type: ClassVar[type]
    reads_taxonomy: ClassVar[bool]
    uses_demonstrations: ClassVar[bool]
    single_model: ClassVar[bool]
    extractor_backend: Backend
    classifier_backend: Backend

    @classmethod
    def from_backends(cls, extractor: Backend, classifier: Backend | None = None) -> "Method":
        ...

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> "Method":
        ...

    @classmethod
    def check_capabilities(cls, options: Any, *, extractor: Capabilities, classifier: Capabilities) -> None:
        ...

    def check(self, options: Any) -> dict[str, Any]:
        ...

    @classmethod
    def applied_policy(cls, options: Any, *, classifier: Capabilities) -> dict[str, Any]:
        ...

    @classmethod
    def prompt_hash(cls, options: Any) -> str:
        ...

    def check(self, options: Any) -> None:
        ...

    def run(self, texts: Sequence[str], type_lists: Sequence[Sequence[str] | None] | None = None, *,
            options: Any = None, languages: Sequence[str | None] | None = None, cascade: bool = False,
            progress: bool = False) -> "PredictionRun":
        ...

    def describe(self) -> dict[str, Any]:
        ...
