"""Whole-graph operations: load and save, duplicate, validation report, Mermaid."""

import uuid
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, BackgroundTasks, Body, Query, Request, Response, status
from psycopg import AsyncConnection

from service.deps import (
    CurrentUser,
    IfMatch,
    IfNoneMatch,
    PoolDep,
    ReadConnection,
    SessionDep,
    SettingsDep,
    WorkflowId,
)
from service.errors import (
    CycleDetectedError,
    GraphTooLargeError,
    NotAcceptableError,
    NotFoundError,
    PreconditionRequiredError,
    ValidationError,
    VersionMismatchError,
    error_responses,
    workflow_not_found,
)
from service.graph import repository as graph
from service.graph import rules as graph_checks
from service.graph import service as graph_service
from service.graph.cache import RenderedGraphs
from service.graph.items_routes import refuse_oversized_batch
from service.graph.mermaid import render_mermaid
from service.graph.models import (
    DuplicateIn,
    GraphChangeSet,
    GraphFormat,
    GraphPayload,
    GraphPublic,
    GraphReadFormat,
    GraphSaveResult,
)
from service.graph.reactflow import (
    REACTFLOW_MEDIA_TYPE,
    from_reactflow,
    in_reactflow_terms,
    reactflow_document,
)
from service.graph.service import collector_paused
from service.graph.validation import ValidationReport, build_report
from service.json_body import JsonBodyRoute
from service.middleware import prefers_minimal
from service.preconditions import Representation, etag, none_match
from service.responses import ETAG_HEADER, LOCATION_HEADER, json_response, not_modified, success
from service.revisions.history import RevisionRequest, record_revision
from service.revisions.models import RevisionCreate, RevisionOrigin
from service.workflows import repository as workflows
from service.workflows.models import WorkflowUpdate

router = APIRouter(prefix="/workflows/{workflow_id}", tags=["graph"], route_class=JsonBodyRoute)

MERMAID_MEDIA_TYPE = "text/vnd.mermaid"
JSON_MEDIA_TYPE = "application/json"
FormatT = TypeVar("FormatT", GraphFormat, GraphReadFormat)
ACCEPT_PATCH = "application/json"
REACTFLOW_FORM = "reactflow"  # React Flow's document, kept beside the rendering it came from
ACCEPT_PATCH_HEADER = {
    "Accept-Patch": {
        "description": "`application/json`: PATCH takes a change set (GraphChangeSet).",
        "schema": {"type": "string"},
    }
}
VARY_HEADER = {
    "Vary": {
        "description": "`Accept`: the representation is negotiated.",
        "schema": {"type": "string"},
    }
}


def accept_quality(accept: str, media_type: str) -> float:
    """The q-value `accept` gives `media_type`, from its most specific matching range."""
    kind = media_type.split("/", 1)[0]
    best: tuple[int, float] = (-1, 0.0)
    for element in accept.split(","):
        media_range, *parameters = (part.strip().lower() for part in element.split(";"))
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range)
        if specificity is None or specificity < best[0]:
            continue
        best = (specificity, _quality(parameters))
    return best[1]


