"""What `python -m service` does: serve (starting the embedded PostgreSQL if needed), token."""

import logging.config
import os
import secrets
import signal
import sys
import uuid
from pathlib import Path

import uvicorn
from alembic import command

from service.auth import issue_token
from service.config import Settings, get_settings
from service.db import alembic_config, resolve_database_url
from service.observability import log_format, logging_config, reset_multiprocess_metrics

GRACEFUL_SHUTDOWN_SECONDS = 20
BANNER_TOKEN_SECONDS = 86400
LOCAL_USER_FILE = "local-user-id"
logger = logging.getLogger("service")


def local_secret(settings: Settings) -> str:
    """The local JWT secret kept beside the embedded data, created on first use."""
    path = settings.embedded_data_dir.parent / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def local_user_id(settings: Settings) -> uuid.UUID:
    """The one user of a local embedded setup, kept beside its data so tokens outlive restarts."""
    path = settings.embedded_data_dir.parent / LOCAL_USER_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{uuid.uuid4()}\n")
    return uuid.UUID(path.read_text().strip())


def prepare_embedded(settings: Settings) -> Settings:
    """Start the embedded server, migrate it, and export its URL (and a local secret)."""
    url = resolve_database_url(settings)
    command.upgrade(alembic_config(url), "head")
    os.environ["DATABASE_URL"] = url
    if settings.jwt_secret is None:
        os.environ["JWT_SECRET"] = local_secret(settings)
    get_settings.cache_clear()
    return get_settings()


def print_token(settings: Settings, user_id: uuid.UUID | None, ttl: int | None) -> int:
    """Print a bearer token signed with the configured (or local) secret.

    Without --user it names the local user on the embedded default, a new user otherwise.
    """
    embedded = settings.database_url is None
    if settings.jwt_secret is None and embedded:
        os.environ["JWT_SECRET"] = local_secret(settings)
        get_settings.cache_clear()
        settings = get_settings()
    default_user = local_user_id(settings) if embedded else uuid.uuid4()
    print(issue_token(settings, user_id or default_user, ttl))
    return 0


def banner(settings: Settings, base_url: str, *, embedded: bool) -> str:
    """What a person at a terminal needs first: the addresses and, locally, a token."""
    lines = [
        "workflow-service is running",
        f"  API         {base_url}/api/v1",
        f"  Swagger UI  {base_url}/docs",
        f"  ReDoc       {base_url}/redoc",
    ]
    if embedded:
        token = issue_token(settings, local_user_id(settings), BANNER_TOKEN_SECONDS)
        lines += [
            f"  Data        {Path(settings.embedded_data_dir).resolve()}",
            "",
            "Bearer token of your local user (1 day; `make token` prints another):",
            "",
            token,
            "",
            "Paste it into Swagger UI's Authorize button, or in a shell:",
            "  TOKEN=$(make -s token)",
            f'  curl -H "Authorization: Bearer $TOKEN" {base_url}/api/v1/me',
        ]
    return "\n".join([*lines, ""])


def serve(settings: Settings, *, host: str | None, port: int | None, workers: int | None) -> int:
    """Run uvicorn with the app factory; the embedded server stops when this process exits."""
    log_config = logging_config(settings)
    logging.config.dictConfig(log_config)
    reset_multiprocess_metrics()
    embedded = settings.database_url is None
    if embedded:
        settings = prepare_embedded(settings)
    host = host or settings.host
    port = port or settings.port
    base_url = f"http://{host}:{port}"
    if log_format(settings) == "text":
        print(banner(settings, base_url, embedded=embedded), flush=True)
    else:
        logger.info("workflow-service listening on %s", base_url)
        logger.info("Swagger UI: %s/docs, ReDoc: %s/redoc", base_url, base_url)
        if embedded:
            logger.info("Embedded PostgreSQL data: %s", Path(settings.embedded_data_dir).resolve())
            token = issue_token(settings, local_user_id(settings), BANNER_TOKEN_SECONDS)
            logger.info("Bearer token (1 day): %s", token)
    # uvicorn re-raises SIGTERM after its graceful shutdown; exiting through SystemExit instead
    # lets the atexit handler stop the embedded PostgreSQL (as `docker stop` expects).
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    uvicorn.run(
        "service.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
        log_config=log_config,
        access_log=False,  # service.access (AccessLogMiddleware) replaces uvicorn's access log
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        proxy_headers=True,
    )
    return 0
