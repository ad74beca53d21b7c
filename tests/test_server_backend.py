"""The openai backend against a real OpenAI-compatible server and scripted ones, all on 127.0.0.1.

Slow tests serve the tiny memorising model (``tiny_cascade``) with ``transformers serve`` (session
fixture ``served_tiny``); fast ones answer through :class:`loopback.FaultProxy` without a model.
"""

from __future__ import annotations

import math
import socket
import time

import pytest
from loopback import FaultProxy

from cascadener.backends.base import ClassifyOptions, ClassifyRequest, GenerationOptions, Usage
from cascadener.backends.http import ChatClient, EndpointOptions, ServerError
from cascadener.backends.server import OpenAIBackend
from cascadener.pipeline import CascadeNER
from cascadener.stage2 import classify


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

def test_refused_port_retries_then_names_the_request():
    client = fast_client(f"http://127.0.0.1:{closed_port()}/v1", max_retries=2)
    backend = OpenAIBackend(client, "m")
    usage = Usage()
    start = time.monotonic()
    with pytest.raises(ServerError) as error:
        backend.generate(["Ada met Bob ."], max_new_tokens=[8], options=GenerationOptions(), usage=usage)
    message = str(error.value)
    assert "stage 1 request 1 of 1 ('Ada met Bob .')" in message
    assert "failed after 3 attempt(s) (2 retries allowed)" in message and "ConnectError" in message
    assert time.monotonic() - start < 5 and usage.requests == 0


def test_retries_on_429_500_and_timeouts_honouring_retry_after():
    with FaultProxy(respond=lambda body: completion("##Ada## met Bob .")) as proxy:
        proxy.faults.extend([("status", 429, {"Retry-After": "1"}), ("status", 500), ("hang", 1.5),
                             ("status", 503)])
        backend = OpenAIBackend(fast_client(proxy.base_url, timeout=0.4, max_retries=4), "m")
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
        backend = OpenAIBackend(fast_client(proxy.base_url, max_retries=2), "m")
        with pytest.raises(ServerError, match=r"stage 1 request 1 of 1 .* failed after 3 attempt\(s\).*HTTP 500"):
            backend.generate(["Ada met Bob ."], max_new_tokens=[8], options=GenerationOptions())


def test_non_retryable_status_fails_at_once_with_a_hint(monkeypatch):
    monkeypatch.setenv("CASCADENER_TEST_KEY", "sk-test-not-in-messages")
    with FaultProxy(respond=lambda body: completion("x")) as proxy:
        proxy.faults.append(("status", 401))
        client = fast_client(proxy.base_url, api_key_env="CASCADENER_TEST_KEY")
        with pytest.raises(ServerError) as error:
            OpenAIBackend(client, "m").generate(["a b"], max_new_tokens=[4], options=GenerationOptions())
    assert len(proxy.posts()) == 1
    assert "HTTP 401" in str(error.value) and "CASCADENER_TEST_KEY" in str(error.value)
    assert "sk-test-not-in-messages" not in str(error.value)
    assert proxy.log[0][0]["Authorization"] == "Bearer sk-test-not-in-messages"


def test_bad_endpoint_options():
    with pytest.raises(ValueError, match="must not carry credentials"):
        EndpointOptions("http://user:secret@127.0.0.1:8000/v1")
    with pytest.raises(ValueError, match="http"):
        EndpointOptions("127.0.0.1:8000")
    with pytest.raises(ValueError, match="concurrency"):
        EndpointOptions("http://127.0.0.1:8000/v1", concurrency=0)
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


def vllm_like(body: dict) -> dict:
    """A scripted server that honours structured outputs: constrained answers come from the choice list;
    free answers are off-list; token log-probabilities are returned."""
    choice = (body.get("structured_outputs") or {}).get("choice") or body.get("guided_choice")
    if choice:
        return completion(choice[-1], logprobs=[-0.5, -0.25])
    return completion("a vehicle", logprobs=[-1.0])


@pytest.mark.parametrize("mode,field", [("auto", "structured_outputs"), ("choice", "structured_outputs"),
                                        ("guided", "guided_choice")])
