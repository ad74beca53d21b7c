"""The two-stage CascadeNER pipeline on any ``AutoModelForCausalLM``.

Named public steps: :meth:`CascadeNER.extract` (stage 1: batched generation, then
:func:`cascadener.parsing.parse_extraction` onto the original sentence) ->
:meth:`CascadeNER.classify_mentions` (stage 2: per-sample list, or the hierarchical cascade over a
taxonomy) -> entity records ``{text, label, start, end, score}``.

- Stage-1 budget: ``max_new_tokens`` = :func:`cascadener.prompts.stage1_budget` of the sentence's tokens
  (the answer is the sentence plus markers), optionally capped; never the reference's fixed 512.
- Per-sample lists (``type_lists[i]``, e.g. a DynamicNER ``type_list``) are offered as one list
  ("first list" in the released format). Without one (``None``), the hierarchical cascade runs
  over ``taxonomy`` (default: the DynamicNER hierarchy): level 1, then the chosen node's children
  ("second list"), then theirs ("third list"), until a leaf. The label is the deepest chosen name;
  the score the product of the level scores.
- Off-list answers are counted in :class:`PredictStats` and resolved (the stage-2 chain,
  :mod:`cascadener.stage2`); sentences are never dropped. Invented stage-1 mentions are dropped and counted.
- Long texts: a text whose stage-1 prompt and answer would not fit the model's context
  (:attr:`Backend.context_tokens`, or ``max_text_tokens``) is read in overlapping windows and its
  mentions merged back onto the whole text (:mod:`cascadener.windows`); each stage-2 question
  quotes the window around its mention. Never truncated; counted as ``split_texts`` / ``windows``.
- Self-consistency (``self_consistency=n > 1``): n sampled stage-1 outputs, their mentions merged,
  the longest overlapping span winning (:func:`cascadener.parsing.merge_extractions`).

Example (a random tiny model; real use loads a fine-tuned checkpoint directory or Hub id):
    >>> from cascadener.training.tiny import train_tokenizer, build_model, TinyModelOptions
    >>> tok = train_tokenizer(["Ada met Bob ."], vocab_size=280)
    >>> model = build_model(tok, options=TinyModelOptions(hidden_size=32, intermediate_size=64))
    >>> ner = CascadeNER(model, tok)
    >>> out = ner.predict(["Ada met Bob .", ""], [["person", "city"], ["person"]], max_new_tokens=4)
    >>> len(out), out[1]
    (2, [])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from cascadener.backends.base import (
    Backend,
    BackendSettings,
    Capabilities,
    Classification,
    ClassifyMode,
    ClassifyOptions,
    ClassifyRequest,
    GenerationOptions,
    OffListFallback,
    Usage,
)
from cascadener.backends.http import EndpointOptions
from cascadener.backends.local import LocalSettings, pick_device
from cascadener.backends.server import EndpointSettings, ServerConstraints
from cascadener.options import PredictOptions, keep_scored
from cascadener.parsing import ExtractionResult, Mention, merge_extractions, parse_extraction
from cascadener.prompts import Stage2Template, cascade_prompt, prompt_hash, stage1_budget, stage1_prompt
from cascadener.stage2 import check_capabilities, check_scores, classify, needs_choice, policy, policy_label
from cascadener.windows import Window, context_window, merge_windows, split_windows, window_limit

if TYPE_CHECKING:
    from dynamicner_data.taxonomy import Taxonomy

__all__ = ["CascadeNER", "Prediction", "PredictionRun", "PredictOptions", "PredictStats", "EmptyAnswersError",
           "entity_record", "pick_device", "check_texts", "check_type_lists", "check_languages"]


class EmptyAnswersError(RuntimeError):
    """Every stage-1 answer of a call came back empty (``""`` or ``null``): the model wrote nothing at
    all, which an extractor never does for a sentence (it writes the sentence back, marked)."""


@dataclass
class PredictStats:
    """Counts of one run; nothing is silently dropped."""

    sentences: int = 0
    empty_sentences: int = 0
    mentions: int = 0
    invented_mentions: int = 0
    duplicate_mentions: int = 0
    overlapping_mentions: int = 0
    unbalanced_outputs: int = 0
    unfinished_outputs: int = 0
    split_texts: int = 0  # texts too long for one stage-1 prompt, read in windows
    windows: int = 0  # the windows those texts were read in
    classifications: int = 0
    off_list_answers: int = 0
    below_threshold: int = 0  # entities scored below the run's threshold, dropped
    # the prompt methods (cascadener.methods.fewshot): GPT-NER's mentions its self-verification answered
    # "no" to (dropped), spans kept under two or more types, answer items that could not be read,
    # demonstration slots left empty (too few training sentences, or dropped to fit the context)
    rejected_mentions: int = 0
    multi_type_mentions: int = 0
    unreadable_items: int = 0
    missing_demonstrations: int = 0
    # usage per stage (cascadener.backends.base.Usage): a server's requests, retries and tokens
    stage1_requests: int = 0
    stage1_retries: int = 0
    stage1_prompt_tokens: int = 0
    stage1_completion_tokens: int = 0
    stage1_empty_answers: int = 0  # answers "" or null: the model wrote nothing
    stage2_requests: int = 0
    stage2_retries: int = 0
    stage2_prompt_tokens: int = 0
    stage2_completion_tokens: int = 0
    stage2_empty_answers: int = 0

    def add(self, other: "PredictStats") -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def count_sentence(self, extraction: ExtractionResult, classified: Sequence[Sequence[Classification]],
                       more: Sequence[Sequence[Classification]] = ()) -> None:
        """Add one sentence's stage-1 counts and its mentions' stage-2 counts (``more``: further questions
        asked about the same mentions, e.g. the cascade beside a type list)."""
        self.sentences += 1
        self.empty_sentences += not extraction.sentence.strip()
        self.mentions += len(extraction.mentions)
        self.invented_mentions += len(extraction.invented)
        self.duplicate_mentions += extraction.duplicates
        self.overlapping_mentions += extraction.overlaps
        self.unbalanced_outputs += extraction.unbalanced
        if extraction.windows:
            self.split_texts += 1
            self.windows += len(extraction.windows)
        for levels in (*classified, *more):
            self.classifications += len(levels)
            self.off_list_answers += sum(result.off_list for result in levels)


def entity_record(mention: Mention, levels: Sequence[Classification], *, with_levels: bool = False) -> dict[str, Any]:
    """The span record of a classified mention: the deepest level's label, the product of the level scores
    (``with_levels``: plus ``levels``, the label chosen at each level of a cascade).

    >>> from cascadener.backends.base import Classification
    >>> levels = [Classification("location", 0, 0.5, "location", "generated"),
    ...           Classification("city", 1, 0.5, "city", "generated")]
    >>> entity_record(Mention(text="Paris", start=7, end=12), levels)
    {'text': 'Paris', 'label': 'city', 'start': 7, 'end': 12, 'score': 0.25}
    >>> entity_record(Mention(text="Paris", start=7, end=12), levels, with_levels=True)["levels"]
    ['location', 'city']
    """
    score: float | None = 1.0
    for result in levels:
        score = None if score is None or result.score is None else score * result.score
    record = {"text": mention.text, "label": levels[-1].label, "start": mention.start, "end": mention.end,
              "score": None if score is None else float(score)}
    if with_levels:
        record["levels"] = [result.label for result in levels]
    return record


@dataclass
class Prediction:
    """One sentence: its stage-1 result, the per-mention classifications and the entity records.

    With ``run(..., cascade=True)``, also the cascade down the taxonomy of every mention: ``cascade``
    (per mention, one classification per level) and ``cascade_entities`` (records with ``levels``).
    """

    text: str
    extraction: ExtractionResult
    classifications: list[list[Classification]] = field(default_factory=list)  # per mention, one per level
    entities: list[dict[str, Any]] = field(default_factory=list)
    cascade: list[list[Classification]] | None = None
    cascade_entities: list[dict[str, Any]] | None = None


@dataclass
class PredictionRun:
    predictions: list[Prediction]
    stats: PredictStats


class CascadeNER:
    """Extractor + classifier (possibly one model). Build with :meth:`from_pretrained`, :meth:`from_endpoint`,
    :meth:`from_settings` or :meth:`from_backends`.

    A method (:class:`cascadener.methods.Method`, registered as ``cascadener``): its options are
    :class:`~cascadener.options.PredictOptions`.
    """

    name = "cascadener"
    description = "two stages: the extractor marks the mentions, the classifier picks each one's type from its list"
    options_type = PredictOptions
    reads_taxonomy = True  # texts without a list, and run(cascade=True), read the taxonomy level by level
    uses_demonstrations = False
    single_model = False  # an extractor and a classifier (one model may be both)

    def __init__(self, extractor, extractor_tokenizer, classifier=None, classifier_tokenizer=None) -> None:
        from cascadener.backends.local import TransformersBackend

        self.extractor = extractor
        self.extractor_tokenizer = extractor_tokenizer
        self.classifier = extractor if classifier is None else classifier
        self.classifier_tokenizer = extractor_tokenizer if classifier_tokenizer is None else classifier_tokenizer
        self.last_stats: PredictStats | None = None  # counts of the latest predict() call
        self.extractor_backend: Backend = TransformersBackend(self.extractor, self.extractor_tokenizer)
        self.classifier_backend: Backend = (
            self.extractor_backend if classifier is None and classifier_tokenizer is None
            else TransformersBackend(self.classifier, self.classifier_tokenizer))

    @classmethod
    def from_backends(cls, extractor: Backend, classifier: Backend | None = None) -> "CascadeNER":
        """A pipeline on any :class:`cascadener.backends.base.Backend` (``classifier=None``: the extractor's).

        ``extractor``/``classifier`` (the model objects) and their tokenizers are ``None`` unless the
        backend is a local one.
        """
        for role, backend in (("extractor", extractor), ("classifier", classifier)):
            if backend is not None and not isinstance(backend, Backend):
                raise TypeError(f"{role} must be a cascadener backend, got {type(backend).__name__}")
        self = cls.__new__(cls)
        self.extractor_backend = extractor
        self.classifier_backend = extractor if classifier is None else classifier
        self.extractor = getattr(self.extractor_backend, "model", None)
        self.extractor_tokenizer = getattr(self.extractor_backend, "tokenizer", None)
        self.classifier = getattr(self.classifier_backend, "model", None)
        self.classifier_tokenizer = getattr(self.classifier_backend, "tokenizer", None)
        self.last_stats = None
        return self

    @classmethod
    def from_endpoint(
        cls,
        endpoint: EndpointOptions | str,
        model: str,
        classifier_model: str | None = None,
        *,
        classifier_endpoint: EndpointOptions | str | None = None,
        server_constraints: ServerConstraints = "auto",
        context_tokens: int | None = None,
        tokenizer: str | None = None,
    ) -> "CascadeNER":
        """Both stages on an OpenAI-compatible chat-completions endpoint (vLLM, SGLang, TGI, llama.cpp,
        Ollama, ``transformers serve``, a hosted API): ``model`` the served model name
        (``classifier_model``: another served model for stage 2, at ``classifier_endpoint`` when it is
        another server).

        ``endpoint``: an :class:`~cascadener.backends.http.EndpointOptions` (the URL up to ``/v1``,
        the environment variable holding the key, requests in flight, timeout, retries and backoff),
        every field of which reaches the client; or just the URL, with the defaults. The key is never
        an argument. Nothing is sent until the first run, which probes the server first
        (:mod:`cascadener.backends.probe`). ``server_constraints``: ``"auto"`` (the constraint adapter
        the probe sees the server apply), an adapter's name (``"choice"``, ``"guided"``, ``"regex"``,
        ``"grammar"``, ``"tgi-json"``, ``"json-schema"``: only that one, still checked) or ``"none"``
        (see :mod:`cascadener.backends.constraints`). ``context_tokens``: the served model's context;
        longer texts are read in windows (``None``: sent whole, as the server may reject them).
        ``tokenizer``: the served model's tokenizer (a folder or Hub id) for the local backend's token
        budgets (``None``: ``model``'s own when it names a model folder here, else UTF-8 bytes).

        >>> ner = CascadeNER.from_endpoint(EndpointOptions("http://127.0.0.1:8000/v1", concurrency=4), "my-model")
        >>> ner.extractor_backend.describe()["model"], ner.classifier_backend is ner.extractor_backend
        ('my-model', True)
        """
        endpoint = EndpointOptions(endpoint) if isinstance(endpoint, str) else endpoint
        if isinstance(classifier_endpoint, str):
            classifier_endpoint = replace(endpoint, base_url=classifier_endpoint)
        return cls.from_settings(EndpointSettings(
            endpoint, model, classifier_model, classifier_endpoint=classifier_endpoint,
            server_constraints=server_constraints, context_tokens=context_tokens, tokenizer=tokenizer))

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> "CascadeNER":
        """A pipeline on the backends ``settings`` build (a registered backend's settings:
        :class:`~cascadener.backends.local.LocalSettings`, :class:`~cascadener.backends.server.EndpointSettings`)."""
        return cls.from_backends(*settings.build())

    @classmethod
    def check_capabilities(cls, options: PredictOptions, *, extractor: Capabilities, classifier: Capabilities) -> None:
        """Refuse (``ValueError``), before any work, options that backends with these capabilities cannot
        apply (e.g. constrained classification on a server without choice constraints). Stage 1 asks
        only for free answers; stage 2's policy needs what :func:`cascadener.stage2.check_capabilities` says,
        and a ``threshold`` needs the classifier's scores (:func:`cascadener.stage2.check_scores`)."""
        check_capabilities(classifier, options.classify_options())
        check_scores(classifier, options.threshold)

    def check(self, options: PredictOptions) -> dict[str, Any]:
        """Prepare the backends for a run with ``options`` (a server is probed once: up, serving the
        model, the request shape, the constraint it applies where stage 2 needs one), refuse
        (``ValueError``) what they cannot apply, and return the policy applied, as recorded: the
        method's label (:func:`cascadener.stage2.policy_label`, what results and leaderboards
        compare) and :func:`cascadener.stage2.policy`."""
        stage2 = options.classify_options()
        # what the backends already know they cannot do is refused before anything is sent
        self.check_capabilities(options, extractor=self.extractor_backend.capabilities,
                                classifier=self.classifier_backend.capabilities)
        extractor = self.extractor_backend.prepare(choice=False)
        classifier = self.classifier_backend.prepare(choice=needs_choice(stage2))
        self.check_capabilities(options, extractor=extractor, classifier=classifier)
        return self.applied_policy(options, classifier=classifier)

    @classmethod
    def applied_policy(cls, options: PredictOptions, *, classifier: Capabilities) -> dict[str, Any]:
        """The stage-2 policy a classifier with these capabilities applies, as recorded: the method's
        label (:func:`cascadener.stage2.policy_label`), its setting (``fine-tuned``: both stages are
        trained models; :data:`cascadener.methods.base.SETTINGS`) and :func:`cascadener.stage2.policy`.

        >>> from cascadener.backends.local import LocalSettings
        >>> applied = CascadeNER.applied_policy(PredictOptions(), classifier=LocalSettings("m").capabilities())
        >>> applied["method"], applied["setting"]
        ('cascadener-generative', 'fine-tuned')
        """
        stage2 = options.classify_options()
        return {"method": policy_label(cls.name, stage2, classifier), "setting": "fine-tuned",
                **policy(stage2, classifier)}

    @classmethod
    def prompt_hash(cls, options: PredictOptions) -> str:
        """The hash of the prompts the options send (:func:`cascadener.prompts.prompt_hash`)."""
        return prompt_hash(template=options.template)

    def describe(self) -> dict[str, Any]:
        """The backends as recorded in the predictions meta: ``{"extractor": {...}, "classifier": {...}}``."""
        return {"extractor": self.extractor_backend.describe(), "classifier": self.classifier_backend.describe()}

    @classmethod
    def from_pretrained(
        cls,
        extractor: str,
        classifier: str | None = None,
        *,
        device: str | None = None,
        torch_dtype: Any = None,
        trust_remote_code: bool = False,
    ) -> "CascadeNER":
        """Load both stages with ``AutoTokenizer``/``AutoModelForCausalLM`` from a directory or Hub id.

        ``classifier=None`` (or the same path) uses one model for both stages. ``torch_dtype`` is a
        ``torch.dtype`` or its name (``"bfloat16"``, ``"auto"``).
        """
        return cls.from_settings(LocalSettings(str(extractor), None if classifier is None else str(classifier),
                                               device=device, dtype=torch_dtype, trust_remote_code=trust_remote_code))

    # ------------------------------------------------------------------------------ stage 1

    def extract(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 8,
        self_consistency: int = 1,
        temperature: float = 0.7,
        top_p: float = 0.95,
        seed: int = 0,
        max_new_tokens: int | None = None,
        max_text_tokens: int | None = None,
        on_batch: Callable[[int], None] | None = None,
        usage: Usage | None = None,
    ) -> tuple[list[ExtractionResult], int]:
        """Stage 1 for every text: mentions on the original text, and the count of outputs that hit their budget.

        ``max_text_tokens``: the most tokens of text one stage-1 prompt may hold (default: what the
        backend's context allows, :func:`cascadener.windows.window_limit`); longer texts are read in
        windows (see the module doc).
        """
        if self_consistency < 1:
            raise ValueError(f"self_consistency must be >= 1, got {self_consistency}")
        backend = self.extractor_backend
        todo = [i for i, text in enumerate(texts) if text.strip()]
        results = [ExtractionResult(sentence=text) for text in texts]
        if not todo:
            return results, 0
        limit = max_text_tokens if max_text_tokens is not None else window_limit(backend.context_tokens)
        if limit is not None and limit < 1:
            raise ValueError(f"max_text_tokens must be >= 1, got {limit}")
        lengths = backend.token_counts([texts[i] for i in todo])
        # one piece per text, or the windows of a text too long for one prompt: (text index, window)
        pieces: list[tuple[int, Window]] = []
        for index, length in zip(todo, lengths):
            if limit is not None and length > limit:
                pieces += [(index, window) for window in split_windows(texts[index], max_tokens=limit,
                                                                       count_tokens=backend.token_counts)]
            else:
                pieces.append((index, Window(0, len(texts[index]))))
        if len(pieces) != len(todo):
            lengths = backend.token_counts([texts[i][w.start:w.end] for i, w in pieces])
        pieces_text = [texts[i][w.start:w.end] for i, w in pieces]
        prompts = [stage1_prompt(text) for text in pieces_text]
        budgets = [stage1_budget(n) for n in lengths]
        if max_new_tokens is not None:
            budgets = [min(b, max_new_tokens) for b in budgets]
        sampled = self_consistency > 1
        options = GenerationOptions(batch_size=batch_size, do_sample=sampled, temperature=temperature if sampled else 1.0,
                                    top_p=top_p if sampled else 1.0, num_return_sequences=self_consistency)
        outputs = backend.generate(prompts, max_new_tokens=budgets, options=options, seed=seed, usage=usage,
                                   on_batch=on_batch)
        answers = [sample for samples in outputs for sample in samples]
        if answers and all(sample.text == "" for sample in answers):
            raise EmptyAnswersError(
                f"every one of the {len(answers)} stage-1 answers was empty (\"\" or null): the model wrote nothing; "
                "check that it is the extractor and, on a server, the server's log and chat template")
        unfinished = 0
        per_text: dict[int, list[tuple[Window, ExtractionResult]]] = {}
        for (index, window), text, samples in zip(pieces, pieces_text, outputs):
            parsed = [parse_extraction(text, sample.text) for sample in samples]
            unfinished += sum(not sample.finished for sample in samples)
            per_text.setdefault(index, []).append((window, parsed[0] if len(parsed) == 1 else merge_extractions(parsed)))
        for index, read in per_text.items():
            if len(read) == 1:
                results[index] = read[0][1]
            else:
                results[index] = merge_windows(texts[index], [w for w, _ in read], [r for _, r in read])
        return results, unfinished

    # ------------------------------------------------------------------------------ stage 2

    def classify_mentions(
        self,
        texts: Sequence[str],
        mentions: Sequence[Sequence[Mention]],
        type_lists: Sequence[Sequence[str] | None],
        *,
        taxonomy: Taxonomy | None = None,
        template: Stage2Template = "released",
        options: ClassifyOptions = ClassifyOptions(),
        windows: Sequence[Sequence[tuple[int, int]]] | None = None,
        on_batch: Callable[[int], None] | None = None,
        usage: Usage | None = None,
    ) -> list[list[list[Classification]]]:
        """Per text, per mention, the classification at each level (one level for a per-sample list).

        ``windows[i]``: the windows text ``i`` was read in (``ExtractionResult.windows``; empty when
        read whole): each question then quotes the window around its mention.
        """
        quoted, placed = _in_context(texts, mentions, windows)
        out: list[list[list[Classification]]] = [[[] for _ in sentence_mentions] for sentence_mentions in mentions]
        # items still to classify: (text index, mention index, taxonomy node or None, level)
        flat = [(t, m) for t, sentence_mentions in enumerate(mentions) for m in range(len(sentence_mentions))]
        listed = [(t, m) for t, m in flat if type_lists[t] is not None]
        cascaded = [(t, m) for t, m in flat if type_lists[t] is None]
        if listed:
            requests = [self._request(quoted[t][m], placed[t][m], tuple(dict.fromkeys(type_lists[t])), 1, template)
                        for t, m in listed]
            for (t, m), result in zip(listed, classify(self.classifier_backend, requests, options=options, usage=usage,
                                                       on_batch=on_batch)):
                out[t][m].append(result)
        if cascaded:
            if taxonomy is None:
                from dynamicner_data.taxonomy import Taxonomy

                taxonomy = Taxonomy.dynamicner()
            nodes: dict[tuple[int, int], Any] = {key: None for key in cascaded}
            level = 1
            while True:
                active = [key for key in cascaded if taxonomy.children(nodes[key])
                          and (level == 1 or nodes[key] is not None)]
                if not active:
                    break
                choices = {key: taxonomy.children(nodes[key]) for key in active}
                requests = [self._request(quoted[t][m], placed[t][m], tuple(node.name for node in choices[(t, m)]),
                                          level, template) for t, m in active]
                results = classify(self.classifier_backend, requests, options=options, usage=usage, on_batch=on_batch)
                for key, result in zip(active, results):
                    nodes[key] = choices[key][result.index]
                    out[key[0]][key[1]].append(result)
                level += 1
        return out

    @staticmethod
    def _request(text: str, mention: Mention, choices: tuple[str, ...], level: int,
                 template: Stage2Template) -> ClassifyRequest:
        prompt = cascade_prompt(mention.text, text, choices, level=level, template=template, start=mention.start,
                                end=mention.end)
        return ClassifyRequest(prompt=prompt, choices=choices)

    # ------------------------------------------------------------------------------ both

    def run(
        self,
        texts: Sequence[str],
        type_lists: Sequence[Sequence[str] | None] | None = None,
        *,
        options: PredictOptions | None = None,
        batch_size: int = PredictOptions.batch_size,
        classification: ClassifyMode = PredictOptions.classification,
        off_list: OffListFallback = PredictOptions.off_list,
        template: Stage2Template = PredictOptions.template,
        taxonomy: Taxonomy | None = PredictOptions.taxonomy,
        self_consistency: int = PredictOptions.self_consistency,
        temperature: float = PredictOptions.temperature,
        seed: int = PredictOptions.seed,
        max_new_tokens: int | None = PredictOptions.max_new_tokens,
        threshold: float | None = PredictOptions.threshold,
        languages: Sequence[str | None] | None = None,
        cascade: bool = False,
        progress: bool = False,
    ) -> PredictionRun:
        """:meth:`predict` with the details: per-sentence stage results and the run's counts.

        ``languages`` is accepted as every method's ``run`` takes it; CascadeNER's prompts do not
        depend on the language.

        ``cascade=True`` also classifies every mention down the taxonomy (``Prediction.cascade``,
        ``Prediction.cascade_entities``), on top of its type list: one stage 1 for both readings
        (the main job scores both). Texts without a list are cascaded once, for both.
        """
        options = _one_of(options, PredictOptions(
            batch_size=batch_size, classification=classification, off_list=off_list, template=template,
            taxonomy=taxonomy, self_consistency=self_consistency, temperature=temperature, seed=seed,
            max_new_tokens=max_new_tokens, threshold=threshold))
        texts = check_texts(texts)
        lists = check_type_lists(type_lists, len(texts))
        check_languages(languages, len(texts))
        self.check(options)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="stage 1 (extract)", unit="sent")
        stage1, stage2 = Usage(), Usage()
        extractions, unfinished = self.extract(texts, batch_size=options.batch_size,
                                               self_consistency=options.self_consistency,
                                               temperature=options.temperature, seed=options.seed,
                                               max_new_tokens=options.max_new_tokens,
                                               on_batch=bar.update if bar else None, usage=stage1)
        if bar is not None:
            bar.close()
        mentions = [result.mentions for result in extractions]
        windows = [result.windows for result in extractions]
        # the cascade's own questions: texts without a list, and with ``cascade`` every other text too
        only_cascade = [m if cascade and lst is not None else [] for m, lst in zip(mentions, lists)]
        tree = options.taxonomy
        if tree is None and any(m for m, lst in zip(mentions, lists) if lst is None or cascade):
            from dynamicner_data.taxonomy import Taxonomy

            tree = Taxonomy.dynamicner()
        if progress:
            from tqdm.auto import tqdm

            depth = tree.depth if tree is not None else 0
            questions = sum(len(m) if lst is not None else depth * len(m) for m, lst in zip(mentions, lists))
            bar = tqdm(total=questions + depth * sum(map(len, only_cascade)), desc="stage 2 (classify)",
                       unit="question")
        on_batch = bar.update if bar else None
        classify_options = options.classify_options()
        classified = self.classify_mentions(texts, mentions, lists, taxonomy=tree, template=options.template,
                                            options=classify_options, windows=windows, on_batch=on_batch,
                                            usage=stage2)
        extra: list[list[list[Classification]]] = [[] for _ in texts]
        if any(only_cascade):
            extra = self.classify_mentions(texts, only_cascade, [None] * len(texts), taxonomy=tree,
                                           template=options.template, options=classify_options, windows=windows,
                                           on_batch=on_batch, usage=stage2)
        if bar is not None:
            bar.close()
        stats = PredictStats(unfinished_outputs=unfinished, **stage1.as_stats("stage1"), **stage2.as_stats("stage2"))
        predictions = []
        for text, extraction, per_mention, lst, more in zip(texts, extractions, classified, lists, extra):
            stats.count_sentence(extraction, per_mention, more)
            entities, dropped = keep_scored([entity_record(mention, levels)
                                             for mention, levels in zip(extraction.mentions, per_mention)],
                                            options.threshold, where=f"an entity of text {len(predictions)}")
            stats.below_threshold += dropped
            prediction = Prediction(text=text, extraction=extraction, classifications=per_mention, entities=entities)
            if cascade:
                prediction.cascade = per_mention if lst is None else more
                prediction.cascade_entities, dropped = keep_scored(
                    [entity_record(mention, levels, with_levels=True)
                     for mention, levels in zip(extraction.mentions, prediction.cascade)],
                    options.threshold, where=f"a cascade entity of text {len(predictions)}")
                stats.below_threshold += dropped
            predictions.append(prediction)
        return PredictionRun(predictions=predictions, stats=stats)

    def predict(
        self,
        texts: Sequence[str],
        type_lists: Sequence[Sequence[str] | None] | None = None,
        *,
        options: PredictOptions | None = None,
        batch_size: int = PredictOptions.batch_size,
        classification: ClassifyMode = PredictOptions.classification,
        off_list: OffListFallback = PredictOptions.off_list,
        template: Stage2Template = PredictOptions.template,
        taxonomy: Taxonomy | None = PredictOptions.taxonomy,
        self_consistency: int = PredictOptions.self_consistency,
        temperature: float = PredictOptions.temperature,
        seed: int = PredictOptions.seed,
        max_new_tokens: int | None = PredictOptions.max_new_tokens,
        threshold: float | None = PredictOptions.threshold,
        progress: bool = False,
    ) -> list[list[dict[str, Any]]]:
        """One list of ``{text, label, start, end, score}`` per input text (empty texts give ``[]``).

        ``type_lists[i]``: the candidate types of text ``i``, or ``None`` for the hierarchical
        cascade over ``taxonomy`` (a :class:`dynamicner_data.taxonomy.Taxonomy`, default DynamicNER).
        ``classification``: ``"generative"`` or ``"constrained"``; ``off_list``: ``"constrained"`` or
        ``"closest"``; ``template``: ``"released"``, ``"marked"`` or ``"short"``; ``threshold``: drop
        every entity whose ``score`` is below it (refused before any work on a backend without scores;
        the drops are counted in ``last_stats.below_threshold``).
        The keywords are the fields of :class:`cascadener.options.PredictOptions`; ``options=``
        gives them as one object instead (then leave the keywords out).
        """
        options = _one_of(options, PredictOptions(
            batch_size=batch_size, classification=classification, off_list=off_list, template=template,
            taxonomy=taxonomy, self_consistency=self_consistency, temperature=temperature, seed=seed,
            max_new_tokens=max_new_tokens, threshold=threshold))
        run = self.run(texts, type_lists, options=options, progress=progress)
        self.last_stats = run.stats
        return [prediction.entities for prediction in run.predictions]

    def predict_entities(self, text: str, labels: Sequence[str] | None = None, *,
                         classification: str = "generative") -> list[dict[str, Any]]:
        """Entities of one ``text`` typed from ``labels`` (``None``: the hierarchical cascade)."""
        if not isinstance(text, str):
            raise TypeError(f"predict_entities takes one text (str), got {type(text).__name__}")
        return self.predict([text], [labels], classification=classification)[0]


