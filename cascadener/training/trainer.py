"""Fine-tune a causal LM on chat ``messages`` with ``transformers.Trainer``.

Loss is taken only on what the assistant says: its content and the closing ``<|im_end|>`` (the
end-of-turn token, so the model learns to stop). Every other token (system, user, role headers,
padding) is labelled ``-100``. Assistant tokens are found by rendering the conversation with the
tokenizer's own chat template twice, with and without the assistant turn, so this works for any
template (Qwen2.5's included), not only ones with ``{% generation %}`` markers.

Examples longer than ``max_length`` tokens are skipped and reported (never silently truncated).
With ``lora=True`` a peft LoRA adapter is trained and, by default, merged into the base weights on
save, so the saved directory loads with plain ``AutoModelForCausalLM.from_pretrained``.

Example:
    >>> from cascadener.training.tiny import train_tokenizer
    >>> tok = train_tokenizer(["hi there", "hello"], vocab_size=280)
    >>> ex = tokenize_conversation([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], tok)
    >>> tok.decode([i for i, l in zip(ex["input_ids"], ex["labels"]) if l != -100])
    'hello<|im_end|>'
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

IGNORE_INDEX = -100
LORA_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")

logger = logging.getLogger(__name__)


class TrainingDataError(ValueError):
    """A conversation that cannot be trained on; the message names the example index and field."""


class BaseModelError(ValueError):
    """The model to start from cannot be loaded (missing files, not a model, unreachable Hub id)."""


class ResumeError(ValueError):
    """``resume=True`` but there is nothing to resume: no checkpoint in ``<output_dir>/checkpoints``."""


@dataclass(frozen=True)
class TrainOptions:
    """How to fine-tune. ``max_steps > 0`` overrides ``epochs``.

    >>> TrainOptions(max_steps=10, lora=True).lora_target_modules
    ('q_proj', 'k_proj', 'v_proj', 'o_proj')
    """

    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float = 2e-4
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    warmup_steps: int = 0
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    max_grad_norm: float = 1.0
    seed: int = 0
    max_length: int = 2048
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: tuple[str, ...] = LORA_TARGETS
    merge_lora: bool = True
    logging_steps: int = 10
    progress: bool = True
    num_threads: int | None = None  # torch CPU threads during training (1 is fastest for tiny models on busy cores)
    save_steps: int | None = None  # checkpoint every N steps into <output_dir>/checkpoints (resumable)
    resume: bool = False  # continue from the last checkpoint in <output_dir>/checkpoints, if any

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready values (for summary files)."""
        return asdict(self) | {"lora_target_modules": list(self.lora_target_modules)}


@dataclass
class TrainResult:
    """What a training run did. ``loss_history`` holds ``(step, loss)`` as logged by the Trainer."""

    output_dir: Path
    loss_history: list[tuple[int, float]]
    steps: int
    examples: int
    skipped: list[tuple[int, str]] = field(default_factory=list)
    runtime_seconds: float = 0.0
    lora: bool = False
    trainable_parameters: int = 0
    kept: bool = False  # resume: a model that had finished before was kept, not trained again

    @property
    def first_loss(self) -> float:
        return self.loss_history[0][1]

    @property
    def final_loss(self) -> float:
        return self.loss_history[-1][1]

    def to_dict(self, *, with_history: bool = True) -> dict[str, Any]:
        """The run's numbers for summary JSON files (``loss_history`` only ``with_history``).

        >>> TrainResult(Path("m"), [(1, 2.5), (2, 0.5)], steps=2, examples=4).to_dict(with_history=False)
        {'steps': 2, 'examples': 4, 'skipped': 0, 'first_loss': 2.5, 'final_loss': 0.5, 'runtime_seconds': 0.0, 'trainable_parameters': 0}
        """
        logged = bool(self.loss_history)
        numbers: dict[str, Any] = {"steps": self.steps, "examples": self.examples, "skipped": len(self.skipped),
                                   "first_loss": self.first_loss if logged else None,
                                   "final_loss": self.final_loss if logged else None,
                                   "runtime_seconds": round(self.runtime_seconds, 2),
                                   "trainable_parameters": self.trainable_parameters}
        if with_history:
            numbers["loss_history"] = self.loss_history
        if self.kept:
            numbers["kept"] = True
        return numbers

    def summary(self) -> str:
        """One line for logs and CLIs."""
        if self.kept:
            return f"kept the model that had finished before -> {self.output_dir}"
        losses = f"loss {self.first_loss:.3f} -> {self.final_loss:.3f}" if self.loss_history else "no loss logged"
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return (f"{self.steps} steps on {self.examples} examples{skipped}, {losses}, "
                f"{self.runtime_seconds:.1f}s{' (LoRA)' if self.lora else ''} -> {self.output_dir}")


