"""dynamicner_f1: NER scores against per-sample type lists (span or IOB2 input).

The scorer needs only the standard library and numpy; the ``evaluate`` metric lives
in ``dynamicner_f1.dynamicner_f1`` and is loaded with ``evaluate.load("metric/dynamicner_f1")``.

Example:
    >>> from dynamicner_f1 import score_spans
    >>> score_spans([[{"text": "Paris", "label": "city", "start": 0, "end": 5}]],
    ...             [[{"text": "Paris", "label": "city", "start": 0, "end": 5}]])["f1"]
    1.0
"""

from importlib import metadata as _metadata

from .options import MATCHING, Options
from .scorer import score_spans, score_tags

__all__ = ["MATCHING", "Options", "score_spans", "score_tags", "__version__"]

# The kit's version (pyproject.toml is its only source). This folder also runs on its own, as a
# Hub Space, and so imports nothing of the kit: it asks the installed distribution directly.
try:
    __version__ = _metadata.version("dynamicner-kit")
except _metadata.PackageNotFoundError:  # the folder on its own, without the kit installed
    __version__ = "0+unknown"
