"""Sampling profiles of the servers under load (py-spy), summarised by package and function.

`uv run --with py-spy python -m bench --only W1 --profile W1` adds one extra run per server for
each named workload, with py-spy attached (the reported figures come from runs without it).
"""

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
SITE_PACKAGES = re.compile(r"site-packages/(?P<package>[A-Za-z0-9_]+)")
PROJECT_PACKAGES = ("service", "bench")
SAMPLES_PER_SECOND = 200


def py_spy() -> str | None:
    """The py-spy executable, if installed (e.g. `uv run --with py-spy ...`)."""
    return shutil.which("py-spy")


def start_recording(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` for `seconds` into a collapsed-stack file."""
    executable = py_spy()
    if executable is None:
        raise RuntimeError("py-spy is not installed: run with `uv run --with py-spy ...`")
    return subprocess.Popen(
        [
            *(executable, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))),
            *(
                "--rate",
                str(SAMPLES_PER_SECOND),
                "--format",
                "raw",
                "--nonblocking",
                "--full-filenames",
            ),
            *("--output", str(output)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def parse_frame(frame: str) -> tuple[str, str]:
    """(function, file) of one py-spy frame `function (file:line)`."""
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match["function"], match["file"]


def package_of(file: str) -> str | None:
    """The third-party or project package a file belongs to, None for the standard library."""
    site = SITE_PACKAGES.search(file)
    if site:
        return site["package"]
    for package in PROJECT_PACKAGES:
        if f"/{package}/" in file or file.startswith(f"{package}/"):
            return package
    return None


def module_of(file: str) -> str:
    """A short name for a standard-library file, e.g. `stdlib:logging`."""
    parts = Path(file).parts
    if "python3.11" in parts:
        rest = parts[parts.index("python3.11") + 1 :]
        return "stdlib:" + (rest[0].removesuffix(".py") if rest else file)
    return "stdlib:" + Path(file).stem


def summarise(collapsed: Path, top: int = 20) -> dict[str, Any]:
    """Samples by package (innermost non-stdlib frame) and by function (self and inclusive)."""
    by_package: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [parse_frame(frame) for frame in stack_text.split(";")]
        frames = [frame for frame in frames if frame[1]]  # drop the process/thread labels
        if not frames:
            continue
        total += count
        leaf_function, leaf_file = frames[-1]
        self_time[f"{leaf_function} ({Path(leaf_file).name})"] += count
        package = next(
            (package_of(file) for _f, file in reversed(frames) if package_of(file)), None
        )
        by_package[package or module_of(leaf_file)] += count
        for name in {f"{function} ({Path(file).name})" for function, file in frames}:
            inclusive[name] += count

    def shares(counter: Counter[str], limit: int) -> list[dict[str, Any]]:
        return [
            {"name": name, "share": round(count / total, 3)}
            for name, count in counter.most_common(limit)
        ]

    return {
        "samples": total,
        "by_package": shares(by_package, top),
        "self": shares(self_time, top),
        "inclusive": shares(inclusive, top * 2),
    }


def profile_text(title: str, summary: dict[str, Any]) -> str:
    """A readable summary of one profile."""
    lines = [f"# {title}: {summary['samples']} samples (CPU only; idle waits excluded)", ""]
    for section, heading in (
        ("by_package", "By package (innermost frame outside the standard library)"),
        ("self", "Self time by function"),
        ("inclusive", "Inclusive time by function"),
    ):
        lines += [f"## {heading}", ""]
        lines += [f"{item['share']:6.1%}  {item['name']}" for item in summary[section]]
        lines.append("")
    return "\n".join(lines)