def _quality(parameters: list[str]) -> float:
    """The q parameter of a media range (1 when absent, 0 when unreadable)."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def wants_mermaid(output_format: GraphFormat | None, accept: str | None) -> bool:
    """Whether to answer Mermaid: `format` decides, else Accept (JSON on a tie); 406 if neither."""
    if output_format is not None:
        return output_format is GraphFormat.MERMAID
    return negotiated_format(accept, DOCUMENT_MEDIA_TYPES) is GraphFormat.MERMAID


DOCUMENT_MEDIA_TYPES = {GraphFormat.JSON: JSON_MEDIA_TYPE, GraphFormat.MERMAID: MERMAID_MEDIA_TYPE}
GRAPH_MEDIA_TYPES = {
    GraphReadFormat.JSON: JSON_MEDIA_TYPE,
    GraphReadFormat.REACTFLOW: REACTFLOW_MEDIA_TYPE,
    GraphReadFormat.MERMAID: MERMAID_MEDIA_TYPE,
}


def negotiated_format(accept: str | None, media_types: Mapping[FormatT, str]) -> FormatT:
    """The format Accept prefers (the first listed on a tie, or with no Accept); 406 if none."""
    first = next(iter(media_types))
    if not accept or not accept.strip():
        return first
    qualities = {
        name: accept_quality(accept, media_type) for name, media_type in media_types.items()
    }
    best = max(qualities, key=lambda name: qualities[name])
    if qualities[best] == 0:
        raise NotAcceptableError(f"Available: {', '.join(media_types.values())}.")
    return best


GRAPH_WRITE_ERRORS = (
    NotFoundError,
    PreconditionRequiredError,
    VersionMismatchError,
    GraphTooLargeError,
    CycleDetectedError,
)
GRAPH_CONTENT = {
    REACTFLOW_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ReactFlowDocument"}},
    MERMAID_MEDIA_TYPE: {"schema": {"type": "string"}},
}
REACTFLOW_BODY = {
    "requestBody": {
        "content": {
            REACTFLOW_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ReactFlowDocument"}}
        }
    }
}


@router.get(
    "/graph",
    operation_id="get_graph",
    response_model=GraphPublic,
    summary="Read the whole graph",
    responses={
        200: {
            **success(
                "The workflow with its nodes and edges, React Flow's document, or Mermaid text.",
                {**ETAG_HEADER, **VARY_HEADER, **ACCEPT_PATCH_HEADER},
            ),
            "content": GRAPH_CONTENT,
        },
        304: {"description": "Not modified (If-None-Match matched)."},
        **error_responses(NotFoundError, NotAcceptableError),
    },
)
async def get_graph(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    connection: ReadConnection,
    pool: PoolDep,
    output_format: Annotated[
        GraphReadFormat | None,
        Query(
            alias="format",
            description="`mermaid` for a Mermaid flowchart, `reactflow` for React Flow's "
            "document; wins over Accept.",
        ),
    ] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The workflow, nodes and edges in one document (one SQL statement), or another format.

    `Accept: application/vnd.reactflow+json` or `?format=reactflow` asks for React Flow's
    `toObject()` document (ETag `"3-reactflow"`), `Accept: text/vnd.mermaid` or
    `?format=mermaid` for Mermaid (`"3-mermaid"`); If-Match takes the tag of any of them.
    """
    chosen = output_format or negotiated_format(request.headers.get("accept"), GRAPH_MEDIA_TYPES)
    if chosen is GraphReadFormat.MERMAID:
        return await mermaid_response(connection, user_id, workflow_id, if_none_match)
    representation = REPRESENTATIONS[chosen]
    version = await workflows.current_version(connection, user_id, workflow_id, deleted=False)
    if version is None:
        raise workflow_not_found(workflow_id)
    if none_match(if_none_match, version, representation):
        return negotiated(not_modified(version, representation))
    rendered: RenderedGraphs = request.app.state.rendered_graphs
    body = rendered.get(workflow_id, version)
    if body is None:
        found = await graph.get_graph_in_parallel(connection, pool, user_id, workflow_id)
        if found is None:  # deleted in between
            raise workflow_not_found(workflow_id)
        version, body = found.version, found.document()
        rendered.put(workflow_id, version, body)
    if chosen is GraphReadFormat.REACTFLOW:
        return negotiated(reactflow_response(body, version, rendered))
    return negotiated(json_response(body, version=version))


REPRESENTATIONS = {
    GraphReadFormat.JSON: Representation.JSON,
    GraphReadFormat.REACTFLOW: Representation.REACTFLOW,
}


def reactflow_response(
    graph_document: bytes, version: int, kept: RenderedGraphs | None = None
) -> Response:
    """React Flow's document of a rendered graph document, with its own ETag.

    Derived once per kept rendering: re-deriving a 500-node document cost ~25 ms a read.
    """
    body = None if kept is None else kept.form(graph_document, REACTFLOW_FORM)
    if body is None:
        body = orjson.dumps(reactflow_document(orjson.loads(graph_document)))
        if kept is not None:
            kept.keep_form(graph_document, REACTFLOW_FORM, body)
    headers = {"ETag": etag(version, Representation.REACTFLOW)}
    return Response(body, media_type=REACTFLOW_MEDIA_TYPE, headers=headers)


