"""Benchmark: preparing DynamicNER (dynamic config) vs datasets' packaged ``json`` builder.

Builds a corpus of N sentences by replicating the authors' English sample
(``../shared/data/geic/dynamicner-example-en.json``, keys made unique), then, in one run:

1. prepares it with ``dynamicner.DynamicNER`` (config ``en``, ``data_files``), timed;
2. writes the same rows flattened to JSONL and prepares them with the packaged ``json``
   builder, timed (the peer);
3. measures peak memory (``ru_maxrss`` of a fresh process) of parsing the input alone and of
   the whole build, for 10k and for N sentences: beyond the parsed input, nothing may grow.

Every measurement runs in its own subprocess (clean caches, clean peak memory). The last line
is the single-process ratio DynamicNER / json (goal: at most 1.5x). Before it, the same two
builders on the corpus cut into ``--procs`` files with ``num_proc`` = that number, for both
(parallel workers for both sides, never for one only).

Usage: ``python bench/bench_dataset.py [--sentences 100000] [--repeats 3] [--procs 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "geic" / "dynamicner-example-en.json"


def make_corpus(path: Path, sentences: int) -> None:
    """Replicate the shared English sample to ``sentences`` GEIC samples with unique keys."""
    source = json.loads(SAMPLE.read_text(encoding="utf-8"))
    items = list(source.values())
    out = {f"r{i // len(items)}-{i % len(items)}": items[i % len(items)] for i in range(sentences)}
    path.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def split_file(path: Path, parts: int) -> list[Path]:
    """``path`` (GEIC JSON or JSONL) cut into ``parts`` files of consecutive samples, in order."""
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        chunks = [lines[i * len(lines) // parts:(i + 1) * len(lines) // parts] for i in range(parts)]
        texts = ["".join(chunk) for chunk in chunks]
    else:
        items = list(json.loads(path.read_text(encoding="utf-8")).items())
        chunks = [items[i * len(items) // parts:(i + 1) * len(items) // parts] for i in range(parts)]
        texts = [json.dumps(dict(chunk), ensure_ascii=False) for chunk in chunks]
    out = []
    for i, text in enumerate(texts):
        target = path.with_name(f"{path.stem}-part{i}{path.suffix}")
        target.write_text(text, encoding="utf-8")
        out.append(target)
    return out


def worker(mode: str, corpus: str, cache_dir: str, out: str) -> dict:
    """One measurement in this (fresh) process."""
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    sys.path.insert(0, str(ROOT))
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    import dynamicner
    from dynamicner_data.geic import read_geic_columns
    from dynamicner_data.taxonomy import Taxonomy

    result: dict = {"mode": mode}
    start = time.perf_counter()
    if mode == "parse":
        samples, report = read_geic_columns(corpus, Taxonomy.dynamicner())  # what the builder reads
        result["samples"] = len(samples)
    elif mode == "build":
        builder = dynamicner.DynamicNER(config_name="en", data_files={"train": corpus}, cache_dir=cache_dir)
        builder.download_and_prepare()
        result["rows"] = builder.info.splits["train"].num_examples
        result["unaligned"] = builder.build_summary.unaligned
    elif mode == "json":
        builder = datasets.load_dataset_builder("json", data_files={"train": corpus}, cache_dir=cache_dir)
        builder.download_and_prepare()
        result["rows"] = builder.info.splits["train"].num_examples
    elif mode in ("build-procs", "json-procs"):
        # the corpus as several files (comma-separated), one worker process per file, for both builders
        files = corpus.split(",")
        if mode == "build-procs":
            builder = dynamicner.DynamicNER(config_name="en", data_files={"train": files}, cache_dir=cache_dir)
        else:
            builder = datasets.load_dataset_builder("json", data_files={"train": files}, cache_dir=cache_dir)
        builder.download_and_prepare(num_proc=len(files))
        result["rows"] = builder.info.splits["train"].num_examples
    elif mode == "stages":
        # where the builder's time goes: each stage alone, in the order the builder runs them
        from dynamicner_data.gc_scope import paused_gc
        from dynamicner_data.records import DEFAULT_BATCH_SIZE, RowBatcher
        from dynamicner_data.tokenize import bio_batch, tokenize_batch
        import numpy as np

        from dynamicner_data.typelists import DynamicOptions, dynamic_type_lists, node_ids

        taxonomy = Taxonomy.dynamicner()
        options = DynamicOptions()

        tick = time.perf_counter()
        with paused_gc():  # as the builder does
            columns, _ = read_geic_columns(corpus, taxonomy)
        stages = {"parse + align (geic)": time.perf_counter() - tick}
        samples = columns.samples()  # for the stages below
        chunks = range(0, len(samples), DEFAULT_BATCH_SIZE)  # the builder's batches
        tick = time.perf_counter()
        with paused_gc():
            lists = []
            for a in chunks:
                part = samples[a:a + DEFAULT_BATCH_SIZE]
                offsets = np.cumsum([0] + [len(s.entities) for s in part])
                nodes = node_ids(taxonomy, [e.node for s in part for e in s.entities])
                batch = dynamic_type_lists([f"en-train-{s.key}" for s in part], offsets, nodes, taxonomy, options)
                lists.append([batch.names[k] for k in batch.label_names.tolist()])
        stages["dynamic type lists"] = time.perf_counter() - tick
        tick = time.perf_counter()
        with paused_gc():
            tokens = [tokenize_batch([s.text for s in samples[a:a + DEFAULT_BATCH_SIZE]], "en") for a in chunks]
        stages["tokenize"] = time.perf_counter() - tick
        tick = time.perf_counter()
        with paused_gc():
            for batch, a, labels in zip(tokens, chunks, lists):
                part = samples[a:a + DEFAULT_BATCH_SIZE]
                offsets = [0]
                starts, ends = [], []
                for s in part:
                    starts += [e.start for e in s.entities]
                    ends += [e.end for e in s.entities]
                    offsets.append(len(starts))
                bio_batch(batch, offsets, starts, ends, labels)
        stages["IOB2 tags"] = time.perf_counter() - tick
        del lists, tokens
        tick = time.perf_counter()
        batcher = RowBatcher(language="en", split="train", taxonomy=taxonomy, granularity="dynamic", options=options)
        for _ in batcher.tables(columns):
            pass
        stages["rows to Arrow, all of the above included"] = time.perf_counter() - tick
        result["stages"] = stages
    elif mode == "flatten":
        # the peer's input: the rows DynamicNER built, as JSONL
        builder = dynamicner.DynamicNER(config_name="en", data_files={"train": corpus}, cache_dir=cache_dir)
        builder.download_and_prepare()
        builder.as_dataset(split="train").to_json(out, lines=True, force_ascii=False)
    result["seconds"] = time.perf_counter() - start
    result["peak_mb"] = _peak_mb()
    return result


def run(mode: str, corpus: Path | str, tmp: Path, out: Path | None = None) -> dict:
    cache = tempfile.mkdtemp(dir=tmp, prefix=f"{mode}-")
    env = dict(os.environ, HF_HOME=str(tmp / "hf"), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    args = [sys.executable, __file__, "--worker", mode, "--corpus", str(corpus), "--cache", cache, "--out", str(out or "")]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="the smaller corpus of the memory check")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each builder (best is kept)")
    parser.add_argument("--procs", type=int, default=2,
                        help="also time both builders on the corpus cut into this many files, num_proc each (0: skip)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.corpus, args.cache, args.out)))
        return
    if not SAMPLE.is_file():
        raise SystemExit(f"benchmark needs {SAMPLE} (../shared/data beside the checkout)")
    with tempfile.TemporaryDirectory(prefix="bench-dataset-") as tmp_name:
        tmp = Path(tmp_name)
        big, small = tmp / "big.json", tmp / "small.json"
        make_corpus(big, args.sentences)
        make_corpus(small, args.small)
        jsonl = tmp / "big.jsonl"
        run("flatten", big, tmp, jsonl)
        print(f"corpus: {args.sentences} sentences ({big.stat().st_size / 1e6:.1f} MB GEIC, "
              f"{jsonl.stat().st_size / 1e6:.1f} MB as flattened JSONL rows)")

        memory = {}
        for label, corpus in (("small", small), ("big", big)):
            parse = run("parse", corpus, tmp)
            build = run("build", corpus, tmp)
            memory[label] = (parse["peak_mb"], build["peak_mb"])
            n = args.small if label == "small" else args.sentences
            print(f"peak memory, {n:>7} sentences: parse only {parse['peak_mb']:.0f} MB, "
                  f"build {build['peak_mb']:.0f} MB, build beyond parsed input {build['peak_mb'] - parse['peak_mb']:.0f} MB")
        growth_parse = memory["big"][0] - memory["small"][0]
        growth_extra = (memory["big"][1] - memory["big"][0]) - (memory["small"][1] - memory["small"][0])
        print(f"memory growth {args.small} -> {args.sentences}: parsed input +{growth_parse:.0f} MB, "
              f"everything beyond it {growth_extra:+.0f} MB")

        stages = run("stages", big, tmp)["stages"]
        print("builder stages (each alone, same corpus): " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
        ours, peer = [], []
        for _ in range(args.repeats):
            ours.append(run("build", big, tmp)["seconds"])
            peer.append(run("json", jsonl, tmp)["seconds"])
        if args.procs > 1:
            parts = ",".join(map(str, split_file(big, args.procs)))
            jsonl_parts = ",".join(map(str, split_file(jsonl, args.procs)))
            ours_p, peer_p = [], []
            for _ in range(args.repeats):
                ours_p.append(run("build-procs", parts, tmp)["seconds"])
                peer_p.append(run("json-procs", jsonl_parts, tmp)["seconds"])
            print(f"prepare {args.sentences} sentences as {args.procs} files, num_proc={args.procs} for both: "
                  f"DynamicNER {min(ours_p):.2f} s (runs {', '.join(f'{t:.2f}' for t in ours_p)}), json builder "
                  f"{min(peer_p):.2f} s (runs {', '.join(f'{t:.2f}' for t in peer_p)}), ratio "
                  f"{min(ours_p) / min(peer_p):.2f}x")
        print(f"prepare {args.sentences} sentences: DynamicNER {min(ours):.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in ours)}), json builder {min(peer):.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in peer)})")
        print(f"ratio DynamicNER / json builder: {min(ours) / min(peer):.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
