"""DynamicNER data: taxonomy, GEIC reader, tokens and BIO tags, dynamic type lists, export.

The facts every layer shares are defined here, once: the eight languages, the granularities (the
static taxonomy levels and ``dynamic``), the paper's citation and the version (read from the
installed ``dynamicner-kit`` distribution, so ``pyproject.toml`` is its only source). Importing
them loads nothing else (the leaderboard reader and its Space rely on that).

>>> LANGUAGES
('en', 'es', 'fr', 'ru', 'de', 'zh', 'ja', 'ko')
"""

from importlib import metadata as _metadata
from types import MappingProxyType as _MappingProxyType
from typing import Mapping as _Mapping

LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "ru", "de", "zh", "ja", "ko")
"""The eight DynamicNER languages, in the paper's order."""

STATIC_LEVELS: _Mapping[str, int] = _MappingProxyType({"coarse": 1, "medium": 2, "fine": 3})
"""Taxonomy level (1-based) of each static granularity."""

GRANULARITIES: tuple[str, ...] = ("dynamic", *STATIC_LEVELS)
"""Every granularity, ``dynamic`` first: ``("dynamic", "coarse", "medium", "fine")``."""

DISTRIBUTION = "dynamicner-kit"

try:
    __version__ = _metadata.version(DISTRIBUTION)
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

CITATION = """\
@inproceedings{dynamicner2025,
  title = {DynamicNER: A Dynamic, Multilingual, and Fine-Grained Dataset for LLM-based Named Entity Recognition},
  booktitle = {Proceedings of the 2025 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  year = {2025},
  eprint = {2409.11022},
  archivePrefix = {arXiv},
}
"""
"""The DynamicNER paper's BibTeX: the builder's citation, the dataset card's and the leaderboard Space's."""

__all__ = ["CITATION", "DISTRIBUTION", "GRANULARITIES", "LANGUAGES", "STATIC_LEVELS", "__version__"]
