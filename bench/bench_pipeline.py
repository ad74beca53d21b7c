"""Benchmark: CascadeNER.predict vs the reference-style naive loop, constrained vs generative stage 2, and
the three methods of the comparison (CascadeNER, GPT-NER, PromptNER) on one model.

Same tiny model for every side (trained from scratch here to memorise the project's fixture
sentences, tests/fixtures/tiny_corpus.json, in all three methods' formats, or given with --model),
same 200 sentences (the fixture sentences cycled), greedy decoding:

- naive: as the reference inference runs: one ``generate`` per sentence and one per entity, batch
  size 1, ``max_new_tokens=512``;
- predict: ``CascadeNER.predict`` (length-sorted left-padded batches, input-bounded budgets).

The two must give identical entities (text, label, start, end); the script stops otherwise.
Then stage 2 alone over every extracted entity: constrained (KV-cache candidate scoring) vs
generative, time per entity. Then each method's ``run`` over the same sentences on the same model
(GPT-NER and PromptNER asked without demonstrations, as a fine-tuned model is): sentences per
second, requests per sentence and F1 against the gold. Ratios are printed last.

    python bench/bench_pipeline.py [--model DIR] [--sentences 200] [--batch-size 64] [--threads 1]

Both sides run with the same number of torch threads (default 1: on a machine shared with other
jobs, 2-thread kernels of a tiny model wait on each other and timings swing by 10x).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadener.backends.base import ClassifyOptions  # noqa: E402
from cascadener.backends.generation import encode_chat, eos_token_ids  # noqa: E402
from cascadener.methods import GptNer, GptNerOptions, PromptNer, PromptNerOptions  # noqa: E402
from cascadener.options import PredictOptions  # noqa: E402
from cascadener.parsing import match_answer, parse_extraction  # noqa: E402
from cascadener.pipeline import CascadeNER  # noqa: E402
from cascadener.prompts import stage1_prompt, stage2_prompt  # noqa: E402


def naive_predict(ner: CascadeNER, texts, type_lists, *, max_new_tokens: int = 512):
    """The reference's loop: one generate per sentence, one per entity, batch 1, 512 new tokens."""
    import torch

    def ask(model, tokenizer, user: str) -> str:
        ids = encode_chat(tokenizer, [user])[0]
        with torch.inference_mode():
            out = model.generate(torch.tensor([ids], device=model.device), max_new_tokens=max_new_tokens,
                                 do_sample=False, temperature=None, top_p=None, top_k=None,
                                 eos_token_id=eos_token_ids(model, tokenizer),
                                 pad_token_id=tokenizer.pad_token_id)
        new = out[0, len(ids):].tolist()
        eos = set(eos_token_ids(model, tokenizer))
        cut = next((i for i, t in enumerate(new) if t in eos), len(new))
        return tokenizer.decode(new[:cut], skip_special_tokens=True)

    results = []
    for text, types in zip(texts, type_lists):
        answer = ask(ner.extractor, ner.extractor_tokenizer, stage1_prompt(text))
        entities = []
        for mention in parse_extraction(text, answer).mentions:
            reply = ask(ner.classifier, ner.classifier_tokenizer, stage2_prompt(mention.text, text, types))
            match = match_answer(reply, types)
            entities.append((mention.text, match.label if match.label is not None else reply, mention.start,
                             mention.end))
        results.append(entities)
    return results


def compare_methods(ner: CascadeNER, records, *, batch_size: int, repeats: int) -> None:
    """Each method's ``run`` over the same sentences on the same model: sentences/s, requests/sentence, F1."""
    from dynamicner_f1 import score_spans

    texts = [r["text"] for r in records]
    lists = [r["type_list"] for r in records]
    languages = [r["language"] for r in records]
    gold = [r["entities"] for r in records]
    backend = ner.extractor_backend
    methods = [(ner, PredictOptions(batch_size=batch_size)),
               (GptNer(backend, fine_tuned=True), GptNerOptions(batch_size=batch_size, demonstrations=0)),
               (PromptNer(backend, fine_tuned=True), PromptNerOptions(batch_size=batch_size, demonstrations=0))]
    print(f"the three methods on this model, {len(texts)} sentences, batch {batch_size}, best of {repeats}:")
    for method, options in methods:
        method.run(texts[:4], lists[:4], options=options, languages=languages[:4])  # warm-up
        best, run = float("inf"), None
        for _ in range(repeats):
            start = time.perf_counter()
            run = method.run(texts, lists, options=options, languages=languages)
            best = min(best, time.perf_counter() - start)
        stats = run.stats
        f1 = score_spans([p.entities for p in run.predictions], gold)["f1"]
        print(f"  {method.applied_policy(options, classifier=backend.capabilities)['method']:<22} {len(texts) / best:6.1f} sentences/s, "
              f"{(stats.stage1_requests + stats.stage2_requests) / len(texts):.2f} requests/sentence "
              f"(stage 1 {stats.stage1_requests}, stage 2 {stats.stage2_requests}), "
              f"{(stats.stage1_prompt_tokens + stats.stage2_prompt_tokens) / len(texts):.0f} prompt tokens/sentence, "
              f"F1 {100 * f1:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a trained CascadeNER model directory (default: train one)")
    parser.add_argument("--corpus", default=str(ROOT / "tests" / "fixtures" / "tiny_corpus.json"))
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side; the best counts")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both sides (1: stable timings on a shared machine)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:  # the trained model goes with it
        measure(args, Path(scratch))


