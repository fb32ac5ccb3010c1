"""The OpenAPI document: problem+json error bodies, stable and cached."""

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from service.config import Settings
from service.deps import OPTIONAL_IF_MATCH
from service.errors import PROBLEM_JSON
from service.graph.reactflow import ReactFlowDocument


def errors_as_problem_json(schema: dict[str, Any]) -> None:
    """Declare every 4xx/5xx body as application/problem+json (FastAPI assumes JSON)."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if not status.startswith(("4", "5")) or "application/json" not in content:
                    continue
                content[PROBLEM_JSON] = content.pop("application/json")


def if_match_required(schema: dict[str, Any], *, required: bool) -> None:
    """Document If-Match as required: it is optional to FastAPI only so that absence is 428.

    An If-Match marked optional (OPTIONAL_IF_MATCH) stays optional; the mark is removed.
    """
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "header" or parameter.get("name") != "If-Match":
                    continue
                if parameter["schema"].pop(OPTIONAL_IF_MATCH, False) or not required:
                    continue
                parameter["required"] = True
                parameter["schema"] = {"type": "string", "maxLength": 1024}


# The middleware reads and checks bodies of these methods only (413, 415), and only operations
# that take a body parse it (400).
BODY_METHODS = ("post", "put", "patch")
BODY_ONLY_STATUSES = {"413": BODY_METHODS, "415": BODY_METHODS}


def body_errors_where_bodies_are_read(schema: dict[str, Any]) -> None:
    """Drop 400, 413 and 415 from operations that never read a request body."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.get("responses", {})
            for status, methods in BODY_ONLY_STATUSES.items():
                if method not in methods:
                    responses.pop(status, None)
            if "requestBody" not in operation:
                responses.pop("400", None)


def array_limits(schema: dict[str, Any], settings: Settings) -> None:
    """`maxItems` on batch and graph arrays: the limits this server enforces."""
    limits = {
        ("NodeBatchCreate", "nodes"): settings.max_batch_items,
        ("EdgeBatchCreate", "edges"): settings.max_batch_items,
        ("GraphIn", "nodes"): settings.max_nodes_per_workflow,
        ("GraphIn", "edges"): settings.max_edges_per_workflow,
        **{
            (section, kind): settings.max_batch_items
            for section in ("ChangeSetNodes", "ChangeSetEdges")
            for kind in ("create", "update", "delete")
        },
    }
    components = schema["components"]["schemas"]
    for (model, field), limit in limits.items():
        components[model]["properties"][field]["maxItems"] = limit


SCHEMA_REF = "#/components/schemas/"


