"""The change log's rules: record a step, page through entries, explain a version mismatch."""

import uuid
from typing import Any

from psycopg import AsyncConnection

from service.changes import repository
from service.changes.models import ChangeEntry, ChangePublic
from service.errors import ChangesExpiredError, VersionMismatchError
from service.pagination import Cursor, invalid_cursor, split_page
from service.preconditions import Precondition

DEFAULT_RETENTION = 10_000
MAX_CHANGES_SINCE = 100  # entries a 412 carries
CURSOR_SORT = "version"


class Retention:
    """How many entries per workflow the log keeps at least (CHANGE_LOG_RETENTION)."""

    # Set once at startup from the settings: every write path records, and threading the
    # setting through each of them would widen every signature for one number.
    entries: int = DEFAULT_RETENTION


def configure_retention(entries: int) -> None:
    """Keep at least `entries` entries per workflow from now on."""
    Retention.entries = entries


async def record(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    version: int,
    entry: ChangeEntry,
) -> None:
    """Append the entry of the step that produced `version`, in the write's transaction."""
    await repository.append_change(
        connection, workflow_id, owner_id, version, entry, Retention.entries
    )


async def changes_page(
    connection: AsyncConnection[Any],
    workflow_id: uuid.UUID,
    current_version: int,
    since: int,
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None]:
    """One page of the entries after `since` (or the cursor), oldest first; 410 if pruned."""
    after = since if cursor is None else cursor_version(cursor)
    if after < current_version:
        oldest = await repository.oldest_version(connection, workflow_id)
        if oldest is None or oldest > after + 1:
            raise ChangesExpiredError(after, oldest)
    rows = await repository.entries_after(
        connection, workflow_id, after, current_version, limit + 1
    )
    return split_page(rows, limit, CURSOR_SORT)


def cursor_version(cursor: str) -> int:
    """The version a page cursor continues after; 422 when it is not ours."""
    try:
        return int(Cursor.decode(cursor, CURSOR_SORT).value)
    except ValueError as error:
        raise invalid_cursor("the cursor is malformed") from error


def client_version(precondition: Precondition | None, current_version: int) -> int | None:
    """The newest version If-Match names below the current one: where the client stands."""
    if precondition is None or precondition.allowed is None:
        return None
    older = [version for version in precondition.allowed if version < current_version]
    return max(older, default=None)


async def version_mismatch(
    connection: AsyncConnection[Any],
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    current_version: int,
) -> VersionMismatchError:
    """The 412 of a refused write, with the steps between the client's version and now."""
    since = client_version(precondition, current_version)
    if since is None:
        return VersionMismatchError(current_version)
    rows = await repository.entries_after(
        connection, workflow_id, since, current_version, MAX_CHANGES_SINCE + 1
    )
    entries = [ChangePublic.model_validate_json(row[0]) for row in rows[:MAX_CHANGES_SINCE]]
    return VersionMismatchError(
        current_version, changes_since=entries, truncated=len(rows) > MAX_CHANGES_SINCE
    )
