"""The openai backend against a real OpenAI-compatible server and scripted ones, all on 127.0.0.1.

Slow tests serve the tiny memorising model (``tiny_cascade``) with ``transformers serve`` (session
fixture ``served_tiny``): on its memorised sentences (also with type lists of types it never learned,
where every answer goes off the list), and on the embedded English test split it never saw (only
served against local, never what the model writes), against the local backend on the same weights. Fast
ones answer through :class:`loopback.FaultProxy` (and the scripted families of ``loopback.Family``)
without a model: the client's retries, limits and errors, keys and proxies, the command line.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from loopback import Family, FaultProxy

from cascadener.backends.base import GenerationOptions, Usage
from cascadener.backends.http import ChatClient, EndpointOptions, ServerError, ServerUnreachable
from cascadener.backends.probe import ServerProfile
from cascadener.backends.server import OpenAIBackend
from cascadener.options import PredictOptions
from cascadener.pipeline import CascadeNER


def spans(predictions):
    return [[(e["text"], e["label"], e["start"], e["end"]) for e in sentence] for sentence in predictions]


def fast_client(base_url: str, **changes) -> ChatClient:
    """A client with millisecond backoff (the retry logic, not the waiting, is under test)."""
    options = dict(concurrency=1, timeout=5.0, max_retries=3, backoff=0.01, max_backoff=0.05) | changes
    return ChatClient(EndpointOptions(base_url, **options))


def completion(content: str, *, logprobs: list[float] | None = None, finish: str = "stop") -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = {"content": [{"token": "t", "logprob": value} for value in logprobs]}
    return {"choices": [choice], "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on exit: connections are refused


# ------------------------------------------------------------------------------ fast: scripted loopback servers

def probed(url: str, **client_options) -> OpenAIBackend:
    """A backend as the probe of a plain server leaves it (no constraint applied, logprobs returned):
    the requests under test are the run's own."""
    client = fast_client(url, **client_options)
    return OpenAIBackend(client, "m", profile=ServerProfile(url, "m", constraint=None))


def test_a_refused_port_is_an_immediate_error_asking_whether_the_server_runs():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    backend = OpenAIBackend(fast_client(url, max_retries=5, backoff=1.0), "m")
    start = time.monotonic()
    with pytest.raises(ServerUnreachable) as error:
        backend.generate(["Ada met Bob ."], max_new_tokens=[8], options=GenerationOptions())
    assert time.monotonic() - start < 2  # no retries, no backoff
    assert f"is the server running at {url}?" in str(error.value) and "ConnectError" in str(error.value)


def test_a_connection_lost_mid_run_is_retried_then_names_the_request():
    backend = probed(f"http://127.0.0.1:{closed_port()}/v1", max_retries=2)
    usage = Usage()
    with pytest.raises(ServerError) as error:
        backend.generate(["Ada met Bob ."], max_new_tokens=[8], options=GenerationOptions(), usage=usage)
    message = str(error.value)
    assert "stage 1 request 1 of 1 ('Ada met Bob .')" in message
    assert "failed after 3 attempt(s) (2 retries allowed)" in message and "ConnectError" in message
    assert error.value.retryable and usage.requests == 0


def test_retries_on_429_500_and_timeouts_honouring_retry_after():
    with FaultProxy(respond=lambda body: completion("##Ada## met Bob .")) as proxy:
        proxy.faults.extend([("status", 429, {"Retry-After": "1"}), ("status", 500), ("hang", 1.5),
                             ("status", 503)])
        backend = probed(proxy.base_url, timeout=0.4, max_retries=4)
        usage = Usage()
        start = time.monotonic()
        out = backend.generate(["Ada met Bob ."], max_new_tokens=[8], options=GenerationOptions(), usage=usage)
        elapsed = time.monotonic() - start
    assert out[0][0].text == "##Ada## met Bob ." and out[0][0].finished
    assert len(proxy.posts()) == 5 and (usage.requests, usage.retries) == (1, 4)
    assert (usage.prompt_tokens, usage.completion_tokens) == (10, 2)
    assert elapsed >= 1.4  # Retry-After: 1 s, plus the 0.4 s timeout of the hung attempt


def test_retries_run_out_with_a_clear_error():
    with FaultProxy(respond=lambda body: completion("x")) as proxy:
        proxy.faults.extend([("status", 500)] * 3)
        backend = probed(proxy.base_url, max_retries=2)
        with pytest.raises(ServerError, match=r"stage 1 request 1 of 1 .* failed after 3 attempt\(s\).*HTTP 500"):
            backend.generate(["Ada met Bob ."], max_new_tokens=[8], options=GenerationOptions())


def test_non_retryable_status_fails_at_once_with_a_hint(monkeypatch):
    monkeypatch.setenv("CASCADENER_TEST_KEY", "sk-test-not-in-messages")
    with FaultProxy(respond=lambda body: completion("x")) as proxy:
        proxy.faults.extend([("status", 401), ("status", 401)])
        named = probed(proxy.base_url, api_key_env="CASCADENER_TEST_KEY")
        with pytest.raises(ServerError) as error:
            named.generate(["a b"], max_new_tokens=[4], options=GenerationOptions())
        with pytest.raises(ServerError) as unnamed:
            probed(proxy.base_url).generate(["a b"], max_new_tokens=[4], options=GenerationOptions())
    assert len(proxy.posts()) == 2 and not error.value.retryable
    assert "HTTP 401" in str(error.value) and "CASCADENER_TEST_KEY" in str(error.value)
    assert "sk-test-not-in-messages" not in str(error.value)
    assert proxy.log[0][0]["Authorization"] == "Bearer sk-test-not-in-messages"
    assert "Authorization" not in proxy.log[1][0] and "no key was sent" in str(unnamed.value)


