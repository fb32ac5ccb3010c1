"""GET .../validation: the validation report of the stored graph."""

import uuid
from collections.abc import Callable

import httpx
import pytest

from service.config import Settings
from tests.factories import create_workflow, insert_agent, insert_tool
from tests.graph.test_graph_api import Json, edge, graph_url, node, put_graph, run_sql

GraphBuilder = Callable[[dict[str, str]], tuple[list[Json], list[Json]]]


async def references(database_url: str, user_id: uuid.UUID) -> dict[str, str]:
    """Tools and agents of the caller: usable ones, and ones to be deleted or deactivated."""
    return {
        "tool": str(await insert_tool(database_url, user_id)),
        "agent": str(await insert_agent(database_url, user_id)),
        "deleted_tool": str(await insert_tool(database_url, user_id)),
        "inactive_tool": str(await insert_tool(database_url, user_id)),
        "deleted_agent": str(await insert_agent(database_url, user_id)),
    }


async def retire_references(database_url: str, ids: dict[str, str]) -> None:
    """Soft-delete and deactivate the references meant to go missing after the save."""
    await run_sql(
        database_url, "UPDATE tools SET deleted_at = now() WHERE id = %s", ids["deleted_tool"]
    )
    await run_sql(
        database_url, "UPDATE tools SET is_active = false WHERE id = %s", ids["inactive_tool"]
    )
    await run_sql(
        database_url, "UPDATE agents SET deleted_at = now() WHERE id = %s", ids["deleted_agent"]
    )


async def report_for(
    client: httpx.AsyncClient, database_url: str, user_id: uuid.UUID, build: GraphBuilder
) -> tuple[httpx.Response, dict[str, str]]:
    """The validation response for a graph saved by `build`, with its node names by id."""
    await client.get("/api/v1/me")  # the user row exists before tools reference it
    ids = await references(database_url, user_id)
    nodes, edges = build(ids)
    workflow = await create_workflow(client)
    await put_graph(client, workflow, nodes, edges)
    await retire_references(database_url, ids)
    response = await client.get(graph_url(workflow, "validation"))
    assert response.status_code == 200, response.text
    return response, {item["id"]: item["name"] for item in nodes}


def issues_of(report: Json, names: dict[str, str]) -> list[tuple[str, str, list[str]]]:
    """(code, severity, node names) of every issue."""
    return [
        (issue["code"], issue["severity"], [names[node_id] for node_id in issue["node_ids"]])
        for issue in report["issues"]
    ]


def clean_graph(ids: dict[str, str]) -> tuple[list[Json], list[Json]]:
    start, call = node("Start", "trigger"), node("Call", "tool", tool_id=ids["tool"])
    ask = node("Ask", "agent", agent_id=ids["agent"])
    return [start, call, ask], [edge(start, call), edge(call, ask)]


def no_trigger(_ids: dict[str, str]) -> tuple[list[Json], list[Json]]:
    first, second = node("First"), node("Second")
    return [first, second], [edge(first, second)]


def unreachable(_ids: dict[str, str]) -> tuple[list[Json], list[Json]]:
    start, step, island, shore = (
        node("Start", "trigger"),
        node("Step"),
        node("Island"),
        node("Shore"),
    )
    return [start, step, island, shore], [edge(start, step), edge(island, shore)]


def missing_tools(ids: dict[str, str]) -> tuple[list[Json], list[Json]]:
    start = node("Start", "trigger")
    deleted = node("Deleted", "tool", tool_id=ids["deleted_tool"])
    inactive = node("Inactive", "tool", tool_id=ids["inactive_tool"])
    return [start, deleted, inactive], [edge(start, deleted), edge(start, inactive)]


def missing_agent(ids: dict[str, str]) -> tuple[list[Json], list[Json]]:
    start, ask = node("Start", "trigger"), node("Ask", "agent", agent_id=ids["deleted_agent"])
    return [start, ask], [edge(start, ask)]


