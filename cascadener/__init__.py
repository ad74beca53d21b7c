"""CascadeNER: two-stage named entity recognition on small causal language models.

Stage 1 (the extractor) rewrites a sentence with every entity wrapped as ``##entity##``;
stage 2 (the classifier) picks each entity's type from a candidate list.

``CascadeNER`` is imported on first use, so ``import cascadener`` (prompts, parsing, the CLI's
argument parsing) does not load torch.

>>> import cascadener
>>> cascadener.CascadeNER.__name__
'CascadeNER'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dynamicner_data import __version__

__all__ = ["CascadeNER", "__version__"]

if TYPE_CHECKING:
    from cascadener.pipeline import CascadeNER


def __getattr__(name: str) -> Any:
    if name == "CascadeNER":
        from cascadener.pipeline import CascadeNER

        return CascadeNER
    raise AttributeError(f"module 'cascadener' has no attribute {name!r}")