def _render_ids(tokenizer, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool) -> list[int]:
    return list(tokenizer.apply_chat_template(list(messages), tokenize=True, add_generation_prompt=add_generation_prompt,
                                              return_dict=False))


def tokenize_conversation(messages: Sequence[Mapping[str, str]], tokenizer, *, index: int = 0) -> dict[str, list[int]]:
    """``input_ids``, ``attention_mask`` and ``labels`` (``-100`` except assistant tokens) for one chat.

    For each assistant turn, the tokens added by that turn after the generation prompt are
    labelled up to and including the first end-of-turn (``eos_token``) token.
    """
    if not messages or not any(m.get("role") == "assistant" for m in messages):
        raise TrainingDataError(f"example {index}: field 'messages' has no assistant turn")
    for position, message in enumerate(messages):
        if not isinstance(message.get("content"), str) or message.get("role") not in ("system", "user", "assistant"):
            raise TrainingDataError(f"example {index}: messages[{position}] needs a role (system/user/assistant) "
                                    f"and a string content, got {dict(message)!r}")
    full = _render_ids(tokenizer, messages, add_generation_prompt=False)
    labels = [IGNORE_INDEX] * len(full)
    eos_ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for turn, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = _render_ids(tokenizer, messages[:turn], add_generation_prompt=True)
        last = turn == len(messages) - 1
        upto = full if last else _render_ids(tokenizer, messages[: turn + 1], add_generation_prompt=False)
        if full[: len(upto)] != upto or upto[: len(prefix)] != prefix:
            raise TrainingDataError(
                f"example {index}: the chat template does not render messages[{turn}] as a token-level extension "
                "of its prompt; cannot locate the assistant tokens")
        end = len(upto)
        for position in range(len(prefix), len(upto)):
            if full[position] in eos_ids:
                end = position + 1
                break
        labels[len(prefix):end] = full[len(prefix):end]
    return {"input_ids": full, "attention_mask": [1] * len(full), "labels": labels}


def tokenize_dataset(dataset, tokenizer, *, max_length: int, progress: bool = True):
    """Tokenize a ``datasets.Dataset`` with a ``messages`` column; returns ``(dataset, skipped)``.

    ``skipped`` lists ``(index, reason)`` for examples longer than ``max_length`` tokens.
    """
    from datasets import Dataset

    if "messages" not in dataset.column_names:
        raise TrainingDataError(f"training data needs a 'messages' column, got {dataset.column_names}")
    rows: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
    skipped: list[tuple[int, str]] = []
    from tqdm.auto import tqdm

    for index, messages in enumerate(tqdm(dataset["messages"], desc="tokenize", disable=not progress, unit="ex")):
        example = tokenize_conversation(messages, tokenizer, index=index)
        if len(example["input_ids"]) > max_length:
            skipped.append((index, f"{len(example['input_ids'])} tokens > max_length {max_length}"))
            continue
        for key in rows:
            rows[key].append(example[key])
    if skipped:
        logger.warning("skipped %d of %d examples longer than %d tokens (first: %s)",
                       len(skipped), len(dataset), max_length, skipped[0])
    if not rows["input_ids"]:
        raise TrainingDataError(f"no trainable example left ({len(skipped)} skipped as too long)")
    return Dataset.from_dict(rows), skipped


def _load(model, tokenizer):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if isinstance(model, (str, Path)):
        source = str(model)
        try:
            tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source)
        except (OSError, ValueError) as error:  # missing files, not a model, Hub unreachable, bad repo id
            raise BaseModelError(f"cannot load the base model {source}: {error}") from error
    elif tokenizer is None:
        raise ValueError("pass tokenizer= when model is an already loaded model")
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token before training")
    if tokenizer.chat_template is None:
        raise ValueError("the tokenizer has no chat template; training needs one to render `messages`")
    return model, tokenizer


def _loss_history() -> Any:
    """A ``TrainerCallback`` whose ``history`` keeps ``(step, loss)`` from every Trainer log.

    Defined on first use: importing transformers' Trainer stack (and peft through it) takes seconds,
    and nothing but training needs it (``cascadener --help``, ``evaluate``, the test collection).
    """
    from transformers import TrainerCallback

    class LossHistory(TrainerCallback):
        def __init__(self) -> None:
            self.history: list[tuple[int, float]] = []

        def on_log(self, args, state, control, logs=None, **kwargs):  # the TrainerCallback hook signature
            if logs and "loss" in logs:
                self.history.append((int(state.global_step), float(logs["loss"])))

    return LossHistory()


