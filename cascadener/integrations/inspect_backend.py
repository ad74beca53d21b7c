"""The backend primitives on the model an Inspect AI evaluation runs.

:class:`InspectBackend` is a :class:`cascadener.backends.base.Backend` whose answers come from an
Inspect ``Model`` (``get_model()`` in a solver: the ``--model`` of ``inspect eval``). The methods
above it run unchanged: the same prompts (:mod:`cascadener.prompts`, sent as a system message
and a user message, the chat form of every backend), the same parsing and the same stage-2 chain
(:mod:`cascadener.stage2`). Only the primitives differ:

- :meth:`InspectBackend.generate`: one ``Model.generate`` per prompt (and per sample of a
  self-consistent stage 1), all of a call's prompts in flight at once; greedy is ``temperature 0``,
  each answer's budget is ``max_tokens``, ``seed`` is sent, and scored answers ask for ``logprobs``
  (a provider that returns them gives probabilities; otherwise scores are ``None``);
- :meth:`InspectBackend.choose`: Inspect's model API has no way to keep an answer to a list of
  choices, so :attr:`InspectBackend.capabilities` says ``choice=False``: constrained classification
  is refused before any work, and an off-list answer takes the closest choice;
- :meth:`InspectBackend.token_counts`: a text's UTF-8 byte length, an upper bound of its tokens
  under any byte-level tokenizer (the budgets of the ``openai`` backend, which has no tokenizer
  either); generation still stops at the end of the turn.

The methods are synchronous; Inspect's solvers are coroutines. A solver runs the method in a worker
thread (:func:`run_in_worker`), and each primitive hands its requests back to the event loop
(``anyio.from_thread``) and waits, so the calls are Inspect's own: they appear in the sample's
transcript, count towards its limits and use the provider's connections and retries.

Example (a solver; ``inspect eval cascadener/dynamicner`` runs the kit's own,
:func:`cascadener.integrations.inspect_task.predict_entities`):

.. code-block:: python

    from inspect_ai.model import get_model
    from inspect_ai.solver import solver

    @solver
    def cascade():
        async def solve(state, generate):
            ner = CascadeNER.from_backends(InspectBackend(get_model()))
            run = await run_in_worker(ner.run, [state.input_text], [state.metadata["type_list"]])
            state.store.set("entities", run.predictions[0].entities)
            return state
        return solve

>>> InspectBackend.capabilities.choice, InspectBackend.name
(False, 'inspect')
>>> InspectBackend(model=None).token_counts(["Paris", "Zürich"])
[5, 7]
"""

from __future__ import annotations

import argparse
import functools
import math
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from cascadener.backends.base import (Capabilities, ChatPrompt, Choice, ClassifyRequest, GeneratedText, GenerationOptions,
                                      Prompt, Usage)
from cascadener.methods import DEFAULT_METHOD, method_class
from cascadener.prompts import SYSTEM_PROMPT, chat_messages

if TYPE_CHECKING:
    from inspect_ai.model import Model, ModelOutput

__all__ = ["InspectBackend", "run_in_worker", "method_options", "TaskOptionError", "INSTALL_HINT"]

#: what to install when inspect-ai is missing
INSTALL_HINT = 'the Inspect AI task needs inspect-ai: pip install "dynamicner-kit[inspect]"'

try:
    import anyio  # inspect-ai's own async layer
    import anyio.from_thread
    import anyio.to_thread
except ImportError:  # pragma: no cover - the [inspect] extra brings it
    raise ImportError(INSTALL_HINT) from None

_T = TypeVar("_T")


class TaskOptionError(ValueError):
    """A task option that cannot be used, named with what it takes."""


async def run_in_worker(function: Callable[..., _T], *args: Any, **keywords: Any) -> _T:
    """``function(*args, **keywords)`` in a worker thread, awaited: how a solver runs a method whose
    backend is an :class:`InspectBackend` (its primitives call back into the event loop)."""
    return await anyio.to_thread.run_sync(functools.partial(function, *args, **keywords))