def negotiated(response: Response) -> Response:
    """Mark a response as chosen by the Accept header; it names the PATCH it takes."""
    response.headers["Vary"] = "Accept"
    response.headers["Accept-Patch"] = ACCEPT_PATCH
    return response


async def mermaid_response(
    connection: AsyncConnection[Any],
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    if_none_match: str | None,
) -> Response:
    """The stored graph as a Mermaid flowchart."""
    stored = await graph.get_stored_graph(connection, user_id, workflow_id)
    if stored is None:
        raise workflow_not_found(workflow_id)
    if none_match(if_none_match, stored.version, Representation.MERMAID):
        return negotiated(not_modified(stored.version, Representation.MERMAID))
    text = render_mermaid(stored.name, stored.nodes, stored.edges)
    headers = {"ETag": etag(stored.version, Representation.MERMAID)}
    return negotiated(Response(text, media_type=MERMAID_MEDIA_TYPE, headers=headers))


@router.put(
    "/graph",
    operation_id="replace_graph",
    response_model=GraphSaveResult,
    summary="Replace the whole graph",
    responses={
        200: {
            **success(
                "Saved; the version rose by one, or stayed if nothing changed. A React Flow "
                "document is answered with React Flow's document.",
                ETAG_HEADER,
            ),
            "content": {REACTFLOW_MEDIA_TYPE: GRAPH_CONTENT[REACTFLOW_MEDIA_TYPE]},
        },
        **error_responses(*GRAPH_WRITE_ERRORS),
    },
    openapi_extra=REACTFLOW_BODY,
)
async def replace_graph(
    request: Request,
    background: BackgroundTasks,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    precondition: IfMatch,
    settings: SettingsDep,
    payload: Annotated[GraphPayload, Body()],
) -> Response:
    """Make the body the whole graph: ids kept, new ids created, missing items deleted.

    Every item problem is reported at once (422) before anything is written; a cycle is 409;
    then If-Match is checked, and the version raised if anything changed. A save whose
    definition differs from the latest revision's records a new revision (origin `save`); an
    unchanged one does not.

    With `Content-Type: application/vnd.reactflow+json` the body is React Flow's document
    (as GET answers it): the same rules apply, problems point into that document, React
    Flow's UI-only members are ignored, and its viewport is saved.
    """
    document = None
    if media_type_of(request.headers.get("content-type")) == REACTFLOW_MEDIA_TYPE:
        document = from_reactflow(payload)
        payload = document.graph
    graph_checks.check_size(
        payload, settings.max_nodes_per_workflow, settings.max_edges_per_workflow
    )
    with collector_paused():
        submitted = graph_checks.parse_graph(payload)
    revision = RevisionRequest(RevisionOrigin.SAVE, settings.max_revisions_per_workflow)
    if document is None:
        saved = await graph_service.replace_graph(
            session, user_id, workflow_id, precondition, submitted, revision=revision
        )
    else:
        submitted.problems += document.problems
        fields = (
            None
            if document.viewport is None
            else WorkflowUpdate(viewport=document.viewport.model_dump())
        )
        try:
            saved = await graph_service.replace_graph(
                session,
                user_id,
                workflow_id,
                precondition,
                submitted,
                revision=revision,
                fields=fields,
            )
        except ValidationError as error:
            raise in_reactflow_terms(error) from None
    graph_body = saved.graph.document()
    # Keep the new rendering for the next GET, but only once committed: background tasks run
    # after the response, which is sent after the unit of work commits.
    rendered: RenderedGraphs = request.app.state.rendered_graphs
    background.add_task(rendered.put_async, workflow_id, saved.graph.version, graph_body)
    if document is not None:
        return reactflow_response(graph_body, saved.graph.version)
    return json_response(saved.graph.save_answer(saved.changes), version=saved.graph.version)


def media_type_of(content_type: str | None) -> str:
    """The media type of a Content-Type value, without parameters, lowercased."""
    return (content_type or "").split(";", 1)[0].strip().lower()


