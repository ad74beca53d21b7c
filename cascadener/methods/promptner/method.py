"""PromptNER as a method (``--method promptner``): one chat request per text for its whole type list.

For each text (:mod:`cascadener.methods.promptner.prompts`):

1. ``k`` exemplars (3 in the published configurations): training sentences of the text's language
   chosen, seeded, to cover the text's type list where the training data allows
   (:func:`cascadener.methods.demonstrations.choose_covering`), each answered in the published list
   format;
2. the chat: the system text (the definition built from the text's own type list, and the question),
   the exemplars' user/assistant turns, then "Paragraph: ... Answer:";
3. the answer, a numbered list ``phrase | True/False | explanation (type)``, read and placed on the
   text by characters (:mod:`cascadener.methods.promptner.parsing`): True items with a type of the
   list become entities; a type outside the list is kept as written and counted in
   ``off_list_answers`` (the metric counts it out of list, as for any method).

Requests per text: one (none for an empty text), counted as stage 1 of the run's usage. The span
records carry ``score: None`` (the answers are free text).

Example (no request is sent):
    >>> from cascadener.backends import EndpointOptions
    >>> ner = PromptNer.from_endpoint(EndpointOptions("http://127.0.0.1:8000/v1"), "m")
    >>> ner.applied_policy(PromptNerOptions(demonstrations=0))
    {'method': 'promptner', 'setting': 'zero-shot', 'demonstrations': 0}
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from typing import Any

from cascadener.backends.base import ChatPrompt, GenerationOptions, Usage
from cascadener.methods.demonstrations import DemonstrationPool, choose_covering
from cascadener.methods.fewshot import MESSAGE_OVERHEAD, PromptMethod, fit, pieces, progress_bar, text_limit
from cascadener.methods.promptner.parsing import Placed, TypedSpan, place_items, read_list
from cascadener.methods.promptner.prompts import (
    ANSWER_EXTRA_TOKENS,
    ANSWER_TOKENS_PER_TEXT_TOKEN,
    QUERY,
    answer_budget,
    chat_prompt,
    exemplar_answer,
    exemplar_text,
    prompt_hash,
    system_text,
)
from cascadener.parsing import ExtractionResult, Mention, merge_mentions
from cascadener.pipeline import Prediction, PredictionRun, PredictStats

__all__ = ["PromptNer", "PromptNerOptions", "DEFAULT_DEMONSTRATIONS"]

#: exemplars per prompt in the published configurations (``ConllConfig``, ``autogen``'s three sentences)
DEFAULT_DEMONSTRATIONS = 3


@dataclass(frozen=True)
class PromptNerOptions:
    """How PromptNER predicts.

    - ``batch_size``: prompts per forward pass on a local model;
    - ``demonstrations``: exemplars per prompt (``None``: 0 for a model fine-tuned on PromptNER's
      prompts, else :data:`DEFAULT_DEMONSTRATIONS`), drawn from ``pool``;
    - ``seed``: seeds the order in which exemplars are considered;
    - ``max_new_tokens``: cap on each answer's budget (:func:`~cascadener.methods.promptner.prompts.answer_budget`).
    """

    batch_size: int = field(default=8, metadata={"identity": False})
    demonstrations: int | None = None
    seed: int = 0
    max_new_tokens: int | None = None
    pool: DemonstrationPool | None = field(default=None, metadata={"flag": False})

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.demonstrations is not None and (isinstance(self.demonstrations, bool) or self.demonstrations < 0):
            raise ValueError(f"demonstrations must be >= 0 or None, got {self.demonstrations}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1 or None, got {self.max_new_tokens}")
        if self.pool is not None and not isinstance(self.pool, DemonstrationPool):
            raise TypeError(f"pool must be a DemonstrationPool, got {type(self.pool).__name__}")

    @classmethod
    def identity_keys(cls) -> tuple[str, ...]:
        """The fields that can change a prediction (what ``--resume`` compares).

        >>> PromptNerOptions.identity_keys()
        ('demonstrations', 'seed', 'max_new_tokens', 'pool')
        """
        return tuple(f.name for f in fields(cls) if f.metadata.get("identity", True))

    def identity(self) -> dict[str, Any]:
        """Those fields as JSON values: the pool by its content."""
        out = {key: getattr(self, key) for key in self.identity_keys()}
        out["pool"] = None if self.pool is None else self.pool.identity()
        return out

    @classmethod
    def from_namespace(cls, args: argparse.Namespace, *, taxonomy: Any = None,
                       pool: DemonstrationPool | None = None) -> "PromptNerOptions":
        """The options of parsed command-line arguments named like the fields (``pool`` given loaded;
        ``taxonomy`` is unused: PromptNER reads no taxonomy)."""
        values = {f.name: getattr(args, f.name) for f in fields(cls)
                  if f.metadata.get("flag", True) and hasattr(args, f.name)}
        return cls(**values, pool=pool)


class PromptNer(PromptMethod):
    """PromptNER on one model (see the module doc)."""

    name = "promptner"
    description = ("PromptNER: one chat per sentence (definition from its type list, exemplars), answered with a "
                   "numbered list 'phrase | True/False | explanation (type)'")
    options_type = PromptNerOptions
    default_demonstrations = DEFAULT_DEMONSTRATIONS

    @classmethod
    def prompt_hash(cls, options: PromptNerOptions) -> str:
        """The hash of the prompts the options send (:func:`~cascadener.methods.promptner.prompts.prompt_hash`)."""
        return prompt_hash(demonstrations=options.demonstrations)

    @classmethod
    def _conversations_of(cls, demo, types, out) -> None:
        """One conversation per sentence: the chat without exemplars, and its gold entities as the list
        (an empty answer for a sentence without any)."""
        if demo.unplaced:
            out.skip("sentences with an unplaced entity", f"record {demo.id}: entities of "
                     f"{', '.join(sorted(demo.unplaced))} have no offsets (start=-1)")
            return
        chat = chat_prompt(demo.text, types, [])
        out.rows.append({"id": demo.id, "messages": [
            *chat.as_messages(), {"role": "assistant", "content": exemplar_answer(demo.text, demo.entities_in_order(),
                                                                                types)}]})

    def frame_tokens(self, types: tuple[str, ...]) -> int:
        """Tokens of the chat around a paragraph with this type list, no exemplar."""
        frame = system_text(types) + QUERY.format(paragraph="")
        return self.extractor_backend.token_counts([frame])[0] + 2 * MESSAGE_OVERHEAD

    def _run(self, texts, lists, languages, options: PromptNerOptions, progress: bool) -> PredictionRun:
        backend = self.extractor_backend
        shown = self.demonstrations_for(options)
        limits = [None if backend.context_tokens is None or not text.strip() else
                  text_limit(backend.context_tokens, frame_tokens=self.frame_tokens(types),
                             per_token=ANSWER_TOKENS_PER_TEXT_TOKEN, extra=ANSWER_EXTRA_TOKENS)
                  for text, types in zip(texts, lists)]
        windows = pieces(backend, texts, limits)
        stats = PredictStats()
        keys = [(i, w) for i, wins in enumerate(windows) for w in range(len(wins))]
        piece_texts = [texts[i][windows[i][w].start:windows[i][w].end] for i, w in keys]
        lengths = backend.token_counts(piece_texts) if piece_texts else []
        prompts: list[ChatPrompt] = []
        budgets: list[int] = []
        for (i, _), piece, length in zip(keys, piece_texts, lengths):
            budget = answer_budget(length)
            if options.max_new_tokens is not None:
                budget = min(budget, options.max_new_tokens)
            chosen = choose_covering(options.pool, text=piece, language=languages[i], types=lists[i], k=shown,
                                     seed=options.seed)
            exemplars = [exemplar_text(demo.text, demo.entities_for(lists[i]), lists[i])
                         for demo in chosen.demonstrations]

            def build(count: int, piece=piece, types=lists[i], exemplars=exemplars) -> ChatPrompt:
                return chat_prompt(piece, types, exemplars[:count])

            prompt, dropped = fit(backend, build, len(exemplars), budget)
            stats.missing_demonstrations += chosen.missing + dropped
            prompts.append(prompt)
            budgets.append(budget)
        usage = Usage()
        bar = progress_bar(progress, len(prompts), "promptner", "paragraph")
        outputs = backend.generate(prompts, max_new_tokens=budgets, options=GenerationOptions(batch_size=options.batch_size),
                                   seed=options.seed, usage=usage, on_batch=bar.update if bar else None,
                                   what="promptner")
        if bar is not None:
            bar.close()
        placed: dict[int, list[tuple[int, Placed, str]]] = {}
        for (i, w), piece, samples in zip(keys, piece_texts, outputs):
            answer = samples[0]
            stats.unfinished_outputs += not answer.finished
            listed = read_list(answer.text)
            stats.unreadable_items += len(listed.unreadable)
            placed.setdefault(i, []).append((w, place_items(piece, listed.items, lists[i]), answer.text))
        stats.add(PredictStats(**usage.as_stats("stage1")))
        predictions = [self._prediction(text, windows[i], placed.get(i, []), stats) for i, text in enumerate(texts)]
        return PredictionRun(predictions=predictions, stats=stats)

    @staticmethod
    def _prediction(text: str, text_windows, read: list[tuple[int, Placed, str]], stats: PredictStats) -> Prediction:
        extraction = ExtractionResult(sentence=text)
        spans: list[TypedSpan] = []
        for w, result, raw in read:
            shift = text_windows[w].start
            spans += [TypedSpan(s.text, s.label, s.start + shift, s.end + shift, s.off_list) for s in result.entities]
            extraction.invented += result.invented
            extraction.duplicates += result.duplicates
            extraction.overlaps += result.overlaps
            extraction.raw_outputs.append(raw)
            stats.off_list_answers += result.off_list
        if len(text_windows) > 1:  # a span found by two windows counts once; across windows the longer wins
            kept: list[TypedSpan] = []
            for label in dict.fromkeys(s.label for s in spans):
                same = [s for s in spans if s.label == label]
                merged, duplicates, overlaps = merge_mentions([Mention(s.start, s.end, s.text) for s in same])
                extraction.overlaps += overlaps
                by_span = {(s.start, s.end): s for s in same}
                kept += [by_span[(m.start, m.end)] for m in merged]
            spans = kept
            extraction.windows = [tuple(w) for w in text_windows]
            stats.split_texts += 1
            stats.windows += len(text_windows)
        spans.sort(key=lambda s: (s.start, s.end, s.label))
        extraction.mentions = sorted({Mention(s.start, s.end, s.text) for s in spans})
        stats.sentences += 1
        stats.empty_sentences += not text.strip()
        stats.mentions += len(spans)
        stats.invented_mentions += len(extraction.invented)
        stats.duplicate_mentions += extraction.duplicates
        stats.overlapping_mentions += extraction.overlaps
        return Prediction(text=text, extraction=extraction,
                          entities=[{**s.record(), "score": None} for s in spans])
