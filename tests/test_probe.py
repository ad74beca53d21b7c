"""The probe and the constraint adapters, against a scripted server of each family (``loopback.Family``).

Each family's server accepts exactly its own request fields and treats the others as the real one
does (vLLM, SGLang, llama.cpp's server, TGI and Ollama ignore them; the OpenAI API and ``transformers
serve`` reject them), applies its own choice constraint, and answers its own identification routes.
The probe must pick the family's adapter by seeing it applied, the run must send it and nothing the
probe saw refused or ignored, and the results must name the policy applied.
"""

from __future__ import annotations

import json

import pytest
from loopback import Family

from cascadener.backends.base import ClassifyOptions, ClassifyRequest
from cascadener.backends.constraints import ADAPTERS
from cascadener.backends.http import ChatClient, EndpointOptions
from cascadener.backends.probe import PROBE_CHOICES, ProbeError, probe_server
from cascadener.backends.server import OpenAIBackend
from cascadener.stage2 import classify

#: family -> (identified as, version, the adapter applied, scores come back)
EXPECTED = {
    "vllm-0.10": ("vllm", "0.10.2", "guided", True),
    "vllm-0.11": ("vllm", "0.11.0", "choice", True),
    "vllm-0.12": ("vllm", "0.12.0", "choice", True),
    "sglang": ("sglang", "0.5.2", "regex", True),
    "llama.cpp": ("llama.cpp", "b6000-0c1e570", "grammar", True),
    "tgi": ("tgi", "3.3.6", "tgi-json", True),
    "ollama": ("ollama", "0.12.11", "json-schema", True),
    "openai": (None, None, "json-schema", True),  # on loopback, not OpenAI's host: tried adapter by adapter
    "openai-reasoning": (None, None, "json-schema", False),
    "transformers-serve": ("transformers-serve", None, None, False),
}
#: choices with regex metacharacters, a quote and a backslash: every adapter must escape them
TRICKY = ("St. Kitts (island)", 'the "city"', "a\\b", "person")


def answer(prompt: str) -> str:
    """The scripted model: a sentence about the sea (the probe's question), a marked sentence for a
    stage-1 prompt, and an off-list answer to every stage-2 question."""
    if prompt == "Ada met Bob in Graz .":
        return "##Ada## met Bob in ##Graz## ."
    return "a town" if "##" in prompt else "The sea is wide ."


def client(url: str) -> ChatClient:
    return ChatClient(EndpointOptions(url, concurrency=2, timeout=10.0, max_retries=2, backoff=0.05))


def constraint_fields(body: dict) -> set[str]:
    return {ADAPTERS[name].field for name in ADAPTERS if ADAPTERS[name].field in body}


@pytest.mark.parametrize("family", list(EXPECTED))
def test_the_probe_identifies_each_family_and_finds_the_adapter_it_applies(family):
    identified, version, adapter, scores = EXPECTED[family]
    with Family(family, answer) as server:
        profile = probe_server(client(server.base_url), "m", choice=True)
        posts = server.posts()
    assert (profile.family, profile.version, profile.constraint, profile.scores) == (identified, version, adapter,
                                                                                   scores)
    assert profile.served == ("m",) and profile.listed and profile.requests == len(server.proxy.paths)
    outcomes = dict(profile.tried)
    if adapter is not None:
        assert outcomes[adapter] == "applied"
        assert list(outcomes).index(adapter) == len(outcomes) - 1  # tried no further
    assert all(o == "applied" or o.startswith(("ignored", "rejected")) for o in outcomes.values())
    # one request per adapter tried, after the plain one; the sentinel choices in each
    tried = [p for p in posts if constraint_fields(p)]
    plain = 4 if family == "openai-reasoning" else 1  # max_tokens, temperature, logprobs refused one by one
    assert len(tried) == len(outcomes) and len(posts) == len(tried) + plain


def test_a_reasoning_model_is_learned_once_and_recorded():
    """``max_tokens`` refused (``max_completion_tokens`` wanted), ``temperature`` 0 refused, ``logprobs``
    refused: each learned by the probe's plain request, none sent again."""
    with Family("openai-reasoning", answer) as server:
        profile = probe_server(client(server.base_url), "m", choice=False)
        plain = server.posts()
    assert (profile.max_tokens_field, profile.temperature, profile.logprobs, profile.scores) == (
        "max_completion_tokens", False, False, False)
    assert len(plain) == 4 and not profile.choice_probed and profile.constraint is None
    record = profile.record()
    assert record["max_tokens_field"] == "max_completion_tokens" and record["logprobs"] is False
    assert record["temperature"] == "server default (refused temperature 0)"


@pytest.mark.parametrize("family", [f for f in EXPECTED if EXPECTED[f][2] is not None])
def test_each_adapter_keeps_answers_to_the_choices_and_nothing_refused_is_sent_again(family):
    adapter = EXPECTED[family][2]
    with Family(family, answer) as server:
        backend = OpenAIBackend(client(server.base_url), "m")
        backend.prepare(choice=True)
        probed = len(server.posts())
        requests = [ClassifyRequest("The ##Graz## in the sentence: ...?", TRICKY),
                    ClassifyRequest("The ##Ada## in the sentence: ...?", ("person", "city"))]
        constrained = classify(backend, requests, options=ClassifyOptions(mode="constrained"))
        generative = classify(backend, requests, options=ClassifyOptions())
        run = server.posts()[probed:]
    # constrained decoding of "a town" within the choices: the scripted server takes the choice sharing its
    # longest prefix ("a\\b", read back through the adapter's escaping), else the last one
    assert [(r.label, r.how) for r in constrained] == [("a\\b", "constrained"), ("city", "constrained")]
    assert [(r.label, r.how, r.answer) for r in generative] == [("a\\b", "fallback-constrained", "a town"),
                                                                ("city", "fallback-constrained", "a town")]
    field = ADAPTERS[adapter].field
    assert [constraint_fields(p) for p in run] == [{field}] * 2 + [set()] * 2 + [{field}] * 2
    # every field the probe saw refused or ignored went out once, in the probe's own request
    for name, outcome in backend.profile.tried:
        if outcome != "applied" and ADAPTERS[name].field != field:
            assert sum(ADAPTERS[name].field in p for p in server.posts()) == 1
    assert all(p["model"] == "m" for p in run) and backend.capabilities.constraint == ADAPTERS[adapter].describe()
    scored = [r.score for r in constrained]
    assert scored == [None, None] if ADAPTERS[adapter].json_answer else all(0 < s <= 1 for s in scored)


