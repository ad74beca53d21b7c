"""Benchmark: the ``openai`` backend's client against a plain aiohttp client, on one loopback server.

A scripted OpenAI-compatible server (aiohttp, in its own process, on 127.0.0.1) answers every
``POST /v1/chat/completions`` after a fixed latency: a stage-1 prompt with its capitalised words
marked ``##x##``, a stage-2 question with the first type of its list. Three scenarios, each side
timed in the same run, alternating, the best of ``--repeats`` counting (other jobs on a shared
machine only add time):

1. **client overhead** (latency 0): the same ``--requests`` request bodies through
   :class:`cascadener.backends.http.ChatClient` (``complete``: every request of a stage at once,
   ``--concurrency`` in flight) and through a plain aiohttp client (one ``ClientSession``, a
   connection pool of ``--concurrency``, a semaphore). With no time spent in the server, what is
   left is each client's own work per request;
2. **concurrency** (latency ``--latency``, 50 ms): ``ChatClient`` at concurrency 64 against
   concurrency 1;
3. **Ray workers** (latency 50 ms): ``cascadener predict --backend openai`` over ``--sentences``
   sentences, the chunks through the Ray executor with 2 workers against the in-process executor
   (needs ``ray[data]``; skipped, saying so, without it). The figure is the rate at which chunks
   come back once the first is there (the workers' start-up, about 2-5 s per run, is printed
   beside it but left out of the rate: it does not grow with the run); both files must be the same
   bytes.

    python bench/bench_client.py [--requests 2000] [--concurrency 64] [--repeats 3] [--httpx]

``--httpx`` also times a plain httpx client in scenario 1 (what the client was first built on).

The figure printed last is scenario 1's: our client's requests per second over aiohttp's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadener.backends.http import ChatClient, EndpointOptions  # noqa: E402

_MARK = re.compile(r"\b([A-Z][\w-]*)")
_LIST = re.compile(r"list: ([^,?]+)")


def answer(prompt: str) -> str:
    """The scripted answer: stage 2 (a question about a list) -> its first type; stage 1 -> the
    sentence with each capitalised word marked.

    >>> answer('The ##Ada## in the sentence: "Ada met Bob ." belong to which entity in the first list: person, city?')
    'person'
    >>> answer("Ada met Bob in Rome .")
    '##Ada## met ##Bob## in ##Rome## .'
    """
    found = _LIST.search(prompt)
    if found and "in the sentence" in prompt:
        return found.group(1).strip()
    return _MARK.sub(r"##\1##", prompt)


# ------------------------------------------------------------------------------ the server (own process)

def serve(port_file: str, latency: float) -> None:
    """Run the scripted server on a free loopback port (written to ``port_file``) until killed."""
    from aiohttp import web

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        if latency:
            await asyncio.sleep(latency)
        content = answer(body["messages"][-1]["content"])
        return web.json_response({
            "id": "x", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop",
                         "logprobs": {"content": [{"token": content, "logprob": -0.01}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", completions)
        app.router.add_get("/v1/models", models)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the port the OS chose
        Path(port_file).write_text(str(port), encoding="utf-8")
        await asyncio.Event().wait()

    asyncio.run(main())


@contextlib.contextmanager
def scripted_server(latency: float):
    """The server's ``/v1`` URL while it runs in a child process (stopped by pid on exit)."""
    with tempfile.TemporaryDirectory() as folder:
        port_file = Path(folder) / "port"
        process = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file), "--latency", str(latency)])
        try:
            deadline = time.monotonic() + 60
            while not port_file.exists() or not port_file.read_text(encoding="utf-8").strip():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the scripted server did not start")
                time.sleep(0.05)
            port = int(port_file.read_text(encoding="utf-8"))
            with socket.create_connection(("127.0.0.1", port), timeout=10):
                pass
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.kill()
            process.wait(timeout=30)


# ------------------------------------------------------------------------------ the two clients

