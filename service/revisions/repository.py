"""Revisions: stored, listed, read back as the graph document they captured, and pruned.

Every statement is built with Core from the tables and compiled once, at import. A snapshot
is kept as JSONB and rendered back through the graph document's own expressions (its rows
typed as the tables' columns again), so a revision answers the bytes GET .../graph answered
at its version.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    Text,
    Uuid,
    and_,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from service.graph.edges.models import Edge, EdgePublic
from service.graph.nodes.models import Node, NodePublic
from service.graph.nodes.repository import REFERENCE_TABLES
from service.graph.repository import (
    WORKFLOW_MEMBERS,
    RenderedGraph,
    fetch_row,
    items_array,
    rendered_graph,
    workflow_member_texts,
)
from service.owned_rows import WORKFLOWS_TABLE
from service.responses import render_json
from service.revisions.content import REVISIONS, content_hash
from service.revisions.models import (
    DEFINITION_FIELDS,
    RevisionCreate,
    RevisionOrigin,
    RevisionPublic,
)
from service.sql import (
    CompiledSql,
    compiled,
    json_key,
    json_object,
    json_text,
    public_fields,
    table_of,
)
from service.workflows.models import WorkflowPublic

WORKFLOWS = WORKFLOWS_TABLE
NODES_TABLE, EDGES_TABLE = table_of(Node), table_of(Edge)
# Workflow members of the graph document that are no column: stored in the snapshot as is.
SNAPSHOT_ONLY_MEMBERS = [name for name in WORKFLOW_MEMBERS if name not in WORKFLOWS.c]


def owned_live_workflow() -> ColumnElement[bool]:
    """The `workflow_id` parameter names a live workflow of `owner_id`."""
    return and_(
        WORKFLOWS.c.id == bindparam("workflow_id", type_=Uuid),
        WORKFLOWS.c.owner_id == bindparam("owner_id", type_=Uuid),
        WORKFLOWS.c.deleted_at.is_(None),
    )


def revision_json(rows: FromClause) -> ColumnElement[str]:
    """A revision row of `rows` as RevisionPublic JSON text."""
    return json_text(json_object(RevisionPublic, rows))


def of_workflow(rows: FromClause) -> ColumnElement[bool]:
    """Rows of the `workflow_id` parameter's workflow."""
    return rows.c.workflow_id == bindparam("workflow_id", type_=Uuid)


def count_of(table: FromClause) -> ColumnElement[int]:
    """How many rows of `table` the workflow has."""
    return select(func.count()).select_from(table).where(of_workflow(table)).scalar_subquery()


def latest_number() -> ColumnElement[int]:
    """The number of the workflow's latest revision (NULL when it has none)."""
    revisions = REVISIONS
    return select(func.max(revisions.c.number)).where(of_workflow(revisions)).scalar_subquery()


def holder_statement() -> CompiledSql:
    """(working copy's hash, the latest revision's JSON if it holds the same content)."""
    working = (
        select(content_hash(WORKFLOWS).label("hash"))
        .where(WORKFLOWS.c.id == bindparam("workflow_id", type_=Uuid))
        .cte("working")
    )
    latest = REVISIONS
    holder = (
        select(revision_json(latest))
        .where(
            of_workflow(latest),
            latest.c.number == latest_number(),
            latest.c.content_hash == working.c.hash,
        )
        .scalar_subquery()
    )
    return compiled(select(working.c.hash, holder))


def insert_statement() -> CompiledSql:
    """Store the next revision (the caller holds the workflow lock); its JSON."""
    revisions = REVISIONS
    row = select(
        bindparam("workflow_id", type_=Uuid),
        func.coalesce(latest_number(), 0) + 1,
        bindparam("version", type_=Integer),
        bindparam("author_id", type_=Uuid),
        bindparam("origin", type_=revisions.c.origin.type),
        *(bindparam(name, type_=revisions.c[name].type) for name in RevisionCreate.model_fields),
        bindparam("content_hash", type_=revisions.c.content_hash.type),
        count_of(NODES_TABLE),
        count_of(EDGES_TABLE),
        bindparam("snapshot", type_=JSONB),
    )
    columns = [
        "workflow_id",
        "number",
        "version",
        "author_id",
        "origin",
        *RevisionCreate.model_fields,
        "content_hash",
        "node_count",
        "edge_count",
        "snapshot",
    ]
    stored = insert(revisions).from_select(columns, row).returning(*revisions.c).cte("stored")
    return compiled(select(revision_json(stored)))


HOLDER_STATEMENT = holder_statement()
INSERT_STATEMENT = insert_statement()


