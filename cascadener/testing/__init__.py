"""Support for tests, benchmarks and quick checks; not a backend: :mod:`~cascadener.testing.launch`
starts ``transformers serve`` on loopback for a local model folder."""
