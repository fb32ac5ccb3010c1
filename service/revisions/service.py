"""The rules of revisions: checkpoints, reading, diffs, restore, and publishing behind a gate.

Every write locks the workflow first, then checks If-Match, then reads what it judges.
"""

import uuid
from typing import Any

import orjson
from psycopg import AsyncConnection
from pydantic import ValidationError as PydanticValidationError

from service.changes import service as change_log
from service.changes.models import Operation
from service.errors import (
    ItemCode,
    NotPublishedError,
    RevisionNotFoundError,
    ValidationError,
    ValidationFailedError,
    invalid_value,
    json_pointer,
    workflow_not_found,
)
from service.graph import repository as graph
from service.graph import rules
from service.graph import service as graph_service
from service.graph.models import StoredEdge, StoredNode
from service.graph.nodes.repository import REFERENCE_TABLES
from service.graph.validation import ValidationReport, build_report
from service.owned_rows import VersionedJson
from service.pagination import Cursor, invalid_cursor
from service.preconditions import Precondition
from service.revisions import repository as revisions
from service.revisions.diff import ITEM_FIELDS, diff
from service.revisions.history import RevisionRequest, record_revision
from service.revisions.models import (
    CURRENT,
    DEFINITION_FIELDS,
    PublishIn,
    RevisionCreate,
    RevisionOrigin,
)
from service.revisions.repository import RevisionGraph, StoredRevision
from service.workflows import repository as workflows
from service.workflows.models import WorkflowUpdate

LIST_SORT = "-number"


async def lock_checked(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
) -> int:
    """Lock the owner's live workflow and check If-Match against it; its version."""
    version = await workflows.lock_workflow(connection, owner_id, workflow_id)
    if precondition is not None and not precondition.matches(version):
        raise await change_log.version_mismatch(connection, workflow_id, precondition, version)
    return version


async def create_checkpoint(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    request: RevisionRequest,
) -> tuple[StoredRevision, int]:
    """Record the working copy (unless the latest revision holds it); it and the version."""
    version = await lock_checked(connection, owner_id, workflow_id, precondition)
    working_copy = await graph.get_graph(connection, owner_id, workflow_id)
    assert working_copy is not None  # locked above
    stored = await record_revision(connection, workflow_id, owner_id, working_copy, request)
    return stored, version


async def ensure_workflow(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID
) -> int:
    """The version of the owner's live workflow; 404 when there is none."""
    version = await workflows.current_version(connection, owner_id, workflow_id, deleted=False)
    if version is None:
        raise workflow_not_found(workflow_id)
    return version


def list_cursor(workflow_id: uuid.UUID, number: int) -> str:
    """The cursor continuing a list after revision `number`."""
    return Cursor(LIST_SORT, str(number), str(workflow_id)).encode()


def cursor_position(workflow_id: uuid.UUID, cursor: str) -> int:
    """The revision number a cursor of this workflow's list continues after; 422 otherwise."""
    parsed = Cursor.decode(cursor, LIST_SORT)
    if parsed.last_id != str(workflow_id) or not parsed.value.isdigit():
        raise invalid_cursor("the cursor belongs to another list")
    return int(parsed.value)


async def list_page(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None]:
    """One newest-first page of the workflow's revisions and the next cursor."""
    after = None if cursor is None else cursor_position(workflow_id, cursor)
    rows = await revisions.list_revisions(connection, owner_id, workflow_id, limit + 1, after)
    if not rows:  # none, or no such workflow of the caller's
        await ensure_workflow(connection, owner_id, workflow_id)
    next_cursor = list_cursor(workflow_id, rows[limit - 1][1]) if len(rows) > limit else None
    return [item for item, _number in rows[:limit]], next_cursor


async def revision_document(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID, number: int
) -> RevisionGraph:
    """Revision `number` rendered as its graph document; 404 REVISION_NOT_FOUND."""
    found = await revisions.get_document(connection, owner_id, workflow_id, number)
    if found is None:
        await ensure_workflow(connection, owner_id, workflow_id)
        raise RevisionNotFoundError(f"Workflow {workflow_id} has no revision {number}.")
    return found


def not_published(workflow_id: uuid.UUID) -> NotPublishedError:
    """The 404 of a workflow without a published revision."""
    return NotPublishedError(f"Workflow {workflow_id} has no published revision.")


async def snapshot_of(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, number: int
) -> dict[str, Any]:
    """The stored snapshot of revision `number`; 404 REVISION_NOT_FOUND."""
    found = await revisions.get_snapshot(connection, workflow_id, number)
    if found is None:
        raise RevisionNotFoundError(f"Workflow {workflow_id} has no revision {number}.")
    return found[0]


async def difference(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    from_number: int,
    to: int | str,
) -> dict[str, Any]:
    """The structural diff from revision `from_number` to revision `to` or the working copy."""
    await ensure_workflow(connection, owner_id, workflow_id)
    if to == CURRENT:
        old = await snapshot_of(connection, workflow_id, from_number)
        working_copy = await graph.get_graph(connection, owner_id, workflow_id)
        if working_copy is None:  # deleted in between
            raise workflow_not_found(workflow_id)
        new = orjson.loads(working_copy.document())
    else:
        sides = await revisions.diff_sides(connection, workflow_id, from_number, int(to))
        if sides.old is None or sides.new is None:
            missing = from_number if sides.old is None else to
            raise RevisionNotFoundError(f"Workflow {workflow_id} has no revision {missing}.")
        old, new = sides.old, sides.new
    return {"from": from_number, "to": to, **diff(old, new)}


