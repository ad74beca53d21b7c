"""The dataset card of an exported DynamicNER folder, and the per-config statistics it publishes.

:func:`config_report` condenses one built config (its ``DatasetDict`` and build summary) into a
:class:`ConfigReport`: rows per split, entities, distinct labels, type-list lengths, alignment
counts, the paper's four label statistics (cohesion, normalized entropy, Gini, coefficient of
variation) and the share of repeated entity strings that receive different labels.
:func:`render_card` turns the reports into a ``huggingface_hub.DatasetCard`` whose YAML carries
``configs`` (Parquet files per split) and ``dataset_info`` (features and split sizes), written
with the same ``datasets`` helpers ``push_to_hub`` uses.

>>> report = ConfigReport(name="en", language="en", granularity="dynamic",
...     rows={"train": 2, "test": 1}, entities=5, labels=4, type_list_min=3, type_list_mean=4.5,
...     type_list_max=6, fuzzy=0, unaligned=1, boundary_mismatches=0,
...     statistics={"cohesion": 0.1, "normalized_entropy": 0.9, "gini": 0.2,
...                 "coefficient_of_variation": 0.5},
...     repeated_strings=2, repeated_with_different_labels=1)
>>> print(statistics_table([report]).splitlines()[2])
| en | dynamic | 3 | 5 | 4 | 3-6 (4.5) | 1 | 0.1000 | 0.9000 | 0.2000 | 0.5000 | 1/2 (50.0%) |
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import datasets
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

from dynamicner_data import CITATION, LANGUAGES
from dynamicner_data.records import BuildSummary
from dynamicner_data.taxonomy import Taxonomy
from dynamicner_data.typelists import LabelVariation, label_statistics, label_variation

STATISTICS = ("cohesion", "normalized_entropy", "gini", "coefficient_of_variation")
"""The paper's four label statistics, in the order the card shows them."""


@dataclass
class ConfigReport:
    """Published numbers of one config (all splits together unless named per split)."""

    name: str
    language: str
    granularity: str
    rows: dict[str, int]
    entities: int
    labels: int
    type_list_min: int
    type_list_mean: float
    type_list_max: int
    fuzzy: int
    unaligned: int
    boundary_mismatches: int
    statistics: dict[str, float]
    repeated_strings: int
    repeated_with_different_labels: int

    @property
    def repeated_share(self) -> float:
        """Share of entity strings seen more than once that received more than one label."""
        return self.repeated_with_different_labels / self.repeated_strings if self.repeated_strings else 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["repeated_share"] = self.repeated_share
        return out


def repeated_label_counts(dataset: datasets.Dataset | datasets.DatasetDict) -> LabelVariation:
    """How many entity strings occur more than once, and how many of those got several labels.

    >>> ds = datasets.Dataset.from_dict({"entities": [
    ...     [{"text": "Jordan", "label": "country"}], [{"text": "Jordan", "label": "athlete"}],
    ...     [{"text": "Lima", "label": "city"}, {"text": "Lima", "label": "city"}]]})
    >>> repeated_label_counts(ds)
    LabelVariation(repeated_strings=2, varied_strings=1)
    """
    parts = dataset.values() if isinstance(dataset, datasets.DatasetDict) else [dataset]

    def pairs():
        for part in parts:
            for batch in part.select_columns(["entities"]).iter(batch_size=10_000):
                for sample in batch["entities"]:
                    for entity in sample:
                        yield entity["text"], entity["label"]

    return label_variation(pairs())


def config_report(
    name: str,
    dataset: datasets.DatasetDict,
    summary: BuildSummary,
    taxonomy: Taxonomy,
    *,
    language: str,
    granularity: str,
) -> ConfigReport:
    """Condense a built config into the numbers the card and ``dynamicner stats`` publish."""
    lengths: list[int] = []
    for part in dataset.values():
        for batch in part.select_columns(["type_list"]).iter(batch_size=10_000):
            lengths.extend(len(items) for items in batch["type_list"])
    counts = summary.label_counts()
    given = list(counts.elements())
    stats = label_statistics(given, taxonomy) if given else None
    variation = repeated_label_counts(dataset)
    return ConfigReport(
        name=name,
        language=language,
        granularity=granularity,
        rows={split: part.num_rows for split, part in dataset.items()},
        entities=summary.entities,
        labels=len(counts),
        type_list_min=min(lengths, default=0),
        type_list_mean=round(sum(lengths) / len(lengths), 4) if lengths else 0.0,
        type_list_max=max(lengths, default=0),
        fuzzy=summary.fuzzy,
        unaligned=summary.unaligned,
        boundary_mismatches=summary.boundary_mismatches,
        statistics={key: round(float(value), 6) for key, value in (stats.to_dict() if stats else {}).items()},
        repeated_strings=variation.repeated_strings,
        repeated_with_different_labels=variation.varied_strings,
    )


