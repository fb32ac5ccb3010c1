"""Settings from environment variables and an optional `.env` file."""

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRET_VARIABLES = {"JWT_SECRET", "DATABASE_URL"}
UNSAFE_SECRETS = {"", "changethis", "secret", "changeme"}
# What a browser sends in Origin: scheme, host and optional port, no path.
ORIGIN = re.compile(r"https?://[^\s/?#]+")


class Settings(BaseSettings):
    """Every knob of the service; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    environment: Literal["local", "test", "production"] = "local"
    database_url: str | None = Field(
        default=None,
        description="postgresql+psycopg:// URL; unset starts the embedded PostgreSQL.",
    )
    embedded_data_dir: Path = Path(".data/postgres")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="`auto`: readable text on a terminal, JSON otherwise."
    )
    access_log: bool = Field(default=True, description="One log line per request (service.access).")

    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "ES256"] = "HS256"
    jwt_public_key: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    token_ttl_seconds: int = Field(default=3600, ge=60)

    require_if_match: bool = True
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    large_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="A body over this size is a large one."
    )
    large_body_concurrency: int = Field(
        default=2, ge=1, description="Requests with large bodies one worker serves at once."
    )
    max_nodes_per_workflow: int = Field(default=500, ge=1)
    max_edges_per_workflow: int = Field(default=2000, ge=1)
    max_batch_items: int = Field(default=100, ge=1)
    max_revisions_per_workflow: int = Field(
        default=1000, ge=1, description="Revisions kept per workflow (and the published one)."
    )
    change_log_retention: int = Field(
        default=10_000, ge=1, description="Change log entries kept per workflow, at least."
    )
    warn_dead_ends: bool = False
    # Below ~1.4 KB an answer fits one TCP segment either way, so gzip (20-25 us for 1 KB on
    # this machine) saves no round trip; a 100-node page of 45 KB becomes 4 KB in 0.2-0.6 ms.
    gzip_min_bytes: int = Field(
        default=1400, ge=0, description="Bodies at least this large are gzipped when accepted."
    )
    # zlib-ng's level 2 makes a 500-node / 2,000-edge graph of 1 MB 13.1 % of it in 4 ms
    # (level 1 is another algorithm: 20.3 % in 2.9 ms; level 6 12.3 % in 8.2 ms).
    gzip_level: int = Field(default=2, ge=1, le=9, description="gzip level, 1 (fastest) to 9.")
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call the API from: a comma or JSON list, `*` for any.",
    )
    graph_cache_bytes: int = Field(
        default=64 * 1024 * 1024, ge=0, description="Per-worker cache of rendered graphs."
    )

    events_database_url: str | None = Field(
        default=None,
        description="Where the LISTEN connection goes (session-level); unset: DATABASE_URL.",
    )
    events_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="Seconds between heartbeat comments of an event stream."
    )
    max_event_subscribers: int = Field(
        default=1000, ge=1, description="Event streams one worker serves at once; beyond: 503."
    )
    event_queue_size: int = Field(
        default=256, ge=1, description="Unsent events a stream may fall behind by before closing."
    )
    events_token_secret: SecretStr | None = Field(
        default=None, description="Signs event stream tokens (a key derived from it); JWT_SECRET."
    )
    events_token_ttl_seconds: int = Field(
        default=300, ge=10, le=3600, description="Lifetime of a minted event stream token."
    )

    db_pool_min_size: int = Field(default=2, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15000, ge=0)
    db_prepare_threshold: int | None = Field(
        default=5,
        description="psycopg prepare threshold; `none` disables prepared statements.",
    )

    @field_validator("db_prepare_threshold", mode="before")
    @classmethod
    def _none_disables_prepare(cls, value: object) -> object:
        # An empty variable means "use the default" (env_ignore_empty), so a word says None.
        return None if isinstance(value, str) and value.strip().lower() == "none" else value

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [origin.strip() for origin in value.split(",") if origin.strip()]

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins_as_browsers_send_them(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin such as https://editor.example")
        return origins

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment != "production":
            return self
        if self.jwt_algorithm.startswith("HS"):
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if secret in UNSAFE_SECRETS or len(secret) < 32:
                raise ValueError("production needs JWT_SECRET of at least 32 random characters")
        elif not self.jwt_public_key:
            raise ValueError(f"production with {self.jwt_algorithm} needs JWT_PUBLIC_KEY")
        if self.database_url is None:
            raise ValueError("production needs DATABASE_URL (no embedded PostgreSQL)")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def settings_problems(error: ValidationError) -> list[str]:
    """One line per refused setting: what is wrong, which variable, and how to fix it."""
    return [setting_problem(item) for item in error.errors(include_url=False)]


def setting_problem(item: Any) -> str:
    """A pydantic error on Settings as a sentence naming the environment variable."""
    reason = str(item.get("ctx", {}).get("error") or item["msg"])
    if not item["loc"]:
        return f"configuration error: {reason}. Set it in the environment or in .env."
    variable = str(item["loc"][0]).upper()
    value = "" if variable in SECRET_VARIABLES else f"={item['input']!r}"
    return (
        f"configuration error: {variable}{value} is refused: {reason}. "
        f"Fix {variable} in the environment or in .env."
    )