def test_bad_endpoint_options():
    with pytest.raises(ValueError, match="must not carry credentials"):
        EndpointOptions("http://user:secret@127.0.0.1:8000/v1")
    with pytest.raises(ValueError, match="http"):
        EndpointOptions("127.0.0.1:8000")
    with pytest.raises(ValueError, match="concurrency"):
        EndpointOptions("http://127.0.0.1:8000/v1", concurrency=0)
    with pytest.raises(ValueError, match="api_key_env must be an environment variable name"):
        EndpointOptions("http://127.0.0.1:8000/v1", api_key_env="sk-abc def")
    with pytest.raises(ValueError, match="server_constraints"):
        OpenAIBackend(ChatClient(EndpointOptions("http://127.0.0.1:1/v1")), "m", server_constraints="maybe")


def test_from_endpoint_keeps_every_endpoint_option():
    """The endpoint options reach the clients whole, backoff included; a classifier on another server
    gets its own client with the same options but its URL."""
    endpoint = EndpointOptions("http://127.0.0.1:9/v1", api_key_env="MY_KEY", concurrency=3, timeout=7.0,
                               max_retries=2, backoff=0.25, max_backoff=4.0)
    ner = CascadeNER.from_endpoint(endpoint, "m", "c", classifier_endpoint="http://127.0.0.1:10/v1")
    assert ner.extractor_backend.client.options == endpoint
    assert ner.classifier_backend.client.options == EndpointOptions(
        "http://127.0.0.1:10/v1", api_key_env="MY_KEY", concurrency=3, timeout=7.0, max_retries=2, backoff=0.25,
        max_backoff=4.0)
    assert CascadeNER.from_endpoint("http://127.0.0.1:9/v1", "m").extractor_backend.client.options == \
        EndpointOptions("http://127.0.0.1:9/v1")


def test_sampled_outputs_send_one_seeded_request_per_sample():
    with FaultProxy(respond=lambda body: completion(f"seed {body['seed']}", finish="length")) as proxy:
        backend = probed(proxy.base_url, concurrency=3)
        options = GenerationOptions(do_sample=True, temperature=0.9, top_p=0.8, num_return_sequences=3)
        out = backend.generate(["a", "b"], max_new_tokens=[4, 5], options=options, seed=7)
    assert [[o.text for o in outs] for outs in out] == [["seed 7", "seed 8", "seed 9"]] * 2
    assert all(not o.finished for outs in out for o in outs)
    assert {(p["temperature"], p["top_p"]) for p in proxy.posts()} == {(0.9, 0.8)}
    assert sorted(p["max_tokens"] for p in proxy.posts()) == [4, 4, 4, 5, 5, 5]


def test_all_proxy_carries_requests_to_other_hosts(monkeypatch):
    """``ALL_PROXY`` is honoured where no variable of the URL's scheme names a proxy (as ``HTTP_PROXY``
    is, in test_a_key_goes_only_to_its_host_and_appears_nowhere_else); never for loopback."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with FaultProxy(respond=lambda body: completion("via the proxy")) as proxy:
        monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{proxy.port}")
        body = {"model": "m", "messages": [{"role": "user", "content": "a"}], "max_tokens": 4}
        answer = fast_client("http://llm.example/v1").complete([body], labels=["request 1"])
        assert answer[0]["choices"][0]["message"]["content"] == "via the proxy"
        assert proxy.paths == [("POST", "http://llm.example/v1/chat/completions")]
        with pytest.raises(ServerError, match="ConnectError"):  # loopback: directly, not through the proxy
            fast_client(f"http://127.0.0.1:{closed_port()}/v1", max_retries=0).complete([body], labels=["request 1"])
        assert len(proxy.paths) == 1


def test_requests_share_kept_alive_connections_as_many_as_the_concurrency():
    """One connection pool per call, as large as the concurrency: 40 requests at concurrency 4 reuse
    at most 4 connections (HTTP keep-alive), answered in input order."""
    with FaultProxy(respond=lambda body: completion(body["messages"][-1]["content"].upper())) as proxy:
        client = fast_client(proxy.base_url, concurrency=4)
        bodies = [{"model": "m", "messages": [{"role": "user", "content": f"text {i}"}], "max_tokens": 4}
                  for i in range(40)]
        answers = client.complete(bodies, labels=[f"request {i}" for i in range(40)])
    assert [a["choices"][0]["message"]["content"] for a in answers] == [f"TEXT {i}" for i in range(40)]
    assert len(proxy.peers) == 40 and len(set(proxy.peers)) <= 4


def test_the_serving_extra_installs_the_clients_transport_and_the_test_extra_holds_it():
    """The client runs on aiohttp (with certifi's CA bundle for https): the serving extra installs
    both, and the test extra (what ``.ci/run`` installs) the same requirements."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    extras = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["optional-dependencies"]
    assert {Requirement(text).name for text in extras["serving"]} == {"aiohttp", "certifi"}
    assert set(extras["serving"]) <= set(extras["test"])


def test_without_aiohttp_a_served_run_says_which_extra_to_install(tmp_path, capsys, monkeypatch):
    import sys

    from cascadener.cli import main

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp fails as where it is not installed
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "a", "text": "Ada met Bob ."}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    status = main(["predict", "--jsonl", str(inputs), "--backend", "openai", "--base-url", "http://127.0.0.1:1/v1",
                   "--model", "m", "-o", str(output)])
    err = capsys.readouterr().err
    assert status == 2 and 'pip install "dynamicner-kit[serving]"' in err and "Traceback" not in err, err
    assert not output.exists()
    with pytest.raises(ImportError, match=r"dynamicner-kit\[serving\]"):  # the library: the same words
        fast_client("http://127.0.0.1:1/v1").complete([{"model": "m", "messages": []}], labels=["request 1"])


