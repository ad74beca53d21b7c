"""Benchmark of dynamicner_f1: the core scorer against seqeval, and the evaluate metric against a no-op.

Data: the shared CoNLL-2003 test set (../shared/data/geic/conll2003-test.json) as whitespace-token IOB2
tags, replicated 30 times (about 110k sentences), in three seeded scenarios:

- A: 20% of the entity labels changed (about 70% of the sentences still equal their gold, which the
  scorer's identical-sentence shortcut counts without decoding);
- B: as A, then every sentence with tokens that still equals its gold changed too (no shortcut);
- C: random tags on both sides (half ``O``), a worst case of short, broken chunks.

1. Core scorer (``score_tags``, seqeval's default rule) against ``seqeval.metrics.f1_score`` on the same
   tags, with equal F1, per scenario. Goal: at least 10x faster in A and B; C is reported. The span
   scorer on the entities of A is shown too.
2. ``evaluate.load("metric/dynamicner_f1", ...)`` against a no-op evaluate metric with the same features,
   on A, two ways: one ``compute(predictions=..., references=...)`` and ``add_batch`` per 1000 samples
   then ``compute()``. Both go through evaluate's storage (feature encoding, the Arrow cache file,
   reading it back: the no-op's whole cost and the floor under any evaluate metric), so the ratio is
   what checking and scoring add to it. Goal: at most 1.2x both ways.

Every comparison starts by collecting and freezing (``gc.freeze``) what is alive: the scenarios,
about 15 million objects. Otherwise each full collection walks them all (more than the metric's own
cost: docs/performance.md) and lands in whichever timed call crosses the collector's threshold, so a
ratio would say which call was unlucky. Frozen, each call pays the collections of its own objects.

Run from the repository root: ``python bench/bench_metric.py [--repeats 3]``. The ratios are the last line.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "geic" / "conll2003-test.json"

_NOOP = '''
import datasets
import evaluate

_SPAN = datasets.List({"text": datasets.Value("string"), "label": datasets.Value("string"),
                       "start": datasets.Value("int32"), "end": datasets.Value("int32")})
_TAGS = datasets.List(datasets.Value("string"))


class NoopMetric(evaluate.Metric):
    def _info(self):
        feature = _SPAN if self.config_name in (None, "default", "span") else _TAGS
        return evaluate.MetricInfo(description="no-op", citation="", inputs_description="",
                                   features=datasets.Features({"predictions": feature, "references": feature}))

    def _compute(self, predictions, references):
        return {}
'''


def conll_tags(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Whitespace tokens and IOB2 tags; each entity at its first free whole-token occurrence."""
    data = json.loads(path.read_text(encoding="utf-8"))
    tokens, tags = [], []
    for value in data.values():
        words = value["sentence"].split()
        seq = ["O"] * len(words)
        for text, label in zip(value["entity"], value["category"]):
            parts = text.split()
            for s in range(len(words) - len(parts) + 1):
                if words[s : s + len(parts)] == parts and all(t == "O" for t in seq[s : s + len(parts)]):
                    seq[s : s + len(parts)] = ["B-" + label] + ["I-" + label] * (len(parts) - 1)
                    break
        tokens.append(words)
        tags.append(seq)
    return tokens, tags


def relabel(tags: list[list[str]], share: float, seed: int) -> list[list[str]]:
    """Change the label of ``share`` of the chunks (B- tag and its I- tags), seeded."""
    rng = random.Random(seed)
    types = sorted({t[2:] for seq in tags for t in seq if t != "O"})
    out = []
    for seq in tags:
        seq = list(seq)
        for i, tag in enumerate(seq):
            if tag.startswith("B-") and rng.random() < share:
                new = rng.choice([t for t in types if t != tag[2:]])
                seq[i] = "B-" + new
                j = i + 1
                while j < len(seq) and seq[j] == "I-" + tag[2:]:
                    seq[j] = "I-" + new
                    j += 1
        out.append(seq)
    return out


