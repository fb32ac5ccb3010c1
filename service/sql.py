"""Statements built with SQLAlchemy Core from the SQLModel tables, compiled once for psycopg.

Requests execute the compiled text through psycopg directly: no SQLAlchemy compilation and no
ORM session run on the request path.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel
from sqlalchemy import ColumnElement, FromClause, String, func, literal, literal_column
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

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


def json_object(
    model: type[BaseModel],
    source: FromClause,
    computed: Mapping[str, ColumnElement[Any]] | None = None,
) -> ColumnElement[Any]:
    """json_build_object(...) rendering a row of `source` as `model`, keys in the model's order.

    `computed` supplies the expressions of fields that are not columns of `source`.
    """
    computed = computed or {}
    pairs: list[ColumnElement[Any]] = []
    for name in public_fields(model):
        pairs += [json_key(name), computed[name] if name in computed else source.c[name]]
    return func.json_build_object(*pairs, type_=JSON)