@dataclass(frozen=True)
class StoredRevision:
    """A revision's metadata as RevisionPublic JSON, and whether this request stored it."""

    body: str
    created: bool

    @property
    def number(self) -> int:
        """The revision's number."""
        return int(orjson.loads(self.body)["number"])


async def record(
    connection: AsyncConnection[Any],
    workflow_id: uuid.UUID,
    author_id: uuid.UUID,
    graph: RenderedGraph,
    origin: RevisionOrigin,
    revision_in: RevisionCreate,
) -> StoredRevision:
    """Store `graph` (the working copy, rendered) as a revision unless the latest holds it.

    The content is compared first, so an unchanged save never sends its snapshot.
    """
    row = await fetch_row(connection, HOLDER_STATEMENT, {"workflow_id": workflow_id})
    assert row is not None
    working_hash, holder = row
    if holder is not None:
        return StoredRevision(str(holder), created=False)
    values = {
        "workflow_id": workflow_id,
        "author_id": author_id,
        "version": graph.version,
        "origin": origin,
        "content_hash": working_hash,
        "snapshot": Jsonb(graph.document(), dumps=bytes.decode),
        **revision_in.model_dump(),
    }
    stored = await fetch_row(connection, INSERT_STATEMENT, values)
    assert stored is not None
    return StoredRevision(str(stored[0]), created=True)


PRUNE_STATEMENT = compiled(
    delete(REVISIONS).where(
        of_workflow(REVISIONS),
        REVISIONS.c.number
        <= select(func.max(REVISIONS.c.number)).where(of_workflow(REVISIONS)).scalar_subquery()
        - bindparam("keep", type_=Integer),
        REVISIONS.c.number.is_distinct_from(
            select(WORKFLOWS.c.published_revision)
            .where(WORKFLOWS.c.id == bindparam("workflow_id", type_=Uuid))
            .scalar_subquery()
        ),
    )
)


async def prune(connection: AsyncConnection[Any], workflow_id: uuid.UUID, keep: int) -> None:
    """Delete the revisions older than the newest `keep`, except the published one.

    Numbers are never reused and only the oldest go, so the newest `keep` are the numbers
    above the latest minus `keep`.
    """
    values = {"workflow_id": workflow_id, "keep": keep}
    await connection.execute(PRUNE_STATEMENT.text, PRUNE_STATEMENT.params(values))


def list_statement(after: bool) -> CompiledSql:
    """One newest-first keyset page of a live workflow's revisions: (JSON, number), `limit`.

    Joined with the owner's live workflow, so another owner's workflow lists nothing.
    """
    revisions = REVISIONS
    clauses = [
        of_workflow(revisions),
        owned_live_workflow(),
        WORKFLOWS.c.id == revisions.c.workflow_id,
    ]
    if after:
        clauses.append(revisions.c.number < bindparam("after", type_=Integer))
    statement = (
        select(revision_json(revisions), revisions.c.number)
        .where(*clauses)
        .order_by(revisions.c.number.desc())
        .limit(bindparam("limit", type_=Integer))
    )
    return compiled(statement)


LIST_STATEMENTS = {after: list_statement(after) for after in (False, True)}


async def list_revisions(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    limit: int,
    after: int | None,
) -> list[tuple[str, int]]:
    """Up to `limit` revisions (JSON, number) newest first, older than `after` if given."""
    statement = LIST_STATEMENTS[after is not None]
    values = {"workflow_id": workflow_id, "owner_id": owner_id, "limit": limit, "after": after}
    cursor = await connection.execute(statement.text, statement.params(values))
    return [(str(item), int(number)) for item, number in await cursor.fetchall()]


def typed_records(
    document: ColumnElement[Any], names: Sequence[str], table: FromClause, *, many: bool
) -> FromClause:
    """jsonb_to_record(set) of a stored JSONB document, typed as the columns of `table`."""
    function = func.jsonb_to_recordset if many else func.jsonb_to_record
    columns = [column(name, table.c[name].type) for name in names]
    return function(document).table_valued(*columns).render_derived(with_types=True)


def snapshot_items(member: str, public: type[Any], table: FromClause) -> ColumnElement[str]:
    """A snapshot's nodes or edges rendered again as the graph document renders them."""
    records = typed_records(
        REVISIONS.c.snapshot[member], public_fields(public), table, many=True
    ).alias(f"snapshot_{member}")
    rows = select(*(records.c[name].label(name) for name in public_fields(public)))
    return items_array(public, rows.select_from(records))


