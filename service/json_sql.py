"""SQL that renders rows as the API's JSON, with keys taken from the Public models."""

from functools import cache

from pydantic import BaseModel

# Fields computed in Python on the models, computed in SQL here.
COMPUTED_FIELDS = {"is_deleted": "({alias}.deleted_at IS NOT NULL)"}


def public_fields(model: type[BaseModel]) -> list[str]:
    """The Public model's output keys, `id` first."""
    names = [*model.model_fields, *model.model_computed_fields]
    return sorted(names, key=lambda name: name != "id")


@cache
def json_object_sql(model: type[BaseModel], alias: str) -> str:
    """A json_build_object(...) expression rendering `alias` as `model` (a Public schema)."""
    pairs = []
    for name in public_fields(model):
        expression = COMPUTED_FIELDS.get(name, "{alias}.{name}").format(alias=alias, name=name)
        pairs.append(f"'{name}', {expression}")
    return "json_build_object(" + ", ".join(pairs) + ")"


@cache
def json_rows_sql(model: type[BaseModel], table: str, alias: str, where: str, order: str) -> str:
    """A scalar subquery: the rows of `table` matching `where` as a JSON array of `model`.

    json_agg over a row subselect renders ~25% faster than json_build_object per row; `order`
    names the output columns as x.<field>.
    """
    columns = ", ".join(
        COMPUTED_FIELDS.get(name, "{alias}.{name}").format(alias=alias, name=name) + f" AS {name}"
        for name in public_fields(model)
    )
    return (
        f"(SELECT coalesce(json_agg(x ORDER BY {order}), '[]'::json) FROM "  # noqa: S608
        f"(SELECT {columns} FROM {table} {alias} WHERE {where}) x)"
    )


@cache
def json_array_sql(model: type[BaseModel], alias: str, order_by: str) -> str:
    """A json_agg(...) expression rendering rows of `alias` as a JSON array, [] when none."""
    element = json_object_sql(model, alias)
    return f"coalesce(json_agg({element} ORDER BY {order_by}), '[]'::json)"