def measure(args: argparse.Namespace, scratch: Path) -> None:
    """Train (or take) the model, time each side, check they agree and print the figures, the ratio last."""
    import torch

    torch.set_num_threads(args.threads)

    records = json.loads(Path(args.corpus).read_text(encoding="utf-8"))["records"]
    model_dir = args.model
    if model_dir is None:
        from datasets import concatenate_datasets

        from cascadener.training import MEMORISE
        from cascadener.training.sft import build_sft, conversations_dataset
        from cascadener.training.trainer import train_conversations

        start = time.perf_counter()
        data = concatenate_datasets([build_sft(records).combined(),
                                     conversations_dataset(GptNer.conversations(records).rows),
                                     conversations_dataset(PromptNer.conversations(records).rows)]).shuffle(seed=0)
        trained = train_conversations(data, scratch / "model",
                                      options=replace(MEMORISE, max_steps=300))  # three formats to memorise
        model_dir = str(trained.output_dir)
        print(f"trained a tiny model on {len(records)} fixture sentences in the three methods' formats "
              f"({len(data)} conversations) in {time.perf_counter() - start:.1f} s")
    ner = CascadeNER.from_pretrained(model_dir, device="cpu")
    chosen = [records[i % len(records)] for i in range(args.sentences)]
    texts = [r["text"] for r in chosen]
    lists = [r["type_list"] for r in chosen]
    print(f"{len(texts)} sentences ({len(records)} distinct, cycled), "
          f"{sum(len(r['entities']) for r in chosen)} gold entities, model {args.model or 'trained here'}, "
          f"{args.threads} torch thread(s)")

    ner.predict(texts[:4], lists[:4], batch_size=4)  # warm-up
    fast_times, slow_times = [], []
    for _ in range(args.repeats):  # interleaved, best of N: other jobs on the machine only add time
        start = time.perf_counter()
        fast = ner.predict(texts, lists, batch_size=args.batch_size)
        fast_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        slow = naive_predict(ner, texts, lists)
        slow_times.append(time.perf_counter() - start)
    fast_time, slow_time = min(fast_times), min(slow_times)
    fast_spans = [[(e["text"], e["label"], e["start"], e["end"]) for e in entities] for entities in fast]
    if fast_spans != slow:
        differing = sum(a != b for a, b in zip(fast_spans, slow))
        sys.exit(f"outputs differ on {differing} of {len(texts)} sentences: the comparison is void")
    entities = sum(len(s) for s in fast_spans)
    print(f"identical outputs: {len(texts)} sentences, {entities} entities")
    print(f"best of {args.repeats} timed runs per side")
    print(f"naive loop (batch 1, max_new_tokens=512): {slow_time:.2f} s = {len(texts) / slow_time:.1f} sentences/s")
    print(f"CascadeNER.predict (batch {args.batch_size}):        {fast_time:.2f} s = {len(texts) / fast_time:.1f} sentences/s")

    extraction, _ = ner.extract(texts, batch_size=args.batch_size)
    mentions = [result.mentions for result in extraction]
    timings = {"generative": float("inf"), "constrained": float("inf")}
    labels = {}
    for _ in range(args.repeats):
        for mode in ("generative", "constrained"):
            start = time.perf_counter()
            out = ner.classify_mentions(texts, mentions, lists,
                                        options=ClassifyOptions(mode=mode, batch_size=args.batch_size))
            timings[mode] = min(timings[mode], (time.perf_counter() - start) / max(1, entities))
            labels[mode] = [levels[-1].label for sentence in out for levels in sentence]
    agree = sum(a == b for a, b in zip(labels["generative"], labels["constrained"]))
    print(f"stage 2 per entity: generative {timings['generative'] * 1e3:.2f} ms, "
          f"constrained {timings['constrained'] * 1e3:.2f} ms ({agree}/{entities} labels agree)")
    print(f"ratio constrained/generative time per entity: {timings['constrained'] / timings['generative']:.2f}x")

    compare_methods(ner, chosen, batch_size=args.batch_size, repeats=args.repeats)
    print(f"ratio predict/naive sentences per second: {slow_time / fast_time:.1f}x (goal >= 10x)")


if __name__ == "__main__":
    main()