def snapshot_workflow_members() -> list[ColumnElement[str]]:
    """A snapshot's workflow members rendered again as the graph document renders them."""
    columns = [name for name in public_fields(WorkflowPublic) if name in WORKFLOWS.c]
    record = typed_records(REVISIONS.c.snapshot, columns, WORKFLOWS, many=False).alias("w")
    stored = {name: REVISIONS.c.snapshot[name] for name in SNAPSHOT_ONLY_MEMBERS}
    return workflow_member_texts(record, stored)


def document_statement() -> CompiledSql:
    """(version, *workflow members, nodes, edges, revision JSON) of revision `number`."""
    revisions = REVISIONS
    statement = select(
        revisions.c.version,
        *snapshot_workflow_members(),
        snapshot_items("nodes", NodePublic, NODES_TABLE),
        snapshot_items("edges", EdgePublic, EDGES_TABLE),
        revision_json(revisions),
    ).where(
        owned_live_workflow(),
        revisions.c.workflow_id == WORKFLOWS.c.id,
        revisions.c.number == bindparam("number", type_=Integer),
    )
    return compiled(statement)


DOCUMENT_STATEMENT = document_statement()


@dataclass(frozen=True)
class RevisionGraph:
    """A graph as rendered (a stored revision's, or the working copy) and a revision holding it."""

    graph: RenderedGraph
    metadata: str

    @property
    def number(self) -> int:
        """The revision's number."""
        return int(orjson.loads(self.metadata)["number"])

    def document(self) -> bytes:
        """The RevisionDocument: the graph document's members, then the revision."""
        members = self.graph.members()
        return render_json({**members, "revision": orjson.Fragment(self.metadata)})


async def get_document(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    number: int,
) -> RevisionGraph | None:
    """Revision `number` of the owner's live workflow, rendered."""
    statement = DOCUMENT_STATEMENT
    values = {"workflow_id": workflow_id, "owner_id": owner_id, "number": number}
    row = await fetch_row(connection, statement, values)
    if row is None:
        return None
    return RevisionGraph(rendered_graph(row[:-1]), str(row[-1]))


SNAPSHOT_STATEMENT = compiled(
    select(json_text(REVISIONS.c.snapshot), revision_json(REVISIONS)).where(
        of_workflow(REVISIONS), REVISIONS.c.number == bindparam("number", type_=Integer)
    )
)


async def get_snapshot(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, number: int
) -> tuple[dict[str, Any], str] | None:
    """Revision `number`'s snapshot (parsed) and metadata JSON, None if there is none.

    The caller has checked that the workflow is the owner's.
    """
    values = {"workflow_id": workflow_id, "number": number}
    row = await fetch_row(connection, SNAPSHOT_STATEMENT, values)
    if row is None:
        return None
    return orjson.loads(row[0]), str(row[1])


def snapshot_sides(number: str) -> FromClause:
    """Revision `number` (a parameter name) as its nodes, edges and workflow fields' JSON text.

    Two fences (OFFSET 0) keep PostgreSQL from inlining the columns into every expression
    that reads them: `|| '{}'` detoasts the snapshot once (an empty right side returns the
    left as is), and the arrays are extracted once, not once per position compared.
    """
    rows = REVISIONS.alias(f"revision_{number}")
    detoasted = (
        select(rows.c.snapshot.op("||")(cast(literal("{}"), JSONB)).label("snapshot"))
        .where(of_workflow(rows), rows.c.number == bindparam(number, type_=Integer))
        .offset(0)
        .subquery(f"detoasted_{number}")
    )
    members: list[Any] = []
    for name in DEFINITION_FIELDS:
        members += [json_key(name), detoasted.c.snapshot[name]]
    return (
        select(
            cast(func.jsonb_build_object(*members), Text).label("head"),
            *(detoasted.c.snapshot[kind].label(kind) for kind in ("nodes", "edges")),
        )
        .offset(0)
        .subquery(f"side_{number}")
    )


def differing_positions(kind: str, old: FromClause, new: FromClause) -> FromClause:
    """The positions at which the two sides' `kind` arrays do not hold equal items."""
    length = func.greatest(
        func.jsonb_array_length(old.c[kind]), func.jsonb_array_length(new.c[kind])
    )
    position = func.generate_series(0, length - 1).table_valued("position").render_derived()
    return (
        select(func.array_agg(position.c.position).label("positions"))
        .where(old.c[kind][position.c.position].is_distinct_from(new.c[kind][position.c.position]))
        .lateral(f"differing_{kind}")
    )


