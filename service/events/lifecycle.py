"""The worker's event broker from startup to shutdown, ending streams at the exit signal."""

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from psycopg_pool import AsyncConnectionPool

from service.config import Settings
from service.db import psycopg_conninfo
from service.events.broker import EventBroker
from service.events.change_log import PooledChangeLog

EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SignalHandler = Callable[[int, FrameType | None], Any]


def start_broker(
    settings: Settings, database_url: str, pool: AsyncConnectionPool[Any]
) -> EventBroker:
    """A listening broker on EVENTS_DATABASE_URL (else the service's database)."""
    conninfo = psycopg_conninfo(settings.events_database_url or database_url)
    broker = EventBroker(
        conninfo, PooledChangeLog(pool), settings.max_event_subscribers, settings.event_queue_size
    )
    broker.start()
    return broker


class ExitSignalHook:
    """Ends the streams when the server is told to exit, before it waits for them to finish.

    uvicorn runs the lifespan's shutdown only once every response is complete, and a stream
    never completes by itself: so its signal handler is wrapped to end them first.
    """

    def __init__(self, broker: EventBroker) -> None:
        self.broker = broker
        self.loop = asyncio.get_running_loop()
        self.replaced: dict[int, SignalHandler] = {}

    def install(self) -> None:
        """Wrap the current exit signal handlers (only the main thread may)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for number in EXIT_SIGNALS:
            previous = signal.getsignal(number)
            if callable(previous):
                self.replaced[number] = previous
                signal.signal(number, self._handle)

    def uninstall(self) -> None:
        """Put back the handlers this hook wrapped, where it is still the handler."""
        for number, previous in self.replaced.items():
            if signal.getsignal(number) == self._handle:
                signal.signal(number, previous)
        self.replaced.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.loop.call_soon_threadsafe(self.broker.end_all_streams)
        self.replaced[number](number, frame)
