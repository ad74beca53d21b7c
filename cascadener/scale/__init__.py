"""Runs that outgrow one process: deterministic shards, their checked merge, and executors.

- :mod:`cascadener.scale.shards`: which rows part ``I`` of ``N`` owns (``Dataset.shard``'s
  contiguous rule, for every source), the digest of an input's ids, and how a part's rows are cut
  into chunks so that every prediction equals the unsharded run's;
- :mod:`cascadener.scale.executors`: the shard function (one chunk through a method) and the
  in-process executor;
- :mod:`cascadener.scale.ray_executor`: the same function inside Ray Data (``map_batches`` over a
  class that owns one method per worker); needs ``pip install "dynamicner-kit[ray]"``;
- :mod:`cascadener.scale.merge`: the parts back into the file an unsharded run writes, refusing
  what does not fit.

See docs/scale.md.
"""
