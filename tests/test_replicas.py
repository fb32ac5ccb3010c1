"""Two replicas on one database: If-Match read-modify-write loses no update.

Each client appends its own marker to a workflow's `variables` (PATCH replaces `variables`
whole), so a lost update would drop a marker; accepted writes must raise the version by
exactly one each.
"""

import asyncio
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import httpx

from tests.conftest import TEST_SECRET
from tests.live_server import live_server
from tests.test_observability import sample_value

REPLICAS = 2
CLIENTS_PER_REPLICA = 8
WORKFLOW_COUNT = 3
WRITES_PER_CLIENT = 3
MAX_ATTEMPTS = 300
WORKFLOWS = "/api/v1/workflows"


@dataclass(frozen=True)
class Accepted:
    """A write the service acknowledged: its marker and the version it created."""

    workflow_url: str
    marker: str
    version: int


def version_of(response: httpx.Response) -> int:
    """The version named by the response's strong ETag."""
    return int(response.headers["etag"].strip('"'))


async def append_marker(
    http: httpx.AsyncClient, url: str, marker: str, statuses: list[int]
) -> Accepted:
    """Read, add `marker` to `variables`, PATCH with If-Match; on 412 read again and retry."""
    for _attempt in range(MAX_ATTEMPTS):
        read = await http.get(url)
        statuses.append(read.status_code)
        assert read.status_code == 200, read.text
        variables = {**read.json()["variables"], marker: True}
        write = await http.patch(
            url, json={"variables": variables}, headers={"If-Match": read.headers["etag"]}
        )
        statuses.append(write.status_code)
        if write.status_code == 200:
            return Accepted(url, marker, version_of(write))
        assert write.status_code == 412, write.text
        assert write.json()["code"] == "VERSION_MISMATCH"
    raise AssertionError(f"{marker} starved after {MAX_ATTEMPTS} attempts")


async def client_session(
    base: str, token: str, client: int, urls: list[str], statuses: list[int]
) -> list[Accepted]:
    """One client's writes, spread over the workflows."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        return [
            await append_marker(http, urls[(client + n) % len(urls)], f"c{client}-w{n}", statuses)
            for n in range(WRITES_PER_CLIENT)
        ]


async def test_concurrent_writers_on_two_replicas_lose_nothing(
    database_url: str, make_token: Callable[..., str]
) -> None:
    token = make_token(uuid.uuid4())
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "ENVIRONMENT": "test"}
    statuses: list[int] = []
    with ExitStack() as stack:
        bases = [stack.enter_context(live_server(env)) for _ in range(REPLICAS)]
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=bases[0], headers=auth, timeout=30) as http:
            created = [
                await http.post(WORKFLOWS, json={"name": f"shared-{n}"})
                for n in range(WORKFLOW_COUNT)
            ]
            urls = [f"{WORKFLOWS}/{response.json()['id']}" for response in created]
            sessions = [
                client_session(bases[client % REPLICAS], token, client, urls, statuses)
                for client in range(REPLICAS * CLIENTS_PER_REPLICA)
            ]
            accepted = [write for writes in await asyncio.gather(*sessions) for write in writes]
            finals = {url: (await http.get(url)) for url in urls}
        conflicts_counted = 0.0
        for base in bases:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                exposition = (await http.get("/metrics")).text
            conflicts_counted += sample_value(exposition, "optimistic_lock_conflicts_total")

    assert not [status for status in statuses if status >= 500]
    assert statuses.count(412) > 0, "the writers never collided; the test proves nothing"
    assert conflicts_counted == statuses.count(412)
    for url, final in finals.items():
        writes = [write for write in accepted if write.workflow_url == url]
        assert version_of(final) == 1 + len(writes)
        assert sorted(write.version for write in writes) == list(range(2, 2 + len(writes)))
        assert set(final.json()["variables"]) == {write.marker for write in writes}
