# Copyright 2026 The DynamicNER kit authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The DynamicNER ``datasets`` builder: 8 languages x 4 granularities.

The top-level script ``dynamicner.py`` only exposes this module's builder (datasets 3.x loads it
as a script); everything lives here.

Configs are named ``<language>`` (dynamic type lists) or ``<language>-<granularity>``
(``coarse`` / ``medium`` / ``fine``: one whole taxonomy level), with ``all`` for every
language: ``"de"``, ``"de-fine"``, ``"all"``, ``"all-coarse"``, ... (36 configs).

Data sources, in order of precedence:

- ``data_files``: any GEIC files by split, plus optionally a ``taxonomy`` entry with a
  taxonomy in the authors' category format (bring your own corpus, e.g. CrossNER);
- ``data_dir``: an unpacked local copy of the release (or the ``.7z`` archive itself) in one of
  the layouts ``<lang>/<split>.json``, ``<lang>/GEIC/<split>.json``,
  ``<variant>/<lang>/GEIC/<split>.json`` (``dev.json`` is read as the validation split; both
  names at once, or one language in two layouts at once, is an error naming both);
- ``release=True``: download the official archive ``AnythingNER.7z`` from the Hub;
- nothing: the embedded sample that ships inside the ``dynamicner_data`` package.

On datasets 5.x, which no longer runs scripts, instantiate the builder directly (see
:func:`prepare`); afterwards ``datasets.load_dataset("dynamicner", "de")`` finds the prepared
data offline. On datasets 3.x the top-level ``dynamicner.py`` also loads as a script with
``trust_remote_code=True``.

>>> configs = {config.name: config for config in DynamicNER.BUILDER_CONFIGS}
>>> len(configs), configs["de-coarse"].language, configs["de-coarse"].granularity
(36, 'de', 'coarse')
>>> configs["de"].granularity, configs["all-fine"].languages[:3]
('dynamic', ('en', 'es', 'fr'))
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import datasets
import pyarrow as pa

from dynamicner_data import CITATION, LANGUAGES, cache, records
from dynamicner_data.archive import extract_7z
from dynamicner_data.gc_scope import paused_gc
from dynamicner_data.geic import read_geic_columns
from dynamicner_data.taxonomy import Taxonomy
from dynamicner_data.typelists import GRANULARITIES, DynamicOptions


_DESCRIPTION = """\
DynamicNER: multilingual (en, es, fr, ru, de, zh, ja, ko), fine-grained named entity recognition
with a three-level hierarchy of 155 types. Each sample offers a type list; in the dynamic configs
the list (and so the gold label) changes with the sample: levels merged, options reduced,
"other ..." answers, synonyms. Entities carry exclusive character offsets and their taxonomy path.
"""

_HOMEPAGE = "https://arxiv.org/abs/2409.11022"

_LICENSE = "Apache-2.0 (this builder); see the release for the data's terms"

_RELEASE_REPO = "CascadeNER/AnythingNER"
_RELEASE_URL = f"https://huggingface.co/datasets/{_RELEASE_REPO}/resolve/main/AnythingNER.7z"

_ALL = "all"
# the dataset's version (the shape of its rows), not the software's: datasets keys its cache folders on it
DATASET_VERSION = datasets.Version("1.0.0")
_SPLIT_FILES = {"train": ("train.json",), "validation": ("validation.json", "dev.json"), "test": ("test.json",)}
_VARIANTS = ("dynamic", "balanced", "inbalanced")

logger = datasets.logging.get_logger(__name__)


def config_name(language: str, granularity: str) -> str:
    """The name of a config: the bare language for ``dynamic``, else ``<language>-<granularity>``.

    >>> config_name("de", "dynamic"), config_name("all", "fine")
    ('de', 'all-fine')
    """
    return language if granularity == "dynamic" else f"{language}-{granularity}"