def differ_everywhere(gold: list[list[str]], seed: int) -> list[list[str]]:
    """Scenario B: 20% of the chunks relabelled, then every sentence with tokens still equal to its
    gold changed too (one chunk relabelled, or one token of an all-``O`` sentence tagged ``B-X``)."""
    rng = random.Random(seed)
    types = sorted({t[2:] for seq in gold for t in seq if t != "O"})
    out = relabel(gold, 0.2, seed)
    for k, (seq, ref) in enumerate(zip(out, gold)):
        if not ref or seq != ref:
            continue
        starts = [i for i, tag in enumerate(seq) if tag.startswith("B-")]
        if starts:
            i = rng.choice(starts)
            new = rng.choice([t for t in types if t != seq[i][2:]])
            old, seq[i] = seq[i][2:], "B-" + new
            j = i + 1
            while j < len(seq) and seq[j] == "I-" + old:
                seq[j] = "I-" + new
                j += 1
        else:
            seq[rng.randrange(len(seq))] = "B-" + rng.choice(types)
    return out


def random_tags(gold: list[list[str]], seed: int) -> list[list[str]]:
    """Scenario C: a random tag for every token (half ``O``; ``B-``/``I-`` of any type), same lengths."""
    rng = random.Random(seed)
    types = sorted({t[2:] for seq in gold for t in seq if t != "O"})
    choices = [f"{prefix}-{t}" for t in types for prefix in "BI"]
    return [["O" if rng.random() < 0.5 else rng.choice(choices) for _ in seq] for seq in gold]


def to_spans(tokens: list[list[str]], tags: list[list[str]]) -> list[list[dict]]:
    """Span records with character offsets into ' '.join(tokens)."""
    out = []
    for words, seq in zip(tokens, tags):
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w) + 1
        records, i = [], 0
        while i < len(seq):
            if seq[i] != "O":
                j = i + 1
                while j < len(seq) and seq[j] == "I-" + seq[i][2:]:
                    j += 1
                start, end = starts[i], starts[j - 1] + len(words[j - 1])
                records.append({"text": " ".join(words[i:j]), "label": seq[i][2:], "start": start, "end": end})
                i = j
            else:
                i += 1
        out.append(records)
    return out


@dataclass
class Timing:
    """Medians over alternating rounds: wall time, and CPU time of this process (robust on a shared machine)."""

    wall: float
    cpu: float


def compare(peer: Callable[[], object], ours: Callable[[], object], repeats: int) -> tuple[Timing, object, Timing, object]:
    """Time ``peer`` and ``ours`` alternately (the machine is shared); medians and last results.
    The inputs alive before the first call are frozen for the collector (see the module docstring)."""
    walls: tuple[list[float], list[float]] = ([], [])
    cpus: tuple[list[float], list[float]] = ([], [])
    results: list[object] = [None, None]
    gc.collect()
    gc.freeze()
    try:
        for _ in range(repeats):
            for k, fn in enumerate((peer, ours)):
                results[k] = None  # the previous result is not alive during the next call
                gc.collect()
                w0, c0 = time.perf_counter(), time.process_time()
                results[k] = fn()
                walls[k].append(time.perf_counter() - w0)
                cpus[k].append(time.process_time() - c0)
    finally:
        gc.unfreeze()
    timings = [Timing(wall=statistics.median(walls[k]), cpu=statistics.median(cpus[k])) for k in (0, 1)]
    return timings[0], results[0], timings[1], results[1]


