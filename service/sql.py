"""Statements built with SQLAlchemy Core from the SQLModel tables, compiled once for psycopg.

Requests execute the compiled text through psycopg directly: no SQLAlchemy compilation and no
ORM session run on the request path.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    Table,
    Text,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB, aggregate_order_by
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import SQLModel

DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped


@dataclass(frozen=True)
class CompiledSql:
    """A statement's psycopg SQL text, its fixed parameter values and its JSONB parameters."""

    text: str
    fixed: Mapping[str, Any]
    jsonb_parameters: frozenset[str]

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters for one execution: `values` merged over the fixed ones."""
        merged = {**self.fixed, **values}
        for name in self.jsonb_parameters:
            value = merged.get(name)
            if value is not None and not isinstance(value, Jsonb):
                merged[name] = Jsonb(value)
        return merged


def compiled(statement: ClauseElement) -> CompiledSql:
    """Compile a Core statement once, for execution with psycopg's named parameters."""
    result = statement.compile(dialect=DIALECT)
    assert isinstance(result, SQLCompiler)
    names = result.bind_names
    return CompiledSql(
        text=str(result),
        fixed={names[b]: b.value for b in names if not b.required and b.value is not None},
        jsonb_parameters=frozenset(names[b] for b in names if isinstance(b.type, JSON | JSONB)),
    )


def json_key(name: str) -> ColumnElement[str]:
    """A JSON member name as an SQL string literal, quoted by the dialect."""
    quoted = literal(name, String).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})
    return literal_column(str(quoted), String)


def public_fields(model: type[BaseModel]) -> list[str]:
    """The Public model's output keys, in the model's own order."""
    return [*model.model_fields, *model.model_computed_fields]


def public_columns(
    model: type[BaseModel],
    source: FromClause,
    computed: Mapping[str, ColumnElement[Any]] | None = None,
) -> list[ColumnElement[Any]]:
    """The columns of `source` that render as `model`, labelled by field, in the model's order.

    `computed` supplies the expressions of fields that are not columns of `source`.
    """
    computed = computed or {}
    return [
        (computed[name] if name in computed else source.c[name]).label(name)
        for name in public_fields(model)
    ]


def json_object(
    model: type[BaseModel],
    source: FromClause,
    computed: Mapping[str, ColumnElement[Any]] | None = None,
) -> ColumnElement[Any]:
    """A row of `source` as `model`'s JSON, rendered by PostgreSQL's row_to_json (compact).

    Every resource is rendered this way, so the same row always gives the same bytes;
    JSONB values inside keep PostgreSQL's own jsonb text form.
    """
    row = select(*public_columns(model, source, computed)).correlate(source).subquery("x")
    return select(func.row_to_json(row.table_valued())).select_from(row).scalar_subquery()


def json_text(json: ColumnElement[Any]) -> ColumnElement[str]:
    """A JSON expression as its text, for psycopg to hand over unparsed."""
    return cast(json, Text)


def json_array(
    model: type[BaseModel],
    rows: Select[Any],
    order_by: Sequence[str],
) -> ColumnElement[Any]:
    """The rows of a select of `public_columns` as a JSON array of `model`, [] when none."""
    row = rows.subquery("x")
    ordered = func.json_agg(aggregate_order_by(row.table_valued(), *(row.c[n] for n in order_by)))
    empty = literal_column("'[]'::json", JSON)
    return select(func.coalesce(ordered, empty)).select_from(row).scalar_subquery()


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class."""
    table = vars(model)["__table__"]
    assert isinstance(table, Table)
    return table


def on_update_values(table: Table) -> dict[str, Any]:
    """The columns an UPDATE refreshes by themselves (onupdate), for statements that bypass it.

    ON CONFLICT DO UPDATE does not apply a column's onupdate; this gives its value.
    """
    return {
        column.name: column.onupdate.arg  # type: ignore[attr-defined]  # a ColumnDefault
        for column in table.c
        if column.onupdate is not None
    }
