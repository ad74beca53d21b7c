"""Training recipes: how long and how fast to fine-tune each model, by starting point, defined once.

``cascadener train``, ``cascadener run`` and the main job (:mod:`cascadener.benchmark`) all start
from these; command-line options override single fields.

- :data:`TINY`: a tiny Qwen2 trained from scratch (:mod:`cascadener.training.tiny`), sized for the
  embedded sample on 2 CPU cores (minutes): a high learning rate with a cosine schedule; the
  extractor 15 passes over its conversations (one per sentence: 286 in the embedded train split),
  the classifier 2: the main job asks it about every entity with the sentence's type list and at
  each of the three taxonomy levels (3,680 questions, almost 13 times as many), so two passes
  already give it more steps than the extractor's fifteen. One torch thread: tiny matrices gain
  little from more, and busy cores make multi-threaded torch many times slower.
- :data:`MEMORISE`: one tiny model that memorises a handful of sentences, both stages (the
  ``tiny_cascade`` test fixture, the benchmarks' models): 200 full-batch steps.
- :data:`BASE`: a pretrained ``AutoModelForCausalLM`` (``--base-model``): the usual full
  fine-tuning rate, a linear schedule, three passes for the extractor and one for the classifier
  (again many more conversations); :data:`LORA_LEARNING_RATE` with ``--lora``.

Example:
    >>> r = recipe(base_model=False)
    >>> r.extractor.epochs, r.classifier.epochs, r.extractor.learning_rate
    (15.0, 2.0, 0.003)
    >>> r = recipe(base_model=True, lora=True)
    >>> r.extractor.epochs, r.classifier.epochs, r.extractor.learning_rate, r.classifier.learning_rate
    (3.0, 1.0, 0.0002, 0.0002)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .trainer import TrainOptions

__all__ = ["Recipe", "TINY", "BASE", "LORA_LEARNING_RATE", "MEMORISE", "recipe"]


@dataclass(frozen=True)
class Recipe:
    """The :class:`~cascadener.training.trainer.TrainOptions` of the extractor (also the one model of
    ``one_model``) and of the classifier."""

    extractor: TrainOptions
    classifier: TrainOptions

    def replace(self, **changes) -> Recipe:
        """Both models' options with the same ``changes`` (e.g. ``seed=1``, ``max_steps=10``).

        >>> TINY.replace(seed=3).classifier.seed
        3
        """
        return Recipe(extractor=replace(self.extractor, **changes), classifier=replace(self.classifier, **changes))


_TINY_EXTRACTOR = TrainOptions(epochs=15.0, learning_rate=3e-3, batch_size=16, lr_scheduler="cosine", num_threads=1)
TINY = Recipe(extractor=_TINY_EXTRACTOR, classifier=replace(_TINY_EXTRACTOR, epochs=2.0))

_BASE_EXTRACTOR = TrainOptions(epochs=3.0, learning_rate=2e-5, batch_size=8, lr_scheduler="linear")
BASE = Recipe(extractor=_BASE_EXTRACTOR, classifier=replace(_BASE_EXTRACTOR, epochs=1.0))

LORA_LEARNING_RATE = 2e-4

MEMORISE = TrainOptions(max_steps=200, learning_rate=5e-3, batch_size=32, lr_scheduler="cosine", logging_steps=10,
                        progress=False, num_threads=1)


def recipe(*, base_model: bool, lora: bool = False) -> Recipe:
    """The recipe for a start from a pretrained model (``base_model``) or from scratch, with LoRA or not."""
    if not base_model:
        return TINY
    return BASE.replace(learning_rate=LORA_LEARNING_RATE) if lora else BASE
