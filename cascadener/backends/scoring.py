"""Candidate scoring on a local model: the local backend's way to keep an answer to its choices.

Every choice is scored as the answer, ``log p(choice tokens + end-of-turn | prompt)``; the chosen
one is the best, its score the softmax of those log-likelihoods over the choices
(:func:`score_choices`). It always returns a valid choice, with a probability.

Scoring shares each prompt's forward pass among its choices (:func:`candidate_logprobs`): the
prefix common to all prompts (the chat template's system turn) is run once and its KV cache copied
into every batch; the rest of the prompts are run once (left-padded, explicit position ids), the
KV cache is repeated per choice with ``DynamicCache.batch_repeat_interleave`` and the right-padded
choices run in ONE forward pass on top of it, the attention mask covering prompt and choice
tokens. The result equals scoring every ``prompt + choice`` sequence in full
(``tests/test_pipeline.py`` checks to 1e-4).

Example (random tiny model: the probabilities are meaningless but valid):
    >>> from cascadener.training.tiny import train_tokenizer, build_model, TinyModelOptions
    >>> tok = train_tokenizer(["person city"], vocab_size=270)
    >>> model = build_model(tok, options=TinyModelOptions(hidden_size=32, intermediate_size=64))
    >>> [chosen] = score_choices(model, tok, encode_chat(tok, ["Who is Ada?"]), [("person", "city")])
    >>> chosen.answer in ("person", "city"), abs(sum(chosen.probabilities) - 1) < 1e-5
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from cascadener.backends.base import Choice
from cascadener.backends.generation import (
    cache_keyword,
    encode_chat,
    eos_token_ids,
    length_sorted_batches,
    output_cache,
    pad_left,
    pad_token_id,
    repeat_cache,
    shared_prefix_cache,
)

__all__ = ["ScoreRequest", "candidate_logprobs", "score_choices"]


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


def score_choices(model, tokenizer, prompt_ids: Sequence[Sequence[int]], choices: Sequence[Sequence[str]], *,
                  batch_size: int = 8) -> list[Choice]:
    """For each encoded prompt, its best choice (every choice scored, see the module docstring).

    The distinct choices of all prompts are tokenized once, in one call; each candidate ends with
    the model's end-of-turn token.
    """
    if len(prompt_ids) != len(choices):
        raise ValueError(f"{len(choices)} choice lists for {len(prompt_ids)} prompts")
    distinct = list(dict.fromkeys(choice for listed in choices for choice in listed))
    if not distinct:
        return []
    end_id = eos_token_ids(model, tokenizer)[0]
    ids = {choice: tuple(token_ids) + (end_id,)
           for choice, token_ids in zip(distinct, tokenizer(distinct, add_special_tokens=False)["input_ids"])}
    requests = [ScoreRequest(prompt_ids=tuple(prompt), candidates=tuple(ids[choice] for choice in listed))
                for prompt, listed in zip(prompt_ids, choices)]
    out = []
    for listed, logprobs in zip(choices, candidate_logprobs(model, tokenizer, requests, batch_size=batch_size)):
        probabilities = _softmax(logprobs)
        best = max(range(len(probabilities)), key=lambda i: (probabilities[i], -i))
        out.append(Choice(answer=listed[best], index=best, score=probabilities[best],
                          probabilities=tuple(probabilities)))
    return out
