"""The ``transformers`` backend: a local ``AutoModelForCausalLM`` and its tokenizer.

Prompts are rendered with the tokenizer's chat template; :meth:`TransformersBackend.generate` runs
batched left-padded generation with per-prompt budgets and the shared-prefix KV cache
(:mod:`cascadener.backends.generation`); :meth:`TransformersBackend.choose` scores every choice on
the KV cache (:mod:`cascadener.backends.scoring`), so answers are always kept to the choices and
always scored. Usage counts the prompts run and their tokens (scoring counts no completion
tokens); there are no retries.

Example (a random tiny model):
    >>> from cascadener.training.tiny import train_tokenizer, build_model, TinyModelOptions
    >>> from cascadener.backends.base import GenerationOptions
    >>> tok = train_tokenizer(["Ada met Bob ."], vocab_size=280)
    >>> model = build_model(tok, options=TinyModelOptions(hidden_size=32, intermediate_size=64))
    >>> backend = TransformersBackend(model, tok)
    >>> backend.token_counts(["Ada met Bob ."])
    [4]
    >>> usage = Usage()
    >>> out = backend.generate(["Ada met Bob ."], max_new_tokens=[3], options=GenerationOptions(), usage=usage)
    >>> len(out[0]), usage.requests, usage.prompt_tokens > 4
    (1, 1, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Mapping, Sequence

from cascadener.backends.base import (
    CANDIDATE_SCORING,
    Capabilities,
    Choice,
    ClassifyRequest,
    GeneratedText,
    GenerationOptions,
    Prompt,
    Usage,
)
from cascadener.backends.generation import encode_chat, generate_batched
from cascadener.backends.scoring import score_choices

__all__ = ["TransformersBackend", "LocalSettings", "pick_device", "load_model"]

#: tokenizers without a real limit report a huge ``model_max_length`` (1e30); ignore those
_NO_LIMIT = 10**9


def _context_tokens(model, tokenizer) -> int | None:
    """The model's context: the smaller of ``config.max_position_embeddings`` and the tokenizer's
    ``model_max_length`` where set; ``None`` when neither says."""
    limits = [getattr(getattr(model, "config", None), "max_position_embeddings", None),
              getattr(tokenizer, "model_max_length", None)]
    known = [int(limit) for limit in limits if isinstance(limit, (int, float)) and 0 < limit < _NO_LIMIT]
    return min(known) if known else None


def pick_device(device: str | None = None) -> str:
    """``device`` as given, else ``cuda`` when available, else ``mps``, else ``cpu`` (decided at run time).

    >>> pick_device("cpu")
    'cpu'
    """
    if device is not None:
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_model(path: str, *, device: str | None = None, torch_dtype: Any = None, trust_remote_code: bool = False):
    """``(model, tokenizer)`` of a directory or Hub id, through ``AutoModelForCausalLM`` and
    ``AutoTokenizer``, on ``device`` (:func:`pick_device`). ``torch_dtype``: a ``torch.dtype`` or its
    name (``"bfloat16"``, ``"auto"``; ``None``: the checkpoint's)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    return model.to(pick_device(device)), tokenizer


#: every choice scored: answers always on the list, always with a probability
_CAPABILITIES = Capabilities(choice=True, scores=True, constraint=CANDIDATE_SCORING)


@dataclass(frozen=True)
class LocalSettings:
    """What the ``transformers`` backend loads: the extractor and the classifier (``None``: the
    extractor, one model for both stages), from a directory or Hub id, on ``device``.

    Known before anything loads: the paths to check (:meth:`models`), and what ``--resume`` compares
    (:meth:`identity`: nothing here, the models are compared by their files).

    >>> settings = LocalSettings("models/extractor")
    >>> settings.models(), settings.identity(), settings.capabilities().choice
    ({'extractor': 'models/extractor', 'classifier': 'models/extractor'}, {}, True)
    """

    extractor: str
    classifier: str | None = None
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False

    #: the registry name of the backend these settings build
    backend: ClassVar[str] = "transformers"
    loads_weights: ClassVar[bool] = True
    #: padding in a batch changes scores in their last digits: outputs depend on the batch's other prompts
    batch_invariant: ClassVar[bool] = False
    #: the command-line flags (argparse dests) these settings are read from, with their defaults
    flags: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"extractor": None, "classifier": None, "device": None, "dtype": None, "trust_remote_code": False})
    #: what a flag does, said when it is given to another backend
    hints: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"extractor": "loads a local model", "classifier": "loads a local model"})

    def __post_init__(self) -> None:
        if not self.extractor:
            raise ValueError("give the extractor: a model directory or Hub id")

    @classmethod
    def from_namespace(cls, args: Any) -> "LocalSettings":
        """The settings of parsed command-line arguments (``--extractor``, ``--classifier``, ``--device``,
        ``--dtype``, ``--trust-remote-code``; the ones a command does not define keep their defaults)."""
        if not getattr(args, "extractor", None):
            raise ValueError(f"--extractor is required with --backend {cls.backend} (or use another --backend)")
        return cls(**{flag: getattr(args, flag) for flag in cls.flags if hasattr(args, flag)})

    def models(self) -> dict[str, str]:
        """The model of each role, as given (the files that identify the run)."""
        return {"extractor": self.extractor, "classifier": self.classifier or self.extractor}

    def identity(self) -> dict[str, Any]:
        """What ``--resume`` compares beyond the models' files: nothing."""
        return {}

    def record(self) -> dict[str, Any] | None:
        """What is recorded beside the identity: nothing (no server)."""
        return None

    def capabilities(self) -> Capabilities:
        return _CAPABILITIES

    def in_flight(self, batch_size: int) -> int:
        """Prompts processed at once: a batch."""
        return batch_size

    def build(self) -> tuple["TransformersBackend", "TransformersBackend | None"]:
        """The extractor's backend and the classifier's (``None``: the extractor's); loads the models."""
        extractor = TransformersBackend.from_pretrained(self.extractor, device=self.device, torch_dtype=self.dtype,
                                                        trust_remote_code=self.trust_remote_code)
        if self.classifier is None or str(self.classifier) == str(self.extractor):
            return extractor, None
        return extractor, TransformersBackend.from_pretrained(self.classifier, device=self.device,
                                                              torch_dtype=self.dtype,
                                                              trust_remote_code=self.trust_remote_code)


