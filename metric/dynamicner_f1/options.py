"""The scoring options of dynamicner_f1: one frozen ``Options``, checked once when built.

``score_spans``, ``score_tags`` and the ``evaluate`` metric's ``compute`` take these names as
keywords (their signatures are the fields, a test holds them equal), build one ``Options`` at the
top and pass it down; every internal function takes the ``Options``, never the keywords again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Mapping, Sequence

from .hierarchy import LabelPaths, label_paths

MATCHING: tuple[str, ...] = ("strict", "text", "partial", "boundary")


def _is_type_list(value: object) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(t, str) for t in value)


# the per-sample options: (name, item check, what an item should be)
_PER_SAMPLE: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    ("type_lists", _is_type_list, "a list of type names (strings)"),
    ("languages", lambda v: isinstance(v, str) and bool(v), "a language code"),
    ("sentences", lambda v: isinstance(v, str), "a string"),
)


@dataclass(frozen=True)
class Options:
    """The scoring options, checked when built, then passed down unchanged.

    ``taxonomy`` (a mapping, or an already parsed :class:`~dynamicner_f1.hierarchy.LabelPaths`) is
    parsed once into :attr:`paths`. The per-sample options (``type_lists``, ``languages``,
    ``sentences``) are checked item by item here, their length by :meth:`for_samples` once the
    number of samples is known.

    Example:
        >>> Options(matching="fuzzy")
        Traceback (most recent call last):
        ...
        ValueError: matching='fuzzy' is not one of ['strict', 'text', 'partial', 'boundary']
        >>> Options(languages=["en", "de"]).for_samples(3)
        Traceback (most recent call last):
        ...
        ValueError: languages has 2 entries for 3 samples; expected one per sample
        >>> Options(taxonomy={"city": ["location", "city"]}).paths.resolve("City")
        ('location', 'city')
    """

    type_lists: Sequence[Sequence[str]] | None = None
    languages: Sequence[str] | None = None
    taxonomy: Mapping | LabelPaths | None = None
    matching: str = "strict"
    bootstrap: int | None = None
    seed: int = 0
    sentences: Sequence[str] | None = None
    paths: LabelPaths | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.matching not in MATCHING:
            raise ValueError(f"matching={self.matching!r} is not one of {list(MATCHING)}")
        bootstrap = self.bootstrap
        if bootstrap is not None and (not isinstance(bootstrap, int) or isinstance(bootstrap, bool) or bootstrap < 1):
            raise ValueError(f"bootstrap={bootstrap!r}: expected None or a positive int (the number of resamples)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed={self.seed!r}: expected an int")
        for name, item_ok, expected in _PER_SAMPLE:
            values = getattr(self, name)
            if values is None:
                continue
            if not isinstance(values, (list, tuple)):
                raise ValueError(f"{name} must be a list with one entry per sample, got {type(values).__name__}")
            for i, value in enumerate(values):
                if not item_ok(value):
                    raise ValueError(f"sample {i}: {name}[{i}] is {value!r}; expected {expected}")
        taxonomy = self.taxonomy
        paths = taxonomy if taxonomy is None or isinstance(taxonomy, LabelPaths) else label_paths(taxonomy)
        object.__setattr__(self, "paths", paths)

    def for_samples(self, n_samples: int) -> Options:
        """``self``, once every per-sample option has one entry per sample (else ``ValueError``)."""
        for name, _, _ in _PER_SAMPLE:
            values = getattr(self, name)
            if values is not None and len(values) != n_samples:
                raise ValueError(f"{name} has {len(values)} entries for {n_samples} samples; expected one per sample")
        return self

    @classmethod
    def keywords(cls) -> tuple[str, ...]:
        """The option names, in order: the keywords of ``score_spans`` and ``compute``.

        Example:
            >>> Options.keywords()
            ('type_lists', 'languages', 'taxonomy', 'matching', 'bootstrap', 'seed', 'sentences')
        """
        return tuple(f.name for f in fields(cls) if f.init)
