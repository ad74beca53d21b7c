"""The shard function inside Ray Data: ``cascadener predict --executor ray [--workers N] [--ray-address ADDR]``.

:class:`RayExecutor` turns the run's chunks into a Ray dataset of one row per chunk and maps
:class:`ChunkPredictor` over it with ``map_batches`` on an actor pool of ``workers`` actors. Each
actor owns one method (:func:`cascadener.methods.method_class`, built from the backend's settings
in its ``__init__``): a local model, on its own GPU (``num_gpus=1``, for ``--device cuda`` or no
device on a cluster with GPUs) or on CPU; or the server's client, one per worker (with
``--worker-base-url``, chunk ``k`` goes to URL ``k mod M``: N servers, each its share). Every
chunk is predicted by :func:`cascadener.scale.executors.predict_chunk`, the function the
in-process executor runs, so the results are the same; they come back **in chunk order**
(``preserve_order``), each as soon as it and those before it are done, and the caller writes them
into the same file, under the same lock, resume and meta.

Where it runs: ``ADDR`` (or ``$RAY_ADDRESS``) names an existing cluster (``ray start --head`` on
one node, ``ray start --address HEAD:6379`` on the others; every node needs this package and the
model files at the same path); without one, a local cluster is started for the run and stopped
after it (usage statistics off unless ``RAY_USAGE_STATS_ENABLED`` says otherwise); a Ray session
already open in this process (``ray.init`` in a notebook or a test) is used as it is and left open.

A local model on CPU computes with as many torch threads in each worker as this process would
(``torch.get_num_threads()``; a worker is scheduled on one CPU), since the thread count changes a
score's last digits: the file is then the one-process run's bytes on the same machine. Ray prints
one line of its own on stderr per run (``core_worker.cc ... constructor arguments in the object
store``); it is harmless.

Failures: a worker never raises into Ray (its error would come back wrapped, its message buried in
a traceback): it returns the error as the chunk's row, and the driver raises it after the chunks
before it are written: a server's :class:`~cascadener.backends.http.ServerError` as itself, any
other error as :class:`WorkerError` with the worker's traceback. A local model on GPUs the cluster
does not have is refused before anything starts (Ray would wait for them forever).

Needs ``pip install "dynamicner-kit[ray]"`` (``ray[data]``; never ``ray[llm]``, which pins a CUDA
vLLM); without it, :class:`RayUnavailable` says so.

Example (nothing starts until :meth:`RayExecutor.run`):
    >>> from cascadener.backends.server import EndpointSettings
    >>> from cascadener.backends.http import EndpointOptions
    >>> settings = EndpointSettings(EndpointOptions("http://127.0.0.1:8000/v1"), "m")
    >>> executor = RayExecutor("cascadener", settings, None, workers=2,
    ...                        endpoints=("http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1"))
    >>> executor.describe()["workers"], [s.endpoint.base_url for s in executor.worker_settings()]
    (2, ['http://127.0.0.1:8001/v1', 'http://127.0.0.1:8002/v1'])
"""

from __future__ import annotations

import json
import logging
import os
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterable, Iterator, Sequence

from cascadener.scale.executors import ChunkResult, ChunkTask, ExecutorError, predict_chunk

__all__ = ["RayExecutor", "ChunkPredictor", "RayUnavailable", "WorkerError", "DEFAULT_WORKERS"]

#: workers of a run that names none
DEFAULT_WORKERS = 2
#: seconds Ray waits for the workers to start (their models to load) before it gives up
START_TIMEOUT = 600


class RayUnavailable(ExecutorError):
    """Ray Data is not installed."""


class WorkerError(RuntimeError):
    """A worker failed on a chunk with an error that is not a server's; the message holds its traceback."""


def import_ray():
    """``ray`` with ``ray.data`` imported, or :class:`RayUnavailable` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the executor's engine
    except ImportError:
        raise RayUnavailable('--executor ray needs Ray Data: pip install "dynamicner-kit[ray]" (ray[data])') from None
    return ray


def _on_endpoint(settings: Any, url: str) -> Any:
    """The server's settings with ``url`` in place of its URL (a classifier on the same server follows)."""
    endpoint = replace(settings.endpoint, base_url=url)
    changes: dict[str, Any] = {"endpoint": endpoint}
    classifier = getattr(settings, "classifier_endpoint", None)
    if classifier is not None and classifier.base_url.rstrip("/") == settings.endpoint.base_url.rstrip("/"):
        changes["classifier_endpoint"] = replace(classifier, base_url=url)
    return replace(settings, **changes)


