"""Shared test set-up: offline Hugging Face, a temporary HF_HOME, and paths to ../shared/data."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

# Set before any test module imports datasets/evaluate/transformers: they read these at import.
_HF_HOME = tempfile.mkdtemp(prefix="dynamicner-test-hf-")
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# One torch CPU thread, in this process and in every process the tests start (they inherit the
# environment): the tests' models are tiny, and on 2 shared cores a second thread per process only
# waits for the other processes' threads (a tiny model's run: ~2.5x slower with 2 threads under load).
# Set before torch is imported, which reads it once.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# A suite started in the background of a non-interactive shell (`cmd &` in a CI script) inherits
# SIGINT ignored, as would every process it starts (an ignored signal stays ignored across exec), and
# then Ctrl-C cannot be tested. Give this process what a terminal gives, Python's default handler; the
# processes it starts get SIGINT's default disposition (a handled signal is reset by exec).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

# Fixtures that train, build or load a model. A test that uses one (directly or through another
# fixture) must be marked ``@pytest.mark.slow`` so that ``pytest -m "not slow"`` stays fast;
# collection stops with the list of unmarked tests otherwise. Add a new model fixture here.
MODEL_FIXTURES = frozenset({"tiny_cascade", "model_dir", "random_tiny", "tiny_base", "tiny_dir", "untrained_tiny",
                            "tiny_gpt_ner", "tiny_promptner"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())) and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use a model fixture but are not marked @pytest.mark.slow: " + ", ".join(unmarked)
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    """With ``DYNAMICNER_PIP_FREEZE=1`` (set by ``.ci/run``), print ``pip freeze`` before any test runs:
    a red run on a fresh machine can then be traced to the versions pip resolved there."""
    if os.environ.get("DYNAMICNER_PIP_FREEZE") == "1":
        import subprocess
        import sys

        frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                                check=False)
        print(f"\n--- pip freeze ({sys.executable}) ---\n{frozen.stdout}{frozen.stderr}--- end of pip freeze ---",
              flush=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move everything alive after collection (torch, transformers, datasets, evaluate: ~1.5M objects)
    into the collector's permanent generation. They live for the whole session; otherwise every full
    collection during the tests, and pytest's five at the end (looking for unraisable exceptions,
    ~2 s), walks them all. Tests that check the collector's state see a host that froze objects,
    which the library must respect anyway (tests/test_gc_scope.py)."""
    import gc

    gc.freeze()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; tests that need it skip with the reason when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (../shared beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face Hub cache of the test's own (huggingface_hub reads ``HF_HUB_CACHE`` per call)."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf-hub-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def stub_hub(monkeypatch, hub_cache):
    """huggingface_hub's own client, online, talking to the in-memory Hub of tests/hub_stub.py."""
    from hub_stub import StubHub

    stub = StubHub()
    with stub.installed(monkeypatch):
        yield stub


# --- tiny trained CascadeNER models (owned by the training engineer) --------------------------

TINY_CORPUS = PROJECT_ROOT / "tests" / "fixtures" / "tiny_corpus.json"


@pytest.fixture(scope="session")
def tiny_corpus() -> list[dict]:
    """The project's own fixture sentences (tests/fixtures/tiny_corpus.json): DynamicNER-style
    records ``{id, language, text, entities: [{text, label, start, end, path}], type_list}``."""
    import json

    return json.loads(TINY_CORPUS.read_text(encoding="utf-8"))["records"]


@pytest.fixture(scope="session")
def memorised_release(tmp_path_factory, tiny_corpus) -> Path:
    """A DynamicNER-style release folder (``<lang>/{train,dev,test}.json`` in GEIC) holding only the
    ``tiny_corpus`` sentences, in every split: what ``tiny_cascade`` memorised, so that runs over it
    (``cascadener run --data-dir``) exercise real generation on text the model has seen. A test
    never relies on what a tiny model writes about text it never saw."""
    import json

    root = tmp_path_factory.mktemp("memorised-release")
    for language in sorted({r["language"] for r in tiny_corpus}):
        records = [r for r in tiny_corpus if r["language"] == language]
        data = {f"sentence{i}": {"sentence": r["text"], "entity": [e["text"] for e in r["entities"]],
                                 "category": [e["label"] for e in r["entities"]]}
                for i, r in enumerate(records, start=1)}
        folder = root / language
        folder.mkdir()
        for split in ("train", "dev", "test"):
            (folder / f"{split}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_cascade(tmp_path_factory, tiny_corpus):
    """ONE tiny from-scratch Qwen2 model, trained (~200 full-batch steps, ~15-60 s on 2 cores) until
    it has memorised both stages of every sentence in ``tiny_corpus``:

    - stage 1: user = the raw sentence -> assistant = the sentence with entities marked ``##x##``;
    - stage 2: user = ``cascadener.prompts.stage2_prompt(entity, sentence, record["type_list"])``
      (template "released", level 1: "... belong to which entity in the first list: a, b?")
      -> assistant = the entity's label.

    Yields a ``cascadener.training.CascadeTrainResult``: ``.extractor`` and ``.classifier`` are
    the same directory (load it with ``CascadeNER.from_pretrained(r.extractor, r.classifier)`` or
    ``AutoModelForCausalLM``/``AutoTokenizer``); ``.runs["model"]`` holds the loss history;
    ``.sft_report`` the conversation counts. Greedy generation reproduces every target exactly
    (asserted in tests/test_training.py).
    """
    from cascadener.training import MEMORISE, train_cascade

    return train_cascade(tiny_corpus, tmp_path_factory.mktemp("tiny-cascade"), one_model=True, options=MEMORISE)


def _tiny_method(tmp_path_factory, tiny_corpus, method: str):
    from cascadener.training import MEMORISE
    from cascadener.training.trainer import train_method

    return train_method(tiny_corpus, tmp_path_factory.mktemp(f"tiny-{method}"), method=method, options=MEMORISE)


@pytest.fixture(scope="session")
def tiny_gpt_ner(tmp_path_factory, tiny_corpus):
    """ONE tiny from-scratch model trained like ``tiny_cascade`` (:data:`cascadener.training.MEMORISE`) on
    GPT-NER's own format until it has memorised every question of ``tiny_corpus``: user = the GPT-NER
    extraction prompt for a sentence and one type of its list, no demonstration -> assistant = the
    sentence with that type's entities marked ``@@...##``. ``.extractor`` is the model folder, marked
    as fine-tuned for ``gpt-ner`` (so the method asks it without demonstrations)."""
    return _tiny_method(tmp_path_factory, tiny_corpus, "gpt-ner")


@pytest.fixture(scope="session")
def tiny_promptner(tmp_path_factory, tiny_corpus):
    """As ``tiny_gpt_ner``, on PromptNER's format: system = the definition of the sentence's type list and
    the question, user = "Paragraph: ... Answer:" -> assistant = the numbered list of its entities."""
    return _tiny_method(tmp_path_factory, tiny_corpus, "promptner")


@pytest.fixture(scope="session")
def untrained_tiny(tmp_path_factory) -> Path:
    """A tiny Qwen2 model folder, untrained (built in seconds, byte-level tokenizer: any text
    encodes), for tests where what a model predicts does not matter, only what the commands read
    and write around it. Slow: only for ``slow`` tests."""
    from cascadener.training.tiny import TinyModelOptions, create_tiny_model

    directory = tmp_path_factory.mktemp("untrained-tiny")
    create_tiny_model(["Ada met Bob in Rome .", "The Amazon flows through Peru and Brazil .",
                       "person city river country"], directory, vocab_size=300,
                      options=TinyModelOptions(hidden_size=32, intermediate_size=64, seed=1))
    return directory
