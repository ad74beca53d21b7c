"""DynamicNER as an Inspect AI task: ``inspect eval cascadener/dynamicner --model <provider/model>``.

Install the extra (``pip install "dynamicner-kit[inspect]"``); the package's ``inspect_ai`` entry
point (``cascadener``) registers the task, so Inspect finds it by name. Task options (``-T``):

============================  =============================================================
``config`` (``all``)          a DynamicNER config (``all``, ``en``, ``de-fine``, ...)
``split`` (``test``)          its split
``data_dir`` (none)           the official release (folder or ``.7z``); none: the embedded sample
``method`` (``cascadener``)   a method of :data:`cascadener.methods.METHODS`
``classification`` (none)     the method's stage-2 mode (``generative``); none: its default
``matching`` (``strict``)     when a prediction hits a reference (``dynamicner_f1``'s modes)
============================  =============================================================

and Inspect's own ``--limit``, ``--epochs``, ``--max-connections``, ... Values given with ``-T``
are read as YAML: ``-T config=en`` is the text ``en``; quote a value YAML would read otherwise.

- **Dataset**: the project's builder (:func:`dynamicner_data.builder.prepare`, the same rows as
  ``cascadener predict --dataset CONFIG --split SPLIT``): one ``Sample`` per row, ``input`` the
  text, ``target`` its gold span records as JSON, ``metadata`` its ``type_list`` and ``language``,
  ``id`` the row id.
- **Solver** (:func:`predict_entities`): the method runs unchanged on the evaluated model
  (:class:`~cascadener.integrations.inspect_backend.InspectBackend`): the same prompts, parsing
  and stage-2 chain as ``cascadener predict``. The entities go to the sample's store
  (``entities``, with the run's counts under ``stats``) and, as JSON, to its output.
- **Scorer** (:func:`dynamicner_f1`): per sample, the true positives, false positives and false
  negatives of ``dynamicner_f1``'s own scorer
  (:func:`cascadener.integrations.inspect_scoring.sample_counts`).
- **Metric** (:func:`micro_f1`): the counts summed into ``dynamicner_f1``'s micro precision,
  recall and F1 (:func:`cascadener.integrations.inspect_scoring.micro_scores`), in percent with
  two decimals like every score the kit shows, and the three sums. It equals ``cascadener
  evaluate`` on the same predictions.

This module imports inspect-ai (about 5 s): pytest does not import it for doctests (it holds
none); ``tests/test_inspect.py`` runs it.

The task's metadata names the benchmark task the config scores (``task_id``, as in ``eval.yaml``),
the dataset revision (the builder's hash) and the method's prompt hash.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from cascadener.integrations.inspect_backend import (
    INSTALL_HINT,
    InspectBackend,
    TaskOptionError,
    method_options,
    run_in_worker,
)
from cascadener.integrations.inspect_scoring import micro_scores, sample_counts
from cascadener.methods import DEFAULT_METHOD, method_class

try:
    from inspect_ai import Task, task
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.model import ModelOutput, get_model
    from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, metric, scorer
    from inspect_ai.solver import Generate, Solver, TaskState, solver
    from inspect_ai.util import registry_info
except ImportError:  # pragma: no cover - the [inspect] extra brings it
    raise ImportError(INSTALL_HINT) from None
try:  # the error Inspect's command line prints as a message, without a traceback
    from inspect_ai._util.error import PrerequisiteError
except ImportError:  # pragma: no cover - moved in another inspect-ai version: a plain error then
    PrerequisiteError = Exception  # type: ignore[assignment,misc]

__all__ = ["dynamicner", "predict_entities", "dynamicner_f1", "micro_f1", "dataset_samples", "REGISTRY_PACKAGE"]

#: the package name of the task (``inspect eval cascadener/dynamicner``): the ``inspect_ai`` entry
#: point's name in pyproject.toml
REGISTRY_PACKAGE = "cascadener"


class DynamicNEROptionError(PrerequisiteError):
    """A ``-T`` option of ``cascadener/dynamicner`` that cannot be used: Inspect's command line prints
    the message, which names the option and what it takes."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------------- dataset


def _gold_records(entities: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"text": e["text"], "label": e["label"], "start": e["start"], "end": e["end"]} for e in entities]


def dataset_samples(config: str = "all", split: str = "test", data_dir: str | None = None) -> list[Sample]:
    """One ``Sample`` per row of the builder's ``config``/``split`` (the embedded sample without
    ``data_dir``), in the builder's order. ``TaskOptionError`` names a config or split that does not
    exist, or a build that failed on the data.
    """
    from dynamicner_data.builder import CONFIG_NAMES, SplitUnavailable, prepared_split

    if not isinstance(config, str) or config not in CONFIG_NAMES:
        raise TaskOptionError(f"config {config!r} is not a DynamicNER config; choose one of: {', '.join(CONFIG_NAMES)} "
                              "(-T values are read as YAML: quote one YAML reads as another type)")
    try:
        _, rows = prepared_split(config, split, data_dir=data_dir)
    except SplitUnavailable as error:
        raise TaskOptionError(str(error)) from None
    samples = []
    for row in rows:
        gold = _gold_records(row["entities"])
        samples.append(Sample(input=row["text"], target=json.dumps(gold, ensure_ascii=False), id=row["id"],
                              metadata={"language": row["language"], "type_list": list(row["type_list"] or []) or None}))
    return samples