def train(
    model: Any,
    train_dataset: Any,
    output_dir: str | Path,
    *,
    tokenizer: Any = None,
    options: TrainOptions = TrainOptions(),
    extra_files: Mapping[str, str] | None = None,
) -> TrainResult:
    """Fine-tune ``model`` (a directory, a Hub id, or a loaded ``PreTrainedModel`` + ``tokenizer``)
    on ``train_dataset`` (a ``datasets.Dataset`` with ``messages``) and save it to ``output_dir``.

    The saved directory holds the full model (LoRA merged unless ``merge_lora=False``, in which
    case it holds the peft adapter, which ``AutoModelForCausalLM.from_pretrained`` also loads when
    peft is installed), the tokenizer and the generation config. With ``save_steps``, Trainer
    checkpoints go to ``output_dir/checkpoints``; ``resume=True`` continues from the last one
    (:class:`ResumeError` when there is none). The model is saved by :func:`save_model`: the
    folder appears complete or not at all.
    """
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments, set_seed

    output_dir = Path(output_dir)
    checkpoints = output_dir / "checkpoints"
    last_checkpoint = None
    if options.resume:
        from transformers.trainer_utils import get_last_checkpoint

        last_checkpoint = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
        if last_checkpoint is None:
            raise ResumeError(f"cannot resume {output_dir}: no checkpoint in {checkpoints} "
                              "(checkpoints are written with save_steps)")
        logger.warning("resuming from %s", last_checkpoint)
    elif options.save_steps and checkpoints.is_dir():
        # a fresh run: checkpoints of an earlier run would mix with this run's in the rotation
        logger.warning("removing the checkpoints of an earlier run in %s", checkpoints)
        shutil.rmtree(checkpoints)
    set_seed(options.seed)
    model, tokenizer = _load(model, tokenizer)
    tokenized, skipped = tokenize_dataset(train_dataset, tokenizer, max_length=options.max_length,
                                          progress=options.progress)
    if options.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(
            r=options.lora_r, lora_alpha=options.lora_alpha, lora_dropout=options.lora_dropout,
            target_modules=list(options.lora_target_modules), task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # Right padding for training (positions start at 0 for every example); the saved tokenizer
    # keeps its own padding side (left, for batched generation).
    padder = copy.deepcopy(tokenizer)
    padder.padding_side = "right"
    collator = DataCollatorForSeq2Seq(padder, padding=True, label_pad_token_id=IGNORE_INDEX)
    # Without save_steps nothing is checkpointed: the Trainer works in a temporary folder, so no
    # output folder exists until the finished model is renamed into place.
    scratch = None if options.save_steps else tempfile.TemporaryDirectory(prefix="cascadener-trainer-")
    args = TrainingArguments(
        output_dir=str(checkpoints) if scratch is None else scratch.name,
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        learning_rate=options.learning_rate,
        per_device_train_batch_size=options.batch_size,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        warmup_steps=options.warmup_steps,
        weight_decay=options.weight_decay,
        lr_scheduler_type=options.lr_scheduler,
        max_grad_norm=options.max_grad_norm,
        logging_steps=options.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if options.save_steps else "no",
        save_steps=options.save_steps or 500,
        save_total_limit=2,
        report_to="none",
        seed=options.seed,
        data_seed=options.seed,
        disable_tqdm=not options.progress,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    loss_log = _loss_history()
    trainer = Trainer(model=model, args=args, train_dataset=tokenized, data_collator=collator,
                      processing_class=tokenizer, callbacks=[loss_log])
    threads_before = torch.get_num_threads()
    if options.num_threads:
        torch.set_num_threads(options.num_threads)
    started = time.perf_counter()
    try:
        # The Trainer prints its log lines to stdout; keep stdout for results (CLIs print tables there).
        with contextlib.redirect_stdout(sys.stderr):
            state = trainer.train(resume_from_checkpoint=last_checkpoint)
    finally:
        torch.set_num_threads(threads_before)
        if scratch is not None:
            scratch.cleanup()
    runtime = time.perf_counter() - started
    model = trainer.model
    if options.lora and options.merge_lora:
        model = model.merge_and_unload()
    save_model(model, tokenizer, output_dir, extra_files=extra_files)
    return TrainResult(
        output_dir=output_dir,
        loss_history=loss_log.history,
        steps=int(state.global_step),
        examples=len(tokenized),
        skipped=skipped,
        runtime_seconds=runtime,
        lora=options.lora,
        trainable_parameters=trainable,
    )


def as_os_error(error: BaseException) -> OSError | None:
    """``error`` as the ``OSError`` it stands for: itself, or a safetensors I/O error (a full disk
    while writing weights raises ``SafetensorError: ... No space left on device (os error 28)``).

    >>> from safetensors import SafetensorError
    >>> as_os_error(SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")).errno
    28
    """
    if isinstance(error, OSError):
        return error
    from safetensors import SafetensorError

    found = re.search(r"os error (\d+)", str(error)) if isinstance(error, SafetensorError) else None
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code))


