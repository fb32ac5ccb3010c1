"""Live events in headless Debian chromium, as the browser editor uses them.

The page is on the editor's origin (a tiny HTTP server on a port of its own), the API on
another that allows that origin. The page mints a stream token with fetch() and a bearer
token and opens a cross-origin EventSource with it; the test writes over HTTP.
"""

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from service.auth import issue_token
from service.config import Settings
from service.events.tokens import mint_stream_token
from tests.conftest import TEST_SECRET
from tests.live_server import free_port, live_server

EDITOR_PAGE = b"<!doctype html><title>editor</title><p>editor"
WORKFLOWS = "/api/v1/workflows"
PAGE_TIMEOUT_MS = 60_000  # generous: the machine running the suite may be loaded
SERVER_TIMEOUT_SECONDS = 90
CLOSED = 2  # EventSource.CLOSED

# The editor's watcher: the README's `watch`, recording what the page sees in window.seen.
WATCH = """
async ({api, streamBase, workflowId, bearer}) => {
  const minted = await fetch(`${api}/api/v1/workflows/${workflowId}/events/token`, {
    method: "POST", headers: {Authorization: `Bearer ${bearer}`},
  }).then((response) => response.json());
  const seen = {events: [], opens: 0, errors: 0};
  window.seen = seen;
  const source = new EventSource(`${streamBase}${minted.stream_url}`);
  window.source = source;
  source.addEventListener("error", () => { seen.errors += 1; });
  for (const type of ["workflow.updated", "node.created", "workflow.deleted"]) {
    source.addEventListener(type, (event) => {
      seen.events.push({type: event.type, id: event.lastEventId, data: JSON.parse(event.data)});
    });
  }
  await new Promise((resolve) => source.addEventListener("open", resolve, {once: true}));
  seen.opens = 1;
  source.addEventListener("open", () => { seen.opens += 1; });
  return minted.stream_url;
}
"""

# What the page learns of a stream it may not open: fetch's status, EventSource's last state.
REFUSED = """
async ({url}) => {
  const fetched = await fetch(url);
  const source = new EventSource(url);
  const state = await new Promise((resolve) => {
    source.addEventListener("error", () => resolve(source.readyState), {once: true});
    source.addEventListener("open", () => resolve("opened"), {once: true});
  });
  source.close();
  return {status: fetched.status, type: fetched.headers.get("Content-Type"), state};
}
"""

MINT = """
async ({api, workflowId, bearer}) => {
  const response = await fetch(`${api}/api/v1/workflows/${workflowId}/events/token`, {
    method: "POST", headers: {Authorization: `Bearer ${bearer}`},
  });
  return response.status;
}
"""


class EditorPage(BaseHTTPRequestHandler):
    """Answers every GET with the editor's (empty) page."""

    def do_GET(self) -> None:
        """The page."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(EDITOR_PAGE)))
        self.end_headers()
        self.wfile.write(EDITOR_PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        """Quiet."""


@pytest.fixture(scope="module")
def editor_origin() -> Iterator[str]:
    """The origin the editor's page is served from, a loopback one like the API's.

    A page Playwright fulfils itself counts as public: Chromium's Local Network Access
    would refuse its calls to a loopback API, which a real local editor never meets.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), EditorPage)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def api_env(database_url: str, editor_origin: str) -> dict[str, str]:
    """The environment of an API that the editor's origin may call."""
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "ENVIRONMENT": "test",
        "CORS_ALLOW_ORIGINS": f'["{editor_origin}"]',
    }


@pytest.fixture(scope="module")
def api(api_env: dict[str, str]) -> Iterator[str]:
    """The service over a real socket, on another origin than the editor's page."""
    with live_server(api_env, timeout=SERVER_TIMEOUT_SECONDS) as base_url:
        yield base_url


@pytest.fixture
def editor(browser: Browser, editor_origin: str) -> Iterator[Page]:
    """A fresh page on the editor's origin."""
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(f"{editor_origin}/editor")
        yield page
    finally:
        context.close()


def create_workflow(api: str, bearer: str) -> dict[str, Any]:
    """A new workflow of the bearer's user, written over HTTP."""
    response = httpx.post(f"{api}{WORKFLOWS}", json={"name": "watched"}, headers=auth(bearer))
    assert response.status_code == 201, response.text
    return dict(response.json())