def test_a_redirect_is_an_error_and_the_key_never_follows_it(monkeypatch):
    """A server that answers 307 to elsewhere gets a clear error naming the status; the other host
    receives nothing (neither the request nor the key)."""
    monkeypatch.setenv("CASCADENER_TEST_KEY", "sk-test-redirected")
    with FaultProxy(respond=lambda body: completion("elsewhere")) as other, \
            FaultProxy(respond=lambda body: completion("here")) as proxy:
        proxy.faults.append(("status", 307, {"Location": other.base_url + "/chat/completions"}))
        body = {"model": "m", "messages": [{"role": "user", "content": "a"}], "max_tokens": 4}
        client = fast_client(proxy.base_url, api_key_env="CASCADENER_TEST_KEY")
        with pytest.raises(ServerError, match="HTTP 307") as error:
            client.complete([body], labels=["request 1"])
    assert other.paths == [] and "sk-test-redirected" not in str(error.value)
    assert proxy.log[0][0]["Authorization"] == "Bearer sk-test-redirected"


# ------------------------------------------------------------------------------ fast: the command line, scripted

SENTENCES = {"Ada met Bob in Graz .": "##Ada## met ##Bob## in ##Graz## .", "Nothing here .": "Nothing here ."}


def model(prompt: str) -> str:
    """A scripted model: the marked sentence for a stage-1 prompt, ``person`` for a stage-2 question
    (``a town`` for Graz: off the list), a sentence about the sea for anything else (the probe)."""
    if prompt in SENTENCES:
        return SENTENCES[prompt]
    if "##Graz##" in prompt:
        return "a town"
    return "person" if "##" in prompt else "The sea is wide ."


def plain_server(answer=model, **changes):
    """A plain OpenAI-compatible server (no constraint, no logprobs) answering from ``answer``."""
    def respond(body):
        text = answer(body["messages"][-1]["content"])
        return text if isinstance(text, tuple) else completion(text)

    return FaultProxy(respond=respond)


def write_inputs(path, sentences=tuple(SENTENCES)):
    path.write_text("".join(json.dumps({"id": f"s{i}", "text": text, "type_list": ["person", "city"]}) + "\n"
                            for i, text in enumerate(sentences)), encoding="utf-8")
    return path


def predict(tmp_path, base_url, *extra, name="out.jsonl", inputs=None):
    from cascadener.cli import main

    inputs = inputs or write_inputs(tmp_path / "in.jsonl")
    output = tmp_path / name
    status = main(["predict", "--jsonl", str(inputs), "-o", str(output), "--no-progress", "--backend", "openai",
                   "--base-url", base_url, "--model", "m", "--max-retries", "2", "--timeout", "10", *extra])
    return status, output


@pytest.mark.parametrize("answer, field", [
    ({"choices": [None]}, "choices[0] is null, not an object"),
    ({"choices": "abc"}, "choices is a string, not a list ('abc')"),
    ({"choices": [{"message": {"content": "x"}}], "usage": "lots"}, "usage is a string, not an object ('lots')"),
    ({"choices": [{"message": {"content": 5}}]}, "choices[0].message.content is a number, not a string (5)"),
    ({"choices": [{"message": {"content": "x"}, "logprobs": {"content": [{"logprob": "high"}]}}]},
     "choices[0].logprobs.content[0].logprob is a string, not a number ('high')"),
    ({"choices": []}, "choices is an empty list"),
    (b"{not json", "invalid JSON"),
])
def test_malformed_completions_are_clear_errors_naming_the_request_and_the_field(tmp_path, capsys, answer, field):
    def respond(prompt):  # the first sentence's answer is malformed
        return (200, answer) if prompt == "Ada met Bob in Graz ." else model(prompt)

    with plain_server(respond) as server:
        status, output = predict(tmp_path, server.base_url, "--off-list", "closest")
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and "AttributeError" not in err
    assert "stage 1 request 1 of 2 ('Ada met Bob in Graz .')" in err and field in err
    assert "--resume" not in err  # the same answer would come again


def test_an_answer_larger_than_its_budget_is_cut_off():
    huge = completion("x " * 2_000_000)  # 4 MB for a budget of 8 tokens
    with FaultProxy(respond=lambda body: huge) as proxy:
        start = time.monotonic()
        with pytest.raises(ServerError, match=r"stage 1 request 1 of 1 .* answered more than 98304 bytes, more than "
                                              r"a budget of 8 tokens allows"):
            probed(proxy.base_url).generate(["Ada met Bob ."], max_new_tokens=[8], options=GenerationOptions())
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("runs", [40, pytest.param(400, marks=pytest.mark.slow)])
def test_failing_requests_leave_no_task_exception_unretrieved(caplog, runs):
    """Several requests failing at once (invalid JSON, no choices, HTTP 404, answered together): one
    clear error, every in-flight request cancelled and awaited, and asyncio never reports an
    exception nobody retrieved. Such a report needs two failures to land before the first is
    raised, which a client that leaves failed requests unawaited shows in a few runs per hundred;
    hence 40 runs in the fast loop and 400 in the full suite."""
    import gc
    import logging
    import threading

    together = threading.Barrier(3, timeout=2)

    def respond(body):
        prompt = body["messages"][-1]["content"]
        if prompt in ("a", "bb", "ccc"):
            try:
                together.wait()
            except threading.BrokenBarrierError:
                pass
        return {"a": (200, b"{not json"), "bb": (200, {"choices": []}), "ccc": (404, {"error": "no"})}.get(
            prompt, completion("fine"))

    prompts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff"]
    with FaultProxy(respond=respond) as proxy, caplog.at_level(logging.ERROR, logger="asyncio"):
        backend = probed(proxy.base_url, concurrency=6, max_retries=0)
        for _ in range(runs):
            together.reset()
            with pytest.raises(ServerError, match=r"stage 1 request [123] of 6 .*(invalid JSON|empty list|HTTP 404)"):
                backend.generate(prompts, max_new_tokens=[4] * 6, options=GenerationOptions())
        gc.collect()  # an unretrieved task exception is reported when its task is collected
    assert not [record for record in caplog.records if "never retrieved" in record.getMessage()]