@dataclass
class DynamicNERConfig(datasets.BuilderConfig):
    """A typed DynamicNER config.

    Args:
        language: one of ``en es fr ru de zh ja ko``, or ``all``.
        granularity: ``dynamic`` (per-sample type lists), ``coarse`` (8 types), ``medium`` (31)
            or ``fine`` (155).
        seed: seed of the dynamic type lists (hashed with each sample id; no global randomness).
        release: download the official archive when neither ``data_dir`` nor ``data_files``
            is given (default: the embedded sample).
        variant: the release folder to read in the authors' ``<variant>/<lang>/GEIC`` layout.
        taxonomy_file: a taxonomy in the authors' category format (default: DynamicNER's, or
            the ``taxonomy`` entry of ``data_files``).
        unknown_category: ``error`` (default) or ``catch_all`` for categories not in the taxonomy.
        catch_all: the taxonomy name unknown categories map to with ``catch_all``.
        empty_sentences: ``error`` (default) or ``skip`` (counted in the build summary).
        batch_size: rows per Arrow table written (bounds memory).
        synonyms: rename dynamic list items from the synonym table.
    """

    language: str = "en"
    granularity: str = "dynamic"
    seed: int = 0
    release: bool = False
    variant: str = "dynamic"
    taxonomy_file: Optional[str] = None
    unknown_category: str = "error"
    catch_all: Optional[str] = None
    empty_sentences: str = "error"
    batch_size: int = records.DEFAULT_BATCH_SIZE
    synonyms: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Raise a ``ValueError`` naming the config and the bad option (also run by the builder,
        since ``datasets`` sets config keyword arguments on a copy without ``__post_init__``)."""
        if self.language not in (*LANGUAGES, _ALL):
            raise ValueError(
                f"config {self.name!r}: unknown language {self.language!r}; expected one of "
                f"{', '.join((*LANGUAGES, _ALL))}"
            )
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"config {self.name!r}: unknown granularity {self.granularity!r}; expected one of "
                f"{', '.join(GRANULARITIES)}"
            )
        if self.unknown_category not in ("error", "catch_all"):
            raise ValueError(
                f"config {self.name!r}: unknown_category must be 'error' or 'catch_all', got {self.unknown_category!r}"
            )
        if self.empty_sentences not in ("error", "skip"):
            raise ValueError(
                f"config {self.name!r}: empty_sentences must be 'error' or 'skip', got {self.empty_sentences!r}"
            )
        if self.batch_size < 1:
            raise ValueError(f"config {self.name!r}: batch_size must be >= 1, got {self.batch_size}")

    @property
    def languages(self) -> tuple[str, ...]:
        return LANGUAGES if self.language == _ALL else (self.language,)


def builder_hash() -> str:
    """A hash of the code and packaged data behind a build (the cache folder of :func:`prepare`).

    Covers every module and data file of ``dynamicner_data`` (this builder included), so a
    changed algorithm or sample never reuses a stale prepared cache.
    """
    package = Path(records.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and path.is_file():
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _embedded_sample_dir() -> Path:
    return Path(records.__file__).resolve().parent / "data" / "sample"


def _split_files_in(folder: Path, root: Path, language: str) -> dict[str, Path]:
    """The GEIC files of one folder by split; two names of one split (``dev.json`` and
    ``validation.json``) are an error naming both."""
    found: dict[str, Path] = {}
    for split, names in _SPLIT_FILES.items():
        present = [folder / name for name in names if (folder / name).is_file()]
        if len(present) > 1:
            raise ValueError(
                f"data_dir {root}: {folder} holds both {' and '.join(p.name for p in present)} for the "
                f"{split} split of language {language!r}; keep one of them"
            )
        if present:
            found[split] = present[0]
    return found


def _find_split_files(root: Path, language: str, variant: str) -> dict[str, Path]:
    """The GEIC files of one language under ``root`` in exactly one accepted layout (see module doc).

    Files of the language in two layouts at once (``en/test.json`` and ``en/GEIC/test.json``) are
    an error naming both folders: nothing is read silently from whichever comes first.
    """
    patterns = [f"{language}", f"{language}/GEIC", f"{variant}/{language}/GEIC", f"*/{variant}/{language}/GEIC"]
    candidates = [root / language, root / language / "GEIC", root / variant / language / "GEIC"]
    if root.is_dir():
        candidates += sorted(p / variant / language / "GEIC" for p in root.iterdir() if p.is_dir())
    layouts = [(folder, found) for folder in candidates if (found := _split_files_in(folder, root, language))]
    if len(layouts) > 1:
        raise ValueError(
            f"data_dir {root}: GEIC files for language {language!r} in {len(layouts)} layouts at once: "
            f"{' and '.join(str(folder) for folder, _ in layouts)}; keep one of them"
        )
    if layouts:
        folder, found = layouts[0]
        missing = [s for s in _SPLIT_FILES if s not in found]
        if missing:
            raise FileNotFoundError(
                f"data_dir {root}: {folder} has {', '.join(p.name for p in found.values())} but no "
                f"{' / '.join(' or '.join(_SPLIT_FILES[s]) for s in missing)} for language {language!r}"
            )
        return found
    raise FileNotFoundError(
        f"data_dir {root}: no GEIC files for language {language!r}; looked for train.json, "
        f"validation.json (or dev.json) and test.json in {', '.join(p + '/' for p in patterns)}"
    )


def _extract_root(dl_manager: datasets.DownloadManager) -> Path:
    cache = getattr(dl_manager, "download_config", None)
    folder = getattr(cache, "cache_dir", None) or datasets.config.DOWNLOADED_DATASETS_PATH
    return Path(folder).expanduser() / "extracted"


class DynamicNER(datasets.ArrowBasedBuilder):
    """DynamicNER: multilingual fine-grained NER with per-sample dynamic type lists."""

    VERSION = DATASET_VERSION
    BUILDER_CONFIG_CLASS = DynamicNERConfig
    BUILDER_CONFIGS = [
        DynamicNERConfig(
            name=config_name(language, granularity),
            version=DATASET_VERSION,
            language=language,
            granularity=granularity,
            description=f"DynamicNER, {'all languages' if language == _ALL else language}, {granularity} type lists",
        )
        for language in (*LANGUAGES, _ALL)
        for granularity in GRANULARITIES
    ]
    DEFAULT_CONFIG_NAME = _ALL

    rebuilt_because: Optional[str] = None
    """Why :func:`prepare` rebuilt a cached build (a source file changed), else ``None``."""

    build_summary: Optional[records.BuildSummary] = None
    """Counts of the last generation in this process (alignment, skips, token boundaries, labels);
    ``None`` when the prepared cache was reused. With ``num_proc > 1`` the files are built in
    worker processes: their summaries are logged there, and this one stays empty."""

    def _taxonomy_path(self) -> Optional[str]:
        files = self.config.data_files or {}
        entry = files.get("taxonomy") if hasattr(files, "get") else None
        if isinstance(entry, (str, os.PathLike)):
            return str(entry)
        if entry:
            if len(entry) != 1:
                raise ValueError(f"data_files['taxonomy'] must name exactly one file, got {list(entry)}")
            return str(entry[0])
        return self.config.taxonomy_file

    def taxonomy(self) -> Taxonomy:
        """The config's taxonomy (loaded once per builder)."""
        cached = getattr(self, "_taxonomy_cache", None)
        if cached is None:
            path = self._taxonomy_path()
            cached = Taxonomy.from_file(path) if path else Taxonomy.dynamicner()
            self._taxonomy_cache = cached
        return cached

    def _info(self) -> datasets.DatasetInfo:
        self.config.validate()
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=records.dataset_features(self.taxonomy(), self.config.granularity),
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=CITATION,
        )

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        files = self._source_files(dl_manager)
        self.build_summary = records.BuildSummary(config=self.config.name)
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"files": files[split], "split": split})
            for split in files
        ]

    def _source_files(self, dl_manager: datasets.DownloadManager) -> dict[str, list[tuple[str, str]]]:
        """``{split: [(language, path), ...]}`` from data_files, data_dir, the release or the sample."""
        config = self.config
        if config.data_files:
            if config.language == _ALL:
                raise ValueError(
                    "data_files need a single-language config (e.g. 'en' or 'en-fine'): the language "
                    "selects the tokenizer; got config 'all'"
                )
            out: dict[str, list[tuple[str, str]]] = {}
            for split, paths in config.data_files.items():
                if split == "taxonomy":
                    continue
                if split not in records.SPLITS:
                    raise ValueError(
                        f"data_files: unknown split {split!r}; expected keys among "
                        f"{', '.join(records.SPLITS)} (and 'taxonomy')"
                    )
                local = dl_manager.download([paths] if isinstance(paths, (str, os.PathLike)) else list(paths))
                out[split] = [(config.language, str(p)) for p in local]
            if not out:
                raise ValueError("data_files: no GEIC files given (only a taxonomy)")
            return out
        if config.data_dir:
            root = Path(config.data_dir).expanduser()
            if not root.exists():
                raise FileNotFoundError(f"data_dir {root} does not exist")
            if root.is_file():  # the release archive itself: extracted whole or not at all
                root = extract_7z(root, _extract_root(dl_manager))
        elif config.release:
            root = extract_7z(dl_manager.download(_RELEASE_URL), _extract_root(dl_manager))
        else:
            root = _embedded_sample_dir()
        per_language = {lang: _find_split_files(root, lang, config.variant) for lang in config.languages}
        return {
            split: [(lang, str(per_language[lang][split])) for lang in config.languages]
            for split in records.SPLITS
        }

    def _generate_tables(self, files: list[tuple[str, str]], split: str) -> Iterator[tuple[tuple[int, int], pa.Table]]:
        """Parse each GEIC file and yield its rows as bounded ``pyarrow`` tables.

        Input ``{"s1": {"sentence": "Ana lives in Lima .", "entity": ["Lima"], "category": ["city"]}}``
        in ``en/train.json`` becomes the row ``{"id": "en-train-s1", "language": "en", "text": ...,
        "entities": [{"text": "Lima", "label": ..., "start": 13, "end": 17, "path": [...]}], ...}``.
        """
        config = self.config
        taxonomy = self.taxonomy()
        options = DynamicOptions(seed=config.seed, synonyms=config.synonyms)
        if self.build_summary is None:
            self.build_summary = records.BuildSummary(config=config.name)
        for file_index, (language, path) in enumerate(files):
            with paused_gc():  # the parsed corpus is large and acyclic
                samples, report = read_geic_columns(
                    path,
                    taxonomy,
                    unknown_category=config.unknown_category,
                    catch_all=config.catch_all,
                    empty_sentences=config.empty_sentences,
                )
            if not len(samples):
                skipped = len(report.skipped_samples)
                raise ValueError(
                    f"{path}: the GEIC file of the {split} split holds no samples"
                    + (f" ({skipped} skipped as empty sentences)" if skipped else "")
                    + "; give a file with at least one sample, or leave the split out of data_files"
                )
            batcher = records.RowBatcher(
                language=language,
                split=split,
                taxonomy=taxonomy,
                granularity=config.granularity,
                options=options,
                batch_size=config.batch_size,
                alignment=report,
                source=str(path),
            )
            for batch_index, table in enumerate(batcher.tables(samples)):
                yield (file_index, batch_index), table
            del samples
            self.build_summary.files.append(batcher.summary)
            # entities without offsets, skipped samples or re-mapped categories: a warning;
            # boundaries inside a token (common in Korean, where particles attach): info
            line = f"DynamicNER {config.name}: {batcher.summary.summary()}"
            if report.unaligned or report.skipped_samples or report.unknown_categories:
                logger.warning(line)
            else:
                logger.info(line)


