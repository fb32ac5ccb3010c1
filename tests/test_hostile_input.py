"""Hostile input (tests/hostile_corpus.py): always a 4xx problem+json or a legitimate 2xx.

Most requests go to the in-process app; the ones only a socket can carry (bad chunking, bare CR
in a header, raw `..` in the path) go to a real uvicorn, whose HTTP parser may refuse them
itself with a plain-text 400 before the app sees them.
"""

import http.client
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from service.json_body import parse_json_body
from tests.conftest import TEST_SECRET
from tests.hostile_corpus import (
    CORPUS,
    POST_JSON,
    RAW_CORPUS,
    WORKFLOWS,
    Hostile,
    RawHostile,
    message,
)
from tests.live_server import live_server

PROBLEM_JSON = "application/problem+json"
RAW_TIMEOUT_SECONDS = 10.0


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) + len(RAW_CORPUS) >= 50
    assert len({h.name for h in CORPUS} | {h.name for h in RAW_CORPUS}) == len(CORPUS) + len(
        RAW_CORPUS
    )


async def chunked(chunks: tuple[bytes, ...]) -> AsyncIterator[bytes]:
    """The chunks as a stream, so httpx sends them without Content-Length."""
    for chunk in chunks:
        yield chunk


async def send(client: httpx.AsyncClient, hostile: Hostile) -> httpx.Response:
    """Send one corpus entry as the test's user (placeholders filled in)."""
    path = hostile.path
    if "{workflow}" in path:
        created = await client.post(WORKFLOWS, json={"name": "target"})
        path = path.replace("{workflow}", created.json()["id"])
    content: bytes | AsyncIterator[bytes] | None = hostile.body
    if hostile.chunks is not None:
        content = chunked(hostile.chunks)
    headers: list[tuple[str, str | bytes]] = list(hostile.headers)
    if content is not None and hostile.content_type is not None:
        headers.append(("Content-Type", hostile.content_type))
    authorization = hostile.authorization
    if isinstance(authorization, str):
        own_token = client.headers["authorization"].removeprefix("Bearer ")
        authorization = authorization.replace("{token}", own_token)
    if authorization is not None:
        headers.append(("Authorization", authorization))
    request = client.build_request(hostile.method, path, content=content, headers=headers)
    if authorization is None:
        del request.headers["authorization"]
    return await client.send(request)


def assert_problem(response: httpx.Response) -> None:
    """A 4xx must be a problem document naming its status and a code."""
    assert response.headers["content-type"] == PROBLEM_JSON, response.text[:300]
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["code"].isupper()


@pytest.mark.parametrize("hostile", CORPUS, ids=lambda hostile: hostile.name)
async def test_hostile_request(client: httpx.AsyncClient, hostile: Hostile) -> None:
    response = await send(client, hostile)
    assert response.status_code in hostile.expect, response.text[:500]
    if response.status_code >= 400:
        assert_problem(response)
    if response.status_code == 201 and (hostile.stored or hostile.not_stored):
        stored = (await client.get(response.headers["location"])).json()
        for key, value in hostile.stored.items():
            assert stored[key] == value, key
        for key, value in hostile.not_stored.items():
            assert stored[key] != value, key


async def test_sql_lookalikes_are_only_data(client: httpx.AsyncClient) -> None:
    """After the SQL-looking names were stored, the tables are all still there and usable."""
    names = [h for h in CORPUS if h.name.startswith("sql_in_name")]
    for hostile in names:
        assert (await send(client, hostile)).status_code == 201
    listed = (await client.get(WORKFLOWS, params={"limit": 100})).json()
    stored = {item["name"] for item in listed["items"]}
    assert {h.stored["name"] for h in names} <= stored


