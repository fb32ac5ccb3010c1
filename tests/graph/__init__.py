"""Tests of service.graph."""