def schema_refs(node: Any) -> Iterator[str]:
    """The names of the component schemas a part of the document refers to."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            yield ref.removeprefix(SCHEMA_REF)
        for value in node.values():
            yield from schema_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_refs(value)


def drop_unused_schemas(schema: dict[str, Any]) -> None:
    """Remove component schemas nothing refers to.

    FastAPI also emits the plain model behind a `documented_as` body item, which the
    documented union replaces.
    """
    components = schema["components"]["schemas"]
    used: set[str] = set()
    pending = list(schema_refs(schema["paths"]))
    while pending:
        name = pending.pop()
        if name not in used:
            used.add(name)
            pending += schema_refs(components.get(name))
    for name in set(components) - used:
        del components[name]


WRITE_METHODS = ("post", "put", "patch", "delete")
PREFER_PARAMETER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": (
        "`return=minimal` (RFC 7240): a success answers 204 without a body, with its `ETag`, "
        "`Location` where a resource was created, and `Preference-Applied: return=minimal`. "
        "`return=representation`, the default, answers the body."
    ),
    "schema": {"type": "string"},  # unknown preferences are ignored (RFC 7240 2)
    "examples": {"minimal": {"summary": "Only the headers", "value": "return=minimal"}},
}
PREFERENCE_APPLIED_HEADER = {
    "description": "`return=minimal` when that preference was applied.",
    "schema": {"type": "string"},
}


def prefer_on_writes(schema: dict[str, Any]) -> None:
    """Document `Prefer: return=minimal` on every write: the parameter and its 204 answer."""
    for path_item in schema.get("paths", {}).values():
        for method in WRITE_METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            operation.setdefault("parameters", []).append(PREFER_PARAMETER)
            responses = operation["responses"]
            success = next(r for status, r in responses.items() if status.startswith("2"))
            minimal = responses.setdefault(
                "204", {"description": "Done; no body, as `Prefer: return=minimal` asked."}
            )
            headers = {**success.get("headers", {}), **minimal.get("headers", {})}
            minimal["headers"] = {**headers, "Preference-Applied": PREFERENCE_APPLIED_HEADER}
            operation["responses"] = dict(sorted(responses.items()))


PATH_PARAMETER = re.compile(r"\{(\w+)\}")
HTTP_METHODS = ("get", "put", "post", "patch", "delete")


def operation_links(created_path: str, target_path: str, target: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI link from a create operation to an operation on the created resource."""
    created_params = path_parameters(created_path)
    parameters: dict[str, str] = {}
    for name in path_parameters(target_path):
        # The created resource's key: `id` for `<x>_id` parameters, else the member so named.
        member = "id" if name.endswith("_id") else name
        parameters[name] = (
            f"$request.path.{name}" if name in created_params else f"$response.body#/{member}"
        )
    if any(p.get("name") == "If-Match" for p in target.get("parameters", [])):
        parameters["header.If-Match"] = "$response.header.ETag"
    return {"operationId": target["operationId"], "parameters": parameters}


def path_parameters(path: str) -> list[str]:
    """The path parameter names of a path template."""
    return PATH_PARAMETER.findall(path)


def link_created_resources(schema: dict[str, Any]) -> None:
    """Add links from each 201 create to the operations on what it created (stateful tests)."""
    paths = schema.get("paths", {})
    for created_path, path_item in paths.items():
        response = path_item.get("post", {}).get("responses", {}).get("201")
        if response is None:
            continue
        links = response.setdefault("links", {})
        for target_path, target_item in paths.items():
            if not target_path.startswith(created_path + "/{"):
                continue
            extra = path_parameters(target_path)[len(path_parameters(created_path)) :]
            if len(extra) != 1:
                continue
            for method in HTTP_METHODS:
                if method in target_item:
                    target = target_item[method]
                    links[target["operationId"]] = operation_links(
                        created_path, target_path, target
                    )


# Schemas only other media types use (FastAPI registers the JSON bodies' models alone).
MEDIA_TYPE_SCHEMAS: tuple[type[BaseModel], ...] = (ReactFlowDocument,)


def media_type_schemas(schema: dict[str, Any]) -> None:
    """Add the schemas of non-JSON media types to the components, with their nested ones."""
    components = schema["components"]["schemas"]
    for model in MEDIA_TYPE_SCHEMAS:
        document = model.model_json_schema(ref_template=SCHEMA_REF + "{model}")
        for name, nested in document.pop("$defs", {}).items():
            components.setdefault(name, nested)
        components[model.__name__] = document


def install_openapi(app: FastAPI) -> None:
    """Replace app.openapi with a builder that post-processes and caches the document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
                contact=app.contact,
                license_info=app.license_info,
            )
            media_type_schemas(schema)
            errors_as_problem_json(schema)
            body_errors_where_bodies_are_read(schema)
            array_limits(schema, app.state.settings)
            link_created_resources(schema)
            prefer_on_writes(schema)
            if_match_required(schema, required=app.state.settings.require_if_match)
            drop_unused_schemas(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def openapi_document_text(app: FastAPI) -> str:
    """The OpenAPI document as committed in openapi.json."""
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    from service.main import create_app

    sys.stdout.write(openapi_document_text(create_app()))
