"""GET /workflows/{id}/events over real uvicorn processes: order, replay, replicas, limits."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import make_url

from service.db import psycopg_conninfo
from service.events.broker import LISTENER_APPLICATION_NAME
from tests.conftest import TEST_SECRET
from tests.events.sse_client import ServerSentEvent, collect_events, read_events
from tests.live_server import PROJECT_ROOT, free_port, live_server, wait_until_ready

WORKFLOWS = "/api/v1/workflows"
STREAM_TIMEOUT = httpx.Timeout(20.0)
READY_TIMEOUT = 90.0  # the test machine may be loaded


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a replica on the test database."""
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "ENVIRONMENT": "test",
        **extra,
    }


@pytest.fixture(scope="module")
def replica(database_url: str) -> Iterator[str]:
    """One uvicorn process (heartbeats every 0.3 s)."""
    with live_server(
        server_env(database_url, EVENTS_HEARTBEAT_SECONDS="0.3"), timeout=READY_TIMEOUT
    ) as base:
        yield base


@pytest.fixture(scope="module")
def other_replica(database_url: str) -> Iterator[str]:
    """A second uvicorn process on the same database."""
    with live_server(server_env(database_url), timeout=READY_TIMEOUT) as base:
        yield base


def bearer(make_token: Callable[..., str], user_id: uuid.UUID) -> dict[str, str]:
    """The Authorization header of this user."""
    return {"Authorization": f"Bearer {make_token(user_id)}"}


async def new_workflow(http: httpx.AsyncClient) -> dict[str, Any]:
    """A fresh workflow of the client's user."""
    created = await http.post(WORKFLOWS, json={"name": "watched"})
    assert created.status_code == 201, created.text
    workflow: dict[str, Any] = created.json()
    return workflow


async def rename(http: httpx.AsyncClient, workflow: dict[str, Any], name: str) -> int:
    """PATCH the workflow's name with If-Match; the new version."""
    url = f"{WORKFLOWS}/{workflow['id']}"
    answer = await http.patch(
        url, json={"name": name}, headers={"If-Match": f'"{workflow["version"]}"'}
    )
    assert answer.status_code == 200, answer.text
    workflow["version"] = answer.json()["version"]
    return int(workflow["version"])


