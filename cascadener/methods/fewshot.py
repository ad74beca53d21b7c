"""What the prompt methods share (GPT-NER, PromptNER): one model, prompts with training sentences in
them, long texts in windows, and the runs' records.

:class:`PromptMethod` is the :class:`~cascadener.methods.base.Method` plumbing both subclass: built
from one backend (``from_backends``, ``from_settings``, ``from_pretrained``, ``from_endpoint``), the
text checks CascadeNER makes, the number of demonstrations, the setting the results record, and
:meth:`PromptMethod.run`, which hands each subclass's ``_run`` checked texts, lists and languages.

How many demonstrations a prompt shows (``options.demonstrations``): as given; or, left ``None``, none
for a model fine-tuned on the method's own prompts (its folder holds
:data:`~cascadener.methods.base.TRAINED_FOR_FILE`, written by ``cascadener train --method``) and the
published number otherwise (:attr:`PromptMethod.default_demonstrations`). A prompt that shows
demonstrations needs training sentences (``options.pool``); :meth:`PromptMethod.check` refuses a run
without them before any work.

Long texts (:func:`pieces`): a text whose prompt (the method's frame around it, without
demonstrations) and answer would not fit the model's context (:attr:`Backend.context_tokens`) is
read in overlapping windows (:mod:`cascadener.windows`), each asked on its own, the spans mapped
back and merged at the seams. Demonstrations that do not fit beside a question are dropped from the
end of the list (:func:`fit`), counted in ``missing_demonstrations``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

from cascadener.backends.base import Backend, BackendSettings, Capabilities, ChatPrompt
from cascadener.methods.base import fine_tuned_for, setting_of, trained_for
from cascadener.pipeline import PredictionRun, check_languages, check_texts, check_type_lists
from cascadener.windows import PROMPT_OVERHEAD, Window, split_windows

__all__ = ["PromptMethod", "Conversations", "pieces", "text_limit", "fit", "MESSAGE_OVERHEAD", "progress_bar"]

#: tokens a chat template adds around each message (role markers), beside :data:`PROMPT_OVERHEAD`
MESSAGE_OVERHEAD = 8


def text_limit(context_tokens: int | None, *, frame_tokens: int, per_token: int, extra: int) -> int | None:
    """The most text tokens one prompt may hold: the frame, the text, :data:`PROMPT_OVERHEAD` tokens of
    chat template and the answer (``per_token`` * text + ``extra``) must fit the context (``None``: unknown).

    >>> text_limit(1024, frame_tokens=100, per_token=2, extra=16)
    281
    >>> text_limit(None, frame_tokens=100, per_token=2, extra=16) is None
    True
    """
    if context_tokens is None:
        return None
    limit = (context_tokens - PROMPT_OVERHEAD - frame_tokens - extra) // (1 + per_token)
    if limit < 1:
        raise ValueError(f"a context of {context_tokens} tokens leaves no room for text beside a prompt of "
                         f"{frame_tokens} tokens")
    return limit


def pieces(backend: Backend, texts: Sequence[str], limits: Sequence[int | None]) -> list[list[Window]]:
    """Per text, the windows it is read in: none for an empty text, the whole text when it fits its
    limit (``limits[i]`` text tokens, ``None``: no limit), else overlapping windows."""
    out: list[list[Window]] = [[] for _ in texts]
    todo = [i for i, text in enumerate(texts) if text.strip()]
    counts = backend.token_counts([texts[i] for i in todo]) if any(limits[i] is not None for i in todo) else []
    for position, index in enumerate(todo):
        limit = limits[index]
        if limit is None or counts[position] <= limit:
            out[index] = [Window(0, len(texts[index]))]
        else:
            out[index] = split_windows(texts[index], max_tokens=limit, count_tokens=backend.token_counts)
    return out


def fit(backend: Backend, build: Callable[[int], ChatPrompt], k: int, budget: int) -> tuple[ChatPrompt, int]:
    """The prompt ``build(j)`` with the most demonstrations ``j <= k`` that fits the context beside an
    answer of ``budget`` tokens, and how many were dropped (all of them may be)."""
    prompt = build(k)
    context = backend.context_tokens
    if context is None:
        return prompt, 0
    shown = k
    while shown > 0:
        size = backend.token_counts([prompt.text])[0] + PROMPT_OVERHEAD + MESSAGE_OVERHEAD * len(prompt.messages)
        if size + budget <= context:
            break
        shown -= 1
        prompt = build(shown)
    return prompt, k - shown


def progress_bar(enabled: bool, total: int, desc: str, unit: str):
    """A tqdm bar (``None`` when disabled)."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