def _in_context(texts: Sequence[str], mentions: Sequence[Sequence[Mention]],
                windows: Sequence[Sequence[tuple[int, int]]] | None) -> tuple[list[list[str]], list[list[Mention]]]:
    """Per text and mention, the text its stage-2 question quotes (the window around the mention,
    for a text read in windows; else the whole text) and the mention's offsets in that text."""
    if windows is not None and len(windows) != len(texts):
        raise ValueError(f"{len(windows)} window lists for {len(texts)} texts")
    quoted: list[list[str]] = []
    placed: list[list[Mention]] = []
    for index, (text, text_mentions) in enumerate(zip(texts, mentions)):
        text_windows = windows[index] if windows is not None else ()
        if not text_windows:
            quoted.append([text] * len(text_mentions))
            placed.append(list(text_mentions))
            continue
        around = [context_window([Window(*w) for w in text_windows], mention) for mention in text_mentions]
        quoted.append([text[w.start:w.end] for w in around])
        placed.append([Mention(m.start - w.start, m.end - w.start, m.text) for m, w in zip(text_mentions, around)])
    return quoted, placed


def _one_of(options: PredictOptions | None, keywords: PredictOptions) -> PredictOptions:
    """``options`` when given (the keywords must then be left at their defaults), else the keywords' options."""
    if options is None:
        return keywords
    if not isinstance(options, PredictOptions):
        raise TypeError(f"options must be a PredictOptions, got {type(options).__name__}")
    if keywords != PredictOptions():
        raise ValueError("give the prediction options either as options= or as keywords, not both")
    return options


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("predict takes a list of texts; for one text use predict_entities(text, labels)")
    checked = list(texts)
    for index, text in enumerate(checked):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is {type(text).__name__}, expected str")
    return checked


