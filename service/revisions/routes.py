"""Revisions over HTTP: history, checkpoints, snapshots, diffs, restore and publishing.

When a revision is created (AIP-162): by every PUT .../graph that changes the definition, by
POST .../revisions (a checkpoint), by publishing a definition no revision holds yet, by every
restore, and as revision 1 of a duplicate. A request whose content equals the latest
revision's creates none and answers with the latest. Fine-grained writes create none; the
next revision captures them.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response, status
from psycopg import AsyncConnection

from service.deps import (
    CurrentUser,
    IfMatch,
    IfNoneMatch,
    OptionalIfMatch,
    ReadConnection,
    SessionDep,
    SettingsDep,
    WorkflowId,
)
from service.errors import (
    NotAcceptableError,
    NotFoundError,
    NotPublishedError,
    PreconditionRequiredError,
    RevisionNotFoundError,
    ValidationFailedError,
    VersionMismatchError,
    error_responses,
    workflow_not_found,
)
from service.graph.cache import RenderedGraphs
from service.graph.mermaid import render_mermaid
from service.graph.models import GraphFormat, StoredEdge, StoredNode
from service.graph.routes import (
    GRAPH_CONTENT,
    MERMAID_MEDIA_TYPE,
    VARY_HEADER,
    negotiated,
    wants_mermaid,
)
from service.json_body import JsonBodyRoute
from service.pagination import Page, page_json
from service.preconditions import names_revision, revision_etag
from service.responses import (
    ETAG_HEADER,
    LINK_HEADER,
    LOCATION_HEADER,
    json_response,
    no_content,
    page_response,
    render_json,
    success,
)
from service.revisions import repository as revisions
from service.revisions import service
from service.revisions.history import RevisionRequest
from service.revisions.models import (
    CURRENT,
    PublishIn,
    RevisionCreate,
    RevisionDiff,
    RevisionDocument,
    RevisionOrigin,
    RevisionPublic,
)
from service.shared_models import INT32_MAX
from service.workflows.models import WorkflowPublic

router = APIRouter(prefix="/workflows/{workflow_id}", tags=["revisions"], route_class=JsonBodyRoute)

IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"
NumberPath = Annotated[
    int, Path(ge=1, le=INT32_MAX, description="The revision's number (1, 2, 3 ...).")
]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
CursorParam = Annotated[
    str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`.")
]
FormatParam = Annotated[
    GraphFormat | None,
    Query(alias="format", description="`mermaid` for a Mermaid flowchart; wins over Accept."),
]
REVISION_HEADERS = {
    "ETag": {
        "description": 'Strong and never changing: `"r<number>"`.',
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": f"`{IMMUTABLE}`: a revision never changes.",
        "schema": {"type": "string"},
    },
    **VARY_HEADER,
}
PUBLISHED_HEADERS = {
    "ETag": {
        "description": 'The published revision\'s tag, `"r<number>"`.',
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": f"`{REVALIDATE}`: what is published may change; revalidate.",
        "schema": {"type": "string"},
    },
    "Content-Location": {
        "description": "The published revision's own URL.",
        "schema": {"type": "string"},
    },
    **VARY_HEADER,
}
WRITE_ERRORS = (NotFoundError, PreconditionRequiredError, VersionMismatchError)


def revision_url(request: Request, workflow_id: uuid.UUID, number: int) -> str:
    """The URL of one revision."""
    return str(request.url_for("get_revision", workflow_id=str(workflow_id), number=str(number)))


@router.get(
    "/revisions",
    operation_id="list_revisions",
    response_model=Page[RevisionPublic],
    summary="List revisions, newest first",
    responses={
        200: success("A page of revisions (metadata only).", LINK_HEADER),
        **error_responses(NotFoundError),
    },
)
async def list_revisions(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    connection: ReadConnection,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> Response:
    """The workflow's revisions, newest first, one keyset page at a time."""
    items, next_cursor = await service.list_page(connection, user_id, workflow_id, limit, cursor)
    return page_response(request, page_json(items, next_cursor), next_cursor)


