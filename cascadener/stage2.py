"""Stage 2: pick each mention's type from its choices. One chain, on every backend.

:func:`classify` answers every :class:`~cascadener.backends.base.ClassifyRequest` with a
:class:`~cascadener.backends.base.Classification`, in order, never dropping one. The chain:

1. **a single choice** is the answer (``how="only-option"``, score 1); nothing is run;
2. ``mode="constrained"``: the backend keeps each answer to the choices
   (:meth:`Backend.choose <cascadener.backends.base.Backend.choose>`: every choice scored on a local
   model, choice-constrained generation on a server); ``how="constrained"``;
3. ``mode="generative"`` (as released): the model **answers** freely
   (:meth:`Backend.generate <cascadener.backends.base.Backend.generate>`, greedy, budget = the
   longest choice's token count + 4), and the answer is **matched** to the choices
   (:func:`cascadener.parsing.match_answer`); ``how="generated"``, score = the answer's probability;
4. an answer off the list is counted (``Classification.off_list``) and resolved by ``off_list``:
   ``"constrained"``: the question is asked again, kept to the choices (**constrained retry**,
   ``how="fallback-constrained"``); ``"closest"``, or when the retry's answer is still off the list
   (a server that stopped applying its constraint), the **closest** choice to the first answer
   (:func:`cascadener.parsing.closest_option`, ``how="fallback-closest"``, score 0).

Scores are probabilities where the backend gives them (a local model always; a server where it
returns logprobs), else ``None``. A policy the backend cannot apply (answers kept to the choices,
:attr:`Capabilities.choice <cascadener.backends.base.Capabilities.choice>` ``False``) is refused
before any work by :func:`check_capabilities` (the methods call it before stage 1, and
:func:`classify` before its first question): it is never quietly replaced by another. What was
applied is recorded (:func:`policy`, :func:`policy_label`).

Example (a backend that always answers ``"a city"`` and scores every choice alike):
    >>> from cascadener.backends.base import Capabilities, Choice, GeneratedText
    >>> class Parrot:
    ...     capabilities = Capabilities(choice=True, scores=True)
    ...     def token_counts(self, texts): return [len(t) for t in texts]
    ...     def generate(self, prompts, *, max_new_tokens, options, seed=0, usage=None, on_batch=None,
    ...                  what="stage 1"):
    ...         return [[GeneratedText("a city", (), logprob=-0.5)] for _ in prompts]
    ...     def choose(self, requests, *, batch_size=8, usage=None, on_batch=None, what="stage 2"):
    ...         return [Choice(r.choices[0], 0, 1 / len(r.choices), (1 / len(r.choices),) * len(r.choices))
    ...                 for r in requests]
    >>> asked = [ClassifyRequest("Graz?", ("person", "city")), ClassifyRequest("Ada?", ("person", "animal")),
    ...          ClassifyRequest("Oslo?", ("city",))]
    >>> [(c.label, c.how) for c in classify(Parrot(), asked)]
    [('city', 'generated'), ('person', 'fallback-constrained'), ('city', 'only-option')]
    >>> [(c.label, c.how) for c in classify(Parrot(), asked[1:2], options=ClassifyOptions(off_list="closest"))]
    [('animal', 'fallback-closest')]
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from typing import Any

from cascadener.backends.base import (
    CANDIDATE_SCORING,
    Backend,
    Capabilities,
    Choice,
    Classification,
    ClassifyOptions,
    ClassifyRequest,
    GeneratedText,
    GenerationOptions,
    Usage,
)
from cascadener.parsing import closest_option, match_answer

__all__ = ["classify", "check_capabilities", "check_scores", "answer_budgets", "needs_choice", "policy",
           "policy_label"]

#: new tokens a free answer may take beyond its longest choice
ANSWER_SLACK = 4


def needs_choice(options: ClassifyOptions) -> bool:
    """Whether the policy needs answers kept to the choices: constrained classification, or generative
    answers off the list asked again (``off_list="constrained"``, the default).

    >>> needs_choice(ClassifyOptions()), needs_choice(ClassifyOptions(off_list="closest"))
    (True, False)
    """
    return options.mode == "constrained" or options.off_list == "constrained"


def check_capabilities(capabilities: Capabilities, options: ClassifyOptions) -> None:
    """Refuse (``ValueError``) a stage-2 policy the backend cannot apply, before any work, naming the
    ways out: another backend (``capabilities.remedy``) or a policy it can apply.

    >>> check_capabilities(Capabilities(choice=False, scores=None, remedy="use another server"), ClassifyOptions())
    Traceback (most recent call last):
    ...
    ValueError: off-list answers are asked again kept to the choices (off_list 'constrained', the default), which this backend cannot do: use another server; or take the textually closest choice instead (--off-list closest)
    """
    if capabilities.choice is not False or not needs_choice(options):
        return
    remedy = f": {capabilities.remedy}" if capabilities.remedy else ""
    if options.mode == "constrained":
        raise ValueError("constrained classification needs answers kept to the choices, which this backend cannot "
                         f"do{remedy}; or classify generatively and take the textually closest choice for off-list "
                         "answers (--classification generative --off-list closest)")
    raise ValueError("off-list answers are asked again kept to the choices (off_list 'constrained', the default), "
                     f"which this backend cannot do{remedy}; or take the textually closest choice instead "
                     "(--off-list closest)")


def policy(options: ClassifyOptions, capabilities: Capabilities) -> dict[str, Any]:
    """What stage 2 applies, as recorded beside a run: the classification, the off-list fallback (of
    generative answers), how answers are kept to the choices where the policy needs it
    (``choice_constraint``: ``"candidate scoring"`` on a local model, a server's adapter such as
    ``"choice (structured_outputs)"``) and whether scores are probabilities.

    >>> policy(ClassifyOptions(off_list="closest"), Capabilities(choice=False, scores=False))
    {'classification': 'generative', 'off_list': 'closest', 'choice_constraint': None, 'scores': False}
    """
    return {"classification": options.mode, "off_list": options.off_list if options.mode == "generative" else None,
            "choice_constraint": capabilities.constraint if needs_choice(options) else None,
            "scores": capabilities.scores}


def policy_label(method: str, options: ClassifyOptions, capabilities: Capabilities) -> str:
    """The method as results and leaderboards name it: ``<method>-<classification>``, ``-closest``
    when off-list answers take the closest choice, ``-decoding`` when answers are kept to the
    choices by a server's constrained decoding (greedy under the constraint) rather than by scoring
    every choice. Runs of different labels are different setups, never ranked as one.

    >>> local = Capabilities(choice=True, scores=True, constraint=CANDIDATE_SCORING)
    >>> served = Capabilities(choice=True, scores=True, constraint="choice (structured_outputs)")
    >>> policy_label("cascadener", ClassifyOptions(), local), policy_label("cascadener", ClassifyOptions(), served)
    ('cascadener-generative', 'cascadener-generative-decoding')
    >>> policy_label("cascadener", ClassifyOptions(off_list="closest"), served)
    'cascadener-generative-closest'
    """
    label = f"{method}-{options.mode}"
    if options.mode == "generative" and options.off_list == "closest":
        label += "-closest"
    if needs_choice(options) and capabilities.constraint not in (None, CANDIDATE_SCORING):
        label += "-decoding"
    return label


def check_scores(capabilities: Capabilities, threshold: float | None) -> None:
    """Refuse (``ValueError``), before any work, a confidence threshold on a backend whose answers carry
    no probabilities (``capabilities.scores`` ``False``: a server that returns no logprobs). A
    threshold compares each entity's score, the classifier's probability of the chosen type; without
    scores it would keep or drop everything, so it is never applied.

    >>> check_scores(Capabilities(choice=None, scores=False), 0.5)
    Traceback (most recent call last):
    ...
    ValueError: a threshold (0.5) needs scores, the classifier's probability of the chosen type, but this backend returns none (a server that returns no logprobs); use a server that returns logprobs, or no threshold
    >>> check_scores(Capabilities(choice=True, scores=True), 0.5), check_scores(Capabilities(choice=None, scores=False), None)
    (None, None)
    """
    if threshold is not None and capabilities.scores is False:
        raise ValueError(f"a threshold ({threshold}) needs scores, the classifier's probability of the chosen type, "
                         "but this backend returns none (a server that returns no logprobs); use a server that "
                         "returns logprobs, or no threshold")


def answer_budgets(backend: Backend, requests: Sequence[ClassifyRequest]) -> list[int]:
    """The new-token budget of each question's free answer: its longest choice + :data:`ANSWER_SLACK`
    (the distinct choices counted once, in one call)."""
    distinct = list(dict.fromkeys(choice for request in requests for choice in request.choices))
    counts = dict(zip(distinct, backend.token_counts(distinct))) if distinct else {}
    return [max(counts[choice] for choice in request.choices) + ANSWER_SLACK for request in requests]


def _probability(answer: GeneratedText) -> float | None:
    return None if answer.logprob is None else min(1.0, math.exp(answer.logprob))


def _chosen_index(choice: Choice, choices: Sequence[str]) -> int | None:
    """The choice a :class:`Choice` names: its index where the backend guarantees one, else its answer
    matched to the list (``None``: off the list)."""
    if choice.index is not None:
        return choice.index
    return match_answer(choice.answer, choices).index


def _closest(request: ClassifyRequest, answer: str) -> Classification:
    best = closest_option(answer, request.choices)
    return Classification(label=request.choices[best], index=best, score=0.0, answer=answer, how="fallback-closest")


def classify(
    backend: Backend,
    requests: Sequence[ClassifyRequest],
    *,
    options: ClassifyOptions = ClassifyOptions(),
    usage: Usage | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[Classification]:
    """One :class:`Classification` per request, in order (the chain of the module docstring).

    ``usage`` counts what the backend ran (every request, retries included); ``on_batch(n)``
    reports ``n`` questions answered (a retry reports nothing more).
    """
    for index, request in enumerate(requests):
        if not request.choices:
            raise ValueError(f"classification request {index} offers no choices")
    check_capabilities(backend.capabilities, options)
    results: list[Classification | None] = [None] * len(requests)
    todo = []
    for index, request in enumerate(requests):
        if len(request.choices) == 1:
            results[index] = Classification(label=request.choices[0], index=0, score=1.0, answer=request.choices[0],
                                            how="only-option", probabilities=(1.0,))
        else:
            todo.append(index)
    if not todo:
        return [r for r in results if r is not None]
    asked = [requests[i] for i in todo]
    if options.mode == "constrained":
        chosen = backend.choose(asked, batch_size=options.batch_size, usage=usage, on_batch=on_batch)
        for index, choice in zip(todo, chosen):
            request = requests[index]
            picked = _chosen_index(choice, request.choices)
            if picked is None:  # a server that ignored the constraint
                results[index] = _closest(request, choice.answer)
                continue
            results[index] = Classification(
                label=request.choices[picked], index=picked, score=choice.score, answer=choice.answer,
                how="constrained" if choice.constrained else "generated", probabilities=choice.probabilities)
        return [r for r in results if r is not None]
    generated = backend.generate([request.prompt for request in asked], max_new_tokens=answer_budgets(backend, asked),
                                 options=GenerationOptions(batch_size=options.batch_size, with_scores=True),
                                 usage=usage, on_batch=on_batch, what="stage 2")
    off_list: list[tuple[int, str]] = []
    for index, outputs in zip(todo, generated):
        answer = outputs[0]
        match = match_answer(answer.text, requests[index].choices)
        if match.label is None:
            off_list.append((index, answer.text))
            continue
        results[index] = Classification(label=match.label, index=match.index, score=_probability(answer),
                                        answer=answer.text, how="generated")
    if off_list and options.off_list == "constrained":
        retried = backend.choose([requests[index] for index, _ in off_list], batch_size=options.batch_size,
                                 usage=usage, what="stage 2 fallback")
        still = []
        for (index, first), choice in zip(off_list, retried):
            request = requests[index]
            picked = _chosen_index(choice, request.choices)
            if picked is None:
                still.append((index, first))
                continue
            results[index] = Classification(label=request.choices[picked], index=picked, score=choice.score,
                                            answer=first, how="fallback-constrained",
                                            probabilities=choice.probabilities)
        off_list = still
    for index, first in off_list:
        results[index] = _closest(requests[index], first)
    return [r for r in results if r is not None]