@dataclass
class Conversations:
    """Supervised fine-tuning conversations in a method's own format (:meth:`PromptMethod.conversations`):
    rows ``{"id", "messages"}``, and what could not be used, counted (``skipped``: reason -> count) with
    a few examples (``notes``)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, note: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.notes) < 20:
            self.notes.append(note)

    def summary(self) -> str:
        skipped = ", ".join(f"{count} {reason}" for reason, count in self.skipped.items()) or "nothing skipped"
        return f"{self.records} records -> {len(self.rows)} conversations; {skipped}"

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "conversations": len(self.rows), "skipped": dict(self.skipped),
                "notes": list(self.notes)}


@dataclass(frozen=True)
class _Model:
    """What was found about the model: whether it was fine-tuned on the method's prompts."""

    fine_tuned: bool
    trained: dict[str, Any] | None = None


def _model_of(backend: Backend, method: str) -> _Model:
    model = getattr(backend, "model", None)
    path = getattr(model, "name_or_path", None) if model is not None else None
    trained = trained_for(path) if isinstance(path, str) and path else None
    return _Model(fine_tuned=bool(trained and trained.get("method") == method), trained=trained)


class PromptMethod:
    """The plumbing of a prompt method on one model (see the module doc); subclasses set the class
    attributes and implement ``_run`` and :meth:`prompt_hash`."""

    name: ClassVar[str]
    description: ClassVar[str]
    options_type: ClassVar[type]
    reads_taxonomy: ClassVar[bool] = False
    uses_demonstrations: ClassVar[bool] = True
    single_model: ClassVar[bool] = True  # no classifier
    #: demonstrations per prompt of the published setting (when the options leave it to the method and
    #: the model was not fine-tuned on the method's prompts)
    default_demonstrations: ClassVar[int]

    def __init__(self, backend: Backend, *, fine_tuned: bool | None = None) -> None:
        if not isinstance(backend, Backend):
            raise TypeError(f"{self.name} needs a cascadener backend, got {type(backend).__name__}")
        self.extractor_backend: Backend = backend
        self.classifier_backend: Backend = backend
        self.model = getattr(backend, "model", None)
        self.tokenizer = getattr(backend, "tokenizer", None)
        found = _model_of(backend, self.name)
        #: whether the model was fine-tuned on this method's prompts (``None`` given: read from its folder)
        self.fine_tuned: bool = found.fine_tuned if fine_tuned is None else fine_tuned
        self.last_stats = None

    # ------------------------------------------------------------------------------ building

    @classmethod
    def from_backends(cls, extractor: Backend, classifier: Backend | None = None) -> "PromptMethod":
        """The method on a built backend (it runs one model: a second one is refused)."""
        if classifier is not None and classifier is not extractor:
            raise ValueError(f"{cls.name} runs one model; give no classifier (--classifier, --classifier-model "
                             "are cascadener's)")
        return cls(extractor)

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> "PromptMethod":
        """The method on the backend a registered backend's settings build."""
        return cls.from_backends(*settings.build())

    @classmethod
    def from_pretrained(cls, model: str, *, device: str | None = None, torch_dtype: Any = None,
                        trust_remote_code: bool = False) -> "PromptMethod":
        """The method on a local model (directory or Hub id), loaded with ``AutoModelForCausalLM``."""
        from cascadener.backends.local import LocalSettings

        return cls.from_settings(LocalSettings(str(model), device=device, dtype=torch_dtype,
                                               trust_remote_code=trust_remote_code))

    @classmethod
    def from_endpoint(cls, endpoint: Any, model: str, *, context_tokens: int | None = None,
                      tokenizer: str | None = None) -> "PromptMethod":
        """The method on an OpenAI-compatible server: ``endpoint`` an
        :class:`~cascadener.backends.http.EndpointOptions` or its URL, ``model`` the served name.
        Nothing is sent until the first run, which probes the server first. ``context_tokens``: the
        served model's context (longer texts are read in windows); ``tokenizer``: the served model's
        tokenizer (a folder or Hub id) for the token budgets (``None``: ``model``'s own when it names a
        model folder here, else UTF-8 bytes)."""
        from cascadener.backends.http import EndpointOptions
        from cascadener.backends.server import EndpointSettings

        endpoint = EndpointOptions(endpoint) if isinstance(endpoint, str) else endpoint
        return cls.from_settings(EndpointSettings(endpoint, model, context_tokens=context_tokens, tokenizer=tokenizer))

    # ------------------------------------------------------------------------------ checks and records

    @classmethod
    def check_capabilities(cls, options: Any, *, extractor: Capabilities, classifier: Capabilities) -> None:
        """Nothing to refuse: the prompt methods ask only for free answers, which every backend gives."""

    def demonstrations_for(self, options: Any) -> int:
        """Demonstrations per prompt (see the module doc)."""
        if options.demonstrations is not None:
            return options.demonstrations
        return 0 if self.fine_tuned else self.default_demonstrations

    def check(self, options: Any) -> dict[str, Any]:
        """Prepare the backend (a server is probed once, before any work: up, serving the model, the
        request shape it takes), refuse a run that shows demonstrations without training sentences,
        and return how the results name the run (:meth:`applied_policy`)."""
        if not isinstance(options, self.options_type):
            raise TypeError(f"{self.name} takes {self.options_type.__name__}, got {type(options).__name__}")
        shown = self.demonstrations_for(options)
        if shown and options.pool is None:
            reason = "" if options.demonstrations is not None else (
                " (the published setting; a model fine-tuned on its prompts needs none)")
            raise ValueError(f"{self.name} shows {shown} demonstrations per prompt{reason}: give training sentences "
                             "to draw them from (pool=DemonstrationPool(...), --demonstrations-from), or "
                             "demonstrations=0 (--demonstrations 0)")
        self.extractor_backend.prepare(choice=False)  # free answers only
        return self.record_for(options, fine_tuned=self.fine_tuned)

    @classmethod
    def label(cls, options: Any) -> str:
        """The results' ``pipeline.method``."""
        return cls.name

    @classmethod
    def applied_policy(cls, options: Any, *, classifier: Capabilities | None = None,
                       model: str | None = None) -> dict[str, Any]:
        """How the results name a run, without building anything: the method's label, the setting and
        the demonstrations per prompt, for the local ``model`` folder (``None``: a served model; whether
        it is fine-tuned on the method's prompts is read from the folder). ``classifier`` is unused:
        the prompt methods apply no stage-2 policy."""
        return cls.record_for(options, fine_tuned=fine_tuned_for(cls.name, model))

    @classmethod
    def record_for(cls, options: Any, *, fine_tuned: bool) -> dict[str, Any]:
        """:meth:`check`'s record for a model ``fine_tuned`` on the method's prompts, or not."""
        shown = options.demonstrations if options.demonstrations is not None else (
            0 if fine_tuned else cls.default_demonstrations)
        record = {"method": cls.label(options), "setting": setting_of(fine_tuned=fine_tuned, demonstrations=shown),
                  "demonstrations": shown}
        if shown and options.pool is not None:
            record["demonstrations_from"] = options.pool.description
        return record

    def describe(self) -> dict[str, Any]:
        """The backend as recorded in the predictions meta (one model: the ``extractor``)."""
        return {"extractor": self.extractor_backend.describe()}

    # ------------------------------------------------------------------------------ training data

    @classmethod
    def conversations(cls, records: Sequence[Mapping[str, Any]]) -> Conversations:
        """Supervised fine-tuning conversations in the method's own format, from span records
        ``{id?, text, entities, type_list?}`` (a record without a ``type_list`` is asked about the types
        of its gold entities). The prompts are the prediction's, with no demonstration: a fine-tuned
        model is asked without them (:meth:`demonstrations_for`)."""
        from cascadener.methods.demonstrations import demonstration_of

        out = Conversations()
        for index, record in enumerate(records):
            out.records += 1
            demo = demonstration_of(record, index)
            if not demo.text.strip():
                out.skip("empty texts", f"record {demo.id}: empty text")
                continue
            types = record.get("type_list")
            if types is None:
                types = sorted({label for _, _, label in demo.entities} | demo.unplaced)
            elif isinstance(types, str) or not all(isinstance(t, str) and t.strip() for t in types):
                raise ValueError(f"record {demo.id!r}: field 'type_list' must be a list of type names")
            if not types:
                out.skip("records without types", f"record {demo.id}: no type_list and no entity")
                continue
            cls._conversations_of(demo, tuple(dict.fromkeys(types)), out)
        return out

    @classmethod
    def _conversations_of(cls, demo: Any, types: tuple[str, ...], out: Conversations) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------------ running

    def run(self, texts: Sequence[str], type_lists: Sequence[Sequence[str] | None] | None = None, *,
            options: Any = None, languages: Sequence[str | None] | None = None, cascade: bool = False,
            progress: bool = False) -> PredictionRun:
        """One :class:`~cascadener.pipeline.Prediction` per text, in order, and the run's counts.

        ``type_lists[i]``: the candidate types of text ``i`` (required: the method reads no taxonomy);
        ``languages[i]``: its language (demonstrations come from training sentences of the same language).
        """
        options = self.options_type() if options is None else options
        texts = check_texts(texts)
        lists = check_type_lists(type_lists, len(texts))
        langs = check_languages(languages, len(texts))
        if cascade:
            raise ValueError(f"{self.name} reads no taxonomy: run(cascade=True) is cascadener's")
        for index, types in enumerate(lists):
            if types is None:
                raise ValueError(f"type_lists[{index}] is None: {self.name} needs a type list for every text "
                                 "(the taxonomy cascade is cascadener's)")
        self.check(options)
        return self._run(texts, [tuple(dict.fromkeys(types)) for types in lists], langs, options, progress)

    def frame_tokens(self, types: tuple[str, ...]) -> int:
        """Tokens of the prompt around a text with this type list, without demonstrations (what the
        window limit of :func:`text_limit` keeps room for)."""
        raise NotImplementedError

    def _run(self, texts: list[str], lists: list[tuple[str, ...]], languages: list[str | None], options: Any,
             progress: bool) -> PredictionRun:
        raise NotImplementedError

    def predict(self, texts: Sequence[str], type_lists: Sequence[Sequence[str]], *, options: Any = None,
                languages: Sequence[str | None] | None = None, progress: bool = False) -> list[list[dict[str, Any]]]:
        """One list of ``{text, label, start, end, score}`` per text (``score`` is ``None``: the answer is
        free text); the counts of the call in ``last_stats``."""
        run = self.run(texts, type_lists, options=options, languages=languages, progress=progress)
        self.last_stats = run.stats
        return [prediction.entities for prediction in run.predictions]

    def predict_entities(self, text: str, labels: Sequence[str], *, options: Any = None,
                         language: str | None = None) -> list[dict[str, Any]]:
        """Entities of one ``text`` typed from ``labels``."""
        if not isinstance(text, str):
            raise TypeError(f"predict_entities takes one text (str), got {type(text).__name__}")
        return self.predict([text], [labels], options=options, languages=[language])[0]
