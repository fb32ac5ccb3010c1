"""Nodes: a node's tool or agent must be one of its owner's live ones.

Every write first raises the workflow version (`bump_version`), which checks If-Match and
locks the workflow row until commit.
"""

import uuid
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel
from sqlalchemy import Uuid, any_, bindparam, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from service import owned_rows
from service.changes import service as change_log
from service.changes.models import Operation, touched
from service.errors import ItemCode, ValidationError
from service.graph.items_repository import (
    CreatedItems,
    GraphTable,
    insert_items,
    item_entry,
    item_pointer,
    refuse_growth_beyond,
    stored_item,
    update_in_one_statement,
    update_item,
    validated_merge,
)
from service.graph.nodes.models import Node, NodeCreate, NodePublic, NodeUpdate
from service.owned_rows import VersionedJson
from service.preconditions import Precondition
from service.registry.models import Agent, Tool  # noqa: F401  (node_references resolves to them)
from service.sql import CompiledSql, compiled, table_of
from service.workflows.repository import bump_version

NODES = GraphTable(table_of(Node), "Node", NodePublic, NodeCreate)
REFERENCE_TABLES = owned_rows.node_references()


def found_references() -> CompiledSql:
    """SELECT (field, id) of the `tool_id`/`agent_id` ids naming live rows of the owner."""
    parts = [
        select(literal(field), table.c.id).where(
            table.c.owner_id == bindparam("owner_id"),
            table.c.deleted_at.is_(None),
            table.c.id == any_(bindparam(field, type_=ARRAY(Uuid))),
        )
        for field, table in REFERENCE_TABLES.items()
    ]
    return compiled(union_all(*parts))


FOUND_REFERENCES = found_references()
# Node fields valid on their own, whatever the node's type, config or references: a PATCH of
# only these (an editor sends one on every drag) needs no re-validation of the merged node.
SELF_CONTAINED_FIELDS = frozenset(
    {"name", "position_x", "position_y", "input_schema", "output_schema"}
    | {"timeout_seconds", "retry_config"}
)


async def reference_problems(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    references: list[tuple[str, str, uuid.UUID]],
) -> list[dict[str, str]]:
    """Located problems for each (pointer, field, id) naming no live tool/agent of the owner."""
    if not references:
        return []
    wanted = {field: [ref for _p, f, ref in references if f == field] for field in REFERENCE_TABLES}
    cursor = await connection.execute(
        FOUND_REFERENCES.text, FOUND_REFERENCES.params({"owner_id": owner_id, **wanted})
    )
    found = {(str(field), ref) for field, ref in await cursor.fetchall()}
    return [
        {
            "code": ItemCode.REFERENCE_NOT_FOUND,
            "pointer": pointer,
            "detail": f"{field.removesuffix('_id').capitalize()} {ref} not found.",
        }
        for pointer, field, ref in references
        if (field, ref) not in found
    ]


def node_references(
    node: BaseModel | dict[str, Any], pointer: str
) -> list[tuple[str, str, uuid.UUID]]:
    """The tool and agent ids a node (or the fields of a PATCH) names, with their pointers."""
    values = node if isinstance(node, dict) else node.model_dump()
    return [
        (f"{pointer}/{field}", field, values[field])
        for field in REFERENCE_TABLES
        if values.get(field) is not None
    ]


async def create_nodes(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    nodes: list[NodeCreate],
    *,
    max_nodes: int,
    collection: str | None,
) -> CreatedItems:
    """Add nodes all or nothing; problems are located in a batch `collection` when given."""
    version = await bump_version(connection, owner_id, workflow_id, precondition)
    await refuse_growth_beyond(connection, NODES, workflow_id, len(nodes), max_nodes)
    references = [
        reference
        for index, node in enumerate(nodes)
        for reference in node_references(node, item_pointer(collection, index))
    ]
    problems = await reference_problems(connection, owner_id, references)
    if problems:
        raise ValidationError(problems, detail="Some nodes reference unknown tools or agents.")
    items = await insert_items(connection, NODES, workflow_id, nodes)
    operation = Operation.NODE_CREATED if collection is None else Operation.NODES_BATCH_CREATED
    ids = [item_id for item_id, _body in items]
    await change_log.record(
        connection, owner_id, workflow_id, version, item_entry(NODES, operation, touched(ids))
    )
    return CreatedItems(version, items)


async def update_node(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    node_id: uuid.UUID,
    precondition: Precondition | None,
    node_in: NodeUpdate,
) -> VersionedJson:
    """Merge the named fields over the stored node and check the whole; the version rises."""
    changes = node_in.model_dump(exclude_unset=True)
    if changes and changes.keys() <= SELF_CONTAINED_FIELDS:
        record = node_in.model_dump(mode="json", exclude_unset=True)
        return await update_in_one_statement(
            connection, NODES, owner_id, workflow_id, node_id, precondition, record
        )
    version = await bump_version(connection, owner_id, workflow_id, precondition)
    stored = await stored_item(connection, NODES, workflow_id, node_id)
    node = validated_merge(NodeCreate, stored, changes)
    # Only references the PATCH names are checked: moving a node must not fail on an old one.
    problems = await reference_problems(connection, owner_id, node_references(changes, ""))
    if problems:
        raise ValidationError(problems, detail="The node references unknown tools or agents.")
    body = await update_item(connection, NODES, workflow_id, node_id, node)
    entry = item_entry(NODES, Operation.NODE_UPDATED, touched(updated=[node_id]))
    await change_log.record(connection, owner_id, workflow_id, version, entry)
    return VersionedJson(version, body, node_id)
