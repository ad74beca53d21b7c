"""Export DynamicNER configs as a Hub-ready folder: Parquet per config and split, plus a card.

The folder layout is the one ``DatasetDict.push_to_hub`` writes and the Hub serves::

    OUT_DIR/
      README.md                                  # card: YAML configs + dataset_info, statistics
      de/train-00000-of-00001.parquet            # one folder per config
      de/validation-00000-of-00001.parquet
      ...

``datasets.load_dataset(OUT_DIR, "de")`` (also with ``streaming=True``) reads it natively, and
``huggingface_hub.HfApi().upload_folder(repo_id=..., repo_type="dataset", folder_path=OUT_DIR)``
publishes it unchanged.

Each config is built fresh in a temporary cache (so its build summary, with the alignment
counts, is always available) and written with ``Dataset.to_parquet``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import datasets

from dynamicner_data import card as card_module
from dynamicner_data.atomic import atomic_path, atomic_write_text
from dynamicner_data.eval_yaml import eval_yaml_data, eval_yaml_text
from dynamicner_data.records import BuildSummary


@dataclass(frozen=True)
class SourceOptions:
    """Where the builder reads from (see ``dynamicner.py``): all ``None``/``False`` = embedded sample.

    >>> SourceOptions().describe(), SourceOptions().builder_kwargs()
    ('the embedded sample', {})
    >>> local = SourceOptions(data_dir="AnythingNER")
    >>> local.describe(), local.builder_kwargs()
    ('the local copy AnythingNER', {'data_dir': 'AnythingNER'})
    """

    data_dir: Optional[str] = None
    data_files: Optional[dict[str, list[str]]] = None
    release: bool = False

    def builder_kwargs(self) -> dict:
        """The keyword arguments of ``DynamicNER(...)`` these options stand for."""
        out: dict = {}
        if self.data_dir is not None:
            out["data_dir"] = self.data_dir
        if self.data_files is not None:
            out["data_files"] = self.data_files
        if self.release:
            out["release"] = True
        return out

    def describe(self) -> str:
        if self.data_files:
            return "the data files " + ", ".join(p for paths in self.data_files.values() for p in paths)
        if self.data_dir:
            return f"the local copy {self.data_dir}"
        if self.release:
            return "the official release (CascadeNER/AnythingNER)"
        return "the embedded sample"


@dataclass
class BuiltConfig:
    """One config built from scratch: its splits, build summary and statistics."""

    name: str
    dataset: datasets.DatasetDict
    info: datasets.DatasetInfo
    summary: BuildSummary
    report: card_module.ConfigReport


def build_config(name: str, *, source: SourceOptions, cache_dir: str) -> BuiltConfig:
    """Build ``name`` from scratch in ``cache_dir`` and compute its report."""
    from dynamicner_data.builder import DynamicNER

    builder = DynamicNER(config_name=name, cache_dir=cache_dir, **source.builder_kwargs())
    builder.download_and_prepare(download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD)
    dataset = builder.as_dataset()
    summary = builder.build_summary
    if summary is None:  # pragma: no cover - FORCE_REDOWNLOAD always generates
        raise RuntimeError(f"config {name!r}: the builder produced no build summary")
    report = card_module.config_report(
        name,
        dataset,
        summary,
        builder.taxonomy(),
        language=builder.config.language,
        granularity=builder.config.granularity,
    )
    return BuiltConfig(name=name, dataset=dataset, info=builder.info, summary=summary, report=report)


def export(
    out_dir: str | Path,
    configs: Sequence[str],
    *,
    source: SourceOptions = SourceOptions(),
    default_config: Optional[str] = None,
) -> list[card_module.ConfigReport]:
    """Write ``configs`` to ``out_dir`` as Parquet + ``README.md`` card; return their reports.

    Also writes ``eval.yaml`` (the benchmark's tasks: :mod:`dynamicner_data.eval_yaml`) and
    ``statistics.json`` (the reports and build summaries) beside the card. Everything is written to
    a temporary sibling folder first and renamed into place only when every config was built: a
    failure (bad input in a later config, a full disk) leaves ``out_dir`` as it was. Files of an
    existing ``out_dir`` that the export does not write (``.git``, ...) are kept.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "the export folder exists and is not a folder", str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        reports = _write(stage, configs, source=source, default_config=default_config)
        _move_into_place(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return reports


def _move_into_place(stage: Path, out: Path) -> None:
    """Rename the finished folder ``stage`` to ``out``; into an existing ``out`` (a clone of the Hub
    repo, say), rename each written entry over its namesake and leave other files alone."""
    if not out.exists():
        os.replace(stage, out)
        return
    for entry in sorted(stage.iterdir()):
        with atomic_path(out / entry.name) as partial:
            os.replace(entry, partial)


def _write(
    out: Path,
    configs: Sequence[str],
    *,
    source: SourceOptions,
    default_config: Optional[str],
) -> list[card_module.ConfigReport]:
    reports: list[card_module.ConfigReport] = []
    infos: dict[str, datasets.DatasetInfo] = {}
    data_files: dict[str, dict[str, str]] = {}
    summaries: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="dynamicner-export-") as cache_dir:
        for name in configs:
            built = build_config(name, source=source, cache_dir=cache_dir)
            data_files[name] = {}
            for split, part in built.dataset.items():
                relative = f"{name}/{split}-00000-of-00001.parquet"
                (out / name).mkdir(parents=True, exist_ok=True)
                part.to_parquet(str(out / relative))
                data_files[name][split] = f"{name}/{split}-*.parquet"
            infos[name] = built.info
            reports.append(built.report)
            summaries[name] = built.summary.to_dict()
            del built
    if default_config is None:
        default_config = "all" if "all" in configs else configs[0]
    benchmark = eval_yaml_data([name for name in configs if "test" in data_files[name]])
    card = card_module.render_card(
        reports,
        infos,
        data_files,
        default_config=default_config,
        source=source.describe(),
        license="apache-2.0" if source == SourceOptions() else "unknown",
        tasks=benchmark["tasks"],
    )
    atomic_write_text(out / "README.md", str(card))
    if benchmark["tasks"]:  # a benchmark needs test splits
        atomic_write_text(out / "eval.yaml", eval_yaml_text(benchmark))
    (out / "statistics.json").write_text(
        json.dumps(
            {"configs": [r.to_dict() for r in reports], "build_summaries": summaries}, indent=2, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    return reports