@router.post(
    "/revisions",
    operation_id="create_revision",
    status_code=status.HTTP_201_CREATED,
    response_model=RevisionPublic,
    summary="Create a checkpoint revision",
    responses={
        200: success(
            "The content equals the latest revision's: that one, and nothing created.",
            ETAG_HEADER,
        ),
        201: success("Created (origin `manual`).", {**ETAG_HEADER, **LOCATION_HEADER}),
        **error_responses(NotFoundError, VersionMismatchError),
    },
)
async def create_revision(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    precondition: OptionalIfMatch,
    revision_in: Annotated[RevisionCreate | None, Body()] = None,
) -> Response:
    """Record the current state as a named checkpoint; the version does not change.

    If-Match is optional: when present and stale, 412.
    """
    revision_request = RevisionRequest(
        RevisionOrigin.MANUAL, settings.max_revisions_per_workflow, revision_in or RevisionCreate()
    )
    stored, version = await service.create_checkpoint(
        session, user_id, workflow_id, precondition, revision_request
    )
    if not stored.created:
        return json_response(stored.body, version=version)
    location = revision_url(request, workflow_id, stored.number)
    return json_response(stored.body, version=version, status_code=201, location=location)


def revision_response(body: bytes, number: int, cache_control: str) -> Response:
    """A revision document with its never-changing ETag."""
    headers = {"ETag": revision_etag(number), "Cache-Control": cache_control}
    return negotiated(Response(body, media_type="application/json", headers=headers))


def revision_not_modified(number: int, cache_control: str) -> Response:
    """304 for an If-None-Match naming the revision."""
    headers = {"ETag": revision_etag(number), "Cache-Control": cache_control}
    return negotiated(Response(status_code=304, headers=headers))


async def mermaid_of(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, number: int, cache_control: str
) -> Response:
    """A revision's snapshot as a Mermaid flowchart."""
    snapshot = await service.snapshot_of(connection, workflow_id, number)
    nodes = [StoredNode.model_validate(node) for node in snapshot["nodes"]]
    edges = [StoredEdge.model_validate(edge) for edge in snapshot["edges"]]
    text = render_mermaid(snapshot["name"], nodes, edges)
    headers = {"ETag": revision_etag(number), "Cache-Control": cache_control}
    return negotiated(Response(text, media_type=MERMAID_MEDIA_TYPE, headers=headers))


