"""FastAPI dependencies as Annotated aliases: settings, connections, caller, preconditions."""

import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service.auth import VerifiedTokens
from service.config import Settings
from service.errors import PreconditionRequiredError, UnauthorizedError, workflow_not_found
from service.owned_rows import VersionedJson
from service.preconditions import Precondition
from service.users import repository as users
from service.workflows import repository as workflows

KNOWN_USERS_LIMIT = 100_000


async def get_settings_from_app(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]


async def get_pool(request: Request) -> AsyncConnectionPool[Any]:
    """The app's connection pool."""
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    return pool


PoolDep = Annotated[AsyncConnectionPool[Any], Depends(get_pool)]


# The per-request dependencies below read app.state directly rather than through SettingsDep
# and PoolDep: each dependency FastAPI resolves costs a few microseconds on every request.


async def read_connection(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection for a request that reads with one statement (autocommit)."""
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    async with pool.connection() as connection:
        yield connection


async def unit_of_work(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """One transaction per writing request: committed before the response is sent."""
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    async with pool.connection() as connection, connection.transaction():
        yield connection


# scope="function": the dependency exits (commits) when the endpoint returns, before FastAPI
# sends the response, so a 2xx always means committed.
ReadConnection = Annotated[AsyncConnection[Any], Depends(read_connection, scope="function")]
SessionDep = Annotated[AsyncConnection[Any], Depends(unit_of_work, scope="function")]


class BearerUser(SecurityBase):
    """The caller's user id from the bearer token; the user row is created on first use.

    A security scheme itself (so OpenAPI and Swagger UI show HTTP bearer auth) rather than a
    function depending on `HTTPBearer`: one dependency fewer on every request.
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(description="A JWT whose `sub` is your user UUID.")
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request) -> uuid.UUID:
        """Verify the token (cached) and make sure the user row exists."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError("A bearer token is required.", token_sent=False)
        verified_tokens: VerifiedTokens = request.app.state.verified_tokens
        user_id = verified_tokens.user_id(token, request.app.state.settings)
        known: OrderedDict[uuid.UUID, None] = request.app.state.known_users
        if user_id in known:
            known.move_to_end(user_id)
            return user_id
        async with request.app.state.pool.connection() as connection:
            await users.ensure_user(connection, user_id)
        known[user_id] = None
        if len(known) > KNOWN_USERS_LIMIT:
            known.popitem(last=False)
        return user_id


CurrentUser = Annotated[uuid.UUID, Depends(BearerUser())]
WorkflowId = Annotated[uuid.UUID, Path(description="The workflow's UUID.")]


async def live_workflow(
    request: Request, workflow_id: WorkflowId, user_id: CurrentUser
) -> VersionedJson:
    """The caller's live workflow as API JSON with its version; 404 when there is none."""
    # A plain dependency holding the connection for one statement: cheaper per request than
    # a generator dependency (ReadConnection), and this is the hottest read.
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    async with pool.connection() as connection:
        found = await workflows.get_workflow(connection, user_id, workflow_id)
    if found is None:
        raise workflow_not_found(workflow_id)
    return found


WorkflowDep = Annotated[VersionedJson, Depends(live_workflow)]


def combined_header(request: Request, name: str) -> str | None:
    """A list header's lines joined as one value (RFC 9110 5.3); None when absent."""
    lines = request.headers.getlist(name)
    return ", ".join(lines) if lines else None


IF_NONE_MATCH_HEADER = Header(
    alias="If-None-Match",
    description=(
        "ETags the client holds (every line counts). On GET, naming the current version of "
        "the representation asked for answers 304; on a write, `*` or the current version "
        "answers 412."
    ),
    max_length=1024,
)


async def preconditions(
    request: Request,
    settings: SettingsDep,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description=(
                'ETag of the version being changed, e.g. `"3"`, of any of its representations '
                '(`"3-mermaid"`, `"3-gzip"`); a list; `*` for any. Weak tags never match.'
            ),
            max_length=1024,
        ),
    ] = None,
    _if_none_match: Annotated[str | None, IF_NONE_MATCH_HEADER] = None,
) -> Precondition | None:
    """If-Match and If-None-Match of a write; 428 without If-Match when it is required.

    The parameters document and bound the first line of each header; every line is read.
    """
    match_value = combined_header(request, "if-match")
    none_match_value = combined_header(request, "if-none-match")
    if match_value is None:
        if settings.require_if_match:
            raise PreconditionRequiredError()
        if none_match_value is None:
            return None
    return Precondition.from_headers(match_value, none_match_value)


IfMatch = Annotated[Precondition | None, Depends(preconditions)]


async def if_none_match(
    request: Request, _first_line: Annotated[str | None, IF_NONE_MATCH_HEADER] = None
) -> str | None:
    """Every If-None-Match line of a read, joined."""
    return combined_header(request, "if-none-match")


IfNoneMatch = Annotated[str | None, Depends(if_none_match)]


# Marks an If-Match parameter that stays optional in OpenAPI (see service/openapi.py).
OPTIONAL_IF_MATCH = "x-optional-if-match"


async def optional_if_match(
    request: Request,
    _if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='Optional: when given, the ETag of the current version, e.g. `"3"`.',
            max_length=1024,
            json_schema_extra={OPTIONAL_IF_MATCH: True},
        ),
    ] = None,
    _if_none_match: Annotated[str | None, IF_NONE_MATCH_HEADER] = None,
) -> Precondition | None:
    """An If-Match precondition that may be absent (None), whatever REQUIRE_IF_MATCH says."""
    match_value = combined_header(request, "if-match")
    none_match_value = combined_header(request, "if-none-match")
    if match_value is None and none_match_value is None:
        return None
    return Precondition.from_headers(match_value, none_match_value)


OptionalIfMatch = Annotated[Precondition | None, Depends(optional_if_match)]
