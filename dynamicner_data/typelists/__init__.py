"""Per-sample type lists: seeded dynamic lists, whole-level static lists, and label statistics.

The dynamic algorithm is described, step by step in plain words, in the docstring of
:mod:`dynamicner_data.typelists.dynamic` (the one place it is written down). The modules:

- :mod:`~dynamicner_data.typelists.dynamic`: the algorithm, :func:`dynamic_type_lists` for a
  batch (one function per step) and :func:`dynamic_type_list` for one sample;
- :mod:`~dynamicner_data.typelists.static`: the static levels (:data:`STATIC_LEVELS`,
  :data:`GRANULARITIES`), :func:`static_type_list` and :func:`static_type_lists`;
- :mod:`~dynamicner_data.typelists.stats`: the paper's label statistics, label variation;
- :mod:`~dynamicner_data.typelists.tables`: the taxonomy as flat tables, cached with it;
- :mod:`~dynamicner_data.typelists.assignment`: the results, one sample or a batch, and their check.

Example:
    >>> from dynamicner_data.taxonomy import Taxonomy
    >>> tax = Taxonomy.dynamicner()
    >>> nodes = [tax.resolve("city"), tax.resolve("author")]
    >>> a = dynamic_type_list("en-train-sentence1", nodes, tax, DynamicOptions(seed=0))
    >>> all(label in a.type_list for label in a.labels), check_assignment(nodes, a)
    (True, [])
    >>> static_type_list(nodes, tax, STATIC_LEVELS["coarse"]).labels
    ('location', 'person')
"""

from .assignment import TypeListAssignment, TypeListBatch, check_assignment
from .dynamic import Draw, DynamicOptions, draw_matrix, dynamic_type_list, dynamic_type_lists
from .static import GRANULARITIES, STATIC_LEVELS, static_type_list, static_type_lists
from .stats import LabelStatistics, LabelVariation, label_statistics, label_variation
from .tables import UNKNOWN, node_ids

__all__ = [
    "GRANULARITIES",
    "STATIC_LEVELS",
    "UNKNOWN",
    "Draw",
    "DynamicOptions",
    "TypeListAssignment",
    "TypeListBatch",
    "dynamic_type_list",
    "dynamic_type_lists",
    "draw_matrix",
    "node_ids",
    "static_type_list",
    "static_type_lists",
    "check_assignment",
    "LabelStatistics",
    "label_statistics",
    "LabelVariation",
    "label_variation",
]
