"""Benchmark harness of issue #6: `uv run python -m bench` (see docs/performance.md)."""
