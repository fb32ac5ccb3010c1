"""CORS from a real browser: a page on one origin calls the API served on another.

Two uvicorn servers: the page's origin (the service's /healthz is the page) and the API,
which allows that origin only. Headless Debian chromium runs the page's fetch() calls.
"""

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from service.auth import issue_token
from service.config import Settings
from tests.conftest import TEST_SECRET
from tests.live_server import live_server

WORKFLOWS = "/api/v1/workflows"

# The editor's calls: a create (Location), a conditional PATCH (ETag), an autosave with
# Prefer (204, Preference-Applied); each returns what JavaScript can read of the answer.
EDITOR_CALLS = """
async ({api, token}) => {
  const auth = {"Authorization": `Bearer ${token}`, "X-Request-ID": "from-the-editor"};
  const json = {...auth, "Content-Type": "application/json"};
  const created = await fetch(`${api}/api/v1/workflows`, {
    method: "POST", headers: json, body: JSON.stringify({name: "drawn in a browser"}),
  });
  const location = created.headers.get("Location");
  const etag = created.headers.get("ETag");
  const renamed = await fetch(location, {
    method: "PATCH", headers: {...json, "If-Match": etag}, body: JSON.stringify({name: "x"}),
  });
  const saved = await fetch(location, {
    method: "PATCH",
    headers: {...json, "If-Match": renamed.headers.get("ETag"), "Prefer": "return=minimal"},
    body: JSON.stringify({name: "y"}),
  });
  const read = await fetch(location, {headers: {...auth, "If-None-Match": '"0"'}});
  return {
    created: [created.status, location, etag],
    renamed: [renamed.status, renamed.headers.get("ETag"), renamed.headers.get("X-Request-ID")],
    saved: [saved.status, saved.headers.get("ETag"), saved.headers.get("Preference-Applied")],
    read: [read.status, read.headers.get("ETag"), (await read.json()).name],
  };
}
"""

BLOCKED_CALL = """
async ({api, token}) => {
  try {
    const response = await fetch(`${api}/api/v1/workflows`, {
      headers: {"Authorization": `Bearer ${token}`, "If-Match": '"1"'},
    });
    return `answered ${response.status}`;
  } catch (error) {
    return `blocked: ${error.name}`;
  }
}
"""


@pytest.fixture(scope="module")
def origins(database_url: str) -> Iterator[tuple[str, str]]:
    """The page's origin and the API's URL, which allows only that origin."""
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "ENVIRONMENT": "test"}
    with ExitStack() as servers:
        page_origin = servers.enter_context(live_server(env))
        api = servers.enter_context(
            live_server({**env, "CORS_ALLOW_ORIGINS": f'["{page_origin}"]'})
        )
        yield page_origin, api


def run_in_page(browser: Browser, page_url: str, script: str, arguments: dict[str, Any]) -> Any:
    """Open `page_url` in a fresh context and evaluate `script` there."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(page_url)
        return page.evaluate(script, arguments)
    finally:
        context.close()


def test_a_page_on_an_allowed_origin_calls_the_api_and_reads_its_headers(
    browser: Browser, origins: tuple[str, str], settings: Settings
) -> None:
    page_origin, api = origins
    token = issue_token(settings, uuid.uuid4())

    seen = run_in_page(
        browser, f"{page_origin}/healthz", EDITOR_CALLS, {"api": api, "token": token}
    )

    status, location, etag = seen["created"]
    assert (status, etag) == (201, '"1"')
    assert location.startswith(f"{api}{WORKFLOWS}/")
    assert seen["renamed"] == [200, '"2"', "from-the-editor"]
    assert seen["saved"] == [204, '"3"', "return=minimal"]
    assert seen["read"] == [200, '"3"', "y"]


def test_a_page_on_another_origin_is_refused_by_the_browser(
    browser: Browser, origins: tuple[str, str], settings: Settings
) -> None:
    page_origin, api = origins
    other_origin = page_origin.replace("127.0.0.1", "localhost")
    token = issue_token(settings, uuid.uuid4())

    outcome = run_in_page(
        browser, f"{other_origin}/healthz", BLOCKED_CALL, {"api": api, "token": token}
    )

    assert outcome == "blocked: TypeError"


def test_a_preflight_is_answered_before_authentication(
    origins: tuple[str, str],
) -> None:
    page_origin, api = origins
    headers = {
        "Origin": page_origin,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, content-type, if-match, prefer",
    }  # no token: a preflight never carries one

    response = httpx.options(f"{api}{WORKFLOWS}/{uuid.uuid4()}/graph", headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == page_origin
    assert "PUT" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "if-match", "if-none-match", "prefer", "last-event-id"):
        assert header in allowed


def test_without_the_setting_no_origin_is_allowed(origins: tuple[str, str]) -> None:
    page_origin, _api = origins
    headers = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "GET"}

    response = httpx.options(f"{page_origin}{WORKFLOWS}", headers=headers)

    assert response.status_code == 405
    assert not [name for name in response.headers if name.startswith("access-control-")]
