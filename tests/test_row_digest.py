"""Every row of every config, pinned: a digest of the features, ids, text, tokens, tags, entities and type lists.

The digests in ``tests/fixtures/row_digests.json`` pin what the builder yields; a refactor of the
reader, the type-list algorithm or the builder must keep them. The features enter as their
``to_dict()`` (canonical JSON), the form ``datasets`` serialises them in, so a cosmetic change of
their ``repr`` in a new ``datasets`` changes nothing. A deliberate change of behaviour regenerates
them with::

    python tests/test_row_digest.py --write

and says so in its commit message.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "row_digests.json"
SHARED_EN = "dynamicner-example-en.json"


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode()


def _digest(dataset_dict) -> dict[str, str]:
    """sha256 per split over the features and every row as canonical JSON, in row order."""
    out = {}
    for split in sorted(dataset_dict):
        part = dataset_dict[split]
        digest = hashlib.sha256(_canonical(part.features.to_dict()))
        for row in part.to_list():
            digest.update(_canonical(row))
            digest.update(b"\n")
        out[split] = f"{len(part)}:{digest.hexdigest()}"
    return out


def _builder_class():
    from dynamicner import DynamicNER

    return DynamicNER


def embedded_digests(cache_dir: str) -> dict[str, dict[str, str]]:
    builder_class = _builder_class()
    out = {}
    for config in builder_class.BUILDER_CONFIGS:
        builder = builder_class(config_name=config.name, dataset_name="dynamicner", hash="digest", cache_dir=cache_dir)
        builder.download_and_prepare()
        out[config.name] = _digest(builder.as_dataset())
    return out


def shared_digests(cache_dir: str, shared: Path) -> dict[str, dict[str, str]]:
    builder_class = _builder_class()
    out = {}
    for name in ("en", "en-coarse", "en-medium", "en-fine"):
        builder = builder_class(
            config_name=name,
            dataset_name="dynamicner",
            hash="digest",
            cache_dir=cache_dir,
            data_files={"test": str(shared / "geic" / SHARED_EN)},
        )
        builder.download_and_prepare()
        out[name] = _digest(builder.as_dataset())
    return out


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_embedded_sample_rows_unchanged(recorded, tmp_path):
    now = embedded_digests(str(tmp_path))
    assert len(now) == 36
    changed = sorted(name for name in now if now[name] != recorded["embedded"].get(name))
    assert not changed, f"rows changed in configs {changed}"
    assert now == recorded["embedded"]


def test_the_digest_reads_the_features_by_value_not_their_repr(monkeypatch):
    import datasets

    table = datasets.DatasetDict({"test": datasets.Dataset.from_dict({"a": ["x"], "b": [1]})})
    before = _digest(table)
    monkeypatch.setattr(datasets.Features, "__repr__", lambda self: "Features(in another spelling)")
    assert _digest(table) == before
    retyped = datasets.DatasetDict({"test": table["test"].cast_column("b", datasets.Value("int32"))})
    assert retyped["test"].to_list() == table["test"].to_list() and _digest(retyped) != before


@pytest.mark.slow
def test_shared_english_sample_rows_unchanged(recorded, tmp_path, shared_data):
    from dynamicner_data.geic import GeicAlignmentWarning

    with pytest.warns(GeicAlignmentWarning, match="8 entities not found in their sentence"):  # the shared README's count
        now = shared_digests(str(tmp_path), shared_data)
    assert now == recorded["shared-en"]


def _write() -> None:  # pragma: no cover - run by hand
    import tempfile

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    with tempfile.TemporaryDirectory() as tmp:
        data = {"embedded": embedded_digests(tmp), "shared-en": shared_digests(tmp, shared)}
    FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_row_digest.py --write")
    _write()
