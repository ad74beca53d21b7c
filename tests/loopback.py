"""Loopback servers for the server-backend tests, all on 127.0.0.1 (nothing reaches beyond loopback):

- :class:`FaultProxy`: forwards to a real server (or answers itself) and injects faults on request:
  an HTTP status with headers, a hang, a delay. It also serves as an HTTP proxy (a request line with
  an absolute URL, as a client sends to ``HTTP_PROXY``);
- :class:`Family`: a scripted server of one family (vLLM, SGLang, llama.cpp's server, TGI, Ollama,
  the OpenAI API, ``transformers serve``) that accepts exactly that family's request fields and
  treats the others as the real one does (ignores them, or rejects them with its own error shape),
  applies its own choice constraints, returns log-probabilities or not, and answers its own
  identification routes. What each family does is read from its source (notes in
  ``docs/serving.md``); the "model" behind it answers from a script.
"""

from __future__ import annotations

import http.client
import json
import re
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
    another status (a server that rejects a field it does not know answers 422 naming it; a ``str``
    answers text); ``get(path)`` answers GETs the same way (without an upstream, by default: a model
    list naming ``m``, and 404). ``log`` keeps (headers, body) of every POST, ``paths`` the request
    target of every request (an absolute URL when the proxy was used as an HTTP proxy), ``peers``
    the client's port of every POST (one port per connection: how many the client opened).
    """

    def __init__(self, upstream: str | None = None, *, respond: Callable[[dict], Any] | None = None,
                 get: Callable[[str], Any] | None = None) -> None:
        self.upstream = urlsplit(upstream) if upstream else None
        self.respond = respond
        self.get = get
        self.paths: list[tuple[str, str]] = []  # (method, request target) of every request, as sent
        self.get_headers: list[dict[str, str]] = []  # the headers of every GET
        self.faults: deque = deque()
        self.delay_for: Callable[[dict], float] | None = None
        self.log: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.peers: list[int] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                with proxy.lock:
                    proxy.paths.append(("GET", self.path))
                    proxy.get_headers.append(dict(self.headers.items()))
                if proxy.get is not None or proxy.upstream is None:
                    answer = (proxy.get or _models)(urlsplit(self.path).path)
                    status, answer = answer if isinstance(answer, tuple) else (200, answer)
                    _send(self, status, answer)
                    return
                proxy._forward(self, b"")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                with proxy.lock:
                    proxy.paths.append(("POST", self.path))
                    proxy.log.append((dict(self.headers.items()), body))
                    proxy.peers.append(self.client_address[1])
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
                    _send(self, status, answer)
                    return
                proxy._forward(self, raw)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the listen backlog: 16 requests in flight must not be reset (default 5)

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


def _models(path: str):
    """A plain OpenAI-compatible server's GETs: its model list (one model, ``m``), else 404."""
    if path.endswith("/models"):
        return {"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "test"}]}
    return 404, {"error": {"message": f"no route {path}"}}


def _send(handler: BaseHTTPRequestHandler, status: int, answer: Any) -> None:
    """Answer JSON (a dict or list), text (a str, as ``text/plain``) or raw bytes."""
    if isinstance(answer, bytes):
        payload, kind = answer, "application/json"
    elif isinstance(answer, str):
        payload, kind = answer.encode(), "text/plain; charset=utf-8"
    else:
        payload, kind = json.dumps(answer).encode(), "application/json"
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


# ------------------------------------------------------------------------------------- scripted families

def _unescape_regex(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _regex_choices(pattern: str) -> list[str]:
    """The alternatives of ``(a|b|c)`` (escaped metacharacters taken literally)."""
    inner = pattern[1:-1] if pattern.startswith("(") and pattern.endswith(")") else pattern
    return [_unescape_regex(part) for part in re.split(r"(?<!\\)\|", inner)]


def _grammar_choices(grammar: str) -> list[str]:
    """The string literals of a GBNF root rule ``root ::= "a" | "b"``."""
    rule = grammar.split("::=", 1)[1]
    return [re.sub(r'\\(.)', r'\1', literal) for literal in re.findall(r'"((?:[^"\\]|\\.)*)"', rule)]


def _schema_choices(schema: Any) -> list[str] | None:
    if not isinstance(schema, dict):
        return None
    label = (schema.get("properties") or {}).get("label") or {}
    enum = label.get("enum")
    return list(enum) if isinstance(enum, list) else None


#: family -> (the request fields it knows, how it treats the others: "ignore" or "reject")
KNOWN = {
    "common": {"model", "messages", "max_tokens", "temperature", "top_p", "seed", "stream", "stop", "logprobs",
               "top_logprobs", "n", "presence_penalty", "frequency_penalty", "response_format", "user"},
    "vllm-0.10": {"guided_choice", "guided_regex", "guided_json", "guided_grammar", "max_completion_tokens"},
    "vllm-0.11": {"guided_choice", "guided_regex", "guided_json", "guided_grammar", "structured_outputs",
                  "max_completion_tokens"},
    "vllm-0.12": {"structured_outputs", "max_completion_tokens"},
    "sglang": {"regex", "ebnf", "max_completion_tokens"},
    "llama.cpp": {"grammar", "json_schema", "max_completion_tokens"},
    "tgi": {"max_completion_tokens"},
    "ollama": set(),
    "openai": {"max_completion_tokens"},
    "openai-reasoning": {"max_completion_tokens", "reasoning_effort"},
    "transformers-serve": {"max_completion_tokens", "generation_config", "chat_template_kwargs"},
}
FAMILY_NAMES = tuple(name for name in KNOWN if name != "common")


class Family:
    """A scripted server of ``family`` (one of :data:`FAMILY_NAMES`) on a :class:`FaultProxy`:
    ``with Family("sglang", answer) as server: ... server.base_url``.

    ``answer(prompt) -> str``: what the model writes to a user prompt, unconstrained. A constrained
    request is answered with the allowed string nearest the free answer (its longest common prefix,
    then the last allowed), as constrained decoding of that answer would; JSON-shaped constraints
    in the family's own JSON style. ``posts()``: every request body received.
    """

    def __init__(self, family: str, answer: Callable[[str], str], *, model: str = "m") -> None:
        if family not in FAMILY_NAMES:
            raise ValueError(f"unknown family {family!r}")
        self.family = family
        self.answer = answer
        self.model = model
        self.known = KNOWN["common"] | KNOWN[family]
        self.proxy = FaultProxy(respond=self.respond, get=self.get)

    # -------------------------------------------------------------------------- plumbing

    @property
    def base_url(self) -> str:
        return self.proxy.base_url

    def posts(self) -> list[dict[str, Any]]:
        return self.proxy.posts()

    def __enter__(self) -> "Family":
        self.proxy.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.proxy.__exit__(*exc)

    # -------------------------------------------------------------------------- identification

    def get(self, path: str):
        family = self.family
        if path.endswith("/v1/models"):
            owner = {"vllm-0.10": "vllm", "vllm-0.11": "vllm", "vllm-0.12": "vllm", "sglang": "sglang",
                     "llama.cpp": "llamacpp", "tgi": self.model, "ollama": "library", "openai": "openai",
                     "openai-reasoning": "system", "transformers-serve": "local"}[family]
            entry = {"id": self.model, "object": "model", "created": 0, "owned_by": owner}
            if family == "transformers-serve":
                entry["status"] = {"value": "loaded"}
            return {"object": "list", "data": [entry]}
        if path == "/version" and family.startswith("vllm"):
            return {"version": {"vllm-0.10": "0.10.2", "vllm-0.11": "0.11.0", "vllm-0.12": "0.12.0"}[family]}
        if path == "/server_info" and family == "sglang":
            return {"version": "0.5.2", "model_path": self.model}
        if path == "/props" and family == "llama.cpp":
            return {"build_info": "b6000-0c1e570", "total_slots": 1}
        if path == "/info" and family == "tgi":
            return {"model_id": self.model, "router": "text-generation-router", "version": "3.3.6"}
        if path == "/api/version" and family == "ollama":
            return {"version": "0.12.11"}
        if path == "/health" and family in ("transformers-serve", "llama.cpp", "tgi"):
            return {"status": "ok"}
        if family == "transformers-serve":
            return 404, {"detail": "Not Found"}
        return 404, {"error": {"message": f"no route {path}", "code": 404}}

    # -------------------------------------------------------------------------- chat completions

    def respond(self, body: dict[str, Any]):
        family = self.family
        unknown = sorted(set(body) - self.known)
        if unknown and family == "transformers-serve":
            return 422, {"detail": f"Unexpected fields in the request: {set(unknown)}"}
        if unknown and family.startswith("openai"):
            return 400, _openai_error(f"Unrecognized request argument supplied: {unknown[0]}", None, None)
        if family == "openai-reasoning":
            if "max_tokens" in body:
                return 400, _openai_error("Unsupported parameter: 'max_tokens' is not supported with this model. "
                                          "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
            if body.get("temperature", 1) != 1:
                return 400, _openai_error(f"Unsupported value: 'temperature' does not support {body['temperature']} "
                                          "with this model. Only the default (1) value is supported.", "temperature",
                                          "unsupported_value")
            if "logprobs" in body or "top_logprobs" in body:
                return 400, _openai_error("Unsupported parameter: 'logprobs' is not supported with this model.",
                                          "logprobs", "unsupported_parameter")
        if body.get("model") != self.model and family != "tgi":
            if family == "transformers-serve":
                return 400, {"detail": f"Model {body.get('model')!r} not found"}
            return 404, {"error": {"message": f"The model `{body.get('model')}` does not exist.", "code": 404}}
        if family == "tgi" and isinstance(body.get("top_logprobs"), int) and body["top_logprobs"] > 5:
            return 422, {"error": "Input validation error: `top_n_tokens` must be >= 0 and <= 5. "
                                  f"Given: {body['top_logprobs']}", "error_type": "validation"}
        prompt = body["messages"][-1]["content"]
        free = self.answer(prompt)
        allowed, shape = self._constraint(body)
        if isinstance(allowed, tuple):  # an error answer
            return allowed
        content = free
        if allowed is not None:
            chosen = _nearest(free, allowed)
            if shape == "json-spaced":
                content = '{ "label": ' + json.dumps(chosen) + " }"
            elif shape == "json":
                content = json.dumps({"label": chosen}, separators=(",", ":"))
            else:
                content = chosen
        budget = body.get("max_tokens")
        if family in ("vllm-0.11", "vllm-0.12", "sglang", "llama.cpp", "tgi", "openai", "openai-reasoning",
                      "transformers-serve") and budget is None:
            budget = body.get("max_completion_tokens")
        words = content.split(" ")
        finish = "stop"
        if isinstance(budget, int) and len(words) > budget:
            content, finish = " ".join(words[:budget]), "length"
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content},
                                  "finish_reason": finish}
        if body.get("logprobs") and family != "transformers-serve":
            choice["logprobs"] = {"content": [{"token": word, "logprob": -0.1, "top_logprobs": []}
                                              for word in content.split(" ")]}
        completion = {"id": "chatcmpl-1", "object": "chat.completion", "model": self.model, "choices": [choice],
                      "usage": {"prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
                                "completion_tokens": len(content.split(" ")),
                                "total_tokens": 0}}
        if family == "ollama":
            completion["system_fingerprint"] = "fp_ollama"
        return completion

    def _constraint(self, body: dict[str, Any]):
        """``(allowed strings or None, answer shape)``, or ``((status, error), None)``."""
        family = self.family
        fmt = body.get("response_format")
        if family.startswith("vllm"):
            outputs = body.get("structured_outputs") if "structured_outputs" in self.known else None
            if isinstance(outputs, dict) and outputs.get("choice"):
                return list(outputs["choice"]), "bare"
            if "guided_choice" in self.known and body.get("guided_choice"):
                return list(body["guided_choice"]), "bare"
        if family == "sglang" and isinstance(body.get("regex"), str):
            allowed = _regex_choices(body["regex"])
            assert all(re.fullmatch(body["regex"], choice) for choice in allowed), body["regex"]
            return allowed, "bare"
        if family == "llama.cpp":
            if isinstance(body.get("grammar"), str):
                return _grammar_choices(body["grammar"]), "bare"
            if isinstance(fmt, dict) and fmt.get("type") not in (None, "text", "json_object", "json_schema"):
                return (400, {"error": {"code": 400, "message": "response_format type must be one of \"text\" or "
                                        f"\"json_object\", but got: {fmt.get('type')}",
                                        "type": "invalid_request_error"}}), None
        if family == "tgi" and fmt is not None:
            if not isinstance(fmt, dict) or "value" not in fmt:
                return (422, "Failed to deserialize the JSON body into the target type: response_format: missing "
                             "field `value` at line 1 column 400"), None
            if fmt.get("type") in ("json", "json_object"):
                if not isinstance(fmt["value"], dict) or "properties" not in fmt["value"]:
                    return (422, {"error": "Input validation error: Grammar must have a 'properties' field",
                                  "error_type": "validation"}), None
                return _schema_choices(fmt["value"]), "json-spaced"
            if fmt.get("type") == "regex":
                return _regex_choices(fmt["value"]), "bare"
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and family in (
                "vllm-0.10", "vllm-0.11", "vllm-0.12", "sglang", "llama.cpp", "ollama", "openai", "openai-reasoning"):
            schema = (fmt.get("json_schema") or {}).get("schema")
            if family.startswith("openai") and (not isinstance(schema, dict) or schema.get("type") != "object"
                                                or schema.get("additionalProperties") is not False):
                return (400, _openai_error("Invalid schema for response_format 'label': In context=(), "
                                           "'additionalProperties' is required to be supplied and to be false.",
                                           "response_format", None)), None
            allowed = _schema_choices(schema)
            return allowed, "json" if family != "ollama" else "json-spaced"
        if isinstance(fmt, dict) and family.startswith("openai") and fmt.get("type") not in ("text", "json_object",
                                                                                             "json_schema"):
            return (400, _openai_error(f"Invalid value: '{fmt.get('type')}'. Supported values are: 'json_object', "
                                       "'json_schema', and 'text'.", "response_format.type", "invalid_value")), None
        return None, "bare"


def _openai_error(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _nearest(free: str, allowed: list[str]) -> str:
    """The allowed string sharing the longest prefix with ``free`` (the last one on a tie of zero)."""
    def shared(choice: str) -> int:
        count = 0
        for a, b in zip(free, choice):
            if a != b:
                break
            count += 1
        return count

    best = max(shared(choice) for choice in allowed)
    return [choice for choice in allowed if shared(choice) == best][-1 if best == 0 else 0]
