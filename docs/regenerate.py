"""Regenerate the printed outputs the docs show, from real runs: never edit them by hand.

Each section is the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in one doc. This
script runs the commands that section shows, offline, in a work folder (a fresh ``HF_HOME`` inside
it), and writes what they print between the markers, as a terminal shows it, with the date, the
cores and the load average of the run (timings are this machine's, on the day). Left out, and said
so in the docs: the progress bars of other libraries (``Loading weights``, ``Writing model
shards``) and the Trainer's per-step loss log, which go to stderr.

    python docs/regenerate.py --list                     # the sections, what each runs, how long
    python docs/regenerate.py pipeline-session pipeline-python
    python docs/regenerate.py                            # every section
    python docs/regenerate.py --work /tmp/docs-work ...  # keep the work folder (models are reused)

Run it from the repository root with the project installed (``pip install -e ".[test]"``).
``tests/test_docs.py`` checks what can drift without a run: the counts a doc prints are the fields
of ``PredictStats``, and every section named here has its markers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@dataclass(frozen=True)
class Section:
    name: str
    doc: Path
    about: str
    write: Callable[["Work"], str]


class Work:
    """The work folder: commands run there, offline, with their own ``HF_HOME``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, HF_HOME=str(folder / "hf"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
                        TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", TOKENIZERS_PARALLELISM="false",
                        PYTHONUNBUFFERED="1")

    def run(self, shown: str, argv: list[str] | None = None, *, stderr: bool = True, expect_status: int = 0) -> str:
        """``$ shown`` and what the command printed (stdout and, with ``stderr``, stderr as a terminal
        interleaves them; of a progress bar, its last state). ``argv`` runs instead of ``shown``;
        ``expect_status``: the exit status the session shows (a refusal's 2)."""
        argv = argv or shown.split()
        modules = {"cascadener": "cascadener", "dynamicner": "dynamicner_data.cli", "inspect": "inspect_ai"}
        if argv[0] in modules:  # the console script's module, on this interpreter
            argv = [sys.executable, "-m", modules[argv[0]], *argv[1:]]
        print(f"$ {shown}", file=sys.stderr, flush=True)
        done = subprocess.run(argv, cwd=self.folder, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT if stderr else subprocess.PIPE, text=True)
        printed = terminal_text(done.stdout)
        if done.returncode != expect_status:
            raise SystemExit(f"`{shown}` exited with status {done.returncode}, not {expect_status}:\n{printed}"
                             f"{done.stderr or ''}")
        return f"$ {shown}\n{printed}"


# other libraries' progress bars and the Trainer's per-step log (stderr): left out of the docs
_NOISE = re.compile(r"^((Loading weights|Writing model shards|Generating \w+ split|Map)\b.*\||\{'(loss|train_runtime)': )")
_BAR = re.compile(r"^([\w -]+): +\d+%\|")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def terminal_text(raw: str) -> str:
    """What a terminal shows of ``raw``, less noise: each line's last carriage-return state, one line per
    progress bar (its last), other libraries' progress bars and the blank lines they leave dropped.

    >>> terminal_text("\\x1b[1mResults\\x1b[0m\\n")
    'Results\\n'
    >>> print(terminal_text("\\nLoading weights: 100%|##| 26/26\\n\\npredict:   0%|  | 0/2\\n"
    ...                     "predict:  50%|# | 1/2\\rpredict: 100%|##| 2/2\\nwrote 2 predictions\\n\\ndone\\n"), end="")
    predict: 100%|##| 2/2
    wrote 2 predictions
    <BLANKLINE>
    done
    """
    raw = _ANSI.sub("", raw)  # colours and bold: a terminal shows none of the codes
    lines = [line.rsplit("\r", 1)[-1].rstrip() for line in raw.split("\n")]
    kept: list[str] = []
    for index, line in enumerate(lines):
        following = next((later for later in lines[index + 1:] if later), "")
        if _NOISE.match(line) or (not line and (not kept or not kept[-1] or _NOISE.match(following))):
            continue
        bar = _BAR.match(line)
        if bar and kept and kept[-1].startswith(bar.group(1) + ":"):
            kept[-1] = line
        else:
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "".join(line + "\n" for line in kept)


