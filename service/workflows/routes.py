"""Workflows: list, create, read, update, soft delete, restore, purge."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from service.deps import (
    CurrentUser,
    IfMatch,
    IfNoneMatch,
    ReadConnection,
    SessionDep,
    WorkflowDep,
    WorkflowId,
)
from service.errors import (
    NotDeletedError,
    NotFoundError,
    PreconditionRequiredError,
    VersionMismatchError,
    error_responses,
)
from service.json_body import JsonBodyRoute
from service.owned_rows import ListFilter
from service.pagination import Page, SortKey, page_json
from service.preconditions import none_match
from service.responses import (
    ETAG_HEADER,
    LINK_HEADER,
    LOCATION_HEADER,
    json_response,
    no_content,
    not_modified,
    page_response,
    success,
)
from service.shared_models import SafeStr
from service.workflows import repository as workflows
from service.workflows.models import WorkflowCreate, WorkflowPublic, WorkflowUpdate

router = APIRouter(prefix="/workflows", tags=["workflows"], route_class=JsonBodyRoute)

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
CursorParam = Annotated[
    str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`.")
]
WRITE_ERRORS = (NotFoundError, PreconditionRequiredError, VersionMismatchError)


def workflow_url(request: Request, workflow_id: str | uuid.UUID) -> str:
    """The URL of one workflow."""
    return str(request.url_for("get_workflow", workflow_id=str(workflow_id)))


@router.get(
    "",
    operation_id="list_workflows",
    response_model=Page[WorkflowPublic],
    summary="List workflows",
    responses={200: success("A page of workflows.", LINK_HEADER), **error_responses()},
)
async def list_workflows(
    request: Request,
    user_id: CurrentUser,
    connection: ReadConnection,
    limit: Limit = 20,
    cursor: CursorParam = None,
    sort: Annotated[SortKey, Query(description="Sort key; `-` for descending.")] = (
        SortKey.CREATED_AT_DESC
    ),
    is_active: Annotated[bool | None, Query(description="Only active or inactive.")] = None,
    q: Annotated[
        SafeStr | None, Query(max_length=255, description="Case-insensitive name substring.")
    ] = None,
    deleted: Annotated[bool, Query(description="Show the trash instead.")] = False,
) -> Response:
    """The caller's workflows, one keyset page at a time."""
    filters = ListFilter(is_active=is_active, name_contains=q, deleted=deleted)
    items, next_cursor = await workflows.list_workflows(
        connection, user_id, filters, sort, limit, cursor
    )
    return page_response(request, page_json(items, next_cursor), next_cursor)


@router.post(
    "",
    operation_id="create_workflow",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkflowPublic,
    summary="Create a workflow",
    responses={
        201: success("Created at version 1.", {**ETAG_HEADER, **LOCATION_HEADER}),
        **error_responses(),
    },
)
async def create_workflow(
    request: Request, user_id: CurrentUser, session: SessionDep, workflow_in: WorkflowCreate
) -> Response:
    """Create an empty workflow (no If-Match needed)."""
    created = await workflows.create_workflow(session, user_id, workflow_in)
    assert created.id is not None
    return json_response(
        created.body,
        version=created.version,
        status_code=201,
        location=workflow_url(request, created.id),
    )


@router.get(
    "/{workflow_id}",
    operation_id="get_workflow",
    response_model=WorkflowPublic,
    summary="Read a workflow",
    responses={
        200: success("The workflow.", ETAG_HEADER),
        304: {"description": "Not modified (If-None-Match matched)."},
        **error_responses(NotFoundError),
    },
)
async def get_workflow(workflow: WorkflowDep, if_none_match: IfNoneMatch = None) -> Response:
    """One live workflow; 304 when If-None-Match names its current version."""
    if none_match(if_none_match, workflow.version):
        return not_modified(workflow.version)
    return json_response(workflow.body, version=workflow.version)


@router.patch(
    "/{workflow_id}",
    operation_id="update_workflow",
    response_model=WorkflowPublic,
    summary="Update a workflow",
    responses={200: success("Updated.", ETAG_HEADER), **error_responses(*WRITE_ERRORS)},
)
async def update_workflow(
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    precondition: IfMatch,
    workflow_in: WorkflowUpdate,
) -> Response:
    """Replace the named fields (no deep merge); the version rises by one."""
    updated = await workflows.patch_workflow(
        session, user_id, workflow_id, precondition, workflow_in
    )
    return json_response(updated.body, version=updated.version)


@router.delete(
    "/{workflow_id}",
    operation_id="delete_workflow",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a workflow (to the trash, or for good)",
    responses={204: success("Deleted.", ETAG_HEADER), **error_responses(*WRITE_ERRORS)},
)
async def delete_workflow(
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    precondition: IfMatch,
    permanent: Annotated[
        bool, Query(description="Delete for good, with nodes and edges (live or trashed).")
    ] = False,
) -> Response:
    """Soft delete (the version rises), or with `permanent=true` delete for good."""
    if permanent:
        await workflows.purge_workflow(session, user_id, workflow_id, precondition)
        return no_content()
    deleted = await workflows.soft_delete_workflow(session, user_id, workflow_id, precondition)
    return no_content(deleted.version)


@router.post(
    "/{workflow_id}/restore",
    operation_id="restore_workflow",
    response_model=WorkflowPublic,
    summary="Restore a workflow from the trash",
    responses={
        200: success("Restored.", ETAG_HEADER),
        **error_responses(*WRITE_ERRORS, NotDeletedError),
    },
)
async def restore_workflow(
    workflow_id: WorkflowId, user_id: CurrentUser, session: SessionDep, precondition: IfMatch
) -> Response:
    """Bring a trashed workflow back; If-Match must name its trashed version."""
    restored = await workflows.restore_workflow(session, user_id, workflow_id, precondition)
    return json_response(restored.body, version=restored.version)