@router.patch(
    "/graph",
    operation_id="change_graph",
    response_model=GraphSaveResult,
    summary="Apply a change set to the graph",
    responses={
        200: success(
            "Applied; the version rose by one, or stayed if nothing changed.",
            {**ETAG_HEADER, **ACCEPT_PATCH_HEADER},
        ),
        **error_responses(*GRAPH_WRITE_ERRORS),
    },
)
async def change_graph(
    request: Request,
    background: BackgroundTasks,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    precondition: IfMatch,
    settings: SettingsDep,
    changes: GraphChangeSet,
) -> Response:
    """Create, update and delete nodes and edges at once: all or nothing, one version step.

    What a multi-selection drag, a paste or a delete of a selection sends. Each list holds at
    most MAX_BATCH_ITEMS items. Every graph rule applies (422 with pointers into the change
    set, such as `/nodes/update/3/name`; a cycle is 409). An update names the fields it
    replaces; deleting a node deletes its edges. A change set that changes nothing (an empty
    one included) keeps the version and the ETag. `Prefer: return=minimal` answers 204.
    """
    for section, kinds in (("nodes", changes.nodes), ("edges", changes.edges)):
        for kind in ("create", "update", "delete"):
            items = getattr(kinds, kind)
            refuse_oversized_batch(len(items), settings.max_batch_items, f"{section}/{kind}")
    limits = (settings.max_nodes_per_workflow, settings.max_edges_per_workflow)
    applied = await graph_service.apply_change_set(
        session, user_id, workflow_id, precondition, changes, limits
    )
    headers = {"Accept-Patch": ACCEPT_PATCH}
    if prefers_minimal(request.scope):  # the body would be dropped: do not render it
        return json_response(b"", version=applied.version, headers=headers)
    saved = await graph.get_graph(session, user_id, workflow_id)
    assert saved is not None  # locked by the change set
    if applied.changed:
        rendered: RenderedGraphs = request.app.state.rendered_graphs
        background.add_task(rendered.put_async, workflow_id, saved.version, saved.document())
    body = saved.save_answer(applied.changes)
    return json_response(body, version=saved.version, headers=headers)


@router.post(
    "/duplicate",
    operation_id="duplicate_workflow",
    status_code=status.HTTP_201_CREATED,
    response_model=GraphPublic,
    summary="Duplicate a workflow with its graph",
    responses={
        201: success("The copy at version 1.", {**ETAG_HEADER, **LOCATION_HEADER}),
        **error_responses(NotFoundError),
    },
)
async def duplicate_workflow(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    duplicate_in: Annotated[DuplicateIn | None, Body()] = None,
) -> Response:
    """Copy the workflow, its nodes and edges under new ids (no If-Match: the original is read).

    The copy starts a history of its own: revision 1 (origin `manual`) holds it.
    """
    name = None if duplicate_in is None else duplicate_in.name
    copy_id = await graph.duplicate_workflow(session, user_id, workflow_id, name)
    if copy_id is None:
        raise workflow_not_found(workflow_id)
    copied = await graph.get_graph(session, user_id, copy_id)
    assert copied is not None
    first = RevisionRequest(
        RevisionOrigin.MANUAL,
        settings.max_revisions_per_workflow,
        RevisionCreate(message=f"Duplicate of workflow {workflow_id}"),
    )
    await record_revision(session, copy_id, user_id, copied, first)
    location = str(request.url_for("get_workflow", workflow_id=str(copy_id)))
    body = copied.document()
    return json_response(body, version=copied.version, status_code=201, location=location)


@router.get(
    "/validation",
    operation_id="validate_workflow",
    response_model=ValidationReport,
    summary="Validate the stored graph",
    responses={
        200: success("The validation report.", ETAG_HEADER),
        **error_responses(NotFoundError),
    },
)
async def validate_workflow(
    workflow_id: WorkflowId, user_id: CurrentUser, connection: ReadConnection, settings: SettingsDep
) -> Response:
    """Structural and reference issues, execution order and layers of the stored graph.

    No 304: the report also depends on the caller's tools and agents, which the ETag ignores.
    """
    stored = await graph.get_stored_graph(connection, user_id, workflow_id)
    if stored is None:
        raise workflow_not_found(workflow_id)
    report = build_report(
        stored.nodes,
        stored.edges,
        usable_tool_ids=stored.usable_tool_ids,
        usable_agent_ids=stored.usable_agent_ids,
        warn_dead_ends=settings.warn_dead_ends,
    )
    return json_response(report.model_dump_json(), version=stored.version)
