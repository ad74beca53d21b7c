"""Benchmark: the spaCy component's ``nlp.pipe`` (one method call per minibatch) vs one call per document.

Same tiny model (trained from scratch here to memorise the project's fixture sentences,
tests/fixtures/tiny_corpus.json, or given with --model), same sentences (the fixture sentences
cycled, each with its own ``Doc._.type_list``), greedy decoding, one torch thread:

- per document: ``nlp(doc)`` for each document, one method call each (what a component without its
  own ``pipe`` gets from ``nlp.pipe``);
- ``nlp.pipe(docs, batch_size=N)``: the ``cascadener`` component's ``pipe``, one call per N documents;
- for reference, ``CascadeNER.predict`` on the texts directly (the component's overhead).

The three must give the same entities (text, label, offsets); the script stops otherwise. The
ratio is printed last.

    python bench/bench_spacy.py [--model DIR] [--sentences 64] [--batch-size 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadener.pipeline import CascadeNER  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a model folder (default: train the memorising tiny model)")
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32, help="documents per minibatch (nlp.pipe)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: stable timings on a shared machine)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per side; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-spacy-") as scratch:  # the trained model goes with it
        measure(args, Path(scratch))


def measure(args: argparse.Namespace, scratch: Path) -> None:
    """Train (or take) the model, time the three ways, check they agree and print the figures."""
    import spacy
    import torch

    torch.set_num_threads(args.threads)
    records = [r for r in json.loads((ROOT / "tests" / "fixtures" / "tiny_corpus.json").read_text(encoding="utf-8"))[
        "records"] if r["language"] == "en"]
    model_dir = args.model
    if model_dir is None:
        from cascadener.training import MEMORISE, train_cascade

        start = time.perf_counter()
        trained = train_cascade(records, scratch, one_model=True, options=MEMORISE)
        model_dir = str(trained.extractor)
        print(f"trained a tiny model on {len(records)} fixture sentences in {time.perf_counter() - start:.1f} s")
    chosen = [records[i % len(records)] for i in range(args.sentences)]
    nlp = spacy.blank("en")
    nlp.add_pipe("cascadener", config={"model": model_dir, "device": "cpu", "batch_size": args.batch_size})
    nlp.get_pipe("cascadener").load()

    def docs():
        out = []
        for record in chosen:
            doc = nlp.make_doc(record["text"])
            doc._.type_list = record["type_list"]
            out.append(doc)
        return out

    def ents(annotated):
        return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in annotated]

    def per_document():
        return ents([nlp(doc) for doc in docs()])

    def piped():
        return ents(list(nlp.pipe(docs(), batch_size=args.batch_size)))

    ner = CascadeNER.from_pretrained(model_dir, device="cpu")

    def direct():
        out = ner.predict([r["text"] for r in chosen], [r["type_list"] for r in chosen], batch_size=args.batch_size)
        return [[(e["start"], e["end"], e["label"]) for e in sentence] for sentence in out]

    timings, outputs = {}, {}
    for name, run in (("per document", per_document), ("nlp.pipe", piped), ("predict", direct)):
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            outputs[name] = run()
            best = min(best, time.perf_counter() - start)
        timings[name] = best
    if not outputs["per document"] == outputs["nlp.pipe"] == outputs["predict"]:
        raise SystemExit("the three ways gave different entities")
    entities = sum(map(len, outputs["nlp.pipe"]))
    print(f"{len(chosen)} sentences ({len(records)} distinct, cycled), {entities} entities, identical outputs; "
          f"model {args.model or 'trained here'}, {args.threads} torch thread(s), best of {args.repeats}")
    for name, seconds in timings.items():
        print(f"{name:<13} {seconds:7.2f} s = {len(chosen) / seconds:6.1f} sentences/s")
    print(f"ratio nlp.pipe/CascadeNER.predict time: {timings['nlp.pipe'] / timings['predict']:.2f}x (the component's overhead)")
    print(f"ratio nlp.pipe/per-document sentences per second: {timings['per document'] / timings['nlp.pipe']:.1f}x")


if __name__ == "__main__":
    main()