def replace_block(path: Path, name: str, text: str) -> None:
    """Write ``text`` between the ``name`` markers of ``path`` (the markers must be there once each)."""
    doc = path.read_text(encoding="utf-8")
    begin, end = f"<!-- BEGIN {name} -->\n", f"<!-- END {name} -->"
    if doc.count(begin) != 1 or doc.count(end) != 1:
        raise SystemExit(f"{path}: needs one '{begin.strip()}' and one '{end}'")
    head, rest = doc.split(begin)
    _, tail = rest.split(end)
    path.write_text(head + begin + text.rstrip("\n") + "\n" + end + tail, encoding="utf-8")


def fenced(language: str, text: str) -> str:
    return f"```{language}\n{text.rstrip()}\n```"


def when() -> str:
    """The date, the cores and the load average now, for the line above a printed session."""
    return (f"Run {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores, load average "
            f"{os.getloadavg()[0]:.1f} (other libraries' progress bars and the Trainer's loss log left out):\n\n")


# ------------------------------------------------------------------------------------------ docs/pipeline.md

PIPELINE_TRAIN = "cascadener train --dataset en --split train -o models --one-model --epochs 40 --threads 1 --no-progress"


def pipeline_session(work: Work) -> str:
    """The command-line session of docs/pipeline.md: train a tiny model on the English train split,
    predict 8 of the sentences it trained on, score them."""
    work.run("dynamicner prepare en")  # set-up, not shown: the builds the session reads are cached
    shutil.rmtree(work.folder / "models", ignore_errors=True)
    for name in ("train-preds.jsonl", "train-preds.jsonl.meta.json", "train-preds.results.json"):
        (work.folder / name).unlink(missing_ok=True)
    stamp = when()
    parts = [work.run(PIPELINE_TRAIN),
             work.run("cascadener predict --dataset en --split train --limit 8 --extractor models/model "
                      "-o train-preds.jsonl"),
             work.run("cascadener evaluate train-preds.jsonl --labels 5")]
    return stamp + fenced("console", "\n".join(part.rstrip("\n") + "\n" for part in parts))


def pipeline_python(work: Work) -> str:
    """The printed output of the Python example of docs/pipeline.md (the code as the doc shows it), on
    the model the session trained."""
    if not (work.folder / "models" / "model" / "config.json").is_file():
        work.run("dynamicner prepare en")
        work.run(PIPELINE_TRAIN)
    doc = (DOCS / "pipeline.md").read_text(encoding="utf-8")
    code = re.search(r"## Python\n\n```python\n(.*?)```", doc, flags=re.S).group(1)
    printed = work.run("python", [sys.executable, "-c", code], stderr=False).split("\n", 1)[1]
    return fenced("", printed)


# ------------------------------------------------------------------------------------------- docs/inspect.md

def inspect_session(work: Work) -> str:
    """The session of docs/inspect.md: the Inspect task on the model of the pipeline session, through
    Inspect's transformers provider, on the 8 training sentences that session predicted."""
    if not (work.folder / "models" / "model" / "config.json").is_file():
        work.run("dynamicner prepare en")
        work.run(PIPELINE_TRAIN)
    shutil.rmtree(work.folder / "logs", ignore_errors=True)
    stamp = when()
    run = work.run("inspect eval cascadener/dynamicner -T config=en -T split=train --limit 8 --model hf/tiny "
                   "-M model_path=models/model -M do_sample=false --log-dir logs")
    return stamp + fenced("console", run)


# ------------------------------------------------------------------------------------------- docs/serving.md

def _tiny_records() -> list[dict]:
    return json.loads((ROOT / "tests" / "fixtures" / "tiny_corpus.json").read_text(encoding="utf-8"))["records"]


