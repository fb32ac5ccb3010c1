"""Swagger UI and ReDoc in headless Debian chromium: served by the service, no other host."""

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from service.auth import issue_token
from service.config import Settings
from service.docs import DOCS_CONTENT_SECURITY_POLICY
from tests.conftest import TEST_SECRET
from tests.live_server import live_server

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
PAGE_TIMEOUT_MS = 30_000  # generous: the machine running the suite may be loaded
SERVER_TIMEOUT_SECONDS = 90


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[str]:
    """The service over a real socket."""
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "ENVIRONMENT": "test"}
    with live_server(env, timeout=SERVER_TIMEOUT_SECONDS) as base_url:
        yield base_url


@pytest.fixture
def escaped() -> list[str]:
    """The URLs on other hosts that the page's requests tried to reach."""
    return []


@pytest.fixture
def page(browser: Browser, escaped: list[str]) -> Iterator[Page]:
    """A fresh page whose requests to another host are recorded in `escaped` and refused."""
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            escaped.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_swagger_ui_authorizes_with_a_token_and_tries_get_me(
    page: Page, escaped: list[str], api: str, settings: Settings
) -> None:
    user = uuid.uuid4()
    token = issue_token(settings, user)
    page.goto(f"{api}/docs")

    page.locator("button.authorize").first.click()
    page.locator(".modal-ux input").fill(token)
    page.locator(".modal-ux button.authorize").click()
    page.locator(".modal-ux button.btn-done").click()
    operation = page.locator(".opblock-get").filter(has_text="/api/v1/me").first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()

    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    expect(status).to_have_text("200", timeout=PAGE_TIMEOUT_MS)
    expect(operation.locator(".live-responses-table .microlight").first).to_contain_text(
        str(user), timeout=PAGE_TIMEOUT_MS
    )
    assert escaped == []


def test_redoc_renders_the_operations(page: Page, escaped: list[str], api: str) -> None:
    page.goto(f"{api}/redoc")

    expect(page.get_by_role("heading", name="Create a workflow").first).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    expect(page.get_by_role("heading", name="Who am I").first).to_be_attached(
        timeout=PAGE_TIMEOUT_MS
    )
    assert escaped == []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_may_load_nothing_from_another_host(api: str, path: str) -> None:
    response = httpx.get(f"{api}{path}")

    assert response.status_code == 200
    assert response.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    assert "http" not in response.text.replace(api, "")