def test_off_list_answers_are_asked_again_with_choice_constraints(mode, field):
    request = ClassifyRequest("Which type?", ("person", "city"))
    with FaultProxy(respond=vllm_like) as proxy:
        backend = OpenAIBackend(fast_client(proxy.base_url), "m", server_constraints=mode)
        usage = Usage()
        out = classify(backend, [request], options=ClassifyOptions(), usage=usage)[0]
        constrained = classify(backend, [request], options=ClassifyOptions(mode="constrained"))[0]
    first, second, third = proxy.posts()
    assert field not in first and first["temperature"] == 0 and first["logprobs"] is True and first["seed"] == 0
    assert second[field] in ({"choice": ["person", "city"]}, ["person", "city"])
    assert (out.label, out.how, out.answer, out.off_list) == ("city", "fallback-constrained", "a vehicle", True)
    assert math.isclose(out.score, math.exp(-0.75))
    assert usage.requests == 2
    assert (constrained.label, constrained.how, constrained.off_list) == ("city", "constrained", False)
    assert field in third


def test_without_constraints_off_list_answers_take_the_closest_option():
    with FaultProxy(respond=lambda body: completion("citty")) as proxy:
        backend = OpenAIBackend(fast_client(proxy.base_url), "m", server_constraints="none")
        out = classify(backend, [ClassifyRequest("Which?", ("person", "city"))], options=ClassifyOptions())[0]
        with pytest.raises(ValueError, match="constrained classification on a server needs choice constraints"):
            classify(backend, [ClassifyRequest("Which?", ("person", "city"))],
                     options=ClassifyOptions(mode="constrained"))
    assert (out.label, out.how, out.score) == ("city", "fallback-closest", 0.0)
    assert len(proxy.posts()) == 1 and "structured_outputs" not in proxy.posts()[0]


def test_a_server_ignoring_constraints_is_caught_by_the_list_check():
    with FaultProxy(respond=lambda body: completion("a vehicle")) as proxy:  # ignores structured_outputs
        backend = OpenAIBackend(fast_client(proxy.base_url), "m", server_constraints="choice")
        out = classify(backend, [ClassifyRequest("Which?", ("person", "vehicle maker"))],
                       options=ClassifyOptions(mode="constrained"))[0]
    assert out.off_list and out.how == "fallback-closest" and out.label == "vehicle maker"


def test_sampled_outputs_send_one_seeded_request_per_sample():
    with FaultProxy(respond=lambda body: completion(f"seed {body['seed']}", finish="length")) as proxy:
        backend = OpenAIBackend(fast_client(proxy.base_url, concurrency=3), "m")
        options = GenerationOptions(do_sample=True, temperature=0.9, top_p=0.8, num_return_sequences=3)
        out = backend.generate(["a", "b"], max_new_tokens=[4, 5], options=options, seed=7)
    assert [[o.text for o in outs] for outs in out] == [["seed 7", "seed 8", "seed 9"]] * 2
    assert all(not o.finished for outs in out for o in outs)
    assert {(p["temperature"], p["top_p"]) for p in proxy.posts()} == {(0.9, 0.8)}
    assert sorted(p["max_tokens"] for p in proxy.posts()) == [4, 4, 4, 5, 5, 5]