def _tiny_jsonl(work: Work) -> None:
    """The tests' 8 memorised sentences, with their gold, as ``tiny.jsonl`` in the work folder."""
    lines = [{"id": r["id"], "text": r["text"], "type_list": r["type_list"],
              "entities": [{k: e[k] for k in ("text", "label", "start", "end")} for e in r["entities"]]}
             for r in _tiny_records()]
    (work.folder / "tiny.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def _tiny_memorised(work: Work) -> Path:
    """The tests' tiny memorising model (``tiny-model``) and its 8 sentences (``tiny.jsonl``) in the work folder."""
    from cascadener.training import MEMORISE, train_cascade

    model = work.folder / "tiny-model"
    if not (model / "config.json").is_file():
        shutil.rmtree(work.folder / "tiny-training", ignore_errors=True)
        trained = train_cascade(_tiny_records(), work.folder / "tiny-training", one_model=True, options=MEMORISE)
        shutil.move(str(trained.extractor), model)
    _tiny_jsonl(work)
    return model


def serving_session(work: Work) -> str:
    """The served session of docs/serving.md: the tests' tiny memorising sentences, learnt by an
    extractor and a classifier (two models), both served by ONE unpinned ``transformers serve``;
    the default refused (the server applies no choice constraint), then ``--off-list closest``
    predicted and scored through the server, and what the probe recorded."""
    from cascadener.testing.launch import LocalServer
    from cascadener.training import MEMORISE, train_cascade

    models = work.folder / "tiny"
    if not all((models / role / "config.json").is_file() for role in ("extractor", "classifier")):
        shutil.rmtree(work.folder / "tiny-training", ignore_errors=True)
        trained = train_cascade(_tiny_records(), work.folder / "tiny-training", options=MEMORISE)
        models.mkdir(exist_ok=True)
        for role, path in (("extractor", trained.extractor), ("classifier", trained.classifier)):
            shutil.rmtree(models / role, ignore_errors=True)
            shutil.move(str(path), models / role)
    _tiny_jsonl(work)
    for name in ("preds.jsonl", "preds.jsonl.meta.json", "preds.results.json"):
        (work.folder / name).unlink(missing_ok=True)
    os.chdir(work.folder)  # the server is started there: it loads the models by their relative names
    stamp = when()
    server = LocalServer("tiny/extractor", pinned=False, log_path=work.folder / "serve.log")
    with server:
        log = terminal_text(server.log_path.read_text(encoding="utf-8", errors="replace")).splitlines()
        started = next(i for i, line in enumerate(log) if "Uvicorn running" in line)
        serve = (f"$ transformers serve --host 127.0.0.1 --port {server.port} &\n"
                 + "\n".join(log[: started + 1]) + "\n")
        command = (f"cascadener predict --jsonl tiny.jsonl --backend openai --base-url {server.base_url} "
                   "--model tiny/extractor --classifier-model tiny/classifier --concurrency 4 -o preds.jsonl")
        refused = work.run(command, expect_status=2)
        predict = work.run(command + " --off-list closest")
    probe = ("import json; meta = json.load(open('preds.jsonl.meta.json')); "
             "print(json.dumps({'applied': meta['applied'], 'probe': meta['backends']['classifier']['probe']}, "
             "indent=1))")
    shown = work.run(f'python -c "{probe}"', [sys.executable, "-c", probe])
    head = "$ head -1 preds.jsonl\n" + (work.folder / "preds.jsonl").read_text(encoding="utf-8").splitlines()[0] + "\n"
    evaluate = work.run("cascadener evaluate preds.jsonl")
    return stamp + fenced("console", "".join(part.rstrip("\n") + "\n"
                                             for part in (serve, refused, predict, shown, head, evaluate)))


# --------------------------------------------------------------------------------------------- docs/scale.md

def scale_session(work: Work) -> str:
    """The local session of docs/scale.md: the whole input, three parts and their merge, two Ray workers."""
    _tiny_memorised(work)
    for path in work.folder.glob("*.jsonl*"):
        if path.name != "tiny.jsonl":
            path.unlink()
    common = "--jsonl tiny.jsonl --extractor tiny-model --device cpu --chunk-size 3 --no-progress"
    stamp = when()
    parts = [work.run(f"cascadener predict {common} -o whole.jsonl")]
    parts += [work.run(f"cascadener predict {common} --shard {i}/3 -o part-{i}.jsonl") for i in range(3)]
    parts.append(work.run("cascadener merge -o merged.jsonl part-2.jsonl part-0.jsonl part-1.jsonl"))
    same = 'cmp merged.jsonl whole.jsonl && echo "merged.jsonl: the same bytes as whole.jsonl"'
    parts.append(work.run(same, ["bash", "-c", same]))
    parts.append(work.run(f"cascadener predict {common} --executor ray --workers 2 -o ray.jsonl"))
    same = 'cmp ray.jsonl whole.jsonl && echo "ray.jsonl: the same bytes as whole.jsonl"'
    parts.append(work.run(same, ["bash", "-c", same]))
    parts.append(work.run("cascadener evaluate merged.jsonl --labels 0"))
    return stamp + fenced("console", "".join(part.rstrip("\n") + "\n" for part in parts))


# ------------------------------------------------------------------------------------------- docs/spacy.md

def spacy_session(work: Work) -> str:
    """The session of docs/spacy.md: its Python code as the doc shows it, run in the work folder on the
    memorising tiny model, then ``spacy evaluate`` on the pipeline and gold it saved."""
    _tiny_memorised(work)
    shutil.rmtree(work.folder / "tiny-pipeline", ignore_errors=True)
    (work.folder / "gold.spacy").unlink(missing_ok=True)
    doc = (DOCS / "spacy.md").read_text(encoding="utf-8")
    code = re.search(r"## A session\n.*?```python\n(.*?)```", doc, flags=re.S).group(1)
    stamp = when()
    printed = work.run("python", [sys.executable, "-c", code], stderr=False).split("\n", 1)[1]
    evaluate = work.run("python -m spacy evaluate tiny-pipeline gold.spacy",
                        [sys.executable, "-m", "spacy", "evaluate", "tiny-pipeline", "gold.spacy"], stderr=False)
    return (stamp + fenced("", printed) + "\n\n`spacy evaluate` on the saved pipeline and the gold file:\n\n"
            + fenced("console", evaluate))


# ---------------------------------------------------------------------------------- docs/pipeline.md: scores

def calibration(work: Work) -> str:
    """The reliability tables of docs/pipeline.md: the main job's tiny models (``cascadener run``, trained
    here once) on the embedded test split (unseen) and train split (seen in training)."""
    models = work.folder / "cascadener-run" / "models"
    if not (models / "extractor" / "config.json").is_file():
        work.run("cascadener run --no-progress -o cascadener-run")
    stamp = when()
    shown = ("python docs/calibration.py --extractor cascadener-run/models/extractor "
             "--classifier cascadener-run/models/classifier --split test --split train "
             "--label unseen --label seen-in-training")
    argv = [sys.executable, str(DOCS / "calibration.py"), *shown.split()[2:]]
    return stamp + fenced("console", work.run(shown, argv, stderr=False))
# ----------------------------------------------------------------------------------------- docs/methods.md

def methods_python(work: Work) -> str:
    """The printed output of the "Real prompts" example of docs/methods.md (the code as the doc shows it)."""
    work.run("dynamicner prepare en")
    doc = (DOCS / "methods.md").read_text(encoding="utf-8")
    code = re.search(r"## Real prompts\n.*?```python\n(.*?)```", doc, flags=re.S).group(1)
    printed = work.run("python", [sys.executable, "-c", code], stderr=False).split("\n", 1)[1]
    return fenced("", printed)


_COST = r"""
import json, sys
from dynamicner_data import LANGUAGES
from dynamicner_data.builder import prepare
from cascadener.methods import DemonstrationPool
from cascadener.methods.demonstrations import choose_covering, choose_for_type
from cascadener.methods.gpt_ner.prompts import extraction_prompt, verification_prompt
from cascadener.methods.promptner.prompts import chat_prompt, exemplar_text
from cascadener.prompts import SYSTEM_PROMPT, stage1_prompt, stage2_prompt

rows = {"cascadener": [0, 0], "gpt-ner": [0, 0], "gpt-ner --verify": [0, 0], "promptner": [0, 0]}
sentences = 0
for language in LANGUAGES:
    builder = prepare(language)
    pool = DemonstrationPool(builder.as_dataset(split="train"))
    for sample in builder.as_dataset(split="test"):
        sentences += 1
        text, types, gold = sample["text"], sample["type_list"], sample["entities"]
        c = [SYSTEM_PROMPT + stage1_prompt(text)] + [SYSTEM_PROMPT + stage2_prompt(e["text"], text, types) for e in gold]
        g = []
        for name in types:
            demos = choose_for_type(pool, text=text, language=language, type=name, k=8, seed=0).demonstrations
            g.append(extraction_prompt(text, name, [(d.text, d.spans(name)) for d in demos]))
        v = [verification_prompt(text, e["text"], e["label"]) for e in gold]
        chosen = choose_covering(pool, text=text, language=language, types=types, k=3, seed=0).demonstrations
        chat = chat_prompt(text, types, [exemplar_text(d.text, d.entities_for(types), types) for d in chosen])
        for key, prompts in (("cascadener", c), ("gpt-ner", g), ("gpt-ner --verify", g + v), ("promptner", [chat.text])):
            rows[key][0] += len(prompts)
            rows[key][1] += sum(len(prompt) for prompt in prompts)
print(f"{sentences} test sentences (8 languages), mean per sentence:")
print(f"{'method':<18}{'requests':>10}{'prompt characters':>19}")
for key, (requests, characters) in rows.items():
    print(f"{key:<18}{requests / sentences:>10.2f}{characters / sentences:>19,.0f}")
"""


def methods_cost(work: Work) -> str:
    """Requests and prompt characters per sentence of each method on the embedded sample's test split."""
    from dynamicner_data import LANGUAGES

    for language in LANGUAGES:
        work.run(f"dynamicner prepare {language}")
    printed = work.run("python", [sys.executable, "-c", _COST], stderr=False).split("\n", 1)[1]
    return fenced("", printed)


# --------------------------------------------------------------------------------------- docs/development.md

def _pytest(work: Work, marker: str) -> str:
    """The summary line of ``pytest -m marker`` on the checkout (e.g. ``804 passed, 154 deselected in 27.03s``)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", marker, "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - started
    summary = done.stdout.strip().splitlines()[-1].strip("= ")
    if done.returncode != 0:
        failures = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        raise SystemExit(f"pytest -m {marker!r} failed: {summary}\n" + "\n".join(failures))
    return f"{summary} ({wall:.0f} s wall)"


def suite_counts(work: Work) -> str:
    """The fast loop and the slow tests: counted and timed on this machine today."""
    load = os.getloadavg()[0]
    fast = _pytest(work, "not slow")
    slow = _pytest(work, "slow")
    return textwrap.fill(
        f"Measured {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores, load average "
        f"{load:.1f} before the runs) by `python docs/regenerate.py suite-counts`: the fast loop "
        f"`-m \"not slow\"`: {fast}; the slow tests alone, `-m slow`: {slow}.", width=100)


SECTIONS = (
    Section("pipeline-session", DOCS / "pipeline.md", "train, predict, evaluate on the English sample (~6 min)",
            pipeline_session),
    Section("pipeline-python", DOCS / "pipeline.md", "the Python example on that model (~30 s after the session)",
            pipeline_python),
    Section("serving-session", DOCS / "serving.md", "two tiny models on one transformers serve (~5 min)",
            serving_session),
    Section("inspect-session", DOCS / "inspect.md", "the Inspect task on that model, hf/ provider (~1 min after it)",
            inspect_session),
    Section("scale-session", DOCS / "scale.md", "shards, merge and two Ray workers on the tiny model (~4 min)",
            scale_session),
    Section("spacy-session", DOCS / "spacy.md", "the spaCy component on the memorising tiny model (~2 min)",
            spacy_session),
    Section("calibration", DOCS / "pipeline.md", "reliability tables of the main job's tiny models (~12 min, "
            "~2 min once cascadener-run/ is in the work folder)", calibration),
    Section("methods-python", DOCS / "methods.md", "the prompts each method sends, on the English sample (~20 s)",
            methods_python),
    Section("methods-cost", DOCS / "methods.md", "requests and prompt size per sentence of each method (~1 min)",
            methods_cost),
    Section("suite-counts", DOCS / "development.md", "the fast loop and the slow tests (~10 min)", suite_counts),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION", help="sections to regenerate (default: all)")
    parser.add_argument("--work", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    args = parser.parse_args(argv)
    by_name = {section.name: section for section in SECTIONS}
    if args.list:
        for section in SECTIONS:
            print(f"{section.name:<18} {section.doc.relative_to(ROOT)}: {section.about}")
        return 0
    unknown = [name for name in args.sections if name not in by_name]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(by_name)}")
    folder = args.work or Path(tempfile.mkdtemp(prefix="dynamicner-docs-"))
    work = Work(folder.resolve())
    here = Path.cwd()
    try:
        for name in args.sections or list(by_name):
            section = by_name[name]
            text = section.write(work)
            os.chdir(here)
            replace_block(section.doc, section.name, text)
            print(f"wrote {section.doc.relative_to(ROOT)} <!-- {section.name} -->", file=sys.stderr)
    finally:
        os.chdir(here)
        if args.work is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
