"""GET and PUT .../graph in React Flow's own document (application/vnd.reactflow+json)."""

import uuid

import httpx
import orjson
import pytest

from service.graph import routes as graph_routes
from tests.factories import create_workflow
from tests.graph.test_graph_api import Json, edge, graph_url, node, put_graph

REACTFLOW = "application/vnd.reactflow+json"
ACCEPT = {"Accept": REACTFLOW}


async def saved_pair(client: httpx.AsyncClient) -> tuple[Json, Json, Json, Json]:
    """A workflow (version 2) with a trigger connected to an adapter."""
    workflow = await create_workflow(client, name="React Flow")
    start = node("Start", "trigger", position_x=10.5, position_y=-4.0)
    step = node("Step", "adapter", position_x=200.0, position_y=40.0)
    link = edge(start, step, source_handle="out", label="go", priority=3)
    await put_graph(client, workflow, [start, step], [link])
    return workflow, start, step, link


async def put_reactflow(
    client: httpx.AsyncClient, workflow: Json, document: object, if_match: str
) -> httpx.Response:
    """PUT a React Flow document with If-Match."""
    headers = {"Content-Type": REACTFLOW, "If-Match": if_match, **ACCEPT}
    return await client.put(graph_url(workflow), content=orjson.dumps(document), headers=headers)


async def test_get_answers_react_flows_document(client: httpx.AsyncClient) -> None:
    workflow, start, step, link = await saved_pair(client)

    response = await client.get(graph_url(workflow), headers=ACCEPT)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == REACTFLOW
    assert response.headers["etag"] == '"2-reactflow"'
    document = response.json()
    assert set(document) == {"nodes", "edges", "viewport"}
    assert document["viewport"] == {"x": 0, "y": 0, "zoom": 1}
    first = document["nodes"][0] if document["nodes"][0]["id"] == start["id"] else None
    first = first or document["nodes"][1]
    assert first["type"] == "trigger"
    assert first["position"] == {"x": 10.5, "y": -4.0}
    assert set(first["data"]) == {
        "name",
        "config",
        "tool_id",
        "agent_id",
        "timeout_seconds",
        "retry_config",
        "input_schema",
        "output_schema",
    }
    assert first["data"]["name"] == "Start"
    assert document["edges"] == [
        {
            "id": link["id"],
            "source": start["id"],
            "target": step["id"],
            "sourceHandle": "out",
            "targetHandle": None,
            "label": "go",
            "data": {"condition": None, "priority": 3},
        }
    ]


async def test_format_parameter_and_head(client: httpx.AsyncClient) -> None:
    workflow, *_ = await saved_pair(client)
    url = graph_url(workflow)

    by_parameter = await client.get(url, params={"format": "reactflow"})
    head = await client.head(url, headers=ACCEPT)
    not_modified = await client.get(url, headers={**ACCEPT, "If-None-Match": '"2-reactflow"'})
    json_tag = await client.get(url, headers={**ACCEPT, "If-None-Match": '"2"'})

    assert by_parameter.headers["content-type"] == REACTFLOW
    assert by_parameter.headers["etag"] == '"2-reactflow"'
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == '"2-reactflow"'
    assert head.headers["content-length"] == str(len(by_parameter.content))
    assert not_modified.status_code == 304
    assert json_tag.status_code == 200


async def test_gzip_variant_has_its_own_tag(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client, name="Big")
    nodes = [node(f"Step {index}", "adapter") for index in range(40)]
    await put_graph(client, workflow, nodes, [])
    url = graph_url(workflow)

    plain = await client.get(url, headers={**ACCEPT, "Accept-Encoding": "identity"})
    zipped = await client.get(url, headers={**ACCEPT, "Accept-Encoding": "gzip"})

    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] == '"2-reactflow-gzip"'
    assert zipped.json() == plain.json()  # decoded by httpx


async def test_get_then_put_back_unchanged_is_a_no_op(client: httpx.AsyncClient) -> None:
    workflow, *_ = await saved_pair(client)
    loaded = await client.get(graph_url(workflow), headers=ACCEPT)

    response = await put_reactflow(client, workflow, loaded.json(), loaded.headers["etag"])

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2-reactflow"'
    assert response.json() == loaded.json()
    again = await client.get(graph_url(workflow))
    assert again.json()["version"] == 2


async def test_hand_made_document_creates_the_graph(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client, name="Hand made")
    start, step = str(uuid.uuid4()), str(uuid.uuid4())
    document = {
        "nodes": [
            {
                "id": start,
                "type": "trigger",
                "position": {"x": 1, "y": 2},
                "data": {"name": "Start", "config": {"trigger_type": "manual"}},
                "selected": True,
                "dragging": False,
                "measured": {"width": 150, "height": 40},
                "width": 150,
                "style": {"color": "red"},
                "className": "big",
            },
            {"id": step, "type": "adapter", "position": {"x": 3, "y": 4}, "data": {"name": "B"}},
        ],
        "edges": [
            {
                "id": str(uuid.uuid4()),
                "source": start,
                "target": step,
                "type": "smoothstep",
                "animated": True,
                "markerEnd": {"type": "arrowclosed"},
                "data": {"priority": 2},
            }
        ],
        "viewport": {"x": 12.5, "y": -3, "zoom": 0.75},
    }

    response = await put_reactflow(client, workflow, document, '"1"')

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2-reactflow"'
    stored = (await client.get(graph_url(workflow))).json()
    assert stored["viewport"] == {"x": 12.5, "y": -3.0, "zoom": 0.75}
    by_id = {item["id"]: item for item in stored["nodes"]}
    assert (by_id[start]["name"], by_id[start]["node_type"]) == ("Start", "trigger")
    assert (by_id[step]["position_x"], by_id[step]["position_y"]) == (3.0, 4.0)
    assert stored["edges"][0]["source_node_id"] == start
    assert stored["edges"][0]["priority"] == 2


