"""Users: created on first use of their token."""

import uuid
from typing import Any

from psycopg import AsyncConnection

from service.json_sql import json_object_sql
from service.users.models import UserPublic


async def ensure_user(connection: AsyncConnection[Any], user_id: uuid.UUID) -> None:
    """Create the user row unless it exists."""
    await connection.execute(
        "INSERT INTO users (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", (user_id,)
    )


async def user_json(connection: AsyncConnection[Any], user_id: uuid.UUID) -> str | None:
    """The user as API JSON text."""
    cursor = await connection.execute(
        f"SELECT {json_object_sql(UserPublic, 'u')}::text FROM users u WHERE u.id = %s",  # noqa: S608
        (user_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else str(row[0])
