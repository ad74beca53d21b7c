"""Faults in what the commands write: an output that is one of the inputs, a full or read-only disk
under `cascadener run`, a re-run that fails half-way, two runs into one folder at once.

Full and read-only disks are real: a small tmpfs, mounted as root (the project's machines and CI
run as root). Where mounting is refused, those tests skip with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascadener.cli import main


def _one_line_error(err: str, command: str) -> str:
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"cascadener {command}: error: "), err
    return line


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# ------------------------------------------------------------------ evaluate never overwrites its inputs


def _predictions(folder: Path) -> tuple[Path, Path]:
    references = [{"text": "Paris", "label": "city", "start": 0, "end": 5}]
    predictions = _write_jsonl(folder / "pred.jsonl", [
        {"id": "a", "text": "Paris is nice .", "type_list": ["city"], "entities": references, "references": references},
        {"id": "b", "text": "Rome .", "type_list": ["city"], "entities": [], "references": []}])
    meta = folder / "pred.jsonl.meta.json"
    meta.write_text(json.dumps({"format": 2, "options": {"extractor": "m"}, "stats": {"sentences": 2},
                                "complete": True}), encoding="utf-8")
    return predictions, meta


@pytest.mark.parametrize("target", ["the predictions", "their meta file", "the predictions, spelled otherwise",
                                    "the predictions through a symbolic link", "the references", "the taxonomy"])
def test_evaluate_refuses_to_write_over_any_of_its_inputs(tmp_path, capsys, monkeypatch, target):
    predictions, meta = _predictions(tmp_path)
    references = _write_jsonl(tmp_path / "refs.jsonl", [{"id": "a", "text": "Paris is nice .", "entities": []},
                                                        {"id": "b", "text": "Rome .", "entities": []}])
    taxonomy = tmp_path / "taxonomy.json"
    taxonomy.write_text(json.dumps({"first-level": "city"}), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.jsonl").symlink_to(predictions)
    monkeypatch.chdir(tmp_path / "sub")
    output, extra = {
        "the predictions": (predictions, []),
        "their meta file": (meta, []),
        "the predictions, spelled otherwise": (Path("..") / "sub" / ".." / "pred.jsonl", []),
        "the predictions through a symbolic link": (tmp_path / "link.jsonl", []),
        "the references": (references, ["--jsonl", str(references)]),
        "the taxonomy": (taxonomy, ["--hierarchical", "--taxonomy", str(taxonomy)]),
    }[target]
    before = {p: p.read_bytes() for p in (predictions, meta, references, taxonomy)}
    assert main(["evaluate", str(predictions), "-o", str(output), *extra]) == 2
    line = _one_line_error(capsys.readouterr().err, "evaluate")
    assert line.startswith(f"cascadener evaluate: error: -o {output} is ")
    assert "an input of this evaluation" in line
    assert {p: p.read_bytes() for p in before} == before
    # the default output, beside the predictions, is not an input
    assert main(["evaluate", str(predictions)]) == 0
    assert (tmp_path / "pred.results.json").is_file()