async def test_a_viewport_only_change_is_a_change(client: httpx.AsyncClient) -> None:
    workflow, *_ = await saved_pair(client)
    document = (await client.get(graph_url(workflow), headers=ACCEPT)).json()
    document["viewport"] = {"x": 5, "y": 6, "zoom": 2}

    response = await put_reactflow(client, workflow, document, '"2"')

    assert response.headers["etag"] == '"3-reactflow"'
    assert response.json()["viewport"] == {"x": 5.0, "y": 6.0, "zoom": 2.0}


async def test_if_match_takes_the_json_tag(client: httpx.AsyncClient) -> None:
    workflow, *_ = await saved_pair(client)
    document = (await client.get(graph_url(workflow), headers=ACCEPT)).json()
    document["nodes"][0]["data"]["name"] = "Renamed"

    stale = await put_reactflow(client, workflow, document, '"1-reactflow"')
    written = await put_reactflow(client, workflow, document, '"2"')

    assert stale.status_code == 412
    assert written.status_code == 200, written.text
    assert written.headers["etag"] == '"3-reactflow"'


async def test_unknown_members_are_refused_with_pointers(client: httpx.AsyncClient) -> None:
    workflow, *_ = await saved_pair(client)
    document = (await client.get(graph_url(workflow), headers=ACCEPT)).json()
    document["nodes"][1]["colour"] = "red"
    document["nodes"][0]["data"]["shape"] = "round"
    document["edges"][0]["data"]["weight"] = 1
    document["theme"] = "dark"

    response = await put_reactflow(client, workflow, document, '"2"')

    assert response.status_code == 422, response.text
    found = {(item["pointer"], item["code"]) for item in response.json()["errors"]}
    assert found == {
        ("/theme", "UNKNOWN_MEMBER"),
        ("/nodes/0/data/shape", "UNKNOWN_MEMBER"),
        ("/nodes/1/colour", "UNKNOWN_MEMBER"),
        ("/edges/0/data/weight", "UNKNOWN_MEMBER"),
    }


async def test_errors_point_into_the_react_flow_document(client: httpx.AsyncClient) -> None:
    workflow, *_ = await saved_pair(client)
    document = (await client.get(graph_url(workflow), headers=ACCEPT)).json()
    document["nodes"][1]["data"]["name"] = ""
    document["nodes"][0]["position"]["x"] = "left"
    document["nodes"][0]["type"] = "teleport"
    document["edges"][0]["source"] = str(uuid.uuid4())
    document["viewport"]["zoom"] = 0

    response = await put_reactflow(client, workflow, document, '"2"')

    assert response.status_code == 422, response.text
    pointers = {item["pointer"] for item in response.json()["errors"]}
    assert pointers == {
        "/nodes/1/data/name",
        "/nodes/0/position/x",
        "/nodes/0/type",
        "/edges/0/source",
        "/viewport/zoom",
    }
    unchanged = await client.get(graph_url(workflow))
    assert unchanged.json()["version"] == 2


async def test_a_non_object_position_is_refused(client: httpx.AsyncClient) -> None:
    workflow, *_ = await saved_pair(client)
    document = (await client.get(graph_url(workflow), headers=ACCEPT)).json()
    document["nodes"][0]["position"] = [1, 2]
    document["edges"][0]["sourceHandle"] = "h" * 51

    response = await put_reactflow(client, workflow, document, '"2"')

    assert response.status_code == 422
    pointers = [item["pointer"] for item in response.json()["errors"]]
    assert pointers == ["/nodes/0/position", "/edges/0/sourceHandle"]


async def test_the_own_format_ignores_the_viewport_it_answers(client: httpx.AsyncClient) -> None:
    workflow, *_ = await saved_pair(client)
    loaded = (await client.get(graph_url(workflow))).json()

    response = await client.put(graph_url(workflow), json=loaded, headers={"If-Match": '"2"'})

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'


async def test_prefer_minimal_answers_204_with_the_react_flow_tag(
    client: httpx.AsyncClient,
) -> None:
    workflow, *_ = await saved_pair(client)
    document = (await client.get(graph_url(workflow), headers=ACCEPT)).json()
    document["viewport"]["zoom"] = 1.5
    headers = {"Content-Type": REACTFLOW, "If-Match": '"2-reactflow"', "Prefer": "return=minimal"}

    response = await client.put(
        graph_url(workflow), content=orjson.dumps(document), headers=headers
    )

    assert response.status_code == 204
    assert response.headers["etag"] == '"3-reactflow"'


async def test_react_flows_document_is_derived_once_per_version(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow, start, _step, _link = await saved_pair(client)
    derived: list[object] = []
    original = graph_routes.reactflow_document

    def counting(document: Json) -> Json:
        derived.append(document["version"])
        return original(document)

    monkeypatch.setattr(graph_routes, "reactflow_document", counting)
    url = graph_url(workflow)
    first = await client.get(url, headers=ACCEPT)  # renders, keeps, derives
    again = await client.get(url, headers=ACCEPT)
    assert again.content == first.content
    assert derived == [2]
    moved = await client.patch(
        graph_url(workflow, f"nodes/{start['id']}"),
        json={"position_x": 1.0},
        headers={"If-Match": '"2"'},
    )
    assert moved.status_code == 200
    after = await client.get(url, headers=ACCEPT)
    assert after.headers["etag"] == '"3-reactflow"'
    assert derived == [2, 3]