def bodies(count: int) -> list[dict]:
    return [{"model": "scripted", "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                               {"role": "user", "content": f"Ada met Bob in Rome on day {i} ."}],
             "max_tokens": 32, "temperature": 0.0, "seed": 0, "logprobs": True, "stream": False}
            for i in range(count)]


def ours(base_url: str, requests: list[dict], concurrency: int) -> list[dict]:
    client = ChatClient(EndpointOptions(base_url, concurrency=concurrency, max_retries=0))
    return client.complete(requests, labels=[f"request {i}" for i in range(len(requests))])


def plain_aiohttp(base_url: str, requests: list[dict], concurrency: int) -> list[dict]:
    import aiohttp

    async def run() -> list[dict]:
        url = base_url + "/chat/completions"
        semaphore = asyncio.Semaphore(concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(body: dict) -> dict:
                async with semaphore:
                    async with session.post(url, json=body) as response:
                        response.raise_for_status()
                        return await response.json()

            return await asyncio.gather(*(one(body) for body in requests))

    return asyncio.run(run())


def plain_httpx(base_url: str, requests: list[dict], concurrency: int) -> list[dict]:
    """The client the backend was first built on, used as its documentation says (one
    ``AsyncClient``, a pool of ``concurrency`` kept-alive connections, a semaphore)."""
    import httpx

    async def run() -> list[dict]:
        url = base_url + "/chat/completions"
        semaphore = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

            async def one(body: dict) -> dict:
                async with semaphore:
                    response = await client.post(url, json=body)
                    response.raise_for_status()
                    return response.json()

            return await asyncio.gather(*(one(body) for body in requests))

    return asyncio.run(run())


def best_rate(run, count: int, repeats: int) -> float:
    """Requests per second of the best of ``repeats`` runs of ``run()`` (``count`` requests each)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        answers = run()
        best = min(best, time.perf_counter() - start)
        if len(answers) != count:
            raise SystemExit(f"{len(answers)} answers for {count} requests")
    return count / best


# ------------------------------------------------------------------------------ scenario 3: Ray workers

def ray_scenario(base_url: str, sentences: int, concurrency: int, repeats: int) -> None:
    try:
        import ray
    except ImportError:
        print('ray workers: skipped (pip install "dynamicner-kit[ray]" to measure them)')
        return
    import logging

    from cascadener.cli import main as cascadener_main

    records = json.loads((ROOT / "tests" / "fixtures" / "tiny_corpus.json").read_text(encoding="utf-8"))["records"]
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        inputs = Path(folder) / "in.jsonl"
        inputs.write_text("".join(json.dumps({"id": str(i), "text": records[i % len(records)]["text"],
                                              "type_list": records[i % len(records)]["type_list"]}) + "\n"
                                  for i in range(sentences)), encoding="utf-8")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray_temp = Path(folder) / "ray"  # short: Ray's socket paths must fit in 107 bytes; removed with the folder
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, _temp_dir=str(ray_temp))
        try:
            rates: dict[str, float] = {}
            starts: dict[str, float] = {}
            outputs = {}
            for _ in range(repeats):
                for name, extra in (("one process", []), ("2 Ray workers", ["--executor", "ray", "--workers", "2"])):
                    output = Path(folder) / f"{name.replace(' ', '-')}.jsonl"
                    arrivals = _timed_predict(cascadener_main, inputs, output, base_url, concurrency, extra)
                    chunks = len(arrivals) - 1
                    rate = chunks / (arrivals[-1][1] - arrivals[0][1])
                    if rate > rates.get(name, 0):
                        rates[name], starts[name] = rate, arrivals[0][1] - arrivals[0][0]
                    outputs[name] = output.read_bytes()
            if outputs["one process"] != outputs["2 Ray workers"]:
                raise SystemExit("the Ray executor wrote other bytes than the one-process run")
        finally:
            ray.shutdown()
    for name, rate in rates.items():
        print(f"{name}: {rate:.2f} chunks/s once started (first chunk after {starts[name]:.1f} s)")
    print(f"2 Ray workers / one process (50 ms server, concurrency {concurrency} each): "
          f"{rates['2 Ray workers'] / rates['one process']:.2f}x")


def _timed_predict(cascadener_main, inputs: Path, output: Path, base_url: str, concurrency: int,
                   extra: list[str]) -> list[tuple[float, float]]:
    """``(start, arrival)`` of every chunk written by ``cascadener predict`` (arrival: its meta commit)."""
    from cascadener.cli import predict as predict_module

    arrivals: list[tuple[float, float]] = []
    start = time.perf_counter()
    original = predict_module._write_meta  # noqa: SLF001 - the commit of each chunk, timed

    def timed(path, meta):
        original(path, meta)
        if meta["committed"]["sentences"] and not meta["complete"]:
            arrivals.append((start, time.perf_counter()))

    predict_module._write_meta = timed  # noqa: SLF001
    try:
        argv = ["predict", "--jsonl", str(inputs), "--backend", "openai", "--base-url", base_url, "--model",
                "scripted", "--concurrency", str(concurrency), "--off-list", "closest", "--no-progress",
                "--overwrite", "-o", str(output), *extra]
        with contextlib.redirect_stderr(io.StringIO()) as err:
            status = cascadener_main(argv)
        if status != 0:
            raise SystemExit(f"cascadener {' '.join(argv)} failed:\n{err.getvalue()}")
    finally:
        predict_module._write_meta = original  # noqa: SLF001
    return arrivals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per side of scenario 1")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05, help="the server's latency in scenarios 2 and 3")
    parser.add_argument("--sentences", type=int, default=1536, help="sentences of scenario 3")
    parser.add_argument("--worker-concurrency", type=int, default=8, help="requests in flight per worker, scenario 3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--httpx", action="store_true",
                        help="also time a plain httpx client in scenario 1 (the transport measured before aiohttp)")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency)
        return

    slow = min(args.requests, 1000)  # concurrency 1 at 50 ms: 20 requests/s at best
    with scripted_server(args.latency) as base_url:
        one = best_rate(lambda: ours(base_url, bodies(slow // 10), 1), slow // 10, 1)
        many = best_rate(lambda: ours(base_url, bodies(slow), args.concurrency), slow, args.repeats)
        print(f"latency {args.latency * 1000:.0f} ms: ChatClient at concurrency 1: {one:.1f} requests/s, "
              f"at {args.concurrency}: {many:.1f} requests/s")
        print(f"concurrency {args.concurrency} / concurrency 1: {many / one:.1f}x")
        ray_scenario(base_url, args.sentences, args.worker_concurrency, args.repeats)

    requests = bodies(args.requests)
    with scripted_server(0.0) as base_url:
        sides = {"ChatClient": ours, "aiohttp": plain_aiohttp}
        if args.httpx:
            sides["httpx"] = plain_httpx
        for run in sides.values():  # warm every side up (imports, first connections)
            run(base_url, requests[:100], args.concurrency)
        rates = dict.fromkeys(sides, 0.0)
        for _ in range(args.repeats):
            for name, run in sides.items():
                rates[name] = max(rates[name], best_rate(lambda: run(base_url, requests, args.concurrency),
                                                         len(requests), 1))
    if args.httpx:
        print(f"zero latency, {args.requests} requests, concurrency {args.concurrency}: plain httpx "
              f"{rates['httpx']:.0f} requests/s (httpx / aiohttp: {rates['httpx'] / rates['aiohttp']:.2f}x)")
    print(f"zero latency, {args.requests} requests, concurrency {args.concurrency}: ChatClient {rates['ChatClient']:.0f} "
          f"requests/s, plain aiohttp {rates['aiohttp']:.0f} requests/s")
    print(f"ChatClient / aiohttp: {rates['ChatClient'] / rates['aiohttp']:.2f}x")


if __name__ == "__main__":
    main()
