"""Users: created on first use of their token."""

import uuid
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert

from service.sql import compiled, json_object, json_text, table_of
from service.users.models import User, UserPublic

USERS = table_of(User)
ENSURE_USER = compiled(insert(USERS).values(id=bindparam("user_id")).on_conflict_do_nothing())
USER_JSON = compiled(
    select(json_text(json_object(UserPublic, USERS))).where(USERS.c.id == bindparam("user_id"))
)


async def ensure_user(connection: AsyncConnection[Any], user_id: uuid.UUID) -> None:
    """Create the user row unless it exists."""
    await connection.execute(ENSURE_USER.text, ENSURE_USER.params({"user_id": user_id}))


async def user_json(connection: AsyncConnection[Any], user_id: uuid.UUID) -> str | None:
    """The user as API JSON text."""
    cursor = await connection.execute(USER_JSON.text, USER_JSON.params({"user_id": user_id}))
    row = await cursor.fetchone()
    return None if row is None else str(row[0])
