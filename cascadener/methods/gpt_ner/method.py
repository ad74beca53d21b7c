"""GPT-NER as a method (``--method gpt-ner``): one extraction question per sentence and type of its list.

For each text and each type of its list (:mod:`cascadener.methods.gpt_ner.prompts`):

1. ``k`` demonstrations of that type (:func:`cascadener.methods.demonstrations.choose_for_type`:
   seeded random training sentences of the text's language that contain the type, or the nearest
   ones with ``selection="knn"``), then the extraction prompt, sent as one user turn;
2. the answer, the sentence with the type's entities marked ``@@...##``, read onto the text by
   characters (:mod:`cascadener.methods.gpt_ner.parsing`);
3. with ``verify=True`` (off by default, as in the published scripts), one yes/no question per
   extracted mention (the published zero-shot verification); a "no" drops the mention.

A span marked under two types is kept once per type, as published (each (sentence, type) question
stands alone; nothing merges or arbitrates them). The scorer then counts the copy with the gold
type as a hit and the other as a false positive (``docs/methods.md``); ``multi_type_mentions``
counts such spans. Requests per text: one per type of its list, plus one per mention with
``verify`` (none for an empty text); the run's usage counts extraction as stage 1 and verification
as stage 2. The span records carry ``score: None`` (the answers are free text).

Example (no request is sent):
    >>> from cascadener.backends import EndpointOptions
    >>> ner = GptNer.from_endpoint(EndpointOptions("http://127.0.0.1:8000/v1"), "m")
    >>> ner.applied_policy(GptNerOptions(demonstrations=0))
    {'method': 'gpt-ner', 'setting': 'zero-shot', 'demonstrations': 0}
    >>> ner.check(GptNerOptions())
    Traceback (most recent call last):
    ...
    ValueError: gpt-ner shows 8 demonstrations per prompt (the published setting; a model fine-tuned on its prompts needs none): give training sentences to draw them from (pool=DemonstrationPool(...), --demonstrations-from), or demonstrations=0 (--demonstrations 0)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from typing import Any

from cascadener.backends.base import ChatPrompt, GenerationOptions, Usage
from cascadener.methods.demonstrations import (
    SELECTIONS,
    DemonstrationPool,
    LexicalRetriever,
    Retriever,
    Selection,
    choose_for_type,
)
from cascadener.methods.fewshot import PromptMethod, fit, pieces, progress_bar, text_limit
from cascadener.methods.gpt_ner.parsing import parse_answer, verdict
from cascadener.methods.gpt_ner.prompts import (
    EXTRACTION_INSTRUCTION,
    QUERY,
    VERIFY_BUDGET,
    answer_budget,
    extraction_prompt,
    mark,
    prompt_hash,
    type_description,
    verification_prompt,
)
from cascadener.parsing import ExtractionResult, Mention
from cascadener.pipeline import Prediction, PredictionRun, PredictStats
from cascadener.prompts import STAGE1_EXTRA_TOKENS, STAGE1_TOKENS_PER_TEXT_TOKEN
from cascadener.windows import Window, context_window, merge_windows

__all__ = ["GptNer", "GptNerOptions", "DEFAULT_DEMONSTRATIONS"]

#: demonstrations per prompt in the published scripts (``access_ai.sh``: ``EXAMPLENUM=8``)
DEFAULT_DEMONSTRATIONS = 8


@dataclass(frozen=True)
class GptNerOptions:
    """How GPT-NER predicts.

    - ``batch_size``: prompts per forward pass on a local model;
    - ``demonstrations``: ``k`` per prompt (``None``: 0 for a model fine-tuned on GPT-NER's prompts,
      else :data:`DEFAULT_DEMONSTRATIONS`), drawn from ``pool``;
    - ``selection``: ``"random"`` (seeded) or ``"knn"`` (the most similar first, by ``retriever``;
      default :class:`~cascadener.methods.demonstrations.LexicalRetriever`);
    - ``verify``: one yes/no self-verification question per extracted mention;
    - ``seed``: seeds the random demonstrations;
    - ``max_new_tokens``: cap on each answer's budget (:func:`~cascadener.methods.gpt_ner.prompts.answer_budget`).
    """

    batch_size: int = field(default=8, metadata={"identity": False})
    demonstrations: int | None = None
    selection: Selection = "random"
    verify: bool = False
    seed: int = 0
    max_new_tokens: int | None = None
    pool: DemonstrationPool | None = field(default=None, metadata={"flag": False})
    retriever: Retriever | None = field(default=None, metadata={"flag": False})

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.demonstrations is not None and (isinstance(self.demonstrations, bool) or self.demonstrations < 0):
            raise ValueError(f"demonstrations must be >= 0 or None, got {self.demonstrations}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"unknown selection {self.selection!r}; allowed: {', '.join(SELECTIONS)}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1 or None, got {self.max_new_tokens}")
        if self.pool is not None and not isinstance(self.pool, DemonstrationPool):
            raise TypeError(f"pool must be a DemonstrationPool, got {type(self.pool).__name__}")
        if self.retriever is not None and not isinstance(self.retriever, Retriever):
            raise TypeError(f"retriever must be a Retriever (name, similarities), got {type(self.retriever).__name__}")

    @property
    def ranker(self) -> Retriever | None:
        """The retriever ``knn`` ranks with (``None`` for random selection)."""
        if self.selection != "knn":
            return None
        return self.retriever if self.retriever is not None else _LEXICAL

    @classmethod
    def identity_keys(cls) -> tuple[str, ...]:
        """The fields that can change a prediction (what ``--resume`` compares).

        >>> GptNerOptions.identity_keys()
        ('demonstrations', 'selection', 'verify', 'seed', 'max_new_tokens', 'pool', 'retriever')
        """
        return tuple(f.name for f in fields(cls) if f.metadata.get("identity", True))

    def identity(self) -> dict[str, Any]:
        """Those fields as JSON values: the pool by its content, the retriever by its name."""
        out = {key: getattr(self, key) for key in self.identity_keys()}
        out["pool"] = None if self.pool is None else self.pool.identity()
        out["retriever"] = None if self.ranker is None else self.ranker.name
        return out

    @classmethod
    def from_namespace(cls, args: argparse.Namespace, *, taxonomy: Any = None,
                       pool: DemonstrationPool | None = None) -> "GptNerOptions":
        """The options of parsed command-line arguments named like the fields (``pool`` given loaded;
        ``taxonomy`` is unused: GPT-NER reads no taxonomy).

        >>> GptNerOptions.from_namespace(argparse.Namespace(verify=True, seed=2, template="released")).verify
        True
        """
        values = {f.name: getattr(args, f.name) for f in fields(cls)
                  if f.metadata.get("flag", True) and hasattr(args, f.name)}
        return cls(**values, pool=pool)


_LEXICAL = LexicalRetriever()


class GptNer(PromptMethod):
    """GPT-NER on one model (see the module doc)."""

    name = "gpt-ner"
    description = ("GPT-NER: one question per type, the sentence answered with its entities of that type marked "
                   "@@...## (optional yes/no self-verification)")
    options_type = GptNerOptions
    default_demonstrations = DEFAULT_DEMONSTRATIONS

    @classmethod
    def prompt_hash(cls, options: GptNerOptions) -> str:
        """The hash of the prompts the options send (:func:`~cascadener.methods.gpt_ner.prompts.prompt_hash`)."""
        ranker = options.ranker
        return prompt_hash(demonstrations=options.demonstrations, selection=options.selection, verify=options.verify,
                           retriever=None if ranker is None else ranker.name)

    @classmethod
    def label(cls, options: GptNerOptions) -> str:
        """``gpt-ner``, or ``gpt-ner-verify`` with self-verification."""
        return f"{cls.name}-verify" if options.verify else cls.name

    @classmethod
    def record_for(cls, options: GptNerOptions, *, fine_tuned: bool) -> dict[str, Any]:
        record = super().record_for(options, fine_tuned=fine_tuned)
        if record["demonstrations"]:
            ranker = options.ranker
            record["selection"] = options.selection if ranker is None else f"knn ({ranker.name})"
        return record

    @classmethod
    def _conversations_of(cls, demo, types, out) -> None:
        """One conversation per type: the extraction prompt, and the sentence with that type marked."""
        for type_name in types:
            if type_name in demo.unplaced:
                out.skip("questions with an unplaced entity", f"record {demo.id}: a {type_name!r} entity has no "
                         "offsets (start=-1) and cannot be marked")
                continue
            out.rows.append({"id": demo.id, "messages": [
                {"role": "user", "content": extraction_prompt(demo.text, type_name, [])},
                {"role": "assistant", "content": mark(demo.text, demo.spans(type_name, by_path=False))}]})

    def frame_tokens(self, types: tuple[str, ...]) -> int:
        """Tokens of the prompt around a text for the longest type of its list, no demonstration."""
        longest = max(types, key=len)
        frame = EXTRACTION_INSTRUCTION.format(dataset="", label=longest, description=type_description(longest))
        return self.extractor_backend.token_counts([frame + QUERY.format(sentence="")])[0]

    def _run(self, texts, lists, languages, options: GptNerOptions, progress: bool) -> PredictionRun:
        backend = self.extractor_backend
        shown = self.demonstrations_for(options)
        limits = [None if backend.context_tokens is None or not text.strip() else
                  text_limit(backend.context_tokens, frame_tokens=self.frame_tokens(types),
                             per_token=STAGE1_TOKENS_PER_TEXT_TOKEN, extra=STAGE1_EXTRA_TOKENS)
                  for text, types in zip(texts, lists)]
        windows = pieces(backend, texts, limits)
        stats = PredictStats()
        # one question per (text, window, type)
        keys: list[tuple[int, int, str]] = []
        prompts: list[ChatPrompt] = []
        budgets: list[int] = []
        piece_texts = {(i, w): texts[i][win.start:win.end] for i, wins in enumerate(windows)
                       for w, win in enumerate(wins)}
        lengths = dict(zip(piece_texts, backend.token_counts(list(piece_texts.values())))) if piece_texts else {}
        for (i, w), piece in piece_texts.items():
            budget = answer_budget(lengths[(i, w)])
            if options.max_new_tokens is not None:
                budget = min(budget, options.max_new_tokens)
            for type_name in lists[i]:
                chosen = choose_for_type(options.pool, text=piece, language=languages[i], type=type_name, k=shown,
                                         seed=options.seed, selection=options.selection, retriever=options.ranker)
                demos = [(demo.text, demo.spans(type_name)) for demo in chosen.demonstrations]

                def build(count: int, piece=piece, type_name=type_name, demos=demos) -> ChatPrompt:
                    return ChatPrompt((("user", extraction_prompt(piece, type_name, demos[:count])),))

                prompt, dropped = fit(backend, build, len(demos), budget)
                stats.missing_demonstrations += chosen.missing + dropped
                keys.append((i, w, type_name))
                prompts.append(prompt)
                budgets.append(budget)
        stage1, stage2 = Usage(), Usage()
        bar = progress_bar(progress, len(prompts), "gpt-ner (extract)", "question")
        outputs = backend.generate(prompts, max_new_tokens=budgets, options=GenerationOptions(batch_size=options.batch_size),
                                   seed=options.seed, usage=stage1, on_batch=bar.update if bar else None,
                                   what="gpt-ner extraction")
        if bar is not None:
            bar.close()
        read: dict[tuple[int, str], list[ExtractionResult]] = {}
        for (i, w, type_name), samples in zip(keys, outputs):
            answer = samples[0]
            stats.unfinished_outputs += not answer.finished
            read.setdefault((i, type_name), []).append(parse_answer(piece_texts[(i, w)], answer.text))
        found: dict[tuple[int, str], ExtractionResult] = {}
        for (i, type_name), results in read.items():
            found[(i, type_name)] = (results[0] if len(windows[i]) == 1 else
                                     merge_windows(texts[i], windows[i], results))
        if options.verify:
            self._verify(texts, windows, found, options, stats, stage2, progress)
        stats.add(PredictStats(**stage1.as_stats("stage1"), **stage2.as_stats("stage2")))
        predictions = []
        for i, text in enumerate(texts):
            predictions.append(self._prediction(text, lists[i], windows[i], found, i, stats))
        return PredictionRun(predictions=predictions, stats=stats)

    def _verify(self, texts, windows, found, options: GptNerOptions, stats: PredictStats, usage: Usage,
                progress: bool) -> None:
        """Ask about every mention; a "no" drops it (counted in ``rejected_mentions``)."""
        asked: list[tuple[tuple[int, str], Mention]] = []
        prompts: list[ChatPrompt] = []
        for (i, type_name), result in found.items():
            for mention in result.mentions:
                sentence = texts[i]
                if len(windows[i]) > 1:  # quote the window that holds the mention
                    around = context_window(windows[i], mention)
                    sentence = texts[i][around.start:around.end]
                asked.append(((i, type_name), mention))
                prompts.append(ChatPrompt((("user", verification_prompt(sentence, mention.text, type_name)),)))
        if not prompts:
            return
        bar = progress_bar(progress, len(prompts), "gpt-ner (verify)", "question")
        answers = self.extractor_backend.generate(prompts, max_new_tokens=[VERIFY_BUDGET] * len(prompts),
                                                  options=GenerationOptions(batch_size=options.batch_size),
                                                  seed=options.seed, usage=usage, on_batch=bar.update if bar else None,
                                                  what="gpt-ner verification")
        if bar is not None:
            bar.close()
        rejected: set[tuple[tuple[int, str], Mention]] = set()
        for key, samples in zip(asked, answers):
            if verdict(samples[0].text) == "no":
                rejected.add(key)
        for key, result in found.items():
            kept = [m for m in result.mentions if (key, m) not in rejected]
            stats.rejected_mentions += len(result.mentions) - len(kept)
            result.mentions = kept

    def _prediction(self, text: str, types: tuple[str, ...], text_windows: list[Window],
                    found: dict[tuple[int, str], ExtractionResult], index: int, stats: PredictStats) -> Prediction:
        extraction = ExtractionResult(sentence=text)
        typed: list[tuple[int, int, int, str]] = []  # (start, end, rank in the list, text)
        spans: dict[tuple[int, int], int] = {}
        for rank, type_name in enumerate(types):
            result = found.get((index, type_name))
            if result is None:
                continue
            extraction.invented += result.invented
            extraction.duplicates += result.duplicates
            extraction.overlaps += result.overlaps
            extraction.unbalanced += result.unbalanced
            extraction.raw_outputs += result.raw_outputs
            for mention in result.mentions:
                spans[(mention.start, mention.end)] = spans.get((mention.start, mention.end), 0) + 1
                typed.append((mention.start, mention.end, rank, mention.text))
        entities = [{"text": surface, "label": types[rank], "start": start, "end": end, "score": None}
                    for start, end, rank, surface in sorted(typed)]
        extraction.mentions = sorted({Mention(e["start"], e["end"], e["text"]) for e in entities})
        if len(text_windows) > 1:
            extraction.windows = [tuple(w) for w in text_windows]
        stats.sentences += 1
        stats.empty_sentences += not text.strip()
        stats.mentions += len(entities)
        stats.invented_mentions += len(extraction.invented)
        stats.duplicate_mentions += extraction.duplicates
        stats.overlapping_mentions += extraction.overlaps
        stats.unbalanced_outputs += extraction.unbalanced
        stats.multi_type_mentions += sum(1 for count in spans.values() if count > 1)
        if len(text_windows) > 1:
            stats.split_texts += 1
            stats.windows += len(text_windows)
        return Prediction(text=text, extraction=extraction, entities=entities)
