"""The ``datasets`` builder: configs, sources (sample, data_dir, .7z, data_files), rows, errors,
the offline ``load_dataset("dynamicner", ...)`` path and ``dataset_infos.json``."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from seqeval.metrics.sequence_labeling import get_entities

import dynamicner
from dynamicner_data import builder as builder_module
from dynamicner_data import records
from dynamicner_data.cli import generate_infos, infos_text
from dynamicner_data.geic import GeicError
from dynamicner_data.taxonomy import Taxonomy

datasets.disable_progress_bars()

TOY_TAXONOMY = {
    "dataset": "toy",
    "first-level": "person, location, organisation",
    "second-level": {"location": "city, country", "organisation": "company, club"},
}


def toy_geic(prefix: str = "", *, unplaceable: bool = False) -> dict:
    """Three sentences written for these tests: a repeated surface form, a fuzzy match, and
    (``unplaceable=True``) an entity missing from its sentence."""
    extra = ["Bolivia"] if unplaceable else []
    return {
        f"{prefix}s1": {"sentence": "Ana moved from Lima to Quito , then back to Lima .",
                        "entity": ["Ana", "Lima", "Quito", "Lima"], "category": ["person", "city", "city", "city"]},
        f"{prefix}s2": {"sentence": "The club Deportivo  Quito signed Ana .",
                        "entity": ["Deportivo Quito", "Ana"], "category": ["club", "person"]},
        f"{prefix}s3": {"sentence": "Peru beat Chile .",
                        "entity": ["Peru", "Chile"] + extra, "category": ["country", "country"] + ["country"] * len(extra)},
    }


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def build(tmp_path: Path, name: str, **kwargs) -> tuple[dynamicner.DynamicNER, datasets.DatasetDict]:
    builder = dynamicner.DynamicNER(config_name=name, cache_dir=str(tmp_path / "cache"), **kwargs)
    builder.download_and_prepare()
    return builder, builder.as_dataset()


@pytest.fixture(scope="session")
def sample_builds(tmp_path_factory) -> dict[str, tuple[dynamicner.DynamicNER, datasets.DatasetDict]]:
    """The embedded sample in the dynamic and fine configs of English and German."""
    tmp = tmp_path_factory.mktemp("sample-builds")
    return {name: build(tmp, name) for name in ("en", "en-fine", "de", "en-coarse")}


def check_rows(dataset: datasets.DatasetDict, features: datasets.Features) -> int:
    """Row invariants shared by every config; returns the number of entities seen."""
    tag_feature = features["ner_tags"].feature
    seen = 0
    for split, part in dataset.items():
        assert part.features == features
        for row in part:
            assert row["id"].startswith(f"{row['language']}-{split}-")
            assert len(row["type_list"]) == len(set(row["type_list"])) > 0
            tags = [tag_feature.int2str(t) for t in row["ner_tags"]] if hasattr(tag_feature, "int2str") else row["ner_tags"]
            assert len(tags) == len(row["tokens"])
            for token in row["tokens"]:
                assert token.strip() == token and token
            for entity in row["entities"]:
                seen += 1
                assert entity["label"] and entity["label"] in row["type_list"]
                if entity["start"] >= 0:
                    assert row["text"][entity["start"]:entity["end"]] == entity["text"]
                else:
                    assert entity["start"] == entity["end"] == -1
            # every IOB2 entity decodes (seqeval) to a gold entity's label
            for label, _first, _last in get_entities(tags):
                assert label in row["type_list"]
    return seen


# ----------------------------------------------------------------------------- configs
def test_config_names_cover_languages_and_granularities():
    names = [c.name for c in dynamicner.DynamicNER.BUILDER_CONFIGS]
    assert len(names) == len(set(names)) == 36
    assert {"de", "de-coarse", "de-medium", "de-fine", "all", "all-fine", "zh", "ko-medium"} <= set(names)
    by_name = {c.name: c for c in dynamicner.DynamicNER.BUILDER_CONFIGS}
    assert (by_name["de"].language, by_name["de"].granularity) == ("de", "dynamic")
    assert by_name["all-medium"].languages == records.LANGUAGES


def test_unknown_config_name_lists_the_available_ones(tmp_path):
    with pytest.raises(ValueError, match=r"BuilderConfig 'deu' not found.*de-coarse"):
        dynamicner.DynamicNER(config_name="deu", cache_dir=str(tmp_path))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"granularity": "finest"}, "unknown granularity 'finest'"),
        ({"language": "xx"}, "unknown language 'xx'"),
        ({"unknown_category": "drop"}, "unknown_category must be"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_config_options_are_clear(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        dynamicner.DynamicNER(config_name="de", cache_dir=str(tmp_path), **kwargs)


# ----------------------------------------------------------------------------- embedded sample
def test_embedded_sample_dynamic_rows(sample_builds):
    builder, ds = sample_builds["en"]
    assert set(ds) == {"train", "validation", "test"}
    assert check_rows(ds, builder.info.features) == builder.build_summary.entities > 0
    summary = builder.build_summary
    assert summary.rows == sum(p.num_rows for p in ds.values())
    assert [f.split for f in summary.files] == ["train", "validation", "test"]
    # dynamic lists really vary across samples, and labels mix granularities
    lists = {tuple(row["type_list"]) for row in ds["train"]}
    assert len(lists) > ds["train"].num_rows // 2
    levels = {node.level for node in summary.label_counts() if node is not None}
    assert levels == {1, 2, 3}
    assert sum(summary.label_counts().values()) == summary.entities
    assert ds["train"].features["ner_tags"].feature == datasets.Value("string")


def test_static_configs_use_one_whole_level(sample_builds):
    taxonomy = Taxonomy.dynamicner()
    for name, level, size in (("en-fine", 3, 155), ("en-coarse", 1, 8)):
        builder, ds = sample_builds[name]
        names = builder.info.features["ner_tags"].feature.names
        assert len(names) == 2 * size + 1 and names[0] == "O"
        check_rows(ds, builder.info.features)
        for row in ds["train"]:
            assert len(row["type_list"]) == size
            for entity in row["entities"]:
                node = taxonomy.get(tuple(entity["path"]))
                assert entity["label"] == taxonomy.at_level(node, level).name


def test_ner_tags_round_trip_to_token_aligned_entities(sample_builds):
    builder, ds = sample_builds["en-coarse"]
    feature = builder.info.features["ner_tags"].feature
    for row in ds["test"]:
        tokens = row["tokens"]
        # token character offsets, recovered left to right
        offsets, cursor = [], 0
        for token in tokens:
            cursor = row["text"].index(token, cursor)
            offsets.append((cursor, cursor + len(token)))
            cursor += len(token)
        decoded = {
            (label, offsets[first][0], offsets[last][1])
            for label, first, last in get_entities([feature.int2str(t) for t in row["ner_tags"]])
        }
        starts = {s for s, _ in offsets}
        ends = {e for _, e in offsets}
        gold = {
            (e["label"], e["start"], e["end"])
            for e in row["entities"]
            if e["start"] in starts and e["end"] in ends
        }
        assert decoded == gold, row["id"]


def test_dynamic_lists_are_seeded_and_reproducible(sample_builds, tmp_path):
    _, first = sample_builds["de"]
    _, again = build(tmp_path, "de")
    assert first["train"]["type_list"] == again["train"]["type_list"]
    _, other_seed = build(tmp_path / "seed", "de", seed=7)
    assert other_seed["train"]["type_list"] != first["train"]["type_list"]
    assert other_seed["train"]["text"] == first["train"]["text"]


def test_all_config_concatenates_every_language(tmp_path):
    builder, ds = build(tmp_path, "all-coarse")
    assert set(ds["test"]["language"]) == set(records.LANGUAGES)
    assert len(set(ds["test"]["id"])) == ds["test"].num_rows


# ----------------------------------------------------------------------------- data_dir
@pytest.mark.parametrize("layout", ["<lang>/<split>.json", "<variant>/<lang>/GEIC/<split>.json"])
def test_data_dir_layouts(tmp_path, layout):
    root = tmp_path / "release"
    folder = root / "es" if layout.startswith("<lang>") else root / "dynamic" / "es" / "GEIC"
    write_json(folder / "train.json", toy_geic("tr"))
    write_json(folder / ("dev.json" if "GEIC" in layout else "validation.json"), toy_geic("va"))
    write_json(folder / "test.json", toy_geic("te"))
    tax = write_json(tmp_path / "toy.json", TOY_TAXONOMY)
    builder, ds = build(tmp_path, "es", data_dir=str(root), taxonomy_file=str(tax))
    assert {s: p.num_rows for s, p in ds.items()} == {"train": 3, "validation": 3, "test": 3}
    assert ds["validation"][0]["id"] == "es-validation-vas1"
    check_rows(ds, builder.info.features)


def test_data_dir_missing_split_names_the_folder(tmp_path):
    folder = tmp_path / "release" / "fr"
    write_json(folder / "train.json", toy_geic())
    write_json(folder / "test.json", toy_geic())
    with pytest.raises(FileNotFoundError, match=r"release/fr has train.json, test.json but no validation.json or dev.json for language 'fr'"):
        build(tmp_path, "fr", data_dir=str(tmp_path / "release"))


def test_data_dir_without_the_language(tmp_path):
    write_json(tmp_path / "release" / "en" / "train.json", toy_geic())
    with pytest.raises(FileNotFoundError, match=r"no GEIC files for language 'ru'.*looked for.* ru/, ru/GEIC/, dynamic/ru/GEIC/, \*/dynamic/ru/GEIC/"):
        build(tmp_path, "ru", data_dir=str(tmp_path / "release"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build(tmp_path, "ru", data_dir=str(tmp_path / "nowhere"))


def test_data_dir_may_be_the_7z_archive(tmp_path):
    py7zr = pytest.importorskip("py7zr")
    tax = write_json(tmp_path / "toy.json", TOY_TAXONOMY)
    staging = tmp_path / "staging"
    for split in ("train", "dev", "test"):
        write_json(staging / "AnythingNER" / "dynamic" / "ko" / "GEIC" / f"{split}.json", toy_geic(split))
    archive = tmp_path / "AnythingNER.7z"
    with py7zr.SevenZipFile(archive, "w") as z:
        z.writeall(staging / "AnythingNER", "AnythingNER")
    builder, ds = build(tmp_path, "ko-coarse", data_dir=str(archive), taxonomy_file=str(tax))
    assert ds["validation"].num_rows == 3
    assert ds["train"][0]["entities"][0]["label"] == "person"


# ----------------------------------------------------------------------------- data_files
def test_data_files_with_own_taxonomy_report_alignment(tmp_path, caplog):
    tax = write_json(tmp_path / "toy.json", TOY_TAXONOMY)
    train = write_json(tmp_path / "train.json", toy_geic(unplaceable=True))
    test = write_json(tmp_path / "test.json", toy_geic("t", unplaceable=True))
    with caplog.at_level(logging.WARNING, logger="dynamicner"), pytest.warns(UserWarning, match="s3"):
        builder, ds = build(
            tmp_path, "en-medium", data_files={"train": str(train), "test": str(test), "taxonomy": str(tax)}
        )
    assert set(ds) == {"train", "test"}
    # level 2 plus the shallower leaf "person", and "unknown" (the toy level has no catch-all)
    assert builder.info.features["ner_tags"].feature.names[1::2] == [
        "B-person", "B-city", "B-country", "B-company", "B-club", "B-unknown"
    ]
    row = ds["train"][0]
    lima = [e for e in row["entities"] if e["text"] == "Lima"]
    assert [(e["start"], e["end"]) for e in lima] == [(15, 19), (44, 48)]
    fuzzy = ds["train"][1]["entities"][0]
    assert (fuzzy["text"], fuzzy["start"], fuzzy["end"], fuzzy["label"]) == ("Deportivo  Quito", 9, 25, "club")
    bolivia = ds["train"][2]["entities"][2]
    assert (bolivia["text"], bolivia["start"], bolivia["end"], bolivia["label"]) == ("Bolivia", -1, -1, "country")
    summary = builder.build_summary
    assert (summary.rows, summary.entities, summary.unaligned, summary.fuzzy) == (6, 18, 2, 2)
    assert "2 unaligned" in summary.text()
    assert any("1 unaligned" in record.getMessage() for record in caplog.records)


def root_cause(excinfo: pytest.ExceptionInfo) -> BaseException:
    """datasets wraps errors raised while generating in DatasetGenerationError: unwrap."""
    error = excinfo.value
    while isinstance(error, datasets.exceptions.DatasetGenerationError) and error.__cause__ is not None:
        error = error.__cause__
    return error


def test_data_files_errors_before_generation(tmp_path):
    tax = write_json(tmp_path / "toy.json", TOY_TAXONOMY)
    good = write_json(tmp_path / "good.json", toy_geic())
    with pytest.raises(ValueError, match="data_files: unknown split 'dev'; expected keys among train, validation, test"):
        build(tmp_path, "en", data_files={"dev": str(good), "taxonomy": str(tax)})
    with pytest.raises(ValueError, match="single-language config"):
        build(tmp_path, "all", data_files={"train": str(good), "taxonomy": str(tax)})
    with pytest.raises(FileNotFoundError, match="missing.json"):
        build(tmp_path, "en", data_files={"train": str(tmp_path / "missing.json")})
    flat = write_json(tmp_path / "flat.json", {"dataset": "flat", "first-level": "person, city"})
    with pytest.raises(ValueError, match=r"needs taxonomy level 3.*flat.json.*only 1 level"):
        build(tmp_path, "en-fine", data_files={"train": str(good), "taxonomy": str(flat)})


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("broken.json", '{"s1": {"sentence": "x"', r"broken.json: malformed JSON at line 1"),
        ("mismatch.json", {"k7": {"sentence": "Ana .", "entity": ["Ana"], "category": []}}, r"mismatch.json.*k7"),
        ("unknown.json", {"k8": {"sentence": "Ana .", "entity": ["Ana"], "category": ["wizard"]}},
         r"unknown.json.*k8.*wizard"),
        ("empty.json", {"k9": {"sentence": "", "entity": [], "category": []}}, r"empty.json.*k9"),
    ],
)
def test_bad_geic_files_name_the_file_and_sample(tmp_path, name, content, message):
    tax = write_json(tmp_path / "toy.json", TOY_TAXONOMY)
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(Exception) as excinfo:
        build(tmp_path, "en", data_files={"train": str(path), "taxonomy": str(tax)})
    cause = root_cause(excinfo)
    assert isinstance(cause, GeicError), repr(cause)
    assert re.search(message, str(cause)), str(cause)


def test_unknown_categories_can_map_to_a_catch_all(tmp_path):
    tax = write_json(tmp_path / "toy.json", TOY_TAXONOMY)
    path = write_json(tmp_path / "u.json", {"k8": {"sentence": "Ana met Merlin .", "entity": ["Ana", "Merlin"],
                                                  "category": ["person", "wizard"]}})
    builder, ds = build(tmp_path, "en", data_files={"train": str(path), "taxonomy": str(tax)},
                        unknown_category="catch_all")
    row = ds["train"][0]
    merlin = row["entities"][1]
    assert merlin["path"] == [] and merlin["label"] in row["type_list"]
    assert builder.build_summary.files[0].alignment.unknown_categories == {"wizard": 1}


# ----------------------------------------------------------------------------- real data
@pytest.mark.slow
def test_authors_english_sample_builds_with_every_entity_accounted(shared_data, tmp_path):
    path = shared_data / "geic" / "dynamicner-example-en.json"
    with pytest.warns(UserWarning):
        builder, ds = build(tmp_path, "en", data_files={"test": str(path)})
    summary = builder.build_summary
    report = summary.files[0].alignment
    assert ds["test"].num_rows == summary.rows == 900
    assert summary.entities == report.exact + report.fuzzy + report.unaligned == 2805
    assert report.fuzzy + report.unaligned == 17
    unaligned = sum(e["start"] == -1 for row in ds["test"] for e in row["entities"])
    assert unaligned == report.unaligned
    check_rows(ds, builder.info.features)


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["conll2003", "crossner-music"])
def test_other_corpora_build_with_their_taxonomy(shared_data, tmp_path, corpus):
    data = shared_data / "geic" / f"{corpus}-test.json"
    tax = shared_data / "taxonomy" / f"{corpus}.json"
    builder, ds = build(tmp_path, "en-coarse", data_files={"test": str(data), "taxonomy": str(tax)},
                        empty_sentences="skip")
    taxonomy = Taxonomy.from_file(tax)
    assert set(builder.info.features["ner_tags"].feature.names[1::2]) == {f"B-{n.name}" for n in taxonomy.level(1)}
    report = builder.build_summary.files[0].alignment
    assert ds["test"].num_rows + len(report.skipped_samples) == len(json.loads(data.read_text(encoding="utf-8")))
    assert builder.build_summary.entities == report.exact + report.fuzzy + report.unaligned
    check_rows(ds, builder.info.features)


# ----------------------------------------------------------------------------- load_dataset offline (5.x)
@pytest.mark.slow
def test_prepare_then_load_dataset_offline_in_a_fresh_process(tmp_path):
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               PYTHONPATH=str(Path(dynamicner.__file__).parent))
    prepare = subprocess.run(
        [sys.executable, "-m", "dynamicner_data.cli", "prepare", "de", "de-fine"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert prepare.returncode == 0, prepare.stderr
    assert "prepared de:" in prepare.stdout and "build summary" in prepare.stdout
    code = (
        "import datasets, json\n"
        "ds = datasets.load_dataset('dynamicner', 'de')\n"
        "fine = datasets.load_dataset('dynamicner', 'de-fine', split='test')\n"
        "print(json.dumps({'splits': {s: p.num_rows for s, p in ds.items()}, 'id': ds['train'][0]['id'],"
        " 'fine_tags': fine.features['ner_tags'].feature.num_classes}))\n"
    )
    load = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert load.returncode == 0, load.stderr
    result = json.loads(load.stdout.strip().splitlines()[-1])
    assert set(result["splits"]) == {"train", "validation", "test"} and min(result["splits"].values()) > 0
    assert result["id"].startswith("de-train-")
    assert result["fine_tags"] == 311


# ----------------------------------------------------------------------------- dataset_infos.json
@pytest.mark.slow
def test_dataset_infos_json_is_up_to_date(project_root):
    path = project_root / "dataset_infos.json"
    assert path.is_file(), "run `dynamicner infos` to generate dataset_infos.json"
    assert path.read_text(encoding="utf-8") == infos_text(generate_infos()), (
        "dataset_infos.json is out of date: run `dynamicner infos`"
    )
    infos = datasets.info.DatasetInfosDict.from_directory(str(project_root))
    assert set(infos) == {c.name for c in dynamicner.DynamicNER.BUILDER_CONFIGS}


def test_release_source_asks_for_the_official_archive(tmp_path):
    """Offline, release=True fails naming the Hub repo: it never falls back to the sample silently."""
    builder = dynamicner.DynamicNER(config_name="de", release=True, cache_dir=str(tmp_path))
    with pytest.raises(Exception, match="CascadeNER/AnythingNER"):
        builder.download_and_prepare()
    assert builder_module._RELEASE_URL.endswith("/datasets/CascadeNER/AnythingNER/resolve/main/AnythingNER.7z")


def test_small_batches_give_the_same_rows(sample_builds, tmp_path):
    """Rows go to Arrow in batches of at most batch_size; the batch size never changes the data."""
    _, default = sample_builds["en"]
    builder, small = build(tmp_path, "en", batch_size=5)
    assert small["train"].to_list() == default["train"].to_list()
    taxonomy = Taxonomy.dynamicner()
    from dynamicner_data.geic import read_geic

    samples, _ = read_geic(builder_module._embedded_sample_dir() / "en" / "train.json", taxonomy)
    batcher = records.RowBatcher(language="en", split="train", taxonomy=taxonomy, granularity="dynamic", batch_size=5)
    sizes = [t.num_rows for t in batcher.tables(samples)]
    assert sizes == [5] * (len(samples) // 5) + ([len(samples) % 5] if len(samples) % 5 else [])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lone_surrogates_are_named_errors():
    """A JSON escape such as "\\ud800" gives text that is not Unicode: the error names file, sample and field."""
    from dynamicner_data.geic import parse_geic
    from dynamicner_data.records import RowBatcher
    from dynamicner_data.taxonomy import Taxonomy

    tax = Taxonomy.dynamicner()
    ok = {"sentence": "Ana met Bo .", "entity": ["Ana"], "category": ["person"]}
    for bad, field in (({"sentence": "Ana \ud800 met Bo .", "entity": ["Ana"], "category": ["person"]}, "'sentence'"),
                       ({"sentence": "Ana met Bo .", "entity": ["Ana", "B\udc00"], "category": ["person"] * 2},
                        r"'entity'\[1\]")):
        samples, report = parse_geic({"s1": ok, "s2": bad}, tax, source="x.json")
        batcher = RowBatcher(language="en", split="train", taxonomy=tax, granularity="dynamic", source="x.json")
        with pytest.raises(ValueError, match=rf"x.json: sample 's2': field {field} holds a lone surrogate"):
            list(batcher.tables(samples))
