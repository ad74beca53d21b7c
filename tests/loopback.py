"""A small loopback HTTP proxy for the server-backend tests: forwards to a real server (or answers
itself) and injects faults on request: an HTTP status with headers, a hang, a delay.

Everything listens on 127.0.0.1; nothing reaches beyond loopback.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit


class FaultProxy:
    """``FaultProxy(upstream="http://127.0.0.1:PORT")``; ``base_url`` is the proxy's ``/v1``.

    ``faults``: actions consumed one per POST, in arrival order: ``("status", code, headers)``,
    ``("hang", seconds)`` (answers nothing for that long, then closes), ``("delay", seconds)``
    (forwards after a pause). ``delay_for(body) -> seconds`` delays every forwarded request.
    ``respond(body) -> dict`` answers without an upstream (HTTP 200), or ``-> (status, dict)`` with
    another status (a server that rejects a field it does not know answers 422 naming it).
    ``log`` keeps (headers, body) of every POST.
    """

    def __init__(self, upstream: str | None = None, *, respond: Callable[[dict], dict] | None = None) -> None:
        self.upstream = urlsplit(upstream) if upstream else None
        self.respond = respond
        self.faults: deque = deque()
        self.delay_for: Callable[[dict], float] | None = None
        self.log: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                proxy._forward(self, b"")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                with proxy.lock:
                    proxy.log.append((dict(self.headers.items()), body))
                    fault = proxy.faults.popleft() if proxy.faults else None
                if fault is not None:
                    kind = fault[0]
                    if kind == "status":
                        payload = json.dumps({"error": {"message": f"injected {fault[1]}"}}).encode()
                        self.send_response(fault[1])
                        for key, value in (fault[2] if len(fault) > 2 else {}).items():
                            self.send_header(key, value)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                    if kind == "hang":
                        time.sleep(fault[1])
                        self.close_connection = True
                        return
                    if kind == "delay":
                        time.sleep(fault[1])
                if proxy.delay_for is not None:
                    time.sleep(proxy.delay_for(body))
                if proxy.respond is not None:
                    answer = proxy.respond(body)
                    status, answer = answer if isinstance(answer, tuple) else (200, answer)
                    payload = json.dumps(answer).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                proxy._forward(self, raw)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:  # a client that gave up: expected here
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        # a short poll: shutdown() waits for the serve loop's next poll (0.5 s by default, per test)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def _forward(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        assert self.upstream is not None, "no upstream to forward to"
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=300)
        try:
            headers = {"Content-Type": "application/json"} if raw else {}
            connection.request(handler.command, handler.path, body=raw or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.getheader("Content-Type") or "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def posts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for _, body in self.log]

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def memorising(records: list[dict[str, Any]], *, template: str = "released") -> Callable[[dict], dict]:
    """A ``respond`` for :class:`FaultProxy`: a server whose model memorised ``records``
    (``{text, entities, type_list}``, e.g. ``tiny_corpus``): a stage-1 prompt is answered with its
    sentence, every entity marked; a stage-2 question about a gold entity with its label; anything
    else with the first choice offered (or the prompt's last word). Each answer carries a
    log-probability drawn from the prompt's hash (scores differ from answer to answer, the same
    every time) and token counts from its length, as a real server's would."""
    import hashlib

    from cascadener.prompts import cascade_prompt, mark_entities, stage1_prompt

    answers: dict[str, str] = {}
    for record in records:
        text = record["text"]
        answers[stage1_prompt(text)] = mark_entities(text, [(e["start"], e["end"]) for e in record["entities"]])
        if record.get("type_list"):
            types = tuple(dict.fromkeys(record["type_list"]))
            for entity in record["entities"]:
                question = cascade_prompt(entity["text"], text, types, level=1, template=template,
                                          start=entity["start"], end=entity["end"])
                answers[question] = entity["label"]

    def respond(body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        choices = (body.get("structured_outputs") or {}).get("choice") or body.get("guided_choice")
        answer = answers.get(prompt)
        if answer is None or (choices and answer not in choices):
            answer = choices[0] if choices else prompt.split()[-1]
        fraction = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:4], "big") / 2 ** 32
        choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop",
                  "logprobs": {"content": [{"token": answer, "logprob": -fraction}]}}
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(answer.split())}
        return {"choices": [choice], "usage": usage | {"total_tokens": sum(usage.values())}}

    return respond