class InspectBackend:
    """One Inspect ``Model`` as a backend (see the module docstring). ``system``: the system message
    of every request (the kit's prompts' own by default)."""

    name = "inspect"
    description = "the model of an Inspect AI evaluation (inspect eval cascadener/dynamicner --model ...)"
    #: Inspect's model API keeps no answer to a list of choices and scores none
    capabilities = Capabilities(
        choice=False, scores=None, constraint=None,
        remedy="Inspect's model API keeps no answer to a list of choices: use cascadener predict's local "
               "backend, or its openai backend on a server that applies choice constraints")
    #: the model's context is not known here: texts are sent whole
    context_tokens = None

    def __init__(self, model: Model, *, system: str | None = SYSTEM_PROMPT) -> None:
        self.model = model
        self.system = system

    def prepare(self, *, choice: bool) -> Capabilities:
        """Nothing to learn: Inspect's model API keeps no answer to the choices (:attr:`capabilities`)."""
        return self.capabilities

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Each text's UTF-8 byte length: an upper bound of its token count (no tokenizer at hand)."""
        return [len(text.encode("utf-8")) for text in texts]

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: Sequence[int],
        options: GenerationOptions,
        seed: int = 0,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
        what: str = "stage 1",
    ) -> list[list[GeneratedText]]:
        """``options.num_return_sequences`` answers per prompt, in input order; greedy unless
        ``options.do_sample`` (then ``temperature``, ``top_p`` and the seeds ``seed, seed + 1, ...``).
        Called from a worker thread (:func:`run_in_worker`)."""
        if len(max_new_tokens) != len(prompts):
            raise ValueError(f"{len(max_new_tokens)} budgets for {len(prompts)} prompts")
        from inspect_ai.model import GenerateConfig

        n = options.num_return_sequences
        jobs = [(i, k) for i in range(len(prompts)) for k in range(n)]
        configs = [GenerateConfig(max_tokens=int(max_new_tokens[i]),
                                  temperature=options.temperature if options.do_sample else 0.0,
                                  top_p=options.top_p if options.do_sample else None, seed=seed + k,
                                  logprobs=True if options.with_scores else None)
                   for i, k in jobs]
        outputs = anyio.from_thread.run(self._generate_all, [prompts[i] for i, _ in jobs], configs)
        results: list[list[GeneratedText]] = [[] for _ in prompts]
        for (i, _), output in zip(jobs, outputs):
            results[i].append(_generated(output))
            _count(usage, output)
        if on_batch is not None and prompts:
            on_batch(len(prompts))
        return results

    def choose(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        batch_size: int = 8,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
        what: str = "stage 2",
    ) -> list[Choice]:
        """Refused: Inspect's model API cannot keep an answer to the choices (:attr:`capabilities`)."""
        raise ValueError(f"constrained classification: {self.capabilities.remedy}")

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": str(self.model)}

    async def _generate_all(self, prompts: Sequence[Prompt], configs: Sequence[Any]) -> list[ModelOutput]:
        """Every prompt at once on the event loop (the provider bounds its connections), in order."""
        from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

        kinds = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}
        outputs: list[Any] = [None] * len(prompts)

        async def one(index: int) -> None:
            prompt = prompts[index]
            chat = prompt.as_messages() if isinstance(prompt, ChatPrompt) else chat_messages(prompt, system=self.system)
            messages = [kinds[m["role"]](content=m["content"]) for m in chat]
            outputs[index] = await self.model.generate(messages, config=configs[index])

        async with anyio.create_task_group() as group:
            for index in range(len(prompts)):
                group.start_soon(one, index)
        return outputs


def _generated(output: ModelOutput) -> GeneratedText:
    """An Inspect answer as a :class:`GeneratedText` (no token ids: the provider keeps them); its
    log-probability where the provider returned the tokens' ``logprobs``."""
    logprob = None
    choice = output.choices[0] if output.choices else None
    if choice is not None and choice.logprobs is not None and choice.logprobs.content:
        logprob = float(math.fsum(token.logprob for token in choice.logprobs.content))
    return GeneratedText(text=output.completion, token_ids=(), logprob=logprob,
                         finished=output.stop_reason != "max_tokens")


def _count(usage: Usage | None, output: ModelOutput) -> None:
    """One request, with the tokens the provider reported (none reported: none counted)."""
    if usage is None:
        return
    reported = output.usage
    usage.add(Usage(requests=1, prompt_tokens=reported.input_tokens if reported else 0,
                    completion_tokens=reported.output_tokens if reported else 0))



def method_options(method: str = DEFAULT_METHOD, classification: str | None = None) -> Any:
    """The options of ``method`` (its ``options_type``, built from its command-line names) with
    ``classification`` when given; ``TaskOptionError`` names an unknown method, an option the method
    does not take, a bad value, or what the evaluated model cannot do (before any sample runs).

    >>> method_options(classification="generative").classification
    'generative'
    >>> method_options(classification="constrained")
    Traceback (most recent call last):
    ...
    cascadener.integrations.inspect_backend.TaskOptionError: classification 'constrained' cannot run in Inspect: constrained classification needs answers kept to the choices, which this backend cannot do: Inspect's model API keeps no answer to a list of choices: use cascadener predict's local backend, or its openai backend on a server that applies choice constraints; or classify generatively and take the textually closest choice for off-list answers (--classification generative --off-list closest)
    >>> method_options().off_list  # the policy Inspect can apply, recorded as such
    'closest'
    """
    try:
        cls = method_class(method)
    except ValueError as error:
        raise TaskOptionError(f"method: {error}") from None
    if cls.uses_demonstrations:
        raise TaskOptionError(f"method {method!r} shows the model training sentences, which this task does not load "
                              f"(and takes no option to say how many): use cascadener predict --method {method} "
                              "(docs/methods.md)")
    given = {} if classification is None else {"classification": classification}
    known = {f.name for f in fields(cls.options_type)}
    for name in given:
        if name not in known:
            raise TaskOptionError(f"method {method!r} takes no option {name!r}; its options: {', '.join(sorted(known))}")
    # Inspect's model API keeps no answer to a list of choices: an off-list answer takes the closest
    # choice (the policy it can apply, recorded as such), never a constrained retry it cannot send
    chosen = {**({"off_list": "closest"} if "off_list" in known else {}), **given}
    try:
        options = cls.options_type.from_namespace(argparse.Namespace(**chosen))
    except ValueError as error:
        raise TaskOptionError(str(error)) from None
    try:
        cls.check_capabilities(options, extractor=InspectBackend.capabilities, classifier=InspectBackend.capabilities)
    except ValueError as error:
        raise TaskOptionError(f"classification {getattr(options, 'classification', None)!r} cannot run in Inspect: "
                              f"{error}") from None
    return options