class OpenStream:
    """An event stream whose headers arrived, read block by block."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.blocks = read_events(response)

    async def events(self, count: int, until_version: int | None = None) -> list[ServerSentEvent]:
        """The next `count` events (or up to `until_version`)."""
        return await collect_events(self.blocks, count, until_version=until_version)

    async def rest(self) -> list[ServerSentEvent]:
        """Every block until the server ends the stream."""
        return [block async for block in self.blocks]


@asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient, workflow_id: str, headers: dict[str, str] | None = None
) -> AsyncIterator[OpenStream]:
    """An open event stream (its headers received), closed when the block ends."""
    url = f"{WORKFLOWS}/{workflow_id}/events"
    async with http.stream("GET", url, headers=headers or {}, timeout=STREAM_TIMEOUT) as response:
        yield OpenStream(response)


async def test_a_new_stream_answers_at_once_before_any_heartbeat(
    other_replica: str, make_token: Callable[..., str]
) -> None:
    """Headers arrive without waiting for the first event or heartbeat (15 s here), gzip or not."""
    auth = bearer(make_token, uuid.uuid4())
    async with httpx.AsyncClient(base_url=other_replica, headers=auth, timeout=20) as http:
        workflow = await new_workflow(http)
        for coding in ("gzip", "identity"):
            started = time.monotonic()
            async with open_stream(http, workflow["id"], {"Accept-Encoding": coding}) as stream:
                assert stream.response.status_code == 200
            assert time.monotonic() - started < 5


async def test_events_arrive_in_version_order_as_the_change_log_has_them(
    replica: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    async with httpx.AsyncClient(base_url=replica, headers=auth, timeout=20) as http:
        workflow = await new_workflow(http)
        async with open_stream(http, workflow["id"]) as stream:
            assert stream.response.status_code == 200
            assert stream.response.headers["content-type"].startswith("text/event-stream")
            assert stream.response.headers["cache-control"] == "no-store"
            versions = [await rename(http, workflow, f"name-{n}") for n in range(5)]
            events = await stream.events(5)
        changes = await http.get(f"{WORKFLOWS}/{workflow['id']}/changes", params={"since": 1})
    assert [event.event_id for event in events] == versions == [2, 3, 4, 5, 6]
    assert {event.event_type for event in events} == {"workflow.updated"}
    assert [event.data for event in events] == changes.json()["items"]


async def test_heartbeat_comments_keep_an_idle_stream_alive(
    replica: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    async with httpx.AsyncClient(base_url=replica, headers=auth, timeout=20) as http:
        workflow = await new_workflow(http)
        async with open_stream(http, workflow["id"]) as stream:
            opened = await anext(stream.blocks)
            first = await anext(stream.blocks)
    assert opened.comments == ["subscribed"]
    assert first.event_type is None
    assert first.comments == ["heartbeat"]


async def test_last_event_id_replays_the_missed_entries_then_live_ones(
    replica: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    async with httpx.AsyncClient(base_url=replica, headers=auth, timeout=20) as http:
        workflow = await new_workflow(http)
        for n in range(3):
            await rename(http, workflow, f"offline-{n}")  # versions 2, 3, 4
        async with open_stream(http, workflow["id"], {"Last-Event-ID": "2"}) as stream:
            replayed = await stream.events(2)
            live_version = await rename(http, workflow, "live")
            live = await stream.events(1)
    assert [event.event_id for event in replayed + live] == [3, 4, live_version]


async def test_reconnecting_while_writes_continue_loses_and_repeats_nothing(
    replica: str, other_replica: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    writes = 40
    async with httpx.AsyncClient(base_url=other_replica, headers=auth, timeout=20) as writer:
        workflow = await new_workflow(writer)
        start = int(workflow["version"])
        final = start + writes

        async def write_steadily() -> None:
            for n in range(writes):
                await rename(writer, workflow, f"step-{n}")
                await asyncio.sleep(0.01)

        received: list[int] = []
        async with httpx.AsyncClient(base_url=replica, headers=auth, timeout=20) as reader:
            writing = asyncio.create_task(write_steadily())
            last: int | None = None
            while not received or received[-1] < final:
                headers = {} if last is None else {"Last-Event-ID": str(last)}
                async with open_stream(reader, workflow["id"], headers) as stream:
                    for event in await stream.events(5, until_version=final):
                        assert event.event_id is not None
                        received.append(event.event_id)
                        last = event.event_id
            await writing
    assert received == list(range(start + 1, final + 1))


async def test_write_on_one_replica_reaches_a_subscriber_of_another(
    replica: str, other_replica: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    async with (
        httpx.AsyncClient(base_url=replica, headers=auth, timeout=20) as first,
        httpx.AsyncClient(base_url=other_replica, headers=auth, timeout=20) as second,
    ):
        workflow = await new_workflow(first)
        async with open_stream(second, workflow["id"]) as stream:
            started = time.monotonic()
            version = await rename(first, workflow, "from replica 1")
            (event,) = await stream.events(1)
            elapsed = time.monotonic() - started
    assert event.event_id == version
    assert event.data["operation"] == "workflow.updated"
    assert elapsed < 5


def terminate_listeners(database_url: str) -> int:
    """pg_terminate_backend every LISTEN connection on the test database; how many."""
    database = make_url(database_url).database  # the embedded server's URL has ?host=...
    with psycopg.connect(psycopg_conninfo(database_url), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s",
            [database, LISTENER_APPLICATION_NAME],
        ).fetchall()
    return len(rows)


async def test_a_killed_listen_connection_is_recovered_without_losing_an_event(
    replica: str, other_replica: str, make_token: Callable[..., str], database_url: str
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    async with (
        httpx.AsyncClient(base_url=replica, headers=auth, timeout=20) as reader,
        httpx.AsyncClient(base_url=other_replica, headers=auth, timeout=20) as writer,
    ):
        workflow = await new_workflow(writer)
        async with open_stream(reader, workflow["id"]) as stream:
            assert terminate_listeners(database_url) >= 2
            # Written while the reader's worker has no LISTEN connection: the log catches up.
            versions = [await rename(writer, workflow, f"during-outage-{n}") for n in range(3)]
            events = await stream.events(3)
            versions.append(await rename(writer, workflow, "after"))
            events += await stream.events(1)
    assert [event.event_id for event in events] == versions


async def test_deleting_the_workflow_sends_its_event_and_ends_the_stream(
    replica: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    async with httpx.AsyncClient(base_url=replica, headers=auth, timeout=20) as http:
        workflow = await new_workflow(http)
        async with open_stream(http, workflow["id"]) as stream:
            url = f"{WORKFLOWS}/{workflow['id']}"
            deleted = await http.delete(url, headers={"If-Match": f'"{workflow["version"]}"'})
            assert deleted.status_code in (200, 204), deleted.text
            blocks = await stream.rest()
    events = [block for block in blocks if block.event_type is not None]
    assert [event.event_type for event in events] == ["workflow.deleted"]
    assert "the workflow was deleted; the stream ends" in blocks[-1].comments


async def test_another_owners_stream_is_not_found(
    replica: str, make_token: Callable[..., str]
) -> None:
    owner = bearer(make_token, uuid.uuid4())
    stranger = bearer(make_token, uuid.uuid4())
    async with httpx.AsyncClient(base_url=replica, timeout=20) as http:
        created = await http.post(WORKFLOWS, json={"name": "private"}, headers=owner)
        workflow_id = created.json()["id"]
        answer = await http.get(f"{WORKFLOWS}/{workflow_id}/events", headers=stranger)
        token = await http.post(f"{WORKFLOWS}/{workflow_id}/events/token", headers=stranger)
        anonymous = await http.get(f"{WORKFLOWS}/{workflow_id}/events")
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    assert token.status_code == 404
    assert anonymous.status_code == 401


async def test_a_stream_token_opens_only_its_workflows_stream(
    replica: str, make_token: Callable[..., str]
) -> None:
    user = uuid.uuid4()
    auth = bearer(make_token, user)
    async with httpx.AsyncClient(base_url=replica, timeout=20) as http:
        first = (await http.post(WORKFLOWS, json={"name": "a"}, headers=auth)).json()
        second = (await http.post(WORKFLOWS, json={"name": "b"}, headers=auth)).json()
        minted = await http.post(f"{WORKFLOWS}/{first['id']}/events/token", headers=auth)
        assert minted.status_code == 200, minted.text
        assert minted.headers["cache-control"] == "no-store"
        token = minted.json()["token"]
        assert minted.json()["expires_in"] == 300
        assert (
            minted.json()["stream_url"] == f"{WORKFLOWS}/{first['id']}/events?access_token={token}"
        )
        async with http.stream("GET", minted.json()["stream_url"], timeout=STREAM_TIMEOUT) as ok:
            status = ok.status_code
        elsewhere = await http.get(
            f"{WORKFLOWS}/{second['id']}/events", params={"access_token": token}
        )
        as_bearer = await http.get(
            f"{WORKFLOWS}/{first['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        bearer_in_url = await http.get(
            f"{WORKFLOWS}/{first['id']}/events", params={"access_token": make_token(user)}
        )
    assert status == 200
    assert elsewhere.status_code == 401
    assert as_bearer.status_code == 401, "a stream token must not work as a bearer token"
    assert bearer_in_url.status_code == 401, "the bearer token is refused in a URL"


async def test_an_expired_last_event_id_is_gone(
    database_url: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    with live_server(
        server_env(database_url, CHANGE_LOG_RETENTION="2"), timeout=READY_TIMEOUT
    ) as base:
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=20) as http:
            workflow = await new_workflow(http)
            for n in range(5):
                await rename(http, workflow, f"pruned-{n}")
            answer = await http.get(
                f"{WORKFLOWS}/{workflow['id']}/events", headers={"Last-Event-ID": "1"}
            )
    assert answer.status_code == 410
    assert answer.json()["code"] == "CHANGES_EXPIRED"


async def test_subscribers_beyond_the_limit_are_refused_with_retry_after(
    database_url: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    with live_server(
        server_env(database_url, MAX_EVENT_SUBSCRIBERS="2"), timeout=READY_TIMEOUT
    ) as base:
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=20) as http:
            workflow = await new_workflow(http)
            async with open_stream(http, workflow["id"]), open_stream(http, workflow["id"]):
                refused = await http.get(f"{WORKFLOWS}/{workflow['id']}/events")
            # Closed streams free their places once the server has seen the clients leave.
            again_status = 0
            for _attempt in range(100):
                async with open_stream(http, workflow["id"]) as again:
                    again_status = again.response.status_code
                if again_status == 200:
                    break
                await asyncio.sleep(0.1)
    assert refused.status_code == 503
    assert refused.json()["code"] == "TOO_MANY_SUBSCRIBERS"
    assert refused.headers["retry-after"] == "5"
    assert again_status == 200


@contextmanager
def server_process(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A uvicorn process the test stops itself."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process, READY_TIMEOUT)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_shutdown_ends_the_streams_promptly_with_a_final_comment(
    database_url: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    with server_process(server_env(database_url)) as (base, process):
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=20) as http:
            workflow = await new_workflow(http)
            async with open_stream(http, workflow["id"]) as stream:
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                blocks = await stream.rest()
                ended = time.monotonic() - started
        exit_code = await asyncio.to_thread(process.wait, 10)
    assert "the server is shutting down; reconnect with Last-Event-ID" in blocks[-1].comments
    assert ended < 3
    # uvicorn raises the signal again once it has shut down gracefully.
    assert exit_code in (0, -signal.SIGTERM)


async def test_head_answers_the_stream_headers_without_a_body(
    replica: str, make_token: Callable[..., str]
) -> None:
    auth = bearer(make_token, uuid.uuid4())
    async with httpx.AsyncClient(base_url=replica, headers=auth, timeout=20) as http:
        workflow = await new_workflow(http)
        answer = await http.head(f"{WORKFLOWS}/{workflow['id']}/events")
        async with open_stream(http, workflow["id"]) as stream:
            streamed = stream.response.headers
    assert answer.status_code == 200
    assert answer.content == b""
    for name in ("content-type", "cache-control", "x-accel-buffering", "content-encoding"):
        assert answer.headers.get(name) == streamed.get(name), name
    assert streamed["content-type"].startswith("text/event-stream")
