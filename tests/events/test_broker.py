"""The broker on a real PostgreSQL: slow subscribers, stray notifications, the subscriber limit."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from service.config import Settings
from service.db import create_pool, psycopg_conninfo
from service.errors import TooManySubscribersError
from service.events.broker import CHANNEL, EventBroker, StreamEnd
from service.events.change_log import PooledChangeLog
from service.events.stream import first_replay_page, frames
from tests.factories import create_workflow, if_match, track, workflow_url

QUEUE_SIZE = 2


@pytest.fixture
async def pool(settings: Settings, database_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """A pool of the broker's own."""
    pool = create_pool(database_url, settings)
    await pool.open()
    yield pool
    await pool.close()


@pytest.fixture
async def broker(database_url: str, pool: AsyncConnectionPool[Any]) -> AsyncIterator[EventBroker]:
    """A listening broker whose subscribers may fall QUEUE_SIZE events behind, at most two."""
    broker = EventBroker(
        psycopg_conninfo(database_url), PooledChangeLog(pool), max_subscribers=2, queue_size=2
    )
    broker.start()
    await asyncio.wait_for(broker.listening.wait(), 30)
    yield broker
    await broker.close()


async def rename(client: httpx.AsyncClient, workflow: dict[str, Any], name: str) -> None:
    """One accepted write (one change log entry, one NOTIFY)."""
    answer = await client.patch(
        workflow_url(workflow), json={"name": name}, headers=if_match(workflow)
    )
    assert answer.status_code == 200, answer.text
    track(workflow, answer)


async def next_item(queue: asyncio.Queue[Any]) -> Any:
    """The next queued item, waiting a bounded time."""
    return await asyncio.wait_for(queue.get(), 10)


async def test_a_subscriber_that_falls_behind_is_ended_as_too_slow(
    client: httpx.AsyncClient, broker: EventBroker
) -> None:
    workflow = await create_workflow(client)
    subscription = await broker.subscribe(uuid.UUID(workflow["id"]))
    for n in range(QUEUE_SIZE + 1):
        await rename(client, workflow, f"unread-{n}")
    async with asyncio.timeout(10):
        # The last NOTIFY arrives a moment after its commit; the broker sets a flag, no event.
        while not subscription.ended:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert await next_item(subscription.queue) is StreamEnd.TOO_SLOW
    broker.unsubscribe(subscription)
    assert broker.subscriber_count == 0
    assert not broker.channels


async def test_stray_and_other_workflows_notifications_are_ignored(
    client: httpx.AsyncClient, broker: EventBroker, database_url: str
) -> None:
    workflow = await create_workflow(client)
    subscription = await broker.subscribe(uuid.UUID(workflow["id"]))
    async with await psycopg.AsyncConnection.connect(
        psycopg_conninfo(database_url), autocommit=True
    ) as connection:
        for payload in ("not a notification", f"{uuid.uuid4()} 7", f"{workflow['id']} x"):
            await connection.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])
    await rename(client, workflow, "real")
    event = await next_item(subscription.queue)
    assert (event.version, event.operation) == (workflow["version"], "workflow.updated")
    assert subscription.queue.empty()
    broker.unsubscribe(subscription)


async def test_the_limit_counts_subscribers_and_closing_refuses_new_ones(
    broker: EventBroker,
) -> None:
    workflow_id = uuid.uuid4()
    first = await broker.subscribe(workflow_id)
    second = await broker.subscribe(workflow_id)
    with pytest.raises(TooManySubscribersError):
        await broker.subscribe(workflow_id)
    broker.unsubscribe(first)
    broker.unsubscribe(first)  # once only
    assert broker.subscriber_count == 1
    broker.end_all_streams()
    assert await next_item(second.queue) is StreamEnd.SHUTDOWN
    with pytest.raises(TooManySubscribersError):
        await broker.subscribe(workflow_id)


async def test_a_stream_replays_then_goes_live_once_and_ends_after_the_deletion(
    client: httpx.AsyncClient, broker: EventBroker
) -> None:
    workflow = await create_workflow(client)
    for n in range(2):
        await rename(client, workflow, f"before-{n}")  # versions 2 and 3
    workflow_id = uuid.UUID(workflow["id"])
    subscription = await broker.subscribe(workflow_id)
    replay = await first_replay_page(broker.source, workflow_id, 1, workflow["version"])
    body = frames(broker.source, subscription, 1, replay, heartbeat_seconds=0.05)
    opened = await anext(body)
    replayed = [await anext(body), await anext(body)]
    await rename(client, workflow, "live")
    live = await anext(body)
    heartbeat = await anext(body)
    deleted = await client.delete(workflow_url(workflow), headers=if_match(workflow))
    assert deleted.status_code in (200, 204), deleted.text
    ending = [chunk async for chunk in body]
    broker.unsubscribe(subscription)
    assert opened == b": subscribed\n\n"
    assert [chunk.split(b"\n")[0] for chunk in replayed] == [b"id: 2", b"id: 3"]
    assert live.startswith(b"id: 4\nevent: workflow.updated\ndata: {")
    assert heartbeat == b": heartbeat\n\n"
    assert ending[0].startswith(b"id: 5\nevent: workflow.deleted\n")
    assert ending[1:] == [b": the workflow was deleted; the stream ends\n\n"]
