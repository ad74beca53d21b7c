"""What the pipeline asks of a backend, and the records that cross the boundary.

A backend runs ONE model (the extractor or the classifier; one object may serve both). The
methods above it (:mod:`cascadener.methods`: CascadeNER's two stages, the stage-2 chain of
:mod:`cascadener.stage2`) build every prompt, parse every answer, resolve off-list answers and
keep the order; a backend only provides primitives:

- :meth:`Backend.token_counts`: token counts, for the per-prompt budgets;
- :meth:`Backend.generate`: free answers to prompts, each within its own token budget (stage 1,
  and stage 2's generative answers);
- :meth:`Backend.choose`: one answer per question kept to its choices: every choice scored on a
  local model, choice-constrained generation on a server;
- :attr:`Backend.capabilities`: what it can do (:class:`Capabilities`: can it keep answers to the
  choices, does it give scores), and :meth:`Backend.prepare`, which learns it before any work (a
  server is probed once: :mod:`cascadener.backends.probe`), so that a run asking for what it
  cannot do is refused before any work (:func:`cascadener.stage2.check_capabilities`).

Anything above that (windows over long texts, chunking for ``--resume``, the cascade over a
taxonomy, the stage-2 chain) is the same for every backend.

Two implementations, registered by name in :mod:`cascadener.backends.registry`:
:class:`cascadener.backends.local.TransformersBackend` (a local ``AutoModelForCausalLM``) and
:class:`cascadener.backends.server.OpenAIBackend` (any OpenAI-compatible ``/v1/chat/completions``
endpoint).

Example:
    >>> usage = Usage(requests=2, prompt_tokens=30, completion_tokens=8)
    >>> usage.add(Usage(requests=1, retries=2, prompt_tokens=10, completion_tokens=3))
    >>> usage.as_stats("stage1")
    {'stage1_requests': 3, 'stage1_retries': 2, 'stage1_prompt_tokens': 40, 'stage1_completion_tokens': 11, 'stage1_empty_answers': 0}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, ClassVar, Literal, Mapping, Protocol, Sequence, Union, runtime_checkable

__all__ = ["Backend", "Usage", "Capabilities", "Choice", "ChatPrompt", "Prompt", "GenerationOptions", "GeneratedText",
           "ClassifyMode", "OffListFallback", "CLASSIFY_MODES", "OFF_LIST_FALLBACKS", "ClassifyOptions",
           "ClassifyRequest", "Classification", "BackendSettings", "CANDIDATE_SCORING", "prompt_head"]

#: the roles a :class:`ChatPrompt` may hold
CHAT_ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatPrompt:
    """A prompt given as whole chat messages, sent as they are: the backend adds no system prompt.

    A plain ``str`` prompt is one user turn under the backend's system prompt (CascadeNER's stages);
    a method whose published prompt is a conversation (PromptNER: a system text, exemplar turns, the
    question) or has no system text (GPT-NER) gives a ``ChatPrompt``. ``messages`` are
    ``(role, content)`` pairs ending with a user turn; the model answers as the assistant.

    >>> chat = ChatPrompt((("system", "Be brief."), ("user", "Hi?")))
    >>> chat.as_messages()
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi?'}]
    >>> ChatPrompt((("user", "a"), ("assistant", "b")))
    Traceback (most recent call last):
    ...
    ValueError: a chat prompt ends with a user turn, got 'assistant'
    """

    messages: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a chat prompt needs at least one message")
        for role, content in self.messages:
            if role not in CHAT_ROLES:
                raise ValueError(f"unknown chat role {role!r}; allowed: {', '.join(CHAT_ROLES)}")
            if not isinstance(content, str):
                raise TypeError(f"chat message contents are strings, got {type(content).__name__}")
        if self.messages[-1][0] != "user":
            raise ValueError(f"a chat prompt ends with a user turn, got {self.messages[-1][0]!r}")

    def as_messages(self) -> list[dict[str, str]]:
        """The messages as ``tokenizer.apply_chat_template`` and ``/v1/chat/completions`` take them."""
        return [{"role": role, "content": content} for role, content in self.messages]

    @property
    def text(self) -> str:
        """Every message's content, joined by newlines (what its length is estimated from)."""
        return "\n".join(content for _, content in self.messages)


#: what :meth:`Backend.generate` takes: one user turn (``str``) or a whole conversation
Prompt = Union[str, ChatPrompt]


