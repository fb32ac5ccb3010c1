"""Shared fixtures: a real PostgreSQL (TEST_DATABASE_URL or embedded), migrated once per run.

Isolation: ORM tests run inside a transaction that is rolled back; API tests act as fresh
users (every row is owner-scoped, so tests never see each other's data).
"""

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic import command
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from service.auth import issue_token
from service.config import Settings
from service.db import alembic_config, sqlalchemy_url
from service.embedded import embedded_database_url, start_embedded_postgres
from service.main import create_app

TEST_SECRET = "test-secret-" + "x" * 40
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server: TEST_DATABASE_URL, or an embedded one for this run."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield sqlalchemy_url(configured)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="wf-test-pg-")) / "data"
    server = start_embedded_postgres(data_dir, keep_data=False)
    yield embedded_database_url(server)
    server.cleanup()


def admin_conninfo(url: str) -> str:
    """A psycopg conninfo for the server's maintenance database."""
    from service.db import psycopg_conninfo

    return psycopg_conninfo(make_url(url).set(database="postgres").render_as_string(False))


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """A new empty database on the server, dropped afterwards."""
    name = f"wf_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_conninfo(server), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_conninfo(server), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def new_database(server_url: str) -> Callable[[], "contextmanager[str]"]:  # type: ignore[type-arg]
    """Factory of scratch databases (for migration tests)."""
    return lambda: scratch_database(server_url)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A database of its own for this run, migrated to head."""
    with scratch_database(server_url) as url:
        command.upgrade(alembic_config(url), "head")
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """A SQLAlchemy engine on the test database."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """An ORM session whose commits become savepoints of a transaction rolled back after."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """Settings of the app under test."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=database_url,
        jwt_secret=TEST_SECRET,  # type: ignore[arg-type]
        db_pool_min_size=1,
        db_pool_max_size=20,
    )


@pytest.fixture(scope="session")
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (lifespan run once)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # The identity representation unless a test asks for gzip (httpx accepts it by default).
        headers = {"Accept-Encoding": "identity"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            yield client


@pytest.fixture
def make_token(settings: Settings) -> Callable[[uuid.UUID | None], str]:
    """Factory of valid bearer tokens (a new user unless one is given)."""
    return lambda user_id=None: issue_token(settings, user_id or uuid.uuid4())


@pytest.fixture
def user_id() -> uuid.UUID:
    """A fresh user for this test."""
    return uuid.uuid4()


@pytest.fixture
async def client(
    app_client: httpx.AsyncClient, settings: Settings, user_id: uuid.UUID
) -> AsyncIterator[httpx.AsyncClient]:
    """The app client authenticated as this test's fresh user."""
    token = issue_token(settings, user_id)
    app_client.headers["Authorization"] = f"Bearer {token}"
    yield app_client
    app_client.headers.pop("Authorization", None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (`make chromium`; .ci/run installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()