def items_only_in(
    kind: str, this: FromClause, other: FromClause, positions: FromClause
) -> ColumnElement[Any]:
    """The texts of `kind` items of side `this` that side `other` does not hold equal.

    Only the differing positions are searched: an item equal to one at another position of
    `other` is equal to `other`'s there, whose id it shares, so that position differs too.
    Equal as jsonb, as the graph save compares stored values.
    """

    def items_at(side: FromClause) -> Select[Any]:
        position = func.unnest(positions.c.positions).table_valued("position").render_derived()
        item = side.c[kind][position.c.position]
        chosen = select(item.label("item")).select_from(position).where(item.is_not(None))
        return chosen.correlate(side, positions)

    only = items_at(this).except_(items_at(other)).subquery(f"only_{kind}")
    return select(func.array_agg(cast(only.c.item, Text))).scalar_subquery()


def diff_statement() -> CompiledSql:
    """What differs between revisions `from` and `to`: their workflow fields, and the items of
    each side the other does not hold equal, so that the unchanged items of a large graph never
    leave PostgreSQL. NULL fields: no such revision.

    Items are compared position by position first (snapshots keep creation order, so an
    unchanged item mostly sits where it sat), and only the differing ones are set against
    each other: two 5,000-node revisions took 269 ms as two EXCEPTs over every item, 78 ms so.
    """
    old, new = snapshot_sides("from"), snapshot_sides("to")
    columns: list[Any] = [old.c.head, new.c.head]
    # Both sides outer-joined to one row: a missing revision reads as NULLs, and no side is
    # copied aside for a merge join (a FULL JOIN materialized 5 MB of snapshot).
    anchor = select(true().label("anchor")).subquery("anchor")
    joined = anchor.outerjoin(old, true()).outerjoin(new, true())
    for kind in ("nodes", "edges"):
        positions = differing_positions(kind, old, new)
        joined = joined.join(positions, true())
        columns += [
            items_only_in(kind, old, new, positions),
            items_only_in(kind, new, old, positions),
        ]
    return compiled(select(*columns).select_from(joined))


DIFF_STATEMENT = diff_statement()


@dataclass(frozen=True)
class DiffSides:
    """Two snapshots reduced to their workflow fields and the items not identical in both."""

    old: dict[str, Any] | None
    new: dict[str, Any] | None


def reduced_document(head: str | None, nodes: list[str] | None, edges: list[str] | None) -> Any:
    """A snapshot with only some of its items, in the graph document's order."""
    if head is None:
        return None
    document = orjson.loads(head)
    for kind, texts in (("nodes", nodes), ("edges", edges)):
        items = [orjson.loads(text) for text in texts or ()]
        document[kind] = sorted(items, key=lambda item: (item["created_at"], item["id"]))
    return document


async def diff_sides(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, from_number: int, to_number: int
) -> DiffSides:
    """Revisions `from_number` and `to_number`, reduced to what may differ between them."""
    values = {"workflow_id": workflow_id, "from": from_number, "to": to_number}
    row = await fetch_row(connection, DIFF_STATEMENT, values)
    assert row is not None  # one row always: the anchor
    old_head, new_head, old_nodes, new_nodes, old_edges, new_edges = row
    return DiffSides(
        reduced_document(old_head, old_nodes, old_edges),
        reduced_document(new_head, new_nodes, new_edges),
    )


PUBLISHED_STATEMENT = compiled(
    select(WORKFLOWS.c.version, WORKFLOWS.c.published_revision).where(owned_live_workflow())
)


async def published_number(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID
) -> tuple[int, int | None] | None:
    """The live workflow's version and published revision number; None if not found."""
    values = {"workflow_id": workflow_id, "owner_id": owner_id}
    row = await fetch_row(connection, PUBLISHED_STATEMENT, values)
    return None if row is None else (int(row[0]), row[1])


def usable_statement() -> CompiledSql:
    """The ids among the `ids` parameter naming the owner's live, active tools and agents."""
    ids = bindparam("ids", type_=ARRAY(Uuid))
    usable = [
        select(registry.c.id).where(
            registry.c.id == func.any(ids),
            registry.c.owner_id == bindparam("owner_id", type_=Uuid),
            registry.c.deleted_at.is_(None),
            registry.c.is_active,
        )
        for registry in REFERENCE_TABLES.values()
    ]
    return compiled(usable[0].union_all(*usable[1:]))


USABLE_STATEMENT = usable_statement()


async def usable_references(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `ids` name the owner's live, active tools or agents."""
    if not ids:
        return set()
    values = {"owner_id": owner_id, "ids": list(ids)}
    cursor = await connection.execute(USABLE_STATEMENT.text, USABLE_STATEMENT.params(values))
    return {row[0] for row in await cursor.fetchall()}
