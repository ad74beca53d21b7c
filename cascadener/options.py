"""``PredictOptions``: the prediction keywords of :meth:`CascadeNER.run` / :meth:`CascadeNER.predict`, stated once.

Every place that predicts builds one :class:`PredictOptions` and passes it down: the Python API
(``ner.predict(texts, lists, options=PredictOptions(...))`` or the same names as keywords),
``cascadener predict`` (built once from its arguments, :meth:`PredictOptions.from_namespace`) and
the main job (``cascadener run``). Values are checked when the object is built, so a bad option
fails before stage 1 spends any time.

``cascadener predict --resume`` refuses to continue a run whose options differ from the first
run's. The compared options are :meth:`PredictOptions.identity`: every field that can change a
prediction, found from the dataclass fields themselves, so a new option is compared without being
listed anywhere else. A field that cannot change a prediction says so with
``metadata={"identity": False}`` (today ``batch_size``: left-padded batches give the unbatched outputs).

Example:
    >>> options = PredictOptions(classification="constrained", max_new_tokens=64)
    >>> options.identity()["classification"], "batch_size" in options.identity()
    ('constrained', False)
    >>> PredictOptions(template="marked2")
    Traceback (most recent call last):
    ...
    ValueError: unknown stage-2 template 'marked2'; allowed: released, marked, short
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from cascadener.backends.base import ClassifyMode, ClassifyOptions, OffListFallback
from cascadener.prompts import STAGE2_TEMPLATES, Stage2Template

if TYPE_CHECKING:
    from dynamicner_data.taxonomy import Taxonomy

__all__ = ["PredictOptions", "check_threshold", "keep_scored"]


@dataclass(frozen=True)
class PredictOptions:
    """How :meth:`cascadener.pipeline.CascadeNER.run` predicts.

    - ``batch_size``: sentences (stage 1) or questions (stage 2) per forward pass;
    - ``classification``: ``"generative"`` (the classifier writes its answer) or ``"constrained"``
      (every option scored, the best taken);
    - ``off_list``: fallback for generative answers not in the list, ``"constrained"`` or ``"closest"``;
    - ``template``: stage-2 prompt format, ``"released"``, ``"marked"`` or ``"short"``;
    - ``taxonomy``: the hierarchy of the cascade for texts without a type list
      (a :class:`dynamicner_data.taxonomy.Taxonomy`; ``None``: the packaged DynamicNER hierarchy);
    - ``self_consistency``: stage-1 samples merged per sentence (1: greedy), drawn with
      ``temperature`` and seeded by ``seed``;
    - ``max_new_tokens``: cap on the stage-1 budget (:func:`cascadener.prompts.stage1_budget`); ``None``: no cap;
    - ``threshold``: drop every entity whose score is below it (a probability in [0, 1], the classifier's
      probability of the chosen type: :func:`keep_scored`); ``None``: keep every entity. Refused before
      any work where the backend gives no scores (a server without logprobs).
    """

    batch_size: int = field(default=8, metadata={"identity": False})
    classification: ClassifyMode = "generative"
    off_list: OffListFallback = "constrained"
    template: Stage2Template = "released"
    taxonomy: Taxonomy | None = field(default=None, metadata={"flag": False})
    self_consistency: int = 1
    temperature: float = 0.7
    seed: int = 0
    max_new_tokens: int | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        self.classify_options()  # checks classification, off_list and batch_size
        if self.template not in STAGE2_TEMPLATES:
            raise ValueError(f"unknown stage-2 template {self.template!r}; allowed: {', '.join(STAGE2_TEMPLATES)}")
        if self.self_consistency < 1:
            raise ValueError(f"self_consistency must be >= 1, got {self.self_consistency}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1 or None, got {self.max_new_tokens}")
        check_threshold(self.threshold)

    def classify_options(self) -> ClassifyOptions:
        """The stage-2 options (mode, off-list fallback, batch size)."""
        return ClassifyOptions(mode=self.classification, off_list=self.off_list, batch_size=self.batch_size)

    @classmethod
    def identity_keys(cls) -> tuple[str, ...]:
        """Names of the fields that can change a prediction (what ``--resume`` compares).

        >>> PredictOptions.identity_keys()
        ('classification', 'off_list', 'template', 'taxonomy', 'self_consistency', 'temperature', 'seed', 'max_new_tokens', 'threshold')
        """
        return tuple(f.name for f in fields(cls) if f.metadata.get("identity", True))

    def identity(self) -> dict[str, Any]:
        """The :meth:`identity_keys` with JSON values (a taxonomy by its source: its file path, or ``None``)."""
        out: dict[str, Any] = {}
        for key in self.identity_keys():
            value = getattr(self, key)
            if key == "taxonomy" and value is not None:
                value = value.source
            out[key] = value
        return out

    def keywords(self) -> dict[str, Any]:
        """The options as the keywords of :meth:`CascadeNER.run` / :meth:`CascadeNER.predict` (no copies).

        >>> PredictOptions(seed=3).keywords()["seed"]
        3
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_namespace(cls, args: argparse.Namespace, *, taxonomy: Taxonomy | None = None) -> "PredictOptions":
        """The options of parsed command-line arguments named like the fields (``--batch-size`` -> ``batch_size``).

        Arguments the command does not define keep the field's default; ``taxonomy`` is given loaded.

        >>> PredictOptions.from_namespace(argparse.Namespace(seed=3, batch_size=2, output="x")).seed
        3
        """
        values = {f.name: getattr(args, f.name) for f in fields(cls) if f.name != "taxonomy" and hasattr(args, f.name)}
        return cls(**values, taxonomy=taxonomy)


def check_threshold(threshold: float | None) -> None:
    """A threshold is ``None`` or a probability in [0, 1] (``ValueError`` otherwise).

    >>> check_threshold(1.5)
    Traceback (most recent call last):
    ...
    ValueError: threshold must be a probability in [0, 1] or None, got 1.5
    """
    if threshold is None:
        return
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1] or None, got {threshold!r}")


def keep_scored(entities: list[dict[str, Any]], threshold: float | None, *,
                where: str = "an entity") -> tuple[list[dict[str, Any]], int]:
    """The entities scored at least ``threshold`` (all of them for ``None``), and how many were dropped.

    A score is the classifier's probability of the chosen type (for a cascade, the product of its
    levels'). An entity without a score under a threshold is an error, never kept or dropped
    silently: the methods refuse a threshold before any work where the backend gives no scores.

    >>> entities = [{"text": "Oslo", "label": "city", "start": 0, "end": 4, "score": 0.9},
    ...             {"text": "Mira", "label": "city", "start": 9, "end": 13, "score": 0.4}]
    >>> [e["text"] for e in keep_scored(entities, 0.5)[0]], keep_scored(entities, 0.5)[1]
    (['Oslo'], 1)
    >>> keep_scored(entities, 0.4)[1], keep_scored(entities, None)[1]
    (0, 0)
    >>> keep_scored([{"text": "Oslo", "label": "city", "start": 0, "end": 4, "score": None}], 0.5)
    Traceback (most recent call last):
    ...
    ValueError: a threshold needs scores, but an entity ('Oslo', city) has none: the backend returned no probabilities
    """
    if threshold is None:
        return entities, 0
    kept = []
    for entity in entities:
        score = entity.get("score")
        if score is None:
            raise ValueError(f"a threshold needs scores, but {where} ({entity.get('text')!r}, {entity.get('label')}) "
                             "has none: the backend returned no probabilities")
        if score >= threshold:
            kept.append(entity)
    return kept, len(entities) - len(kept)
