"""Stage 2 on both backends: one choice, then answer, match, constrained retry and closest.

Each test pins what a question gives: the label, ``how``, ``score``, the answer kept, off-list
handling and the usage counted. Served questions go to scripted loopback servers (the request flow
is the point: which requests are sent, with which constraint, how often), through backends given
the profile a probe would have found (the probe itself: ``test_probe.py``); local ones to the tiny
model that memorised its stage-2 questions (``tiny_cascade``), whose answers to them are known.
"""

from __future__ import annotations

import math

import pytest
from loopback import FaultProxy

from cascadener.backends.base import ClassifyOptions, ClassifyRequest, Usage
from cascadener.backends.http import ChatClient, EndpointOptions
from cascadener.backends.probe import ServerProfile
from cascadener.backends.server import OpenAIBackend
from cascadener.prompts import stage2_prompt
from cascadener.stage2 import classify

# ------------------------------------------------------------------------------ served: scripted servers

ADA = ClassifyRequest("Who is Ada?", ("person", "city"))  # answered on the list
VOLVO = ClassifyRequest("What is Volvo?", ("person", "vehicle maker"))  # off-list, on the list when constrained
ZORB = ClassifyRequest("What is a zorb?", ("zoo", "city"))  # off-list even when constrained
GRAZ = ClassifyRequest("What is Graz?", ("city",))  # a single choice: no request
# prompt -> (free answer, its token log-probabilities, constrained answer, its log-probabilities)
SCRIPT = {
    ADA.prompt: ("person", [-0.1, -0.2], "person", [-0.05]),
    VOLVO.prompt: ("a car maker", [-1.0], "vehicle maker", [-0.5, -0.25]),
    ZORB.prompt: ("zorb", [-2.0], "zorbing", [-0.3]),
}
CONSTRAINT_FIELDS = ("structured_outputs", "guided_choice")


def completion(content: str, logprobs: list[float] | None) -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = {"content": [{"token": "t", "logprob": value} for value in logprobs]}
    return {"choices": [choice], "usage": {"prompt_tokens": 10, "completion_tokens": len(logprobs or [0])}}


def scripted(*, rejects: tuple[str, ...] = (), logprobs: bool = True):
    """A server answering from :data:`SCRIPT`: the constrained answer when a constraint field is sent,
    the free one otherwise; fields in ``rejects`` are refused with HTTP 422 naming them (as
    ``transformers serve`` refuses fields it does not know)."""

    def respond(body: dict):
        refused = [name for name in rejects if name in body]
        if refused:
            return 422, {"error": {"message": f"Unexpected fields in the request: {set(refused)}"}}
        free, free_lp, constrained, constrained_lp = SCRIPT[body["messages"][-1]["content"]]
        if any(name in body for name in CONSTRAINT_FIELDS):
            return completion(constrained, constrained_lp if logprobs else None)
        return completion(free, free_lp if logprobs else None)

    return respond


def served(url: str, constraints: str = "choice", *, logprobs: bool = True) -> OpenAIBackend:
    """A backend whose probe found ``constraints`` applied (``"none"``: none) and logprobs or not."""
    client = ChatClient(EndpointOptions(url, concurrency=1, timeout=5.0, max_retries=0))
    profile = ServerProfile(url, "m", constraint=None if constraints == "none" else constraints, scores=logprobs,
                            logprobs=logprobs)
    return OpenAIBackend(client, "m", server_constraints="auto" if constraints == "none" else constraints,
                         profile=profile)


def ask(backend, requests, *, usage=None, **options):
    """The stage-2 chain of ``backend`` over ``requests``."""
    return classify(backend, requests, options=ClassifyOptions(**options), usage=usage)


def outcome(result) -> tuple:
    score = None if result.score is None else round(result.score, 9)
    return result.label, result.index, result.how, result.answer, score


def constrained_in(body: dict) -> bool:
    return any(name in body for name in CONSTRAINT_FIELDS)


@pytest.mark.parametrize("constraints", ["choice", "guided"])
def test_served_generative_chain_retries_off_list_answers_with_the_constraint(constraints):
    usage = Usage()
    with FaultProxy(respond=scripted()) as proxy:
        results = ask(served(proxy.base_url, constraints), [ADA, VOLVO, ZORB, GRAZ], usage=usage)
    assert [outcome(r) for r in results] == [
        ("person", 0, "generated", "person", round(math.exp(-0.3), 9)),
        ("vehicle maker", 1, "fallback-constrained", "a car maker", round(math.exp(-0.75), 9)),
        ("zoo", 0, "fallback-closest", "zorb", 0.0),  # the retry's answer is off the list too: closest to the first
        ("city", 0, "only-option", "city", 1.0),
    ]
    assert [r.off_list for r in results] == [False, True, True, False]
    assert all(r.probabilities is None for r in results[:3]) and results[3].probabilities == (1.0,)
    posts = proxy.posts()
    # one free question each, then the two off-list ones again with the constraint; none for the single choice
    assert [(p["messages"][-1]["content"], constrained_in(p)) for p in posts] == [
        (ADA.prompt, False), (VOLVO.prompt, False), (ZORB.prompt, False), (VOLVO.prompt, True), (ZORB.prompt, True)]
    assert all(p["temperature"] == 0 and p["seed"] == 0 and p["logprobs"] is True and p["top_logprobs"] == 1
               for p in posts)
    # budget: the longest choice's length (UTF-8 bytes without a tokenizer) + 4
    assert [p["max_tokens"] for p in posts] == [10, 17, 8, 17, 8]
    assert (usage.requests, usage.retries, usage.prompt_tokens, usage.completion_tokens) == (5, 0, 50, 7)


