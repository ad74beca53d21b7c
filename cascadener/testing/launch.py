"""Start ``transformers serve`` on a local model folder, on loopback, for tests, benchmarks and quick checks.

:class:`LocalServer` runs ``python -m transformers.cli.transformers serve MODEL_DIR --host 127.0.0.1
--port PORT`` (a free port unless given; ``--continuous-batching`` on request, with ``--cb-num-blocks
256``: without a bound, each engine reserved 12-14 GB for a 0.5M-parameter model and was OOM-killed;
``pinned=False`` leaves the model out: the server then loads any model a request names, e.g. an
extractor and a classifier) in its own process group, offline (``HF_HUB_OFFLINE=1``, no update
check), waits until ``GET /health`` answers and the model answers one chat request (bounded by
``start_timeout``), and stops it by its pid: SIGTERM, then SIGKILL after ``stop_timeout`` seconds.
The server's output goes to a log file (``log_path``), shown in the error when it does not come up.
The model folder's own chat template is applied by the server.

Needs ``pip install "transformers[serving]"`` (fastapi, uvicorn).

    with LocalServer("path/to/model") as server:
        ner = CascadeNER.from_endpoint(server.base_url, server.model)

>>> free_port() > 0
True
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["LocalServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """``transformers serve`` on 127.0.0.1 (see the module docstring)."""

    def __init__(self, model_dir: str | Path, *, port: int | None = None, continuous_batching: bool = False,
                 cb_num_blocks: int = 256, pinned: bool = True, threads: int | None = None,
                 start_timeout: float = 180.0, stop_timeout: float = 15.0, log_path: str | Path | None = None) -> None:
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_dir} is not a model folder (no config.json)")
        self.model = str(self.model_dir)
        self.port = port or free_port()
        self.continuous_batching = continuous_batching
        self.cb_num_blocks = cb_num_blocks
        self.pinned = pinned
        self.threads = threads
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="transformers-serve-",
                                                                              suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "transformers.cli.transformers", "serve",
                   *([self.model] if self.pinned else []), "--host", "127.0.0.1", "--port", str(self.port)]
        if self.continuous_batching:
            command += ["--continuous-batching", "--cb-num-blocks", str(self.cb_num_blocks)]
        return command

    def start(self) -> "LocalServer":
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_UPDATE_CHECK="1",
                   HF_HUB_DISABLE_TELEMETRY="1")
        if self.threads is not None:
            env["OMP_NUM_THREADS"] = str(self.threads)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with status {self.process.returncode}; "
                                   f"its log ({self.log_path}):\n{self._log_tail()}")
            if self._answers():
                return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"transformers serve did not answer within {self.start_timeout:g} s; "
                           f"its log ({self.log_path}):\n{self._log_tail()}")

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after ``stop_timeout`` seconds; bounded."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _answers(self) -> bool:
        """``/health`` is up and one tiny chat request comes back (the model is loaded)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        try:
            with opener.open(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                if response.status != 200:
                    return False
            body = json.dumps({"model": self.model, "messages": [{"role": "user", "content": "hi"}],
                               "max_tokens": 1, "temperature": 0}).encode()
            request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body,
                                             headers={"Content-Type": "application/json"})
            with opener.open(request, timeout=60) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
