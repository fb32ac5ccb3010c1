"""The change log as the broker reads it, each read on a short-lived pooled connection."""

import uuid
from typing import Any

import orjson
from psycopg_pool import AsyncConnectionPool

from service.changes import repository as changes
from service.events import repository
from service.events.broker import Event
from service.shared_models import INT32_MAX


class PooledChangeLog:
    """Reads of the change log that hold a pooled connection only while they run."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def current_version(self, workflow_id: uuid.UUID) -> int:
        """The newest version the workflow's log reached (0 when it holds none)."""
        async with self.pool.connection() as connection:
            return await repository.newest_version(connection, workflow_id)

    async def entries_after(self, workflow_id: uuid.UUID, version: int, limit: int) -> list[Event]:
        """Up to `limit` entries after `version`, oldest first, as events."""
        async with self.pool.connection() as connection:
            rows = await changes.entries_after(connection, workflow_id, version, INT32_MAX, limit)
        return [event_of(entry_json) for entry_json, _version, _workflow in rows]


def event_of(entry_json: str) -> Event:
    """The event of one entry's JSON (as GET /changes renders it)."""
    entry = orjson.loads(entry_json)
    return Event(version=int(entry["version"]), operation=str(entry["operation"]), data=entry_json)
