"""``eval.yaml``: the file that declares an exported DynamicNER folder's benchmark tasks on the Hub.

A dataset repo with an ``eval.yaml`` at its root can become a benchmark (hub docs, "Evaluation
Results"): the Hub validates the file at push time, and registration is an allow-list (beta: the
Hugging Face team adds a repo on request). Once registered, the Hub collects the
``.eval_results/*.yaml`` files of model repos that name it into the benchmark's leaderboard. The
documented fields are ``name``, ``description``, ``evaluation_framework`` and ``tasks``, a list
of ``{id, config, split}``.

``evaluation_framework`` must be one of the frameworks the Hub lists
(:data:`HUB_EVALUATION_FRAMEWORKS`); this project's value is :data:`EVALUATION_FRAMEWORK`, the
one place it is set: ``inspect-ai``, the framework DynamicNER's packaged task runs in
(``inspect eval cascadener/dynamicner -T config=CONFIG``, ``pip install "dynamicner-kit[inspect]"``).

With ``inspect-ai`` the Hub's docs ask each task for ``field_spec``, ``solvers`` and ``scorers``
(:func:`inspect_fields`): the columns as Inspect samples (the ``text`` in, the gold ``entities``
out, the row ``id``, ``type_list`` and ``language`` as metadata) and the packaged task's own solver
and scorer by their registry names. Inspect's generic loader of such files (``inspect eval
hf/<repo>``) runs only its built-in solvers and scorers (one prompt, ``generate``, token or
string matches): none of them can run a two-stage cascade against per-sample type lists scored by
span F1, so it refuses these names instead of scoring something else under DynamicNER's name;
the packaged task is how the benchmark runs.

One task per scored view of an exported config that has a ``test`` split:

==================  ====================  ======================================================
task id             config                what is scored
==================  ====================  ======================================================
``dynamic``         ``all``               every language, each sample's own type list
``dynamic-<lang>``  ``<lang>``            one language, per-sample type lists
``coarse``          ``all-coarse``        every language, taxonomy level 1 (8 types)
``medium``          ``all-medium``        level 2 (31 types)
``fine``            ``all-fine``          level 3 (155 types)
``<gran>-<lang>``   ``<lang>-<gran>``     one language at one level
==================  ====================  ======================================================

The headline score of every task is the strict micro-F1 (``dynamicner_f1``, span and label must
match) in percent.

>>> [task["id"] for task in eval_tasks(["de", "de-coarse", "all-fine", "all"])]
['dynamic', 'fine', 'dynamic-de', 'coarse-de']
>>> task = check_eval_yaml(eval_yaml_data(["de"]), where="eval.yaml", strict=True)["tasks"][0]
>>> task["id"], task["config"], task["split"], task["solvers"]
('dynamic-de', 'de', 'test', [{'name': 'cascadener/predict_entities'}])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from dynamicner_data.typelists import GRANULARITIES

__all__ = ["EVALUATION_FRAMEWORK", "HUB_EVALUATION_FRAMEWORKS", "EvalYamlError", "task_for_config", "eval_tasks",
           "inspect_fields", "eval_yaml_data", "eval_yaml_text", "check_eval_yaml", "read_eval_yaml"]

#: The ``evaluation_framework`` ids the Hub accepts in ``eval.yaml``: the keys of
#: ``EVALUATION_FRAMEWORKS`` in huggingface.js ``packages/tasks/src/eval.ts`` (as of its commit
#: c975bd49, 2026-08-17). The Hub maintains the list; a framework is added there by pull request.
HUB_EVALUATION_FRAMEWORKS: frozenset[str] = frozenset({
    "exgentic", "inspect-ai", "math-arena", "mteb", "olmocr-bench", "harbor", "ifstruct", "pier", "redline-bench",
    "archipelago", "benchflow", "apex-evals", "screenspot-pro", "swe-bench", "swe-bench-pro", "nemo-evaluator",
    "yc-bench", "open-asr-leaderboard", "mdpbench", "real5-omnidocbench", "parsebench", "video-mme-v2", "claw-eval",
    "researchclawbench", "pbench", "wildclawbench", "wbench", "nanofold", "mmmu", "extractbench",
})

EVALUATION_FRAMEWORK: str | None = "inspect-ai"
"""The ``evaluation_framework`` this project writes into ``eval.yaml``: one of
:data:`HUB_EVALUATION_FRAMEWORKS`, or ``None`` to leave the field out. ``inspect-ai``: DynamicNER's
task runs in Inspect AI (:mod:`cascadener.integrations.inspect_task`), the framework whose runs in
HF Jobs the Hub can verify."""

#: The registry names of the packaged Inspect task's solver and scorer (``cascadener/dynamicner``'s
#: own; ``tests/test_inspect.py`` resolves them in Inspect's registry) and the scorer's matching,
#: the headline score's (strict span and label).
INSPECT_SOLVER = "cascadener/predict_entities"
INSPECT_SCORER = "cascadener/dynamicner_f1"

_DESCRIPTION = (
    "DynamicNER: multilingual (8 languages), fine-grained named entity recognition where every "
    "sample offers its own list of candidate types. Scored with the dynamicner_f1 metric: strict "
    "micro-F1 (span and label must match), in percent."
)


class EvalYamlError(ValueError):
    """An ``eval.yaml`` that lacks a documented field or has one of the wrong type."""


def task_for_config(config: str) -> str:
    """The task id of a config name (see the module table).

    >>> task_for_config("all"), task_for_config("ja"), task_for_config("all-medium"), task_for_config("ja-fine")
    ('dynamic', 'dynamic-ja', 'medium', 'fine-ja')
    """
    language, _, granularity = config.partition("-")
    granularity = granularity or "dynamic"
    if language == "all":
        return granularity
    return f"{granularity}-{language}"


def eval_tasks(configs: Sequence[str], *, split: str = "test") -> list[dict[str, str]]:
    """The ``tasks`` list: one ``{id, config, split}`` per config; the all-language tasks first, then
    by granularity (dynamic, coarse, medium, fine), then in the given language order."""
    position = {config: index for index, config in enumerate(configs)}

    levels = GRANULARITIES

    def order(config: str) -> tuple:
        language, _, granularity = config.partition("-")
        granularity = granularity or "dynamic"
        rank = levels.index(granularity) if granularity in levels else len(levels)
        return (language != "all", rank if language == "all" else 0, position[config])

    return [{"id": task_for_config(config), "config": config, "split": split} for config in sorted(configs, key=order)]


def inspect_fields() -> dict[str, Any]:
    """What ``evaluation_framework: inspect-ai`` adds to each task (see the module docstring).

    >>> inspect_fields()["field_spec"], inspect_fields()["scorers"]
    ({'input': 'text', 'target': 'entities', 'id': 'id', 'metadata': ['type_list', 'language']}, [{'name': 'cascadener/dynamicner_f1', 'args': {'matching': 'strict'}}])
    """
    return {"field_spec": {"input": "text", "target": "entities", "id": "id", "metadata": ["type_list", "language"]},
            "solvers": [{"name": INSPECT_SOLVER}],
            "scorers": [{"name": INSPECT_SCORER, "args": {"matching": "strict"}}]}


def eval_yaml_data(configs: Sequence[str], *, name: str = "DynamicNER", description: str = _DESCRIPTION,
                   evaluation_framework: str | None = EVALUATION_FRAMEWORK) -> dict:
    """The content of ``eval.yaml`` for an export of ``configs`` (each must have a test split);
    ``evaluation_framework`` is left out when ``None``, and must be one the Hub lists otherwise.

    >>> list(eval_yaml_data(["de"], evaluation_framework="inspect-ai"))
    ['name', 'description', 'evaluation_framework', 'tasks']
    >>> eval_yaml_data(["de"], evaluation_framework="cascadener")
    Traceback (most recent call last):
    ...
    dynamicner_data.eval_yaml.EvalYamlError: evaluation_framework 'cascadener' is not one the Hub lists ...
    """
    data: dict[str, Any] = {"name": name, "description": description}
    if evaluation_framework is not None:
        _check_framework(evaluation_framework, where="evaluation_framework")
        data["evaluation_framework"] = evaluation_framework
    data["tasks"] = eval_tasks(configs)
    if evaluation_framework == "inspect-ai":
        data["tasks"] = [{**task, **inspect_fields()} for task in data["tasks"]]
    return data


def _check_framework(value: Any, *, where: str) -> None:
    if value not in HUB_EVALUATION_FRAMEWORKS:
        raise EvalYamlError(f"{where} {value!r} is not one the Hub lists (huggingface.js eval.ts: "
                            f"{', '.join(sorted(HUB_EVALUATION_FRAMEWORKS))}); leave it out, or add the framework "
                            "to that list first")


def eval_yaml_text(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def check_eval_yaml(data: Any, *, where: str, strict: bool = False) -> dict:
    """Check the documented fields; return ``data``. Errors name ``where`` and the field. An
    ``evaluation_framework``, when present, must be a non-empty string; with ``strict`` (what this
    project writes) one of :data:`HUB_EVALUATION_FRAMEWORKS`. Reading another repo's file, the Hub
    already checked it against its list, which may have grown since ours was copied."""
    if not isinstance(data, dict):
        raise EvalYamlError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    for key in ("name", "description"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise EvalYamlError(f"{where}: field {key!r} must be a non-empty string")
    if "evaluation_framework" in data:
        framework = data["evaluation_framework"]
        if not isinstance(framework, str) or not framework.strip():
            raise EvalYamlError(f"{where}: field 'evaluation_framework' must be a non-empty string when present")
        if strict:
            _check_framework(framework, where=f"{where}: field 'evaluation_framework'")
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise EvalYamlError(f"{where}: field 'tasks' must be a non-empty list")
    seen: set[str] = set()
    for index, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise EvalYamlError(f"{where}: tasks[{index}] must be a mapping")
        for key in ("id", "config", "split"):
            if not isinstance(task.get(key), str) or not task[key]:
                raise EvalYamlError(f"{where}: tasks[{index}] field {key!r} must be a non-empty string")
        if task["id"] in seen:
            raise EvalYamlError(f"{where}: tasks[{index}]: task id {task['id']!r} appears twice")
        if strict and data.get("evaluation_framework") == "inspect-ai":
            for key, kind in (("field_spec", dict), ("solvers", list), ("scorers", list)):
                if not isinstance(task.get(key), kind) or not task[key]:
                    raise EvalYamlError(f"{where}: tasks[{index}] field {key!r} must be a non-empty {kind.__name__} "
                                        "(evaluation_framework inspect-ai asks for it)")
        seen.add(task["id"])
    return data


def read_eval_yaml(path: str | Path) -> dict:
    """Read and check an ``eval.yaml`` file."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalYamlError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise EvalYamlError(f"{path} is not a readable YAML file: {error}") from None
    return check_eval_yaml(data, where=str(path))
