"""Tests of service.graph.edges."""
