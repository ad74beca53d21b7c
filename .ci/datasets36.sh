#!/usr/bin/env bash
# CI step: dynamicner.py still loads as a script on datasets 3.6.
# A separate virtualenv gets datasets==3.6.0 and the project without dependencies (no torch);
# the main environment is not touched. Reuses the venv when it already has datasets 3.6.0.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${DATASETS36_VENV:-${TMPDIR:-/tmp}/dynamicner-datasets36-venv}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dynamicner-datasets36-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

if ! "$VENV/bin/python" -c 'import datasets, sys; sys.exit(datasets.__version__ != "3.6.0")' 2>/dev/null; then
    rm -rf "$VENV"
    python -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "datasets==3.6.0" "py7zr>=0.21"
fi
# Install a copy of the project (keeps build artefacts out of the checkout), without dependencies.
mkdir -p "$WORK/src"
tar -C "$ROOT" --exclude=.git --exclude='*.egg-info' --exclude=build --exclude=__pycache__ -cf - . \
    | tar -C "$WORK/src" -xf -
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$WORK/src"

cd "$WORK"
# A Hub-ready folder exported with the main environment's datasets (5.x) ...
HF_HOME="$WORK/hf5" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONPATH="$ROOT" \
    python -m dynamicner_data.cli export "$WORK/export" --configs de-coarse > /dev/null
# ... and the script itself, both loaded by datasets 3.6.
HF_HOME="$WORK/hf" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 "$VENV/bin/python" - "$ROOT/dynamicner.py" "$WORK/export" <<'PY'
import sys

import datasets

script = sys.argv[1]
assert datasets.__version__ == "3.6.0", datasets.__version__
checked = []
for name in ("de", "en-coarse"):
    ds = datasets.load_dataset(script, name, trust_remote_code=True)
    assert set(ds) == {"train", "validation", "test"}, ds
    row = ds["train"][0]
    assert set(row) == {"id", "language", "text", "tokens", "ner_tags", "entities", "type_list"}, row
    for part in ds.values():
        for sample in part:
            for entity in sample["entities"]:
                assert entity["label"] in sample["type_list"], (sample["id"], entity)
                if entity["start"] >= 0:
                    assert sample["text"][entity["start"]:entity["end"]] == entity["text"], (sample["id"], entity)
    checked.append(f"{name}: {', '.join(f'{s} {len(p)}' for s, p in ds.items())}")
print("datasets 3.6 script load ok:", "; ".join(checked))
exported = datasets.load_dataset(sys.argv[2], "de-coarse")
script_rows = datasets.load_dataset(script, "de-coarse", trust_remote_code=True)
for split in ("train", "validation", "test"):
    assert exported[split].to_list() == script_rows[split].to_list(), split
assert exported["test"].features["ner_tags"] == script_rows["test"].features["ner_tags"]
print("datasets 3.6 reads the exported Parquet folder (de-coarse) with the same rows and ClassLabel features")
PY
