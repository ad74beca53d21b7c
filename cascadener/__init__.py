"""CascadeNER: two-stage named entity recognition on small causal language models.

Stage 1 (the extractor) rewrites a sentence with every entity wrapped as ``##entity##``;
stage 2 (the classifier) picks each entity's type from a candidate list.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