def statistics_table(reports: Sequence[ConfigReport]) -> str:
    """A Markdown table of the reports, one config per row."""
    header = (
        "| config | granularity | rows | entities | labels | type list length | unaligned | cohesion "
        "| normalized entropy | Gini | CV | repeated strings with different labels |"
    )
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    for r in reports:
        stats = " | ".join(f"{r.statistics[k]:.4f}" if k in r.statistics else "-" for k in STATISTICS)
        lines.append(
            f"| {r.name} | {r.granularity} | {sum(r.rows.values())} | {r.entities} | {r.labels} "
            f"| {r.type_list_min}-{r.type_list_max} ({r.type_list_mean:g}) | {r.unaligned} | {stats} "
            f"| {r.repeated_with_different_labels}/{r.repeated_strings} ({100 * r.repeated_share:.1f}%) |"
        )
    return "\n".join(lines)


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` tag for a dataset of ``rows`` examples.

    >>> size_category(286), size_category(1000), size_category(55_000)
    ('n<1K', '1K<n<10K', '10K<n<100K')
    """
    for limit, tag in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                       (10_000_000, "1M<n<10M")):
        if rows < limit:
            return tag
    return "10M<n<100M"


def benchmark_section(tasks: Sequence[Mapping[str, str]]) -> str:
    """The card's section on the benchmark's ``eval.yaml`` tasks (see :mod:`dynamicner_data.eval_yaml`)."""
    if not tasks:
        return ""
    rows = "\n".join(f"| `{t['id']}` | `{t['config']}` | `{t['split']}` |" for t in tasks)
    return (
        "\n## Benchmark\n\n`eval.yaml` declares one task per scored view, for the Hub's evaluation results. "
        "The Hub validates it when it is pushed, and lists a dataset as a benchmark only once the Hugging Face "
        "team has added the repo to its allow-list (beta; asked for on the Hub). Then models that report "
        "results in `.eval_results/*.yaml` (`cascadener push-results`) are ranked on this dataset's leaderboard. "
        "Each task's score is the strict micro-F1 of `dynamicner_f1` (span and label must match), in percent "
        "with two decimals. A task runs in Inspect AI: `pip install \"dynamicner-kit[inspect]\"`, then "
        "`inspect eval cascadener/dynamicner -T config=CONFIG --model PROVIDER/MODEL`."
        "\n\n| task | config | split |\n| --- | --- | --- |\n"
        f"{rows}\n"
    )


def render_card(
    reports: Sequence[ConfigReport],
    infos: Mapping[str, datasets.DatasetInfo],
    data_files: Mapping[str, Mapping[str, str]],
    *,
    default_config: str | None = None,
    source: str = "the embedded sample",
    pretty_name: str = "DynamicNER",
    license: str = "apache-2.0",
    tasks: Sequence[Mapping[str, str]] = (),
) -> DatasetCard:
    """The README.md card of an export: YAML ``configs`` + ``dataset_info``, then the statistics.

    ``data_files`` maps each config name to ``{split: path pattern relative to the folder}``;
    ``license`` is the data's (the embedded sample is Apache-2.0; pass ``unknown`` or the
    release's terms for other sources).
    """
    languages = sorted({lang for r in reports for lang in (LANGUAGES if r.language == "all" else (r.language,))})
    card_data = DatasetCardData(
        pretty_name=pretty_name,
        language=languages,
        license=license,
        multilinguality="multilingual" if len(languages) > 1 else "monolingual",
        task_categories=["token-classification"],
        task_ids=["named-entity-recognition"],
        size_categories=[size_category(max((sum(r.rows.values()) for r in reports), default=0))],
        source_datasets=["original"],
        tags=["ner", "fine-grained", "dynamic-type-lists", "llm-evaluation"],
    )
    MetadataConfigs(
        {
            name: {
                "data_files": [{"split": split, "path": path} for split, path in files.items()],
                **({"default": True} if name == default_config else {}),
            }
            for name, files in data_files.items()
        }
    ).to_dataset_card_data(card_data)
    DatasetInfosDict({name: info for name, info in infos.items()}).to_dataset_card_data(card_data)
    example = reports[0].name if reports else "en"
    body = f"""
# {pretty_name}

Multilingual, fine-grained named entity recognition with per-sample type lists
([DynamicNER](https://arxiv.org/abs/2409.11022), EMNLP 2025), exported by the DynamicNER kit
from {source}. Every config has the features `id`, `language`, `text`, `tokens`, `ner_tags`
(IOB2), `entities` (`text`, `label`, `start`, `end` exclusive character offsets, `path` in the
taxonomy; unplaceable entities keep `start = end = -1`) and `type_list` (the candidate types the
sample offers; the label of every entity is in it).

```python
from datasets import load_dataset

ds = load_dataset("path/or/repo_id", "{example}")
```

Config names: the language code for dynamic type lists (`de`), `<language>-coarse` /
`-medium` / `-fine` for one whole taxonomy level (8 / 31 / 155 types), `all` for every language.

## Statistics

Label statistics over all given labels of a config (cohesion: share of label pairs under one
parent; normalized entropy: H / log2 K; Gini; CV: coefficient of variation of label counts).

{statistics_table(reports)}
{benchmark_section(tasks)}
## Citation

```bibtex
{CITATION}```
"""
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}")