class ChunkPredictor:
    """The ``map_batches`` class: one method per worker (its ``__init__`` runs once per actor).

    A batch is a ``pyarrow.Table`` of chunks (``number``, ``payload``: the texts and type lists as
    JSON); the answer holds per chunk its ``entities`` and ``stats`` (JSON), or its ``error`` and
    ``error_type``. ``settings`` is one backend's settings per endpoint (chunk ``k`` takes
    ``settings[k % len(settings)]``); each method is built the first time a chunk needs it.
    ``threads``: torch's CPU threads in the worker (a local model on CPU computes with as many
    threads as the driver would, since the thread count changes a score's last digits).
    """

    def __init__(self, method: str, settings: Sequence[Any], options: Any, threads: int | None = None) -> None:
        from cascadener.methods import method_class

        if threads is not None:  # process-wide: also for __call__, which Ray runs in another thread
            import torch

            torch.set_num_threads(threads)
        self._settings = tuple(settings)
        self._options = options
        self._methods: dict[int, Any] = {}
        self._method_class = method_class(method)

    def _method(self, number: int) -> Any:
        slot = number % len(self._settings)
        if slot not in self._methods:
            self._methods[slot] = self._method_class.from_settings(self._settings[slot])
        return self._methods[slot]

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"number": [], "entities": [], "stats": [], "error": [], "error_type": []}
        for row in batch.to_pylist():
            number = int(row["number"])
            payload = json.loads(row["payload"])
            task = ChunkTask(number, tuple(payload["texts"]),
                             tuple(None if lst is None else tuple(lst) for lst in payload["type_lists"]),
                             tuple(payload.get("languages") or ()))
            entities = stats = error = kind = ""
            try:
                result = predict_chunk(self._method(number), task, self._options)
                entities = json.dumps(result.entities, ensure_ascii=False)
                stats = json.dumps(result.stats)
            except Exception as failure:  # noqa: BLE001 - returned as the chunk's row, raised by the driver
                kind = type(failure).__name__
                error = str(failure) if kind == "ServerError" else traceback.format_exc()
            out["number"].append(number)
            out["entities"].append(entities)
            out["stats"].append(stats)
            out["error"].append(error)
            out["error_type"].append(kind)
        return out