def prompt_head(prompt: Prompt, width: int = 60) -> str:
    """The start of a prompt's last user turn on one line, for error messages.

    >>> prompt_head(ChatPrompt((("system", "s"), ("user", "Ada  met\\nBob"))))
    'Ada met Bob'
    """
    text = prompt.messages[-1][1] if isinstance(prompt, ChatPrompt) else prompt
    head = " ".join(text.split())
    return head if len(head) <= width else head[:width - 3] + "..."


@dataclass(frozen=True)
class GenerationOptions:
    """How to generate: batch size, greedy or sampled, and how many samples per prompt."""

    batch_size: int = 8
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    num_return_sequences: int = 1
    with_scores: bool = False
    share_prefix: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.num_return_sequences < 1:
            raise ValueError(f"num_return_sequences must be >= 1, got {self.num_return_sequences}")
        if self.num_return_sequences > 1 and not self.do_sample:
            raise ValueError("num_return_sequences > 1 needs do_sample=True (greedy samples are all equal)")
        if self.do_sample and self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 when sampling, got {self.temperature}")


@dataclass(frozen=True)
class GeneratedText:
    """One generated answer: decoded text, its new token ids (end token excluded) and, on request,
    the sum of log-probabilities of the generated tokens including the end token."""

    text: str
    token_ids: tuple[int, ...]
    logprob: float | None = None
    finished: bool = True


#: how a local model keeps answers to the choices: every choice scored as the answer
CANDIDATE_SCORING = "candidate scoring"

ClassifyMode = Literal["generative", "constrained"]
OffListFallback = Literal["constrained", "closest"]
CLASSIFY_MODES: tuple[str, ...] = ("generative", "constrained")
OFF_LIST_FALLBACKS: tuple[str, ...] = ("constrained", "closest")