def test_empty_answers_are_counted_reported_and_an_all_empty_run_fails(tmp_path, capsys):
    with plain_server(lambda p: "" if p == "Nothing here ." else model(p)) as server:
        status, output = predict(tmp_path, server.base_url, "--off-list", "closest")
    err = capsys.readouterr().err
    meta = json.loads(output.with_name(output.name + ".meta.json").read_text(encoding="utf-8"))
    assert status == 0 and meta["stats"]["stage1_empty_answers"] == 1 and meta["stats"]["stage2_empty_answers"] == 0
    assert "warning: 1 stage-1 and 0 stage-2 answers were empty" in err

    def nothing(prompt):  # the probe is answered; every sentence gets null content
        return (200, {"choices": [{"message": {"content": None}}]}) if prompt in SENTENCES else model(prompt)

    with plain_server(nothing) as server:
        status, output = predict(tmp_path, server.base_url, "--off-list", "closest", name="empty.jsonl")
    err = capsys.readouterr().err
    assert status == 2 and "every one of the 2 stage-1 answers was empty" in err and "Traceback" not in err
    assert output.read_text(encoding="utf-8") == ""


def test_a_key_goes_only_to_its_host_and_appears_nowhere_else(tmp_path, capsys, monkeypatch):
    """OPENAI_API_KEY, set, is sent to OpenAI's own host (here through an HTTP proxy, as the proxy
    variables say) and to no other host unless named; a server echoing it back is redacted; it is in
    no file and no message. Loopback servers are reached directly, whatever the proxy variables say."""
    key = "sk-cascadener-marker-5be1c0de"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")  # a dead proxy: loopback ignores it
    with plain_server() as server:
        status, output = predict(tmp_path, server.base_url, "--off-list", "closest")
    assert status == 0
    assert all("Authorization" not in headers for headers, _ in server.log)
    assert all("Authorization" not in headers for headers in server.get_headers)

    def echo(body):  # a server whose error repeats the request's headers
        return 400, {"error": {"message": f"bad request; headers: Authorization: Bearer {key}"}}

    monkeypatch.setenv("MY_PROVIDER_KEY", key)
    with FaultProxy(respond=echo) as server:
        status, _ = predict(tmp_path, server.base_url, "--api-key-env", "MY_PROVIDER_KEY", name="echo.jsonl")
    echoed = capsys.readouterr().err
    assert status == 2 and "Bearer [redacted]" in echoed and server.log[0][0]["Authorization"] == f"Bearer {key}"

    with Family("openai", model) as openai:  # OpenAI's host, reached through the proxy
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{openai.proxy.port}")
        status, _ = predict(tmp_path, "http://api.openai.com/v1", name="openai.jsonl")
    assert status == 0, capsys.readouterr().err
    assert {target for _, target in openai.proxy.paths} >= {"http://api.openai.com/v1/models",
                                                            "http://api.openai.com/v1/chat/completions"}
    assert all(headers["Authorization"] == f"Bearer {key}" for headers, _ in openai.proxy.log)
    printed = capsys.readouterr()
    assert key not in printed.out + printed.err + echoed
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or key.encode() not in path.read_bytes(), path


@pytest.mark.slow  # two whole runs through the command line (~5 s)
def test_the_served_main_job_honours_context_tokens_and_a_classifier_on_another_server(tmp_path, capsys):
    """``cascadener run --backend openai --context-tokens N`` reads long texts in the windows ``predict``
    reads with the same option, and ``--classifier-base-url`` sends stage 2 to the classifier's server."""
    from cascadener.cli import main

    def echo(prompt):  # stage 1 marks the first word; stage 2 answers the first choice
        import re

        if "##" in prompt:
            return re.search(r"list: (.*?)(, |\?$)", prompt).group(1)
        first, _, rest = prompt.partition(" ")
        return f"##{first}## {rest}"

    with Family("vllm-0.12", echo) as extractor, Family("vllm-0.12", echo, model="c") as classifier:
        served = ["--backend", "openai", "--base-url", extractor.base_url, "--model", "m", "--context-tokens", "200",
                  "--no-progress"]
        assert main(["run", *served, "--classifier-base-url", classifier.base_url, "--classifier-model", "c",
                     "--languages", "en", "-o", str(tmp_path / "run")]) == 0, capsys.readouterr().err
        run_posts = extractor.posts()
        assert main(["predict", *served, "--dataset", "en", "--split", "test", "-o", str(tmp_path / "p.jsonl")]) == 0
    counts = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))["counts"]
    stats = json.loads((tmp_path / "p.jsonl.meta.json").read_text(encoding="utf-8"))["stats"]
    assert (counts["split_texts"], counts["windows"]) == (stats["split_texts"], stats["windows"]) and stats["windows"] > 8
    assert all("##" not in p["messages"][-1]["content"] for p in run_posts)  # stage 1 only
    assert any("##" in p["messages"][-1]["content"] for p in classifier.posts())  # stage 2