def check_languages(languages, count: int) -> list[str | None]:
    """One language (or ``None``) per text.

    >>> check_languages(None, 2), check_languages(["en", None], 2)
    ([None, None], ['en', None])
    """
    if languages is None:
        return [None] * count
    if isinstance(languages, str):
        raise TypeError("languages must be one language per text, not a string")
    checked = list(languages)
    if len(checked) != count:
        raise ValueError(f"got {len(checked)} languages for {count} texts")
    for index, language in enumerate(checked):
        if language is not None and not isinstance(language, str):
            raise TypeError(f"languages[{index}] is {type(language).__name__}, expected str or None")
    return checked


def check_type_lists(type_lists, count: int) -> list[tuple[str, ...] | None]:
    if type_lists is None:
        return [None] * count
    if isinstance(type_lists, str):
        raise TypeError("type_lists must be one list of types per text, not a string")
    lists = list(type_lists)
    if len(lists) != count:
        raise ValueError(f"got {len(lists)} type lists for {count} texts")
    checked: list[tuple[str, ...] | None] = []
    for index, types in enumerate(lists):
        if types is None:
            checked.append(None)
            continue
        if isinstance(types, str):
            raise TypeError(f"type_lists[{index}] is a string; expected a list of type names")
        items = tuple(types)
        if not items:
            raise ValueError(f"type_lists[{index}] is empty: give at least one type, or None for the cascade")
        for position, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise ValueError(f"type_lists[{index}][{position}] is {item!r}: type names must be non-empty strings")
        checked.append(items)
    return checked
