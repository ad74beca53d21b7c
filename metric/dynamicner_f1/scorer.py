"""The dynamicner_f1 scorer: plain Python and numpy (the bootstrap, IOB2 counting); no evaluate, no project imports.

Import it from the installed package (``from dynamicner_f1.scorer import score_spans``); the
``evaluate`` metric in ``dynamicner_f1.py`` is a thin wrapper around these two functions. Both build
one :class:`~dynamicner_f1.options.Options` from their keywords (checked once) and pass it down.

``matching`` decides when a prediction hits a reference:

============ ======================================================== ==========================
matching     main precision / recall / f1                             extraction (label ignored)
============ ======================================================== ==========================
``strict``   same start, end and label                                same start and end
``boundary`` same start and end, label ignored                        same start and end
``partial``  overlapping characters (or tokens) and same label        overlapping
``text``     per-sample sets of lowercased (text, label)              per-sample sets of text
============ ======================================================== ==========================

Matching is one-to-one. An entity with ``start == end == -1`` (unplaced) matches by lowercased
text. Per-label scores and ``macro_f1`` always compare within one label (under ``boundary`` they
are the strict per-label scores); ``macro_f1`` averages over every label seen on either side.
Hierarchical scores compare taxonomy nodes, so they too use exact spans under ``boundary``.

Keys of the result (all floats): ``precision``, ``recall``, ``f1``, ``macro_f1``,
``extraction_precision``/``_recall``/``_f1``, ``label/<label>/precision|recall|f1|support``,
``invalid_offsets`` and ``invalid_offsets_references`` (unplaced entities, matched by text),
``num_predictions``, ``num_references``; with ``type_lists``: ``out_of_list``, ``out_of_list_rate``,
``out_of_list_references``; with ``languages``: ``language/<lang>/f1``; with ``taxonomy``:
``hierarchical_precision``/``_recall``/``_f1``, ``level/<depth>/f1`` and ``taxonomy_unknown``;
with ``bootstrap``: ``f1_ci_low`` and ``f1_ci_high``. Labels may contain ``/``: split a per-label key
with ``key[len("label/"):].rpartition("/")``.

Example:
    >>> gold = [[{"text": "Paris", "label": "city", "start": 10, "end": 15}]]
    >>> pred = [[{"text": "Paris", "label": "city", "start": 10, "end": 15},
    ...          {"text": "Anna", "label": "person", "start": 0, "end": 4}]]
    >>> r = score_spans(pred, gold, type_lists=[["city", "country"]])
    >>> r["precision"], r["recall"], r["f1"], r["out_of_list"]
    (0.5, 1.0, 0.6666666666666666, 1.0)
    >>> score_tags([["B-LOC", "I-LOC", "O"]], [["B-LOC", "I-LOC", "O"]])["f1"]
    1.0
"""

from __future__ import annotations

import contextlib
import gc
import threading
from typing import Iterator, Mapping, Sequence

from .bio import RULES, EncodedTags, count_exact, decode, encode_pair
from .counting import exact_tallies, prf, tally
from .hierarchy import LabelPaths, expand, name_key
from .options import MATCHING, Options
from .spans import Columns, check_samples

