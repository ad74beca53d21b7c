"""Batched chat generation: left-padded, length-sorted, with per-prompt token budgets.

The reference CascadeNER inference calls ``generate`` once per sentence and once per entity, at
batch size 1, with ``max_new_tokens=512``. Here prompts are

1. rendered with the tokenizer's chat template (ChatML for Qwen2.5) and tokenized once;
2. sorted by token length (longest first) so a batch wastes little padding;
3. left-padded with ``tokenizer.pad(..., padding_side="left")`` and generated together;
4. given a token budget each (``max_new_tokens`` per prompt, e.g. bounded by the sentence
   length for stage 1): a batch runs to the largest budget in it, and each output is cut
   back to its own budget, so a prompt's output never depends on its batch-mates;
5. cut at the first end-of-turn token and decoded without special tokens, in input order.

The prefix shared by all prompts of a call (the chat template's system turn and the start of
the user turn) is run once; every batch continues from a copy of its KV cache
(``DynamicCache.batch_repeat_interleave``), laid out as ``[prefix][left padding][rest]`` with the
padding masked out, so positions and outputs are those of the unpadded prompt.

Greedy outputs are identical batched and one by one (``tests/test_pipeline.py`` checks it).
With ``with_scores=True`` each output also carries the sum of its tokens' log-probabilities
(:meth:`transformers.GenerationMixin.compute_transition_scores`), end-of-turn token included.

Example (a throwaway random model; outputs are gibberish but shaped right):
    >>> from cascadener.training.tiny import train_tokenizer, build_model, TinyModelOptions
    >>> tok = train_tokenizer(["Ada met Bob ."], vocab_size=280)
    >>> model = build_model(tok, options=TinyModelOptions(hidden_size=32, intermediate_size=64))
    >>> ids = encode_chat(tok, ["Ada met Bob .", "Bob ."])
    >>> outs = generate_batched(model, tok, ids, max_new_tokens=[5, 3], options=GenerationOptions(batch_size=2))
    >>> [len(o) for o in outs], [len(o[0].token_ids) <= b for o, b in zip(outs, [5, 3])]
    ([1, 1], [True, True])
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Callable, Sequence

from cascadener.backends.base import ChatPrompt, GeneratedText, GenerationOptions, Prompt
from cascadener.prompts import SYSTEM_PROMPT, chat_messages

__all__ = ["render_chat", "encode_chat", "eos_token_ids", "generate_batched", "length_sorted_batches"]


_PLACEHOLDER = "\x00cascadener-user-turn\x00"


def render_chat(tokenizer, user_texts: Sequence[Prompt], *, system: str | None = SYSTEM_PROMPT) -> list[str]:
    """Each prompt rendered with the tokenizer's chat template and the generation prompt: a user turn
    (``str``) under ``system``, or a :class:`~cascadener.backends.base.ChatPrompt`'s own messages.

    User turns: the template is rendered once around a placeholder and the texts are spliced in;
    the first text is also rendered in full and must match, else every text is rendered in full
    (templates that transform the user text keep working, just slower).
    """
    if not user_texts:
        return []

    def full(text: str) -> str:
        return tokenizer.apply_chat_template(chat_messages(text, system=system), tokenize=False,
                                             add_generation_prompt=True)

    out: list[str | None] = [None] * len(user_texts)
    plain = [i for i, prompt in enumerate(user_texts) if not isinstance(prompt, ChatPrompt)]
    for i, prompt in enumerate(user_texts):
        if isinstance(prompt, ChatPrompt):
            out[i] = tokenizer.apply_chat_template(prompt.as_messages(), tokenize=False, add_generation_prompt=True)
    if plain:
        texts = [user_texts[i] for i in plain]
        frame = full(_PLACEHOLDER)
        rendered = None
        if frame.count(_PLACEHOLDER) == 1:
            prefix, suffix = frame.split(_PLACEHOLDER)
            if prefix + texts[0] + suffix == full(texts[0]):
                rendered = [prefix + text + suffix for text in texts]
        for i, text in zip(plain, rendered or [full(text) for text in texts]):
            out[i] = text
    return out  # type: ignore[return-value]


def encode_chat(tokenizer, user_texts: Sequence[Prompt], *, system: str | None = SYSTEM_PROMPT) -> list[list[int]]:
    """Token ids of each prompt rendered with the chat template and the generation prompt (:func:`render_chat`)."""
    rendered = render_chat(tokenizer, user_texts, system=system)
    if not rendered:
        return []
    return [list(ids) for ids in tokenizer(rendered, add_special_tokens=False)["input_ids"]]


def eos_token_ids(model, tokenizer) -> list[int]:
    """End-of-turn ids: the model's generation config, else the tokenizer's eos token."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if configured is None:
        configured = tokenizer.eos_token_id
    if configured is None:
        raise ValueError("neither the model's generation_config nor the tokenizer defines an eos token")
    return [configured] if isinstance(configured, int) else list(configured)


