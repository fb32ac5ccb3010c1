"""The committed openapi.json is exactly what the service serves (`make openapi` rewrites it)."""

import json
from typing import Any

import httpx

from service.config import Settings
from service.main import create_app
from service.openapi import openapi_document_text
from tests.live_server import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "openapi.json"


def test_committed_openapi_matches_the_code() -> None:
    generated = openapi_document_text(create_app())
    assert COMMITTED.read_text() == generated, "openapi.json is stale: run `make openapi`"


async def test_served_openapi_matches_the_committed_file(app_client: httpx.AsyncClient) -> None:
    served = await app_client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text())


async def test_every_operation_documents_errors_as_problem_json(
    app_client: httpx.AsyncClient,
) -> None:
    document = (await app_client.get("/openapi.json")).json()
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            assert operation["operationId"].isidentifier(), (path, method)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        status,
                    )


async def test_bearer_scheme_is_declared(app_client: httpx.AsyncClient) -> None:
    document = (await app_client.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"


def problem_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The component schemas of problem documents (those with type, title, status and code)."""
    return {
        name: schema
        for name, schema in document["components"]["schemas"].items()
        if {"type", "title", "status", "code"} <= set(schema.get("properties", {}))
    }


def test_every_problem_schema_has_a_constant_code() -> None:
    document = json.loads(COMMITTED.read_text())
    problems = problem_schemas(document)
    assert len(problems) >= 15
    for name, schema in problems.items():
        assert isinstance(schema["properties"]["code"].get("const"), str), name


def test_responses_with_several_codes_are_unions_discriminated_by_code() -> None:
    document = json.loads(COMMITTED.read_text())
    problems = problem_schemas(document)
    unions = 0
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for status, response in operation["responses"].items():
                if not status.startswith("4"):
                    continue
                schema = response["content"]["application/problem+json"]["schema"]
                refs = [item["$ref"] for item in schema.get("oneOf", [schema])]
                names = [ref.rsplit("/", 1)[1] for ref in refs]
                assert set(names) <= set(problems), (status, names)
                codes = {problems[name]["properties"]["code"]["const"] for name in names}
                assert set(response["description"].split(", ")) == codes
                if len(names) > 1:
                    unions += 1
                    mapping = schema["discriminator"]["mapping"]
                    assert schema["discriminator"]["propertyName"] == "code"
                    assert set(mapping) == codes
                    assert sorted(mapping.values()) == sorted(refs)
    assert unions > 0


def test_item_errors_and_validation_issues_have_enumerated_codes() -> None:
    schemas = json.loads(COMMITTED.read_text())["components"]["schemas"]
    assert "code" in schemas["FieldError"]["required"]
    assert schemas["FieldError"]["properties"]["code"] == {"$ref": "#/components/schemas/ItemCode"}
    assert {"INVALID_VALUE", "SELF_LOOP", "DUPLICATE_EDGE", "NODE_NOT_IN_WORKFLOW"} <= set(
        schemas["ItemCode"]["enum"]
    )
    assert {"REFERENCE_NOT_FOUND", "CYCLE_DETECTED"} <= set(schemas["ItemCode"]["enum"])
    issue_code = schemas["ValidationIssue"]["properties"]["code"]
    assert issue_code == {"$ref": "#/components/schemas/IssueCode"}
    assert {"NO_TRIGGER", "UNREACHABLE_NODE"} <= set(schemas["IssueCode"]["enum"])


def test_edge_conditions_are_an_enumeration() -> None:
    schemas = json.loads(COMMITTED.read_text())["components"]["schemas"]
    for model in ("EdgeCreate", "EdgeUpdate", "GraphEdgeIn"):
        [condition] = [
            branch
            for branch in schemas[model]["properties"]["condition"]["anyOf"]
            if branch.get("type") == "object"
        ]
        kinds = condition["properties"]["type"]["enum"]
        assert kinds == ["always", "on_success", "on_failure", "expression"], model


def test_the_document_describes_itself() -> None:
    document = json.loads(COMMITTED.read_text())
    info = document["info"]
    assert info["description"]
    assert info["contact"]["name"]
    assert info["license"]["name"]
    assert document["servers"] == [{"url": "/", "description": "This server."}]
    used = {
        tag for item in document["paths"].values() for op in item.values() for tag in op["tags"]
    }
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert used == set(described)
    assert all(described.values())


def test_probes_need_no_token_and_document_no_401() -> None:
    paths = json.loads(COMMITTED.read_text())["paths"]
    for probe in ("/healthz", "/readyz"):
        assert paths[probe]["get"]["security"] == []
        assert "401" not in paths[probe]["get"]["responses"]
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"}


def test_summaries_use_the_right_article() -> None:
    paths = json.loads(COMMITTED.read_text())["paths"]
    summaries = [op["summary"] for item in paths.values() for op in item.values()]
    assert "Create an agent" in summaries
    assert "Read a tool" in summaries
    assert not [summary for summary in summaries if " a agent" in summary]


def test_named_strings_say_they_hold_no_nul() -> None:
    schemas = json.loads(COMMITTED.read_text())["components"]["schemas"]
    for model in ("WorkflowCreate", "ToolNodeCreate", "ToolCreate", "AgentCreate"):
        name = schemas[model]["properties"]["name"]
        assert name["pattern"] == "^[^\\u0000]*$", model


async def test_batch_and_graph_arrays_have_the_servers_limits(settings: Settings) -> None:
    limits = {"max_batch_items": 7, "max_nodes_per_workflow": 8, "max_edges_per_workflow": 9}
    schemas = create_app(settings.model_copy(update=limits)).openapi()["components"]["schemas"]
    assert schemas["NodeBatchCreate"]["properties"]["nodes"]["maxItems"] == 7
    assert schemas["EdgeBatchCreate"]["properties"]["edges"]["maxItems"] == 7
    assert schemas["GraphIn"]["properties"]["nodes"]["maxItems"] == 8
    assert schemas["GraphIn"]["properties"]["edges"]["maxItems"] == 9
    committed = json.loads(COMMITTED.read_text())["components"]["schemas"]
    assert committed["NodeBatchCreate"]["properties"]["nodes"]["maxItems"] == 100
    assert committed["GraphIn"]["properties"]["edges"]["maxItems"] == 2000