def test_served_generative_chain_without_constraints_takes_the_closest_choice_when_asked():
    usage = Usage()
    with FaultProxy(respond=scripted()) as proxy:
        results = ask(served(proxy.base_url, "none"), [ADA, VOLVO, ZORB], usage=usage, off_list="closest")
        closest = ask(served(proxy.base_url, "choice"), [VOLVO, ZORB], off_list="closest")
    assert [outcome(r) for r in results] == [
        ("person", 0, "generated", "person", round(math.exp(-0.3), 9)),
        ("vehicle maker", 1, "fallback-closest", "a car maker", 0.0),
        ("zoo", 0, "fallback-closest", "zorb", 0.0),
    ]
    assert [outcome(r) for r in closest] == [outcome(r) for r in results[1:]]
    assert not any(constrained_in(p) for p in proxy.posts()) and len(proxy.posts()) == 5
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (3, 30, 4)


@pytest.mark.parametrize("mode", ["generative", "constrained"])
def test_served_chain_refuses_what_the_server_cannot_apply_before_any_request(mode):
    """No constraint applied: a policy that needs answers kept to the choices (the default off-list
    retry, or constrained classification) is refused, never quietly replaced by the closest choice."""
    with FaultProxy(respond=scripted()) as proxy:
        with pytest.raises(ValueError, match=r"which this backend cannot do: .*--off-list closest"):
            ask(served(proxy.base_url, "none"), [ADA, VOLVO], mode=mode)
    assert proxy.posts() == []


@pytest.mark.parametrize("constraints", ["choice", "guided"])
def test_served_constrained_chain_asks_once_with_the_constraint(constraints):
    usage = Usage()
    with FaultProxy(respond=scripted()) as proxy:
        results = ask(served(proxy.base_url, constraints), [ADA, VOLVO, ZORB, GRAZ], usage=usage, mode="constrained")
    assert [outcome(r) for r in results] == [
        ("person", 0, "constrained", "person", round(math.exp(-0.05), 9)),
        ("vehicle maker", 1, "constrained", "vehicle maker", round(math.exp(-0.75), 9)),
        ("zoo", 0, "fallback-closest", "zorbing", 0.0),  # a server ignoring the constraint is caught by the list check
        ("city", 0, "only-option", "city", 1.0),
    ]
    assert [constrained_in(p) for p in proxy.posts()] == [True, True, True]
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (3, 30, 4)


def test_a_policy_the_backend_cannot_apply_is_refused_before_stage_1():
    from cascadener.pipeline import CascadeNER

    with FaultProxy(respond=scripted()) as proxy:
        ner = CascadeNER.from_endpoint(EndpointOptions(proxy.base_url, max_retries=0), "m", server_constraints="none")
        with pytest.raises(ValueError, match="constrained classification needs answers kept to the choices, which "
                                             "this backend cannot do: server_constraints 'auto' on a server that "
                                             "applies choice constraints"):
            ner.predict(["Ada met Bob ."], [["person", "city"]], classification="constrained")
    assert proxy.posts() == []  # not even stage 1 (the probe asked only GET /v1/models)


def test_served_chain_without_logprobs_has_no_scores():
    with FaultProxy(respond=scripted(logprobs=False)) as proxy:
        results = ask(served(proxy.base_url, logprobs=False), [ADA, VOLVO, ZORB, GRAZ])
        constrained = ask(served(proxy.base_url, logprobs=False), [ADA], mode="constrained")
    assert [(r.how, r.score) for r in results] == [
        ("generated", None), ("fallback-constrained", None), ("fallback-closest", 0.0), ("only-option", 1.0)]
    assert [(r.how, r.score) for r in constrained] == [("constrained", None)]


def test_chain_refuses_a_question_without_choices():
    with FaultProxy(respond=scripted()) as proxy:
        with pytest.raises(ValueError, match="classification request 1 offers no"):
            ask(served(proxy.base_url), [ADA, ClassifyRequest("Who?", ())])
    assert proxy.posts() == []


# ------------------------------------------------------------------------------ local: the memorising model