@dataclass(frozen=True)
class ClassifyOptions:
    """How stage 2 answers (:func:`cascadener.stage2.classify`): ``mode`` ``"generative"`` (the model
    writes its answer, matched to the choices) or ``"constrained"`` (the answer kept to the choices);
    ``off_list``, for generative answers off the list: ``"constrained"`` (ask again, kept to the
    choices) or ``"closest"`` (the textually closest choice); ``batch_size``: questions per forward
    pass on a local model."""

    mode: ClassifyMode = "generative"
    off_list: OffListFallback = "constrained"
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.mode not in CLASSIFY_MODES:
            raise ValueError(f"unknown classification mode {self.mode!r}; allowed: {', '.join(CLASSIFY_MODES)}")
        if self.off_list not in OFF_LIST_FALLBACKS:
            raise ValueError(f"unknown off-list fallback {self.off_list!r}; allowed: {', '.join(OFF_LIST_FALLBACKS)}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class ClassifyRequest:
    """One stage-2 question: the user prompt and the choices it offers (the candidate labels, non-empty,
    unique)."""

    prompt: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class Choice:
    """One answer of :meth:`Backend.choose`.

    ``answer``: the chosen text. ``index``: the chosen choice, where the backend guarantees one
    (candidate scoring); ``None`` where the answer is text the chain must match to the list (a
    server's constrained answer: a server may ignore a constraint). ``score``: the answer's
    probability (``None`` where the backend gives none); ``probabilities``: one per choice, where
    every choice was scored. ``constrained``: whether the constraint was applied to this answer
    (``False``: the server refused every constraint field, the answer was free).
    """

    answer: str
    index: int | None = None
    score: float | None = None
    probabilities: tuple[float, ...] | None = None
    constrained: bool = True


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do in stage 2, as far as it knows now.

    ``choice``: can :meth:`Backend.choose` keep answers to the choices? ``True``: yes (every
    choice scored on a local model; a server whose probe showed it applies a constraint adapter);
    ``None``: not known yet (a server not probed yet); ``False``: it cannot, so a run that needs it
    is refused before any work. ``scores``: do answers carry probabilities? ``True``/``False``, or
    ``None`` before a server is probed. ``constraint``: how answers are kept to the choices
    (``"candidate scoring"``, a server's adapter such as ``"choice (structured_outputs)"``; ``None``:
    not at all). ``remedy``: what would give the missing capability, named when a run is refused.

    >>> Capabilities(choice=True, scores=True, constraint="candidate scoring").choice
    True
    """

    choice: bool | None
    scores: bool | None
    constraint: str | None = None
    remedy: str = ""


@dataclass(frozen=True)
class Classification:
    """The chosen label. ``how``: ``generated`` (answer matched the list), ``constrained``,
    ``fallback-constrained`` / ``fallback-closest`` (off-list answer resolved), ``only-option``.
    ``score``: a probability, or ``None`` where the backend gives none (a server without logprobs)."""

    label: str
    index: int
    score: float | None
    answer: str
    how: str
    probabilities: tuple[float, ...] | None = None

    @property
    def off_list(self) -> bool:
        return self.how.startswith("fallback")


@dataclass
class Usage:
    """What one stage cost: requests answered (prompts run, locally), extra attempts after a failure,
    the prompt and completion tokens (as the server reports them; counted locally otherwise), and
    the answers that came back empty (``""`` or ``null``: a model that wrote nothing)."""

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    empty_answers: int = 0

    def add(self, other: "Usage") -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_stats(self, stage: str) -> dict[str, int]:
        """The counts as flat ``<stage>_<count>`` keys (how :class:`cascadener.pipeline.PredictStats` holds them)."""
        return {f"{stage}_{key}": value for key, value in asdict(self).items()}


@runtime_checkable
class Backend(Protocol):
    """The interface the methods talk to (see the module docstring)."""

    #: the registry's name (``--backend``), and its one-line description (``--backend``'s help)
    name: str
    description: str
    #: the model's context length in tokens, ``None`` when unknown: a text whose stage-1 prompt and
    #: answer would not fit is read in windows (:mod:`cascadener.windows`)
    context_tokens: int | None

    @property
    def capabilities(self) -> Capabilities:
        """What the backend can do in stage 2, as far as it knows now (a server: once probed)."""
        ...

    def prepare(self, *, choice: bool) -> Capabilities:
        """Learn, before any work, what the backend can do for a run that needs answers kept to the
        choices (``choice``) or not, and return it: a local model knows; a server is probed once
        (up, serving the model, the request shape it takes, the constraint it applies)."""
        ...

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Token count of each text (an upper bound where the tokenizer is not at hand)."""
        ...

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
        """For each prompt (a user turn, chat-formatted with the system prompt; or a :class:`ChatPrompt`,
        sent as it is), in input order,
        ``options.num_return_sequences`` answers within the prompt's own token budget
        (``max_new_tokens[i]``). ``usage`` counts what was run; ``on_batch(n)`` reports ``n``
        prompts done; ``what`` names the requests in errors (``"stage 2"``)."""
        ...

    def choose(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        batch_size: int = 8,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
        what: str = "stage 2",
    ) -> list[Choice]:
        """One :class:`Choice` per question, in order, kept to its choices as far as
        :attr:`capabilities` says (a backend that cannot raises ``ValueError``)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What identifies the backend's outputs, for the predictions meta (never a credential)."""
        ...


class BackendSettings(Protocol):
    """Everything a registered backend needs to be built, known before it is (each backend class names
    its own as ``settings_type``: :class:`~cascadener.backends.local.LocalSettings`,
    :class:`~cascadener.backends.server.EndpointSettings`). A frozen dataclass; the command line
    builds it with :meth:`from_namespace` and checks a run with it before any work."""

    #: the registry name of the backend it builds
    backend: ClassVar[str]
    #: whether the backend loads model weights here (so they can be checked, identified by their files,
    #: and trained here first); a server holds its own
    loads_weights: ClassVar[bool]
    #: whether a prompt's answer is independent of the other prompts processed with it (a server
    #: answers each request alone); local batches are not (padding changes a score's last digits),
    #: so a part of a sharded run predicts its rows in the chunks of an unsharded run
    #: (:mod:`cascadener.scale.shards`)
    batch_invariant: ClassVar[bool]
    #: the command-line flags (argparse dests) it is read from, with their defaults
    flags: ClassVar[Mapping[str, Any]]
    #: what a flag does, said when it is given to another backend
    hints: ClassVar[Mapping[str, str]]

    @classmethod
    def from_namespace(cls, args: Any) -> "BackendSettings":
        """The settings of parsed command-line arguments; ``ValueError`` naming the flag otherwise."""
        ...

    def models(self) -> dict[str, str]:
        """Local model files per role (``extractor``, ``classifier``): checked before loading and
        identified by their files; empty for a server."""
        ...

    def identity(self) -> dict[str, Any]:
        """What ``--resume`` compares beyond the model files (never a URL's secret or a key)."""
        ...

    def record(self) -> dict[str, Any] | None:
        """What is recorded beside the identity but not compared (a server's URL, timeouts)."""
        ...

    def capabilities(self) -> Capabilities:
        """The stage-2 capabilities of the backends it builds, before they are built."""
        ...

    def in_flight(self, batch_size: int) -> int:
        """How many prompts the backend processes at once."""
        ...

    def build(self) -> tuple[Backend, Backend | None]:
        """The extractor's backend and the classifier's (``None``: the extractor's)."""
        ...
