"""GET /workflows/{workflow_id}/events (Server-Sent Events) and the stream token it accepts."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from service.deps import BearerUser, CurrentUser, WorkflowDep, WorkflowId
from service.errors import (
    ChangesExpiredError,
    NotFoundError,
    TooManySubscribersError,
    error_responses,
    workflow_not_found,
)
from service.events import stream
from service.events.broker import EventBroker
from service.events.sse import SSE_MEDIA_TYPE
from service.events.tokens import mint_stream_token, stream_token_user
from service.json_body import JsonBodyRoute
from service.middleware import is_head
from service.owned_rows import row_version
from service.responses import ETAG_HEADER, json_response, success
from service.shared_models import INT32_MAX
from service.workflows.repository import WORKFLOWS

router = APIRouter(prefix="/workflows/{workflow_id}", tags=["events"], route_class=JsonBodyRoute)

ACCESS_TOKEN_QUERY = "access_token"  # noqa: S105 (a parameter name, not a secret)
STREAM_DESCRIPTION = (
    "A `text/event-stream` (WHATWG Server-Sent Events): one event per change log entry, "
    "`id` = the version it produced, `event` = its operation, `data` = the entry as JSON (as "
    "in `GET /changes`). A comment `: heartbeat` comes every EVENTS_HEARTBEAT_SECONDS; a last "
    "comment says why the server ends the stream (workflow deleted, shutdown, too slow)."
)


class StreamToken(BaseModel):
    """A short-lived token that opens one workflow's event stream (for EventSource)."""

    token: str = Field(description="Pass as `?access_token=`; valid for this workflow only.")
    expires_in: int = Field(description="Seconds the token stays valid.", examples=[300])
    stream_url: str = Field(description="The stream's path with the token in its query.")


class StreamCaller(BearerUser):
    """The caller of a stream: a stream token in the query, or else the bearer token."""

    async def __call__(self, request: Request) -> uuid.UUID:
        """The user a valid stream token for this workflow names, or the bearer's user."""
        token = request.query_params.get(ACCESS_TOKEN_QUERY)
        if token is None:
            return await super().__call__(request)
        workflow_id = uuid.UUID(request.path_params["workflow_id"])
        return stream_token_user(request.app.state.settings, token, workflow_id)


StreamUser = Annotated[uuid.UUID, Depends(StreamCaller())]
AccessToken = Annotated[
    str | None,
    Query(
        alias=ACCESS_TOKEN_QUERY,
        max_length=2048,
        description="A stream token from `POST .../events/token`, for clients (EventSource) "
        "that cannot send Authorization. Never put the bearer token here.",
    ),
]
LastEventId = Annotated[
    int | None,
    Header(
        alias="Last-Event-ID",
        ge=0,
        le=INT32_MAX,
        description="The last version received: the stream first replays every entry after it.",
    ),
]


@router.post(
    "/events/token",
    operation_id="create_event_stream_token",
    response_model=StreamToken,
    summary="Mint a short-lived token for the workflow's event stream",
    responses={
        200: success(
            "A stream token (EVENTS_TOKEN_TTL_SECONDS, default 300 s); the ETag is the "
            "workflow's current version.",
            ETAG_HEADER,
        ),
        **error_responses(NotFoundError),
    },
)
async def create_stream_token(
    request: Request, workflow_id: WorkflowId, user_id: CurrentUser, workflow: WorkflowDep
) -> Any:
    """A token for `?access_token=` on this workflow's stream only, so URLs never carry the
    bearer token."""
    settings = request.app.state.settings
    token = mint_stream_token(settings, user_id, workflow_id)
    body = StreamToken(
        token=token,
        expires_in=settings.events_token_ttl_seconds,
        stream_url=f"{request.url.path.removesuffix('/token')}?{ACCESS_TOKEN_QUERY}={token}",
    )
    response = json_response(body.model_dump_json(), version=workflow.version)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(
    "/events",
    operation_id="stream_workflow_events",
    summary="Stream the workflow's changes live (Server-Sent Events)",
    responses={
        200: {
            "description": STREAM_DESCRIPTION,
            "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **error_responses(NotFoundError, ChangesExpiredError, TooManySubscribersError),
    },
)
async def stream_events(
    request: Request,
    workflow_id: WorkflowId,
    user_id: StreamUser,
    _access_token: AccessToken = None,
    last_event_id: LastEventId = None,
) -> Response:
    """Replay the entries after Last-Event-ID, then stream new ones live until the workflow is
    deleted or the server stops."""
    broker: EventBroker = request.app.state.events
    if is_head(request.scope):
        await owned_version(request, user_id, workflow_id)
        return Response(media_type=SSE_MEDIA_TYPE, headers=stream.STREAM_HEADERS)
    subscription = await broker.subscribe(workflow_id)
    try:
        current = await owned_version(request, user_id, workflow_id)
        since = current if last_event_id is None else min(last_event_id, current)
        replay = await stream.first_replay_page(broker.source, workflow_id, since, current)
    except BaseException:
        broker.unsubscribe(subscription)
        raise
    heartbeat = request.app.state.settings.events_heartbeat_seconds
    body = stream.frames(broker.source, subscription, since, replay, heartbeat)
    return stream.EventStreamResponse(body, on_close=lambda: broker.unsubscribe(subscription))


async def owned_version(request: Request, user_id: uuid.UUID, workflow_id: uuid.UUID) -> int:
    """The version of the caller's live workflow; 404 when there is none."""
    async with request.app.state.pool.connection() as connection:
        current = await row_version(connection, WORKFLOWS, user_id, workflow_id, deleted=False)
    if current is None:
        raise workflow_not_found(workflow_id)
    return current
