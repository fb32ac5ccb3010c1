"""One LISTEN connection per worker fanning change notifications out to its stream subscribers.

A notification says only "workflow W reached version V" (NOTIFY payloads are capped at 8,000
bytes, an entry is not); the worker then reads the entries it has not delivered yet from the
change log, once for all its subscribers of W, with a short-lived pooled connection. Reading by
"after the last delivered version" also recovers whatever a dropped LISTEN connection missed.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import psycopg
from psycopg import sql

from service.errors import DatabaseUnavailableError, TooManySubscribersError
from service.events.sse import event_frame

CHANNEL = "workflow_changes"
LISTENER_APPLICATION_NAME = "workflow-service-events"
# psycopg composes the statement: LISTEN takes an identifier, which no bind parameter can be.
LISTEN = sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL))
HEALTH_CHECK = sql.SQL("SELECT 1")
PAGE_SIZE = 500
# Without traffic a half-open TCP connection looks like a quiet one: probe it this often.
LISTEN_PROBE_SECONDS = 30.0
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """One change log entry as a stream sends it."""

    version: int
    operation: str
    data: str
    # Framed once for every subscriber of the worker, not once by each of them.
    frame: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", event_frame(self.version, self.operation, self.data))


class StreamEnd(StrEnum):
    """Why the worker ends a subscriber's stream (sent as its final comment)."""

    SHUTDOWN = "the server is shutting down; reconnect with Last-Event-ID"
    TOO_SLOW = "the stream fell behind; reconnect with Last-Event-ID"


class ChangeSource(Protocol):
    """Where the broker reads workflows' versions and change log entries."""

    async def current_version(self, workflow_id: uuid.UUID) -> int:
        """The newest version the workflow's log reached (0 when it holds none)."""

    async def entries_after(self, workflow_id: uuid.UUID, version: int, limit: int) -> list[Event]:
        """Up to `limit` entries after `version`, oldest first."""


class Subscription:
    """One stream's bounded queue of events, ended by a StreamEnd put in front of everything."""

    def __init__(self, workflow_id: uuid.UUID, queue_size: int) -> None:
        self.workflow_id = workflow_id
        self.queue: asyncio.Queue[Event | StreamEnd] = asyncio.Queue(queue_size + 1)
        self.queue_size = queue_size
        self.ended = False
        self.channel: WorkflowChannel | None = None  # the one it joined, even once replaced

    def offer(self, event: Event) -> bool:
        """Queue the event; False when the subscriber has `queue_size` events unread."""
        if self.ended or self.queue.qsize() >= self.queue_size:
            return False
        self.queue.put_nowait(event)
        return True

    def end(self, reason: StreamEnd) -> None:
        """Drop what is unread and make `reason` the next (and last) item."""
        if self.ended:
            return
        self.ended = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(reason)


@dataclass(eq=False)
class WorkflowChannel:
    """A worker's subscribers of one workflow and the newest version fanned out to them."""

    subscribers: set[Subscription] = field(default_factory=set)
    delivered: int | None = None
    wanted: int = 0
    stale: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    pump: asyncio.Task[None] | None = None