class TransformersBackend:
    """A local model (see the module docstring); ``model.eval()`` is called once here."""

    name = LocalSettings.backend
    description = "load the models here (AutoModelForCausalLM)"
    settings_type = LocalSettings
    capabilities = _CAPABILITIES

    def __init__(self, model, tokenizer) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model.eval()
        self.context_tokens: int | None = _context_tokens(model, tokenizer)

    def prepare(self, *, choice: bool) -> Capabilities:
        """A local model can do everything stage 2 asks: nothing to learn."""
        return self.capabilities

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: Sequence[int],
        options: GenerationOptions,
        seed: int = 0,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
        what: str = "stage 1",
    ) -> list[list[GeneratedText]]:
        prompt_ids = encode_chat(self.tokenizer, prompts)
        if options.do_sample:
            import torch

            torch.manual_seed(seed)
        outputs = generate_batched(self.model, self.tokenizer, prompt_ids, max_new_tokens=max_new_tokens,
                                   options=options, on_batch=on_batch)
        if usage is not None:
            usage.requests += len(prompt_ids)
            usage.prompt_tokens += sum(len(ids) for ids in prompt_ids) * options.num_return_sequences
            usage.completion_tokens += sum(len(out.token_ids) + out.finished for outs in outputs for out in outs)
            usage.empty_answers += sum(out.text == "" for outs in outputs for out in outs)
        return outputs

    def choose(
        self,
        requests: Sequence[ClassifyRequest],
        *,
        batch_size: int = 8,
        usage: Usage | None = None,
        on_batch: Callable[[int], None] | None = None,
        what: str = "stage 2",
    ) -> list[Choice]:
        if not requests:
            return []
        prompt_ids = encode_chat(self.tokenizer, [request.prompt for request in requests])
        chosen = score_choices(self.model, self.tokenizer, prompt_ids, [request.choices for request in requests],
                               batch_size=batch_size)
        if usage is not None:
            usage.requests += len(prompt_ids)
            usage.prompt_tokens += sum(len(ids) for ids in prompt_ids)
        if on_batch is not None:
            on_batch(len(requests))
        return chosen

    @classmethod
    def from_pretrained(cls, path: str, *, device: str | None = None, torch_dtype: Any = None,
                        trust_remote_code: bool = False) -> "TransformersBackend":
        """The backend of a directory or Hub id (:func:`load_model`)."""
        model, tokenizer = load_model(str(path), device=device, torch_dtype=torch_dtype,
                                      trust_remote_code=trust_remote_code)
        return cls(model, tokenizer)

    @property
    def commit(self) -> str | None:
        """The Hub commit the weights were loaded from (``None`` for a local directory)."""
        return getattr(getattr(self.model, "config", None), "_commit_hash", None)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": str(getattr(self.model, "name_or_path", "") or "")}
