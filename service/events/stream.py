"""One subscriber's stream: the log replayed after Last-Event-ID, then live events, each once."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from service.errors import ChangesExpiredError
from service.events.broker import PAGE_SIZE, ChangeSource, Event, StreamEnd, Subscription
from service.events.sse import HEARTBEAT, OPENED, SSE_MEDIA_TYPE, comment_frame

DELETED_OPERATION = "workflow.deleted"
DELETED_COMMENT = "the workflow was deleted; the stream ends"
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def first_replay_page(
    source: ChangeSource, workflow_id: uuid.UUID, since: int, current: int
) -> list[Event]:
    """The first entries after `since`; 410 when the log no longer reaches back to it."""
    if since >= current:
        return []
    events = await source.entries_after(workflow_id, since, PAGE_SIZE)
    if not events or events[0].version != since + 1:
        raise ChangesExpiredError(since, events[0].version if events else None)
    return events


async def frames(
    source: ChangeSource,
    subscription: Subscription,
    since: int,
    replay: list[Event],
    heartbeat_seconds: float,
) -> AsyncIterator[bytes]:
    """Replayed events, then live ones newer than the last sent, heartbeats in between."""
    yield OPENED
    last = since
    while replay:
        for event in replay:
            yield event.frame
            last = event.version
            if event.operation == DELETED_OPERATION:
                yield comment_frame(DELETED_COMMENT)
                return
        more = len(replay) == PAGE_SIZE
        replay = (
            await source.entries_after(subscription.workflow_id, last, PAGE_SIZE) if more else []
        )
    while True:
        try:
            # asyncio.timeout, not wait_for: wait_for wraps each get in a task of its own,
            # which 1,000 subscribers pay again for every event.
            async with asyncio.timeout(heartbeat_seconds):
                item = await subscription.queue.get()
        except TimeoutError:
            yield HEARTBEAT
            continue
        if isinstance(item, StreamEnd):
            yield comment_frame(item.value)
            return
        if item.version <= last:
            continue  # replayed already: subscribed before the replay read the log
        yield item.frame
        last = item.version
        if item.operation == DELETED_OPERATION:
            yield comment_frame(DELETED_COMMENT)
            return


class EventStreamResponse(StreamingResponse):
    """A text/event-stream response that releases its subscription however it ends."""

    def __init__(self, body: AsyncIterator[bytes], on_close: Callable[[], None]) -> None:
        super().__init__(body, media_type=SSE_MEDIA_TYPE, headers=STREAM_HEADERS)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream until the body ends or the client leaves, then unsubscribe."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()
