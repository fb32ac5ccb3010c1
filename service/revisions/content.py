"""A workflow's definition as canonical JSON text, its content hash, and whether it is published.

Built in SQL, once: the workflow resource shows `has_unpublished_changes` on every read path
(lists included), where the graph is never in Python, and a revision's hash is taken in the
statement that stores it. The text is canonical: members come in a fixed column order, the
JSON values inside (config, variables, ...) are jsonb, whose text has one key order whatever
the input's, and nodes and edges are ordered by id. It is built with the json functions
(text concatenation), several times faster than assembling jsonb for a hash.
"""

from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, Text, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlmodel import SQLModel

from service.graph.edges.models import Edge, EdgeCreate
from service.graph.nodes.models import Node, NodeCreate
from service.revisions.models import DEFINITION_FIELDS, Revision
from service.sql import json_key, table_of

REVISIONS = table_of(Revision)
EMPTY_ARRAY = cast(literal("[]", Text), JSON)


def items_definition(
    table: Table, create: type[SQLModel], workflow: FromClause
) -> ColumnElement[Any]:
    """The workflow's items as a JSON array of their ids and written fields, by id."""
    fields = ("id", *create.model_fields)
    rows = (
        select(*(table.c[name] for name in fields))
        .where(table.c.workflow_id == workflow.c.id)
        .correlate(workflow)
        .subquery("d")
    )
    ordered = func.json_agg(aggregate_order_by(func.row_to_json(rows.table_valued()), rows.c.id))
    return select(func.coalesce(ordered, EMPTY_ARRAY)).select_from(rows).scalar_subquery()


def definition(workflow: FromClause) -> ColumnElement[Any]:
    """The workflow's definition as JSON: no timestamps, versions or owner."""
    members: list[Any] = []
    for name in DEFINITION_FIELDS:
        members += [json_key(name), workflow.c[name]]
    members += [json_key("nodes"), items_definition(table_of(Node), NodeCreate, workflow)]
    members += [json_key("edges"), items_definition(table_of(Edge), EdgeCreate, workflow)]
    return func.json_build_object(*members)


def content_hash(workflow: FromClause) -> ColumnElement[str]:
    """SHA-256 (hex) of the canonical definition's text."""
    text = func.convert_to(cast(definition(workflow), Text), literal("UTF8", Text))
    return func.encode(func.sha256(text), literal("hex", Text))


def has_unpublished_changes(workflow: FromClause) -> ColumnElement[bool]:
    """Whether the working copy differs from the published revision (true if none is).

    The hash is computed only for published workflows.
    """
    published_hash = (
        select(REVISIONS.c.content_hash)
        .where(
            REVISIONS.c.workflow_id == workflow.c.id,
            REVISIONS.c.number == workflow.c.published_revision,
        )
        .correlate(workflow)
        .scalar_subquery()
    )
    return case(
        (workflow.c.published_revision.is_(None), True),
        else_=content_hash(workflow).is_distinct_from(published_hash),
    )


def workflow_members(workflow: FromClause) -> dict[str, ColumnElement[Any]]:
    """The workflow resource's members that are no column, computed from a workflows row."""
    return {"has_unpublished_changes": has_unpublished_changes(workflow)}
