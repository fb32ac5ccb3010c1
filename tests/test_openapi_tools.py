"""OpenAPI tools nobody here wrote, run on the committed openapi.json at pinned versions.

They come through npx from the npm registry (cached after the first run); Node.js and npm are
part of the development machine, like PostgreSQL.
"""

import shutil
import subprocess
from pathlib import Path

from tests.live_server import PROJECT_ROOT

REDOCLY = "@redocly/cli@2.77.0"
SPECTRAL = "@stoplight/spectral-cli@6.16.3"
OPENAPI_TYPESCRIPT = "openapi-typescript@7.13.0"
TYPESCRIPT = "typescript@5.9.3"
NPX_TIMEOUT_SECONDS = 600


def npx(*arguments: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    """Run an npm package's command; the output is kept for the assertion message."""
    executable = shutil.which("npx")
    assert executable is not None, "npx is missing: install Node.js 20+ with npm"
    return subprocess.run(
        [executable, "--yes", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=NPX_TIMEOUT_SECONDS,
        check=False,
    )


def test_redocly_recommended_finds_no_problem() -> None:
    result = npx(REDOCLY, "lint", "--format=stylish", "--max-problems=1000", "openapi.json")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.replace("Deprecation warning", ""), output


def test_spectral_oas_finds_no_problem() -> None:
    result = npx(SPECTRAL, "lint", "--fail-severity=hint", "openapi.json")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "No results with a severity of 'hint' or higher found!" in output, output