CONFIG_NAMES: tuple[str, ...] = tuple(config.name for config in DynamicNER.BUILDER_CONFIGS)
"""Every config name, in the builder's order (each language, then ``all``; each granularity within)."""


def _local_source_paths(config: DynamicNERConfig) -> list[str]:
    """The local files a build of ``config`` reads (GEIC files, taxonomy, ``.7z`` archive); remote
    URLs (the release, ``https://`` data files) are left to ``datasets``' own download cache."""
    paths: list[str] = []
    if config.taxonomy_file:
        paths.append(str(config.taxonomy_file))
    if config.data_files:
        for entries in config.data_files.values():
            for path in [entries] if isinstance(entries, (str, os.PathLike)) else entries:
                if "://" not in str(path):
                    paths.append(str(path))
    elif config.data_dir:
        root = Path(config.data_dir).expanduser()
        if root.is_file():
            paths.append(str(root))
        else:
            for language in config.languages:
                paths.extend(str(p) for p in _find_split_files(root, language, config.variant).values())
    return paths


def prepare(
    config: str,
    *,
    cache_dir: Optional[str] = None,
    data_dir: Optional[str] = None,
    data_files: Optional[dict] = None,
    release: bool = False,
    download_mode: Optional[str] = None,
) -> DynamicNER:
    """Prepare one config in the ``datasets`` cache under the name ``dynamicner``.

    Afterwards, on datasets 5.x, ``datasets.load_dataset("dynamicner", config)`` (with the same
    ``data_dir`` / ``data_files`` if any, paths relative or absolute, one file as a string or a
    list) finds it offline. A cached build is reused only while its local source files are
    unchanged (size and mtime, else SHA-256; see :mod:`dynamicner_data.cache`); otherwise it is
    rebuilt in place. Returns the builder; its ``build_summary`` holds the counts of a fresh build
    (``None`` when the cache was reused).
    """
    kwargs: dict = {}
    if data_dir is not None:
        kwargs["data_dir"] = data_dir
    if data_files is not None:
        kwargs["data_files"] = {
            split: [str(paths)] if isinstance(paths, (str, os.PathLike)) else [str(p) for p in paths]
            for split, paths in data_files.items()
        }
    if release:
        kwargs["release"] = True
    # datasets would name the build after the files' resolved paths and mtimes (a new folder per
    # edit, none that load_dataset's cache fallback finds): name it after the normalised sources
    # (one build however they are spelled) and link the names that fallback computes to it
    aliases = cache.config_id_aliases(config, data_files=data_files, data_dir=data_dir)
    builder = DynamicNER(
        config_name=config,
        dataset_name="dynamicner",
        hash=builder_hash(),
        cache_dir=cache_dir,
        config_id=aliases[0] if data_files or data_dir else None,
        **kwargs,
    )
    build_dir = Path(builder.cache_dir)
    try:
        sources: Optional[list[str]] = _local_source_paths(builder.config)
    except (OSError, ValueError):  # the build itself reports the missing or ambiguous files
        sources = None
    mode = download_mode
    cached = (build_dir / "dataset_info.json").is_file()
    reuse = cached and mode in (
        None, datasets.DownloadMode.REUSE_DATASET_IF_EXISTS, "reuse_dataset_if_exists")
    if reuse:
        reason = cache.stale_reason(cache.read_record(build_dir), sources) if sources is not None else (
            "its source files cannot be resolved")
        if reason is not None:
            logger.warning(f"DynamicNER {config}: rebuilding the prepared cache: {reason}")
            builder.rebuilt_because = reason
            mode = datasets.DownloadMode.REUSE_CACHE_IF_EXISTS
            reuse = False
    record = cache.fingerprint(sources) if sources is not None and not reuse else None
    # a rebuild over a cached build: the split sizes recorded there are the old sources', not a check
    verification = datasets.VerificationMode.NO_CHECKS if cached and not reuse else None
    builder.download_and_prepare(download_mode=mode, verification_mode=verification)
    if builder.build_summary is not None:
        if record is not None:
            cache.write_record(build_dir, record)
        logger.info(builder.build_summary.text())
    cache.link_aliases(build_dir, aliases)
    return builder