async def test_service_is_fine_afterwards(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    created = await client.post(WORKFLOWS, json={"name": "after the storm"})
    assert created.status_code == 201
    assert (await client.get(created.headers["location"])).json()["name"] == "after the storm"


@pytest.fixture(scope="module")
def uvicorn_port(database_url: str) -> Iterator[int]:
    """A real uvicorn (httptools) serving the app; yields its port."""
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "ENVIRONMENT": "test"}
    with live_server(env) as base:
        yield int(base.rsplit(":", 1)[1])


def exchange(port: int, raw: RawHostile) -> http.client.HTTPResponse | None:
    """Write the bytes and parse the answer; None when the server closed without one."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=RAW_TIMEOUT_SECONDS)
    try:
        try:
            sock.sendall(raw.data)
            if raw.shut_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        response = http.client.HTTPResponse(sock, method="GET")
        try:
            response.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        response.read()
        return response
    finally:
        sock.close()


@pytest.mark.parametrize("raw", RAW_CORPUS, ids=lambda raw: raw.name)
def test_raw_hostile_request(uvicorn_port: int, raw: RawHostile) -> None:
    response = exchange(uvicorn_port, raw)
    status = None if response is None else response.status
    assert status in raw.expect
    if response is None or response.status < 400:
        return
    content_type = response.getheader("content-type", "")
    # uvicorn refuses what its parser cannot read with a plain-text 400; the app never does.
    if not (response.status == 400 and content_type.startswith("text/plain")):
        assert content_type == PROBLEM_JSON
    assert response.getheader("set-cookie") is None


def test_truncated_body_is_not_executed(uvicorn_port: int, make_token: Any) -> None:
    """A client that declares more body than it sends and leaves: nothing is created."""
    token = make_token(uuid.uuid4())
    name = f"truncated-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"name": name}).encode()
    data = message(
        *POST_JSON, f"Authorization: Bearer {token}", f"Content-Length: {len(body) + 50}"
    )
    assert exchange(uvicorn_port, RawHostile("truncated", data + body, (None,), True)) is None
    time.sleep(1.0)  # time enough for the server to have run the request, had it wrongly done so
    base = f"http://127.0.0.1:{uvicorn_port}"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        listed = http.get(WORKFLOWS, params={"q": name}).json()
    assert listed["items"] == []


def test_uvicorn_is_fine_afterwards(uvicorn_port: int, make_token: Any) -> None:
    base = f"http://127.0.0.1:{uvicorn_port}"
    headers = {"Authorization": f"Bearer {make_token(uuid.uuid4())}"}
    with httpx.Client(base_url=base, headers=headers, timeout=RAW_TIMEOUT_SECONDS) as http:
        assert http.get("/healthz").status_code == 200
        assert http.post(WORKFLOWS, json={"name": "still serving"}).status_code == 201


# Duplicate keys: parse_json_body must refuse exactly the documents where some object repeats
# a key, whatever the escaping; its fast path (counting ':') must never hide one.
keys = st.sampled_from(["a", "b", "a:", ":", "\\u0061", "\\u003a", '\\"', "\\\\"])
scalars = st.sampled_from(['"x"', '":"', '"\\u003a"', "1", "null", '"a\\":"'])


def json_text(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Objects (keys possibly repeated) and arrays of `children`, as raw JSON text."""
    members = st.lists(st.tuples(keys, children), max_size=4)
    objects = members.map(lambda pairs: "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}")
    arrays = st.lists(children, max_size=3).map(lambda items: "[" + ",".join(items) + "]")
    return objects | arrays


documents = st.recursive(scalars, json_text, max_leaves=12)


def has_duplicate_keys(text: str) -> bool:
    """The reference answer: the json module told to look at every object's pairs."""
    found = False

    def look(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found = found or len({key for key, _ in pairs}) != len(pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=look)
    return found


@hypothesis_settings(max_examples=400, deadline=None)
@given(documents)
def test_duplicate_keys_are_always_refused(text: str) -> None:
    if has_duplicate_keys(text):
        with pytest.raises(json.JSONDecodeError):
            parse_json_body(text.encode())
    else:
        assert parse_json_body(text.encode()) == json.loads(text)
