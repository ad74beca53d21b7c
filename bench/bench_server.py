"""Benchmark: ``cascadener predict --backend openai`` at concurrency N vs concurrency 1, same server, same outputs.

The tiny memorising model (trained here on tests/fixtures/tiny_corpus.json, or given with --model)
is served by ``transformers serve`` on 127.0.0.1 (``--continuous-batching`` unless
``--no-continuous-batching``). Both sides run the ``cascadener predict`` command in this process
(``cascadener.cli.main``, the code path of the console script without the interpreter start-up)
over the same JSONL of sentences (the fixture sentences cycled, each with its type list): stage 1
and stage 2, one request per sentence and per entity. Runs alternate between the two sides; the
best of ``--repeats`` counts (other jobs on a shared machine only add time). The prediction files
must be identical, else the script stops. The ratio is printed last.

    python bench/bench_server.py [--model DIR] [--sentences 64] [--concurrency 16] [--repeats 3]

What limits the ratio here: the server is one Python process on 2 CPU cores shared with the
client and with other jobs; each request costs HTTP, chat-template and scheduling work in Python
that continuous batching does not batch, and the tiny model's forward passes are too small for
batching to save much arithmetic. On a GPU server (vLLM), per-request work is a small part of a
large model's forward pass, and concurrency buys far more.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadener.testing.launch import LocalServer  # noqa: E402
from cascadener.cli import main as cascadener_main  # noqa: E402


def predict(server: LocalServer, inputs: Path, output: Path, concurrency: int) -> tuple[float, dict]:
    # transformers serve applies no choice constraint: off-list answers take the closest choice
    argv = ["predict", "--jsonl", str(inputs), "--backend", "openai", "--base-url", server.base_url,
            "--model", server.model, "--off-list", "closest", "--concurrency", str(concurrency), "-o", str(output),
            "--overwrite", "--no-progress"]
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()) as err:
        status = cascadener_main(argv)
    elapsed = time.perf_counter() - start
    if status != 0:
        sys.exit(f"cascadener {' '.join(argv)} failed:\n{err.getvalue()}")
    meta = json.loads(output.with_name(output.name + ".meta.json").read_text(encoding="utf-8"))
    return elapsed, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a trained CascadeNER model directory (default: train one)")
    parser.add_argument("--corpus", default=str(ROOT / "tests" / "fixtures" / "tiny_corpus.json"))
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side; the best counts")
    parser.add_argument("--no-continuous-batching", action="store_true", help="serve without --continuous-batching")
    parser.add_argument("--server-threads", type=int, default=1,
                        help="OMP_NUM_THREADS of the server (default 1: on a busy 2-core machine, 2 torch threads "
                             "wait on each other and one request took 7x longer)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    records = json.loads(Path(args.corpus).read_text(encoding="utf-8"))["records"]
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    model_dir = args.model
    if model_dir is None:
        from cascadener.training import MEMORISE, train_cascade

        start = time.perf_counter()
        trained = train_cascade(records, work / "model", one_model=True, options=MEMORISE)
        model_dir = str(trained.extractor)
        print(f"trained a tiny model on {len(records)} fixture sentences in {time.perf_counter() - start:.1f} s")
    inputs = work / "inputs.jsonl"
    chosen = [records[i % len(records)] for i in range(args.sentences)]
    inputs.write_text("".join(json.dumps({"id": f"s{i}", "text": r["text"], "type_list": r["type_list"]}) + "\n"
                              for i, r in enumerate(chosen)), encoding="utf-8")
    entities = sum(len(r["entities"]) for r in chosen)
    cb = not args.no_continuous_batching
    start = time.perf_counter()
    with LocalServer(model_dir, continuous_batching=cb, threads=args.server_threads,
                     log_path=work / "serve.log") as server:
        print(f"transformers serve {'--continuous-batching ' if cb else ''}up in {time.perf_counter() - start:.1f} s "
              f"({server.base_url}); {len(chosen)} sentences ({len(records)} distinct, cycled), {entities} entities: "
              f"{len(chosen) + entities} requests per run; {os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}")
        predict(server, inputs, work / "warmup.jsonl", args.concurrency)
        times: dict[int, list[float]] = {1: [], args.concurrency: []}
        metas: dict[int, dict] = {}
        for _ in range(args.repeats):
            for concurrency in (1, args.concurrency):
                elapsed, metas[concurrency] = predict(server, inputs, work / f"c{concurrency}.jsonl", concurrency)
                times[concurrency].append(elapsed)
    one = (work / "c1.jsonl").read_text(encoding="utf-8")
    many = (work / f"c{args.concurrency}.jsonl").read_text(encoding="utf-8")
    if one != many:
        differing = sum(a != b for a, b in zip(one.splitlines(), many.splitlines()))
        sys.exit(f"predictions differ on {differing} of {len(chosen)} lines: the comparison is void")
    stats = metas[args.concurrency]["stats"]
    print(f"identical predictions: {len(chosen)} lines, {entities} entities; per run: "
          f"{stats['stage1_requests']} + {stats['stage2_requests']} requests, "
          f"{stats['stage1_prompt_tokens'] + stats['stage2_prompt_tokens']} prompt and "
          f"{stats['stage1_completion_tokens'] + stats['stage2_completion_tokens']} completion tokens, "
          f"{stats['stage1_retries'] + stats['stage2_retries']} retries")
    best = {c: min(t) for c, t in times.items()}
    for concurrency, elapsed in best.items():
        print(f"concurrency {concurrency:>2}: {elapsed:6.2f} s = {len(chosen) / elapsed:5.1f} sentences/s "
              f"(runs: {', '.join(f'{t:.1f}' for t in times[concurrency])} s)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"ratio concurrency {args.concurrency} / concurrency 1 sentences per second: "
          f"{best[1] / best[args.concurrency]:.1f}x (goal >= 3x)")


if __name__ == "__main__":
    main()