def test_certificates_come_from_ssl_cert_file_except_on_loopback(tmp_path, monkeypatch):
    """``SSL_CERT_FILE`` chooses the certificates a server is verified with (here a bundle of one, cut from
    certifi's); loopback ignores it; a file that cannot be read is a clear error naming the variable."""
    import certifi

    bundle = certifi.contents()
    one = bundle[bundle.index("-----BEGIN CERTIFICATE-----"):bundle.index("-----END CERTIFICATE-----") + 25]
    (tmp_path / "one.pem").write_text(one + "\n", encoding="ascii")
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    default = len(ChatClient(EndpointOptions("https://example.invalid/v1"))._verified().get_ca_certs())
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "one.pem"))
    assert len(ChatClient(EndpointOptions("https://example.invalid/v1"))._verified().get_ca_certs()) == 1 < default
    assert len(ChatClient(EndpointOptions("https://127.0.0.1:8443/v1"))._verified().get_ca_certs()) == default
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    backend = OpenAIBackend(ChatClient(EndpointOptions("https://example.invalid/v1", max_retries=0)), "m")
    with pytest.raises(ServerError, match=r"cannot load the certificates of SSL_CERT_FILE=.*missing\.pem"):
        backend.prepare(choice=False)


@pytest.mark.parametrize("extra,message", [
    (["--backend", "openai", "--model", "m"], "--backend openai needs --base-url"),
    (["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1"], "--backend openai needs --model"),
    (["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--extractor", "x"],
     "--extractor loads a local model"),
    (["--backend", "openai", "--base-url", "http://k:secret@127.0.0.1:1/v1", "--model", "m"],
     "must not carry credentials"),
    (["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--classification",
      "constrained", "--server-constraints", "none"], "--classification generative --off-list closest"),
    (["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--server-constraints", "none"],
     "or take the textually closest choice instead (--off-list closest)"),
    (["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--classifier-base-url",
      "http://127.0.0.1:2/v1"], "--classifier-base-url needs --classifier-model"),
    ([], "--extractor is required"),
    (["--extractor", "x", "--model", "m"], "--model only applies with --backend openai"),
])
def test_cli_backend_argument_errors(tmp_path, capsys, extra, message):
    from cascadener.cli import main

    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "a", "text": "Ada met Bob ."}\n', encoding="utf-8")
    assert main(["predict", "--jsonl", str(inputs), "-o", str(tmp_path / "o.jsonl"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cascadener predict: error: ") and message in err and "Traceback" not in err


def test_cli_refused_port_is_an_immediate_error_and_writes_nothing(tmp_path, capsys):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    start = time.monotonic()
    status, output = predict(tmp_path, url, "--off-list", "closest", "--max-retries", "5")
    err = capsys.readouterr().err
    assert status == 2 and time.monotonic() - start < 5 and "Traceback" not in err
    assert err.rstrip().endswith(f"is the server running at {url}? Nothing was predicted.") and "--resume" not in err
    assert not output.exists() and not output.with_name(output.name + ".meta.json").exists()


def test_requests_and_resume_do_not_depend_on_concurrency_or_timeout(tmp_path, capsys):
    """The same run at concurrency 1, 4 and 16 sends the same requests (chunks are 4 x --batch-size,
    whatever the concurrency); --resume takes another --concurrency and --timeout, and refuses
    another served model."""
    sentences = [f"Ada met Bob in Graz {i} ." for i in range(10)]
    script = {text: text.replace("Ada", "##Ada##").replace("Graz", "##Graz##") for text in sentences}

    def answer(prompt):
        return script.get(prompt) or model(prompt)

    inputs = write_inputs(tmp_path / "many.jsonl", sentences)
    runs = {}
    with Family("vllm-0.12", answer) as server:
        for concurrency in (1, 4, 16):
            before = len(server.posts())
            status, output = predict(tmp_path, server.base_url, "--concurrency", str(concurrency), "--batch-size", "2",
                                     inputs=inputs, name=f"c{concurrency}.jsonl")
            assert status == 0, capsys.readouterr().err
            meta = json.loads(output.with_name(output.name + ".meta.json").read_text(encoding="utf-8"))
            runs[concurrency] = (output.read_text(encoding="utf-8"), meta["stats"], meta["layout"],
                                 len(server.posts()) - before)
        outputs, stats, layouts, posts = zip(*runs.values())
        assert len(set(outputs)) == 1 and all(s == stats[0] for s in stats) and len(set(posts)) == 1
        assert all(layout == {"batch_size": 2, "chunk_size": 8} for layout in layouts)
        # 10 sentences, 20 mentions, and each Graz again (off the list: asked again with the constraint)
        assert stats[0]["stage1_requests"] == 10 and stats[0]["stage2_requests"] == 30
        output = tmp_path / "c1.jsonl"
        meta_path = output.with_name(output.name + ".meta.json")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta.update(complete=False, committed={"sentences": 8, "bytes": len("".join(
            output.read_text(encoding="utf-8").splitlines(keepends=True)[:8]).encode())})
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
        status, _ = predict(tmp_path, server.base_url, "--concurrency", "7", "--timeout", "33", "--batch-size", "2",
                            "--resume", inputs=inputs, name="c1.jsonl")
        assert status == 0, capsys.readouterr().err
        assert output.read_text(encoding="utf-8") == outputs[0]
        capsys.readouterr()
        from cascadener.cli import main

        status = main(["predict", "--jsonl", str(inputs), "-o", str(output), "--no-progress", "--backend", "openai",
                       "--base-url", server.base_url, "--model", "other", "--batch-size", "2", "--resume"])
    err = capsys.readouterr().err
    assert status == 2 and "the served model (--model) was 'm', now 'other'" in err


# ------------------------------------------------------------------------------ slow: transformers serve

@pytest.fixture(scope="session")
def served_tiny(tiny_cascade, tmp_path_factory):
    """``transformers serve`` on the tiny memorising model, on a free loopback port; stopped by pid."""
    pytest.importorskip("fastapi", reason='transformers serve needs pip install "transformers[serving]"')
    from cascadener.testing.launch import LocalServer

    server = LocalServer(tiny_cascade.extractor, threads=1, start_timeout=240, log_path=tmp_path_factory.mktemp("serve") / "log")
    server.start()
    yield server
    pid = server.process.pid
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 25
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


@pytest.fixture(scope="session")
def local_tiny(tiny_cascade):
    return CascadeNER.from_pretrained(tiny_cascade.extractor, device="cpu")


CLOSEST = PredictOptions(off_list="closest")


@pytest.mark.slow
def test_openai_backend_equals_transformers_backend(served_tiny, local_tiny, tiny_corpus):
    texts = [r["text"] for r in tiny_corpus] + [""]
    lists = [r["type_list"] for r in tiny_corpus] + [["person", "city"]]
    expected = local_tiny.predict(texts, lists, options=CLOSEST)
    ner = CascadeNER.from_endpoint(EndpointOptions(served_tiny.base_url, concurrency=4), served_tiny.model)
    got = ner.predict(texts, lists, options=CLOSEST)
    assert spans(got) == spans(expected)
    assert spans(got)[:-1] == [[(e["text"], e["label"], e["start"], e["end"]) for e in r["entities"]]
                               for r in tiny_corpus]  # memorised: the gold entities, labels and offsets
    assert all(e["score"] is None for sentence in got for e in sentence)  # transformers serve: no logprobs
    local, server = local_tiny.last_stats.to_dict(), ner.last_stats.to_dict()
    assert server["stage1_requests"] == len(tiny_corpus) and server["stage1_retries"] == 0
    assert server["stage2_requests"] == sum(len(r["entities"]) for r in tiny_corpus)
    # the same chat template and token budgets (the served folder's tokenizer) on both sides: the server
    # counts the tokens the local backend ran
    assert server == local


@pytest.mark.slow
def test_retries_through_a_faulty_proxy_to_the_real_server(served_tiny, local_tiny, tiny_corpus):
    texts = [r["text"] for r in tiny_corpus[:2]]
    lists = [r["type_list"] for r in tiny_corpus[:2]]
    with FaultProxy(upstream=f"http://127.0.0.1:{served_tiny.port}") as proxy:
        client = fast_client(proxy.base_url, timeout=15.0, max_retries=4)  # > any real answer on a busy machine
        ner = CascadeNER.from_backends(OpenAIBackend(client, served_tiny.model))
        ner.check(CLOSEST)  # the probe, before the faults
        proxy.faults.extend([("status", 429, {"Retry-After": "1"}), ("status", 500), ("hang", 25.0),
                             ("status", 502)])
        got = ner.predict(texts, lists, options=CLOSEST)
    assert spans(got) == spans(local_tiny.predict(texts, lists, options=CLOSEST))
    assert ner.last_stats.stage1_retries == 4 and ner.last_stats.stage2_retries == 0


@pytest.mark.slow
def test_concurrency_keeps_the_input_order(served_tiny, local_tiny, tiny_corpus):
    texts = [r["text"] for r in tiny_corpus]
    lists = [r["type_list"] for r in tiny_corpus]
    order = {text: index for index, text in enumerate(texts)}

    def later_first(body):  # early inputs answer last: completion order is the reverse of input order
        user = body["messages"][-1]["content"]
        return 0.1 * (len(texts) - order.get(user, len(texts)))

    with FaultProxy(upstream=f"http://127.0.0.1:{served_tiny.port}") as proxy:
        proxy.delay_for = later_first
        ner = CascadeNER.from_backends(OpenAIBackend(fast_client(proxy.base_url, concurrency=8, timeout=300),
                                                       served_tiny.model))
        got = ner.predict(texts, lists, options=CLOSEST)
    assert spans(got) == spans(local_tiny.predict(texts, lists, options=CLOSEST))


@pytest.mark.slow
def test_transformers_serve_applies_no_constraint_so_runs_needing_one_are_refused(served_tiny, tiny_corpus):
    """The probe asks with every adapter: transformers serve rejects the unknown fields (HTTP 422) and
    ignores response_format; a run that needs answers kept to the choices (the default off-list retry,
    constrained classification, a forced adapter) is refused before its first sentence is sent."""
    texts = [r["text"] for r in tiny_corpus[:2]]
    lists = [r["type_list"] for r in tiny_corpus[:2]]
    with FaultProxy(upstream=f"http://127.0.0.1:{served_tiny.port}") as proxy:
        backend = OpenAIBackend(fast_client(proxy.base_url, timeout=300), served_tiny.model)
        ner = CascadeNER.from_backends(backend)
        for mode in ("generative", "constrained"):
            with pytest.raises(ValueError, match="which this backend cannot do: the server at .* "
                                                 r"\(transformers-serve\) applied no choice constraint"):
                ner.predict(texts, lists, classification=mode)
        forced = OpenAIBackend(fast_client(proxy.base_url, timeout=300), served_tiny.model, server_constraints="choice")
        assert forced.prepare(choice=True).choice is False
        asked = [p["messages"][-1]["content"] for p in proxy.posts()]
    tried = dict(backend.profile.tried)
    assert [tried[name].split(" ")[0] for name in ("choice", "guided", "regex", "grammar")] == ["rejected"] * 4
    assert "HTTP 422" in tried["choice"] and "structured_outputs" in tried["choice"]
    assert tried["json-schema"].startswith("ignored") and tried["tgi-json"].startswith("ignored")
    assert not set(texts) & set(asked) and backend.profile.scores is False
    assert dict(forced.profile.tried) == {"choice": tried["choice"]}


# ----------------------------------------------------------------- slow: off-list answers and unseen text, served vs local

def _lines(path):
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _typed(lines):
    return [[(e["text"], e["label"], e["start"], e["end"]) for e in line["entities"]] for line in lines]


@pytest.mark.slow
def test_served_defaults_on_unseen_text_are_refused_before_any_work(served_tiny, tmp_path, capsys):
    from cascadener.cli import main

    output = tmp_path / "served.jsonl"
    status = main(["predict", "--dataset", "en", "--split", "test", "--backend", "openai", "--base-url",
                   served_tiny.base_url, "--model", served_tiny.model, "-o", str(output), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "use a server that applies choice constraints" in err and "(--off-list closest)" in err
    assert not output.exists() and not output.with_name(output.name + ".meta.json").exists()


@pytest.mark.slow
def test_served_closest_equals_local_when_every_answer_is_off_the_list(served_tiny, tiny_cascade, tiny_corpus,
                                                                       tmp_path, capsys):
    """The memorised sentences, each with a type list of types the model never learned (in no type list
    and no answer it was trained on): stage 1 finds the memorised entities, and every stage-2 answer (a
    label it learned) is off the list, resolved by ``--off-list closest`` to a listed type. The served
    run equals the local one on the same weights, span for span and label for label, with the same
    requests and tokens, at concurrency 1, 4 and 16."""
    import json

    from cascadener.cli import main

    unlearned = ["planet", "recipe", "sonata"]
    assert not set(unlearned) & {t for r in tiny_corpus for t in [*r["type_list"], *(e["label"] for e in r["entities"])]}
    inputs = tmp_path / "unlearned-types.jsonl"
    inputs.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "type_list": unlearned}) + "\n"
                              for r in tiny_corpus), encoding="utf-8")
    common = ["predict", "--jsonl", str(inputs), "--off-list", "closest", "--no-progress"]
    assert main([*common, "--extractor", str(tiny_cascade.extractor), "--device", "cpu",
                 "-o", str(tmp_path / "local.jsonl")]) == 0, capsys.readouterr().err
    local = _lines(tmp_path / "local.jsonl")
    local_stats = json.loads((tmp_path / "local.jsonl.meta.json").read_text(encoding="utf-8"))["stats"]
    assert [[(e["text"], e["start"], e["end"]) for e in line["entities"]] for line in local] == \
        [[(e["text"], e["start"], e["end"]) for e in r["entities"]] for r in tiny_corpus]  # stage 1: memorised
    assert {e["label"] for line in local for e in line["entities"]} <= set(unlearned)
    assert local_stats["off_list_answers"] == sum(len(r["entities"]) for r in tiny_corpus) > 0
    for concurrency in (1, 4, 16):
        output = tmp_path / f"served-{concurrency}.jsonl"
        assert main([*common, "--backend", "openai", "--base-url", served_tiny.base_url, "--model", served_tiny.model,
                     "--concurrency", str(concurrency), "--timeout", "300", "-o", str(output)]) == 0, \
            capsys.readouterr().err
        meta = json.loads(output.with_name(output.name + ".meta.json").read_text(encoding="utf-8"))
        assert _typed(_lines(output)) == _typed(local)
        assert meta["stats"] == local_stats  # requests, prompt and completion tokens per stage, off-list answers
        assert meta["applied"]["method"] == "cascadener-generative-closest"


@pytest.mark.slow
def test_served_main_job_equals_the_local_main_job(served_tiny, tiny_cascade, tmp_path, capsys):
    """``cascadener run`` on the English test split: through the server with ``--off-list closest``, the
    same predictions (dynamic and cascade) and every F1 of the local main job on the same weights; the
    default (which needs choice constraints) is refused before any work."""
    import json

    from cascadener.cli import main

    served = ["run", "--backend", "openai", "--base-url", served_tiny.base_url, "--model", served_tiny.model,
              "--languages", "en", "--no-progress"]
    assert main([*served, "-o", str(tmp_path / "refused")]) == 2
    assert "(--off-list closest)" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    assert main([*served, "--off-list", "closest", "-o", str(tmp_path / "served")]) == 0, capsys.readouterr().err
    assert main(["run", "--extractor", str(tiny_cascade.extractor), "--device", "cpu", "--languages", "en",
                 "--no-progress", "--off-list", "closest", "-o", str(tmp_path / "local")]) == 0
    results = {side: json.loads((tmp_path / side / "results.json").read_text(encoding="utf-8"))
               for side in ("served", "local")}
    assert {task: score["f1"] for task, score in results["served"]["scores"].items()} == \
        {task: score["f1"] for task, score in results["local"]["scores"].items()}
    predictions = {side: _lines(tmp_path / side / "predictions.jsonl") for side in ("served", "local")}
    assert _typed(predictions["served"]) == _typed(predictions["local"])
    assert [[(e["text"], e["levels"]) for e in line["cascade_entities"]] for line in predictions["served"]] == \
        [[(e["text"], e["levels"]) for e in line["cascade_entities"]] for line in predictions["local"]]
    pipeline = results["served"]["pipeline"]
    assert pipeline["method"] == results["local"]["pipeline"]["method"] == "cascadener-generative-closest"
    assert pipeline["backends"]["extractor"]["probe"]["family"] == "transformers-serve"


# ------------------------------------------------------------------------------ slow: the command line

def _inputs(path, tiny_corpus, copies: int = 1):
    import json

    lines = [json.dumps({"id": f"s{n}-{r['id']}", "text": r["text"], "type_list": r["type_list"],
                         "entities": r["entities"]}) for n in range(copies) for r in tiny_corpus]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cli_env():
    import os

    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(__import__("pathlib").Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))


