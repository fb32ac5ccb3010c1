"""GET /workflows/{workflow_id}/changes: the change log after a version."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service.changes import service
from service.changes.models import ChangePublic
from service.deps import CurrentUser, ReadConnection, WorkflowId
from service.errors import ChangesExpiredError, NotFoundError, error_responses, workflow_not_found
from service.json_body import JsonBodyRoute
from service.owned_rows import row_version
from service.pagination import Page, page_json
from service.responses import LINK_HEADER, page_response, success
from service.shared_models import INT32_MAX
from service.workflows.repository import WORKFLOWS

router = APIRouter(prefix="/workflows/{workflow_id}", tags=["changes"], route_class=JsonBodyRoute)

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
CursorParam = Annotated[
    str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`.")
]
Since = Annotated[
    int,
    Query(
        ge=0,
        le=INT32_MAX,
        description="The version the client holds (its ETag); 0 for the whole log.",
        examples=[13],
    ),
]


@router.get(
    "/changes",
    operation_id="list_changes",
    response_model=Page[ChangePublic],
    summary="List the changes after a version, oldest first",
    responses={
        200: success("A page of change log entries, oldest first.", LINK_HEADER),
        **error_responses(NotFoundError, ChangesExpiredError),
    },
)
async def list_changes(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    connection: ReadConnection,
    since: Since = 0,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> Response:
    """Every version step after `since`, live or trashed workflow; 410 once pruned past it."""
    current = await row_version(connection, WORKFLOWS, user_id, workflow_id, deleted=None)
    if current is None:
        raise workflow_not_found(workflow_id)
    items, next_cursor = await service.changes_page(
        connection, workflow_id, current, since, limit, cursor
    )
    return page_response(request, page_json(items, next_cursor), next_cursor)