def rename(api: str, bearer: str, workflow_id: str, version: int, name: str) -> int:
    """Rename the workflow at `version`; the version it now has."""
    response = httpx.patch(
        f"{api}{WORKFLOWS}/{workflow_id}",
        json={"name": name},
        headers={**auth(bearer), "If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.text
    return int(response.headers["ETag"].strip('"'))


def auth(bearer: str) -> dict[str, str]:
    """The Authorization header of a bearer token."""
    return {"Authorization": f"Bearer {bearer}"}


def wait_for_events(page: Page, count: int) -> list[dict[str, Any]]:
    """The events the page has received, once there are at least `count`."""
    page.wait_for_function("count => window.seen.events.length >= count", arg=count)
    return list(page.evaluate("window.seen.events"))


def test_the_editor_receives_a_write_over_a_cross_origin_event_source(
    editor: Page, api: str, settings: Settings
) -> None:
    bearer = issue_token(settings, uuid.uuid4())
    workflow = create_workflow(api, bearer)
    arguments = {"api": api, "streamBase": api, "workflowId": workflow["id"], "bearer": bearer}
    stream_url = editor.evaluate(WATCH, arguments)

    version = rename(api, bearer, workflow["id"], workflow["version"], "renamed live")

    [event] = wait_for_events(editor, 1)
    assert event["type"] == "workflow.updated"
    assert event["id"] == str(version)
    assert event["data"]["version"] == version
    assert event["data"]["operation"] == "workflow.updated"
    assert "access_token=" in stream_url
    assert bearer not in stream_url
    changes = httpx.get(
        f"{api}{WORKFLOWS}/{workflow['id']}/changes",
        params={"since": workflow["version"]},
        headers=auth(bearer),
    )
    assert [event["data"]] == changes.json()["items"]


def test_the_event_source_reconnects_after_a_restart_and_misses_nothing(
    editor: Page, api: str, api_env: dict[str, str], settings: Settings
) -> None:
    bearer = issue_token(settings, uuid.uuid4())
    workflow = create_workflow(api, bearer)
    stream_port = free_port()
    with live_server(api_env, timeout=SERVER_TIMEOUT_SECONDS, port=stream_port) as stream_base:
        arguments = {
            "api": api,
            "streamBase": stream_base,
            "workflowId": workflow["id"],
            "bearer": bearer,
        }
        editor.evaluate(WATCH, arguments)
        version = rename(api, bearer, workflow["id"], workflow["version"], "before")
        wait_for_events(editor, 1)
    # The stream's server has stopped (ending the stream): EventSource is reconnecting.
    editor.wait_for_function("window.seen.errors >= 1")
    missed = []
    for name in ("while down 1", "while down 2", "while down 3"):
        version = rename(api, bearer, workflow["id"], version, name)
        missed.append(version)

    with live_server(api_env, timeout=SERVER_TIMEOUT_SECONDS, port=stream_port):
        editor.wait_for_function("window.seen.opens >= 2")
        replayed = wait_for_events(editor, 4)
        after = rename(api, bearer, workflow["id"], version, "after")
        events = wait_for_events(editor, 5)

    ids = [int(event["id"]) for event in events]
    assert ids == [workflow["version"] + 1, *missed, after]
    assert [event["data"]["version"] for event in events] == ids
    assert replayed == events[:4]


def test_another_owners_stream_is_not_found_from_the_browser(
    editor: Page, api: str, settings: Settings
) -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    workflow = create_workflow(api, issue_token(settings, owner))
    stranger_bearer = issue_token(settings, stranger)
    stream = f"{api}{WORKFLOWS}/{workflow['id']}/events"
    strangers_token = mint_stream_token(settings, stranger, uuid.UUID(workflow["id"]))

    minted = editor.evaluate(
        MINT, {"api": api, "workflowId": workflow["id"], "bearer": stranger_bearer}
    )
    with_token = editor.evaluate(REFUSED, {"url": f"{stream}?access_token={strangers_token}"})

    assert minted == 404
    assert with_token == {"status": 404, "type": "application/problem+json", "state": CLOSED}


@pytest.mark.parametrize("kind", ["expired", "forged"])
def test_a_bad_stream_token_is_unauthorized_from_the_browser(
    editor: Page, api: str, settings: Settings, kind: str
) -> None:
    owner = uuid.uuid4()
    workflow = create_workflow(api, issue_token(settings, owner))
    expired = settings.model_copy(update={"events_token_ttl_seconds": -60})
    signer = expired if kind == "expired" else settings
    token = mint_stream_token(signer, owner, uuid.UUID(workflow["id"]))
    if kind == "forged":
        token = token[:-4] + "AAAA"
    stream = f"{api}{WORKFLOWS}/{workflow['id']}/events?access_token={token}"

    refused = editor.evaluate(REFUSED, {"url": stream})

    assert refused == {"status": 401, "type": "application/problem+json", "state": CLOSED}