@pytest.mark.slow
def test_cli_predict_then_evaluate_never_leaks_the_key(served_tiny, tiny_corpus, tmp_path):
    import json
    import subprocess
    import sys

    key = "sk-cascadener-test-7f3a9c1e-never-written"
    env = _cli_env() | {"CASCADENER_TEST_KEY": key}
    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus)
    with FaultProxy(upstream=f"http://127.0.0.1:{served_tiny.port}") as proxy:
        # the error path is logged too: after the probe's request (no fault), a 429
        proxy.faults.extend([("delay", 0.0), ("status", 429, {"Retry-After": "0"})])
        predict = [sys.executable, "-m", "cascadener", "predict", "--jsonl", str(inputs), "--off-list", "closest",
                   "--backend", "openai",
                   "--base-url", proxy.base_url, "--model", served_tiny.model, "--api-key-env", "CASCADENER_TEST_KEY",
                   "--concurrency", "4", "-o", str(tmp_path / "preds.jsonl"), "--no-progress"]
        first = subprocess.run(predict, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    evaluate = [sys.executable, "-m", "cascadener", "evaluate", str(tmp_path / "preds.jsonl"),
                "-o", str(tmp_path / "results.json")]
    second = subprocess.run(evaluate, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    # the key went to the server, in the header only
    assert all(headers.get("Authorization") == f"Bearer {key}" for headers, _ in proxy.log)
    assert proxy.get_headers and all(headers.get("Authorization") == f"Bearer {key}" for headers in proxy.get_headers)
    assert all(key not in json.dumps(body) for _, body in proxy.log)
    # ... and nowhere else: argv, printed output, every file written
    assert key not in " ".join(predict + evaluate)
    for stream in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert key not in stream
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert {p.name for p in files} >= {"preds.jsonl", "preds.jsonl.meta.json", "results.json"}
    for path in files:
        assert key.encode() not in path.read_bytes(), path
    meta = json.loads((tmp_path / "preds.jsonl.meta.json").read_text(encoding="utf-8"))
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert meta["options"]["backend"] == "openai" and meta["server"]["api_key_env"] == "CASCADENER_TEST_KEY"
    assert meta["stats"]["stage1_retries"] == 1 and meta["stats"]["stage1_requests"] == len(tiny_corpus)
    assert results["pipeline"]["backend"] == "openai"
    assert results["counts"]["stage2_requests"] == meta["stats"]["stage2_requests"] > 0
    assert results["metrics"]["f1"] == 1.0  # memorised: every gold entity, label and offset


@pytest.mark.slow
def test_cli_resume_after_a_kill_gives_the_uninterrupted_file(served_tiny, tiny_corpus, tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys

    from cascadener.cli import main

    inputs = _inputs(tmp_path / "in.jsonl", tiny_corpus, copies=3)
    total = 3 * len(tiny_corpus)
    reference = tmp_path / "reference.jsonl"
    common = ["--jsonl", str(inputs), "--off-list", "closest", "--backend", "openai", "--model", served_tiny.model,
              "--chunk-size", "4",
              "--no-progress", "--timeout", "300"]
    assert main(["predict", *common, "--base-url", served_tiny.base_url, "--concurrency", "1", "-o", str(reference)]) == 0
    output = tmp_path / "preds.jsonl"
    with FaultProxy(upstream=f"http://127.0.0.1:{served_tiny.port}") as proxy:
        proxy.delay_for = lambda body: 0.3  # slow enough to be killed mid-run
        command = [sys.executable, "-m", "cascadener", "predict", *common, "--base-url", proxy.base_url,
                   "--concurrency", "3", "-o", str(output)]
        process = subprocess.Popen(command, env=_cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            if output.exists() and output.read_text(encoding="utf-8").count("\n") >= 4:
                break
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    written = output.read_text(encoding="utf-8").count("\n")
    assert 4 <= written < total
    assert main(["predict", *common, "--base-url", served_tiny.base_url, "--concurrency", "3", "-o", str(output),
                 "--resume"]) == 0
    assert output.read_text(encoding="utf-8") == reference.read_text(encoding="utf-8")
    meta = json.loads(output.with_name(output.name + ".meta.json").read_text(encoding="utf-8"))
    assert meta["complete"] and meta["options"]["backend"] == "openai"


@pytest.mark.slow
def test_cli_run_main_job_on_the_server(served_tiny, tiny_corpus, memorised_release, tmp_path, capsys):
    """The main job through the server on sentences the served model memorised (``memorised_release``):
    every sentence is extracted exactly, so every stage-2 question is asked."""
    import json

    from cascadener.cli import main

    english = [r for r in tiny_corpus if r["language"] == "en"]
    status = main(["run", "--backend", "openai", "--base-url", served_tiny.base_url, "--model", served_tiny.model,
                   "--off-list", "closest",
                   "--languages", "en", "--data-dir", str(memorised_release), "--no-progress",
                   "-o", str(tmp_path / "run")])
    assert status == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))
    assert results["pipeline"]["backend"] == "openai" and results["model"]["extractor"] == served_tiny.model
    assert results["metrics"]["extraction_f1"] == 1.0
    mentions = sum(len(r["entities"]) for r in english)
    assert results["counts"]["stage1_requests"] == len(english)
    assert results["counts"]["stage2_requests"] >= mentions  # the type list, then the cascade's levels
    assert not (tmp_path / "run" / "models").exists()  # nothing trained
    assert main(["run", "--backend", "openai", "--base-url", served_tiny.base_url, "--model", "m", "--lora"]) == 2
    assert "--backend openai trains nothing" in capsys.readouterr().err