@router.get(
    "/revisions/{number}",
    operation_id="get_revision",
    response_model=RevisionDocument,
    summary="Read a revision's snapshot",
    responses={
        200: {
            **success(
                "The graph as GET .../graph answered at that version, with `revision`.",
                REVISION_HEADERS,
            ),
            "content": GRAPH_CONTENT,
        },
        304: {"description": "Not modified (If-None-Match matched)."},
        **error_responses(NotFoundError, RevisionNotFoundError, NotAcceptableError),
    },
)
async def get_revision(
    request: Request,
    workflow_id: WorkflowId,
    number: NumberPath,
    user_id: CurrentUser,
    connection: ReadConnection,
    output_format: FormatParam = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The snapshot in the shape of GET .../graph plus the revision's metadata, or Mermaid.

    Immutable: the ETag `"r<number>"` never changes, and caches may keep it for a year.
    """
    mermaid = wants_mermaid(output_format, request.headers.get("accept"))
    found = await service.revision_document(connection, user_id, workflow_id, number)
    if names_revision(if_none_match, number):
        return revision_not_modified(number, IMMUTABLE)
    if mermaid:
        return await mermaid_of(connection, workflow_id, number, IMMUTABLE)
    return revision_response(found.document(), number, IMMUTABLE)


@router.post(
    "/revisions/{number}/restore",
    operation_id="restore_revision",
    response_model=RevisionDocument,
    summary="Restore a revision into the working copy",
    responses={
        200: success(
            "Restored: the working copy, and the revision holding it (origin `restore`).",
            ETAG_HEADER,
        ),
        **error_responses(*WRITE_ERRORS, RevisionNotFoundError),
    },
)
async def restore_revision(
    workflow_id: WorkflowId,
    number: NumberPath,
    user_id: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    precondition: IfMatch,
) -> Response:
    """Make the working copy equal to the snapshot, through the graph save's rules.

    Ids are kept. A node whose tool or agent is gone or inactive is 422 VALIDATION_ERROR with
    pointers into the snapshot (`/nodes/3/tool_id`), and nothing is written. The version rises
    by one, and a revision with origin `restore` and message "Restored revision N" is created.
    """
    limits = (
        settings.max_nodes_per_workflow,
        settings.max_edges_per_workflow,
        settings.max_revisions_per_workflow,
    )
    restored = await service.restore(session, user_id, workflow_id, number, precondition, limits)
    return json_response(restored.document(), version=restored.graph.version)


@router.get(
    "/diff",
    operation_id="diff_revisions",
    response_model=RevisionDiff,
    summary="Compare two revisions, or a revision and the working copy",
    responses={
        200: success("The structural difference; every list empty when identical."),
        **error_responses(NotFoundError, RevisionNotFoundError),
    },
)
async def diff_revisions(
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    connection: ReadConnection,
    from_number: Annotated[
        int, Query(alias="from", ge=1, le=INT32_MAX, description="The revision compared from.")
    ],
    to: Annotated[
        str,
        Query(
            pattern=r"^(current|[1-9][0-9]{0,9})$",
            description="A revision number, or `current` for the working copy.",
        ),
    ] = CURRENT,
) -> Response:
    """Workflow fields changed (JSON pointers, old and new values), nodes and edges added,
    removed and changed (field-level pointers). `from` later than `to` reads as the reverse.
    """
    target: int | str = CURRENT if to == CURRENT else int(to)
    difference = await service.difference(connection, user_id, workflow_id, from_number, target)
    return json_response(render_json(difference))


@router.post(
    "/publish",
    operation_id="publish_workflow",
    response_model=WorkflowPublic,
    summary="Publish a revision (or the working copy) behind the validation gate",
    responses={
        200: success("Published; the version rose by one.", ETAG_HEADER),
        **error_responses(*WRITE_ERRORS, RevisionNotFoundError, ValidationFailedError),
    },
)
async def publish_workflow(
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    precondition: IfMatch,
    publish_in: Annotated[PublishIn | None, Body()] = None,
) -> Response:
    """Publish revision `revision`, or the working copy when it is omitted.

    Gate: the definition's validation report (as GET .../validation) must have no errors,
    else 422 VALIDATION_FAILED with the report's issues; warnings don't block. Publishing a
    working copy that no revision holds records one (origin `publish`, with `message`).
    """
    published = await service.publish(
        session,
        user_id,
        workflow_id,
        precondition,
        publish_in or PublishIn(),
        (settings.max_revisions_per_workflow, settings.warn_dead_ends),
    )
    return json_response(published.body, version=published.version)


@router.delete(
    "/published",
    operation_id="unpublish_workflow",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unpublish",
    responses={
        204: success("Unpublished; the version rose by one.", ETAG_HEADER),
        **error_responses(*WRITE_ERRORS, NotPublishedError),
    },
)
async def unpublish_workflow(
    workflow_id: WorkflowId, user_id: CurrentUser, session: SessionDep, precondition: IfMatch
) -> Response:
    """Nothing is published afterwards (GET .../published is 404 NOT_PUBLISHED)."""
    unpublished = await service.unpublish(session, user_id, workflow_id, precondition)
    return no_content(unpublished.version)


@router.get(
    "/published",
    operation_id="get_published",
    response_model=RevisionDocument,
    summary="Read the published revision",
    responses={
        200: {
            **success("The published revision, as GET .../revisions/{number}.", PUBLISHED_HEADERS),
            "content": GRAPH_CONTENT,
        },
        304: {"description": "Not modified (If-None-Match matched)."},
        **error_responses(NotFoundError, NotPublishedError, NotAcceptableError),
    },
)
async def get_published(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    connection: ReadConnection,
    output_format: FormatParam = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """What an execution engine loads: the published snapshot, never a draft."""
    mermaid = wants_mermaid(output_format, request.headers.get("accept"))
    found = await revisions.published_number(connection, user_id, workflow_id)
    if found is None:
        raise workflow_not_found(workflow_id)
    version, number = found
    if number is None:
        raise service.not_published(workflow_id)
    if names_revision(if_none_match, number):
        response = revision_not_modified(number, REVALIDATE)
    elif mermaid:
        response = await mermaid_of(connection, workflow_id, number, REVALIDATE)
    else:
        body = await published_body(request, connection, user_id, workflow_id, (version, number))
        response = revision_response(body, number, REVALIDATE)
    # The sibling path, without a route lookup (url_for) on this hot read.
    path = request.url.path.removesuffix("published") + f"revisions/{number}"
    response.headers["Content-Location"] = str(request.url.replace(path=path, query=""))
    return response


async def published_body(
    request: Request,
    connection: AsyncConnection[Any],
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    published: tuple[int, int],
) -> bytes:
    """The published document, kept per worker by workflow version as rendered graphs are."""
    version, number = published
    cache: RenderedGraphs = request.app.state.published_documents
    body = cache.get(workflow_id, version)
    if body is None:
        body = (
            await service.revision_document(connection, user_id, workflow_id, number)
        ).document()
        cache.put(workflow_id, version, body)
    return body
