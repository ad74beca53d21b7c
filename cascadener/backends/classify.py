"""Stage 2: pick each mention's type from its candidate list, generatively or constrained.

Two modes:

``"generative"`` (as released): the classifier writes its answer (batched greedy generation,
    budget = the longest option's token length + 4); :func:`cascadener.parsing.match_answer`
    maps it to the list. The score is the answer's sequence probability under the model.
    An *off-list* answer is counted and resolved by the ``off_list`` fallback:
    ``"constrained"`` (default) scores the options as below and takes the best;
    ``"closest"`` takes the textually closest option (difflib), with score 0.
``"constrained"``: every option is scored as the answer, ``log p(option tokens + end-of-turn |
    prompt)``; the label is the best option and its score the softmax of those log-likelihoods
    over the list. It always returns a valid label, with a probability.

Constrained scoring shares each prompt's forward pass among its options: the prefix common to all
prompts (the chat template's system turn) is run once and its KV cache copied into every batch;
the rest of the prompts are run once (left-padded, explicit position ids), the KV cache is repeated per option with
``DynamicCache.batch_repeat_interleave`` and the right-padded options run in ONE forward pass on
top of it, the attention mask covering prompt and option tokens. The result equals scoring every
``prompt + option`` sequence in full (``tests/test_pipeline.py`` checks to 1e-4).

Example (random tiny model: the probabilities are meaningless but valid):
    >>> from cascadener.training.tiny import train_tokenizer, build_model, TinyModelOptions
    >>> tok = train_tokenizer(["person city"], vocab_size=270)
    >>> model = build_model(tok, options=TinyModelOptions(hidden_size=32, intermediate_size=64))
    >>> out = classify(model, tok, [ClassifyRequest("Who is Ada?", ("person", "city"))],
    ...                options=ClassifyOptions(mode="constrained"))
    >>> out[0].label in ("person", "city"), abs(sum(out[0].probabilities) - 1) < 1e-5
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from cascadener.backends.base import Classification, ClassifyOptions, ClassifyRequest, GenerationOptions, Usage
from cascadener.backends.generation import (
    encode_chat,
    eos_token_ids,
    generate_batched,
    length_sorted_batches,
    pad_left,
    pad_token_id,
    cache_keyword,
    output_cache,
    repeat_cache,
    shared_prefix_cache,
)
from cascadener.parsing import closest_option, match_answer

__all__ = ["ScoreRequest", "candidate_logprobs", "classify"]

@dataclass(frozen=True)
class ScoreRequest:
    """Token ids of a rendered prompt and of each candidate answer (end-of-turn token included)."""

    prompt_ids: tuple[int, ...]
    candidates: tuple[tuple[int, ...], ...]


def candidate_logprobs(model, tokenizer, requests: Sequence[ScoreRequest], *, batch_size: int = 8) -> list[list[float]]:
    """``log p(candidate | prompt)`` of every candidate of every request, the prompt run once per request."""
    import torch

    pad_id = pad_token_id(tokenizer, eos_token_ids(model, tokenizer))
    device = model.device
    results: list[list[float]] = [[] for _ in requests]
    prefix, prefix_cache = shared_prefix_cache(model, [request.prompt_ids for request in requests])
    c = len(prefix)
    cache_key = cache_keyword(model)
    for batch in length_sorted_batches([len(request.prompt_ids) for request in requests], batch_size):
        prompt_ids, prompt_mask = pad_left(tokenizer, [requests[i].prompt_ids[c:] for i in batch], pad_id)
        k = max(len(requests[i].candidates) for i in batch)
        t = max(len(c_) for i in batch for c_ in requests[i].candidates)
        if k == 0 or t == 0:
            raise ValueError("every score request needs at least one non-empty candidate")
        b = len(batch)
        # layout [shared prefix][left padding][rest of prompt][candidate][right padding]; positions skip padding
        prompt_positions = c + (prompt_mask.cumsum(-1) - 1).clamp(min=0)
        past_mask = torch.cat([torch.ones((b, c), dtype=torch.long), prompt_mask], dim=1)
        cand_ids = torch.full((b * k, t), pad_id, dtype=torch.long)
        cand_mask = torch.zeros((b * k, t), dtype=torch.long)
        for row, index in enumerate(batch):
            for column, candidate in enumerate(requests[index].candidates):
                cand_ids[row * k + column, :len(candidate)] = torch.tensor(candidate)
                cand_mask[row * k + column, :len(candidate)] = 1
        lengths = torch.tensor([len(requests[i].prompt_ids) for i in batch]).repeat_interleave(k)
        cand_positions = lengths[:, None] + torch.arange(t)[None, :]
        with torch.inference_mode():
            cache = repeat_cache(prefix_cache, b) if prefix_cache is not None else None
            first = model(input_ids=prompt_ids.to(device), attention_mask=past_mask.to(device),
                          position_ids=prompt_positions.to(device), use_cache=True, logits_to_keep=1,
                          **{cache_key: cache})
            cache = output_cache(first)
            cache.batch_repeat_interleave(k)
            last_logits = first.logits[:, -1, :].float().repeat_interleave(k, dim=0)
            second = model(input_ids=cand_ids.to(device),
                           attention_mask=torch.cat([past_mask.repeat_interleave(k, dim=0), cand_mask], dim=1).to(device),
                           position_ids=cand_positions.to(device), use_cache=True, **{cache_key: cache})
            logits = torch.cat([last_logits[:, None, :], second.logits[:, :-1, :].float()], dim=1)
            token_logprobs = torch.log_softmax(logits, dim=-1).gather(-1, cand_ids.to(device)[..., None])[..., 0]
            totals = (token_logprobs * cand_mask.to(device)).sum(-1).cpu().tolist()
        for row, index in enumerate(batch):
            results[index] = totals[row * k: row * k + len(requests[index].candidates)]
    return results


def _softmax(values: Sequence[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def _option_ids(tokenizer, requests: Sequence[ClassifyRequest]) -> dict[str, tuple[int, ...]]:
    """Token ids of every distinct option, tokenized once in one batch call."""
    options = list(dict.fromkeys(option for request in requests for option in request.choices))
    if not options:
        return {}
    ids = tokenizer(options, add_special_tokens=False)["input_ids"]
    return {option: tuple(token_ids) for option, token_ids in zip(options, ids)}


def _score_requests(tokenizer, prompt_ids: Sequence[list[int]], requests: Sequence[ClassifyRequest], end_id: int):
    option_ids = _option_ids(tokenizer, requests)
    return [
        ScoreRequest(prompt_ids=tuple(ids), candidates=tuple(option_ids[option] + (end_id,) for option in request.choices))
        for ids, request in zip(prompt_ids, requests)
    ]


def _constrained(model, tokenizer, requests, prompt_ids, *, batch_size, how: str) -> list[Classification]:
    end_id = eos_token_ids(model, tokenizer)[0]
    scores = candidate_logprobs(model, tokenizer, _score_requests(tokenizer, prompt_ids, requests, end_id),
                                batch_size=batch_size)
    out = []
    for request, logprobs in zip(requests, scores):
        probabilities = _softmax(logprobs)
        best = max(range(len(probabilities)), key=lambda i: (probabilities[i], -i))
        out.append(Classification(label=request.choices[best], index=best, score=probabilities[best],
                                  answer=request.choices[best], how=how, probabilities=tuple(probabilities)))
    return out


def classify(
    model,
    tokenizer,
    requests: Sequence[ClassifyRequest],
    *,
    options: ClassifyOptions = ClassifyOptions(),
    on_batch: Callable[[int], None] | None = None,
    usage: Usage | None = None,
) -> list[Classification]:
    """Classify every request (see module doc); returns one :class:`Classification` each, in order.

    ``usage`` (a :class:`cascadener.backends.base.Usage`) counts the prompts run and their tokens.
    """
    for index, request in enumerate(requests):
        if not request.choices:
            raise ValueError(f"classification request {index} offers no options")
    results: list[Classification | None] = [None] * len(requests)
    todo = []
    for index, request in enumerate(requests):
        if len(request.choices) == 1:
            results[index] = Classification(label=request.choices[0], index=0, score=1.0, answer=request.choices[0],
                                            how="only-option", probabilities=(1.0,))
        else:
            todo.append(index)
    if not todo:
        return [r for r in results if r is not None]
    prompt_ids = encode_chat(tokenizer, [requests[i].prompt for i in todo])
    if usage is not None:
        usage.requests += len(prompt_ids)
        usage.prompt_tokens += sum(len(ids) for ids in prompt_ids)
    if options.mode == "constrained":
        done = _constrained(model, tokenizer, [requests[i] for i in todo], prompt_ids,
                            batch_size=options.batch_size, how="constrained")
        for index, classification in zip(todo, done):
            results[index] = classification
        if on_batch is not None:
            on_batch(len(todo))
        return [r for r in results if r is not None]
    option_ids = _option_ids(tokenizer, [requests[i] for i in todo])
    budgets = [max(len(option_ids[option]) for option in requests[i].choices) + 4 for i in todo]
    generated = generate_batched(model, tokenizer, prompt_ids, max_new_tokens=budgets,
                                 options=GenerationOptions(batch_size=options.batch_size, with_scores=True),
                                 on_batch=on_batch)
    if usage is not None:
        usage.completion_tokens += sum(len(out[0].token_ids) + out[0].finished for out in generated)
    off_list: list[int] = []
    for position, (index, outputs) in enumerate(zip(todo, generated)):
        answer = outputs[0].text
        match = match_answer(answer, requests[index].choices)
        if match.label is None:
            off_list.append(position)
            continue
        score = math.exp(outputs[0].logprob) if outputs[0].logprob is not None else 1.0
        results[index] = Classification(label=match.label, index=match.index, score=min(1.0, score), answer=answer,
                                        how="generated")
    if off_list and options.off_list == "constrained":
        fallback = _constrained(model, tokenizer, [requests[todo[p]] for p in off_list],
                                [prompt_ids[p] for p in off_list], batch_size=options.batch_size,
                                how="fallback-constrained")
        for position, classification in zip(off_list, fallback):
            answer = generated[position][0].text
            results[todo[position]] = Classification(
                label=classification.label, index=classification.index, score=classification.score, answer=answer,
                how=classification.how, probabilities=classification.probabilities)
    elif off_list:
        for position in off_list:
            index = todo[position]
            answer = generated[position][0].text
            best = closest_option(answer, requests[index].choices)
            results[index] = Classification(label=requests[index].choices[best], index=best, score=0.0,
                                            answer=answer, how="fallback-closest")
    return [r for r in results if r is not None]