def ratio(a: Timing, b: Timing) -> str:
    return f"{a.wall / b.wall:.2f}x wall, {a.cpu / b.cpu:.2f}x cpu"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--copies", type=int, default=30)
    args = parser.parse_args()
    if not SHARED.is_file():
        print(f"SKIP: {SHARED} is absent (../shared beside the checkout); nothing to benchmark")
        return 0
    hf_home = tempfile.mkdtemp(prefix="bench-metric-hf-")
    os.environ.update({"HF_HOME": hf_home, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    sys.path.insert(0, str(ROOT / "metric"))
    import evaluate
    from seqeval.metrics import f1_score

    from dynamicner_f1.scorer import score_spans, score_tags

    tokens, tags = conll_tags(SHARED)
    gold = [list(seq) for _ in range(args.copies) for seq in tags]
    words = [w for _ in range(args.copies) for w in tokens]
    scenarios = {
        "A": ("20% of the labels changed", gold, relabel(gold, 0.2, seed=13)),
        "B": ("every sentence with tokens differs from its gold", gold, differ_everywhere(gold, seed=13)),
        "C": ("random tags on both sides", random_tags(gold, seed=14), random_tags(gold, seed=15)),
    }
    pred = scenarios["A"][2]

    # 1. core scorer vs seqeval on the same tags, per scenario
    core: dict[str, str] = {}
    for name, (what, ref, hyp) in scenarios.items():
        same = sum(p == g for p, g in zip(hyp, ref))
        print(f"scenario {name} ({what}): {len(ref)} sentences, {sum(map(len, ref))} tokens, "
              f"{sum(t.startswith('B-') for s in ref for t in s)} gold B- tags, {same / len(ref):.0%} sentences "
              "equal to their gold")
        t_seq, f_seq, t_ours, r_ours = compare(
            lambda: f1_score(ref, hyp), lambda: score_tags(hyp, ref, rule="lenient"), args.repeats
        )
        assert abs(r_ours["f1"] - f_seq) < 1e-12, (name, r_ours["f1"], f_seq)
        print(f"  seqeval.metrics.f1_score: {t_seq.wall:.3f} s wall, {t_seq.cpu:.3f} s cpu, f1={f_seq:.6f}")
        print(f"  score_tags (bio):         {t_ours.wall:.3f} s wall, {t_ours.cpu:.3f} s cpu, f1={r_ours['f1']:.6f}"
              f"  -> {ratio(t_seq, t_ours)} faster")
        core[name] = ratio(t_seq, t_ours)
        if name == "A":
            t_seqeval, f_seqeval, t_core = t_seq, f_seq, t_ours
    gold_spans, pred_spans = to_spans(words, gold), to_spans(words, pred)
    t_seqeval2, _, t_span, r_span = compare(
        lambda: f1_score(gold, pred), lambda: score_spans(pred_spans, gold_spans), args.repeats
    )
    assert abs(r_span["f1"] - f_seqeval) < 1e-12
    print(f"score_spans (span, A):    {t_span.wall:.3f} s wall, {t_span.cpu:.3f} s cpu, f1={r_span['f1']:.6f}"
          f"  -> {ratio(t_seqeval2, t_span)} faster than seqeval in these rounds")

    # 2. evaluate metric vs a no-op metric with the same features
    noop_dir = Path(tempfile.mkdtemp(prefix="bench-noop-")) / "noop_metric"
    noop_dir.mkdir()
    (noop_dir / "noop_metric.py").write_text(_NOOP, encoding="utf-8")
    slow = {}
    batches = {}
    for config, p, g in (("bio", pred, gold), ("span", pred_spans, gold_spans)):
        ours = evaluate.load(str(ROOT / "metric" / "dynamicner_f1"), config)
        noop = evaluate.load(str(noop_dir), config)
        t_noop, _, t_ours, r_ours = compare(
            lambda: noop.compute(predictions=p, references=g), lambda: ours.compute(predictions=p, references=g), args.repeats
        )
        assert abs(r_ours["f1"] - f_seqeval) < 1e-12
        slow[config] = (t_ours, t_noop)
        print(f"evaluate {config:4s} compute(all):   no-op {t_noop.wall:.3f} s wall / {t_noop.cpu:.3f} s cpu, "
              f"dynamicner_f1 {t_ours.wall:.3f} s / {t_ours.cpu:.3f} s -> {ratio(t_ours, t_noop)} the no-op")

        def batched(metric):  # through evaluate's storage: add_batch per 1000 samples, then compute()
            for lo in range(0, len(g), 1000):
                metric.add_batch(predictions=p[lo : lo + 1000], references=g[lo : lo + 1000])
            return metric.compute()

        t_noop_b, _, t_ours_b, r_batched = compare(lambda: batched(noop), lambda: batched(ours), args.repeats)
        assert abs(r_batched["f1"] - f_seqeval) < 1e-12
        batches[config] = (t_ours_b, t_noop_b)
        print(f"evaluate {config:4s} add_batch x{-(-len(g) // 1000)}: no-op {t_noop_b.wall:.3f} s wall / "
              f"{t_noop_b.cpu:.3f} s cpu, dynamicner_f1 {t_ours_b.wall:.3f} s / {t_ours_b.cpu:.3f} s -> "
              f"{ratio(t_ours_b, t_noop_b)} the no-op")
    print(
        f"RATIOS core_bio_vs_seqeval_A={core['A']} core_bio_vs_seqeval_B={core['B']} (goal >= 10x) "
        f"core_bio_vs_seqeval_C={core['C']} | "
        f"core_span_vs_seqeval={ratio(t_seqeval2, t_span)} | "
        f"evaluate_bio_vs_noop={ratio(*slow['bio'])} | evaluate_span_vs_noop={ratio(*slow['span'])} | "
        f"evaluate_bio_add_batch_vs_noop={ratio(*batches['bio'])} | "
        f"evaluate_span_add_batch_vs_noop={ratio(*batches['span'])} (goal <= 1.2x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