@pytest.mark.parametrize("extra,message", [
    (["--backend", "openai", "--model", "m"], "--backend openai needs --base-url"),
    (["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1"], "--backend openai needs --model"),
    (["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--extractor", "x"],
     "--extractor loads a local model"),
    (["--backend", "openai", "--base-url", "http://k:secret@127.0.0.1:1/v1", "--model", "m"],
     "must not carry credentials"),
    (["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--classification",
      "constrained", "--server-constraints", "none"], "needs choice constraints"),
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


def test_cli_server_failure_is_a_clear_error_and_keeps_the_file(tmp_path, capsys):
    from cascadener.cli import main

    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "a", "text": "Ada met Bob ."}\n', encoding="utf-8")
    status = main(["predict", "--jsonl", str(inputs), "-o", str(tmp_path / "o.jsonl"), "--no-progress",
                   "--backend", "openai", "--base-url", f"http://127.0.0.1:{closed_port()}/v1", "--model", "m",
                   "--max-retries", "0"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "stage 1 request 1 of 1 ('Ada met Bob .')" in err and "ConnectError" in err and "--resume" in err
    assert (tmp_path / "o.jsonl.meta.json").is_file()


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


@pytest.mark.slow
def test_openai_backend_equals_transformers_backend(served_tiny, local_tiny, tiny_corpus):
    texts = [r["text"] for r in tiny_corpus] + [""]
    lists = [r["type_list"] for r in tiny_corpus] + [["person", "city"]]
    expected = local_tiny.predict(texts, lists)
    ner = CascadeNER.from_endpoint(EndpointOptions(served_tiny.base_url, concurrency=4), served_tiny.model)
    got = ner.predict(texts, lists)
    assert spans(got) == spans(expected)
    assert spans(got)[:-1] == [[(e["text"], e["label"], e["start"], e["end"]) for e in r["entities"]]
                               for r in tiny_corpus]  # memorised: the gold entities, labels and offsets
    assert all(e["score"] is None for sentence in got for e in sentence)  # transformers serve: no logprobs
    local, server = local_tiny.last_stats.to_dict(), ner.last_stats.to_dict()
    assert server["stage1_requests"] == len(tiny_corpus) and server["stage1_retries"] == 0
    assert server["stage2_requests"] == sum(len(r["entities"]) for r in tiny_corpus)
    # the same chat template on both sides: the server counts the tokens the local backend ran
    for key in ("prompt_tokens", "completion_tokens"):
        assert server[f"stage1_{key}"] == local[f"stage1_{key}"] > 0
        assert server[f"stage2_{key}"] == local[f"stage2_{key}"] > 0
    assert {k: v for k, v in server.items() if "stage" not in k} == {k: v for k, v in local.items() if "stage" not in k}


@pytest.mark.slow
def test_retries_through_a_faulty_proxy_to_the_real_server(served_tiny, local_tiny, tiny_corpus):
    texts = [r["text"] for r in tiny_corpus[:2]]
    lists = [r["type_list"] for r in tiny_corpus[:2]]
    with FaultProxy(upstream=f"http://127.0.0.1:{served_tiny.port}") as proxy:
        proxy.faults.extend([("status", 429, {"Retry-After": "1"}), ("status", 500), ("hang", 25.0),
                             ("status", 502)])
        client = fast_client(proxy.base_url, timeout=15.0, max_retries=4)  # > any real answer on a busy machine
        ner = CascadeNER.from_backends(OpenAIBackend(client, served_tiny.model))
        got = ner.predict(texts, lists)
    assert spans(got) == spans(local_tiny.predict(texts, lists))
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
        got = ner.predict(texts, lists)
    assert spans(got) == spans(local_tiny.predict(texts, lists))


@pytest.mark.slow
def test_auto_constraints_fall_back_where_the_server_rejects_them(served_tiny, local_tiny, tiny_corpus):
    """transformers serve rejects unknown fields (HTTP 422): ``auto`` drops structured_outputs, then
    guided_choice, and answers unconstrained (still checked against the list); ``choice`` fails clearly."""
    texts = [r["text"] for r in tiny_corpus[:3]]
    lists = [r["type_list"] for r in tiny_corpus[:3]]
    with FaultProxy(upstream=f"http://127.0.0.1:{served_tiny.port}") as proxy:
        backend = OpenAIBackend(fast_client(proxy.base_url, concurrency=2, timeout=300), served_tiny.model)
        got = CascadeNER.from_backends(backend).predict(texts, lists, classification="constrained")
        sent = [p for p in proxy.posts() if "structured_outputs" in p or "guided_choice" in p]
        strict = OpenAIBackend(fast_client(proxy.base_url, timeout=300), served_tiny.model, server_constraints="choice")
        with pytest.raises(ServerError, match="HTTP 422.*structured_outputs"):
            classify(strict, [ClassifyRequest("Which?", ("person", "city"))], options=ClassifyOptions(mode="constrained"))
    assert backend.client.dropped == {"structured_outputs", "guided_choice"} and backend.constraint_field() is None
    assert sent and sent[0]["structured_outputs"]["choice"]
    assert spans(got) == spans(local_tiny.predict(texts, lists))


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
        proxy.faults.append(("status", 429, {"Retry-After": "0"}))  # the error path is logged too
        predict = [sys.executable, "-m", "cascadener", "predict", "--jsonl", str(inputs), "--backend", "openai",
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
    common = ["--jsonl", str(inputs), "--backend", "openai", "--model", served_tiny.model, "--chunk-size", "4",
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
