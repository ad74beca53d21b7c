"""The ``cascadener`` spaCy component: any registered method (CascadeNER by default) in an ``nlp`` pipeline.

Installed with ``pip install "dynamicner-kit[spacy]"``; spaCy finds the factory through the
``spacy_factories`` entry point, so no import is needed::

    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("cascadener", config={"model": "models/model", "labels": ["person", "city"]})
    doc = nlp("Mira Okafor flew from Lagos to Oslo .")
    [(ent.text, ent.label_, ent._.score) for ent in doc.ents]

Config (every key optional but a model):

- ``model``: a local model folder (or Hub id) for both stages; with ``base_url``, the model name an
  OpenAI-compatible server serves (``/v1/models`` lists them);
- ``base_url``: the server's URL up to ``/v1`` (``None``: run the model here);
- ``classifier``: a second model for stage 2 (a folder, or with ``base_url`` a served name);
- ``labels``: the default type list; ``Doc._.type_list`` overrides it per document (``None`` for
  both: CascadeNER's hierarchical cascade over the DynamicNER taxonomy);
- ``threshold``: drop every entity whose score (the classifier's probability of the chosen type)
  is below it; refused before any work on a server that returns no logprobs;
- ``style``: ``"ent"`` sets ``doc.ents`` (overlapping spans resolved by ``spacy.util.filter_spans``,
  the longest kept, the others counted as ``overlapping``); ``"span"`` writes
  ``doc.spans[spans_key]``, overlaps kept;
- ``spans_key``: the span group of ``"span"`` style (``"sc"``, what ``spacy evaluate`` scores);
- ``alignment_mode``: how an entity's character offsets become tokens (``Doc.char_span``):
  ``"contract"`` (tokens wholly inside), ``"expand"`` (tokens touched) or ``"strict"`` (token
  boundaries only). An entity that gives no span is never dropped silently: it is kept in
  ``Doc._.unaligned_entities``, counted (:attr:`CascadeNERComponent.counts`) and warned about;
- ``batch_size``: sentences (stage 1) or questions (stage 2) per forward pass of a local model;
  ``nlp.pipe(..., batch_size=N)`` sets how many documents go into ONE method call;
- ``classification``, ``off_list``: the stage-2 policy (:class:`cascadener.options.PredictOptions`);
- ``method``: a registered method (:data:`cascadener.methods.METHODS`);
- ``device``: ``cpu``, ``cuda``, ``mps`` (``None``: the best available).

Every span gets ``Span._.score`` (``None`` where the backend gives no probabilities). The model is
loaded on first use, not when the pipeline is built or loaded. The component keeps no state
beyond its config: ``nlp.to_disk`` writes that config to ``config.cfg`` (never the weights) and
``spacy.load`` rebuilds the component from it. ``score`` gives spaCy's ``ents_p/r/f`` (``"ent"``
style) or ``spans_<key>_p/r/f`` (``"span"`` style), so ``spacy evaluate`` works.

This module imports only spaCy and the standard library at the top: spaCy imports every
``spacy_factories`` entry point whenever it builds a ``Language``.

Example (no model is loaded until the first document):
    >>> import spacy
    >>> nlp = spacy.blank("en")
    >>> component = nlp.add_pipe("cascadener", config={"model": "no/such/folder", "labels": ["city"]})
    >>> component.style, component.alignment_mode, component.loaded
    ('ent', 'contract', False)
    >>> nlp.add_pipe("cascadener", name="bad", config={"model": "m", "alignment_mode": "loose"})
    Traceback (most recent call last):
    ...
    ValueError: cascadener component 'bad': alignment_mode must be one of contract, expand, strict, got 'loose'
"""

import dataclasses
import warnings
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

#: the error of an import without the extra
INSTALL_HINT = 'the cascadener spaCy component needs spaCy: pip install "dynamicner-kit[spacy]"'

try:
    from spacy.language import Language
    from spacy.pipeline import Pipe
    from spacy.scorer import Scorer, get_ner_prf
    from spacy.tokens import Doc, Span, SpanGroup
    from spacy.training import Example
    from spacy.util import filter_spans, minibatch
except ImportError:  # the [spacy] extra brings it
    raise ImportError(INSTALL_HINT) from None

__all__ = ["CascadeNERComponent", "make_cascadener", "STYLES", "ALIGNMENT_MODES", "register_extensions"]

#: how entities are written: ``doc.ents`` or ``doc.spans[spans_key]``
STYLES: Tuple[str, ...] = ("ent", "span")
#: ``Doc.char_span`` modes
ALIGNMENT_MODES: Tuple[str, ...] = ("contract", "expand", "strict")

DEFAULT_CONFIG: Dict[str, Any] = {
    "model": None, "base_url": None, "classifier": None, "labels": None, "threshold": None, "style": "ent",
    "spans_key": "sc", "alignment_mode": "contract", "batch_size": 8, "classification": "generative",
    "off_list": "constrained", "method": "cascadener", "device": None,
}


