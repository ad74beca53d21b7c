"""Benchmark: the per-sentence data core (GEIC alignment, tokens, IOB2 tags, dynamic type lists).

Replicates the authors' English sample (``../shared/data/geic/dynamicner-example-en.json``) to N
sentences and times, in one run, each stage of :mod:`dynamicner_data` over the whole corpus, next
to the peer: the standard library's ``json.loads`` of the same corpus (the floor of any reader).
The builder adds Arrow writing on top of these stages; this script shows where its time goes.

The last line is the ratio (all stages) / (json.loads).

Usage: ``python bench/bench_data_core.py [--sentences 100000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT.parent / "shared" / "data" / "geic" / "dynamicner-example-en.json"

from dynamicner_data.geic import parse_geic  # noqa: E402
from dynamicner_data.taxonomy import Taxonomy  # noqa: E402
from dynamicner_data.records import DEFAULT_BATCH_SIZE  # noqa: E402
from dynamicner_data.tokenize import bio_batch, bio_tags, tokenize_batch, tokenize_columns  # noqa: E402
from dynamicner_data.typelists import DynamicOptions, dynamic_type_lists, node_ids, static_type_lists  # noqa: E402


def best_of(repeats: int, *, collect: bool, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        if not collect:
            gc.disable()
        try:
            start = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gc", action="store_true",
                        help="leave the cyclic garbage collector on while timing (off by default: with a whole "
                             "corpus of small objects alive, its full passes dominate and vary from run to run)")
    args = parser.parse_args()
    if not SAMPLE.is_file():
        sys.exit(f"needs the authors' sample at {SAMPLE}")
    source = list(json.loads(SAMPLE.read_text(encoding="utf-8")).values())
    n = args.sentences
    text = json.dumps({f"r{i // len(source)}-{i % len(source)}": source[i % len(source)] for i in range(n)})
    taxonomy = Taxonomy.dynamicner()
    options = DynamicOptions(seed=0)

    t_json, data = best_of(args.repeats, collect=args.gc, fn=lambda: json.loads(text))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_parse, (samples, report) = best_of(args.repeats, collect=args.gc, fn=lambda: parse_geic(data, taxonomy, source="bench"))
    t_tok, columns = best_of(args.repeats, collect=args.gc, fn=lambda: [tokenize_columns(s.text, "en") for s in samples])
    # type lists as the builder makes them: one call per batch of DEFAULT_BATCH_SIZE samples
    chunks = range(0, n, DEFAULT_BATCH_SIZE)
    ids = [f"en-train-{s.key}" for s in samples]
    entity_offsets = np.cumsum([0] + [len(s.entities) for s in samples])
    node_index = node_ids(taxonomy, [e.node for s in samples for e in s.entities])

    def batch_lists(make):
        out = []
        for a in chunks:
            lo, hi = entity_offsets[a], entity_offsets[min(a + DEFAULT_BATCH_SIZE, n)]
            out.append(make(a, entity_offsets[a:a + DEFAULT_BATCH_SIZE + 1] - lo, node_index[lo:hi]))
        return out

    t_dyn, dyn = best_of(args.repeats, collect=args.gc, fn=lambda: batch_lists(
        lambda a, offs, ns: dynamic_type_lists(ids[a:a + DEFAULT_BATCH_SIZE], offs, ns, taxonomy, options)))
    t_static, _ = best_of(args.repeats, collect=args.gc, fn=lambda: batch_lists(
        lambda a, offs, ns: static_type_lists(offs, ns, taxonomy, 3)))
    flat_labels = [b.names[k] for b in dyn for k in b.label_names.tolist()]
    lists = [flat_labels[entity_offsets[i]:entity_offsets[i + 1]] for i in range(n)]
    t_bio, _ = best_of(
        args.repeats,
        collect=args.gc,
        fn=lambda: [
            bio_tags(cols, [(e.start, e.end, label) for e, label in zip(s.entities, labels)])
            for cols, s, labels in zip(columns, samples, lists)
        ],
    )
    # what the builder runs: tokens and tags of whole batches of DEFAULT_BATCH_SIZE texts
    texts = [s.text for s in samples]
    t_tok_batch, batches = best_of(
        args.repeats, collect=args.gc, fn=lambda: [tokenize_batch(texts[a:a + DEFAULT_BATCH_SIZE], "en") for a in chunks]
    )
    offsets = [0, *(len(s.entities) for s in samples)]
    for i in range(1, len(offsets)):
        offsets[i] += offsets[i - 1]
    starts = [e.start for s in samples for e in s.entities]
    ends = [e.end for s in samples for e in s.entities]
    labels = flat_labels

    def tag_batches():
        for batch, a in zip(batches, chunks):
            lo, hi = offsets[a], offsets[min(a + DEFAULT_BATCH_SIZE, n)]
            bio_batch(batch, [o - lo for o in offsets[a:a + DEFAULT_BATCH_SIZE + 1]], starts[lo:hi], ends[lo:hi], labels[lo:hi])

    t_bio_batch, _ = best_of(args.repeats, collect=args.gc, fn=tag_batches)
    stages = {"parse_geic (validate + align)": t_parse, "tokenize_columns (per text)": t_tok,
              "bio_tags (per text)": t_bio, "tokenize_batch (builder)": t_tok_batch,
              "bio_batch (builder)": t_bio_batch, "dynamic_type_lists (builder)": t_dyn, "static_type_lists (fine)": t_static}
    print(f"{n} sentences, {report.entities} entities")
    print(f"{'json.loads (peer)':32s} {t_json:7.3f} s  {t_json / n * 1e6:6.2f} us/sentence")
    for name, seconds in stages.items():
        print(f"{name:32s} {seconds:7.3f} s  {seconds / n * 1e6:6.2f} us/sentence")
    total = t_parse + t_tok_batch + t_bio_batch + t_dyn
    print(f"{'all builder stages (dynamic)':32s} {total:7.3f} s")
    print(f"ratio data core / json.loads: {total / t_json:.2f}x")


if __name__ == "__main__":
    main()