@pytest.mark.parametrize("family, forced", [("sglang", "choice"), ("vllm-0.12", "guided"), ("tgi", "json-schema")])
def test_a_forced_adapter_the_server_does_not_apply_is_refused(family, forced):
    with Family(family, answer) as server:
        backend = OpenAIBackend(client(server.base_url), "m", server_constraints=forced)
        capabilities = backend.prepare(choice=True)
        with pytest.raises(ValueError, match=rf"applied no choice constraint \({forced}: (ignored|rejected)"):
            classify(backend, [ClassifyRequest("The ##Ada## ...?", ("person", "city"))],
                     options=ClassifyOptions(mode="constrained"))
    assert capabilities.choice is False and len(backend.profile.tried) == 1


def test_a_model_the_server_does_not_serve_is_named_with_the_served_ones():
    with Family("vllm-0.12", answer, model="cascadener-extractor") as server:
        with pytest.raises(ProbeError, match=r"does not serve the model 'cascadener' .*/v1/models lists: "
                                             r"cascadener-extractor"):
            probe_server(client(server.base_url), "cascadener", choice=True)


def test_the_probe_asks_with_nonsense_choices_and_an_unrelated_question():
    with Family("vllm-0.12", answer) as server:
        probe_server(client(server.base_url), "m", choice=True)
        asked = [p for p in server.posts() if "structured_outputs" in p]
    assert asked[0]["structured_outputs"] == {"choice": list(PROBE_CHOICES)}
    assert asked[0]["messages"][-1]["content"] == "Write one sentence about the sea." and asked[0]["temperature"] == 0


# ------------------------------------------------------------------------------ the command line

def predict(tmp_path, url, *extra, name="out.jsonl"):
    from cascadener.cli import main

    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"id": "a", "text": "Ada met Bob in Graz .", "type_list": ["person", "city"],
                                  "entities": [{"text": "Ada", "label": "person", "start": 0, "end": 3}]}) + "\n",
                      encoding="utf-8")
    output = tmp_path / name
    status = main(["predict", "--jsonl", str(inputs), "-o", str(output), "--no-progress", "--backend", "openai",
                   "--base-url", url, "--model", "m", "--max-retries", "2", *extra])
    return status, output


def evaluate(output) -> dict:
    from cascadener.cli import main

    results = output.with_name(output.stem + ".results.json")
    assert main(["evaluate", str(output), "-o", str(results)]) == 0
    return json.loads(results.read_text(encoding="utf-8"))


@pytest.mark.parametrize("extra, message", [
    ((), "or take the textually closest choice instead (--off-list closest)"),
    (("--classification", "constrained"), "(--classification generative --off-list closest)"),
])
def test_a_server_without_choice_constraints_is_refused_before_any_work(tmp_path, capsys, extra, message):
    with Family("transformers-serve", answer) as server:
        status, output = predict(tmp_path, server.base_url, *extra)
        sent = [p["messages"][-1]["content"] for p in server.posts()]
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err
    assert "use a server that applies choice constraints (vLLM, SGLang, llama.cpp's server, TGI" in err
    assert "applied no choice constraint (choice: rejected (HTTP 422" in err
    assert "Ada met Bob in Graz ." not in sent  # only the probe's question was asked
    assert not output.exists() and not output.with_name(output.name + ".meta.json").exists()


def test_the_results_name_the_policy_applied_and_the_leaderboard_keeps_them_apart(tmp_path, capsys):
    from cascadener.publishing.leaderboard import entries_from_results
    from cascadener.publishing.results import load_results

    with Family("vllm-0.12", answer) as server:
        assert predict(tmp_path, server.base_url, name="vllm.jsonl")[0] == 0, capsys.readouterr().err
    with Family("transformers-serve", answer) as server:
        assert predict(tmp_path, server.base_url, "--off-list", "closest", name="serve.jsonl")[0] == 0
    served = evaluate(tmp_path / "vllm.jsonl")["pipeline"]
    closest = evaluate(tmp_path / "serve.jsonl")["pipeline"]
    assert (served["method"], served["choice_constraint"], served["scores"]) == (
        "cascadener-generative-decoding", "choice (structured_outputs)", True)
    assert served["backends"]["extractor"]["probe"]["family"] == "vllm"
    assert served["backends"]["extractor"]["probe"]["tried"] == {"choice": "applied"}
    assert (closest["method"], closest["choice_constraint"], closest["scores"]) == (
        "cascadener-generative-closest", None, False)
    assert closest["backends"]["extractor"]["probe"]["constraint_probed"] is False
    meta = json.loads((tmp_path / "vllm.jsonl.meta.json").read_text(encoding="utf-8"))
    assert meta["applied"]["method"] == served["method"] and meta["stats"]["off_list_answers"] == 2
    keys = {entry.key for name in ("vllm", "serve")
            for entry in entries_from_results(load_results(tmp_path / f"{name}.results.json"), source=name)}
    assert len(keys) == 2  # two setups, never ranked as one