def save_model(model: Any, tokenizer: Any, output_dir: str | Path, *, extra_files: Mapping[str, str] | None = None) -> Path:
    """Save ``model`` and ``tokenizer`` (and ``extra_files``: name -> text, e.g. what the model was
    trained for) to ``output_dir`` whole or not at all.

    They are written to a temporary sibling folder that is renamed into place only when complete,
    so a full disk or a killed process never leaves a folder with a config but no weights. Trainer
    checkpoints already in ``output_dir/checkpoints`` move into the new folder; an older model
    there is replaced.
    """
    from dynamicner_data.atomic import partial_name

    target = Path(output_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_name(target)
    if partial.exists():
        shutil.rmtree(partial)
    try:
        partial.mkdir()
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        for name, text in (extra_files or {}).items():
            (partial / name).write_text(text, encoding="utf-8")
    except Exception as error:
        shutil.rmtree(partial, ignore_errors=True)
        disk = as_os_error(error)
        if disk is None:
            raise
        raise OSError(disk.errno, disk.strerror, str(target)) from error  # the model folder, not the temporary one
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    checkpoints = target / "checkpoints"
    moved = checkpoints.is_dir()
    if moved:
        os.replace(checkpoints, partial / "checkpoints")
    aside = target.with_name(f".{target.name}.old-{os.getpid()}") if target.exists() else None
    try:
        if aside is not None:
            os.replace(target, aside)
        os.replace(partial, target)
    except BaseException:
        if aside is not None and aside.exists() and not target.exists():
            os.replace(aside, target)
        if moved and (partial / "checkpoints").exists():
            os.replace(partial / "checkpoints", checkpoints)
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if aside is not None and aside.is_dir():
        shutil.rmtree(aside, ignore_errors=True)
    elif aside is not None:
        aside.unlink()
    return target



def train_conversations(
    dataset: Any,
    output_dir: str | Path,
    *,
    base_model: str | Path | None = None,
    options: TrainOptions = TrainOptions(),
    vocab_size: int = 2000,
    tiny_options: Any = None,
    extra_files: Mapping[str, str] | None = None,
) -> TrainResult:
    """:func:`train` on chat ``messages`` from ``base_model``, or, without one, from a tiny
    from-scratch Qwen2 whose tokenizer is trained on the conversations' text."""
    from cascadener.training.tiny import TinyModelOptions, chat_texts, create_tiny_model

    if base_model is not None:
        return train(base_model, dataset, output_dir, options=options, extra_files=extra_files)
    texts = [m["content"] for messages in dataset["messages"] for m in messages]
    with tempfile.TemporaryDirectory(prefix="cascadener-init-") as init_dir:
        create_tiny_model(chat_texts(texts), init_dir, vocab_size=vocab_size,
                          options=tiny_options or TinyModelOptions(seed=options.seed))
        return train(init_dir, dataset, output_dir, options=options, extra_files=extra_files)


@dataclass
class CascadeTrainResult:
    """Where the extractor and classifier were saved (the same directory for one shared model)."""

    extractor: Path
    classifier: Path
    runs: dict[str, TrainResult]
    sft_report: Any

    def summary(self) -> str:
        lines = [self.sft_report.summary()]
        lines += [f"{name}: {run.summary()}" for name, run in self.runs.items()]
        return "\n".join(lines)


def train_cascade(
    records: Any,
    output_dir: str | Path,
    *,
    base_model: str | Path | None = None,
    one_model: bool = False,
    lists: str | Sequence[str] = "type_list",
    taxonomy: Any = None,
    template: str = "released",
    options: TrainOptions = TrainOptions(),
    classifier_options: TrainOptions | None = None,
    vocab_size: int = 2000,
    tiny_options: Any = None,
    export_sft: str | Path | None = None,
) -> CascadeTrainResult:
    """Train a CascadeNER extractor and classifier (or one model for both) from DynamicNER records.

    ``base_model``: any ``AutoModelForCausalLM`` directory or Hub id with a chat template; without
    it, a tiny from-scratch Qwen2 (:mod:`cascadener.training.tiny`) with a tokenizer trained on the
    training conversations. Saves ``output_dir/model`` (``one_model``) or ``output_dir/extractor``
    and ``output_dir/classifier``, each loadable with ``CascadeNER.from_pretrained``.
    ``classifier_options`` (default: ``options``) trains the classifier of a two-model cascade.
    Conversations are built by :func:`cascadener.training.sft.build_sft` (``lists``, ``taxonomy``, ``template``);
    ``export_sft`` also writes them as ShareGPT JSON (``stage1.json``, ``stage2.json``) there.
    With ``options.resume``, a model that had finished is kept (reported with ``kept=True``) and an
    interrupted one continues from its last checkpoint (:class:`ResumeError` when it has none).
    """
    from .model_files import folder_state
    from .sft import build_sft, write_sharegpt

    output_dir = Path(output_dir)
    data = build_sft(list(records), lists=lists, taxonomy=taxonomy, template=template)
    if export_sft is not None:
        write_sharegpt(data.stage1, Path(export_sft) / "stage1.json")
        write_sharegpt(data.stage2, Path(export_sft) / "stage2.json")
    if one_model:
        jobs = {"model": data.combined(seed=options.seed)}
    else:
        jobs = {"extractor": data.stage1, "classifier": data.stage2}
    runs: dict[str, TrainResult] = {}
    for name, dataset in jobs.items():
        if len(dataset) == 0:
            raise TrainingDataError(f"no {name} conversations to train on ({data.report.summary()})")
        job_options = classifier_options if name == "classifier" and classifier_options is not None else options
        if job_options.resume and folder_state(output_dir / name) == "model":
            logger.warning("resume: %s had finished; kept", output_dir / name)
            runs[name] = TrainResult(output_dir / name, [], steps=0, examples=0, kept=True)
            continue
        runs[name] = train_conversations(dataset, output_dir / name, base_model=base_model, options=job_options,
                                         vocab_size=vocab_size, tiny_options=tiny_options)
    if one_model:
        extractor = classifier = output_dir / "model"
    else:
        extractor, classifier = output_dir / "extractor", output_dir / "classifier"
    return CascadeTrainResult(extractor=extractor, classifier=classifier, runs=runs, sft_report=data.report)


def train_method(
    records: Any,
    output_dir: str | Path,
    *,
    method: str,
    base_model: str | Path | None = None,
    options: TrainOptions = TrainOptions(),
    vocab_size: int = 2000,
    tiny_options: Any = None,
    export_sft: str | Path | None = None,
) -> CascadeTrainResult:
    """Fine-tune one model on a prompt method's own format (``method``: ``gpt-ner`` or ``promptner``;
    :meth:`cascadener.methods.fewshot.PromptMethod.conversations`), saved to ``output_dir/model``
    with :data:`~cascadener.methods.base.TRAINED_FOR_FILE`, so the method asks it without
    demonstrations and the results record it as fine-tuned. ``export_sft`` also writes the
    conversations there as ShareGPT JSON (``<method>.json``, system turns kept).
    """
    from cascadener.methods import method_class
    from cascadener.methods.base import TRAINED_FOR_FILE, trained_for_text

    from .model_files import folder_state
    from .sft import conversations_dataset, write_sharegpt

    cls = method_class(method)
    if not hasattr(cls, "conversations"):
        raise ValueError(f"--method {method} is trained with train_cascade (two stages), not on one format")
    output_dir = Path(output_dir)
    conversations = cls.conversations(list(records))
    dataset = conversations_dataset(conversations.rows)
    if export_sft is not None:
        write_sharegpt(dataset, Path(export_sft) / f"{method}.json", system=None)
    if len(dataset) == 0:
        raise TrainingDataError(f"no {method} conversations to train on ({conversations.summary()})")
    target = output_dir / "model"
    if options.resume and folder_state(target) == "model":
        logger.warning("resume: %s had finished; kept", target)
        run = TrainResult(target, [], steps=0, examples=0, kept=True)
    else:
        marker = {TRAINED_FOR_FILE: trained_for_text(method, prompt_hash=cls.prompt_hash(cls.options_type()))}
        run = train_conversations(dataset, target, base_model=base_model, options=options, vocab_size=vocab_size,
                                  tiny_options=tiny_options, extra_files=marker)
    return CascadeTrainResult(extractor=target, classifier=target, runs={"model": run}, sft_report=conversations)
