"""What every method provides: the :class:`Method` protocol and its options' :class:`MethodOptions`.

A method turns texts and their type lists into span records ``{text, label, start, end, score}``,
one list per text, on the backends it is built from. The command line and the main job use
only what is written here, so a new method (GPT-NER, PromptNER) plugs in by implementing it and
registering its class in :data:`cascadener.methods.METHODS`:

- ``name`` (``--method``, the predictions meta, the results) and ``description`` (``--method``'s help);
- ``options_type``: its options, a frozen dataclass checked when built (:class:`MethodOptions`);
  the command line builds them with ``from_namespace`` and ``--resume`` compares ``identity()``;
- ``from_backends(extractor, classifier=None)`` and ``from_settings(settings)``: the method on
  built backends, or on a registered backend's settings (:mod:`cascadener.backends.registry`);
- ``check_capabilities(options, extractor=..., classifier=...)``: refuse (``ValueError``), before
  any work, options that backends with these :class:`~cascadener.backends.base.Capabilities`
  cannot apply (the command line calls it with the settings' capabilities before loading
  anything; ``run`` calls it again with the built backends' own);
- ``check(options)``: prepare the built backends for a run with ``options`` (a server is probed
  once, before any work: :mod:`cascadener.backends.probe`), refuse (``ValueError``) what they
  cannot apply, and return the policy applied as recorded (``{"method": label, ...}``: the label
  results and leaderboards compare, e.g. ``cascadener-generative-closest``); ``run`` calls it too;
- ``applied_policy(options, *, classifier=...)``: that record for a classifier with these
  capabilities, without building anything (the command line's workers load local weights
  themselves, whose capabilities are known beforehand);
- ``prompt_hash(options)``: the hash of the prompts it sends (compared by ``--resume``);
- ``run(texts, type_lists, *, options, cascade=False, progress=False)``: a
  :class:`~cascadener.pipeline.PredictionRun`: one :class:`~cascadener.pipeline.Prediction` per text,
  in order (``entities``: the span records; empty texts give ``[]``), and the run's
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

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Sequence, runtime_checkable

from cascadener.backends.base import Backend, BackendSettings, Capabilities

if TYPE_CHECKING:
    from cascadener.pipeline import PredictionRun

__all__ = ["Method", "MethodOptions"]


class MethodOptions(Protocol):
    """A method's options: a frozen dataclass whose values are checked when it is built
    (:class:`cascadener.options.PredictOptions` for CascadeNER)."""

    @classmethod
    def from_namespace(cls, args: Any, *, taxonomy: Any = None) -> "MethodOptions":
        """The options of parsed command-line arguments named like the fields (``taxonomy`` given loaded)."""
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

    def run(self, texts: Sequence[str], type_lists: Sequence[Sequence[str] | None] | None = None, *,
            options: Any = None, cascade: bool = False, progress: bool = False) -> "PredictionRun":
        ...

    def describe(self) -> dict[str, Any]:
        ...