@pytest.fixture(scope="module")
def memorised(tiny_cascade, tiny_corpus):
    """The tiny model's backend and its memorised questions: (prompt, gold label, type list) per entity."""
    from cascadener.pipeline import CascadeNER

    backend = CascadeNER.from_pretrained(str(tiny_cascade.classifier), device="cpu").classifier_backend
    questions = [(stage2_prompt(e["text"], r["text"], r["type_list"]), e["label"], tuple(r["type_list"]))
                 for r in tiny_corpus for e in r["entities"]]
    return backend, questions


def _prompt_tokens(backend, prompts) -> int:
    from cascadener.backends.generation import encode_chat

    return sum(len(ids) for ids in encode_chat(backend.tokenizer, list(prompts)))


def _label_tokens(backend, labels) -> int:
    return sum(len(ids) + 1 for ids in backend.tokenizer(list(labels), add_special_tokens=False)["input_ids"])


@pytest.mark.slow
def test_local_generative_chain_on_memorised_questions(memorised):
    backend, questions = memorised
    requests = [ClassifyRequest(prompt, types) for prompt, _, types in questions]
    usage = Usage()
    results = ask(backend, requests, usage=usage, batch_size=4)
    assert [(r.label, r.how, r.answer) for r in results] == [(label, "generated", label) for _, label, _ in questions]
    assert all(r.index == types.index(r.label) and r.probabilities is None for r, (_, _, types) in
               zip(results, questions))
    # the score is the generated answer's probability: the same as scoring it as a candidate
    scored = ask(backend, requests, mode="constrained", batch_size=4)
    for result, again in zip(results, scored):
        assert 0.5 < result.score <= 1.0 and again.label == result.label
        assert again.score >= result.score - 1e-4  # the answer's share among the choices, at least its probability
    assert usage.requests == len(requests) and usage.retries == 0
    assert usage.prompt_tokens == _prompt_tokens(backend, [r.prompt for r in requests])
    assert usage.completion_tokens == _label_tokens(backend, [label for _, label, _ in questions])


@pytest.mark.slow
def test_local_constrained_chain_scores_every_choice(memorised):
    backend, questions = memorised
    requests = [ClassifyRequest(prompt, types) for prompt, _, types in questions]
    usage = Usage()
    results = ask(backend, requests, usage=usage, mode="constrained", batch_size=3)
    for result, (_, label, types) in zip(results, questions):
        assert (result.label, result.how, result.answer, result.index) == (label, "constrained", label,
                                                                         types.index(label))
        assert len(result.probabilities) == len(types) and sum(result.probabilities) == pytest.approx(1.0, abs=1e-5)
        assert result.score == max(result.probabilities) > 0.5
    assert (usage.requests, usage.completion_tokens) == (len(requests), 0)
    assert usage.prompt_tokens == _prompt_tokens(backend, [r.prompt for r in requests])


@pytest.mark.slow
def test_local_off_list_answers_fall_back(memorised):
    """The memorised answer is left out of the choices: it is off the list, resolved by scoring the
    choices (the scores a constrained question gets) or by the closest choice."""
    backend, questions = memorised
    (prompt, label, _), (prompt2, label2, types2) = questions[0], questions[1]
    near = (label + "s", "zzzz")  # "athletes" is closest to "athlete"
    off = ClassifyRequest(prompt, near)
    on = ClassifyRequest(prompt2, types2)
    usage = Usage()
    fallback = ask(backend, [off, on], usage=usage)
    scored = ask(backend, [off], mode="constrained")[0]
    assert (fallback[0].how, fallback[0].answer, fallback[0].off_list) == ("fallback-constrained", label, True)
    assert (fallback[0].label, fallback[0].index) == (scored.label, scored.index)
    assert fallback[0].probabilities == pytest.approx(scored.probabilities, abs=1e-6)
    assert fallback[0].score == pytest.approx(scored.score, abs=1e-6)
    assert (fallback[1].label, fallback[1].how) == (label2, "generated")
    # the retry runs the off-list question's prompt again (scoring counts no completion tokens), as a
    # server's constrained retry is a second request
    assert usage.requests == 3
    assert usage.prompt_tokens == _prompt_tokens(backend, [prompt, prompt2, prompt])
    assert usage.completion_tokens == _label_tokens(backend, [label, label2])
    usage = Usage()
    closest = ask(backend, [off], usage=usage, off_list="closest")[0]
    assert outcome(closest) == (label + "s", 0, "fallback-closest", label, 0.0) and closest.probabilities is None
    assert usage.requests == 1


@pytest.mark.slow
def test_local_single_choice_runs_nothing(memorised):
    backend, questions = memorised
    usage = Usage()
    results = ask(backend, [ClassifyRequest(questions[0][0], ("city",))], usage=usage, mode="constrained")
    assert outcome(results[0]) == ("city", 0, "only-option", "city", 1.0) and results[0].probabilities == (1.0,)
    assert usage == Usage()