# ------------------------------------------------------------------------------------- solver


def predict_entities(method: str = DEFAULT_METHOD, classification: str | None = None) -> Solver:
    """Run ``method`` on the sample's text and its ``type_list`` (none: the method's cascade down the
    taxonomy) with the evaluated model; the entities go to the store (``entities``; the run's counts
    under ``stats``) and, as JSON, to the sample's output."""
    options = method_options(method, classification)
    cls = method_class(method)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        ner = cls.from_backends(InspectBackend(get_model()))
        run = await run_in_worker(ner.run, [state.input_text], [state.metadata.get("type_list")], options=options)
        entities = run.predictions[0].entities
        state.store.set("entities", entities)
        state.store.set("stats", run.stats.to_dict())
        state.output = ModelOutput.from_content(model=str(state.model), content=json.dumps(entities, ensure_ascii=False))
        return state

    return solve


# ------------------------------------------------------------------------------------- scoring


def micro_f1() -> Metric:
    """``dynamicner_f1``'s micro F1, precision and recall (percent) and the summed counts
    (:func:`cascadener.integrations.inspect_scoring.micro_scores`) over every scored sample."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        return micro_scores(item.score.value for item in scores)  # type: ignore[misc]

    return compute


def dynamicner_f1(matching: str = "strict") -> Scorer:
    """Per sample, the true positives, false positives and false negatives of the predicted entities
    against the target's (:func:`cascadener.integrations.inspect_scoring.sample_counts`); ``matching`` as
    in ``dynamicner_f1``."""
    _check_matching(matching)

    async def score(state: TaskState, target: Target) -> Score:
        predicted = state.store.get("entities", [])
        counts = sample_counts(predicted, json.loads(target.text), text=state.input_text, matching=matching)
        return Score(value=counts.as_value(), answer=json.dumps(predicted, ensure_ascii=False),
                     explanation=f"{counts.tp} of {len(predicted)} predicted entities hit one of "
                                 f"{counts.tp + counts.fn} references ({matching} matching)")

    return score


# ------------------------------------------------------------------------------------- task


def _check_matching(matching: str) -> None:
    from dynamicner_f1 import MATCHING

    if matching not in MATCHING:
        raise TaskOptionError(f"matching {matching!r} is not one of {', '.join(MATCHING)}")


def dynamicner(config: str = "all", split: str = "test", method: str = DEFAULT_METHOD,
               classification: str | None = None, matching: str = "strict", data_dir: str | None = None) -> Task:
    """DynamicNER's ``config``/``split`` predicted by ``method`` on the evaluated model and scored by
    ``dynamicner_f1`` (see the module docstring for the options)."""
    from dynamicner_data.builder import builder_hash
    from dynamicner_data.eval_yaml import task_for_config

    try:
        options = method_options(method, classification)
        _check_matching(matching)
        samples = dataset_samples(config, split, data_dir)
    except TaskOptionError as error:
        raise DynamicNEROptionError(f"{REGISTRY_PACKAGE}/dynamicner: {error}") from None
    return Task(
        dataset=MemoryDataset(samples, name=f"dynamicner-{config}-{split}"),
        solver=predict_entities(method=method, classification=classification),
        scorer=dynamicner_f1(matching=matching),
        metadata={"task_id": task_for_config(config), "config": config, "split": split,
                  "dataset_revision": None if data_dir else f"builder-{builder_hash()}", "data_dir": data_dir,
                  "method": method, "prompt_hash": method_class(method).prompt_hash(options), "matching": matching},
    )


def _registered(decorator: Any, function: Any, **attributes: Any) -> Any:
    """``function`` decorated with Inspect's ``decorator`` (``task``, ``solver``, ``scorer``, ``metric``)
    and named ``cascadener/<name>`` however the kit is installed. Inspect prefixes a name with its
    top-level package when the module lies in ``site-packages`` (a regular install) or when that
    package is an editable install of a distribution named like it; this kit's distribution is
    ``dynamicner-kit``, so an editable install gets no prefix, and the full name is then given."""
    registered = decorator(**attributes)(function) if attributes else decorator(function)
    full = f"{REGISTRY_PACKAGE}/{function.__name__}"
    if registry_info(registered).name != full:
        registered = decorator(name=full, **attributes)(function)
    return registered


predict_entities = _registered(solver, predict_entities)
micro_f1 = _registered(metric, micro_f1)
dynamicner_f1 = _registered(scorer, dynamicner_f1, metrics=[micro_f1()])
dynamicner = _registered(task, dynamicner)
