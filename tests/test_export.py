"""Hub-ready export: Parquet per config and split, README.md card (YAML configs + dataset_info,
label statistics) that ``datasets`` loads natively, eagerly and streaming; the stats command."""

from __future__ import annotations

import json

import datasets
import pytest
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

import dynamicner
from dynamicner_data import cli
from dynamicner_data.card import STATISTICS
from dynamicner_data.export import SourceOptions, export
from dynamicner_data.taxonomy import Taxonomy
from dynamicner_data.typelists import label_statistics, label_variation

datasets.disable_progress_bars()

CONFIGS = ["en", "en-medium", "de-fine"]


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "dynamicner-hub"
    reports = export(out, CONFIGS)
    return out, {r.name: r for r in reports}


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """The same configs built directly by the builder (the export must equal them)."""
    cache = tmp_path_factory.mktemp("reference-cache")
    out = {}
    for name in CONFIGS:
        builder = dynamicner.DynamicNER(config_name=name, cache_dir=str(cache))
        builder.download_and_prepare()
        out[name] = builder.as_dataset()
    return out


def test_folder_layout(exported):
    out, _ = exported
    for name in CONFIGS:
        assert sorted(p.name for p in (out / name).iterdir()) == [
            "test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"
        ]
    assert (out / "README.md").is_file() and (out / "statistics.json").is_file()


def test_load_dataset_reads_the_folder_natively(exported, reference):
    out, _ = exported
    for name in CONFIGS:
        loaded = datasets.load_dataset(str(out), name)
        assert set(loaded) == set(reference[name])
        for split in loaded:
            assert loaded[split].features == reference[name][split].features
            assert loaded[split].to_list() == reference[name][split].to_list()
    # static configs keep their ClassLabel names through Parquet
    fine = datasets.load_dataset(str(out), "de-fine", split="test")
    assert fine.features["ner_tags"].feature.num_classes == 311


def test_streaming_reads_the_folder(exported, reference):
    out, _ = exported
    stream = datasets.load_dataset(str(out), "en", split="validation", streaming=True)
    rows = list(stream)
    assert rows == reference["en"]["validation"].to_list()


def test_card_yaml_has_configs_and_dataset_info(exported):
    out, _ = exported
    card = DatasetCard.load(out / "README.md")
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    assert set(configs) == set(CONFIGS)
    assert configs["en"]["data_files"] == [
        {"split": "train", "path": "en/train-*.parquet"},
        {"split": "validation", "path": "en/validation-*.parquet"},
        {"split": "test", "path": "en/test-*.parquet"},
    ]
    assert configs.get_default_config_name() == "en"
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    assert set(infos) == set(CONFIGS)
    assert infos["de-fine"].features["ner_tags"].feature.names[:3] == ["O", "B-politician", "I-politician"]
    assert infos["en"].splits["train"].num_examples > 0
    assert card.data.task_categories == ["token-classification"]
    assert sorted(card.data.language) == ["de", "en"]


def test_card_publishes_label_statistics_that_match_an_independent_computation(exported, reference):
    out, reports = exported
    text = (out / "README.md").read_text(encoding="utf-8")
    taxonomy = Taxonomy.dynamicner()
    # medium: every label is the entity's second-level type, so the statistics follow from the paths
    rows = [row for part in reference["en-medium"].values() for row in part]
    nodes = [taxonomy.at_level(taxonomy.get(tuple(e["path"])), 2) for row in rows for e in row["entities"]]
    expected = label_statistics(nodes, taxonomy).to_dict()
    report = reports["en-medium"]
    assert report.statistics == pytest.approx(expected, abs=1e-6)
    assert report.labels == len(set(nodes))
    assert report.entities == len(nodes)
    line = next(line for line in text.splitlines() if line.startswith("| en-medium |"))
    for key in STATISTICS:
        assert f"{expected[key]:.4f}" in line
    # the share of repeated strings with several labels, from the rows
    variation = label_variation((e["text"], e["label"]) for row in rows for e in row["entities"])
    assert (report.repeated_strings, report.repeated_with_different_labels) == (
        variation.repeated_strings, variation.varied_strings
    )
    dynamic = reports["en"]
    assert set(dynamic.statistics) == set(STATISTICS)
    assert dynamic.type_list_min < dynamic.type_list_max
    saved = json.loads((out / "statistics.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in saved["configs"]] == CONFIGS
    assert saved["build_summaries"]["en"]["unaligned"] == dynamic.unaligned


def test_export_command_and_bad_config(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "out"), "--configs", "all-coarse"]) == 0
    assert "| all-coarse | coarse |" in capsys.readouterr().out
    loaded = datasets.load_dataset(str(tmp_path / "out"), "all-coarse", split="test")
    assert set(loaded["language"]) == {"en", "es", "fr", "ru", "de", "zh", "ja", "ko"}
    card = DatasetCard.load(tmp_path / "out" / "README.md")
    assert sorted(card.data.language) == sorted(loaded.unique("language"))
    assert card.data.license == "apache-2.0"
    capsys.readouterr()
    assert cli.main(["export", str(tmp_path / "bad"), "--configs", "de-finest"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dynamicner export: error: unknown config(s) de-finest; expected names among ")
    assert "Traceback" not in err and not (tmp_path / "bad").exists()


def test_stats_command_prints_every_statistic(capsys):
    assert cli.main(["stats", "en-coarse", "--json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["name"] == "en-coarse" and set(report["statistics"]) == set(STATISTICS)
    assert report["labels"] <= 8 and report["type_list_min"] == report["type_list_max"] == 8
    assert cli.main(["stats", "en"]) == 0
    printed = capsys.readouterr().out
    assert "build summary of config 'en'" in printed and "| en | dynamic |" in printed
    assert "normalized entropy" in printed


def test_cli_reports_bad_geic_input_by_file_and_sample(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"k1": {"sentence": "Ana .", "entity": ["Ana"], "category": ["wizard"]}}), encoding="utf-8")
    assert cli.main(["stats", "en", "--data-files", f"train={bad}"]) == 2
    err = capsys.readouterr().err
    assert "GeicError" in err and "bad.json" in err and "k1" in err and "wizard" in err
    assert cli.main(["stats", "en", "--data-files", "train"]) == 2
    assert capsys.readouterr().err == "dynamicner stats: error: --data-files expects SPLIT=PATH, got 'train'\n"


def test_source_options_map_to_builder_arguments():
    assert SourceOptions().builder_kwargs() == {}
    options = SourceOptions(data_files={"test": ["a.json"], "taxonomy": ["t.json"]})
    assert options.builder_kwargs() == {"data_files": {"test": ["a.json"], "taxonomy": ["t.json"]}}
    assert SourceOptions(release=True).describe().startswith("the official release")
