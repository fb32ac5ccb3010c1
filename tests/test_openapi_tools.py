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


# A client generated from openapi.json narrows node bodies on node_type and problems on code.
TYPED_CLIENT = """
import type { components, operations } from "./api";

type Schemas = components["schemas"];
type NodeIn = Schemas["NodeBatchCreate"]["nodes"][number];
type GraphNode = Schemas["GraphIn"]["nodes"][number];
type TriggerType = "manual" | "schedule" | "event" | "webhook";

export function describe(node: NodeIn | GraphNode): string {
  switch (node.node_type) {
    case "trigger": {
      const kind: TriggerType = node.config.trigger_type;
      const zone: string | null | undefined = node.config.timezone;
      return `${kind} ${zone ?? ""} ${node.config.cron_expression ?? ""}`;
    }
    case "tool": {
      const toolId: string = node.tool_id;
      return toolId;
    }
    case "agent": {
      const agentId: string = node.agent_id;
      // @ts-expect-error: tool_id is optional outside tool nodes
      const toolId: string = node.tool_id;
      return agentId + toolId;
    }
    case "condition": {
      const expression: string = node.config.condition_expression;
      return `${expression} ${node.config.true_handle ?? ""} ${node.config.false_handle ?? ""}`;
    }
    case "aggregator":
      return node.config?.aggregation_type ?? "";
    case "adapter":
      return node.config?.transform_script ?? "";
  }
}

// @ts-expect-error: a tool node without tool_id is not a node body
export const toolWithoutId: NodeIn = { name: "Fetch", node_type: "tool" };

// @ts-expect-error: a trigger's trigger_type is one of four
export const badTrigger: NodeIn = {
  name: "Go", node_type: "trigger", config: { trigger_type: "x" },
};

type CreateNodeRefused =
  operations["create_node"]["responses"][422]["content"]["application/problem+json"];

// Exhaustive without a default: the 422 answer is a union discriminated by code.
export function itemCodes(problem: CreateNodeRefused): Schemas["ItemCode"][] {
  switch (problem.code) {
    case "VALIDATION_ERROR":
      return problem.errors.map((item) => item.code);
    case "GRAPH_TOO_LARGE":
      return [];
  }
}

export const selfLoop: Schemas["ItemCode"] = "SELF_LOOP";
export const noTrigger: Schemas["IssueCode"] = "NO_TRIGGER";
// @ts-expect-error: item codes are an enumeration, not any string
export const unknownCode: Schemas["ItemCode"] = "SOMETHING_ELSE";

export function issueCodes(problem: Schemas["ValidationFailedProblem"]): string[] {
  const code: "VALIDATION_FAILED" = problem.code;
  return [code, ...problem.issues.map((issue) => issue.code)];
}
"""


def test_a_generated_typescript_client_narrows_on_node_type(tmp_path: Path) -> None:
    generated = npx(
        OPENAPI_TYPESCRIPT, str(PROJECT_ROOT / "openapi.json"), "-o", str(tmp_path / "api.ts")
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    (tmp_path / "client.ts").write_text(TYPED_CLIENT)
    compiled = npx(
        "-p", TYPESCRIPT, "tsc", "--noEmit", "--strict", "--target", "es2022",
        "--module", "esnext", "--moduleResolution", "bundler", "client.ts",
        cwd=tmp_path,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