class EventBroker:
    """The worker's subscribers by workflow, and the listener that feeds them."""

    def __init__(
        self, conninfo: str, source: ChangeSource, max_subscribers: int, queue_size: int
    ) -> None:
        self.conninfo = conninfo
        self.source = source
        self.max_subscribers = max_subscribers
        self.queue_size = queue_size
        self.channels: dict[uuid.UUID, WorkflowChannel] = {}
        self.subscriber_count = 0
        self.listening = asyncio.Event()
        self.closing = False
        self._listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start listening in the background."""
        self._listener = asyncio.get_running_loop().create_task(self._listen_forever())

    async def close(self) -> None:
        """End every stream with a final comment and stop listening."""
        self.end_all_streams()
        tasks = [task for task in (self._listener,) if task is not None]
        tasks += [c.pump for c in self.channels.values() if c.pump is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def end_all_streams(self) -> None:
        """Tell every subscriber the server is going away; refuse new ones from now on."""
        self.closing = True
        for channel in self.channels.values():
            for subscription in channel.subscribers:
                subscription.end(StreamEnd.SHUTDOWN)

    async def subscribe(self, workflow_id: uuid.UUID) -> Subscription:
        """A subscription to the workflow's live events, live once returned; unsubscribe it."""
        if self.closing or self.subscriber_count >= self.max_subscribers:
            raise TooManySubscribersError(self.max_subscribers)
        subscription = Subscription(workflow_id, self.queue_size)
        channel = self.channels.get(workflow_id)
        opening = channel is None
        if channel is None:
            channel = self.channels[workflow_id] = WorkflowChannel()
        channel.subscribers.add(subscription)
        subscription.channel = channel
        self.subscriber_count += 1
        try:
            if opening:
                await self._open(workflow_id, channel)
            await channel.ready.wait()
            if channel.delivered is None:
                raise DatabaseUnavailableError()
        except BaseException:
            self.unsubscribe(subscription)
            raise
        return subscription

    async def _open(self, workflow_id: uuid.UUID, channel: WorkflowChannel) -> None:
        # Read after the channel is registered: what commits later is notified to it, what
        # committed earlier is in the log that each subscriber replays once this is set.
        try:
            channel.delivered = await self.source.current_version(workflow_id)
        finally:
            channel.ready.set()  # a failed read (delivered None) fails the waiting subscribers
        self._want(workflow_id, channel, channel.wanted)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget the subscription (once); the last one of a workflow closes its channel."""
        channel = subscription.channel
        if channel is None or subscription not in channel.subscribers:
            return
        channel.subscribers.discard(subscription)
        self.subscriber_count -= 1
        if channel.subscribers:
            return
        if self.channels.get(subscription.workflow_id) is channel:
            del self.channels[subscription.workflow_id]
        if channel.pump is not None:
            channel.pump.cancel()

    def notified(self, payload: str) -> None:
        """A NOTIFY: fetch and fan out the workflow's new entries if anyone here listens."""
        workflow_text, _, version_text = payload.partition(" ")
        try:
            workflow_id, version = uuid.UUID(workflow_text), int(version_text)
        except ValueError:
            logger.warning("ignored a malformed change notification %r", payload)
            return
        channel = self.channels.get(workflow_id)
        if channel is not None:
            self._want(workflow_id, channel, version)

    def _want(self, workflow_id: uuid.UUID, channel: WorkflowChannel, version: int) -> None:
        channel.wanted = max(channel.wanted, version)
        if channel.delivered is not None and (channel.pump is None or channel.pump.done()):
            loop = asyncio.get_running_loop()
            channel.pump = loop.create_task(self._pump(workflow_id, channel))

    async def _pump(self, workflow_id: uuid.UUID, channel: WorkflowChannel) -> None:
        """Fan out entries after the delivered version until nothing newer is wanted."""
        while channel.delivered is not None and (
            channel.stale or channel.delivered < channel.wanted
        ):
            channel.stale = False
            try:
                events = await self.source.entries_after(workflow_id, channel.delivered, PAGE_SIZE)
            except psycopg.Error:
                logger.warning("reading new change log entries failed", exc_info=True)
                channel.stale = True
                await asyncio.sleep(RECONNECT_DELAYS[-1])
                continue
            if not events:
                return  # the wanted entry is gone (pruned with its workflow): nothing to send
            for event in events:
                self._fan_out(channel, event)
            channel.delivered = events[-1].version
            channel.stale = len(events) == PAGE_SIZE  # more may follow

    def _fan_out(self, channel: WorkflowChannel, event: Event) -> None:
        for subscription in list(channel.subscribers):
            if not subscription.offer(event):
                subscription.end(StreamEnd.TOO_SLOW)

    def catch_up(self) -> None:
        """After (re)connecting: read every entry the notifications may have missed."""
        for workflow_id, channel in self.channels.items():
            channel.stale = True
            self._want(workflow_id, channel, channel.wanted)

    async def _listen_forever(self) -> None:
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, application_name=LISTENER_APPLICATION_NAME
                ) as connection:
                    await connection.execute(LISTEN)
                    attempt = 0
                    self.listening.set()
                    self.catch_up()
                    await self._receive(connection)
            except (psycopg.Error, OSError):
                logger.warning("the events LISTEN connection failed; reconnecting", exc_info=True)
            self.listening.clear()
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    async def _receive(self, connection: psycopg.AsyncConnection[Any]) -> None:
        while True:
            async for notify in connection.notifies(timeout=LISTEN_PROBE_SECONDS):
                self.notified(notify.payload)
            await connection.execute(HEALTH_CHECK)