def register_extensions() -> None:
    """``Doc._.type_list`` (this document's candidate types; ``None``: the component's ``labels``),
    ``Doc._.unaligned_entities`` (the entity records no span could hold) and ``Span._.score``.
    Registered once; an extension of the same name another package registered is left alone."""
    for owner, name in ((Doc, "type_list"), (Doc, "unaligned_entities"), (Span, "score")):
        if not owner.has_extension(name):
            owner.set_extension(name, default=None)


@Language.factory(
    "cascadener",
    default_config=DEFAULT_CONFIG,
    assigns=["doc.ents", "doc.spans", "span._.score"],
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_cascadener(
    nlp: Language,
    name: str,
    model: Optional[str],
    base_url: Optional[str],
    classifier: Optional[str],
    labels: Optional[List[str]],
    threshold: Optional[float],
    style: str,
    spans_key: str,
    alignment_mode: str,
    batch_size: int,
    classification: str,
    off_list: str,
    method: str,
    device: Optional[str],
) -> "CascadeNERComponent":
    """The ``cascadener`` factory (see the module docstring for the config)."""
    return CascadeNERComponent(nlp, name, model=model, base_url=base_url, classifier=classifier, labels=labels,
                               threshold=threshold, style=style, spans_key=spans_key, alignment_mode=alignment_mode,
                               batch_size=batch_size, classification=classification, off_list=off_list,
                               method=method, device=device)


class CascadeNERComponent(Pipe):
    """A registered method over spaCy documents: one method call per ``nlp.pipe`` minibatch.

    ``counts`` adds up, over the component's life: ``docs``, ``entities`` written, ``unaligned``
    (no span for the offsets under ``alignment_mode``), ``overlapping`` (dropped by ``filter_spans``
    in ``"ent"`` style), ``below_threshold`` and ``calls`` (method calls). ``last_stats`` is the
    method's :class:`~cascadener.pipeline.PredictStats` of the latest call.
    """

    def __init__(self, nlp: Language, name: str = "cascadener", *, model: Optional[str], base_url: Optional[str] = None,
                 classifier: Optional[str] = None, labels: Optional[Sequence[str]] = None,
                 threshold: Optional[float] = None, style: str = "ent", spans_key: str = "sc",
                 alignment_mode: str = "contract", batch_size: int = 8, classification: str = "generative",
                 off_list: str = "constrained", method: str = "cascadener", device: Optional[str] = None) -> None:
        register_extensions()
        self.name = name
        self.vocab = nlp.vocab
        self.model_name = model
        self.base_url = base_url
        self.classifier = classifier
        self.labels_default: Optional[Tuple[str, ...]] = None if labels is None else self._checked_list(labels, "labels")
        self.threshold = threshold
        self.style = style
        self.spans_key = spans_key
        self.alignment_mode = alignment_mode
        self.method_name = method
        self.device = device
        if not model:
            self._refuse("give a model: a local model folder, or with base_url the served model's name")
        if style not in STYLES:
            self._refuse(f"style must be one of {', '.join(STYLES)}, got {style!r}")
        if alignment_mode not in ALIGNMENT_MODES:
            self._refuse(f"alignment_mode must be one of {', '.join(ALIGNMENT_MODES)}, got {alignment_mode!r}")
        if style == "span" and not spans_key:
            self._refuse("style 'span' needs a spans_key")
        from cascadener import methods  # no torch: the model loads on first use

        try:
            self.method_type = methods.method_class(method)
            self.options = _method_options(self.method_type, {"batch_size": batch_size, "classification": classification,
                                                              "off_list": off_list, "threshold": threshold})
        except ValueError as error:
            self._refuse(str(error))
        # a method whose options have no threshold: the component applies it to the records
        self._own_threshold = threshold is not None and not _has_field(self.method_type.options_type, "threshold")
        self._method: Any = None
        self.counts: Dict[str, int] = {"calls": 0, "docs": 0, "entities": 0, "unaligned": 0, "overlapping": 0,
                                       "below_threshold": 0}
        self.last_stats: Any = None

    # ------------------------------------------------------------------------------ spaCy's interface

    @property
    def labels(self) -> Tuple[str, ...]:
        """The default type list (empty when every document brings its own, or for the cascade)."""
        return self.labels_default or ()

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (it is, on the first document)."""
        return self._method is not None

    def __call__(self, doc: Doc) -> Doc:
        self._annotate([doc])
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate ``batch_size`` documents per method call (``nlp.pipe``'s ``batch_size``)."""
        error_handler = self.get_error_handler()
        for docs in minibatch(stream, size=batch_size):
            try:
                self._annotate(docs)
            except Exception as error:  # spaCy's error handler decides: raise (default) or skip
                error_handler(self.name, self, docs, error)
            yield from docs

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """``ents_p/r/f`` and ``ents_per_type`` (spaCy's :func:`~spacy.scorer.get_ner_prf`) in ``"ent"``
        style; ``spans_<key>_p/r/f`` (:meth:`spacy.scorer.Scorer.score_spans`, overlaps allowed) in
        ``"span"`` style."""
        if self.style == "ent":
            return get_ner_prf(examples)
        key = self.spans_key
        return Scorer.score_spans(examples, f"spans_{key}", getter=lambda doc, attr: doc.spans.get(key, []),
                                  has_annotation=lambda doc: key in doc.spans, allow_overlap=True)

    # ------------------------------------------------------------------------------ the work

    def load(self) -> Any:
        """The method, built on first use (the model loaded, a server probed) and checked against the
        options before any document is predicted (a threshold on a backend without scores is refused)."""
        if self._method is None:
            from cascadener.backends.http import EndpointOptions
            from cascadener.backends.local import LocalSettings
            from cascadener.backends.server import EndpointSettings
            from cascadener.stage2 import check_scores

            if self.base_url:
                settings: Any = EndpointSettings(EndpointOptions(self.base_url), self.model_name,
                                                 classifier_model=self.classifier)
            else:
                settings = LocalSettings(self.model_name, self.classifier, device=self.device)
            try:
                built = self.method_type.from_settings(settings)
                check = getattr(built, "check", None)
                if check is not None:
                    check(self.options)
                if self._own_threshold:
                    check_scores(built.classifier_backend.capabilities, self.threshold)
            except (OSError, ValueError) as error:
                self._refuse(f"cannot run {self.method_name} on {self.model_name!r}: {error}")
            self._method = built
        return self._method

    def _annotate(self, docs: Sequence[Doc]) -> None:
        if not docs:
            return
        lists = [self._type_list(doc, index) for index, doc in enumerate(docs)]
        method = self.load()
        run = method.run([doc.text for doc in docs], lists, options=self.options)
        self.counts["calls"] += 1
        self.last_stats = run.stats
        self.counts["below_threshold"] += getattr(run.stats, "below_threshold", 0)
        for doc, prediction in zip(docs, run.predictions):
            self._set_annotations(doc, prediction.entities)

    def _type_list(self, doc: Doc, index: int) -> Optional[Tuple[str, ...]]:
        given = doc._.type_list
        if given is None:
            return self.labels_default
        return self._checked_list(given, f"Doc._.type_list of document {index} of the batch ({_head(doc.text)!r})")

    def _set_annotations(self, doc: Doc, entities: List[Dict[str, Any]]) -> None:
        if self._own_threshold:
            from cascadener.options import keep_scored

            entities, dropped = keep_scored(entities, self.threshold)
            self.counts["below_threshold"] += dropped
        spans: List[Span] = []
        unaligned: List[Dict[str, Any]] = []
        for entity in entities:
            span = doc.char_span(entity["start"], entity["end"], label=entity["label"],
                                 alignment_mode=self.alignment_mode)
            if span is None or len(span) == 0:  # "expand" gives an empty span for a whitespace range
                unaligned.append(entity)
                continue
            span._.score = entity.get("score")
            spans.append(span)
        doc._.unaligned_entities = unaligned
        self.counts["docs"] += 1
        self.counts["unaligned"] += len(unaligned)
        for entity in unaligned:
            warnings.warn(f"cascadener component {self.name!r}: entity {entity['text']!r} ({entity['label']}, "
                          f"characters {entity['start']}-{entity['end']}) of {_head(doc.text)!r} matches no "
                          f"tokens with alignment_mode {self.alignment_mode!r}; kept in Doc._.unaligned_entities",
                          UserWarning, stacklevel=2)
        if self.style == "ent":
            kept = filter_spans(spans)
            self.counts["overlapping"] += len(spans) - len(kept)
            doc.set_ents(kept, default="outside")
            self.counts["entities"] += len(kept)
        else:
            doc.spans[self.spans_key] = SpanGroup(doc, name=self.spans_key, spans=spans)
            self.counts["entities"] += len(spans)

    # ------------------------------------------------------------------------------ helpers

    def _checked_list(self, types: Any, what: str) -> Tuple[str, ...]:
        if isinstance(types, str) or not isinstance(types, (list, tuple)):
            self._refuse(f"{what} must be a list of type names, got {type(types).__name__}")
        if not types:
            self._refuse(f"{what} is empty: give at least one type (or None)")
        for position, item in enumerate(types):
            if not isinstance(item, str) or not item.strip():
                self._refuse(f"{what}[{position}] is {item!r}: type names must be non-empty strings")
        return tuple(types)

    def _refuse(self, message: str) -> None:
        raise ValueError(f"cascadener component {self.name!r}: {message}")


def _head(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def _has_field(options_type: type, name: str) -> bool:
    return dataclasses.is_dataclass(options_type) and any(f.name == name for f in dataclasses.fields(options_type))


def _method_options(method_type: type, values: Dict[str, Any]) -> Any:
    """The method's options from the component's: the fields it has; a value other than the component's
    default for a field it lacks is refused (``threshold`` is applied by the component instead)."""
    options_type = method_type.options_type
    known = {f.name for f in dataclasses.fields(options_type)} if dataclasses.is_dataclass(options_type) else set()
    given = {}
    for key, value in values.items():
        if key in known:
            given[key] = value
        elif key != "threshold" and value != DEFAULT_CONFIG[key]:
            raise ValueError(f"method {method_type.name!r} has no option {key!r} (got {value!r})")
    return options_type(**given)