def invalid_handle(_ids: dict[str, str]) -> tuple[list[Json], list[Json]]:
    start, check, step = node("Start", "trigger"), node("Check", "condition"), node("Step")
    return [start, check, step], [edge(start, check), edge(check, step, source_handle="maybe")]


def trigger_input(_ids: dict[str, str]) -> tuple[list[Json], list[Json]]:
    first, second = node("First", "trigger"), node("Second", "trigger")
    return [first, second], [edge(first, second)]


def dangling(_ids: dict[str, str]) -> tuple[list[Json], list[Json]]:
    start, step, alone = node("Start", "trigger"), node("Step"), node("Alone")
    return [start, step, alone], [edge(start, step)]


CASES: dict[str, tuple[GraphBuilder, list[tuple[str, str, list[str]]]]] = {
    "NO_TRIGGER": (no_trigger, [("NO_TRIGGER", "error", [])]),
    "UNREACHABLE_NODE": (
        unreachable,
        [("UNREACHABLE_NODE", "error", ["Island"]), ("UNREACHABLE_NODE", "error", ["Shore"])],
    ),
    "MISSING_TOOL": (
        missing_tools,
        [("MISSING_TOOL", "error", ["Deleted"]), ("MISSING_TOOL", "error", ["Inactive"])],
    ),
    "MISSING_AGENT": (missing_agent, [("MISSING_AGENT", "error", ["Ask"])]),
    "INVALID_HANDLE": (invalid_handle, [("INVALID_HANDLE", "error", ["Check"])]),
    "TRIGGER_HAS_INPUT": (trigger_input, [("TRIGGER_HAS_INPUT", "error", ["Second"])]),
    "DANGLING_NODE": (
        dangling,
        [("UNREACHABLE_NODE", "error", ["Alone"]), ("DANGLING_NODE", "warning", ["Alone"])],
    ),
}


@pytest.mark.parametrize("code", list(CASES))
async def test_each_issue_on_a_graph_built_to_show_it(
    client: httpx.AsyncClient, database_url: str, user_id: uuid.UUID, code: str
) -> None:
    build, expected = CASES[code]

    response, names = await report_for(client, database_url, user_id, build)

    report = response.json()
    assert sorted(issues_of(report, names)) == sorted(expected)
    assert report["is_valid"] is False


async def test_a_clean_graph_has_no_issues(
    client: httpx.AsyncClient, database_url: str, user_id: uuid.UUID
) -> None:
    response, names = await report_for(client, database_url, user_id, clean_graph)

    report = response.json()
    assert report["is_valid"] is True
    assert report["issues"] == []
    assert [names[node_id] for node_id in report["topological_order"]] == ["Start", "Call", "Ask"]
    assert [[names[i] for i in layer] for layer in report["layers"]] == [
        ["Start"],
        ["Call"],
        ["Ask"],
    ]
    assert response.headers["etag"] == '"2"'


async def test_the_invalid_handle_issue_names_its_edge(
    client: httpx.AsyncClient, database_url: str, user_id: uuid.UUID
) -> None:
    response, _names = await report_for(client, database_url, user_id, invalid_handle)

    [issue] = response.json()["issues"]
    assert len(issue["edge_ids"]) == 1


async def test_dead_ends_are_reported_when_the_setting_asks(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    start, check = node("Start", "trigger"), node("Check", "condition")
    workflow = await create_workflow(client)
    await put_graph(client, workflow, [start, check], [edge(start, check)])

    quiet = (await client.get(graph_url(workflow, "validation"))).json()
    monkeypatch.setattr(settings, "warn_dead_ends", True)
    warned = (await client.get(graph_url(workflow, "validation"))).json()

    assert quiet["issues"] == []
    assert [(i["code"], i["severity"]) for i in warned["issues"]] == [("DEAD_END", "warning")]
    assert warned["is_valid"] is True


async def test_an_empty_workflow_has_no_trigger(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)

    report = (await client.get(graph_url(workflow, "validation"))).json()

    assert [issue["code"] for issue in report["issues"]] == ["NO_TRIGGER"]
