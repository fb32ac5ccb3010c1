"""Tests of service.graph.nodes."""