class SplitUnavailable(ValueError):
    """A split that :func:`prepared_split` cannot give: the message says which and why (a user error)."""


def prepared_split(config: str, split: str, *, data_dir: Optional[str] = None) -> tuple[DynamicNER, datasets.Dataset]:
    """:func:`prepare` ``config``, then its ``split``'s rows: ``(builder, dataset)``. A split the
    config lacks, or a build that failed on the data (:func:`dynamicner_data.errors.user_error`), is a
    :class:`SplitUnavailable` whose message names the config and the cause; other errors (bugs)
    propagate as they are. The caller checks ``config`` (its own words for an unknown one).

    >>> builder, rows = prepared_split("en", "test")
    >>> rows.num_rows > 0 and builder.config.name
    'en'
    >>> prepared_split("en", "dev")
    Traceback (most recent call last):
    ...
    dynamicner_data.builder.SplitUnavailable: DynamicNER en has no split 'dev'; available: train, validation, test
    """
    from dynamicner_data.errors import describe, user_error

    try:
        builder = prepare(config, data_dir=data_dir)
        splits = list(builder.info.splits or {})
        if split not in splits:
            raise SplitUnavailable(f"DynamicNER {config} has no split {split!r}; available: {', '.join(splits)}")
        return builder, builder.as_dataset(split=split)
    except SplitUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - the same handling as the dynamicner command
        cause = user_error(error)
        if cause is None:
            raise
        raise SplitUnavailable(f"DynamicNER {config}: {describe(cause)}") from None
