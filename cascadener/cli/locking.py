"""One writer per output: an exclusive lock held for the whole run, its holder named to the others.

:class:`OutputLock` takes an exclusive ``fcntl.flock`` lock on a lock file beside the output
(``predictions.jsonl`` -> ``predictions.jsonl.lock``) and writes ``pid host`` into it. A second
writer of the same output (another process, or another run in this one) is refused at once with
:class:`OutputLocked`, whose message names the holder. The kernel releases the lock when its
holder exits, however it exits (SIGKILL included), so a lock file left behind by a dead process is
*stale*: the next writer takes it over and says so (:attr:`OutputLock.stale_holder`). On release
the lock file is removed.

Example:
    >>> import tempfile, pathlib
    >>> output = pathlib.Path(tempfile.mkdtemp()) / "predictions.jsonl"
    >>> with OutputLock(output) as lock:
    ...     print(lock.lock_path.name, lock.lock_path.is_file())
    ...     try:
    ...         OutputLock(output).acquire()
    ...     except OutputLocked as error:
    ...         print("refused:", "is being written by pid" in str(error))
    predictions.jsonl.lock True
    refused: True
    >>> lock.lock_path.exists()
    False
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LockHolder", "OutputLock", "OutputLocked", "lock_path_for"]


class OutputLocked(RuntimeError):
    """Another writer holds the output's lock; the message names it (pid, host, lock file)."""


@dataclass(frozen=True)
class LockHolder:
    """Who wrote a lock file: ``pid`` and ``host`` (``None`` when the file is empty or unreadable)."""

    pid: int | None
    host: str | None

    @classmethod
    def parse(cls, text: str) -> "LockHolder":
        """``"1234 myhost"`` -> ``LockHolder(1234, "myhost")``.

        >>> LockHolder.parse("1234 node-7\\n")
        LockHolder(pid=1234, host='node-7')
        >>> LockHolder.parse("")
        LockHolder(pid=None, host=None)
        """
        fields = text.split()
        pid = int(fields[0]) if fields and fields[0].isdigit() else None
        host = fields[1] if len(fields) > 1 else None
        return cls(pid, host)

    def describe(self) -> str:
        """``"pid 1234 on host node-7"`` (or what is known of it)."""
        if self.pid is None:
            return "an unknown process"
        return f"pid {self.pid}" + (f" on host {self.host}" if self.host else "")


def lock_path_for(output: str | os.PathLike) -> Path:
    """The lock file of ``output``: its sibling ``<name>.lock``.

    A folder named ``.`` or ``..`` (or ending so) has no name of its own: its lock is beside the
    folder it stands for, ``os.path.abspath(output)``.

    >>> lock_path_for("runs/predictions.jsonl").as_posix()
    'runs/predictions.jsonl.lock'
    >>> import os
    >>> lock_path_for(".") == lock_path_for(os.getcwd())
    True
    """
    output = Path(output)
    if output.name in ("", ".."):
        output = Path(os.path.abspath(output))
    return output.with_name(output.name + ".lock")


class OutputLock:
    """An exclusive lock on ``output`` (a file or a folder) for one writer, as a context manager.

    :meth:`acquire` raises :class:`OutputLocked` naming the holder when another writer has it, and
    ``OSError`` when the lock file cannot be created (a read-only or missing folder). After a
    successful acquire, :attr:`stale_holder` is the dead writer whose lock file was taken over
    (``None`` when there was none).
    """

    def __init__(self, output: str | os.PathLike) -> None:
        self.output = Path(output)
        self.lock_path = lock_path_for(self.output)
        self.stale_holder: LockHolder | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "OutputLock":
        if self._fd is not None:
            raise RuntimeError(f"{self.lock_path} is already held by this OutputLock")
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                holder = self._read_holder()
                raise OutputLocked(
                    f"{self.output} is being written by {holder.describe()} (lock file {self.lock_path}); "
                    "wait for it to finish, or stop it first") from None
            # The previous holder may have removed the file between our open and our lock:
            # then we hold a lock on a deleted file; start again on the file now at the path.
            try:
                here, ours = os.stat(self.lock_path), os.fstat(fd)
                same = (here.st_dev, here.st_ino) == (ours.st_dev, ours.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        self.stale_holder = LockHolder.parse(previous) if previous.strip() else None
        record = f"{os.getpid()} {socket.gethostname()}\n".encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        except OSError:  # a full disk: no lock file is left behind
            os.unlink(self.lock_path)
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and release the lock (a no-op when not held)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.lock_path)
        except FileNotFoundError:
            pass
        finally:
            os.close(self._fd)
            self._fd = None

    def _read_holder(self) -> LockHolder:
        try:
            return LockHolder.parse(self.lock_path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return LockHolder(None, None)

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()