def restorable_graph(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The PUT .../graph body that makes the working copy's nodes and edges the snapshot's."""
    return {
        kind: [{name: item[name] for name in fields if name in item} for item in snapshot[kind]]
        for kind, fields in ITEM_FIELDS.items()
    }


def restorable_fields(snapshot: dict[str, Any]) -> WorkflowUpdate:
    """The snapshot's workflow fields, validated as today's rules say (422 with pointers)."""
    try:
        return WorkflowUpdate.model_validate({name: snapshot[name] for name in DEFINITION_FIELDS})
    except PydanticValidationError as error:
        raise ValidationError(
            [invalid_value(json_pointer(*item["loc"]), item["msg"]) for item in error.errors()]
        ) from None


async def refuse_missing_references(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, snapshot: dict[str, Any]
) -> None:
    """422 naming every snapshot node whose tool or agent is gone or inactive."""
    referenced = {
        (position, field, node[field])
        for position, node in enumerate(snapshot["nodes"])
        for field in REFERENCE_TABLES
        if node.get(field) is not None
    }
    ids = {uuid.UUID(str(value)) for _position, _field, value in referenced}
    usable = await revisions.usable_references(connection, owner_id, ids)
    problems = [
        {
            "code": ItemCode.REFERENCE_NOT_FOUND,
            "pointer": json_pointer("nodes", position, field),
            "detail": f"{field.removesuffix('_id').title()} {value} is gone or inactive.",
        }
        for position, field, value in sorted(referenced)
        if uuid.UUID(str(value)) not in usable
    ]
    if problems:
        raise ValidationError(problems, detail="The revision references what is gone.")


async def restore(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    number: int,
    precondition: Precondition | None,
    limits: tuple[int, int, int],
) -> RevisionGraph:
    """Make the working copy equal to revision `number`, through the graph save's own path.

    `limits` are the node and edge limits and the revisions kept. The restore is recorded as
    a revision (origin `restore`) unless the latest one holds the same content.
    """
    max_nodes, max_edges, keep = limits
    await workflows.lock_workflow(connection, owner_id, workflow_id)
    snapshot = await snapshot_of(connection, workflow_id, number)
    body = restorable_graph(snapshot)
    rules.check_size(body, max_nodes, max_edges)
    await refuse_missing_references(connection, owner_id, snapshot)
    fields = restorable_fields(snapshot)
    with graph_service.collector_paused():
        submitted = rules.parse_graph(body)
    message = RevisionCreate(message=f"Restored revision {number}")
    saved = await graph_service.replace_graph(
        connection,
        owner_id,
        workflow_id,
        precondition,
        submitted,
        revision=RevisionRequest(RevisionOrigin.RESTORE, keep, message),
        fields=fields,
        operation=Operation.REVISION_RESTORED,
    )
    return RevisionGraph(saved.graph, saved.revision.body)


def gate(report: ValidationReport) -> None:
    """The validation gate: no errors, or 422 VALIDATION_FAILED with the report's issues."""
    if not report.is_valid:
        raise ValidationFailedError(report.issues)


async def working_copy_report(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    warn_dead_ends: bool,
) -> ValidationReport:
    """The validation report of the working copy (GET .../validation)."""
    stored = await graph.get_stored_graph(connection, owner_id, workflow_id)
    assert stored is not None  # locked by the caller
    return build_report(
        stored.nodes,
        stored.edges,
        usable_tool_ids=stored.usable_tool_ids,
        usable_agent_ids=stored.usable_agent_ids,
        warn_dead_ends=warn_dead_ends,
    )


async def snapshot_report(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    snapshot: dict[str, Any],
    warn_dead_ends: bool,
) -> ValidationReport:
    """The validation report of a stored snapshot, against the caller's tools and agents now."""
    nodes = [StoredNode.model_validate(node) for node in snapshot["nodes"]]
    edges = [StoredEdge.model_validate(edge) for edge in snapshot["edges"]]
    referenced = {ref for node in nodes for ref in (node.tool_id, node.agent_id) if ref}
    usable = await revisions.usable_references(connection, owner_id, referenced)
    return build_report(
        nodes,
        edges,
        usable_tool_ids=usable,
        usable_agent_ids=usable,
        warn_dead_ends=warn_dead_ends,
    )


async def publish(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    publish_in: PublishIn,
    settings: tuple[int, bool],
) -> VersionedJson:
    """Publish a revision, or the working copy (recorded as one first), if it passes the gate.

    `settings` are the revisions kept and whether dead ends warn. The version rises by one.
    """
    keep, warn_dead_ends = settings
    await lock_checked(connection, owner_id, workflow_id, precondition)
    if publish_in.revision is None:
        gate(await working_copy_report(connection, owner_id, workflow_id, warn_dead_ends))
        message = RevisionCreate(message=publish_in.message)
        request = RevisionRequest(RevisionOrigin.PUBLISH, keep, message)
        working_copy = await graph.get_graph(connection, owner_id, workflow_id)
        assert working_copy is not None  # locked above
        stored = await record_revision(connection, workflow_id, owner_id, working_copy, request)
        number = stored.number
    else:
        number = publish_in.revision
        snapshot = await snapshot_of(connection, workflow_id, number)
        gate(await snapshot_report(connection, owner_id, snapshot, warn_dead_ends))
    return await workflows.set_published_revision(
        connection, owner_id, workflow_id, precondition, number
    )


async def unpublish(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
) -> VersionedJson:
    """Unpublish; 404 NOT_PUBLISHED when nothing is published. The version rises by one."""
    await lock_checked(connection, owner_id, workflow_id, precondition)
    found = await revisions.published_number(connection, owner_id, workflow_id)
    if found is None or found[1] is None:
        raise not_published(workflow_id)
    return await workflows.set_published_revision(
        connection, owner_id, workflow_id, precondition, None
    )