# matching -> (criterion of the main scores, whether the main scores compare labels)
_MAIN = {"strict": ("exact", True), "boundary": ("exact", False), "partial": ("overlap", True), "text": ("text", True)}


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_restores = False  # the collector was on when the outermost pause began


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while scoring; when the last pause ends, restore its state.

    Scoring allocates hundreds of thousands of small tuples and no reference cycles; each allocation
    burst would otherwise trigger full collections that walk every live object (the caller's data
    included). Reference counting still frees everything (what the pause gains on the corpus of
    ``bench/bench_metric.py``: the project's ``docs/performance.md``). Nested and concurrent uses
    (threads) share one pause: the first to enter records whether the collector was on, the last to
    leave restores exactly that. (The metric is published standalone, so this is its own copy of
    ``dynamicner_data.gc_scope.paused_gc``.)

    >>> import gc
    >>> before = gc.isenabled()
    >>> with no_gc():
    ...     gc.isenabled()
    False
    >>> gc.isenabled() == before
    True
    """
    global _gc_depth, _gc_restores
    with _gc_lock:
        if _gc_depth == 0:
            _gc_restores = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_restores:
                gc.enable()


def _check_lengths(predictions: Sequence, references: Sequence) -> None:
    for name, value in (("predictions", predictions), ("references", references)):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list with one entry per sample, got {type(value).__name__}")
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions has {len(predictions)} samples but references has {len(references)}; "
            "pass an empty list for a sample without entities (sample "
            f"{min(len(predictions), len(references))} is the first without a partner)"
        )


def score_spans(
    predictions: Sequence[Sequence[Mapping]],
    references: Sequence[Sequence[Mapping]],
    *,
    type_lists: Sequence[Sequence[str]] | None = None,
    languages: Sequence[str] | None = None,
    taxonomy: Mapping | None = None,
    matching: str = "strict",
    bootstrap: int | None = None,
    seed: int = 0,
    sentences: Sequence[str] | None = None,
) -> dict[str, float]:
    """Score per-sample lists of ``{text, label, start, end}`` records (extra keys are ignored).

    ``sentences`` (optional) checks ``text == sentence[start:end]`` for every placed entity.
    """
    _check_lengths(predictions, references)
    options = Options(type_lists=type_lists, languages=languages, taxonomy=taxonomy, matching=matching,
                      bootstrap=bootstrap, seed=seed, sentences=sentences).for_samples(len(references))
    with no_gc():
        pred = check_samples(predictions, field="predictions", sentences=options.sentences)
        gold = check_samples(references, field="references", sentences=options.sentences)
        return score_checked(pred, gold, options)


def score_tags(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    *,
    rule: str = "lenient",
    type_lists: Sequence[Sequence[str]] | None = None,
    languages: Sequence[str] | None = None,
    taxonomy: Mapping | None = None,
    matching: str = "strict",
    bootstrap: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Score IOB2 tag sequences; ``rule`` is ``"lenient"`` (seqeval default) or ``"strict"`` (IOB2).

    Offsets are token indices; ``matching="text"`` needs span records and is refused here.
    """
    _check_lengths(predictions, references)
    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is not one of {list(RULES)}")
    options = Options(type_lists=type_lists, languages=languages, taxonomy=taxonomy, matching=matching,
                      bootstrap=bootstrap, seed=seed).for_samples(len(references))
    with no_gc():
        return score_encoded(encode_pair(predictions, references), options, rule=rule)


def score_encoded(encoded: EncodedTags, options: Options, *, rule: str) -> dict[str, float]:
    """Score tag sequences checked and encoded by :func:`dynamicner_f1.bio.encode_pair`."""
    if options.matching == "text":
        raise ValueError("matching='text' needs span records with their text; tag sequences have none")
    if options.matching == "strict" and options.paths is None and options.type_lists is None and not (
        options.languages is not None or options.bootstrap
    ):
        counts = count_exact(encoded, rule=rule)
        labels = {label: (counts.tp[label], counts.pred[label], counts.gold[label]) for label in counts.pred | counts.gold}
        n_pred, n_gold = sum(counts.pred.values()), sum(counts.gold.values())
        return _assemble(
            micro=(sum(counts.tp.values()), n_pred, n_gold),
            labels=labels,
            extraction=(counts.extraction_tp, n_pred, n_gold),
            per_sample=None,
            options=options,
        )
    pred, gold = (Columns(lengths=c.lengths, starts=c.starts, ends=c.ends, labels=c.labels, texts=[""] * len(c.starts))
                  for c in decode(encoded, rule=rule))
    return score_checked(pred, gold, options)


def score_checked(pred: Columns, gold: Columns, options: Options) -> dict[str, float]:
    """Score entity columns already checked by :func:`dynamicner_f1.spans.check_samples`."""
    criterion, labelled = _MAIN[options.matching]
    if criterion == "exact":
        per_label, extraction = exact_tallies(pred, gold)
    else:
        per_label = tally(pred, gold, criterion=criterion)
        extraction = tally(pred, gold, criterion=criterion, labelled=False)
    main = per_label if labelled else extraction
    per_sample = main.by_sample(gold.n_samples) if options.languages is not None or options.bootstrap else None
    result = _assemble(
        micro=main.counts(),
        labels=per_label.by_label(),
        extraction=extraction.counts(),
        per_sample=per_sample,
        options=options,
    )
    result["invalid_offsets"] = float(pred.unplaced)
    result["invalid_offsets_references"] = float(gold.unplaced)
    if options.type_lists is not None:
        result.update(_out_of_list(pred, gold, options.type_lists, lower=options.matching == "text"))
    if options.paths is not None:
        result.update(_hierarchical(pred, gold, options.paths, criterion=criterion))
    return result


def _out_of_list(pred: Columns, gold: Columns, type_lists: Sequence[Sequence[str]], *, lower: bool) -> dict[str, float]:
    allowed = [{t.lower() for t in types} if lower else set(types) for types in type_lists]

    def count(cols: Columns) -> tuple[int, int]:
        if lower:  # text matching scores per-sample sets of lowercased (text, label)
            keys = set(zip(cols.ids, map(str.lower, cols.texts), map(str.lower, cols.labels)))
        else:
            keys = list(zip(cols.ids, cols.starts, cols.labels))
        return sum(key[-1] not in allowed[key[0]] for key in keys), len(keys)

    outside, total = count(pred)
    outside_gold, _ = count(gold)
    return {
        "out_of_list": float(outside),
        "out_of_list_rate": outside / total if total else 0.0,
        "out_of_list_references": float(outside_gold),
    }


def _hierarchical(pred: Columns, gold: Columns, paths: LabelPaths, *, criterion: str) -> dict[str, float]:
    cache: dict[str, tuple[list[tuple[str, ...]], bool]] = {}
    unknown = 0

    def expanded(cols: Columns, field: str) -> Columns:
        nonlocal unknown
        rows: list[list[tuple]] = [[] for _ in range(cols.n_samples)]
        seen: dict[int, int] = {}
        for i, s, e, label, t in zip(cols.ids, cols.starts, cols.ends, cols.labels, cols.texts):
            j = seen[i] = seen.get(i, -1) + 1
            if label not in cache:
                try:
                    path = paths.resolve(label)
                except ValueError as err:
                    raise ValueError(f"sample {i}: {field}[{i}][{j}]['label']: {err}") from None
                cache[label] = (expand(path), False) if path is not None else ([(name_key(label),)], True)
            nodes, is_unknown = cache[label]
            unknown += is_unknown
            rows[i].extend((s, e, node, t) for node in nodes)
        return Columns.from_rows(rows)

    t = tally(expanded(pred, "predictions"), expanded(gold, "references"), criterion=criterion)
    p, r, f = t.scores()
    out = {"hierarchical_precision": p, "hierarchical_recall": r, "hierarchical_f1": f, "taxonomy_unknown": float(unknown)}
    levels: dict[int, list[int]] = {}
    for node, (tp, n_pred, n_gold) in t.by_label().items():
        acc = levels.setdefault(len(node), [0, 0, 0])
        acc[0] += tp
        acc[1] += n_pred
        acc[2] += n_gold
    for depth in sorted(levels):
        out[f"level/{depth}/f1"] = prf(*levels[depth])[2]
    return out


def _assemble(
    *,
    micro: tuple[int, int, int],
    labels: Mapping[object, tuple[int, int, int]],
    extraction: tuple[int, int, int],
    per_sample: tuple[list[int], list[int], list[int]] | None,
    options: Options,
) -> dict[str, float]:
    p, r, f = prf(*micro)
    result = {"precision": p, "recall": r, "f1": f}
    f1s = []
    label_keys: dict[str, float] = {}
    for label in sorted(labels):
        tp, n_pred, n_gold = labels[label]
        lp, lr, lf = prf(tp, n_pred, n_gold)
        f1s.append(lf)
        label_keys.update(
            {
                f"label/{label}/precision": lp,
                f"label/{label}/recall": lr,
                f"label/{label}/f1": lf,
                f"label/{label}/support": float(n_gold),
            }
        )
    result["macro_f1"] = sum(f1s) / len(f1s) if f1s else 0.0
    ep, er, ef = prf(*extraction)
    result.update({"extraction_precision": ep, "extraction_recall": er, "extraction_f1": ef})
    result["num_predictions"] = float(micro[1])
    result["num_references"] = float(micro[2])
    result["invalid_offsets"] = 0.0
    result["invalid_offsets_references"] = 0.0
    result.update(label_keys)
    if per_sample is not None:
        tp, n_pred, n_gold = per_sample
        if options.languages is not None:
            acc: dict[str, list[int]] = {}
            for lang, a, b, c in zip(options.languages, tp, n_pred, n_gold):
                slot = acc.setdefault(lang, [0, 0, 0])
                slot[0] += a
                slot[1] += b
                slot[2] += c
            for lang in sorted(acc):
                result[f"language/{lang}/f1"] = prf(*acc[lang])[2]
        if options.bootstrap:
            result.update(bootstrap_interval(tp, n_pred, n_gold, resamples=options.bootstrap, seed=options.seed))
    return result


def bootstrap_interval(
    tp: Sequence[int], n_pred: Sequence[int], n_gold: Sequence[int], *, resamples: int, seed: int
) -> dict[str, float]:
    """95% percentile interval of micro F1 over samples drawn with replacement (numpy, seeded).

    Example:
        >>> ci = bootstrap_interval([1, 0, 1, 1], [1, 1, 1, 2], [1, 1, 1, 1], resamples=200, seed=0)
        >>> 0.0 <= ci["f1_ci_low"] <= ci["f1_ci_high"] <= 1.0
        True
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    tp_a = np.asarray(tp, dtype=np.int64)
    denom = np.asarray(n_pred, dtype=np.int64) + np.asarray(n_gold, dtype=np.int64)
    n = len(tp_a)
    if n == 0:
        return {"f1_ci_low": 0.0, "f1_ci_high": 0.0}
    scores = np.empty(resamples)
    step = max(1, 2_000_000 // n)
    for lo in range(0, resamples, step):
        hi = min(resamples, lo + step)
        idx = rng.integers(0, n, size=(hi - lo, n))
        num = 2 * tp_a[idx].sum(axis=1)
        den = denom[idx].sum(axis=1)
        scores[lo:hi] = np.divide(num, den, out=np.zeros(hi - lo), where=den > 0)
    low, high = np.percentile(scores, [2.5, 97.5])
    return {"f1_ci_low": float(low), "f1_ci_high": float(high)}