class RayExecutor:
    """The chunks on ``workers`` Ray Data workers (see the module doc). ``method``: a name in
    :data:`cascadener.methods.METHODS`; ``settings``: the backend's (built by each worker);
    ``options``: the method's; ``address``: a cluster (``None``: ``$RAY_ADDRESS``, else a new local
    one); ``endpoints``: more server URLs for the workers (``--worker-base-url``)."""

    name = "ray"

    def __init__(self, method: str, settings: Any, options: Any, *, workers: int | None = None,
                 address: str | None = None, endpoints: Sequence[str] = ()) -> None:
        self.method = method
        self.settings = settings
        self.options = options
        self.workers = DEFAULT_WORKERS if workers is None else workers
        if self.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.endpoints = tuple(endpoints)
        if self.endpoints:
            if not hasattr(settings, "endpoint"):
                raise ValueError("--worker-base-url only applies to a server's backend (--backend openai)")
            from cascadener.backends.http import EndpointOptions

            for url in self.endpoints:
                try:
                    EndpointOptions(url)
                except ValueError as error:
                    raise ValueError(f"--worker-base-url: {error}") from None

    def describe(self) -> dict[str, Any]:
        """What the predictions meta records of the executor (not compared by ``--resume``)."""
        record: dict[str, Any] = {"name": self.name, "workers": self.workers, "address": self.address or "local"}
        if self.endpoints:
            record["worker_base_urls"] = list(self.endpoints)
        threads = self.threads(gpu=(getattr(self.settings, "device", None) or "").startswith("cuda"))
        if threads is not None:
            record["torch_threads"] = threads
        return record

    def worker_settings(self, *, gpu: bool = False) -> list[Any]:
        """The backend settings the workers build, one per endpoint (a GPU worker's model on ``cuda``: its own GPU)."""
        settings = self.settings
        if gpu:
            settings = replace(settings, device="cuda")
        if not self.endpoints:
            return [settings]
        return [_on_endpoint(settings, url) for url in self.endpoints]

    def threads(self, *, gpu: bool = False) -> int | None:
        """torch's CPU threads for a worker with a local model on CPU: this process's, so that each score
        is computed as a one-process run computes it (``None``: a server's client, or a GPU)."""
        if gpu or not getattr(self.settings, "loads_weights", False):
            return None
        import torch

        return torch.get_num_threads()

    # ------------------------------------------------------------------------------ running

    @contextmanager
    def _session(self) -> Iterator[Any]:
        ray = import_ray()
        if ray.is_initialized():  # the caller's session: used as it is, left open
            yield ray
            return
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
        if self.address is None:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            options |= {"address": "local", "num_cpus": max(self.workers, os.cpu_count() or 1),
                        "include_dashboard": False}
        else:
            options["address"] = self.address
        try:
            ray.init(**options)
        except (ConnectionError, ValueError, RuntimeError) as error:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray cluster"
            raise ExecutorError(f"cannot start or reach {where}: {error}") from None
        try:
            yield ray
        finally:
            ray.shutdown()

    def _gpus_per_worker(self, ray: Any) -> int:
        """1 for a local model on CUDA (asked for, or no device named on a cluster with GPUs), else 0;
        :class:`ExecutorError` when the cluster has fewer GPUs than workers."""
        if not getattr(self.settings, "loads_weights", False):
            return 0
        device = getattr(self.settings, "device", None)
        available = int(ray.cluster_resources().get("GPU", 0))
        wanted = (device or "").startswith("cuda") or (device is None and available > 0)
        if not wanted:
            return 0
        if available < self.workers:
            raise ExecutorError(f"the Ray cluster has {available} GPU(s); {self.workers} workers with a local model on "
                                "CUDA need one each (fewer --workers, or --device cpu)")
        return 1

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        """The results of ``tasks``, in their order, each as soon as it and those before it are done."""
        tasks = list(tasks)
        if not tasks:
            return
        with self._session() as ray:
            from ray.data import ActorPoolStrategy, DataContext

            gpus = self._gpus_per_worker(ray)
            items = [{"number": task.number,
                      "payload": json.dumps({"texts": list(task.texts),
                                             "type_lists": [None if lst is None else list(lst)
                                                            for lst in task.type_lists],
                                             "languages": list(task.languages)}, ensure_ascii=False)}
                     for task in tasks]
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            context = DataContext.get_current()
            saved = (context.execution_options.preserve_order, context.enable_progress_bars,
                     context.print_on_execution_start, context.wait_for_min_actors_s)
            try:  # a dataset keeps a copy of the context it was made in: set it for ours, then put it back
                context.execution_options.preserve_order = True
                context.enable_progress_bars = False
                context.print_on_execution_start = False
                context.wait_for_min_actors_s = START_TIMEOUT
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", module=r"ray(\..*)?")
                    dataset = ray.data.from_items(items).map_batches(
                        ChunkPredictor, batch_size=1, batch_format="pyarrow",
                        fn_constructor_kwargs={"method": self.method, "settings": self.worker_settings(gpu=gpus > 0),
                                               "options": self.options, "threads": self.threads(gpu=gpus > 0)},
                        compute=ActorPoolStrategy(size=min(self.workers, len(items))), num_cpus=1, num_gpus=gpus)
            finally:
                (context.execution_options.preserve_order, context.enable_progress_bars,
                 context.print_on_execution_start, context.wait_for_min_actors_s) = saved
            rows = iter(dataset.iter_rows())
            try:
                for task in tasks:
                    row = next(rows, None)
                    if row is None or int(row["number"]) != task.number:
                        raise WorkerError(f"Ray Data gave chunk {None if row is None else row['number']} where "
                                          f"chunk {task.number} was expected")
                    if row["error_type"]:
                        if row["error_type"] == "ServerError":
                            from cascadener.backends.http import ServerError

                            raise ServerError(row["error"])
                        raise WorkerError(f"a Ray worker failed on chunk {task.number}:\n{row['error']}")
                    yield ChunkResult(task.number, json.loads(row["entities"]), json.loads(row["stats"]))
            finally:
                close = getattr(rows, "close", None)
                if close is not None:
                    close()