def pad_token_id(tokenizer, eos_ids: Sequence[int]) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]


#: Shortest common prompt prefix worth a shared KV cache (the ChatML system turn is ~16 tokens).
MIN_SHARED_PREFIX = 4


def common_prefix(sequences: Sequence[Sequence[int]]) -> list[int]:
    """The longest common prefix, leaving at least one token of every sequence outside it.

    >>> common_prefix([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 3]])
    [1, 2]
    """
    if not sequences:
        return []
    limit = min(len(s) for s in sequences) - 1
    first = sequences[0]
    length = 0
    while length < limit and all(s[length] == first[length] for s in sequences):
        length += 1
    return list(first[:length])


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches, longest first.

    >>> length_sorted_batches([3, 9, 1, 7], 2)
    [[1, 3], [0, 2]]
    """
    order = sorted(range(len(lengths)), key=lambda index: (-lengths[index], index))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def pad_left(tokenizer, sequences: Sequence[Sequence[int]], pad_id: int):
    """``(input_ids, attention_mask)`` tensors of ``sequences`` left-padded to the longest one
    (``tokenizer.pad`` when the tokenizer has a pad token, else ``pad_id`` by hand)."""
    import torch

    if tokenizer.pad_token_id is not None:
        batch = tokenizer.pad({"input_ids": [list(s) for s in sequences]}, padding=True, padding_side="left",
                              return_tensors="pt")
        return batch["input_ids"], batch["attention_mask"]
    width = max(len(sequence) for sequence in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        if sequence:
            ids[row, width - len(sequence):] = torch.tensor(list(sequence))
            mask[row, width - len(sequence):] = 1
    return ids, mask


def cache_keyword(model) -> str:
    """The keyword that passes a KV cache to ``model`` and its ``generate``.

    transformers renamed ``past_key_values`` to ``cache`` (5.2x; the old name warns and goes away
    in 5.40 for ``forward``, 6.0 for ``generate``). The model's ``forward`` signature tells which
    name this installed version takes, so the same code runs on every version the project declares.

    >>> class Old:
    ...     def forward(self, input_ids=None, past_key_values=None): ...
    >>> class New:
    ...     def forward(self, input_ids=None, cache=None): ...
    >>> cache_keyword(Old()), cache_keyword(New())
    ('past_key_values', 'cache')
    """
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def output_cache(output):
    """The KV cache a forward pass returned (``output.cache`` on new transformers, else
    ``output.past_key_values``), read without touching the deprecated alias."""
    cache = getattr(output, "cache", None)
    return output.past_key_values if cache is None else cache


def shared_prefix_cache(model, prompt_ids: Sequence[Sequence[int]]):
    """``(prefix, kv_cache)``: the prefix common to all prompts, run once, when there are several
    prompts and it is at least :data:`MIN_SHARED_PREFIX` tokens long; else ``([], None)``.

    Each batch continues from :func:`repeat_cache` of it, laid out ``[prefix][left padding][rest]``.
    """
    if len(prompt_ids) < 2:
        return [], None
    prefix = common_prefix(prompt_ids)
    if len(prefix) < MIN_SHARED_PREFIX:
        return [], None
    import torch

    with torch.inference_mode():
        cache = output_cache(model(input_ids=torch.tensor([prefix], device=model.device), use_cache=True,
                                   logits_to_keep=1))
    return prefix, cache


def repeat_cache(cache, rows: int):
    """A copy of a one-row KV cache repeated to ``rows`` rows (the original stays reusable)."""
    copied = copy.deepcopy(cache)
    copied.batch_repeat_interleave(rows)
    return copied


def generate_batched(
    model,
    tokenizer,
    prompt_ids: Sequence[Sequence[int]],
    *,
    max_new_tokens: Sequence[int],
    options: GenerationOptions = GenerationOptions(),
    on_batch: Callable[[int], None] | None = None,
) -> list[list[GeneratedText]]:
    """Generate for every prompt; returns, in input order, ``num_return_sequences`` outputs each.

    ``max_new_tokens[i]`` is prompt ``i``'s budget; ``on_batch(n)`` is called after each batch
    with the number of prompts it finished (for progress bars).
    """
    import torch

    if len(max_new_tokens) != len(prompt_ids):
        raise ValueError(f"{len(max_new_tokens)} budgets for {len(prompt_ids)} prompts")
    if any(budget < 1 for budget in max_new_tokens):
        raise ValueError("every max_new_tokens budget must be >= 1")
    eos_ids = eos_token_ids(model, tokenizer)
    pad_id = pad_token_id(tokenizer, eos_ids)
    device = model.device
    results: list[list[GeneratedText]] = [[] for _ in prompt_ids]
    n = options.num_return_sequences
    prefix, prefix_cache = shared_prefix_cache(model, prompt_ids) if options.share_prefix and n == 1 else ([], None)
    for batch in length_sorted_batches([len(ids) for ids in prompt_ids], options.batch_size):
        budget = max(max_new_tokens[i] for i in batch)
        extra = {}
        if prefix_cache is not None:
            # [shared prefix (cached once)][left padding][rest of the prompt]; positions skip the padding
            rest_ids, rest_mask = pad_left(tokenizer, [prompt_ids[i][len(prefix):] for i in batch], pad_id)
            rows = len(batch)
            input_ids = torch.cat([torch.tensor([prefix] * rows, dtype=torch.long), rest_ids], dim=1)
            attention_mask = torch.cat([torch.ones((rows, len(prefix)), dtype=torch.long), rest_mask], dim=1)
            extra[cache_keyword(model)] = repeat_cache(prefix_cache, rows)
        else:
            input_ids, attention_mask = pad_left(tokenizer, [prompt_ids[i] for i in batch], pad_id)
        sampling = {"do_sample": True, "temperature": options.temperature, "top_p": options.top_p} if options.do_sample \
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        with torch.inference_mode():
            output = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                max_new_tokens=budget,
                num_return_sequences=n,
                eos_token_id=eos_ids,
                pad_token_id=pad_id,
                return_dict_in_generate=True,
                output_scores=options.with_scores,
                **sampling,
                **extra,
            )
            new_tokens = output.sequences[:, input_ids.shape[1]:].tolist()
            transition = None
            if options.with_scores:
                transition = model.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)
                transition = transition.float().tolist()
        for row, tokens in enumerate(new_tokens):
            index = batch[row // n]
            own_budget = max_new_tokens[index]
            tokens = tokens[:own_budget]
            cut = next((position for position, token in enumerate(tokens) if token in eos_ids), None)
            kept = tokens if cut is None else tokens[:cut]
            logprob = None
            if transition is not None:
                upto = len(tokens) if cut is None else cut + 1
                logprob = float(sum(transition[row][:upto]))
            text = tokenizer.decode(kept, skip_special_tokens=True)
            results[index].append(GeneratedText(text=text, token_ids=tuple(kept), logprob=logprob,
                                                finished=cut is not None))
        if on_batch is not None:
            on_batch(len(batch))
    return results
