"""The shard function and the in-process executor.

A run cuts its rows into chunks (:func:`cascadener.scale.shards.plan_chunks`); each chunk becomes a
:class:`ChunkTask` (its texts and type lists) and goes through :func:`predict_chunk`, **the shard
function**: one method run (:class:`cascadener.methods.Method`, any registered method) over the
chunk's texts, giving a :class:`ChunkResult` (the entities of each text, in order, and the run's
counts). An executor takes the tasks and gives their results back **in task order**:

- :class:`LocalExecutor` runs them one after the other in this process, on a method built once;
- :class:`cascadener.scale.ray_executor.RayExecutor` runs the same function inside Ray Data, one
  method per worker.

Whoever writes the output (``cascadener predict``) sees the same results in the same order from
either, so the files are the same bytes.

Example (a method registered for nothing but this: it marks every capitalised word as a ``name``):
    >>> from cascadener.pipeline import PredictionRun, PredictStats, Prediction
    >>> from cascadener.parsing import ExtractionResult
    >>> class Capitals:
    ...     def run(self, texts, type_lists=None, *, options=None, languages=None, cascade=False, progress=False):
    ...         entities = [[{"text": w, "label": "name", "start": t.index(w), "end": t.index(w) + len(w),
    ...                       "score": None} for w in t.split() if w[:1].isupper()] for t in texts]
    ...         return PredictionRun([Prediction(t, ExtractionResult(sentence=t), entities=e)
    ...                               for t, e in zip(texts, entities)], PredictStats(sentences=len(texts)))
    >>> tasks = [ChunkTask(0, ("Ada met Bob",), (None,)), ChunkTask(1, ("in Rome",), (("city",),))]
    >>> [(r.number, [[e["text"] for e in s] for s in r.entities], r.stats["sentences"])
    ...  for r in LocalExecutor(Capitals(), options=None).run(tasks)]
    [(0, [['Ada', 'Bob']], 1), (1, [['Rome']], 1)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

__all__ = ["EXECUTORS", "ExecutorError", "ChunkTask", "ChunkResult", "predict_chunk", "task_of", "LocalExecutor"]

#: the executors by name (``--executor``): this process, or Ray Data
EXECUTORS: tuple[str, ...] = ("local", "ray")


class ExecutorError(RuntimeError):
    """The executor cannot run (Ray missing, a cluster out of reach or without the GPUs asked for):
    the user's to fix, said in one line."""


@dataclass(frozen=True)
class ChunkTask:
    """One chunk to predict: its ``number`` in the run (results come back in that order), its
    ``texts``, each text's type list (``None``: the method's default, e.g. the cascade) and each
    text's language (``languages``: empty when none is known; GPT-NER and PromptNER draw their
    demonstrations from training sentences of the same language)."""

    number: int
    texts: tuple[str, ...]
    type_lists: tuple[tuple[str, ...] | None, ...]
    languages: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.type_lists):
            raise ValueError(f"chunk {self.number}: {len(self.type_lists)} type lists for {len(self.texts)} texts")
        if self.languages and len(self.languages) != len(self.texts):
            raise ValueError(f"chunk {self.number}: {len(self.languages)} languages for {len(self.texts)} texts")


@dataclass(frozen=True)
class ChunkResult:
    """What a chunk gave: per text, its span records (in order); the run's counts
    (:class:`cascadener.pipeline.PredictStats` as a dict: sentences, mentions, usage per stage)."""

    number: int
    entities: list[list[dict[str, Any]]]
    stats: dict[str, int]


def predict_chunk(method: Any, task: ChunkTask, options: Any) -> ChunkResult:
    """The shard function: one run of ``method`` (a :class:`cascadener.methods.Method`) over the
    chunk's texts with ``options`` (the method's ``options_type``)."""
    run = method.run(list(task.texts), list(task.type_lists), options=options,
                     languages=list(task.languages) if task.languages else None)
    if len(run.predictions) != len(task.texts):
        raise RuntimeError(f"chunk {task.number}: the method gave {len(run.predictions)} predictions for "
                           f"{len(task.texts)} texts")
    return ChunkResult(task.number, [list(p.entities) for p in run.predictions], run.stats.to_dict())


class LocalExecutor:
    """The tasks one after the other in this process, on ``method`` (built once by the caller)."""

    name = "local"

    def __init__(self, method: Any, *, options: Any) -> None:
        self.method = method
        self.options = options

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        for task in tasks:
            yield predict_chunk(self.method, task, self.options)

    def describe(self) -> dict[str, Any]:
        """What the predictions meta records of the executor."""
        return {"name": self.name}


def task_of(number: int, texts: Sequence[str], type_lists: Sequence[Sequence[str] | None],
            languages: Sequence[str | None] | None = None) -> ChunkTask:
    """A :class:`ChunkTask` from any sequences (type lists as tuples; ``languages`` none: unknown).

    >>> task_of(3, ["a"], [["x", "y"]], ["en"])
    ChunkTask(number=3, texts=('a',), type_lists=(('x', 'y'),), languages=('en',))
    """
    known = languages is not None and any(language is not None for language in languages)
    return ChunkTask(number, tuple(texts), tuple(None if lst is None else tuple(lst) for lst in type_lists),
                     tuple(languages) if known else ())
