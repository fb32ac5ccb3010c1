"""The servers under test, each started as in production in a process of its own."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from bench.cpu import child_pids

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 25


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_command(port: int) -> list[str]:
    """How the service is deployed: `python -m service` (uvloop, httptools), one worker."""
    return [
        *(sys.executable, "-m", "service"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]


def checkout_python(checkout: Path) -> str:
    """Another checkout's own interpreter (`make sync` there), else this one's."""
    own = checkout / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def checkout_service_command(checkout: Path) -> Callable[[int], list[str]]:
    """`python -m service` as another checkout deploys it, with its own dependencies."""
    python = checkout_python(checkout)
    return lambda port: [python, *service_command(port)[1:]]


def baseline_command(port: int) -> list[str]:
    """The raw baseline with the same uvicorn settings."""
    return [sys.executable, "-m", "bench.baseline", "--host", "127.0.0.1", "--port", str(port)]


def pure_python_command(port: int) -> list[str]:
    """The service with uvicorn's asyncio loop and h11 instead of uvloop and httptools."""
    return [
        *(sys.executable, "-m", "bench.pure_python_server"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]


def read_status_kib(pid: int, key: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def worker_children(pid: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing children), when it runs more than one."""
    workers: list[int] = []
    for child in child_pids(pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
    return workers


@dataclass
class Server:
    """A running server process: its URL, its log and its memory."""

    name: str
    command: Callable[[int], list[str]]
    env: dict[str, str]
    log_path: Path
    cwd: Path = PROJECT_ROOT  # another checkout runs another version of the service
    # Another checkout's /readyz refuses a database migrated past its own head; /healthz
    # only says the process serves.
    ready_path: str = "/readyz"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8123."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> "Server":
        """Start the process (stdout and stderr, the access log included, go to its log file)."""
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(self.port),
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Poll the ready path until it answers 200."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready in {READY_TIMEOUT_SECONDS} s")

    def restart(self) -> None:
        """Stop and start again (a fresh worker, e.g. for a memory measurement)."""
        self.stop()
        self.start()  # same port: uvicorn listens with SO_REUSEADDR

    def stop(self) -> None:
        """SIGTERM (uvicorn drains), then SIGKILL if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    @property
    def pid(self) -> int:
        """The server's main process id."""
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's workers, or the process itself."""
        return worker_children(self.pid) or [self.pid]

    def rss_mib(self) -> float:
        """Resident memory of the largest worker now."""
        return max(read_status_kib(pid, "VmRSS") for pid in self.worker_pids()) / 1024

    def reset_peak_rss(self) -> None:
        """Restart the kernel's peak-RSS counter (VmHWM) of every worker."""
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):  # an old kernel, or another user's process
                Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peak_rss_mib(self) -> float:
        """Peak resident memory of the largest worker since the last reset."""
        return max(read_status_kib(pid, "VmHWM") for pid in self.worker_pids()) / 1024

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()
